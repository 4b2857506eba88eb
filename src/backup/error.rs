//! Problem: a backup can fail in many places (no source, the dump program,
//! the disk, the server), and each failure must reach the operator as one
//! clear line in `SHOW BACKUPS`, the log and the admin ERR packet.

use std::path::PathBuf;

/// Errors of the backup layer.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no [backup] section in the config")]
    NotConfigured,
    #[error("backup {0} is still running; one at a time")]
    AlreadyRunning(String),
    #[error("no healthy replica to back up from{0}")]
    NoSource(&'static str),
    #[error("no mariadb client found (tried {0}); install mariadb-client")]
    NoClient(String),
    #[error("{0} is not a server of this topology")]
    UnknownServer(String),
    #[error("{0} is the primary; set backup.allow_primary = true to back up from it")]
    PrimaryNotAllowed(String),
    #[error(
        "no dump program found (tried {0}); install mariadb-client or set backup.dump_program"
    )]
    NoDumpProgram(String),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{program} failed ({status}): {stderr}")]
    Dump {
        program: String,
        status: String,
        stderr: String,
    },
    #[error("the dump carries no GTID position (is log_bin on on {0}?)")]
    NoGtid(String),
    #[error("{address} changed during the backup (GTID {before} before, {after} after): something wrote to it")]
    SourceChanged {
        address: String,
        before: String,
        after: String,
    },
    #[error("the dump's GTID {dump} is not the source's {source_pos}")]
    GtidMismatch { dump: String, source_pos: String },
    #[error("{address}: {what}: {error}")]
    Server {
        address: String,
        what: &'static str,
        error: String,
    },
    #[error("{} does not match its manifest: {reason}", file.display())]
    Corrupt { file: PathBuf, reason: String },
    #[error("the scratch server for the verification: {0}")]
    Scratch(String),
    #[error("no backup {0}")]
    NoSuchBackup(String),
    #[error("REBUILD SERVER '{address}' refused: {reason}")]
    RebuildRefused { address: String, reason: String },
    #[error("rebuild {id} of {target} is still running; one at a time")]
    RebuildRunning { id: String, target: String },
    #[error("the manifest {} cannot be read: {reason}", path.display())]
    BadManifest { path: PathBuf, reason: String },
}
