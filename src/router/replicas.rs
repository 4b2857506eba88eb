//! Problem: a read may go to a replica only if that replica is healthy
//! and close enough to the primary: reachable, in rotation, replicating
//! from the current primary with both threads running and no error, and
//! within its lag bound as sqlyard measures it. While the primary is lost
//! (a failover may be running), replicas whose SQL thread still applies
//! keep serving reads within the same lag bound. This decides, for every
//! server of a snapshot, whether it may serve reads now and, if not, why
//! (for routing, `EXPLAIN ROUTE` and `SHOW SERVERS`).

use std::fmt;
use std::time::Duration;

use crate::config::Config;
use crate::topology::{AdminState, ReplicationStatus, Role, ServerState, Snapshot, ThreadState};

/// Why a server gets no reads now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligible {
    /// Set OFFLINE or DRAIN by an operator.
    Admin(AdminState),
    Unreachable,
    /// The primary itself, or a server that is neither primary nor replica.
    NotAReplica(Role),
    /// The IO or SQL thread is not running.
    ReplicationStopped {
        io: ThreadState,
        sql: ThreadState,
    },
    /// The last IO or SQL error.
    ReplicationError(String),
    /// Replicates from a server other than the primary.
    WrongSource {
        source: String,
        primary: String,
    },
    /// No primary is known, so no replica can be checked against it.
    NoPrimary,
    /// Lag not measured yet.
    LagUnknown,
    Lagging {
        lag: Duration,
        max: Duration,
    },
}

impl fmt::Display for Ineligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ineligible::Admin(s) => write!(f, "set {} by an operator", s.as_str().to_uppercase()),
            Ineligible::Unreachable => f.write_str("unreachable"),
            Ineligible::NotAReplica(r) => write!(f, "not a replica ({r})"),
            Ineligible::ReplicationStopped { io, sql } => {
                write!(f, "replication not running (io {io}, sql {sql})")
            }
            Ineligible::ReplicationError(e) => write!(f, "replication error: {e}"),
            Ineligible::WrongSource { source, primary } => {
                write!(
                    f,
                    "replicates from {source}, not from the primary {primary}"
                )
            }
            Ineligible::NoPrimary => f.write_str("no primary known"),
            Ineligible::LagUnknown => f.write_str("lag not measured yet"),
            Ineligible::Lagging { lag, max } => write!(
                f,
                "lag {:.1}s over the bound {:.1}s",
                lag.as_secs_f64(),
                max.as_secs_f64()
            ),
        }
    }
}

/// One server and whether it may serve reads.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub server: &'a ServerState,
    /// `[[servers]] weight`.
    pub weight: u32,
    /// The lag bound that applies to it.
    pub max_lag: Duration,
    pub verdict: Result<(), Ineligible>,
}

/// Every server of `snap` that is not the primary, with its verdict.
pub fn candidates<'a>(snap: &'a Snapshot, cfg: &Config) -> Vec<Candidate<'a>> {
    let primary = snap.primary_server();
    snap.servers
        .iter()
        .filter(|s| primary.is_none_or(|p| p.address != s.address))
        .map(|s| {
            let sc = cfg.servers.iter().find(|c| c.address == s.address);
            let max_lag = sc
                .and_then(|c| c.max_replication_lag)
                .unwrap_or(cfg.routing.max_replication_lag)
                .get();
            Candidate {
                server: s,
                weight: sc.map(|c| c.weight).unwrap_or(1),
                max_lag,
                verdict: verdict(s, primary, max_lag),
            }
        })
        .collect()
}

/// Whether `s` may serve reads, given the current primary.
pub fn verdict(
    s: &ServerState,
    primary: Option<&ServerState>,
    max_lag: Duration,
) -> Result<(), Ineligible> {
    if !s.admin.accepts_new_work() {
        return Err(Ineligible::Admin(s.admin));
    }
    if !s.reachable {
        return Err(Ineligible::Unreachable);
    }
    if s.role != Role::Replica {
        return Err(Ineligible::NotAReplica(s.role));
    }
    let channels: Vec<_> = s.replication.iter().filter(|c| c.has_source()).collect();
    let Some(primary) = primary else {
        // The primary is lost (a failover may be running): a replica that
        // still applies what it received keeps serving reads, as fresh as
        // it was when the primary went away.
        for c in &channels {
            if c.sql_running != ThreadState::Running {
                return Err(Ineligible::ReplicationStopped {
                    io: c.io_running,
                    sql: c.sql_running,
                });
            }
            if let Some(e) = c.last_sql_error.as_ref() {
                return Err(Ineligible::ReplicationError(e.clone()));
            }
        }
        if channels.is_empty() {
            return Err(Ineligible::NoPrimary);
        }
        // Without a primary no heartbeat is written, so lag may be
        // unmeasurable (e.g. sqlyard restarted after the loss).
        return match s.lag {
            Some(lag) if lag > max_lag => Err(Ineligible::Lagging { lag, max: max_lag }),
            _ => Ok(()),
        };
    };
    for c in &channels {
        if c.io_running != ThreadState::Running || c.sql_running != ThreadState::Running {
            return Err(Ineligible::ReplicationStopped {
                io: c.io_running,
                sql: c.sql_running,
            });
        }
        if let Some(e) = c.last_sql_error.as_ref().or(c.last_io_error.as_ref()) {
            return Err(Ineligible::ReplicationError(e.clone()));
        }
    }
    let from_primary = channels.iter().any(|c| replicates_from(c, primary));
    if !from_primary {
        return Err(Ineligible::WrongSource {
            source: channels
                .first()
                .and_then(|c| c.source_address())
                .unwrap_or_default(),
            primary: primary.address.clone(),
        });
    }
    match s.lag {
        None => Err(Ineligible::LagUnknown),
        Some(lag) if lag > max_lag => Err(Ineligible::Lagging { lag, max: max_lag }),
        Some(_) => Ok(()),
    }
}

/// Whether channel `c` replicates from `source`: the source's server_id
/// when the replica reports it (whatever address it uses), else the
/// address.
pub fn replicates_from(c: &ReplicationStatus, source: &ServerState) -> bool {
    match (c.source_server_id, source.server_id) {
        (Some(a), Some(b)) => a == b,
        _ => c
            .source_address()
            .is_some_and(|a| same_address(&a, &source.address)),
    }
}

/// `localhost:3306` and `127.0.0.1:3306` name the same server here.
pub fn same_address(a: &str, b: &str) -> bool {
    norm_address(a) == norm_address(b)
}

fn norm_address(x: &str) -> (&str, &str) {
    let (host, port) = x.rsplit_once(':').unwrap_or((x, ""));
    (
        if host.eq_ignore_ascii_case("localhost") {
            "127.0.0.1"
        } else {
            host
        },
        port,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_compare_with_localhost_as_loopback() {
        assert!(same_address("localhost:3306", "127.0.0.1:3306"));
        assert!(same_address("db1:3306", "db1:3306"));
        assert!(!same_address("db1:3306", "db1:3307"));
        assert!(!same_address("db1:3306", "db2:3306"));
    }
}
