//! Problem: the failover journal remembers what sqlyard did, but the
//! cluster may have changed while sqlyard was down. An operator may have
//! rebuilt it from scratch (fresh data directories, the old primary primary
//! again, the others its replicas) or switched the primary back with
//! another tool. Acting on such an entry (fencing "the replaced primary",
//! which is now the only writer, and rejoining it under its own replica)
//! builds a replication loop and stops every write. The live servers are
//! the truth; the journal is history.
//!
//! At startup the manager waits until every server was polled once (the
//! primary an entry replaced gets nothing through sqlyard meanwhile), then
//! takes the newest journal entry that changed the topology (a completed
//! failover or switchover, or one interrupted by the restart) and asks
//! [`judge`] whether the live topology still matches it:
//! - every live primary (reachable, writable, replicating from no one) is a
//!   server of that entry: for a failover that got as far as promotion, its
//!   new primary (or the old one come back writable next to it); for one
//!   interrupted before promotion, its old or new primary;
//! - when the entry promoted a server: that server is still configured and
//!   replicates from no one; if some server is a live primary, it is that
//!   one, unless that one does not answer and the replicas still follow it
//!   (the old primary came back writable while the new one is down: it is
//!   fenced rather than written to); and if it does not answer, the
//!   replicas do not follow the old primary instead.
//!
//! If so, the entry is acted on as before: an interrupted failover is
//! finished or reported, the old primary of a completed one is fenced and
//! rejoined. Otherwise sqlyard logs that the journal does not match the
//! live topology, marks the entry `superseded` (`SHOW FAILOVERS`) and
//! touches nothing. Older entries are history either way.

use std::time::Duration;

use tokio::sync::watch as tokio_watch;
use tokio::time::Instant;

use super::manager::{repoint_all, uses_semi_sync, Manager};
use super::rejoin::OldPrimary;
use super::sql::GtidStart;
use super::status::{FailoverRecord, Kind, Outcome, Phase};
use super::watch::Watched;
use crate::router::replicas::{replicates_from, same_address};
use crate::topology::Snapshot;

/// How long a restart waits for every server to be polled once.
const FIRST_POLLS: Duration = Duration::from_secs(10);

/// Whether a journal entry may be acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Applies,
    /// The live topology does not match; why, for the log and the journal.
    Superseded(String),
}

/// Whether `rec` changed the topology (so that it, and not an older entry,
/// describes what the servers should look like).
pub fn changed_topology(rec: &FailoverRecord) -> bool {
    match rec.outcome {
        Outcome::Succeeded | Outcome::Interrupted | Outcome::Superseded | Outcome::Running => true,
        Outcome::Failed => rec.phase(Phase::Promote).is_some(),
        Outcome::Refused | Outcome::Cancelled => false,
    }
}

/// Compares `rec` with the live servers of `snap` (see the module doc). Pure.
pub fn judge(rec: &FailoverRecord, snap: &Snapshot) -> Verdict {
    let old = rec.old_primary.as_deref();
    let new = rec.new_primary.as_deref();
    let is = |a: &str, b: Option<&str>| b.is_some_and(|b| same_address(a, b));
    let promoted = rec.outcome == Outcome::Succeeded || rec.phase(Phase::Promote).is_some();
    let live: Vec<&str> = snap
        .servers
        .iter()
        .filter(|s| s.looks_like_primary())
        .map(|s| s.address.as_str())
        .collect();
    let entry = match (old, new) {
        (Some(o), Some(n)) => format!("entry {} made {n} the primary in place of {o}", rec.id),
        (Some(o), None) => format!("entry {} was replacing {o}", rec.id),
        _ => format!("entry {}", rec.id),
    };
    if let Some(outsider) = live.iter().find(|a| !is(a, old) && !is(a, new)) {
        return Verdict::Superseded(format!(
            "{outsider} is the writable primary and replicates from no one, but {entry}"
        ));
    }
    if !promoted {
        return Verdict::Applies;
    }
    let Some(new) = new else {
        return Verdict::Applies;
    };
    let find = |a: &str| snap.servers.iter().find(|s| same_address(&s.address, a));
    let Some(n) = find(new) else {
        return Verdict::Superseded(format!(
            "{new} is not one of the configured servers any more, but {entry}"
        ));
    };
    if n.reachable && n.replicates() {
        let sources: Vec<String> = n
            .replication
            .iter()
            .filter_map(|c| c.source_address())
            .collect();
        return Verdict::Superseded(format!(
            "{new} replicates from {} now, but {entry}",
            sources.join(", ")
        ));
    }
    if !live.is_empty() && !live.iter().any(|a| same_address(a, new)) && n.reachable {
        return Verdict::Superseded(format!(
            "{} is the writable primary and replicates from no one, but {entry}",
            live.join(" and ")
        ));
    }
    if !n.reachable && followed_instead(snap, old.and_then(find), n) {
        return Verdict::Superseded(format!(
            "{new} does not answer and the replicas follow {} again, but {entry}",
            old.unwrap_or("the old primary")
        ));
    }
    // Otherwise the new primary is the primary, or it cannot be asked and
    // the replicas still follow it (or there are none): an old primary
    // back writable meanwhile is fenced, since writing to it would fork
    // the data; that costs writes until the new primary is back.
    Verdict::Applies
}

/// Whether the reachable replicas follow the entry's old primary and none
/// follows its new one: the operator moved them back.
fn followed_instead(
    snap: &Snapshot,
    old: Option<&crate::topology::ServerState>,
    new: &crate::topology::ServerState,
) -> bool {
    let Some(old) = old else {
        return false;
    };
    let replicas = || {
        snap.servers
            .iter()
            .filter(|s| s.reachable && s.address != old.address && s.address != new.address)
            .flat_map(|s| s.replication.iter().filter(|c| c.has_source()))
    };
    let from_old = replicas().any(|c| replicates_from(c, old));
    let from_new = replicas().any(|c| replicates_from(c, new));
    from_old && !from_new
}

impl Manager {
    /// After a restart: compare the newest journal entry that changed the
    /// topology with the live servers, then act on it or mark it superseded.
    pub(super) async fn recover(&mut self, shutdown: &mut tokio_watch::Receiver<bool>) {
        let Some(record) = self.newest_topology_change() else {
            return;
        };
        let running = record.outcome == Outcome::Running;
        let promoted =
            record.outcome == Outcome::Succeeded || record.phase(Phase::Promote).is_some();
        let completed = matches!(record.outcome, Outcome::Succeeded | Outcome::Interrupted);
        let acts = running || (completed && promoted && record.kind != Kind::Switchover);
        if !acts {
            return; // history: a switchover, or nothing was replaced
        }
        // The replaced primary gets nothing through sqlyard while the
        // servers are read; released if the entry turns out to be history.
        let fenced_early = record.old_primary.clone().filter(|_| promoted);
        if let Some(old) = &fenced_early {
            self.monitor.set_fenced(old, true);
        }
        if !self.wait_first_polls(shutdown).await {
            return;
        }
        let snap = self.deps.topology.load();
        match judge(&record, &snap) {
            Verdict::Superseded(why) => {
                if let Some(old) = &fenced_early {
                    self.monitor.set_fenced(old, false);
                }
                self.supersede(record, &why)
            }
            Verdict::Applies if running => self.finish_interrupted(record).await,
            Verdict::Applies => self.refence_old_primary(&record),
        }
    }

    /// The newest journal entry that changed the topology (the one that
    /// says what the servers should look like now).
    pub(super) fn newest_topology_change(&self) -> Option<FailoverRecord> {
        self.journal
            .history()
            .into_iter()
            .chain(self.journal.interrupted())
            .filter(changed_topology)
            .max_by_key(|r| r.id)
    }

    /// Waits (bounded) for a snapshot in which every server was polled
    /// once. False on shutdown.
    pub(super) async fn wait_first_polls(
        &self,
        shutdown: &mut tokio_watch::Receiver<bool>,
    ) -> bool {
        let mut changes = self.deps.topology.subscribe();
        let deadline = Instant::now() + FIRST_POLLS;
        loop {
            let snap = self.deps.topology.load();
            if snap.servers.iter().all(|s| s.polls > 0) {
                return true;
            }
            tokio::select! {
                _ = changes.changed() => {}
                _ = shutdown.changed() => return false,
                _ = tokio::time::sleep_until(deadline) => return true,
            }
        }
    }

    /// The journal does not describe these servers: say so, touch nothing.
    fn supersede(&mut self, mut record: FailoverRecord, why: &str) {
        tracing::warn!(
            id = record.id,
            journal = %self.journal.path().display(),
            "the failover journal does not match the live topology: {why}; the entry is marked superseded and nothing is changed"
        );
        if let Err(e) = self.journal.mark_superseded(&mut record, why) {
            tracing::error!(error = %e, "failover journal write failed; the record is kept in memory");
        }
        let history = self.journal.history();
        self.handle.update(|s| {
            s.running = None;
            s.history = history;
        });
    }

    /// A completed failover whose old primary may have come back (writable,
    /// even) while sqlyard was down: fence it until it is rejoined or
    /// quarantined again. Nothing is written to it meanwhile.
    fn refence_old_primary(&mut self, done: &FailoverRecord) {
        if let (Some(old), Some(new)) = (&done.old_primary, &done.new_primary) {
            self.monitor.set_fenced(old, true);
            self.rejoin.add(OldPrimary {
                address: old.clone(),
                server_id: None,
                new_primary: new.clone(),
                record: Some(done.id),
                steps_done: !done.fencing.is_empty(),
            });
        }
    }

    /// Finishes or reports a failover the journal shows as interrupted.
    async fn finish_interrupted(&mut self, mut record: FailoverRecord) {
        tracing::warn!(id = record.id, old_primary = ?record.old_primary, new_primary = ?record.new_primary, "the journal shows a failover interrupted by a restart; re-deriving the topology from the servers");
        let snap = self.deps.topology.load();
        let actions = self.actions();
        let old = record.old_primary.clone();
        let mut notes = Vec::new();
        if let Some(old) = &old {
            let label = format!("{old} (lost, last seen)");
            self.lost_hint = record
                .positions
                .iter()
                .find(|(a, _)| *a == label)
                .map(|(_, g)| (old.clone(), g.clone()));
        }
        if let Some(old) = &old {
            let promoted = record.phase(Phase::Promote).is_some();
            if promoted {
                // It was replaced: never written to again until rejoined.
                self.monitor.set_fenced(old, true);
            } else {
                if record.phase(Phase::Demote).is_some() {
                    // Stopped between demotion and promotion: undo it.
                    self.undo_demotion(&actions, old, &snap).await;
                    notes.push(format!("demotion undone: {old} is writable again"));
                }
                // Receivers the interrupted failover stopped start again, so
                // that replicas follow the old primary if it is back.
                for s in snap
                    .servers
                    .iter()
                    .filter(|s| s.address != *old && s.reachable && s.replicates())
                {
                    let _ = actions.start_replication(&s.address).await;
                }
            }
        }
        // A promoted candidate left read-only: finish its promotion.
        if snap.primary_server().is_none() && record.kind != Kind::Switchover
            || record.phase(Phase::Promote).is_some()
        {
            if let Some(new) = record.new_primary.clone() {
                let done_promote = record.phase(Phase::Promote).is_some();
                let candidate = snap.server(&new);
                let stopped = candidate.is_some_and(|c| c.reachable && !c.replicates());
                if done_promote || stopped {
                    let semi = uses_semi_sync(&snap, old.as_deref().unwrap_or(""));
                    match actions.promote(&new, semi).await {
                        Ok(()) => notes.push(format!("finished promoting {new}")),
                        Err(e) => notes.push(format!("could not finish promoting {new}: {e}")),
                    }
                }
            }
        }
        let snap = self
            .fresh_snapshot(Duration::from_secs(3), |s| s.primary_server().is_some())
            .await;
        if let (Some(primary), Some(old)) = (snap.primary_server(), old.as_deref()) {
            if primary.address != old {
                // Replicas left pointing at the old primary follow the new one.
                let left: Vec<String> = snap
                    .servers
                    .iter()
                    .filter(|s| s.reachable && s.address != primary.address && s.address != old)
                    .filter(|s| {
                        !s.replication
                            .iter()
                            .any(|c| crate::router::replicas::replicates_from(c, primary))
                    })
                    .map(|s| s.address.clone())
                    .collect();
                if !left.is_empty() {
                    let repointed = repoint_all(
                        &actions,
                        &self.handle,
                        &left,
                        &primary.address,
                        GtidStart::SlavePos,
                        self.heartbeat_period(),
                        primary.flavor,
                    )
                    .await;
                    self.quarantine_errant(&repointed.errant, &snap);
                    notes.push(repointed.summary);
                }
                self.monitor.set_fenced(old, true);
                self.rejoin.add(OldPrimary {
                    address: old.to_string(),
                    server_id: None,
                    new_primary: primary.address.clone(),
                    record: Some(record.id),
                    steps_done: false,
                });
                notes.push(format!("primary is {}", primary.address));
            }
        } else if snap.primary_server().is_none() {
            if let Some(old) = &old {
                // Still no primary: watch the old one so that detection (and an
                // automatic failover) proceeds as usual.
                self.watch.watch(Watched {
                    address: old.clone(),
                    server_id: None,
                });
                notes.push(format!(
                    "no primary yet; watching {old} so that failover can proceed"
                ));
            }
        }
        record.error = Some(format!(
            "interrupted (sqlyard restarted, or the leader that ran it was lost); then: {}",
            notes.join("; ")
        ));
        self.journal_update(&record);
        let error = record.error.clone();
        self.finish(&mut record, Outcome::Interrupted, error);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::status::PhaseRecord;
    use crate::topology::primary::resolve;
    use crate::topology::replica_status::ReplicationStatus;
    use crate::topology::{ServerState, ThreadState};
    use std::time::SystemTime;

    const N1: &str = "127.0.0.1:1";
    const N2: &str = "127.0.0.1:2";
    const N3: &str = "127.0.0.1:3";

    fn server(addr: &str, id: u32, writable: bool, source: Option<(&str, u32)>) -> ServerState {
        let mut s = ServerState::new(addr);
        s.reachable = true;
        s.server_id = Some(id);
        s.read_only = Some(!writable);
        if let Some((src, src_id)) = source {
            let (host, port) = src.rsplit_once(':').unwrap();
            s.replication = vec![ReplicationStatus {
                source_host: Some(host.into()),
                source_port: port.parse().ok(),
                source_server_id: Some(src_id),
                io_running: ThreadState::Running,
                sql_running: ThreadState::Running,
                ..Default::default()
            }];
        }
        s
    }

    fn down(addr: &str) -> ServerState {
        ServerState::new(addr)
    }

    fn record(outcome: Outcome, phases: &[Phase]) -> FailoverRecord {
        FailoverRecord {
            id: 7,
            kind: Kind::Automatic,
            trigger: "lost".into(),
            started_at: SystemTime::now(),
            finished_at: None,
            outcome,
            old_primary: Some(N1.into()),
            new_primary: Some(N2.into()),
            reason: String::new(),
            detection: None,
            phases: phases
                .iter()
                .map(|p| PhaseRecord {
                    phase: *p,
                    started_at: SystemTime::now(),
                    duration: Duration::ZERO,
                    detail: String::new(),
                })
                .collect(),
            positions: Vec::new(),
            error: None,
            fencing: Vec::new(),
            ran_by: None,
        }
    }

    fn snap(servers: Vec<ServerState>) -> Snapshot {
        resolve(None, servers)
    }

    fn superseded(v: Verdict) -> String {
        match v {
            Verdict::Superseded(why) => why,
            Verdict::Applies => panic!("expected superseded"),
        }
    }

    #[test]
    fn a_rebuilt_cluster_supersedes_a_completed_failover() {
        // The journal: 1 -> 2. The servers: 1 primary again, 2 and 3 its replicas.
        // (1 writable, or still read-only right after the rebuild)
        let done = record(Outcome::Succeeded, &[Phase::Promote]);
        for writable in [true, false] {
            let live = snap(vec![
                server(N1, 1, writable, None),
                server(N2, 2, false, Some((N1, 1))),
                server(N3, 3, false, Some((N1, 1))),
            ]);
            let why = superseded(judge(&done, &live));
            assert!(
                why.contains("127.0.0.1:2 replicates from 127.0.0.1:1"),
                "{why}"
            );
            assert!(
                why.contains("entry 7 made 127.0.0.1:2 the primary"),
                "{why}"
            );
        }
    }

    #[test]
    fn a_third_server_made_primary_by_an_operator_supersedes() {
        let done = record(Outcome::Succeeded, &[Phase::Promote]);
        let live = snap(vec![
            down(N1),
            server(N2, 2, false, Some((N3, 3))),
            server(N3, 3, true, None),
        ]);
        let why = superseded(judge(&done, &live));
        assert!(
            why.starts_with("127.0.0.1:3 is the writable primary"),
            "{why}"
        );
        // also for an interrupted entry that had not promoted yet
        let interrupted = record(Outcome::Running, &[Phase::Detect, Phase::Choose]);
        assert!(matches!(judge(&interrupted, &live), Verdict::Superseded(_)));
    }

    #[test]
    fn the_topology_the_entry_left_is_acted_on() {
        let done = record(Outcome::Succeeded, &[Phase::Promote]);
        // 2 primary, 3 its replica, 1 down: fence and rejoin 1 when it is back
        let live = snap(vec![
            down(N1),
            server(N2, 2, true, None),
            server(N3, 3, false, Some((N2, 2))),
        ]);
        assert_eq!(judge(&done, &live), Verdict::Applies);
        // 1 came back writable next to 2 (no read_only in its config): fence it
        let live = snap(vec![
            server(N1, 1, true, None),
            server(N2, 2, true, None),
            server(N3, 3, false, Some((N2, 2))),
        ]);
        assert_eq!(judge(&done, &live), Verdict::Applies);
        // nobody writable (2 unreachable): the entry still describes it
        let live = snap(vec![
            down(N1),
            down(N2),
            server(N3, 3, false, Some((N2, 2))),
        ]);
        assert_eq!(judge(&done, &live), Verdict::Applies);
        // 2 down, 1 back writable, 3 still follows 2: 1 is fenced (writing
        // to it would fork the data), not taken as the primary
        let live = snap(vec![
            server(N1, 1, true, None),
            down(N2),
            server(N3, 3, false, Some((N2, 2))),
        ]);
        assert_eq!(judge(&done, &live), Verdict::Applies);
        let live = snap(vec![server(N1, 1, true, None), down(N2)]);
        assert_eq!(judge(&done, &live), Verdict::Applies);
        // ... but if the operator moved 3 back under 1, the entry is history,
        // even while 1 is still read-only
        for writable in [true, false] {
            let live = snap(vec![
                server(N1, 1, writable, None),
                down(N2),
                server(N3, 3, false, Some((N1, 1))),
            ]);
            let why = superseded(judge(&done, &live));
            assert!(why.contains("follow 127.0.0.1:1 again"), "{why}");
        }
    }

    #[test]
    fn a_new_primary_no_longer_configured_supersedes() {
        let mut done = record(Outcome::Succeeded, &[Phase::Promote]);
        done.new_primary = Some("127.0.0.1:9".into());
        let live = snap(vec![
            server(N1, 1, true, None),
            server(N2, 2, false, Some((N1, 1))),
        ]);
        let why = superseded(judge(&done, &live));
        assert!(why.contains("not one of the configured servers"), "{why}");
        // spelled differently but the same server: still recognised
        done.new_primary = Some("localhost:2".into());
        let live = snap(vec![down(N1), server(N2, 2, true, None)]);
        assert_eq!(judge(&done, &live), Verdict::Applies);
    }

    #[test]
    fn an_interrupted_failover_is_finished_when_the_servers_match() {
        // killed during catch-up: 1 dead, 2 read-only with its receiver stopped
        let interrupted = record(Outcome::Running, &[Phase::Detect, Phase::Choose]);
        let mut two = server(N2, 2, false, Some((N1, 1)));
        two.replication[0].io_running = ThreadState::Stopped;
        let live = snap(vec![down(N1), two, server(N3, 3, false, Some((N1, 1)))]);
        assert_eq!(judge(&interrupted, &live), Verdict::Applies);
        // killed between promotion and repointing: 2 writable
        let promoted = record(Outcome::Running, &[Phase::Choose, Phase::Promote]);
        let live = snap(vec![
            down(N1),
            server(N2, 2, true, None),
            server(N3, 3, false, Some((N1, 1))),
        ]);
        assert_eq!(judge(&promoted, &live), Verdict::Applies);
        // before promotion, the old primary back as the primary is its own topology
        let live = snap(vec![
            server(N1, 1, true, None),
            server(N2, 2, false, Some((N1, 1))),
            server(N3, 3, false, Some((N1, 1))),
        ]);
        assert_eq!(judge(&interrupted, &live), Verdict::Applies);
        // ... but after promotion it is not
        assert!(matches!(judge(&promoted, &live), Verdict::Superseded(_)));
    }

    #[test]
    fn which_entries_changed_the_topology() {
        assert!(changed_topology(&record(Outcome::Succeeded, &[])));
        assert!(changed_topology(&record(Outcome::Running, &[])));
        assert!(changed_topology(&record(Outcome::Superseded, &[])));
        assert!(changed_topology(&record(Outcome::Interrupted, &[])));
        assert!(!changed_topology(&record(Outcome::Refused, &[])));
        assert!(!changed_topology(&record(Outcome::Cancelled, &[])));
        assert!(!changed_topology(&record(
            Outcome::Failed,
            &[Phase::CatchUp]
        )));
        assert!(changed_topology(&record(
            Outcome::Failed,
            &[Phase::Promote]
        )));
    }
}
