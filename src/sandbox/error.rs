//! Errors of the sandbox layer: starting, wiring, disturbing and cleaning up
//! local mariadbd processes can fail in many distinct ways, and a test that
//! fails because of its sandbox must say exactly which step broke (with the
//! tail of the server's error log when a server would not start).

use std::fmt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Why a mariadbd process did not become ready.
#[derive(Debug)]
pub enum StartFailure {
    /// The process exited before it accepted connections.
    Exited(ExitStatus),
    /// The TCP port was taken by someone else.
    PortInUse,
    /// It did not accept connections in time.
    NotReadyAfter(Duration),
}

impl fmt::Display for StartFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartFailure::Exited(status) => write!(f, "mariadbd exited early ({status})"),
            StartFailure::PortInUse => f.write_str("TCP port already in use"),
            StartFailure::NotReadyAfter(d) => write!(f, "not ready after {d:?}"),
        }
    }
}

/// What a bounded wait was waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitTarget {
    /// A node accepting connections on its socket.
    Connect { node: usize },
    /// A node's process exiting after a signal or shutdown.
    Exit { node: usize },
    /// A node's process reaching the stopped state after SIGSTOP.
    Frozen { node: usize },
    /// A replica's IO and SQL threads both running.
    ReplicaRunning { node: usize },
    /// A replica applying everything the primary has binlogged.
    CatchUp { node: usize, gtid: String },
    /// The primary seeing the expected number of semi-sync replicas.
    SemiSyncClients { expected: usize },
}

impl fmt::Display for WaitTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitTarget::Connect { node } => write!(f, "node {node} to accept connections"),
            WaitTarget::Exit { node } => write!(f, "node {node} to exit"),
            WaitTarget::Frozen { node } => write!(f, "node {node} to stop (SIGSTOP)"),
            WaitTarget::ReplicaRunning { node } => {
                write!(f, "replication threads of node {node} to run")
            }
            WaitTarget::CatchUp { node, gtid } => {
                write!(f, "node {node} to apply GTID position '{gtid}'")
            }
            WaitTarget::SemiSyncClients { expected } => {
                write!(f, "{expected} semi-sync replicas to attach")
            }
        }
    }
}

/// One error of the sandbox layer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot make the sandbox certificates: {0}")]
    Tls(String),

    #[error("{name} not found (searched {searched:?}); install the mariadb-server package")]
    BinaryNotFound {
        name: &'static str,
        searched: Vec<PathBuf>,
    },

    #[error("etcd not found (searched {0:?}); install the etcd-server package")]
    EtcdNotFound(Vec<PathBuf>),

    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("mariadb-install-db failed ({status}); output tail:\n{output_tail}")]
    InstallDb {
        status: ExitStatus,
        output_tail: String,
    },

    #[error(
        "node {node} (port {port}) failed to start: {reason}\n--- error log tail ---\n{log_tail}"
    )]
    StartFailed {
        node: usize,
        port: u16,
        reason: StartFailure,
        log_tail: String,
    },

    #[error("timed out after {after:?} waiting for {target}")]
    Timeout { target: WaitTarget, after: Duration },

    #[error("node {node}: cannot connect: {source}")]
    Connect {
        node: usize,
        #[source]
        source: mysql_async::Error,
    },

    #[error("node {node}: `{sql}` failed: {source}")]
    Sql {
        node: usize,
        /// The statement, already redacted (see `redact_sql`).
        sql: String,
        #[source]
        source: mysql_async::Error,
    },

    #[error("node {node}: unexpected answer to `{sql}`")]
    UnexpectedResult { node: usize, sql: String },

    #[error("node {node}: replication broken: IO error '{io_error}', SQL error '{sql_error}'")]
    ReplicationBroken {
        node: usize,
        io_error: String,
        sql_error: String,
    },

    #[error("no node with index {index} (the topology has {count})")]
    NoSuchNode { index: usize, count: usize },

    #[error("node {node} is not running")]
    NotRunning { node: usize },

    #[error("cannot send {signal} to pid {pid}: {source}")]
    Signal {
        pid: u32,
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },

    #[error("the process spawner thread is gone")]
    SpawnerGone,

    #[error("cannot spawn {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("unix socket path {path} is longer than {max} bytes; use a shorter base_dir")]
    SocketPathTooLong { path: PathBuf, max: usize },

    #[error("the blocking set-up task failed: {0}")]
    SetupTask(#[from] tokio::task::JoinError),

    #[error("no free TCP port found on 127.0.0.1")]
    NoFreePort,

    #[error("network namespaces: `{command}` failed: {error}")]
    Netns { command: String, error: String },

    #[error("examples/{file} no longer has {needle:?} where the sandbox fills in its own value")]
    ExampleChanged { file: &'static str, needle: String },

    #[error(
        "a TLS sandbox listens on loopback only (its certificates name 127.0.0.1 and localhost), not on {0}"
    )]
    TlsOffLoopback(std::net::IpAddr),

    #[error("port {port} is out of range for node {node} (base_port too high)")]
    PortOverflow { node: usize, port: u32 },
}

/// Statements that carry credentials are never echoed into errors or logs.
pub(crate) fn redact_sql(sql: &str) -> String {
    let upper = sql.to_ascii_uppercase();
    if upper.contains("PASSWORD") || upper.contains("IDENTIFIED") {
        return "<statement with credentials, redacted>".to_owned();
    }
    const MAX: usize = 300;
    if sql.len() <= MAX {
        return sql.to_owned();
    }
    let mut end = MAX;
    while !sql.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &sql[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        let s = redact_sql("CHANGE MASTER TO MASTER_USER='repl', MASTER_PASSWORD='repl_pw'");
        assert!(!s.contains("repl_pw"));
        let s = redact_sql("create user x identified by 'secret'");
        assert!(!s.contains("secret"));
    }

    #[test]
    fn long_statements_are_truncated_on_char_boundary() {
        let sql = "é".repeat(400);
        let s = redact_sql(&sql);
        assert!(s.len() < sql.len());
        assert!(s.ends_with('…'));
        assert_eq!(redact_sql("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn display_mentions_log_tail() {
        let e = SandboxError::StartFailed {
            node: 2,
            port: 1234,
            reason: StartFailure::PortInUse,
            log_tail: "[ERROR] Can't start server".into(),
        };
        let text = e.to_string();
        assert!(text.contains("node 2"));
        assert!(text.contains("Can't start server"));
    }
}
