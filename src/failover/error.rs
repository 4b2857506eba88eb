//! A failover step that goes wrong must say exactly what happened, where, and
//! whether the server's state is now known, because an operator (or the failover
//! manager) decides from it whether to retry, give up or quarantine. `ActionError`
//! is the one error type of the server-side failover actions (`actions.rs`).
//! Statements in it are redacted, and server messages are scrubbed of the
//! replication password, so it can be logged and shown as is.

use std::fmt;
use std::time::Duration;

use crate::topology::flavor::Flavor;
use crate::topology::gtid::GtidError;
use crate::topology::replica_status::ThreadState;

/// Which replication thread an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplicationThread {
    /// The receiver (IO) thread: connecting to the source and fetching its binlog.
    Io,
    /// The applier (SQL) thread.
    Sql,
}

impl fmt::Display for ReplicationThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplicationThread::Io => "IO",
            ReplicationThread::Sql => "SQL",
        })
    }
}

/// Why a failover action failed.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("invalid server address {address:?}: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },

    #[error("{address}: refusing to make a server replicate from itself")]
    SelfReplication { address: String },

    #[error("refusing to point {address} at {target}: that would be a replication loop ({chain})")]
    ReplicationCycle {
        address: String,
        /// The source it was to replicate from.
        target: String,
        /// "b replicates from a" chain, from `target` up to `address`.
        chain: String,
    },

    #[error("{action} on {address}: {reason}")]
    Refused {
        address: String,
        action: &'static str,
        reason: String,
    },

    #[error("cannot connect to {address}: {source}")]
    Connect {
        address: String,
        #[source]
        source: Box<mysql_async::Error>,
    },

    #[error("connecting to {address} timed out after {after:?}")]
    ConnectTimeout { address: String, after: Duration },

    #[error(
        "{action} on {address}: `{statement}` did not finish within {after:?}; \
         whether it took effect is unknown"
    )]
    Timeout {
        address: String,
        action: &'static str,
        /// Redacted.
        statement: String,
        after: Duration,
    },

    #[error("{action} on {address}: `{statement}` failed: {source}")]
    Query {
        address: String,
        action: &'static str,
        /// Redacted.
        statement: String,
        /// Server messages are scrubbed of the replication password.
        #[source]
        source: Box<mysql_async::Error>,
    },

    #[error("{action} on {address}: no usable {column} in the answer to `{statement}`")]
    MissingValue {
        address: String,
        action: &'static str,
        statement: String,
        column: &'static str,
    },

    #[error("{action} on {address}: {column} has the unexpected value {value:?}")]
    BadValue {
        address: String,
        action: &'static str,
        column: &'static str,
        value: String,
    },

    #[error("{action} on {address}: {gtid:?} is not a {flavor} GTID position: {source}")]
    BadGtid {
        address: String,
        action: &'static str,
        gtid: String,
        flavor: Flavor,
        #[source]
        source: GtidError,
    },

    #[error(
        "{address} did not apply {waiting_for} within {after:?} (applied so far: {})",
        applied.as_deref().unwrap_or("unknown")
    )]
    CatchUpTimeout {
        address: String,
        /// The position waited for.
        waiting_for: String,
        /// What the server had applied when the wait gave up, if it could be read.
        applied: Option<String>,
        after: Duration,
    },

    #[error(
        "{address}: replication {thread} thread{} stopped with error {errno}: {message}",
        channel_label(channel)
    )]
    Replication {
        address: String,
        /// Empty for the default channel.
        channel: String,
        thread: ReplicationThread,
        errno: u32,
        message: String,
    },

    #[error("{address} is not a replica (no replication channel with a source)")]
    NotReplica { address: String },

    #[error(
        "{address}: replication not running after {after:?} (IO thread {io}, SQL thread {sql}{})",
        last_error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    NotReplicating {
        address: String,
        io: ThreadState,
        sql: ThreadState,
        last_error: Option<String>,
        after: Duration,
    },
}

fn channel_label(channel: &str) -> String {
    if channel.is_empty() {
        String::new()
    } else {
        format!(" of channel '{channel}'")
    }
}

impl ActionError {
    /// The server the action ran against.
    pub fn address(&self) -> &str {
        match self {
            ActionError::InvalidAddress { address, .. }
            | ActionError::SelfReplication { address }
            | ActionError::ReplicationCycle { address, .. }
            | ActionError::Refused { address, .. }
            | ActionError::Connect { address, .. }
            | ActionError::ConnectTimeout { address, .. }
            | ActionError::Timeout { address, .. }
            | ActionError::Query { address, .. }
            | ActionError::MissingValue { address, .. }
            | ActionError::BadValue { address, .. }
            | ActionError::BadGtid { address, .. }
            | ActionError::CatchUpTimeout { address, .. }
            | ActionError::Replication { address, .. }
            | ActionError::NotReplica { address }
            | ActionError::NotReplicating { address, .. } => address,
        }
    }

    /// True if the server could not be reached at all (nothing was changed on it).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ActionError::Connect { .. } | ActionError::ConnectTimeout { .. }
        )
    }

    /// The server's error code, when a statement was refused by the server.
    pub fn server_code(&self) -> Option<u16> {
        match self {
            ActionError::Query { source, .. } => match source.as_ref() {
                mysql_async::Error::Server(e) => Some(e.code),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_server_and_the_problem() {
        let e = ActionError::Replication {
            address: "127.0.0.1:3306".into(),
            channel: String::new(),
            thread: ReplicationThread::Io,
            errno: 1236,
            message: "not in the master's binlog".into(),
        };
        assert_eq!(
            e.to_string(),
            "127.0.0.1:3306: replication IO thread stopped with error 1236: not in the master's binlog"
        );
        let e = ActionError::Replication {
            address: "a:1".into(),
            channel: "east".into(),
            thread: ReplicationThread::Sql,
            errno: 1062,
            message: "dup".into(),
        };
        assert!(
            e.to_string().contains("SQL thread of channel 'east'"),
            "{e}"
        );

        let e = ActionError::CatchUpTimeout {
            address: "a:1".into(),
            waiting_for: "0-1-9".into(),
            applied: None,
            after: Duration::from_secs(2),
        };
        assert_eq!(
            e.to_string(),
            "a:1 did not apply 0-1-9 within 2s (applied so far: unknown)"
        );
        let e = ActionError::NotReplicating {
            address: "a:1".into(),
            io: ThreadState::Connecting,
            sql: ThreadState::Running,
            last_error: Some("error connecting".into()),
            after: Duration::from_secs(1),
        };
        assert_eq!(
            e.to_string(),
            "a:1: replication not running after 1s (IO thread connecting, SQL thread running; \
             last error: error connecting)"
        );
        assert_eq!(e.address(), "a:1");
        assert!(!e.is_unreachable());
        assert_eq!(e.server_code(), None);
    }

    #[test]
    fn server_code_of_a_refused_statement() {
        let e = ActionError::Query {
            address: "a:1".into(),
            action: "fence",
            statement: "SET GLOBAL x = 1".into(),
            source: Box::new(mysql_async::Error::Server(mysql_async::ServerError {
                code: 1193,
                message: "Unknown system variable 'x'".into(),
                state: "HY000".into(),
            })),
        };
        assert_eq!(e.server_code(), Some(1193));
        assert!(e
            .to_string()
            .starts_with("fence on a:1: `SET GLOBAL x = 1` failed"));
    }
}
