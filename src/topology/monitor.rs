//! The snapshot is only as good as the last look at the servers. The monitor looks at all
//! of them every interval and publishes one new snapshot per round.
//!
//! Each server has its own worker task owning its `Prober` (persistent connection), so one
//! hung server never holds up the others: a round ticks every worker, collects the reports
//! that arrive before the round deadline (one interval), and publishes; a server whose
//! last poll failed is not waited for. A server whose poll is still running keeps its
//! previous state; its report is applied in the round it arrives in. Polls are bounded by the connect and query timeouts, so a hung server
//! eventually reports a failure.
//!
//! The server list and settings can be replaced at run time through `MonitorControl`
//! (config reload): workers are started and stopped to match, and credentials changes make
//! workers reconnect.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::Instrument;

use super::detector::Evidence;
use super::handle::TopologyHandle;
use super::lag::HeartbeatHistory;
use super::primary::resolve;
use super::probe::{Prober, ServerFacts};
use super::settings::MonitorSettings;
use super::snapshot::{AdminState, Role, ServerState, Snapshot};

/// What one worker learned in one round.
#[derive(Debug)]
struct PollReport {
    address: String,
    round: u64,
    outcome: Result<ServerFacts, (String, Evidence)>,
    at: SystemTime,
}

/// Changes the monitor's server list and settings while it runs. Cheap to clone.
#[derive(Clone)]
pub struct MonitorControl {
    servers: Arc<Mutex<Vec<String>>>,
    /// Operator-set states (OFFLINE/DRAIN); servers not listed are ONLINE.
    admin: Arc<Mutex<HashMap<String, AdminState>>>,
    settings: Arc<ArcSwap<MonitorSettings>>,
    /// Servers failover fenced: never elected primary while listed.
    fenced: Arc<Mutex<Vec<String>>>,
    /// A switchover holds new work for the primary (copied into snapshots).
    writes_held: Arc<std::sync::atomic::AtomicBool>,
    /// Replicas a backup of this instance reads: drained while it runs
    /// (the primary shares reads).
    backup_drained: Arc<Mutex<Vec<String>>>,
    /// The same, for backups other sqlyard instances take (cluster mode).
    shared_backup_drained: Arc<Mutex<Vec<String>>>,
    /// Wakes the monitor for a round now instead of at the next tick.
    poll_now: Arc<tokio::sync::Notify>,
    handle: TopologyHandle,
    /// Held while a snapshot is built from the current one and published.
    publishing: Arc<Mutex<()>>,
}

impl std::fmt::Debug for MonitorControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorControl")
            .field("servers", &*self.servers.lock())
            .field("settings", &*self.settings.load())
            .finish()
    }
}

impl MonitorControl {
    /// Replaces the server list; takes effect at the next round. Duplicates are dropped.
    pub fn set_servers(&self, servers: Vec<String>) {
        *self.servers.lock() = dedup(servers);
    }

    /// Records an operator-set state; the caller publishes it right away
    /// and every later round keeps it.
    pub fn set_admin_state(&self, address: &str, state: AdminState) {
        let mut admin = self.admin.lock();
        if state == AdminState::Online {
            admin.remove(address);
        } else {
            admin.insert(address.to_string(), state);
        }
    }

    /// The operator-set state of `address`.
    pub fn admin_state(&self, address: &str) -> AdminState {
        self.admin.lock().get(address).copied().unwrap_or_default()
    }

    /// The current server list.
    pub fn servers(&self) -> Vec<String> {
        self.servers.lock().clone()
    }

    /// Replaces the settings; workers reconnect if the credentials changed.
    pub fn set_settings(&self, settings: MonitorSettings) {
        self.settings.store(Arc::new(settings));
    }

    pub fn settings(&self) -> Arc<MonitorSettings> {
        self.settings.load_full()
    }

    /// Fences or unfences `address`: a fenced server is never elected
    /// primary. Publishes at once.
    pub fn set_fenced(&self, address: &str, fenced: bool) {
        set_listed(&self.fenced, address, fenced);
        self.republish();
    }

    /// Whether `address` is fenced.
    pub fn is_fenced(&self, address: &str) -> bool {
        self.fenced.lock().iter().any(|a| a == address)
    }

    /// Marks `address` as read by a backup of this instance (or no
    /// longer). While it is, an ONLINE server is routed as DRAIN (the
    /// operator's state is kept, and is the state again afterwards) and the
    /// primary shares reads (see [`Snapshot::primary_shares_reads`]).
    /// Publishes at once.
    pub fn set_backup_drained(&self, address: &str, drained: bool) {
        set_listed(&self.backup_drained, address, drained);
        self.republish();
    }

    /// The servers backups of this instance read now.
    pub fn backup_drained(&self) -> Vec<String> {
        self.backup_drained.lock().clone()
    }

    /// The servers backups of other instances read now (cluster mode):
    /// drained here too. Publishes when the list changed; whether it did.
    pub fn set_shared_backup_drained(&self, mut addresses: Vec<String>) -> bool {
        addresses.sort();
        addresses.dedup();
        {
            let mut shared = self.shared_backup_drained.lock();
            if *shared == addresses {
                return false;
            }
            *shared = addresses;
        }
        self.republish();
        true
    }

    /// Whether a backup (of this instance or another) reads `address`.
    fn is_backup_drained(&self, address: &str) -> bool {
        self.backup_drained.lock().iter().any(|a| a == address)
            || self
                .shared_backup_drained
                .lock()
                .iter()
                .any(|a| a == address)
    }

    /// Holds (or releases) new work for the primary. Publishes at once.
    pub fn set_writes_held(&self, held: bool) {
        self.writes_held
            .store(held, std::sync::atomic::Ordering::Relaxed);
        self.republish();
    }

    /// Asks for a polling round now.
    pub fn poll_now(&self) {
        self.poll_now.notify_one();
    }

    /// Applies the control state (admin states, fences, flags) to the
    /// current snapshot, re-elects and publishes it.
    pub fn republish(&self) -> Arc<Snapshot> {
        let _one_publisher = self.publishing.lock();
        let current = self.handle.load();
        let next = self.apply(&current, current.servers.clone());
        self.handle.publish(next)
    }

    /// Builds the next snapshot from `servers` (their polled state) and the
    /// control state.
    fn apply(&self, prev: &Snapshot, mut servers: Vec<ServerState>) -> Snapshot {
        let mut backup_drained = Vec::new();
        for s in &mut servers {
            s.admin = self.admin_state(&s.address);
            s.fenced = self.is_fenced(&s.address);
            // a backup drains an ONLINE server; an operator's state stays
            if s.admin == AdminState::Online && self.is_backup_drained(&s.address) {
                s.admin = AdminState::Drain;
                backup_drained.push(s.address.clone());
            }
        }
        let mut next = resolve(Some(prev), servers);
        next.writes_held = self.writes_held.load(std::sync::atomic::Ordering::Relaxed);
        next.primary_shares_reads = next
            .servers
            .iter()
            .any(|s| s.role != Role::Primary && backup_drained.contains(&s.address));
        next
    }
}

/// Puts `address` in `list` once, or takes it out.
fn set_listed(list: &Mutex<Vec<String>>, address: &str, listed: bool) {
    let mut list = list.lock();
    list.retain(|a| a != address);
    if listed {
        list.push(address.to_string());
    }
}

fn dedup(servers: Vec<String>) -> Vec<String> {
    let mut seen = Vec::with_capacity(servers.len());
    for s in servers {
        if seen.contains(&s) {
            tracing::warn!(address = %s, "server listed twice; monitoring it once");
        } else {
            seen.push(s);
        }
    }
    seen
}

/// Polls the servers and publishes snapshots to a `TopologyHandle`.
pub struct Monitor {
    handle: TopologyHandle,
    control: MonitorControl,
    workers: HashMap<String, JoinHandle<()>>,
    ticks: watch::Sender<u64>,
    reports_tx: mpsc::UnboundedSender<PollReport>,
    reports_rx: mpsc::UnboundedReceiver<PollReport>,
    /// Latest report per server not yet applied to a snapshot.
    pending: HashMap<String, PollReport>,
    round: u64,
    /// Heartbeats written on the primary, to measure replica lag.
    heartbeats: HeartbeatHistory,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("control", &self.control)
            .field("round", &self.round)
            .finish()
    }
}

/// Starts a monitor as its own task. It stops when `shutdown` turns true or its sender is
/// dropped, closing its connections.
pub fn spawn(
    settings: MonitorSettings,
    servers: Vec<String>,
    handle: TopologyHandle,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    Monitor::new(settings, servers, handle).spawn(shutdown)
}

impl Monitor {
    pub fn new(settings: MonitorSettings, servers: Vec<String>, handle: TopologyHandle) -> Self {
        let (ticks, _) = watch::channel(0);
        let (reports_tx, reports_rx) = mpsc::unbounded_channel();
        Monitor {
            handle: handle.clone(),
            control: MonitorControl {
                servers: Arc::new(Mutex::new(dedup(servers))),
                admin: Arc::new(Mutex::new(HashMap::new())),
                settings: Arc::new(ArcSwap::from_pointee(settings)),
                fenced: Arc::new(Mutex::new(Vec::new())),
                writes_held: Arc::new(std::sync::atomic::AtomicBool::new(false)),
                backup_drained: Arc::new(Mutex::new(Vec::new())),
                shared_backup_drained: Arc::new(Mutex::new(Vec::new())),
                poll_now: Arc::new(tokio::sync::Notify::new()),
                handle: handle.clone(),
                publishing: Arc::new(Mutex::new(())),
            },
            workers: HashMap::new(),
            ticks,
            reports_tx,
            reports_rx,
            pending: HashMap::new(),
            round: 0,
            heartbeats: HeartbeatHistory::default(),
        }
    }

    /// A handle to change servers and settings while the monitor runs.
    pub fn control(&self) -> MonitorControl {
        self.control.clone()
    }

    /// Runs the monitor on its own task, inside a `topology_monitor` tracing span.
    pub fn spawn(self, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let span = tracing::info_span!("topology_monitor");
        tokio::spawn(self.run(shutdown).instrument(span))
    }

    /// Polls every interval until shutdown.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut interval = self.control.settings().effective_interval();
        let mut ticker = new_ticker(interval);
        tracing::info!(servers = ?self.control.servers(), ?interval, "topology monitor started");
        loop {
            let poll_now = Arc::clone(&self.control.poll_now);
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = ticker.tick() => {}
                _ = poll_now.notified() => {}
            }
            tokio::select! {
                biased;
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = self.run_round() => {}
            }
            let wanted = self.control.settings().effective_interval();
            if wanted != interval {
                interval = wanted;
                ticker = new_ticker(interval);
            }
        }
        self.stop().await;
        tracing::info!("topology monitor stopped");
    }

    /// One round: tick every worker, wait for their reports up to one interval, build the
    /// new server states, elect, publish. Returns the published snapshot.
    pub async fn run_round(&mut self) -> Arc<Snapshot> {
        let servers = self.control.servers();
        self.sync_workers(&servers);
        self.round += 1;
        let round = self.round;
        self.ticks.send_replace(round);

        let deadline = Instant::now() + self.control.settings().effective_interval();
        // A server whose last poll failed does not hold the round up (a hung
        // host would delay every snapshot by an interval); its report is
        // applied in the round it arrives in.
        let prev = self.handle.load();
        let awaited: Vec<&String> = servers
            .iter()
            .filter(|a| prev.server(a).is_none_or(|s| s.reachable || s.polls == 0))
            .collect();
        while let Ok(report) = self.reports_rx.try_recv() {
            self.pending.insert(report.address.clone(), report);
        }
        while !awaited
            .iter()
            .all(|a| self.pending.get(*a).is_some_and(|r| r.round == round))
        {
            tokio::select! {
                report = self.reports_rx.recv() => match report {
                    Some(report) => {
                        self.pending.insert(report.address.clone(), report);
                    }
                    None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }

        for report in self.pending.values() {
            if let Ok(ServerFacts {
                heartbeat_written: Some(w),
                ..
            }) = &report.outcome
            {
                self.heartbeats.record(*w);
            }
        }
        // Control changes (fences, held writes) publish too: load, apply and
        // publish under one lock so that neither side undoes the other.
        let publishing = Arc::clone(&self.control.publishing);
        let _one_publisher = publishing.lock();
        let prev = self.handle.load();
        let states = servers
            .iter()
            .map(|address| {
                let mut state = prev
                    .server(address)
                    .cloned()
                    .unwrap_or_else(|| ServerState::new(address.clone()));
                if let Some(report) = self.pending.remove(address) {
                    apply_report(&mut state, report);
                    state.lag = state.heartbeat.and_then(|h| self.heartbeats.lag(h));
                }
                state
            })
            .collect();
        let next = self.control.apply(&prev, states);
        log_changes(&prev, &next);
        self.handle.publish(next)
    }

    /// Starts workers for new servers and stops those of removed ones.
    fn sync_workers(&mut self, servers: &[String]) {
        self.workers.retain(|address, task| {
            let keep = servers.contains(address);
            if !keep {
                task.abort();
                tracing::info!(address = %address, "server removed from monitoring");
            }
            keep
        });
        self.pending.retain(|address, _| servers.contains(address));
        for address in servers {
            if self.workers.contains_key(address) {
                continue;
            }
            let task = tokio::spawn(
                worker(
                    address.clone(),
                    self.handle.clone(),
                    Arc::clone(&self.control.settings),
                    self.ticks.subscribe(),
                    self.reports_tx.clone(),
                )
                .instrument(tracing::info_span!("monitor_worker", address = %address)),
            );
            self.workers.insert(address.clone(), task);
        }
    }

    /// Lets workers finish their poll and close their connections, then aborts stragglers.
    async fn stop(self) {
        let settings = self.control.settings();
        let grace = settings.effective_connect_timeout() + settings.effective_query_timeout() * 3;
        drop(self.ticks);
        for (_, mut task) in self.workers {
            if tokio::time::timeout(grace, &mut task).await.is_err() {
                task.abort();
            }
        }
    }
}

fn new_ticker(interval: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// Polls one server whenever the round counter moves; exits when the monitor goes away.
async fn worker(
    address: String,
    handle: TopologyHandle,
    settings: Arc<ArcSwap<MonitorSettings>>,
    mut ticks: watch::Receiver<u64>,
    reports: mpsc::UnboundedSender<PollReport>,
) {
    let mut prober = Prober::new(address.clone());
    while ticks.changed().await.is_ok() {
        let round = *ticks.borrow_and_update();
        let settings = settings.load_full();
        // The elected primary (by the last snapshot) writes the lag heartbeat.
        let primary_id = handle
            .load()
            .primary_server()
            .filter(|p| p.address == address)
            .and_then(|p| p.server_id);
        let outcome = prober
            .poll_as(&settings, primary_id)
            .await
            .map_err(|e| (e.to_string(), Evidence::of(&e)));
        if let Err((error, _)) = &outcome {
            tracing::debug!(%error, "poll failed");
        }
        let report = PollReport {
            address: address.clone(),
            round,
            outcome,
            at: SystemTime::now(),
        };
        if reports.send(report).is_err() {
            break;
        }
    }
    prober.close().await;
}

fn apply_report(state: &mut ServerState, report: PollReport) {
    match report.outcome {
        Ok(facts) => {
            if let (Some(old), new) = (state.server_id, facts.server_id) {
                if old != new {
                    tracing::warn!(
                        address = %state.address,
                        old_server_id = old,
                        new_server_id = new,
                        "a different server now answers at this address"
                    );
                }
            }
            state.record_success(facts, report.at);
        }
        Err((error, evidence)) => state.record_failure_as(error, evidence, report.at),
    }
}

/// One observed change of a server's read_only flag or replication.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    address: String,
    what: &'static str,
    from: String,
    to: String,
}

/// read_only, replication source and replication thread changes between
/// two snapshots of reachable servers.
fn replication_changes(prev: &Snapshot, next: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for server in next.servers.iter().filter(|s| s.reachable) {
        let Some(old) = prev
            .server(&server.address)
            .filter(|s| s.last_seen.is_some())
        else {
            continue;
        };
        let show = |v: Option<String>| v.unwrap_or_else(|| "none".to_string());
        let mut push = |what, from: String, to: String| {
            if from != to {
                out.push(Change {
                    address: server.address.clone(),
                    what,
                    from,
                    to,
                });
            }
        };
        let ro = |s: &ServerState| {
            show(
                s.read_only
                    .map(|r| if r { "ON" } else { "OFF" }.to_string()),
            )
        };
        push("read_only", ro(old), ro(server));
        let chan = |s: &ServerState| s.replication.iter().find(|c| c.has_source()).cloned();
        let (a, b) = (chan(old), chan(server));
        push(
            "replication source",
            show(a.as_ref().and_then(|c| c.source_address())),
            show(b.as_ref().and_then(|c| c.source_address())),
        );
        push(
            "replication io thread",
            show(a.as_ref().map(|c| c.io_running.to_string())),
            show(b.as_ref().map(|c| c.io_running.to_string())),
        );
        push(
            "replication sql thread",
            show(a.as_ref().map(|c| c.sql_running.to_string())),
            show(b.as_ref().map(|c| c.sql_running.to_string())),
        );
    }
    out
}

/// Logs role, primary and conflict changes between two snapshots.
fn log_changes(prev: &Snapshot, next: &Snapshot) {
    for server in &next.servers {
        let old_role = prev
            .server(&server.address)
            .map(|s| s.role)
            .unwrap_or(Role::Unknown);
        if old_role == server.role {
            continue;
        }
        if server.role == Role::Unreachable {
            tracing::info!(
                address = %server.address,
                server_id = ?server.server_id,
                from = %old_role,
                to = %server.role,
                error = server.last_error.as_deref().unwrap_or(""),
                "server role changed"
            );
        } else {
            tracing::info!(
                address = %server.address,
                server_id = ?server.server_id,
                from = %old_role,
                to = %server.role,
                "server role changed"
            );
        }
    }
    for change in replication_changes(prev, next) {
        tracing::info!(address = %change.address, what = change.what, from = %change.from, to = %change.to, "server changed");
    }
    let old_primary = prev.primary_server().map(|s| s.address.as_str());
    let new_primary = next.primary_server().map(|s| s.address.as_str());
    if old_primary != new_primary {
        tracing::info!(from = ?old_primary, to = ?new_primary, "primary changed");
    }
    if prev.primary_conflict != next.primary_conflict {
        if let Some(conflict) = &next.primary_conflict {
            tracing::warn!(%conflict, "more than one writable server");
        } else {
            tracing::info!("writable-server conflict resolved");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::flavor::{Flavor, GtidPositions};

    fn facts(id: u32) -> ServerFacts {
        ServerFacts {
            heartbeat: None,
            heartbeat_written: None,
            semi_sync: Default::default(),
            slave_net_timeout: None,
            max_allowed_packet: None,
            max_connections: None,
            server_id: id,
            read_only: false,
            flavor: Flavor::MariaDb,
            version: "10.11".into(),
            replication: vec![],
            gtid: GtidPositions::default(),
        }
    }

    #[test]
    fn reports_update_state() {
        let mut s = ServerState::new("a:1");
        let at = SystemTime::now();
        apply_report(
            &mut s,
            PollReport {
                address: "a:1".into(),
                round: 1,
                outcome: Ok(facts(5)),
                at,
            },
        );
        assert!(s.reachable);
        assert_eq!(s.server_id, Some(5));
        assert_eq!(s.last_seen, Some(at));
        apply_report(
            &mut s,
            PollReport {
                address: "a:1".into(),
                round: 2,
                outcome: Err(("boom".into(), Evidence::Silence)),
                at,
            },
        );
        assert!(!s.reachable);
        assert_eq!(s.consecutive_failures, 1);
        assert_eq!(s.last_error.as_deref(), Some("boom"));
    }

    #[test]
    fn read_only_and_replication_changes_are_reported() {
        let at = SystemTime::now();
        let mut a = ServerState::new("a:1");
        a.record_success(facts(1), at);
        let prev = Snapshot::new(vec![a.clone()], None, None);
        let mut b = a.clone();
        b.read_only = Some(true);
        let next = Snapshot::new(vec![b], None, None);
        let changes = replication_changes(&prev, &next);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].what, "read_only");
        assert_eq!(
            (changes[0].from.as_str(), changes[0].to.as_str()),
            ("OFF", "ON")
        );
        assert!(replication_changes(&prev, &prev).is_empty());
        // never polled before: nothing to compare with
        let fresh = Snapshot::new(vec![ServerState::new("a:1")], None, None);
        assert!(replication_changes(&fresh, &next).is_empty());
    }

    #[test]
    fn duplicate_servers_are_dropped() {
        assert_eq!(
            dedup(vec!["a:1".into(), "b:1".into(), "a:1".into()]),
            ["a:1", "b:1"]
        );
    }

    fn quick_settings() -> MonitorSettings {
        let mut s = MonitorSettings::new("router", "router_pw");
        s.interval = Duration::from_millis(200);
        s.connect_timeout = Duration::from_millis(300);
        s.query_timeout = Duration::from_millis(300);
        s
    }

    #[tokio::test]
    async fn rounds_publish_unreachable_servers_with_errors() {
        // Nothing listens on these loopback ports: every poll fails at once.
        let servers = vec!["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()];
        let handle = TopologyHandle::new(servers.clone());
        let mut monitor = Monitor::new(quick_settings(), servers, handle.clone());
        let first = monitor.run_round().await;
        assert_eq!(first.generation, 1);
        assert!(
            first.servers.iter().all(|s| s.role == Role::Unreachable),
            "{first:?}"
        );
        assert!(first.servers.iter().all(|s| s.consecutive_failures == 1));
        assert!(first.servers[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("127.0.0.1:1")));
        // Failing servers are not waited for: their next report lands in
        // the round it arrives in.
        let second = monitor.run_round().await;
        assert_eq!(second.generation, 2);
        assert!(second.servers.iter().all(|s| s.consecutive_failures >= 1));
        tokio::time::sleep(Duration::from_millis(100)).await;
        let third = monitor.run_round().await;
        assert_eq!(third.generation, 3);
        assert!(
            third.servers.iter().all(|s| s.consecutive_failures >= 2),
            "{third:?}"
        );
        assert_eq!(handle.load().generation, 3);
    }

    #[tokio::test]
    async fn hung_server_does_not_delay_the_round() {
        // One server accepts TCP but never answers; the other refuses at once.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hung = listener.local_addr().unwrap().to_string();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let mut settings = quick_settings();
        settings.connect_timeout = Duration::from_secs(5);
        let servers = vec![hung.clone(), "127.0.0.1:1".to_string()];
        let handle = TopologyHandle::new(servers.clone());
        let mut monitor = Monitor::new(settings, servers, handle);
        let started = std::time::Instant::now();
        let snap = monitor.run_round().await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "round took {took:?}");
        // The refusing server is already known unreachable; the hung one is still in flight.
        assert_eq!(snap.server("127.0.0.1:1").unwrap().role, Role::Unreachable);
        assert_eq!(snap.server(&hung).unwrap().role, Role::Unknown);
        hold.abort();
    }

    #[tokio::test]
    async fn a_backup_drains_an_online_server_and_keeps_the_operators_state() {
        let servers = vec!["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()];
        let handle = TopologyHandle::new(servers.clone());
        let monitor = Monitor::new(quick_settings(), servers, handle.clone());
        let control = monitor.control();
        let admin = |snap: &Snapshot| snap.server("127.0.0.1:2").unwrap().admin;
        assert_eq!(admin(&control.republish()), AdminState::Online);

        // this instance's backup
        control.set_backup_drained("127.0.0.1:2", true);
        let snap = handle.load();
        assert_eq!(admin(&snap), AdminState::Drain);
        assert!(snap.primary_shares_reads);
        assert_eq!(control.admin_state("127.0.0.1:2"), AdminState::Online);
        assert_eq!(control.backup_drained(), ["127.0.0.1:2"]);
        // an operator's state wins, and is the state after the backup
        control.set_admin_state("127.0.0.1:2", AdminState::Offline);
        let snap = control.republish();
        assert_eq!(admin(&snap), AdminState::Offline);
        assert!(!snap.primary_shares_reads, "not drained by the backup");
        control.set_admin_state("127.0.0.1:2", AdminState::Online);
        control.set_backup_drained("127.0.0.1:2", false);
        assert_eq!(admin(&handle.load()), AdminState::Online);
        assert!(!handle.load().primary_shares_reads);

        // another instance's backup (cluster mode)
        assert!(control.set_shared_backup_drained(vec!["127.0.0.1:2".into()]));
        assert!(!control.set_shared_backup_drained(vec!["127.0.0.1:2".into()]));
        assert_eq!(admin(&handle.load()), AdminState::Drain);
        assert!(control.backup_drained().is_empty(), "not this instance's");
        assert!(control.set_shared_backup_drained(vec![]));
        assert_eq!(admin(&handle.load()), AdminState::Online);
    }

    #[tokio::test]
    async fn server_list_can_be_replaced() {
        let handle = TopologyHandle::new(vec!["127.0.0.1:1".into()]);
        let mut monitor = Monitor::new(quick_settings(), vec!["127.0.0.1:1".into()], handle);
        let control = monitor.control();
        assert_eq!(monitor.run_round().await.servers.len(), 1);
        control.set_servers(vec!["127.0.0.1:2".into(), "127.0.0.1:3".into()]);
        let snap = monitor.run_round().await;
        let addresses: Vec<_> = snap.servers.iter().map(|s| s.address.as_str()).collect();
        assert_eq!(addresses, ["127.0.0.1:2", "127.0.0.1:3"]);
        assert_eq!(monitor.workers.len(), 2);
        // New servers start from scratch.
        assert!(snap.servers.iter().all(|s| s.consecutive_failures == 1));
    }

    #[tokio::test]
    async fn spawned_monitor_stops_on_shutdown() {
        let handle = TopologyHandle::new(vec!["127.0.0.1:1".into()]);
        let (stop, stopped) = watch::channel(false);
        let task = spawn(
            quick_settings(),
            vec!["127.0.0.1:1".into()],
            handle.clone(),
            stopped,
        );
        let mut changes = handle.subscribe();
        tokio::time::timeout(Duration::from_secs(5), changes.changed())
            .await
            .unwrap()
            .unwrap();
        stop.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(handle.load().generation >= 1);
    }
}
