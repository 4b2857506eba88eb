//! Problem: most of what operators want to see already lives in the
//! router's own state: counters in `Stats` (atomics bumped by the
//! sessions), pool sizes, pinned sessions, the topology snapshot. Counting
//! them a second time on the hot path would cost work and could drift. This
//! file reads them once per scrape into a fresh registry, so every value is
//! current, series of removed servers disappear by themselves, and nothing
//! is double-counted. The failover manager's published status (auto mode,
//! running failover, alerts, quarantined servers) is read the same way.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::proto::MetricFamily;
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::error::MetricsError;
use super::Sources;
use crate::backend::pins::Pin;
use crate::topology::replica_status::ThreadState;
use crate::topology::snapshot::{AdminState, Role};

/// Every role a server can have, for the `sqlyard_server_role` state set.
const ROLES: [Role; 5] = [
    Role::Primary,
    Role::Replica,
    Role::Suspect,
    Role::Unreachable,
    Role::Unknown,
];

/// Every admin state, for the `sqlyard_server_admin_state` state set.
const ADMIN_STATES: [AdminState; 3] = [AdminState::Online, AdminState::Offline, AdminState::Drain];

/// Defines metrics in a per-scrape registry.
struct Scrape {
    registry: Registry,
}

impl Scrape {
    fn register<C: prometheus::core::Collector + Clone + 'static>(
        &self,
        name: &'static str,
        made: Result<C, prometheus::Error>,
    ) -> Result<C, MetricsError> {
        let c = made.map_err(|source| MetricsError::Define { name, source })?;
        self.registry
            .register(Box::new(c.clone()))
            .map_err(|source| MetricsError::Define { name, source })?;
        Ok(c)
    }

    fn counter(
        &self,
        name: &'static str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntCounterVec, MetricsError> {
        self.register(name, IntCounterVec::new(Opts::new(name, help), labels))
    }

    fn gauge(
        &self,
        name: &'static str,
        help: &str,
        labels: &[&str],
    ) -> Result<IntGaugeVec, MetricsError> {
        self.register(name, IntGaugeVec::new(Opts::new(name, help), labels))
    }

    fn float_gauge(
        &self,
        name: &'static str,
        help: &str,
        labels: &[&str],
    ) -> Result<GaugeVec, MetricsError> {
        self.register(name, GaugeVec::new(Opts::new(name, help), labels))
    }

    /// A counter without labels set to `value`.
    fn total(&self, name: &'static str, help: &str, value: &AtomicU64) -> Result<(), MetricsError> {
        self.counter(name, help, &[])?
            .with_label_values::<&str>(&[])
            .inc_by(value.load(Ordering::Relaxed));
        Ok(())
    }
}

fn bool_value(b: bool) -> i64 {
    i64::from(b)
}

/// Reads the router's state into metric families (sorted by name).
pub fn gather(src: &dyn Sources) -> Result<Vec<MetricFamily>, MetricsError> {
    let s = Scrape {
        registry: Registry::new(),
    };
    clients(&s, src)?;
    backends(&s, src)?;
    pins(&s, src)?;
    routing(&s, src)?;
    topology(&s, src)?;
    tls(&s, src)?;
    failover(&s, src)?;
    cluster(&s, src)?;
    backups(&s, src)?;
    Ok(s.registry.gather())
}

/// Backups (`[backup]`): the last success, its duration and size, the
/// failures, whether one runs and whether they are scheduled. Absent
/// without `[backup]`.
fn backups(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let Some(b) = src.backups() else {
        return Ok(());
    };
    let one = |name: &'static str, help: &str, value: f64| -> Result<(), MetricsError> {
        s.float_gauge(name, help, &[])?
            .with_label_values::<&str>(&[])
            .set(value);
        Ok(())
    };
    one(
        "sqlyard_backup_last_success_timestamp_seconds",
        "Unix time the last complete backup finished (from backup.dir when none was taken since start); 0 if there is none.",
        b.last_success_unix,
    )?;
    one(
        "sqlyard_backup_last_duration_seconds",
        "How long the last complete backup took.",
        b.last_duration_seconds,
    )?;
    one(
        "sqlyard_backup_last_size_bytes",
        "The size of the last complete backup (compressed files).",
        b.last_size_bytes as f64,
    )?;
    s.counter(
        "sqlyard_backup_failures_total",
        "Backups that failed since start (SHOW BACKUPS gives each error).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .inc_by(b.failures);
    s.gauge(
        "sqlyard_backup_running",
        "1 while a backup is being taken.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(b.running));
    s.gauge(
        "sqlyard_backup_scheduled",
        "1 when backups are scheduled (backup.interval or backup.at), so that an overdue backup is an alert.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(b.scheduled));
    let rebuilds = s.counter(
        "sqlyard_rebuilds_total",
        "REBUILD SERVERs that ended since start, by outcome (SHOW REBUILDS gives each one's steps and error).",
        &["outcome"],
    )?;
    rebuilds
        .with_label_values(&["succeeded"])
        .inc_by(b.rebuilds_succeeded);
    rebuilds
        .with_label_values(&["failed"])
        .inc_by(b.rebuilds_failed);
    s.gauge(
        "sqlyard_rebuild_running",
        "1 while a server is being rebuilt.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(b.rebuild_running));
    Ok(())
}

/// Several instances (`[cluster]`): etcd, leadership, live instances.
fn cluster(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let st = src.failover();
    s.counter(
        "sqlyard_primary_lost_leader_only_total",
        "Times the leader lost the primary while another sqlyard instance still reached it (no failover).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .inc_by(st.leader_isolated_losses);
    let Some(cluster) = src.cluster() else {
        return Ok(());
    };
    let view = cluster.view();
    s.gauge(
        "sqlyard_cluster_etcd_up",
        "1 if this instance's last read of etcd worked ([cluster]); 0: no automatic failover anywhere until it is back.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(view.etcd_up));
    s.gauge(
        "sqlyard_cluster_leader",
        "1 if this instance leads (it alone runs failover, switchover, rejoin and heartbeat tuning).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(view.is_leader()));
    s.gauge(
        "sqlyard_cluster_routers",
        "Live sqlyard instances in etcd, this one included.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(i64::try_from(view.routers.len()).unwrap_or(i64::MAX));
    Ok(())
}

fn clients(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let st = src.stats();
    s.gauge(
        "sqlyard_client_connections_active",
        "Client connections open now.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(i64::try_from(st.active.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
    s.total(
        "sqlyard_client_connections_accepted_total",
        "Client connections accepted by the application listener.",
        &st.accepted,
    )?;
    s.total(
        "sqlyard_client_auth_failures_total",
        "Client logins rejected (unknown user, wrong password, unsupported plugin).",
        &st.auth_failures,
    )?;
    s.total(
        "sqlyard_client_auth_delays_total",
        "Client logins made to wait after consecutive failures from the same address and user (router.auth_failures_before_delay).",
        &st.auth_delays,
    )?;
    if let Some(b) = src.buffers() {
        let int = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        s.gauge(
            "sqlyard_client_buffered_bytes",
            "Bytes of client packets held now against router.max_buffered_bytes.",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .set(int(b.in_use()));
        s.gauge(
            "sqlyard_client_buffer_limit_bytes",
            "router.max_buffered_bytes: the client packet bytes all sessions may hold.",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .set(int(b.total()));
        s.counter(
            "sqlyard_client_buffer_waits_total",
            "Client packets that waited for buffer room (router.max_buffered_bytes).",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .inc_by(b.waits());
        s.counter(
            "sqlyard_client_buffer_refusals_total",
            "Client packets refused with ERR 1041 because the buffer budget stayed full.",
            &[],
        )?
        .with_label_values::<&str>(&[])
        .inc_by(b.refusals());
    }
    s.counter(
        "sqlyard_client_connections_refused_total",
        "Client connections refused, by reason.",
        &["reason"],
    )?
    .with_label_values(&["max_connections"])
    .inc_by(st.refused_max_connections.load(Ordering::Relaxed));
    s.total(
        "sqlyard_client_bytes_received_total",
        "Bytes received from clients.",
        &st.bytes_in,
    )?;
    s.total(
        "sqlyard_client_bytes_sent_total",
        "Bytes sent to clients.",
        &st.bytes_out,
    )?;
    Ok(())
}

fn backends(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let configured: Vec<String> = src
        .config()
        .servers
        .iter()
        .map(|sv| sv.address.clone())
        .collect();
    // (in use, idle) per server; configured servers show zeros.
    let mut conns: BTreeMap<String, (usize, usize)> =
        configured.iter().map(|a| (a.clone(), (0, 0))).collect();
    for p in src.backends().pools() {
        let e = conns.entry(p.addr.to_string()).or_default();
        e.0 += p.stats.in_use.load(Ordering::Relaxed);
        e.1 += p.idle_count();
    }
    let g = s.gauge(
        "sqlyard_backend_connections",
        "Backend connections open now, by server and state (in_use: serving a session; idle: in the pool).",
        &["server", "state"],
    )?;
    for (addr, (in_use, idle)) in &conns {
        g.with_label_values(&[addr.as_str(), "in_use"])
            .set(i64::try_from(*in_use).unwrap_or(i64::MAX));
        g.with_label_values(&[addr.as_str(), "idle"])
            .set(i64::try_from(*idle).unwrap_or(i64::MAX));
    }
    let connect_errors = s.counter(
        "sqlyard_backend_connect_errors_total",
        "Failed attempts to open a backend connection, by server.",
        &["server"],
    )?;
    let query_errors = s.counter(
        "sqlyard_query_errors_total",
        "Statements that ended in an error from the server, by server.",
        &["server"],
    )?;
    let mut servers: BTreeMap<String, (u64, u64)> =
        configured.iter().map(|a| (a.clone(), (0, 0))).collect();
    for (addr, st) in src.backends().servers.all() {
        servers.insert(
            addr.to_string(),
            (
                st.connect_errors.load(Ordering::Relaxed),
                st.query_errors.load(Ordering::Relaxed),
            ),
        );
    }
    for (addr, (connect, query)) in &servers {
        connect_errors
            .with_label_values(&[addr.as_str()])
            .inc_by(*connect);
        query_errors
            .with_label_values(&[addr.as_str()])
            .inc_by(*query);
    }
    s.total(
        "sqlyard_backend_state_syncs_total",
        "Times a backend connection's session state was brought in line with a client session before a statement.",
        &src.stats().state_syncs,
    )?;
    Ok(())
}

fn pins(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let mut now = [0i64; Pin::ALL.len()];
    for bits in src.session_pins() {
        for (i, p) in Pin::ALL.iter().enumerate() {
            if bits.has(*p) {
                now[i] += 1;
            }
        }
    }
    let pinned = s.gauge(
        "sqlyard_sessions_pinned",
        "Client sessions pinned to their backend connection now, by reason (a session may count under several).",
        &["reason"],
    )?;
    let total = s.counter(
        "sqlyard_session_pins_total",
        "Times a client session became pinned to its backend connection, by reason.",
        &["reason"],
    )?;
    for (i, p) in Pin::ALL.iter().enumerate() {
        pinned.with_label_values(&[p.as_str()]).set(now[i]);
        if let Some(c) = src.stats().pins_total.get(*p as usize) {
            total
                .with_label_values(&[p.as_str()])
                .inc_by(c.load(Ordering::Relaxed));
        }
    }
    Ok(())
}

fn routing(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let ryw = s.counter(
        "sqlyard_read_your_writes_total",
        "Reads that had to see the client's earlier writes, by outcome: hit (a replica had them), waited (a replica reached them in time), wait_timeout and fallback (read from the primary).",
        &["outcome"],
    )?;
    for (outcome, c) in src.stats().ryw.outcomes() {
        ryw.with_label_values(&[outcome])
            .inc_by(c.load(Ordering::Relaxed));
    }
    let by_origin = s.counter(
        "sqlyard_errors_sent_total",
        "ERR packets sqlyard itself sent to clients (errors that a statement's response carried from a server are not counted), by who caused them: client, server or sqlyard.",
        &["origin"],
    )?;
    for o in crate::protocol::Origin::ALL {
        by_origin
            .with_label_values(&[o.as_str()])
            .inc_by(src.stats().errors_by_origin[o as usize].load(Ordering::Relaxed));
    }
    s.total(
        "sqlyard_no_replica_errors_total",
        "Reads refused because no replica qualified and routing.primary_reads is never.",
        &src.stats().no_replica_errors,
    )?;
    let outstanding = s.gauge(
        "sqlyard_server_outstanding_requests",
        "Requests running on a backend server now, through this router (the balancer's load measure).",
        &["server"],
    )?;
    for (addr, st) in src.backends().servers.all() {
        outstanding
            .with_label_values(&[&*addr])
            .set(st.outstanding.load(Ordering::Relaxed) as i64);
    }
    Ok(())
}

/// Certificate expiry: the listeners' certificate, and each server's as
/// seen on sqlyard's last connection to it.
fn tls(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let expiry = s.gauge(
        "sqlyard_tls_cert_expiry_timestamp_seconds",
        "End of validity (Unix time) of a TLS certificate: the listeners' own (cert=\"listener\") or a server's (cert=\"server\").",
        &["cert", "server"],
    )?;
    if let Some(end) = src.listener_tls().and_then(|t| t.not_after) {
        expiry.with_label_values(&["listener", ""]).set(end);
    }
    for (addr, st) in src.backends().servers.all() {
        if let Some(end) = st.tls.lock().as_ref().and_then(|t| t.not_after) {
            expiry.with_label_values(&["server", &addr]).set(end);
        }
    }
    Ok(())
}

fn topology(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let snap = src.snapshot();
    s.gauge(
        "sqlyard_topology_generation",
        "Generation of the topology snapshot in use (grows with every change the monitor publishes).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(i64::try_from(snap.generation).unwrap_or(i64::MAX));
    let up = s.gauge(
        "sqlyard_server_up",
        "1 if the monitor's last poll of the server succeeded.",
        &["server"],
    )?;
    let role = s.gauge(
        "sqlyard_server_role",
        "1 for the server's current role, 0 for the others.",
        &["server", "role"],
    )?;
    let read_only = s.gauge(
        "sqlyard_server_read_only",
        "1 if the server's read_only is ON (absent until known).",
        &["server"],
    )?;
    let admin = s.gauge(
        "sqlyard_server_admin_state",
        "1 for the admin state an operator set (online, offline, drain), 0 for the others.",
        &["server", "state"],
    )?;
    let behind = s.float_gauge(
        "sqlyard_replication_seconds_behind_master",
        "Seconds_Behind_Master the replica reports (largest over its channels; absent when NULL).",
        &["server"],
    )?;
    let threads = s.gauge(
        "sqlyard_replication_threads_running",
        "1 if the replication thread (io or sql) runs on every channel of the replica.",
        &["server", "thread"],
    )?;
    let lag = s.float_gauge(
        "sqlyard_replication_lag_seconds",
        "Replication lag of the replica as sqlyard measures it.",
        &["server"],
    )?;
    let limit = s.float_gauge(
        "sqlyard_replication_lag_limit_seconds",
        "The lag above which the server gets no reads (servers[].max_replication_lag, else routing.max_replication_lag); absent for the primary.",
        &["server"],
    )?;
    let config = src.config();
    let primary = snap.primary_server().map(|p| p.address.clone());
    for sv in &snap.servers {
        if primary.as_deref() != Some(sv.address.as_str()) {
            let bound = config
                .servers
                .iter()
                .find(|c| c.address == sv.address)
                .and_then(|c| c.max_replication_lag)
                .unwrap_or(config.routing.max_replication_lag);
            limit
                .with_label_values(&[sv.address.as_str()])
                .set(bound.get().as_secs_f64());
        }
    }
    for sv in &snap.servers {
        let a = sv.address.as_str();
        up.with_label_values(&[a]).set(bool_value(sv.reachable));
        for r in ROLES {
            let name = r.to_string();
            role.with_label_values(&[a, name.as_str()])
                .set(bool_value(sv.role == r));
        }
        if let Some(ro) = sv.read_only {
            read_only.with_label_values(&[a]).set(bool_value(ro));
        }
        for st in ADMIN_STATES {
            admin
                .with_label_values(&[a, st.as_str()])
                .set(bool_value(sv.admin == st));
        }
        let channels: Vec<_> = sv.replication.iter().filter(|c| c.has_source()).collect();
        if !channels.is_empty() {
            if let Some(secs) = channels
                .iter()
                .filter_map(|c| c.seconds_behind_source)
                .max()
            {
                behind.with_label_values(&[a]).set(secs as f64);
            }
            let io = channels
                .iter()
                .all(|c| c.io_running == ThreadState::Running);
            let sql = channels
                .iter()
                .all(|c| c.sql_running == ThreadState::Running);
            threads.with_label_values(&[a, "io"]).set(bool_value(io));
            threads.with_label_values(&[a, "sql"]).set(bool_value(sql));
        }
        if let Some(l) = sv.lag {
            lag.with_label_values(&[a]).set(l.as_secs_f64());
        }
    }
    Ok(())
}

/// Longest `errant` label value: GTID ranges can be long, and a label
/// value is kept in every sample.
const ERRANT_LABEL_MAX: usize = 200;

/// `s` cut to at most `max` characters, ending in `...` when cut.
fn truncated(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

fn failover(s: &Scrape, src: &dyn Sources) -> Result<(), MetricsError> {
    let st = src.failover();
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    s.gauge(
        "sqlyard_autofailover_enabled",
        "1 if automatic failover is on (failover.enabled, SET AUTOFAILOVER).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(st.auto));
    s.gauge(
        "sqlyard_failover_in_progress",
        "1 while a failover or switchover runs.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(st.running.is_some()));
    s.gauge(
        "sqlyard_failover_fence_ahead_ready",
        "1 while a fence is kept ready on an open connection to the primary (SHOW AUTOFAILOVER fence_ahead): a frozen primary that is replaced runs it as it thaws.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(st.fence_ahead.is_some()));
    s.counter(
        "sqlyard_primary_lost_unconfirmed_total",
        "Times sqlyard lost the primary while the replicas still replicated from it (no failover).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .inc_by(st.unconfirmed_losses);
    s.counter(
        "sqlyard_replica_heartbeat_tuned_total",
        "Replicas whose replication heartbeat period sqlyard shortened to failover.replica_heartbeat_period (failover.tune_replica_heartbeat).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .inc_by(st.heartbeat_tunings);
    let fence = s.counter(
        "sqlyard_fence_steps_total",
        "Fencing steps (failover.fence) applied to old primaries, by step and result (ok, failed).",
        &["step", "result"],
    )?;
    for step in crate::config::FenceStep::ALL {
        for ok in [true, false] {
            let n = st.fence_steps.get(&(step, ok)).copied().unwrap_or(0);
            fence
                .with_label_values(&[step.as_str(), if ok { "ok" } else { "failed" }])
                .inc_by(n);
        }
    }
    s.gauge(
        "sqlyard_failover_alerts",
        "Failover alerts an operator must look at now (stale candidates, refused promotion...).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(count(st.alerts.len()));
    s.gauge(
        "sqlyard_quarantined_servers",
        "Servers kept out of the topology because they hold errant transactions.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(count(st.quarantined.len()));
    let snap = src.snapshot();
    let semi_sync = snap
        .primary_server()
        .is_some_and(|p| p.semi_sync.master_active == Some(true));
    s.gauge(
        "sqlyard_primary_semi_sync",
        "1 if semi-synchronous replication is active on the current primary (Rpl_semi_sync_master_status ON), 0 otherwise or while there is no primary.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(semi_sync));
    let semi_sync_enabled = snap
        .primary_server()
        .is_some_and(|p| p.semi_sync.master_enabled == Some(true));
    s.gauge(
        "sqlyard_primary_semi_sync_enabled",
        "1 if the current primary has its semi-sync source side switched on (rpl_semi_sync_master_enabled); with sqlyard_primary_semi_sync 0 it fell back to asynchronous replication.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(semi_sync_enabled));
    s.gauge(
        "sqlyard_writes_held",
        "1 while writes are held (a failover or switchover is moving the primary): statements wait for the new primary.",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(bool_value(snap.writes_held));
    let errant = s.gauge(
        "sqlyard_server_errant_transactions",
        "1 per quarantined server; `errant` lists its errant GTIDs (cut to 200 characters).",
        &["server", "errant"],
    )?;
    for q in &st.quarantined {
        errant
            .with_label_values(&[
                q.address.as_str(),
                truncated(&q.errant, ERRANT_LABEL_MAX).as_str(),
            ])
            .set(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::truncated;

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(truncated("0-1-5", 200), "0-1-5");
        let long = "x".repeat(250);
        let cut = truncated(&long, 200);
        assert_eq!(cut.chars().count(), 200);
        assert!(cut.ends_with("..."));
        assert_eq!(truncated("ééééé", 4), "é...");
    }
}
