//! Problem: a backup must say exactly what it holds (source, the GTID
//! position of its snapshot, every table's rows and checksum) and prove
//! that its files are whole. [`Manifest`] is `manifest.json` in the
//! backup's directory; [`verify_files`] checks every file's size and
//! sha256 against it.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::BackupError;

/// The manifest's file name in a backup directory.
pub const MANIFEST: &str = "manifest.json";

/// What one backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this file.
    pub format: u32,
    pub id: String,
    /// `host:port` of the server the dump was taken from.
    pub source: String,
    /// Whether the source was the primary then.
    pub source_was_primary: bool,
    pub server_version: String,
    pub started_unix_ms: u64,
    pub finished_unix_ms: u64,
    /// The GTID position of the snapshot (`BINLOG_GTID_POS` of the
    /// snapshot's binlog file and position, read inside it).
    pub gtid: String,
    /// The schemas dumped.
    pub schemas: Vec<String>,
    /// Every base table with its rows and checksum at `gtid`.
    pub tables: Vec<TableSum>,
    /// The files, with their sizes and sha256.
    pub files: Vec<FileSum>,
    /// The files' total size in bytes (compressed).
    pub size_bytes: u64,
    /// The dump program and its version line.
    pub tool: String,
}

/// One table at the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSum {
    pub schema: String,
    pub table: String,
    pub rows: u64,
    /// `CHECKSUM TABLE ... EXTENDED`.
    pub checksum: Option<u64>,
}

/// One file of the backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

impl Manifest {
    pub const FORMAT: u32 = 1;

    /// Writes `dir/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<(), BackupError> {
        let path = dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self).map_err(|e| BackupError::BadManifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|source| BackupError::Io {
            action: "write",
            path,
            source,
        })
    }

    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> Result<Manifest, BackupError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(|source| BackupError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| BackupError::BadManifest {
            path,
            reason: e.to_string(),
        })
    }
}

/// The sha256 (hex) and size of a file.
pub fn file_sum(path: &Path) -> Result<(String, u64), BackupError> {
    let io = |source| BackupError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// Checks every file of `manifest` in `dir`: present, same size, same
/// sha256.
pub fn verify_files(dir: &Path, manifest: &Manifest) -> Result<(), BackupError> {
    for f in &manifest.files {
        let path = dir.join(&f.name);
        let (sha, bytes) = file_sum(&path)?;
        if bytes != f.bytes {
            return Err(BackupError::Corrupt {
                file: path,
                reason: format!("{bytes} bytes, the manifest says {}", f.bytes),
            });
        }
        if sha != f.sha256 {
            return Err(BackupError::Corrupt {
                file: path,
                reason: format!("sha256 {sha}, the manifest says {}", f.sha256),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: Vec<FileSum>) -> Manifest {
        Manifest {
            format: Manifest::FORMAT,
            id: "20261207-101500".into(),
            source: "127.0.0.1:3307".into(),
            source_was_primary: false,
            server_version: "10.11.19-MariaDB".into(),
            started_unix_ms: 1,
            finished_unix_ms: 2,
            gtid: "0-1-42".into(),
            schemas: vec!["shop".into()],
            tables: vec![TableSum {
                schema: "shop".into(),
                table: "t".into(),
                rows: 3,
                checksum: Some(123),
            }],
            files,
            size_bytes: 5,
            tool: "mariadb-dump".into(),
        }
    }

    #[test]
    fn a_manifest_round_trips_and_catches_a_changed_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("data.sql.zst"), b"hello").unwrap();
        let (sha, bytes) = file_sum(&dir.path().join("data.sql.zst")).unwrap();
        let m = manifest(vec![FileSum {
            name: "data.sql.zst".into(),
            bytes,
            sha256: sha,
        }]);
        m.write(dir.path()).unwrap();
        let back = Manifest::read(dir.path()).unwrap();
        assert_eq!(back, m);
        verify_files(dir.path(), &back).unwrap();
        // same size, one byte changed
        std::fs::write(dir.path().join("data.sql.zst"), b"hellp").unwrap();
        let err = verify_files(dir.path(), &back).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
        std::fs::write(dir.path().join("data.sql.zst"), b"hell").unwrap();
        let err = verify_files(dir.path(), &back).unwrap_err().to_string();
        assert!(err.contains("4 bytes"), "{err}");
        std::fs::remove_file(dir.path().join("data.sql.zst")).unwrap();
        assert!(verify_files(dir.path(), &back).is_err());
    }

    #[test]
    fn a_damaged_manifest_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), "{ not json").unwrap();
        let err = Manifest::read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("manifest.json"), "{err}");
    }
}
