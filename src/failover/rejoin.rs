//! Problem: an old primary that comes back after a failover (a restart, a
//! thawed host, a healed link) is a second writer waiting to happen, and it
//! may hold transactions the new primary never got. It must never be
//! written to through sqlyard (routing fences it at once, see
//! `MonitorControl::set_fenced`); when it answers again sqlyard sets it
//! read-only and turns its semi-sync source side off; then, if its GTID
//! history is contained in the new primary's, it is rejoined as a replica
//! (`MASTER_USE_GTID=current_pos`), otherwise it is quarantined and its
//! errant transactions are reported by GTID for an operator to recover.
//! Each attempt runs as a background task, so the manager keeps watching the
//! new primary (and serving admin requests) while an old one is tended.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::actions::Actions;
use super::errant::missing_from;
use super::error::ActionError;
use super::manager::HEARTBEAT_PERIOD;
use super::sql::GtidStart;
use super::status::Quarantined;
use crate::topology::{ServerState, Snapshot};

/// How often a server that is back is tried again after a failed attempt.
const RETRY: Duration = Duration::from_secs(2);
/// How long a rejoined server gets to show running threads.
const VERIFY: Duration = Duration::from_secs(5);

/// A primary replaced by a failover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldPrimary {
    pub address: String,
    pub server_id: Option<u32>,
    /// The primary that replaced it (the current one is used if it changed since).
    pub new_primary: String,
}

/// What happened to an old primary that came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tended {
    Rejoined { address: String },
    Quarantined(Quarantined),
}

#[derive(Debug)]
struct Pending {
    old: OldPrimary,
    last_try: Option<Instant>,
    fenced: bool,
    /// The attempt running in the background: (fenced now, outcome).
    work: Option<Work>,
}

type Work = tokio::task::JoinHandle<(bool, Result<Option<Tended>, ActionError>)>;

/// Old primaries waiting to come back, and the quarantined ones.
#[derive(Debug, Default)]
pub struct Rejoin {
    pending: Vec<Pending>,
    quarantined: Vec<String>,
}

impl Rejoin {
    pub fn add(&mut self, old: OldPrimary) {
        self.pending.retain(|p| p.old.address != old.address);
        self.quarantined.retain(|a| *a != old.address);
        self.pending.push(Pending {
            old,
            last_try: None,
            fenced: false,
            work: None,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Whether `address` was quarantined (never promoted, never repointed).
    pub fn is_quarantined(&self, address: &str) -> bool {
        self.quarantined.iter().any(|a| a == address)
    }

    /// Quarantined servers an operator repaired: they now replicate from
    /// the primary with both threads running and hold nothing it lacks.
    /// They leave the quarantine; returns their addresses.
    pub fn release_repaired(&mut self, snap: &Snapshot) -> Vec<String> {
        let Some(primary) = snap.primary_server() else {
            return Vec::new();
        };
        let repaired: Vec<String> = self
            .quarantined
            .iter()
            .filter(|a| {
                snap.server(a).is_some_and(|s| {
                    let follows = s.reachable
                        && s.replication.iter().any(|c| {
                            crate::router::replicas::replicates_from(c, primary)
                                && c.io_running == crate::topology::ThreadState::Running
                                && c.sql_running == crate::topology::ThreadState::Running
                        });
                    let contained = s
                        .flavor
                        .is_some_and(|f| missing_from(&s.gtid, &primary.gtid, f).is_empty());
                    follows && contained
                })
            })
            .cloned()
            .collect();
        self.quarantined.retain(|a| !repaired.contains(a));
        repaired
    }

    /// Tends the old primaries: starts a background attempt for each one
    /// that is due (fence only while it does not answer polls; fence, then
    /// rejoin or quarantine once it does) and collects finished ones. Never
    /// waits on a server: the manager keeps watching meanwhile.
    pub async fn tend(&mut self, snap: &Snapshot, actions: &Actions) -> Vec<Tended> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        for (i, p) in self.pending.iter_mut().enumerate() {
            if p.work.as_ref().is_some_and(|t| t.is_finished()) {
                if let Some(task) = p.work.take() {
                    match task.await {
                        Ok((fenced, result)) => {
                            p.fenced |= fenced;
                            match result {
                                Ok(Some(t)) => {
                                    if let Tended::Quarantined(q) = &t {
                                        self.quarantined.push(q.address.clone());
                                    }
                                    out.push(t);
                                    done.push(i);
                                    continue;
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    tracing::warn!(server = %p.old.address, error = %e, "old primary is back but could not be tended yet; retrying");
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!(server = %p.old.address, error = %e, "tending task ended abnormally")
                        }
                    }
                }
            }
            if p.work.is_some() || p.last_try.is_some_and(|t| t.elapsed() < RETRY) {
                continue;
            }
            p.last_try = Some(Instant::now());
            let actions = actions.clone();
            let old = p.old.clone();
            let fenced = p.fenced;
            let Some(state) = snap.server(&p.old.address).filter(|s| s.reachable).cloned() else {
                // Not answering polls (a thawed primary whose commits wait for
                // semi-sync acknowledgements may not): try to fence it anyway.
                p.work = Some(tokio::spawn(async move {
                    let f = tokio::time::timeout(RETRY * 2, actions.fence(&old.address)).await;
                    match f {
                        Ok(Ok(f)) => {
                            if f.was_writable {
                                tracing::warn!(server = %old.address, "old primary answers again, writable: set read-only (fenced)");
                            }
                            (true, Ok(None))
                        }
                        _ => (false, Ok(None)),
                    }
                }));
                continue;
            };
            let primary = snap
                .primary_server()
                .or_else(|| snap.server(&p.old.new_primary))
                .filter(|s| s.reachable && s.address != p.old.address)
                .cloned();
            let Some(primary) = primary else {
                continue;
            };
            p.work = Some(tokio::spawn(async move {
                tend_one(old, fenced, state, primary, actions).await
            }));
        }
        for i in done.into_iter().rev() {
            self.pending.remove(i);
        }
        out
    }
}

/// One attempt for one old primary that answers: returns whether it is
/// fenced now, and what became of it (nothing yet, rejoined, quarantined).
async fn tend_one(
    old: OldPrimary,
    mut fenced: bool,
    state: ServerState,
    primary: ServerState,
    actions: Actions,
) -> (bool, Result<Option<Tended>, ActionError>) {
    let result = tend_fenced(&old, &mut fenced, &state, &primary, &actions).await;
    (fenced, result)
}

async fn tend_fenced(
    old: &OldPrimary,
    fenced: &mut bool,
    state: &ServerState,
    primary: &ServerState,
    actions: &Actions,
) -> Result<Option<Tended>, ActionError> {
    let address = old.address.clone();
    if !*fenced || state.is_writable() || state.semi_sync.master_enabled == Some(true) {
        let f = actions.fence(&address).await?;
        *fenced = true;
        if f.was_writable {
            tracing::warn!(server = %address, "old primary came back writable: set read-only (fenced)");
        } else {
            tracing::info!(server = %address, "old primary is back: read-only, semi-sync source off");
        }
    }
    let quarantine = |errant: String| {
        tracing::error!(server = %address, errant = %errant, "old primary holds transactions the new primary never got: quarantined; recover them by hand");
        Tended::Quarantined(Quarantined {
            address: address.clone(),
            server_id: state.server_id.or(old.server_id),
            errant,
            since: SystemTime::now(),
        })
    };
    if let Some(flavor) = state.flavor.or(primary.flavor) {
        // Its positions as they are now that it is fenced (the snapshot's
        // may predate writes made just before the fence).
        let mut positions = state.gtid.clone();
        if let Ok(p) = actions.read_positions(&address).await {
            positions.executed = Some(p.current);
            if p.binlog.is_some() {
                positions.binlog_pos = p.binlog;
            }
        }
        let errant = missing_from(&positions, &primary.gtid, flavor);
        if !errant.is_empty() {
            return Ok(Some(quarantine(errant.to_string())));
        }
    }
    let healthy_replica = state.replication.iter().any(|c| {
        crate::router::replicas::replicates_from(c, primary)
            && c.io_running == crate::topology::ThreadState::Running
            && c.sql_running == crate::topology::ThreadState::Running
    });
    if healthy_replica {
        // Already follows the new primary (rejoined before a restart).
        tracing::info!(server = %address, primary = %primary.address, "old primary already replicates from the new primary");
        return Ok(Some(Tended::Rejoined { address }));
    }
    actions
        .repoint(
            &address,
            &primary.address,
            GtidStart::CurrentPos,
            HEARTBEAT_PERIOD,
        )
        .await?;
    match actions.verify_replicating(&address, VERIFY).await {
        Ok(()) => {
            tracing::info!(server = %address, primary = %primary.address, "old primary rejoined as a replica");
            Ok(Some(Tended::Rejoined { address }))
        }
        Err(ActionError::Replication {
            errno: 1236,
            message,
            ..
        }) => {
            // The new primary's binlog lacks what the old one has: diverged.
            let _ = actions.stop_replication(&address).await;
            Ok(Some(quarantine(format!(
                "replication refused it (error 1236): {message}"
            ))))
        }
        Err(e) => Err(e),
    }
}
