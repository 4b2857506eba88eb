//! Problem: a failover is a chain of steps on servers, any of which may
//! fail, and their order is what keeps it safe: receivers stop before the
//! positions are compared, the candidate applies what it received before
//! it is promoted, a failed promotion is fenced, and the caller undoes
//! what a failed step leaves. The manager (`manager.rs`) journals, publishes
//! and decides what to undo; the steps themselves are here, one function
//! per phase (detect, choose, catch up, promote, repoint, route, plus the
//! demotion of a live primary and the receivers of a lost one), written
//! against the [`ServerActions`] trait. They run on real servers through
//! [`Actions`], and in the unit tests (`phases_tests.rs`) on a fake world
//! in paused tokio time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::actions::{Actions, CaughtUp, Fenced, Positions};
use super::candidate::{choose as choose_candidate, Choice, Contender};
use super::errant::missing_from;
use super::error::ActionError;
use super::sql::GtidStart;
use super::status::{Phase, PhaseRecord};
use super::watch::{Loss, Watched};
use crate::config::Config;
use crate::topology::flavor::Flavor;
use crate::topology::{ServerState, Snapshot, ThreadState, TopologyHandle};

/// How long repointed replicas get to show running threads.
pub const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a lost primary gets to answer a best-effort fence.
pub const LOST_FENCE_TIMEOUT: Duration = Duration::from_secs(1);

/// The operations on single servers that the phases use. Every one that
/// changes a server is gated (several instances: only the leader, with
/// lease left, acts).
pub trait ServerActions: Clone + Send + Sync + 'static {
    fn fence<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<Fenced, ActionError>> + Send + 'a;
    fn read_positions<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<Positions, ActionError>> + Send + 'a;
    fn stop_receiver<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a;
    fn start_replication<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a;
    /// Waits until `address` applied `gtid` (a live, demoted primary's position).
    fn wait_applied<'a>(
        &'a self,
        address: &'a str,
        gtid: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a;
    /// Waits until `address` applied everything its receiver fetched.
    fn catch_up<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Result<CaughtUp, ActionError>> + Send + 'a;
    fn promote<'a>(
        &'a self,
        address: &'a str,
        semi_sync: bool,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a;
    fn repoint<'a>(
        &'a self,
        address: &'a str,
        source: &'a str,
        start: GtidStart,
        heartbeat_period: Duration,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a;
    fn verify_replicating<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a;
}

impl ServerActions for Actions {
    fn fence<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<Fenced, ActionError>> + Send + 'a {
        Actions::fence(self, address)
    }
    fn read_positions<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<Positions, ActionError>> + Send + 'a {
        Actions::read_positions(self, address)
    }
    fn stop_receiver<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a {
        Actions::stop_receiver(self, address)
    }
    fn start_replication<'a>(
        &'a self,
        address: &'a str,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a {
        Actions::start_replication(self, address)
    }
    async fn wait_applied(
        &self,
        address: &str,
        gtid: &str,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        Actions::wait_applied(self, address, gtid, timeout)
            .await
            .map(drop)
    }
    fn catch_up<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Result<CaughtUp, ActionError>> + Send + 'a {
        Actions::catch_up(self, address, timeout)
    }
    fn promote<'a>(
        &'a self,
        address: &'a str,
        semi_sync: bool,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a {
        Actions::promote(self, address, semi_sync)
    }
    fn repoint<'a>(
        &'a self,
        address: &'a str,
        source: &'a str,
        start: GtidStart,
        heartbeat_period: Duration,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a {
        Actions::repoint(self, address, source, start, heartbeat_period)
    }
    fn verify_replicating<'a>(
        &'a self,
        address: &'a str,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), ActionError>> + Send + 'a {
        Actions::verify_replicating(self, address, timeout)
    }
}

// ------------------------------------------------------------------ detect

/// The detect phase of an automatic failover: from the first failing poll
/// to the replicas' confirmation (the detection itself is `watch`).
pub fn detect(loss: &Loss) -> PhaseRecord {
    PhaseRecord {
        phase: Phase::Detect,
        started_at: loss.since,
        duration: loss.detection,
        detail: loss.confirmation.clone(),
    }
}

// ------------------------------------------------------------------ demote

/// A forced failover from a live primary: makes it read-only first, so that
/// it never takes writes next to the new one, and returns where it stopped
/// (the candidate must apply all of it).
pub async fn demote<A: ServerActions>(actions: &A, old: &str) -> Result<String, String> {
    let position = match actions.fence(old).await {
        Ok(_) => actions.read_positions(old).await.map(|p| p.current),
        Err(e) => Err(e),
    };
    position
        .map(|p| p.to_string())
        .map_err(|e| format!("could not set {old} read-only: {e}"))
}

// --------------------------------------------------- receivers of a lost one

/// The reachable replicas of snapshot `snap` other than `old`, each with
/// whether its replication runs (only that is started again after a
/// refusal: an operator's STOP SLAVE stays).
pub fn replicas_of(snap: &Snapshot, old: &str) -> Vec<(String, bool)> {
    snap.servers
        .iter()
        .filter(|s| s.address != old && s.reachable && s.replicates())
        .map(|s| {
            let running = s.replication.iter().any(|c| {
                c.has_source()
                    && c.io_running != ThreadState::Stopped
                    && c.sql_running == ThreadState::Running
            });
            (s.address.clone(), running)
        })
        .collect()
}

/// What [`stop_receivers`] did, for a refusal or a failure before the
/// promotion to undo.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// The replicas whose replication ran and whose receiver was stopped.
    pub receivers: Vec<String>,
    /// The lost primary still answered, writable, and was set read-only:
    /// if nothing replaces it, it must be made writable again.
    pub old_fenced: bool,
}

/// A lost primary: every replica stops receiving from it before the
/// positions are compared, and the lost primary is fenced (bounded, best
/// effort) should it still answer. A primary that is not quite dead
/// (frozen, cut off, thawing, stalled) then gets no more semi-sync
/// acknowledgements, so nothing it commits from now on is acknowledged to
/// a client that the candidate lacks, and the positions compared are final.
pub async fn stop_receivers<A: ServerActions>(
    actions: &A,
    old: &str,
    replicas: &[(String, bool)],
) -> Stopped {
    let mut work = tokio::task::JoinSet::new();
    let fence = {
        let actions = actions.clone();
        let address = old.to_string();
        tokio::spawn(async move {
            match tokio::time::timeout(LOST_FENCE_TIMEOUT, actions.fence(&address)).await {
                Ok(Ok(f)) if f.was_writable => {
                    tracing::warn!(server = %address, "the lost primary still answered: set read-only");
                    true
                }
                _ => false,
            }
        })
    };
    for (address, was_running) in replicas.iter().cloned() {
        let actions = actions.clone();
        work.spawn(async move {
            match actions.stop_receiver(&address).await {
                Ok(()) => was_running.then_some(address),
                Err(e) => {
                    tracing::warn!(server = %address, error = %e, "could not stop the receiver");
                    None
                }
            }
        });
    }
    let mut receivers = Vec::new();
    while let Some(r) = work.join_next().await {
        if let Ok(Some(address)) = r {
            receivers.push(address);
        }
    }
    receivers.sort();
    Stopped {
        receivers,
        old_fenced: fence.await.unwrap_or(false),
    }
}

/// After a refusal: starts again the replication [`stop_receivers`] stopped.
pub async fn restart_receivers<A: ServerActions>(actions: &A, stopped: &[String]) {
    for address in stopped {
        if let Err(e) = actions.start_replication(address).await {
            tracing::warn!(server = %address, error = %e, "could not restart replication after a refused failover");
        }
    }
}

/// Nothing replaced `old` (a refusal, or a failure before the promotion),
/// but it was made read-only (demoted, or fenced as lost while it still
/// answered): it is the primary again, writable. Without this, a primary
/// that was only slow would be left read-only with no primary at all.
pub async fn undo_fence<A: ServerActions>(
    actions: &A,
    old: &str,
    semi_sync: bool,
) -> Result<(), String> {
    actions
        .promote(old, semi_sync)
        .await
        .map_err(|e| format!("{old} could not be made writable again: {e}"))
}

// ------------------------------------------------------------------ choose

/// What the choice is made on.
pub struct ChooseInput<'a> {
    pub config: &'a Config,
    /// The servers now (after the receivers stopped).
    pub now: &'a Snapshot,
    /// The last snapshot in which the primary was healthy.
    pub healthy: Option<&'a Snapshot>,
    pub old: &'a Watched,
    /// FAILOVER TO: only this server.
    pub forced: Option<&'a str>,
    /// From an interrupted failover's journal: the lost primary and its
    /// last known position (this process never saw it alive).
    pub lost_hint: Option<(&'a str, &'a str)>,
    /// Quarantined servers are never candidates.
    pub quarantined: &'a (dyn Fn(&str) -> bool + Sync),
}

/// The candidate and the GTID positions the choice was made on.
#[derive(Debug)]
pub struct Selection {
    pub choice: Choice,
    pub positions: Vec<(String, String)>,
}

/// The choose phase: the candidate for replacing the lost or demoted
/// primary (no side effects; the rules are `candidate`).
pub fn choose(input: &ChooseInput<'_>) -> Selection {
    let (now, healthy, old) = (input.now, input.healthy, input.old);
    let mut lost_state: ServerState = healthy
        .and_then(|h| h.server(&old.address).cloned())
        .or_else(|| now.server(&old.address).cloned())
        .unwrap_or_else(|| ServerState::new(old.address.clone()));
    if lost_state.server_id.is_none() {
        // Never reached by this process: its replicas know its server_id.
        lost_state.server_id = old.server_id.or_else(|| {
            now.servers
                .iter()
                .flat_map(|s| s.replication.iter())
                .find(|c| {
                    c.source_address()
                        .is_some_and(|a| crate::router::replicas::same_address(&a, &old.address))
                })
                .and_then(|c| c.source_server_id)
        });
    }
    if lost_state.gtid.executed.is_none() {
        // Never seen alive by this process: the journal of the interrupted
        // failover knows its last position.
        let flavor = now.servers.iter().find_map(|s| s.flavor);
        if let (Some((addr, gtid)), Some(flavor)) = (input.lost_hint, flavor) {
            if addr == old.address {
                lost_state.gtid.executed = crate::topology::GtidSet::parse(flavor, gtid).ok();
                lost_state.flavor = Some(flavor);
            }
        }
    }
    let servers = estimate_unmeasured_lag(&now.servers, healthy);
    let contenders: Vec<Contender<'_>> = servers
        .iter()
        .filter(|s| s.address != old.address)
        .filter(|s| !(input.quarantined)(&s.address))
        .map(|s| Contender {
            now: s,
            before: healthy.and_then(|h| h.server(&s.address)),
            promotion: input.config.promotion(&s.address),
        })
        .collect();
    let unknown = || "unknown".to_string();
    let mut positions = vec![(
        format!("{} (lost, last seen)", old.address),
        lost_state
            .gtid
            .executed
            .as_ref()
            .map(|g| g.to_string())
            .unwrap_or_else(unknown),
    )];
    for c in &contenders {
        let received = c
            .now
            .replication
            .iter()
            .find_map(|ch| ch.retrieved_gtid.as_ref())
            .map(|g| g.to_string())
            .unwrap_or_else(unknown);
        let applied = c
            .now
            .gtid
            .executed
            .as_ref()
            .map(|g| g.to_string())
            .unwrap_or_else(unknown);
        positions.push((
            c.now.address.clone(),
            format!("received {received}, applied {applied}"),
        ));
    }
    let choice = choose_candidate(
        &lost_state,
        &contenders,
        input.config.failover.max_candidate_lag.get(),
        input.forced,
    );
    Selection { choice, positions }
}

/// Servers whose lag was never measured (sqlyard started after the loss,
/// or moments before it) get an estimate from the lag heartbeat rows they
/// hold: how far their last heartbeat trails the freshest one any server
/// holds. The freshest replica is then 0 behind; one that stopped applying
/// long ago shows how long ago.
fn estimate_unmeasured_lag(
    servers: &[ServerState],
    healthy: Option<&Snapshot>,
) -> Vec<ServerState> {
    let freshest = servers
        .iter()
        .filter_map(|s| s.heartbeat)
        .map(|h| h.ts_us)
        .max();
    servers
        .iter()
        .map(|s| {
            let mut s = s.clone();
            let measured_before = healthy
                .and_then(|h| h.server(&s.address))
                .is_some_and(|b| b.lag.is_some());
            if s.lag.is_none() && !measured_before {
                if let (Some(h), Some(max)) = (s.heartbeat, freshest) {
                    s.lag = Some(Duration::from_micros(
                        max.saturating_sub(h.ts_us).max(0) as u64
                    ));
                }
            }
            s
        })
        .collect()
}

// ---------------------------------------------------------------- catch up

/// The catch-up phase. A demoted (live) primary: the candidate first
/// applies everything it wrote (`demoted` is its position), then the other
/// replicas stop their receivers (`to_stop`). Then the candidate applies
/// everything it received. Returns what it applied.
pub async fn catch_up<A: ServerActions>(
    actions: &A,
    chosen: &str,
    demoted: Option<&str>,
    to_stop: &[String],
    timeout: Duration,
) -> Result<String, String> {
    if let Some(position) = demoted {
        if let Err(e) = actions.wait_applied(chosen, position, timeout).await {
            return Err(format!("{chosen} did not apply {position}: {e}"));
        }
    }
    let mut receivers = tokio::task::JoinSet::new();
    for address in to_stop {
        let (actions, address) = (actions.clone(), address.clone());
        receivers.spawn(async move {
            if let Err(e) = actions.stop_receiver(&address).await {
                tracing::warn!(server = %address, error = %e, "could not stop the receiver");
            }
        });
    }
    let caught = actions.catch_up(chosen, timeout).await;
    while receivers.join_next().await.is_some() {}
    caught
        .map(|c| c.applied.to_string())
        .map_err(|e| format!("catch-up failed: {e}"))
}

// ----------------------------------------------------------------- promote

/// The promote phase. A promotion that fails may have made the server
/// writable before the error: it is fenced again, so never two are.
pub async fn promote<A: ServerActions>(
    actions: &A,
    chosen: &str,
    semi_sync: bool,
) -> Result<(), String> {
    match actions.promote(chosen, semi_sync).await {
        Ok(()) => Ok(()),
        Err(e) => {
            if let Err(f) = actions.fence(chosen).await {
                tracing::error!(server = %chosen, error = %f, "a failed promotion could not be fenced");
            }
            Err(format!("promotion failed: {e}"))
        }
    }
}

// ----------------------------------------------------------------- repoint

/// What the repoint phase did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repointed {
    /// One line per server, for the journal.
    pub summary: String,
    /// Servers left alone because they hold transactions `source` lacks
    /// (address, errant GTIDs): quarantine them.
    pub errant: Vec<(String, String)>,
}

/// The repoint phase: `servers` follow `source`, concurrently, each checked
/// to replicate. Before a server is touched its GTID history is compared,
/// live, with `source`'s (read after its own): one that holds transactions
/// `source` never got is not repointed (replication would break on it, and
/// its data would be lost) but reported as errant, whatever any instance
/// knew about it. `flavor` `None` skips the check (unknown servers).
/// `on_cycle` hears of a repoint refused because it would build a
/// replication loop.
pub async fn repoint<A: ServerActions>(
    actions: &A,
    servers: &[String],
    source: &str,
    start: GtidStart,
    heartbeat_period: Duration,
    flavor: Option<Flavor>,
    on_cycle: &(dyn Fn(&str, String) + Sync),
) -> Repointed {
    if servers.is_empty() {
        return Repointed {
            summary: "no other replica to repoint".to_string(),
            errant: Vec::new(),
        };
    }
    let mut tasks = tokio::task::JoinSet::new();
    for s in servers {
        let actions = actions.clone();
        let s = s.clone();
        let source = source.to_string();
        tasks.spawn(async move {
            let r = async {
                if let Some(flavor) = flavor {
                    let errant = errant_against(&actions, &s, &source, flavor).await?;
                    if !errant.is_empty() {
                        return Ok(Some(errant));
                    }
                }
                actions
                    .repoint(&s, &source, start, heartbeat_period)
                    .await?;
                actions.verify_replicating(&s, VERIFY_TIMEOUT).await?;
                Ok(None)
            }
            .await;
            (s, r)
        });
    }
    let mut parts: HashMap<String, String> = HashMap::new();
    let mut errant = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok((s, r)) = done {
            let text = match r {
                Ok(None) => "replicating".to_string(),
                Ok(Some(gtids)) => {
                    tracing::error!(server = %s, source = %source, errant = %gtids, "not repointed: it holds transactions the new source never got; quarantined");
                    let text =
                        format!("NOT repointed, quarantined: it holds {gtids} that {source} lacks");
                    errant.push((s.clone(), gtids));
                    text
                }
                Err(e) => {
                    tracing::error!(server = %s, error = %e, "repointing failed");
                    if matches!(e, ActionError::ReplicationCycle { .. }) {
                        on_cycle(&s, e.to_string());
                    }
                    format!("FAILED: {e}")
                }
            };
            parts.insert(s, text);
        }
    }
    let summary = servers
        .iter()
        .map(|s| {
            format!(
                "{s} -> {source}: {}",
                parts
                    .get(s)
                    .map(String::as_str)
                    .unwrap_or("FAILED: task ended")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    errant.sort();
    Repointed { summary, errant }
}

/// The transactions `server` holds that `source` lacks (empty: it may
/// follow `source`), from positions read now, `source`'s last.
pub async fn errant_against<A: ServerActions>(
    actions: &A,
    server: &str,
    source: &str,
    flavor: Flavor,
) -> Result<String, ActionError> {
    let mine = actions.read_positions(server).await?;
    let theirs = actions.read_positions(source).await?;
    let missing = missing_from(&mine.as_gtid(), &theirs.as_gtid(), flavor);
    Ok(if missing.is_empty() {
        String::new()
    } else {
        missing.to_string()
    })
}

// ------------------------------------------------------------------- route

/// Asks for a monitor round now (`poll_now`) and waits, up to `timeout`,
/// until a newer snapshot satisfying `done` is published; returns the
/// latest one either way.
pub async fn fresh_snapshot(
    topology: &TopologyHandle,
    poll_now: &(dyn Fn() + Sync),
    timeout: Duration,
    done: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let mut changes = topology.subscribe();
    let deadline = Instant::now() + timeout;
    let start_gen = topology.load().generation;
    poll_now();
    loop {
        let snap = topology.load();
        if snap.generation > start_gen && done(&snap) {
            return snap;
        }
        let step = tokio::time::sleep(Duration::from_millis(100));
        tokio::select! {
            r = changes.changed() => if r.is_err() { return snap; },
            _ = step => poll_now(),
            _ = tokio::time::sleep_until(deadline) => return topology.load(),
        }
    }
}

/// The route phase: waits until routing sends writes to `target`. The
/// snapshot that shows it, or the latest one when it did not in `timeout`.
pub async fn route(
    topology: &TopologyHandle,
    poll_now: &(dyn Fn() + Sync),
    target: &str,
    timeout: Duration,
) -> Result<Arc<Snapshot>, Arc<Snapshot>> {
    let elected = |s: &Snapshot| s.primary_server().is_some_and(|p| p.address == target);
    let snap = fresh_snapshot(topology, poll_now, timeout, elected).await;
    if elected(&snap) {
        Ok(snap)
    } else {
        Err(snap)
    }
}
