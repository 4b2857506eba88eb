//! Problem: an old primary that comes back after a failover (a restart, a
//! thawed host, a healed link) is a second writer waiting to happen, and it
//! may hold transactions the new primary never got. It must never be
//! written to through sqlyard (routing fences it at once, see
//! `MonitorControl::set_fenced`); the first time it answers again sqlyard
//! applies `failover.fence` to it (`fence`: read-only with the semi-sync
//! source side off, then killed sessions, a shutdown or an operator
//! command, as configured), and read-only again whenever it answers; then,
//! if its GTID history is contained in the new primary's, it is rejoined as
//! a replica (`MASTER_USE_GTID=current_pos`), otherwise it is quarantined
//! and its errant transactions are reported by GTID for an operator to
//! recover. A new primary that replicates, directly or through others, from
//! the old one is never its source: that rejoin is refused with an alert,
//! and nothing is done to the old primary. Each attempt runs as a
//! background task, so the manager keeps watching the new primary (and
//! serving admin requests) while an old one is tended.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::actions::Actions;
use super::errant::missing_from;
use super::error::ActionError;
use super::fence::{self, FencePlan};
use super::sql::GtidStart;
use super::status::{FenceRecord, Quarantined};
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
    /// The failover that replaced it: fencing steps are journaled there.
    pub record: Option<u64>,
    /// The steps of `failover.fence` after `read_only` already ran (a
    /// replica lost during a failover, or a restart that found them in
    /// the journal): only `read_only` is applied.
    pub steps_done: bool,
}

/// What happened to an old primary that came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tended {
    Rejoined {
        address: String,
    },
    Quarantined(Quarantined),
    /// Fencing steps were applied (journal them with `record`).
    Fencing {
        address: String,
        record: Option<u64>,
        steps: Vec<FenceRecord>,
    },
    /// Not rejoined, and left alone: pointing it at the new primary would
    /// build a replication loop.
    Refused {
        address: String,
        error: String,
    },
}

#[derive(Debug)]
struct Pending {
    old: OldPrimary,
    last_try: Option<Instant>,
    fenced: bool,
    /// The attempt running in the background.
    work: Option<Work>,
}

/// What one background attempt did.
#[derive(Debug)]
struct Attempt {
    /// It is read-only now.
    fenced: bool,
    /// The fencing steps after `read_only` ran (even if some failed).
    steps_ran: bool,
    steps: Vec<FenceRecord>,
    result: Result<Option<Tended>, ActionError>,
}

type Work = tokio::task::JoinHandle<Attempt>;

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

    /// Whether `address` is being fenced, rejoined or was quarantined.
    pub fn contains(&self, address: &str) -> bool {
        self.pending.iter().any(|p| p.old.address == address) || self.is_quarantined(address)
    }

    /// Whether `address` was quarantined (never promoted, never repointed).
    pub fn is_quarantined(&self, address: &str) -> bool {
        self.quarantined.iter().any(|a| a == address)
    }

    /// Quarantines `address` (a repoint found it errant, or the leader
    /// that found it shared it): it is no longer tended.
    pub fn quarantine(&mut self, address: &str) {
        self.pending.retain(|p| p.old.address != address);
        if !self.is_quarantined(address) {
            self.quarantined.push(address.to_string());
        }
    }

    /// Takes `address` out of the quarantine (the leader released it).
    pub fn release(&mut self, address: &str) {
        self.quarantined.retain(|a| a != address);
    }

    /// The quarantined servers.
    pub fn quarantined(&self) -> &[String] {
        &self.quarantined
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
    pub async fn tend(
        &mut self,
        snap: &Snapshot,
        actions: &Actions,
        plan: &FencePlan,
        heartbeat: Duration,
    ) -> Vec<Tended> {
        let mut out = Vec::new();
        let mut done = Vec::new();
        for (i, p) in self.pending.iter_mut().enumerate() {
            if p.work.as_ref().is_some_and(|t| t.is_finished()) {
                if let Some(task) = p.work.take() {
                    match task.await {
                        Ok(attempt) => {
                            p.fenced |= attempt.fenced;
                            p.old.steps_done |= attempt.steps_ran;
                            if !attempt.steps.is_empty() {
                                out.push(Tended::Fencing {
                                    address: p.old.address.clone(),
                                    record: p.old.record,
                                    steps: attempt.steps,
                                });
                            }
                            match attempt.result {
                                Ok(Some(t)) => {
                                    if let Tended::Quarantined(q) = &t {
                                        self.quarantined.push(q.address.clone());
                                    }
                                    out.push(t);
                                    done.push(i);
                                    continue;
                                }
                                Ok(None) => {}
                                Err(e @ ActionError::ReplicationCycle { .. }) => {
                                    out.push(Tended::Refused {
                                        address: p.old.address.clone(),
                                        error: e.to_string(),
                                    });
                                    done.push(i);
                                    continue;
                                }
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
            let plan = plan.clone();
            let state = snap.server(&p.old.address).filter(|s| s.reachable).cloned();
            let primary = snap
                .primary_server()
                .or_else(|| snap.server(&p.old.new_primary))
                .filter(|s| s.reachable && s.address != p.old.address)
                .cloned();
            p.work = Some(tokio::spawn(async move {
                match (state, primary) {
                    (Some(state), Some(primary)) => {
                        tend_one(old, fenced, state, primary, actions, plan, heartbeat).await
                    }
                    // Not answering polls (a thawed primary whose commits wait
                    // for semi-sync acknowledgements may not), or no primary to
                    // rejoin: fence it anyway, never point it anywhere.
                    (state, primary) => {
                        fence_only(old, fenced, state, primary, actions, plan).await
                    }
                }
            }));
        }
        for i in done.into_iter().rev() {
            self.pending.remove(i);
        }
        out
    }
}

impl Attempt {
    fn new(fenced: bool) -> Attempt {
        Attempt {
            fenced,
            steps_ran: false,
            steps: Vec::new(),
            result: Ok(None),
        }
    }
}

/// One attempt for an old primary that does not answer polls, or while no
/// primary is known: fence it if it answers (read-only within `RETRY` * 2,
/// the other steps once), rejoin nothing.
async fn fence_only(
    old: OldPrimary,
    fenced: bool,
    state: Option<ServerState>,
    primary: Option<ServerState>,
    actions: Actions,
    plan: FencePlan,
) -> Attempt {
    let mut attempt = Attempt::new(fenced);
    if let Some(primary) = &primary {
        let server_id = state.as_ref().and_then(|s| s.server_id).or(old.server_id);
        if let Err(e) = actions
            .check_no_cycle(&old.address, server_id, &primary.address)
            .await
        {
            attempt.result = Err(e);
            return attempt;
        }
    }
    let limit = Some(RETRY * 2);
    if let Err(e) = fence_once(&old, &mut attempt, &actions, &plan, true, limit).await {
        attempt.result = Err(e);
    }
    attempt
}

/// One attempt for one old primary that answers: whether it is fenced
/// now, the fencing steps run, and what became of it (nothing yet,
/// rejoined, quarantined).
async fn tend_one(
    old: OldPrimary,
    fenced: bool,
    state: ServerState,
    primary: ServerState,
    actions: Actions,
    plan: FencePlan,
    heartbeat: Duration,
) -> Attempt {
    let mut attempt = Attempt::new(fenced);
    attempt.result = tend_fenced(
        &old,
        &mut attempt,
        &state,
        &primary,
        &actions,
        &plan,
        heartbeat,
    )
    .await;
    attempt
}

/// Fences `old`: read-only when `again` (or when it was never fenced),
/// and, the first time it answers, the other steps of `plan` (even when
/// read-only failed: killing sessions may be what lets it succeed next
/// time). A server that does not answer at all gets nothing, and nothing
/// is recorded.
async fn fence_once(
    old: &OldPrimary,
    attempt: &mut Attempt,
    actions: &Actions,
    plan: &FencePlan,
    again: bool,
    read_only_limit: Option<Duration>,
) -> Result<(), ActionError> {
    if !again && old.steps_done && attempt.fenced {
        return Ok(());
    }
    let address = old.address.as_str();
    let (result, rec) = match read_only_limit {
        None => fence::read_only(actions, address).await,
        Some(limit) => {
            match tokio::time::timeout(limit, fence::read_only(actions, address)).await {
                Ok(r) => r,
                Err(_) => {
                    return Err(ActionError::ConnectTimeout {
                        address: address.to_string(),
                        after: limit,
                    })
                }
            }
        }
    };
    if let Err(e) = &result {
        if e.is_unreachable() {
            return result.map(drop);
        }
    }
    if let Ok(f) = &result {
        attempt.fenced = true;
        if f.was_writable {
            tracing::warn!(server = %address, "old primary came back writable: set read-only (fenced)");
        } else {
            tracing::info!(server = %address, "old primary is back: read-only, semi-sync source off");
        }
    }
    if !old.steps_done {
        attempt.steps.push(rec);
        attempt
            .steps
            .extend(fence::after_read_only(plan, actions, address).await);
        attempt.steps_ran = true;
    }
    result.map(drop)
}

async fn tend_fenced(
    old: &OldPrimary,
    attempt: &mut Attempt,
    state: &ServerState,
    primary: &ServerState,
    actions: &Actions,
    plan: &FencePlan,
    heartbeat: Duration,
) -> Result<Option<Tended>, ActionError> {
    let address = old.address.clone();
    // Never fence a server to make it the replica of its own replica (a
    // rebuilt cluster, a primary switched back by hand): leave it alone.
    actions
        .check_no_cycle(
            &address,
            state.server_id.or(old.server_id),
            &primary.address,
        )
        .await?;
    let healthy_replica = !state.is_writable()
        && state.replication.iter().any(|c| {
            crate::router::replicas::replicates_from(c, primary)
                && c.io_running == crate::topology::ThreadState::Running
                && c.sql_running == crate::topology::ThreadState::Running
        });
    if !healthy_replica {
        let again = state.is_writable() || state.semi_sync.master_enabled == Some(true);
        fence_once(old, attempt, actions, plan, again, None).await?;
        if fence::shut_down(&attempt.steps) {
            // Down on purpose: rejoined once someone restarts it.
            return Ok(None);
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
        // Both read now that it is fenced (the snapshot's may predate
        // writes made just before the fence), the primary's last: a replica
        // of it can be ahead of the snapshot's last poll of it, which would
        // look errant. A primary that does not answer now (frozen) is
        // judged once it does.
        let errant =
            super::phases::errant_against(actions, &address, &primary.address, flavor).await?;
        if !errant.is_empty() {
            return Ok(Some(quarantine(errant)));
        }
    }
    if healthy_replica {
        // Already follows the new primary (rejoined before a restart): it
        // is a replica in service, not a writer to stop.
        tracing::info!(server = %address, primary = %primary.address, "old primary already replicates from the new primary");
        return Ok(Some(Tended::Rejoined { address }));
    }
    actions
        .repoint(&address, &primary.address, GtidStart::CurrentPos, heartbeat)
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
