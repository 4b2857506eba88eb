//! Problem: a backup must read from a server that can spare the work and
//! holds everything: by default the healthy replica that serves the
//! fewest reads (lowest weight), never the primary unless allowed.
//! [`choose`] picks it from one topology snapshot.

use crate::config::BackupConfig;
use crate::topology::{AdminState, Role, Snapshot, ThreadState};

use super::error::BackupError;

/// The server a backup reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub address: String,
    pub is_primary: bool,
    /// Its admin state when chosen (restored after a drain).
    pub admin: AdminState,
}

/// A replica that replicates (both threads running, no error) and answers.
fn healthy_replica(s: &crate::topology::ServerState) -> bool {
    s.reachable
        && s.role == Role::Replica
        && s.admin != AdminState::Offline
        && !s.replication.is_empty()
        && s.replication.iter().all(|r| {
            r.io_running == ThreadState::Running
                && r.sql_running == ThreadState::Running
                && r.last_sql_errno.unwrap_or(0) == 0
        })
}

/// The source for a backup: `from` when given, else `config.source`.
/// `weight` gives a server's read weight.
pub fn choose(
    snap: &Snapshot,
    config: &BackupConfig,
    from: Option<&str>,
    weight: impl Fn(&str) -> u32,
) -> Result<Chosen, BackupError> {
    let primary = snap.primary_server().map(|p| p.address.as_str());
    let named = from.or((config.source != "replica").then_some(config.source.as_str()));
    if let Some(address) = named {
        let Some(server) = snap.server(address) else {
            return Err(BackupError::UnknownServer(address.to_string()));
        };
        let is_primary = primary == Some(address);
        if is_primary && !config.allow_primary {
            return Err(BackupError::PrimaryNotAllowed(address.to_string()));
        }
        if !is_primary && !healthy_replica(server) {
            return Err(BackupError::Server {
                address: address.to_string(),
                what: "cannot be backed up",
                error: "it is not a healthy replica (reachable, both replication threads running)"
                    .into(),
            });
        }
        return Ok(Chosen {
            address: address.to_string(),
            is_primary,
            admin: server.admin,
        });
    }
    let best = snap
        .servers
        .iter()
        .filter(|s| healthy_replica(s))
        .min_by(|a, b| {
            // ONLINE before DRAIN, then the lowest weight, then the address
            let drained = |s: &crate::topology::ServerState| s.admin != AdminState::Online;
            (drained(a), weight(&a.address), &a.address).cmp(&(
                drained(b),
                weight(&b.address),
                &b.address,
            ))
        });
    if let Some(s) = best {
        return Ok(Chosen {
            address: s.address.clone(),
            is_primary: false,
            admin: s.admin,
        });
    }
    match snap.primary_server() {
        Some(p) if config.allow_primary => Ok(Chosen {
            address: p.address.clone(),
            is_primary: true,
            admin: p.admin,
        }),
        _ if !config.allow_primary => Err(BackupError::NoSource(
            " (backup.allow_primary = false keeps the primary out)",
        )),
        _ => Err(BackupError::NoSource(" and no primary")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{ReplicationStatus, ServerState};

    fn server(address: &str, role: Role) -> ServerState {
        let mut s = ServerState::new(address);
        s.reachable = true;
        s.role = role;
        if role == Role::Replica {
            s.replication = vec![ReplicationStatus {
                io_running: ThreadState::Running,
                sql_running: ThreadState::Running,
                ..Default::default()
            }];
        }
        s
    }

    fn snapshot(servers: Vec<ServerState>) -> Snapshot {
        let mut snap = Snapshot::initial(&[]);
        snap.primary = servers.iter().position(|s| s.role == Role::Primary);
        snap.servers = servers;
        snap
    }

    fn config() -> BackupConfig {
        BackupConfig {
            dir: "/b".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_lightest_healthy_replica_is_chosen() {
        let mut broken = server("r3:3306", Role::Replica);
        broken.replication[0].sql_running = ThreadState::Stopped;
        let snap = snapshot(vec![
            server("p:3306", Role::Primary),
            server("r1:3306", Role::Replica),
            server("r2:3306", Role::Replica),
            broken,
        ]);
        let weight = |a: &str| if a == "r1:3306" { 5 } else { 1 };
        let c = choose(&snap, &config(), None, weight).unwrap();
        assert_eq!(c.address, "r2:3306");
        assert!(!c.is_primary);
        // a broken replica is refused when named
        assert!(choose(&snap, &config(), Some("r3:3306"), weight).is_err());
        assert!(matches!(
            choose(&snap, &config(), Some("nope:1"), weight),
            Err(BackupError::UnknownServer(_))
        ));
    }

    #[test]
    fn the_primary_only_when_allowed() {
        let snap = snapshot(vec![server("p:3306", Role::Primary)]);
        let err = choose(&snap, &config(), None, |_| 1).unwrap_err();
        assert!(err.to_string().contains("allow_primary"), "{err}");
        assert!(matches!(
            choose(&snap, &config(), Some("p:3306"), |_| 1),
            Err(BackupError::PrimaryNotAllowed(_))
        ));
        let allowed = BackupConfig {
            allow_primary: true,
            ..config()
        };
        let c = choose(&snap, &allowed, None, |_| 1).unwrap();
        assert!(c.is_primary);
    }

    #[test]
    fn an_online_replica_goes_before_a_drained_one() {
        let mut drained = server("r1:3306", Role::Replica);
        drained.admin = AdminState::Drain;
        let snap = snapshot(vec![
            server("p:3306", Role::Primary),
            drained,
            server("r2:3306", Role::Replica),
        ]);
        let c = choose(
            &snap,
            &config(),
            None,
            |a| if a == "r2:3306" { 9 } else { 1 },
        )
        .unwrap();
        assert_eq!(c.address, "r2:3306");
        assert_eq!(c.admin, AdminState::Online);
    }
}
