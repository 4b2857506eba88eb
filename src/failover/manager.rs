//! Problem: detection, candidate choice, promotion, repointing, fencing,
//! the journal and the operator's requests must happen in one place, one
//! at a time, so that two decisions about the primary never race. The
//! [`Manager`] is that place: one task that reacts to every topology
//! snapshot (through [`Watch`]) and to admin requests (SWITCHOVER,
//! FAILOVER), and runs at most one failover or switchover at a time.
//!
//! Automatic failover (on a loss the replicas confirmed): fence the old
//! primary in routing and end statements still waiting on it; choose the
//! candidate (`candidate`); let it apply its relay log (bounded by
//! `failover.catch_up_timeout`); promote it (replication stopped and
//! cleared, `read_only=OFF`, semi-sync source side on when the topology
//! used semi-sync); repoint the other replicas with GTID auto-positioning
//! and check their threads; wait until routing sends writes to it. Writes
//! are held meanwhile (`hold`). No second automatic failover within
//! `failover.anti_flap_window`. Every phase is journaled. The steps on the
//! servers are the functions of `phases` (over the `ServerActions` trait,
//! unit-tested on a fake world); this file orders them, journals each
//! phase, publishes the outcome, and undoes what a failed step leaves.
//!
//! The old primary (`rejoin`) is fenced when it comes back (`fence`) and
//! rejoined or quarantined. Replicas with a long replication heartbeat
//! period get a short one (`heartbeat`). A restart re-derives everything
//! from the servers and acts on the journal only where it still matches
//! them (`recover`).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::{mpsc, watch as tokio_watch};
use tokio::time::Instant;

use crate::backend::Backends;
use crate::config::Config;
use crate::topology::detector::DetectorSettings;
use crate::topology::{Flavor, MonitorControl, Snapshot, TopologyHandle};

use super::actions::Actions;
use super::fence::FencePlan;
use super::heartbeat::Tuner;
use super::journal::Journal;
use super::phases::{self, Selection};
use super::rejoin::{OldPrimary, Rejoin};
use super::sql::GtidStart;
use super::status::{
    Alert, FailoverHandle, FailoverRecord, Kind, Outcome, Phase, PhaseRecord, Quarantined, Request,
    RequestError,
};
use super::watch::{Loss, Observation, Watch, Watched};

/// How long to wait for routing to see the new primary.
pub(super) const ROUTE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the failover manager works on, handed over by the app root (the
/// manager knows nothing of sessions, listeners or exporters).
pub struct Deps {
    /// The running configuration (reloads replace it).
    pub config: Arc<ArcSwap<Config>>,
    pub topology: TopologyHandle,
    /// The pools: a lost primary is announced to the statements running on it.
    pub backends: Arc<Backends>,
    /// Where failover state is published and requests arrive.
    pub handle: FailoverHandle,
    /// Called once per finished failover (the metrics count it).
    pub on_finished: Box<dyn Fn(&FailoverRecord) + Send + Sync>,
    /// Several instances (`[cluster]`): only the leader acts on servers.
    pub cluster: Option<crate::cluster::ClusterHandle>,
    /// Starts a `REBUILD SERVER` forwarded by another instance (the
    /// server, and where its data comes from as
    /// `backup::rebuild::Source::to_spec` writes it); returns the started
    /// rebuild's record. The rebuild itself lives above this layer.
    pub on_rebuild: OnRebuild,
}

/// See [`Deps::on_rebuild`].
pub type OnRebuild =
    Box<dyn Fn(&str, Option<&str>) -> Result<serde_json::Value, RequestError> + Send + Sync>;

/// The failover manager task.
pub struct Manager {
    pub(super) deps: Deps,
    pub(super) monitor: MonitorControl,
    pub(super) handle: FailoverHandle,
    pub(super) journal: Journal,
    pub(super) watch: Watch,
    pub(super) rejoin: Rejoin,
    /// Replication heartbeat periods (`failover.tune_replica_heartbeat`).
    pub(super) tuner: Tuner,
    requests: mpsc::Receiver<Request>,
    /// When the last automatic or manual failover finished (anti-flap).
    last_failover: Option<Instant>,
    /// The current loss episode was already refused or reported: do not
    /// retry it on every snapshot.
    episode_done: bool,
    /// The current unconfirmed loss was already counted and logged.
    unconfirmed_logged: bool,
    /// From an interrupted failover in the journal: the lost primary and
    /// its last known GTID position (this process never saw it alive).
    pub(super) lost_hint: Option<(String, String)>,
    /// `failover.enabled` as last applied (a reload that changes it sets the mode).
    config_enabled: bool,
    /// The shared journal and the gate on actions (several instances).
    pub(super) shared: Option<super::shared::Shared>,
    /// Leadership, the followed primary, forwarded requests.
    pub(super) following: super::leader::Following,
    /// A connection to the primary with its fence ready (sent on failover).
    standby: super::standby::StandbyFence,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("watch", &self.watch.watched())
            .finish()
    }
}

/// Detector knobs from the config.
pub fn detector_settings(c: &Config) -> DetectorSettings {
    DetectorSettings {
        positive_after: 2,
        silence_grace: c.failover.silence_grace.get(),
    }
}

/// How long a replica may hear nothing from its source before it counts as
/// having lost it: twice the longest replication heartbeat period in use
/// plus one monitor interval, and at least 2 s.
pub fn replica_silence(c: &Config, snap: &Snapshot) -> Duration {
    let heartbeat = snap
        .servers
        .iter()
        .flat_map(|s| s.replication.iter())
        .filter_map(|c| c.heartbeat_period)
        .max()
        .unwrap_or(c.failover.replica_heartbeat_period.get());
    (heartbeat * 2 + c.monitor.interval.get()).max(Duration::from_secs(2))
}

/// Actions with the monitor account and the replication account.
pub fn actions_for(c: &Config) -> Actions {
    Actions::new(
        crate::config::monitor_settings(c),
        c.monitor.replication_user.clone(),
        c.monitor.replication_password.expose().to_string(),
    )
    .with_replication_ssl_ca(c.failover.replication_ssl_ca.clone())
}

impl Manager {
    /// A manager for `deps.topology`; attaches its request queue to
    /// `deps.handle`.
    pub fn new(deps: Deps, monitor: MonitorControl) -> Manager {
        let config = deps.config.load_full();
        let (tx, requests) = mpsc::channel(16);
        deps.handle.attach(tx);
        let path = config.journal_path();
        let mut journal = match Journal::open(&path) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the failover journal; failovers are journaled in memory only");
                Journal::in_memory(&path)
            }
        };
        let shared = deps.cluster.clone().map(super::shared::Shared::new);
        if let Some(shared) = &shared {
            let queue = shared.clone();
            journal.set_mirror(
                Box::new(move |rec| queue.record(rec)),
                shared.cluster().instance().to_string(),
            );
        }
        for w in journal.warnings() {
            tracing::warn!(journal = %path.display(), warning = %w, "failover journal");
        }
        let watch = Watch::new(detector_settings(&config), Duration::from_secs(2));
        Manager {
            handle: deps.handle.clone(),
            deps,
            monitor,
            journal,
            watch,
            rejoin: Rejoin::default(),
            tuner: Tuner::default(),
            requests,
            last_failover: None,
            episode_done: false,
            unconfirmed_logged: false,
            lost_hint: None,
            config_enabled: config.failover.enabled,
            shared,
            following: Default::default(),
            standby: Default::default(),
        }
    }

    pub(super) fn config(&self) -> Arc<Config> {
        self.deps.config.load_full()
    }

    /// The actions; with several instances, each change to a server is
    /// first recorded by the leader in etcd (fenced), and statements are
    /// bounded by half the lease.
    pub(super) fn actions(&self) -> Actions {
        let actions = actions_for(&self.config());
        match &self.shared {
            Some(shared) => {
                let gate: Arc<dyn super::actions::Gate> = Arc::new(shared.clone());
                actions
                    .with_statement_timeout(shared.cluster().lease_ttl() / 2)
                    .with_gate(Some(gate))
            }
            None => actions,
        }
    }

    /// `failover.replica_heartbeat_period`.
    pub(super) fn heartbeat_period(&self) -> Duration {
        self.config().failover.replica_heartbeat_period.get()
    }

    /// Runs until shutdown.
    pub async fn run(mut self, mut shutdown: tokio_watch::Receiver<bool>) {
        self.publish_history();
        let mut changes = self.deps.topology.subscribe();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cluster_changes = self.deps.cluster.as_ref().map(|c| c.subscribe());
        match &self.shared {
            // the leader recovers from the shared journal when elected
            Some(shared) => {
                tokio::spawn(shared.clone().run(shutdown.clone()));
                self.fence_replaced_at_start(&mut shutdown).await;
            }
            None => self.recover(&mut shutdown).await,
        }
        loop {
            let cluster_changed = async {
                match cluster_changes.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                alive = cluster_changed => {
                    if alive {
                        self.on_cluster(&mut shutdown).await;
                    } else {
                        cluster_changes = None;
                    }
                }
                req = self.requests.recv() => match req {
                    Some(req) => self.serve(req).await,
                    None => break,
                },
                r = changes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    self.on_snapshot().await;
                }
                _ = tick.tick() => self.on_snapshot().await,
            }
        }
        tracing::info!("failover manager stopped");
    }

    /// Judges the latest snapshot; may start an automatic failover and
    /// tends old primaries.
    async fn on_snapshot(&mut self) {
        let snap = self.deps.topology.load();
        let config = self.config();
        if config.failover.enabled != self.config_enabled {
            // A reload changed failover.enabled: it wins over SET AUTOFAILOVER.
            self.config_enabled = config.failover.enabled;
            let on = self.config_enabled;
            self.handle.update(|s| s.auto = on);
            tracing::info!(on, "automatic failover switched by a config reload");
        }
        self.watch
            .set_settings(detector_settings(&config), replica_silence(&config, &snap));
        let obs = self.watch.observe(&snap, Instant::now());
        let detector = Watch::state_of(&obs);
        let watched = self.watch.watched().map(|w| w.address.clone());
        let status = self.handle.status();
        if status.detector != detector || status.watched != watched {
            self.handle.update(|s| {
                s.detector = detector;
                s.watched = watched.clone();
            });
        }
        self.publish_view(&snap);
        let acts = self.acts();
        let mut snap = snap;
        match obs {
            Observation::Lost(loss) if acts => {
                self.on_loss(loss).await;
                // a failover may have run: tend to what the servers are now
                snap = self.deps.topology.load();
            }
            // another instance leads: it decides
            Observation::Lost(_) => {}
            Observation::LostUnconfirmed { still } => self.on_unconfirmed(&still),
            Observation::Suspect { .. } => {}
            Observation::Healthy | Observation::Demoted | Observation::NothingWatched => {
                self.clear_isolated();
                if self.episode_done || self.unconfirmed_logged {
                    if let Some(w) = &watched {
                        tracing::info!(primary = %w, "primary reachable again");
                    }
                    self.clear_alert_for_watched();
                }
                self.episode_done = false;
                self.unconfirmed_logged = false;
            }
        }
        for (address, record, step) in self.standby.ran() {
            self.journal_fencing(&address, Some(record), &[step]);
        }
        if !acts {
            self.standby.disarm();
            self.publish_fence_ahead();
            self.release_followed(&snap);
            self.release_when_routed(&snap);
            return;
        }
        let healthy = detector == super::status::DetectorState::Healthy;
        // only while automatic failover is on: it costs a server connection
        if let (true, true, Some(primary)) = (healthy, self.handle.status().auto, &watched) {
            self.standby.keep(&self.actions(), primary);
        }
        self.publish_fence_ahead();
        self.tune_replica_heartbeats(&snap, healthy).await;
        self.tend_old_primaries(&snap).await;
    }

    /// `SHOW AUTOFAILOVER`'s `fence_ahead`, when it changed.
    fn publish_fence_ahead(&self) {
        let armed = self.standby.armed_for();
        if self.handle.status().fence_ahead != armed {
            self.handle.update(|s| s.fence_ahead = armed);
        }
    }

    fn on_unconfirmed(&mut self, still: &[String]) {
        if self.unconfirmed_logged {
            return;
        }
        self.unconfirmed_logged = true;
        let primary = self
            .watch
            .watched()
            .map(|w| w.address.clone())
            .unwrap_or_default();
        let message = format!(
            "sqlyard cannot reach the primary but replicas still replicate from it ({}): no failover",
            still.join(", ")
        );
        tracing::warn!(primary = %primary, replicas = ?still, "primary unreachable from sqlyard only: no failover");
        self.handle.update(|s| {
            s.unconfirmed_losses += 1;
            push_alert(s, Some(primary.clone()), message);
        });
    }

    fn clear_alert_for_watched(&self) {
        if let Some(w) = self.watch.watched() {
            let address = w.address.clone();
            self.handle.update(|s| {
                s.alerts
                    .retain(|a| a.address.as_deref() != Some(address.as_str()))
            });
        }
    }

    async fn on_loss(&mut self, loss: Loss) {
        if self.episode_done {
            return;
        }
        let config = self.config();
        let blocked = if !self.handle.status().auto {
            // Not marked done: turning it ON during the loss fails over.
            Some("primary lost; automatic failover is off (SET AUTOFAILOVER = ON or FAILOVER to act)".to_string())
        } else {
            let window = config.failover.anti_flap_window.get();
            self.last_failover
                .filter(|last| last.elapsed() < window)
                .map(|_| {
                    // Not marked done: once the window ends, it fails over.
                    "primary lost within failover.anti_flap_window of the last failover: no automatic failover until the window ends; FAILOVER can still force one".to_string()
                })
        };
        if blocked.is_none() {
            let reaching = self.still_reaching(&loss.primary);
            if !reaching.is_empty() {
                // Not marked done: once no instance reaches it, it fails over.
                self.on_isolated(&loss.primary.address, &reaching);
                return;
            }
        }
        if let Some(message) = blocked {
            let address = loss.primary.address.clone();
            let known =
                self.handle.status().alerts.iter().any(|a| {
                    a.address.as_deref() == Some(address.as_str()) && a.message == message
                });
            if !known {
                tracing::error!(primary = %address, "{message}");
                self.handle
                    .update(|s| push_alert(s, Some(address), message));
            }
            return;
        }
        let trigger = format!(
            "primary {} lost ({}), {}",
            loss.primary.address,
            match loss.by {
                crate::topology::detector::Evidence::Positive => "connection refused or reset",
                _ => "no answer within failover.silence_grace",
            },
            loss.confirmation
        );
        let _ = self
            .failover(Kind::Automatic, None, Some(loss), trigger)
            .await;
        self.episode_done = true;
    }

    async fn serve(&mut self, req: Request) {
        if !self.acts() {
            // another instance leads: it runs the request
            self.forward(req);
            return;
        }
        match req {
            Request::Failover { to, reply } => {
                let r = self.manual_failover(to).await;
                let _ = reply.send(r);
            }
            Request::Switchover { to, reply } => {
                let r = super::switchover::run(self, to).await;
                let _ = reply.send(r);
            }
        }
    }

    /// FAILOVER [TO ...] typed by an operator.
    pub(super) async fn manual_failover(
        &mut self,
        to: Option<String>,
    ) -> Result<FailoverRecord, RequestError> {
        let trigger = match &to {
            Some(t) => format!("FAILOVER TO '{t}' by an operator"),
            None => "FAILOVER by an operator".to_string(),
        };
        self.failover(Kind::Manual, to, None, trigger).await
    }

    /// Publishes the journal's history to the status.
    pub(super) fn publish_history(&self) {
        let history = self.journal.history();
        self.handle.update(|s| s.history = history);
    }

    /// Journals a changed record (reason, positions...).
    pub(super) fn journal_update(&mut self, record: &FailoverRecord) {
        logged(self.journal.update(record));
    }

    pub(super) fn deps(&self) -> &Deps {
        &self.deps
    }

    pub(super) fn monitor(&self) -> &MonitorControl {
        &self.monitor
    }

    /// Starts a record, shows it as running.
    pub(super) fn begin(
        &mut self,
        kind: Kind,
        trigger: String,
        old_primary: Option<String>,
    ) -> FailoverRecord {
        let (record, written) = self.journal.begin(kind, trigger, old_primary);
        logged(written);
        let running = record.clone();
        self.handle.update(|s| s.running = Some(running));
        record
    }

    /// Journals a finished phase.
    pub(super) fn phase(
        &mut self,
        record: &mut FailoverRecord,
        phase: Phase,
        started: (SystemTime, Instant),
        detail: String,
    ) {
        tracing::info!(id = record.id, phase = phase.as_str(), took_ms = started.1.elapsed().as_millis() as u64, %detail, "failover phase done");
        logged(self.journal.phase(
            record,
            PhaseRecord {
                phase,
                started_at: started.0,
                duration: started.1.elapsed(),
                detail,
            },
        ));
        let running = record.clone();
        self.handle.update(|s| s.running = Some(running));
    }

    /// Journals the end, counts it, shows it in the history.
    pub(super) fn finish(
        &mut self,
        record: &mut FailoverRecord,
        outcome: Outcome,
        error: Option<String>,
    ) {
        logged(self.journal.finish(record, outcome, error));
        self.publish_primary(record);
        self.end_replacing(record);
        (self.deps.on_finished)(record);
        match outcome {
            Outcome::Succeeded => {
                tracing::info!(id = record.id, kind = record.kind.as_str(), new_primary = ?record.new_primary, took_ms = record.duration().as_millis() as u64, "failover succeeded")
            }
            _ => {
                tracing::error!(id = record.id, kind = record.kind.as_str(), outcome = outcome.as_str(), error = ?record.error, reason = %record.reason, "failover did not succeed")
            }
        }
        let history = self.journal.history();
        self.handle.update(|s| {
            s.running = None;
            s.history = history;
        });
    }

    /// Asks the monitor for a round now and waits (bounded) until a
    /// snapshot satisfying `done` is published; returns the latest one.
    pub(super) async fn fresh_snapshot(
        &self,
        timeout: Duration,
        done: impl Fn(&Snapshot) -> bool,
    ) -> Arc<Snapshot> {
        let poll = || self.monitor.poll_now();
        phases::fresh_snapshot(&self.deps.topology, &poll, timeout, done).await
    }

    /// A failover (automatic or manual). `loss` is the confirmed loss for
    /// an automatic one.
    async fn failover(
        &mut self,
        kind: Kind,
        forced: Option<String>,
        loss: Option<Loss>,
        trigger: String,
    ) -> Result<FailoverRecord, RequestError> {
        let config = self.config();
        let snap = self.deps.topology.load();
        let old: Option<Watched> = loss.as_ref().map(|l| l.primary.clone()).or_else(|| {
            snap.primary_server()
                .map(|p| Watched {
                    address: p.address.clone(),
                    server_id: p.server_id,
                })
                .or_else(|| self.watch.watched().cloned())
        });
        let Some(old) = old else {
            return Err(RequestError::Refused(
                "no primary is known: nothing to fail over from".into(),
            ));
        };
        if loss.is_none() {
            // Manual: refuse before changing anything when no server qualifies.
            let pre = self.select(&config, &snap, &old, forced.as_deref());
            if pre.choice.chosen.is_none() {
                let why: Vec<String> = pre
                    .choice
                    .rejected
                    .iter()
                    .map(|(a, w)| format!("{a}: {w}"))
                    .collect();
                return Err(RequestError::Refused(format!(
                    "no server may replace {}: {}",
                    old.address,
                    why.join("; ")
                )));
            }
        }
        // A replica stopped for a heartbeat change is started first.
        self.tuner.settle(Actions::DEFAULT_STATEMENT_TIMEOUT).await;
        let actions = self.actions();
        // Manual failover from a live primary: where it stopped when demoted.
        let mut demoted: Option<String> = None;
        let mut record = self.begin(kind, trigger, Some(old.address.clone()));
        // Journaled first: a sqlyard restarted mid-failover needs it.
        if let Some(g) = self
            .watch
            .healthy_snapshot()
            .and_then(|h| h.server(&old.address))
            .and_then(|s| s.gtid.executed.as_ref())
        {
            record
                .positions
                .push((format!("{} (lost, last seen)", old.address), g.to_string()));
            self.journal_update(&record);
        }
        // Routing: the old primary gets nothing from now on, and statements
        // still waiting on it end with an error.
        self.monitor.set_fenced(&old.address, true);
        self.deps.backends.lost.announce(&old.address);
        self.publish_replacing(&old.address, record.id).await;
        if let Some(loss) = &loss {
            record.detection = Some(loss.detection);
            logged(self.journal.phase(&mut record, phases::detect(loss)));
        } else if snap.server(&old.address).is_some_and(|s| s.reachable) {
            // A forced failover from a live primary: make it read-only first,
            // so that it never takes writes next to the new one, and note
            // where it stopped: the candidate must apply all of it.
            let t = (SystemTime::now(), Instant::now());
            match phases::demote(&actions, &old.address).await {
                Ok(p) => {
                    self.phase(
                        &mut record,
                        Phase::Demote,
                        t,
                        format!("{} read-only at {p}", old.address),
                    );
                    demoted = Some(p);
                }
                Err(e) => {
                    self.phase(&mut record, Phase::Demote, t, e.clone());
                    return Err(self.abort(&mut record, &old.address, false, e).await);
                }
            }
        }

        // A lost primary: every replica stops receiving from it before the
        // positions are compared (see `phases::stop_receivers`).
        let stopped = if demoted.is_none() {
            let replicas = phases::replicas_of(&snap, &old.address);
            phases::stop_receivers(&actions, &old.address, &replicas).await
        } else {
            phases::Stopped::default()
        };
        // read-only now, and the primary again if nothing replaces it
        let undo_old = demoted.is_some() || stopped.old_fenced;

        // Choose.
        let t = (SystemTime::now(), Instant::now());
        let now = self.fresh_snapshot(Duration::from_secs(2), |_| true).await;
        let healthy = self.watch.healthy_snapshot().cloned();
        let selection = self.select(&config, &now, &old, forced.as_deref());
        record
            .positions
            .retain(|(a, _)| !a.ends_with("(lost, last seen)"));
        record.positions.extend(selection.positions.iter().cloned());
        let choice = selection.choice;
        let rejected: Vec<String> = choice
            .rejected
            .iter()
            .map(|(a, why)| format!("{a}: {why}"))
            .collect();
        let Some(chosen) = choice.chosen else {
            record.reason = format!("no safe candidate: {}", rejected.join("; "));
            let reason = record.reason.clone();
            self.phase(&mut record, Phase::Choose, t, reason);
            let message = format!(
                "primary {} lost and NOT replaced: {}. Reads continue on healthy replicas; writes fail until an operator acts.",
                old.address, record.reason
            );
            tracing::error!("{message}");
            let refusals: Vec<(String, String)> = choice
                .rejected
                .iter()
                .filter(|(_, why)| why.is_refusal())
                .map(|(a, why)| (a.clone(), format!("not promotable: {why}")))
                .collect();
            self.handle.update(|s| {
                push_alert(s, Some(old.address.clone()), message.clone());
                for (a, m) in &refusals {
                    push_alert(s, Some(a.clone()), m.clone());
                }
            });
            // Nothing changed: the old primary may come back as the primary.
            if undo_old {
                let before = healthy.as_deref().unwrap_or(&now);
                self.undo_demotion(&actions, &old.address, before).await;
            }
            phases::restart_receivers(&actions, &stopped.receivers).await;
            self.monitor.set_fenced(&old.address, false);
            self.finish(&mut record, Outcome::Refused, None);
            return Err(RequestError::Refused(record.reason.clone()));
        };
        record.reason = chosen.reason.clone();
        record.new_primary = Some(chosen.address.clone());
        self.journal_update(&record);
        self.phase(
            &mut record,
            Phase::Choose,
            t,
            format!("{}: {}", chosen.address, chosen.reason),
        );

        // Catch up, while every replica stops receiving from the lost primary.
        let t = (SystemTime::now(), Instant::now());
        // A demoted (live, read-only) primary: receivers stop after the
        // candidate applied everything it wrote.
        let to_stop: Vec<String> = match demoted {
            Some(_) => phases::replicas_of(&now, &old.address)
                .into_iter()
                .map(|(a, _)| a)
                .collect(),
            None => Vec::new(),
        };
        let caught = phases::catch_up(
            &actions,
            &chosen.address,
            demoted.as_deref(),
            &to_stop,
            config.failover.catch_up_timeout.get(),
        )
        .await;
        match caught {
            Ok(applied) => {
                let detail = format!(
                    "{} applied everything it received: {applied}",
                    chosen.address
                );
                record.positions.push((chosen.address.clone(), applied));
                self.phase(&mut record, Phase::CatchUp, t, detail);
            }
            Err(e) => {
                return Err(self.abort(&mut record, &old.address, undo_old, e).await);
            }
        }

        super::hook::pause_before(Phase::Promote).await;
        // Promote.
        let t = (SystemTime::now(), Instant::now());
        let semi_sync = uses_semi_sync(healthy.as_deref().unwrap_or(&now), &old.address);
        if let Err(e) = phases::promote(&actions, &chosen.address, semi_sync).await {
            return Err(self.abort(&mut record, &old.address, undo_old, e).await);
        }
        // A lost primary may only be frozen: the fence waits in its socket.
        let sent_ahead = demoted.is_none() && self.standby.fire(&actions, &old.address, record.id);
        self.phase(
            &mut record,
            Phase::Promote,
            t,
            format!(
                "{}: replication stopped and reset, read_only=OFF{}{}",
                chosen.address,
                if semi_sync {
                    ", semi-sync source on"
                } else {
                    ""
                },
                if sent_ahead {
                    format!("; fence sent ahead to {}", old.address)
                } else {
                    String::new()
                }
            ),
        );

        // Repoint.
        let t = (SystemTime::now(), Instant::now());
        let others: Vec<String> = now
            .servers
            .iter()
            .filter(|s| s.address != old.address && s.address != chosen.address)
            .filter(|s| s.reachable && !self.rejoin.is_quarantined(&s.address))
            .map(|s| s.address.clone())
            .collect();
        let repointed = repoint_all(
            &actions,
            &self.handle,
            &others,
            &chosen.address,
            GtidStart::SlavePos,
            config.failover.replica_heartbeat_period.get(),
            now.server(&chosen.address).and_then(|s| s.flavor),
        )
        .await;
        self.quarantine_errant(&repointed.errant, &now);
        self.phase(&mut record, Phase::Repoint, t, repointed.summary);

        // Route.
        let t = (SystemTime::now(), Instant::now());
        let poll = || self.monitor.poll_now();
        let routed =
            phases::route(&self.deps.topology, &poll, &chosen.address, ROUTE_TIMEOUT).await;
        let Ok(routed) = routed else {
            return Err(self.not_routed(&mut record, &chosen.address, t));
        };
        self.phase(
            &mut record,
            Phase::Route,
            t,
            format!("writes go to {}", chosen.address),
        );
        for s in &routed.servers {
            if let Some(g) = &s.gtid.executed {
                if s.reachable {
                    record
                        .positions
                        .push((format!("{} (after)", s.address), g.to_string()));
                }
            }
        }
        self.rejoin.add(OldPrimary {
            address: old.address.clone(),
            server_id: old.server_id,
            new_primary: chosen.address.clone(),
            record: Some(record.id),
            steps_done: false,
        });
        // Replicas unreachable now are tended like the old primary when they
        // answer again: rejoined to the new primary, or quarantined if they
        // hold what it lacks.
        for s in now
            .servers
            .iter()
            .filter(|s| !s.reachable && s.address != old.address && s.address != chosen.address)
        {
            // A replica is not an old primary: read_only only, no other steps.
            self.rejoin.add(OldPrimary {
                address: s.address.clone(),
                server_id: s.server_id,
                new_primary: chosen.address.clone(),
                record: None,
                steps_done: true,
            });
        }
        self.watch.watch(Watched {
            address: chosen.address.clone(),
            server_id: chosen.server_id,
        });
        self.last_failover = Some(Instant::now());
        let until = SystemTime::now() + config.failover.anti_flap_window.get();
        self.handle.update(|s| s.no_auto_until = Some(until));
        let primary_alerts = old.address.clone();
        self.handle.update(|s| {
            s.alerts
                .retain(|a| a.address.as_deref() != Some(primary_alerts.as_str()));
        });
        self.finish(&mut record, Outcome::Succeeded, None);
        Ok(record)
    }

    /// The candidate for replacing `old` in snapshot `now`, with the GTID
    /// positions the choice was made on (no side effects).
    fn select(
        &self,
        config: &Config,
        now: &Snapshot,
        old: &Watched,
        forced: Option<&str>,
    ) -> Selection {
        let healthy = self.watch.healthy_snapshot().cloned();
        let quarantined = |a: &str| self.rejoin.is_quarantined(a);
        phases::choose(&phases::ChooseInput {
            config,
            now,
            healthy: healthy.as_deref(),
            old,
            forced,
            lost_hint: self
                .lost_hint
                .as_ref()
                .map(|(a, g)| (a.as_str(), g.as_str())),
            quarantined: &quarantined,
        })
    }

    /// Ends a failover whose promoted server routing did not elect in time.
    pub(super) fn not_routed(
        &mut self,
        record: &mut FailoverRecord,
        promoted: &str,
        started: (SystemTime, Instant),
    ) -> RequestError {
        let e = format!(
            "{promoted} was promoted but routing did not elect it within {} s",
            ROUTE_TIMEOUT.as_secs()
        );
        self.phase(record, Phase::Route, started, e.clone());
        self.finish(record, Outcome::Failed, Some(e.clone()));
        RequestError::Failed(e)
    }

    /// Ends a failover that could not complete before promotion: nothing
    /// was promoted. A live old primary that was demoted is made writable
    /// again; replicas whose receivers were stopped start them again.
    async fn abort(
        &mut self,
        record: &mut FailoverRecord,
        old: &str,
        undo_old: bool,
        error: String,
    ) -> RequestError {
        let actions = self.actions();
        let snap = self.deps.topology.load();
        if undo_old {
            self.undo_demotion(&actions, old, &snap).await;
        }
        for s in snap
            .servers
            .iter()
            .filter(|s| s.address != old && s.reachable && s.replicates())
        {
            if let Err(e) = actions.start_replication(&s.address).await {
                tracing::warn!(server = %s.address, error = %e, "could not restart replication after a failed failover");
            }
        }
        let message = format!("failover from {old} failed: {error}");
        self.handle
            .update(|s| push_alert(s, Some(old.to_string()), message.clone()));
        self.monitor.set_fenced(old, false);
        self.finish(record, Outcome::Failed, Some(error.clone()));
        RequestError::Failed(error)
    }

    /// Makes a demoted (or fenced) old primary writable again (nothing
    /// replaced it).
    pub(super) async fn undo_demotion(&self, actions: &Actions, old: &str, snap: &Snapshot) {
        let semi = uses_semi_sync(snap, old);
        match phases::undo_fence(actions, old, semi).await {
            Ok(()) => {
                tracing::warn!(server = %old, "failover did not complete: the old primary is writable again")
            }
            Err(e) => {
                tracing::error!(server = %old, error = %e, "failover did not complete and the old primary could NOT be made writable again")
            }
        }
    }

    /// Fences, rejoins or quarantines old primaries that came back.
    async fn tend_old_primaries(&mut self, snap: &Arc<Snapshot>) {
        let released = self.rejoin.release_repaired(snap);
        let mut share = !released.is_empty();
        for address in released {
            tracing::info!(server = %address, "quarantined server repaired: it follows the primary with nothing errant; back in rotation");
            self.monitor.set_fenced(&address, false);
            self.handle.update(|s| {
                s.quarantined.retain(|q| q.address != address);
                s.alerts
                    .retain(|a| a.address.as_deref() != Some(address.as_str()));
            });
        }
        if self.rejoin.is_empty() {
            if share {
                self.share_quarantine();
            }
            return;
        }
        let actions = self.actions();
        let config = self.config();
        let plan = FencePlan::from_config(&config.failover);
        let outcomes = self
            .rejoin
            .tend(
                snap,
                &actions,
                &plan,
                config.failover.replica_heartbeat_period.get(),
            )
            .await;
        for o in outcomes {
            match o {
                super::rejoin::Tended::Fencing {
                    address,
                    record,
                    steps,
                } => self.journal_fencing(&address, record, &steps),
                super::rejoin::Tended::Refused { address, error } => {
                    // The live servers have it upstream of the would-be new
                    // primary: routing follows the live topology again.
                    self.monitor.set_fenced(&address, false);
                    let message = format!("not rejoined, left as it is: {error}");
                    tracing::error!(server = %address, "{message}");
                    self.handle
                        .update(|s| push_alert(s, Some(address.clone()), message.clone()));
                }
                super::rejoin::Tended::Rejoined { address } => {
                    self.monitor.set_fenced(&address, false);
                    self.handle.update(|s| {
                        s.alerts
                            .retain(|a| a.address.as_deref() != Some(address.as_str()))
                    });
                }
                super::rejoin::Tended::Quarantined(q) => {
                    let q2 = q.clone();
                    self.handle.update(|s| {
                        s.quarantined.retain(|x| x.address != q2.address);
                        s.quarantined.push(q2);
                    });
                    share = true;
                }
            }
        }
        if share {
            self.share_quarantine();
        }
    }

    /// Quarantines servers a repoint left alone because they hold
    /// transactions the primary lacks: never promoted, never repointed,
    /// shown with their errant GTIDs, and shared with the other instances.
    pub(super) fn quarantine_errant(&mut self, errant: &[(String, String)], snap: &Snapshot) {
        if errant.is_empty() {
            return;
        }
        for (address, gtids) in errant {
            self.monitor.set_fenced(address, true);
            let q = Quarantined {
                address: address.clone(),
                server_id: snap.server(address).and_then(|s| s.server_id),
                errant: gtids.clone(),
                since: SystemTime::now(),
            };
            self.rejoin.quarantine(address);
            self.handle.update(|s| {
                s.quarantined.retain(|x| x.address != q.address);
                s.quarantined.push(q.clone());
            });
        }
        self.share_quarantine();
    }

    pub(super) fn watch_mut(&mut self) -> &mut Watch {
        &mut self.watch
    }

    /// Journals fencing steps with the failover they belong to, counts
    /// them, and raises alerts for a shutdown or a failed step.
    fn journal_fencing(
        &mut self,
        address: &str,
        record: Option<u64>,
        steps: &[super::status::FenceRecord],
    ) {
        if steps.is_empty() {
            return;
        }
        let mut alerts = Vec::new();
        for f in steps.iter().filter(|f| !f.ok) {
            alerts.push(format!(
                "fencing step {} failed: {}",
                f.step.as_str(),
                f.outcome
            ));
        }
        if super::fence::shut_down(steps) {
            alerts.push(format!(
                "shut down by sqlyard (failover.fence = shutdown{}); once it is restarted it is fenced read-only and rejoined or quarantined",
                record.map(|id| format!(", failover {id}")).unwrap_or_default()
            ));
        }
        self.handle.update(|s| {
            for f in steps {
                *s.fence_steps.entry((f.step, f.ok)).or_default() += 1;
            }
            for m in &alerts {
                push_alert(s, Some(address.to_string()), m.clone());
            }
        });
        if let Some(id) = record {
            match self.journal.add_fencing(id, steps) {
                Some((_, written)) => logged(written),
                None => tracing::warn!(
                    id,
                    "fencing steps of a failover no longer in the journal's memory: logged only"
                ),
            }
            self.publish_history();
        }
    }
}

/// Logs a journal write that failed (the in-memory copy is kept).
fn logged(r: Result<(), super::journal::JournalError>) {
    if let Err(e) = r {
        tracing::error!(error = %e, "failover journal write failed; the record is kept in memory");
    }
}

/// Adds an alert (at most one identical message per server).
pub(super) fn push_alert(s: &mut super::FailoverStatus, address: Option<String>, message: String) {
    if s.alerts
        .iter()
        .any(|a| a.address == address && a.message == message)
    {
        return;
    }
    s.alerts.push(Alert {
        address,
        message,
        since: SystemTime::now(),
    });
    if s.alerts.len() > 50 {
        s.alerts.remove(0);
    }
}

/// Whether the topology used semi-sync: the old primary had its source side
/// enabled, or a replica has its replica side enabled.
pub(super) fn uses_semi_sync(snap: &Snapshot, old_primary: &str) -> bool {
    let old = snap
        .server(old_primary)
        .is_some_and(|s| s.semi_sync.master_enabled == Some(true));
    old || snap
        .servers
        .iter()
        .any(|s| s.address != old_primary && s.semi_sync.slave_enabled == Some(true))
}

/// [`phases::repoint`] (servers holding what `source` lacks are left
/// alone and reported), with an alert for a repoint refused because it
/// would build a replication loop.
pub(super) async fn repoint_all(
    actions: &Actions,
    handle: &FailoverHandle,
    servers: &[String],
    source: &str,
    start: GtidStart,
    heartbeat_period: Duration,
    flavor: Option<Flavor>,
) -> phases::Repointed {
    let on_cycle = |server: &str, message: String| {
        handle.update(|st| push_alert(st, Some(server.to_string()), message))
    };
    phases::repoint(
        actions,
        servers,
        source,
        start,
        heartbeat_period,
        flavor,
        &on_cycle,
    )
    .await
}
