//! Errors of the topology layer, each saying which server and what step failed, so an
//! operator reading a log line or a client reading "no primary" knows what to fix.
//! `ProbeError`: one poll of one server. `NoPrimary`: why a caller waiting for a primary
//! got none. Neither ever carries a password.

use std::fmt;
use std::time::Duration;

use super::primary::PrimaryConflict;
use super::snapshot::{Role, Snapshot};

/// Why one poll of one server failed.
/// Added to a login refused over plaintext while TLS is off towards the
/// server: MariaDB answers `require_secure_transport=ON` with a plain
/// access-denied error.
pub const PLAINTEXT_HINT: &str = " (sqlyard logged in over plaintext: [backend_tls] mode = \"off\"; a server with require_secure_transport=ON refuses plaintext logins this way)";

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid server address {address:?}: {reason}")]
    InvalidAddress {
        address: String,
        reason: &'static str,
    },
    #[error("connect to {address} timed out after {after:?}")]
    ConnectTimeout { address: String, after: Duration },
    #[error("connect to {address} failed: {source}{}", if *.plaintext { PLAINTEXT_HINT } else { "" })]
    Connect {
        address: String,
        #[source]
        source: mysql_async::Error,
        /// The login was refused over plaintext with TLS turned off.
        plaintext: bool,
    },
    /// `query` names the statement: a short label or the statement itself.
    #[error("{query} on {address} timed out after {after:?}")]
    QueryTimeout {
        address: String,
        query: &'static str,
        after: Duration,
    },
    #[error("{query} on {address} failed: {source}")]
    Query {
        address: String,
        query: &'static str,
        #[source]
        source: mysql_async::Error,
    },
    #[error("{query} on {address} returned no {column}")]
    MissingValue {
        address: String,
        query: &'static str,
        column: &'static str,
    },
    #[error("{query} on {address} returned an unreadable {column}: {value:?}")]
    BadValue {
        address: String,
        query: &'static str,
        column: &'static str,
        value: String,
    },
}

impl ProbeError {
    /// True if the connection can no longer be trusted and must be replaced: anything
    /// except a server-side error answer or an odd value on a healthy connection.
    pub fn connection_broken(&self) -> bool {
        match self {
            ProbeError::Query { source, .. } => source.is_fatal(),
            ProbeError::MissingValue { .. } | ProbeError::BadValue { .. } => false,
            ProbeError::InvalidAddress { .. }
            | ProbeError::ConnectTimeout { .. }
            | ProbeError::Connect { .. }
            | ProbeError::QueryTimeout { .. } => true,
        }
    }
}

/// A server that could not be polled, with its last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachableServer {
    pub address: String,
    pub error: Option<String>,
}

/// What the servers looked like when a wait for a primary gave up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoPrimaryDetail {
    pub total: usize,
    pub unreachable: Vec<UnreachableServer>,
    /// Configured but not polled yet.
    pub not_polled: Vec<String>,
    /// Reachable, but read-only, replicating, or of unknown state.
    pub not_writable: Vec<String>,
}

impl NoPrimaryDetail {
    /// Summarizes `snapshot` for an error message.
    pub fn from_snapshot(snapshot: &Snapshot) -> Self {
        let mut detail = NoPrimaryDetail {
            total: snapshot.servers.len(),
            ..NoPrimaryDetail::default()
        };
        for server in &snapshot.servers {
            match server.role {
                Role::Unreachable => detail.unreachable.push(UnreachableServer {
                    address: server.address.clone(),
                    error: server.last_error.clone(),
                }),
                Role::Unknown if server.last_seen.is_none() && server.last_error.is_none() => {
                    detail.not_polled.push(server.address.clone())
                }
                _ => detail.not_writable.push(server.address.clone()),
            }
        }
        detail
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

impl fmt::Display for NoPrimaryDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total == 0 {
            return f.write_str("no servers configured");
        }
        let mut parts: Vec<String> = Vec::new();
        if !self.unreachable.is_empty() {
            let list: Vec<String> = self
                .unreachable
                .iter()
                .map(|u| match &u.error {
                    Some(e) => format!("{}: {e}", u.address),
                    None => u.address.clone(),
                })
                .collect();
            parts.push(format!(
                "{} of {} server{} unreachable ({})",
                self.unreachable.len(),
                self.total,
                plural(self.total),
                list.join("; ")
            ));
        }
        if !self.not_polled.is_empty() {
            parts.push(format!(
                "{} not polled yet ({})",
                self.not_polled.len(),
                self.not_polled.join(", ")
            ));
        }
        if !self.not_writable.is_empty() {
            parts.push(format!(
                "{} reachable but read-only or replicating ({})",
                self.not_writable.len(),
                self.not_writable.join(", ")
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Why `TopologyHandle::wait_for_primary` returned without a primary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoPrimary {
    /// Several servers are writable and none can be preferred.
    #[error("no primary: {conflict}")]
    Conflict { conflict: PrimaryConflict },
    /// The primary is known but an operator took it out of rotation.
    #[error("primary {address} is set {admin} by an operator (SET SERVER '{address}' ONLINE brings it back)")]
    AdminOffline { address: String, admin: String },
    #[error("no primary known after {waited:?}: {detail}")]
    NotFound {
        waited: Duration,
        detail: NoPrimaryDetail,
    },
}

impl NoPrimary {
    /// Explains the absence of a primary in `snapshot` after waiting `waited`.
    pub fn from_snapshot(snapshot: &Snapshot, waited: Duration) -> Self {
        if let Some(p) = snapshot.primary_server() {
            if !p.admin.accepts_new_work() {
                return NoPrimary::AdminOffline {
                    address: p.address.clone(),
                    admin: p.admin.as_str().to_uppercase(),
                };
            }
        }
        match &snapshot.primary_conflict {
            Some(conflict) if snapshot.primary.is_none() => NoPrimary::Conflict {
                conflict: conflict.clone(),
            },
            _ => NoPrimary::NotFound {
                waited,
                detail: NoPrimaryDetail::from_snapshot(snapshot),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::primary::resolve;
    use crate::topology::snapshot::ServerState;
    use std::time::SystemTime;

    #[test]
    fn not_found_names_unreachable_servers_and_errors() {
        let mut a = ServerState::new("127.0.0.1:1");
        a.record_failure(
            "connect to 127.0.0.1:1 failed: refused".into(),
            SystemTime::now(),
        );
        let b = ServerState::new("127.0.0.1:2");
        let snap = resolve(None, vec![a, b]);
        let err = NoPrimary::from_snapshot(&snap, Duration::from_secs(2));
        assert_eq!(
            err.to_string(),
            "no primary known after 2s: 1 of 2 servers unreachable \
             (127.0.0.1:1: connect to 127.0.0.1:1 failed: refused); 1 not polled yet (127.0.0.1:2)"
        );
    }

    #[test]
    fn conflict_names_both_servers() {
        let snap = Snapshot::new(
            vec![],
            None,
            Some(PrimaryConflict {
                writable: vec!["127.0.0.1:23301".into(), "127.0.0.1:23302".into()],
                kept: None,
            }),
        );
        let err = NoPrimary::from_snapshot(&snap, Duration::from_secs(1));
        assert_eq!(
            err.to_string(),
            "no primary: two writable servers: 127.0.0.1:23301 and 127.0.0.1:23302; refusing to guess"
        );
    }

    #[test]
    fn empty_server_list() {
        let err = NoPrimary::from_snapshot(&Snapshot::initial(&[]), Duration::from_millis(500));
        assert_eq!(
            err.to_string(),
            "no primary known after 500ms: no servers configured"
        );
    }

    #[test]
    fn probe_errors_say_whether_to_reconnect() {
        let timeout = ProbeError::QueryTimeout {
            address: "a:1".into(),
            query: "SELECT 1",
            after: Duration::from_secs(1),
        };
        assert!(timeout.connection_broken());
        assert_eq!(timeout.to_string(), "SELECT 1 on a:1 timed out after 1s");
        let odd = ProbeError::MissingValue {
            address: "a:1".into(),
            query: "SELECT 1",
            column: "server_id",
        };
        assert!(!odd.connection_broken());
    }
}
