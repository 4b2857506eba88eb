//! Which server takes writes must be decided the same way every time, and never by
//! guessing: two writable servers at once is a split brain, and writing to the wrong one
//! loses data. This file is that decision as pure functions of the previous snapshot and
//! the servers just polled, so every rule is unit-tested without servers.
//!
//! Rules:
//! 1. A primary candidate is reachable, writable (`read_only=OFF`) and replicates from no
//!    one (no channel, or every channel has an empty source host).
//! 2. One candidate: it is the primary.
//! 3. Several: if the previous snapshot's primary (same server_id AND address) is among
//!    them it stays primary and the others are Suspect (no writes). Otherwise (startup, or
//!    the old primary is not among them) nobody is chosen, all are Suspect, and the
//!    conflict names them.
//! 4. No candidate (e.g. the primary became unreachable): no primary.
//!
//! Other roles: Unreachable if the last poll failed, Replica if reachable with a channel
//! that names a source, else Unknown.

use std::fmt;

use super::snapshot::{Role, ServerState, Snapshot};

/// More than one server looked like a primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryConflict {
    /// Addresses of every writable, non-replicating server, in configured order.
    pub writable: Vec<String>,
    /// The previous primary, if it kept the role; the others are Suspect.
    pub kept: Option<String>,
}

impl fmt::Display for PrimaryConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.writable.len() {
            2 => f.write_str("two")?,
            n => write!(f, "{n}")?,
        }
        f.write_str(" writable servers: ")?;
        let last = self.writable.len().saturating_sub(1);
        for (i, address) in self.writable.iter().enumerate() {
            if i > 0 {
                f.write_str(if i == last { " and " } else { ", " })?;
            }
            f.write_str(address)?;
        }
        match &self.kept {
            Some(kept) => write!(
                f,
                "; keeping {kept} (the previous primary), the others get no writes"
            ),
            None => f.write_str("; refusing to guess"),
        }
    }
}

/// Chooses the primary among `polled` (see the rules above). Returns the index of the
/// primary in `polled`, and the conflict when several servers qualified.
pub fn elect(
    prev: Option<&Snapshot>,
    polled: &[ServerState],
) -> (Option<usize>, Option<PrimaryConflict>) {
    let candidates: Vec<usize> = polled
        .iter()
        .enumerate()
        .filter(|(_, s)| s.looks_like_primary() && !s.fenced)
        .map(|(i, _)| i)
        .collect();
    match candidates.as_slice() {
        [] => (None, None),
        [only] => (Some(*only), None),
        several => {
            let previous = prev.and_then(Snapshot::primary_server);
            let kept = previous.and_then(|old| {
                several
                    .iter()
                    .copied()
                    .find(|&i| polled[i].is_same_server(old))
            });
            let conflict = PrimaryConflict {
                writable: several.iter().map(|&i| polled[i].address.clone()).collect(),
                kept: kept.map(|i| polled[i].address.clone()),
            };
            (kept, Some(conflict))
        }
    }
}

/// The role of every server given the election result.
pub fn assign_roles(servers: &mut [ServerState], primary: Option<usize>) {
    for (i, server) in servers.iter_mut().enumerate() {
        let never_polled = server.last_seen.is_none() && server.last_error_at.is_none();
        server.role = if never_polled {
            Role::Unknown
        } else if !server.reachable {
            Role::Unreachable
        } else if primary == Some(i) {
            Role::Primary
        } else if server.looks_like_primary() {
            Role::Suspect
        } else if server.replicates() {
            Role::Replica
        } else {
            Role::Unknown
        };
    }
}

/// Elects, assigns roles and packs the result into a snapshot ready to publish.
pub fn resolve(prev: Option<&Snapshot>, mut servers: Vec<ServerState>) -> Snapshot {
    let (primary, conflict) = elect(prev, &servers);
    assign_roles(&mut servers, primary);
    Snapshot::new(servers, primary, conflict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::flavor::{Flavor, GtidPositions};
    use crate::topology::probe::ServerFacts;
    use crate::topology::replica_status::ReplicationStatus;
    use std::time::SystemTime;

    fn channel(host: &str) -> ReplicationStatus {
        ReplicationStatus {
            source_host: (!host.is_empty()).then(|| host.to_string()),
            source_port: Some(3306),
            ..ReplicationStatus::default()
        }
    }

    fn server(
        address: &str,
        id: u32,
        read_only: bool,
        channels: Vec<ReplicationStatus>,
    ) -> ServerState {
        let mut s = ServerState::new(address);
        s.record_success(
            ServerFacts {
                heartbeat: None,
                heartbeat_written: None,
                semi_sync: Default::default(),
                slave_net_timeout: None,
                max_allowed_packet: None,
                max_connections: None,
                server_id: id,
                read_only,
                flavor: Flavor::MariaDb,
                version: "10.11.19-MariaDB".into(),
                replication: channels,
                gtid: GtidPositions::default(),
            },
            SystemTime::now(),
        );
        s
    }

    fn primary(address: &str, id: u32) -> ServerState {
        server(address, id, false, vec![])
    }

    fn replica(address: &str, id: u32) -> ServerState {
        server(address, id, true, vec![channel("p")])
    }

    fn down(mut s: ServerState) -> ServerState {
        s.record_failure("connection refused".into(), SystemTime::now());
        s
    }

    fn roles(s: &Snapshot) -> Vec<Role> {
        s.servers.iter().map(|x| x.role).collect()
    }

    #[test]
    fn single_writable_non_replicating_server_is_primary() {
        let snap = resolve(
            None,
            vec![replica("r1:1", 2), primary("p:1", 1), replica("r2:1", 3)],
        );
        assert_eq!(snap.primary, Some(1));
        assert_eq!(snap.primary_conflict, None);
        assert_eq!(roles(&snap), [Role::Replica, Role::Primary, Role::Replica]);
        assert_eq!(
            snap.primary_server().map(|s| s.address.as_str()),
            Some("p:1")
        );
    }

    #[test]
    fn read_only_server_without_channels_is_not_primary() {
        let snap = resolve(
            None,
            vec![server("a:1", 1, true, vec![]), replica("r:1", 2)],
        );
        assert_eq!(snap.primary, None);
        assert_eq!(roles(&snap), [Role::Unknown, Role::Replica]);
    }

    #[test]
    fn unknown_read_only_is_not_writable() {
        let mut s = primary("a:1", 1);
        s.read_only = None;
        let snap = resolve(None, vec![s]);
        assert_eq!(snap.primary, None);
        assert_eq!(roles(&snap), [Role::Unknown]);
    }

    #[test]
    fn writable_server_with_a_source_is_a_replica_not_primary() {
        let snap = resolve(
            None,
            vec![
                primary("p:1", 1),
                server("r:1", 2, false, vec![channel("p")]),
            ],
        );
        assert_eq!(snap.primary, Some(0));
        assert_eq!(roles(&snap), [Role::Primary, Role::Replica]);
    }

    #[test]
    fn channels_with_empty_host_replicate_from_no_one() {
        let p = server("p:1", 1, false, vec![channel(""), channel("")]);
        let snap = resolve(None, vec![p, replica("r:1", 2)]);
        assert_eq!(snap.primary, Some(0));
        // One real channel among empty ones is replication.
        let r = server("x:1", 3, false, vec![channel(""), channel("p")]);
        let snap = resolve(None, vec![r]);
        assert_eq!(snap.primary, None);
        assert_eq!(roles(&snap), [Role::Replica]);
    }

    #[test]
    fn two_writable_at_startup_choose_nobody_and_name_both() {
        let snap = resolve(
            None,
            vec![
                primary("127.0.0.1:23301", 1),
                primary("127.0.0.1:23302", 2),
                replica("127.0.0.1:23303", 3),
            ],
        );
        assert_eq!(snap.primary, None);
        let conflict = snap.primary_conflict.clone().unwrap();
        assert_eq!(conflict.writable, ["127.0.0.1:23301", "127.0.0.1:23302"]);
        assert_eq!(conflict.kept, None);
        assert_eq!(
            conflict.to_string(),
            "two writable servers: 127.0.0.1:23301 and 127.0.0.1:23302; refusing to guess"
        );
        assert_eq!(roles(&snap), [Role::Suspect, Role::Suspect, Role::Replica]);
    }

    #[test]
    fn previous_primary_keeps_role_and_new_writer_is_suspect() {
        let before = resolve(None, vec![primary("a:1", 1), replica("b:1", 2)]);
        assert_eq!(before.primary, Some(0));
        // b becomes writable and stops replicating: a second writer.
        let after = resolve(Some(&before), vec![primary("a:1", 1), primary("b:1", 2)]);
        assert_eq!(after.primary, Some(0));
        assert_eq!(roles(&after), [Role::Primary, Role::Suspect]);
        let conflict = after.primary_conflict.unwrap();
        assert_eq!(conflict.kept.as_deref(), Some("a:1"));
        assert!(conflict.to_string().contains("keeping a:1"));
    }

    #[test]
    fn previous_primary_must_match_server_id_too() {
        let before = resolve(None, vec![primary("a:1", 1), replica("b:1", 2)]);
        // A different server (id 9) now answers at a:1, and b is writable too.
        let after = resolve(Some(&before), vec![primary("a:1", 9), primary("b:1", 2)]);
        assert_eq!(after.primary, None);
        assert_eq!(roles(&after), [Role::Suspect, Role::Suspect]);
        assert_eq!(after.primary_conflict.unwrap().kept, None);
    }

    #[test]
    fn conflict_without_previous_primary_among_candidates_chooses_nobody() {
        let before = resolve(
            None,
            vec![primary("a:1", 1), replica("b:1", 2), replica("c:1", 3)],
        );
        let after = resolve(
            Some(&before),
            vec![
                down(primary("a:1", 1)),
                primary("b:1", 2),
                primary("c:1", 3),
            ],
        );
        assert_eq!(after.primary, None);
        assert_eq!(
            roles(&after),
            [Role::Unreachable, Role::Suspect, Role::Suspect]
        );
        assert_eq!(
            after.primary_conflict.unwrap().to_string(),
            "two writable servers: b:1 and c:1; refusing to guess"
        );
    }

    #[test]
    fn three_writable_servers_message() {
        let snap = resolve(
            None,
            vec![primary("a:1", 1), primary("b:1", 2), primary("c:1", 3)],
        );
        assert_eq!(
            snap.primary_conflict.unwrap().to_string(),
            "3 writable servers: a:1, b:1 and c:1; refusing to guess"
        );
    }

    #[test]
    fn unreachable_primary_means_no_primary() {
        let before = resolve(None, vec![primary("a:1", 1), replica("b:1", 2)]);
        let after = resolve(
            Some(&before),
            vec![down(primary("a:1", 1)), replica("b:1", 2)],
        );
        assert_eq!(after.primary, None);
        assert_eq!(after.primary_conflict, None);
        assert_eq!(roles(&after), [Role::Unreachable, Role::Replica]);
    }

    #[test]
    fn conflict_resolves_when_one_goes_read_only() {
        let conflict = resolve(None, vec![primary("a:1", 1), primary("b:1", 2)]);
        assert_eq!(conflict.primary, None);
        let fixed = resolve(
            Some(&conflict),
            vec![primary("a:1", 1), server("b:1", 2, true, vec![])],
        );
        assert_eq!(fixed.primary, Some(0));
        assert_eq!(fixed.primary_conflict, None);
    }

    #[test]
    fn never_polled_is_unknown_and_unreachable_replica_is_unreachable() {
        let snap = resolve(
            None,
            vec![
                ServerState::new("new:1"),
                down(replica("r:1", 2)),
                primary("p:1", 1),
            ],
        );
        assert_eq!(
            roles(&snap),
            [Role::Unknown, Role::Unreachable, Role::Primary]
        );
        assert_eq!(snap.primary, Some(2));
    }

    #[test]
    fn new_primary_after_old_one_is_gone() {
        // The failover issue will do this on purpose: the old primary is down and a
        // promoted replica is writable with no channels.
        let before = resolve(None, vec![primary("a:1", 1), replica("b:1", 2)]);
        let after = resolve(
            Some(&before),
            vec![down(primary("a:1", 1)), primary("b:1", 2)],
        );
        assert_eq!(after.primary, Some(1));
        assert_eq!(roles(&after), [Role::Unreachable, Role::Primary]);
    }
}
