//! Problem: one call must bring a whole router up from a config (monitor,
//! pools, listener, housekeeping) and bring it down again cleanly, both for
//! the `sqlyard` binary and for tests that run routers in-process; and a
//! changed config must reach the running router without dropping clients.
//!
//! Shutdown ([`Server::shutdown`]): both listeners stop accepting at once;
//! idle clients are closed with ERR 1053; a statement in flight may finish
//! (its session then closes) until `router.shutdown_timeout`, after which
//! the remaining sessions are cut; idle backend connections get COM_QUIT.
//!
//! Reload ([`apply_config`]): users, servers, monitor and pool settings
//! change in place. A removed server is marked DRAIN in the snapshot at
//! once (no new work; sessions holding a connection there finish on it)
//! and dropped from monitoring; housekeeping closes its idle pools. A
//! removed user cannot log in any more, but its sessions keep working
//! (their backend credentials stay until the last one ends).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::admin::AdminListener;
use crate::app::context::pool_settings;
use crate::app::Context;
use crate::config::{monitor_settings, Config};
use crate::control::{Control, ReloadReport};
use crate::frontend::Listener;
use crate::metrics::MetricsListener;
use crate::topology::{AdminState, Monitor, MonitorControl, TopologyHandle};

/// Errors starting a router.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A TLS certificate or key of the config cannot be used.
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    /// `[cluster]` cannot be set up (a TLS file for etcd).
    #[error("{0}")]
    Cluster(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
}

/// A running router.
pub struct Server {
    pub ctx: Arc<Context>,
    pub monitor: MonitorControl,
    pub control: Arc<Control>,
    listen_addr: SocketAddr,
    admin_addr: SocketAddr,
    metrics_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts the monitor, the application listener and housekeeping.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let servers: Vec<String> = config.servers.iter().map(|s| s.address.clone()).collect();
        let topology = TopologyHandle::new(servers.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let monitor = Monitor::new(monitor_settings(&config), servers, topology.clone());
        let control = monitor.control();
        let mut tasks = vec![monitor.spawn(shutdown_rx.clone())];
        let listen = config.router.listen.clone();
        let admin_listen = config.router.admin_listen.clone();
        let metrics_listen = config.router.metrics_listen.clone();
        let config_path = config.source.clone();
        let ctx = Context::new(config, topology)?;
        let control = Control::new(ctx.clone(), control, config_path);
        let listener = Listener::bind(&listen, ctx.clone())
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen.clone(),
                source,
            })?;
        let listen_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: listen.clone(),
            source,
        })?;
        let admin = AdminListener::bind(&admin_listen, control.clone())
            .await
            .map_err(|source| ServerError::Bind {
                addr: admin_listen.clone(),
                source,
            })?;
        let admin_addr = admin.local_addr().map_err(|source| ServerError::Bind {
            addr: admin_listen.clone(),
            source,
        })?;
        let metrics = MetricsListener::bind(&metrics_listen, ctx.clone())
            .await
            .map_err(|source| ServerError::Bind {
                addr: metrics_listen.clone(),
                source,
            })?;
        let metrics_addr = metrics.local_addr().map_err(|source| ServerError::Bind {
            addr: metrics_listen.clone(),
            source,
        })?;
        tasks.push(tokio::spawn(admin.run(shutdown_rx.clone())));
        let cluster = match ctx.config.load().cluster.clone() {
            Some(c) => {
                let config = ctx.config.load_full();
                let store = crate::cluster::etcd_store(&c, |p| config.file_path(p))
                    .map_err(|e| ServerError::Cluster(e.to_string()))?;
                let identity = crate::cluster::Identity {
                    instance: c
                        .instance
                        .clone()
                        .unwrap_or_else(|| crate::cluster::default_instance(listen_addr.port())),
                    address: listen_addr.to_string(),
                    admin: admin_addr.to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                };
                tracing::info!(instance = %identity.instance, name = %c.name, endpoints = ?c.etcd_endpoints, "cluster mode: sharing decisions through etcd");
                let handle =
                    crate::cluster::ClusterHandle::new(store, &c.name, identity, c.lease_ttl.get());
                let _ = ctx.cluster.set(handle.clone());
                tasks.push(tokio::spawn(
                    crate::cluster::Agent::new(handle.clone())
                        .run(shutdown_rx.clone())
                        .instrument(tracing::info_span!("cluster")),
                ));
                Some(handle)
            }
            None => None,
        };
        let counted = ctx.clone();
        let (rebuilder, rebuild_monitor) = (ctx.clone(), control.monitor.clone());
        let deps = crate::failover::manager::Deps {
            config: ctx.config.clone(),
            topology: ctx.topology.clone(),
            backends: ctx.backends.clone(),
            handle: ctx.failover.clone(),
            on_finished: Box::new(move |record| counted.metrics.observe_failover(record)),
            cluster,
            on_rebuild: Box::new(move |target, source| {
                start_forwarded_rebuild(&rebuilder, &rebuild_monitor, target, source)
            }),
        };
        let manager = crate::failover::manager::Manager::new(deps, control.monitor.clone());
        tasks.push(tokio::spawn(
            manager
                .run(shutdown_rx.clone())
                .instrument(tracing::info_span!("failover")),
        ));
        tasks.push(tokio::spawn(metrics.run(shutdown_rx.clone())));
        if ctx.cluster.get().is_some() {
            tasks.push(tokio::spawn(
                control.clone().follow_cluster(shutdown_rx.clone()),
            ));
        }
        ctx.metrics.set_accepting(true);
        let app_ctx = ctx.clone();
        let app_shutdown = shutdown_rx.clone();
        // The listener (it drains the sessions) first: shutdown waits for it.
        tasks.insert(
            0,
            tokio::spawn(async move {
                listener.run(app_shutdown).await;
                app_ctx.metrics.set_accepting(false);
            }),
        );
        tasks.push(tokio::spawn(backup_schedule(
            ctx.clone(),
            control.monitor.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(auto_rebuild(
            ctx.clone(),
            control.monitor.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(housekeeping(ctx.clone(), shutdown_rx)));
        tracing::info!(listen = %listen_addr, admin = %admin_addr, metrics = %metrics_addr, "sqlyard is accepting application connections");
        Ok(Server {
            ctx,
            monitor: control.monitor.clone(),
            control,
            listen_addr,
            admin_addr,
            metrics_addr,
            shutdown,
            tasks,
        })
    }

    /// The address the application listener is bound to.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
    }

    /// The address the admin listener is bound to.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The address the metrics endpoint is bound to.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Re-reads the config file and applies it (SIGHUP).
    pub async fn reload(&self) -> Result<ReloadReport, crate::control::ControlError> {
        self.control.reload().await
    }

    /// Waits until the monitor has published a snapshot with a primary.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.ctx.topology.wait_for_primary(timeout).await.is_ok()
    }

    /// Graceful shutdown: stops accepting on both listeners at once, lets
    /// running statements finish (for at most `router.shutdown_timeout`,
    /// then cuts what remains), stops the background tasks and closes the
    /// idle backend connections with COM_QUIT. Returns after the drain.
    pub async fn shutdown(self) {
        let timeout = self.ctx.config.load().router.shutdown_timeout.get();
        tracing::info!(
            timeout_ms = timeout.as_millis() as u64,
            sessions = self.ctx.registry.len(),
            "shutting down: not accepting; running statements may finish"
        );
        let _ = self.shutdown.send(true);
        // The listener cuts sessions at the timeout; the margin is for that.
        let bound = timeout + Duration::from_secs(2);
        for t in self.tasks {
            if tokio::time::timeout(bound, t).await.is_err() {
                tracing::warn!("a background task did not stop in time");
            }
        }
        let closed = self.ctx.backends.quit_idle().await;
        tracing::info!(backend_connections = closed, "shutdown complete");
    }
}

/// Closes idle backend connections past their idle timeout.
async fn housekeeping(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            r = shutdown.changed() => {
                if r.is_err() || *shutdown.borrow() { return; }
            }
        }
        let config = ctx.config.load();
        let servers: Vec<String> = config.servers.iter().map(|s| s.address.clone()).collect();
        ctx.backends.reap(&servers);
        forget_departed_users(&ctx, &config);
    }
}

/// Backend credentials of users removed by a reload are kept while one of
/// their sessions lives (it may need a new backend connection); after that
/// they go.
fn forget_departed_users(ctx: &Context, config: &Config) {
    let mut keep: Vec<String> = config.users.iter().map(|u| u.name.clone()).collect();
    for session in ctx.registry.all() {
        let user = session.user.lock().to_string();
        if !keep.contains(&user) {
            keep.push(user);
        }
    }
    ctx.backends.credentials.remove_missing(&keep);
}

/// Names of the top-level sections whose settings differ (users and servers
/// count only for changes to entries present in both configs; additions and
/// removals are reported on their own).
fn sections_changed(old: &Config, new: &Config) -> Vec<String> {
    let users = old
        .users
        .iter()
        .any(|u| new.user(&u.name).is_some_and(|n| n != u));
    let servers = old
        .servers
        .iter()
        .any(|s| new.servers.iter().any(|n| n.address == s.address && n != s));
    [
        ("router", old.router != new.router),
        ("users", users),
        ("monitor", old.monitor != new.monitor),
        ("servers", servers),
        ("pool", old.pool != new.pool),
        ("routing", old.routing != new.routing),
        ("consistency", old.consistency != new.consistency),
        ("failover", old.failover != new.failover),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(name, _)| name.to_string())
    .collect()
}

/// Applies a validated config to a running router: users, servers,
/// monitor and pool settings. Listeners are bound once; a changed address
/// is reported as needing a restart.
pub fn apply_config(ctx: &Context, monitor: &MonitorControl, new: Config) -> ReloadReport {
    let old = ctx.config.load_full();
    let new = Arc::new(new);
    let mut report = ReloadReport::default();
    let old_servers: Vec<&str> = old.servers.iter().map(|s| s.address.as_str()).collect();
    let new_servers: Vec<&str> = new.servers.iter().map(|s| s.address.as_str()).collect();
    report.servers_added = new_servers
        .iter()
        .filter(|a| !old_servers.contains(a))
        .map(|a| a.to_string())
        .collect();
    report.servers_removed = old_servers
        .iter()
        .filter(|a| !new_servers.contains(a))
        .map(|a| a.to_string())
        .collect();
    report.users_added = new
        .users
        .iter()
        .filter(|u| old.user(&u.name).is_none())
        .map(|u| u.name.clone())
        .collect();
    report.users_removed = old
        .users
        .iter()
        .filter(|u| new.user(&u.name).is_none())
        .map(|u| u.name.clone())
        .collect();
    report.sections_changed = sections_changed(&old, &new);
    let r = (&old.router, &new.router);
    for (name, changed) in [
        ("router.listen", r.0.listen != r.1.listen),
        ("router.admin_listen", r.0.admin_listen != r.1.admin_listen),
        (
            "router.metrics_listen",
            r.0.metrics_listen != r.1.metrics_listen,
        ),
        (
            "router.max_connections",
            r.0.max_connections != r.1.max_connections,
        ),
        (
            "router.worker_threads",
            r.0.worker_threads != r.1.worker_threads,
        ),
        (
            "router.max_buffered_bytes",
            r.0.max_buffered_bytes != r.1.max_buffered_bytes,
        ),
        // the etcd client, the lease and the instance's identity are set
        // up once: a running instance does not leave or join a cluster
        ("cluster", old.cluster != new.cluster),
    ] {
        if changed {
            report.needs_restart.push(name.to_string());
        }
    }
    // The one swap: from here on, logins and statements read the new
    // users and settings together from this snapshot. What other parts
    // keep of their own (backend credentials, monitor, pools) follows it.
    ctx.config.store(new.clone());
    // Sessions of removed users keep running: keep their backend
    // credentials until housekeeping sees the last one go.
    let creds = &ctx.backends.credentials;
    let kept: Vec<String> = report
        .users_removed
        .iter()
        .filter(|name| creds.get(name).is_some())
        .cloned()
        .collect();
    ctx.apply_backend_credentials(&new, &kept);
    monitor.set_settings(monitor_settings(&new));
    monitor.set_servers(new_servers.iter().map(|a| a.to_string()).collect());
    ctx.backends.set_settings(pool_settings(&new));
    ctx.buffers.set_wait(new.pool.checkout_timeout.get());
    // No new work for removed servers from now on, before the monitor's
    // next round drops them from the snapshot.
    // (Kept in the monitor too, for a round that started before the
    // change; a server added again later starts ONLINE.)
    for a in &report.servers_added {
        monitor.set_admin_state(a, AdminState::Online);
    }
    if !report.servers_removed.is_empty() {
        for a in &report.servers_removed {
            monitor.set_admin_state(a, AdminState::Drain);
        }
        // through the monitor's one publisher (see control.rs)
        monitor.republish();
    }
    for a in &report.servers_added {
        tracing::info!(address = %a, "server added by a config reload");
    }
    for a in &report.servers_removed {
        tracing::info!(address = %a, "server removed by a config reload; its sessions drain");
    }
    for u in &report.users_added {
        tracing::info!(user = %u, "user added by a config reload");
    }
    for u in &report.users_removed {
        tracing::info!(user = %u, "user removed by a config reload; its sessions keep running, new logins fail");
    }
    for section in &report.sections_changed {
        tracing::info!(section = %section, "settings changed by a config reload");
    }
    for key in &report.needs_restart {
        tracing::warn!(key = %key, "changed in the config file, but takes effect only after a restart");
    }
    tracing::info!("{report}");
    report
}

/// Scheduled backups (`backup.interval`, `backup.at`), on the cluster's
/// leader only (or alone), until shutdown. Partial backups left by a
/// process that died are removed first.
async fn backup_schedule(
    ctx: Arc<Context>,
    monitor: crate::topology::MonitorControl,
    mut shutdown: watch::Receiver<bool>,
) {
    let config = ctx.config.load_full();
    crate::backup::recover_interrupted(&config, monitor_settings(&config)).await;
    if let Some(dir) = crate::backup::backup_dir(&config) {
        let publish = crate::control::rebuild_publisher(&ctx).map(|(_, p)| p);
        crate::backup::rebuilds::mark_interrupted(&dir, publish);
    }
    let (c1, c2, c3, c4) = (ctx.clone(), ctx.clone(), ctx.clone(), ctx);
    let schedule = crate::backup::schedule::run(
        move || c1.config.load_full(),
        move || c2.cluster.get().is_none_or(|c| c.is_leader()),
        move || c3.backups.last_started(&c3.config.load()),
        move || {
            let config = c4.config.load_full();
            let snapshot = c4.topology.load();
            c4.backups.start(crate::backup::Start {
                config: &config,
                snapshot: &snapshot,
                monitor: monitor.clone(),
                settings: monitor_settings(&config),
                from: None,
            })
        },
    );
    tokio::select! {
        _ = schedule => {}
        _ = shutdown.wait_for(|stop| *stop) => {}
    }
}

/// How long `failover.auto_rebuild` waits before it tries one server again.
const AUTO_REBUILD_RETRY: Duration = Duration::from_secs(60);

/// Starts a `REBUILD SERVER` another instance forwarded to this one (the
/// leader); the refusals are the same as for one typed here.
fn start_forwarded_rebuild(
    ctx: &Arc<Context>,
    monitor: &MonitorControl,
    target: &str,
    source: Option<&str>,
) -> Result<serde_json::Value, crate::failover::status::RequestError> {
    use crate::failover::status::RequestError;
    let source =
        crate::backup::rebuild::Source::from_spec(source).map_err(RequestError::Refused)?;
    let record = crate::control::start_rebuild(ctx, monitor, target, source, false)
        .map_err(|e| RequestError::Refused(e.to_string()))?;
    tracing::info!(id = %record.id, server = target, "rebuild started for another instance");
    serde_json::to_value(record).map_err(|e| RequestError::Failed(e.to_string()))
}

/// `failover.auto_rebuild`: a quarantined server that answers is rebuilt
/// (`REBUILD SERVER` with no source), one at a time, on the cluster's
/// leader only (or alone); a server is tried again at most every minute.
async fn auto_rebuild(
    ctx: Arc<Context>,
    monitor: crate::topology::MonitorControl,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tried: std::collections::HashMap<String, tokio::time::Instant> =
        std::collections::HashMap::new();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        let config = ctx.config.load_full();
        let leads = ctx.cluster.get().is_none_or(|c| c.is_leader());
        if !config.failover.auto_rebuild || config.backup.is_none() || !leads {
            continue;
        }
        if ctx.backups.rebuilds.running().is_some() {
            continue;
        }
        let snap = ctx.topology.load();
        let status = ctx.failover.status();
        let due = status.quarantined.iter().find(|q| {
            snap.server(&q.address).is_some_and(|s| s.reachable)
                && tried
                    .get(&q.address)
                    .is_none_or(|t| t.elapsed() >= AUTO_REBUILD_RETRY)
        });
        let Some(q) = due else {
            continue;
        };
        tried.insert(q.address.clone(), tokio::time::Instant::now());
        let source = crate::backup::rebuild::Source::Auto;
        match crate::control::start_rebuild(&ctx, &monitor, &q.address, source, true) {
            Ok(r) => {
                tracing::info!(id = %r.id, server = %q.address, "failover.auto_rebuild: rebuilding a quarantined server")
            }
            Err(e) => {
                tracing::warn!(server = %q.address, error = %e, "failover.auto_rebuild: could not start a rebuild")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = crate::sandbox::render_router_config(
            &["127.0.0.1:1".to_string(), "127.0.0.1:2".to_string()],
            crate::sandbox::RouterPorts {
                listen: 7001,
                admin: 7002,
                metrics: 7003,
            },
        );
        Config::from_toml_str(&format!("{text}\n{extra}"), std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn changed_sections_are_named() {
        let old = config("");
        assert!(sections_changed(&old, &config("")).is_empty());
        let new = config("[pool]\nidle_timeout = \"9s\"\n[routing]\nread_write_split = false\n");
        assert_eq!(sections_changed(&old, &new), ["pool", "routing"]);
        // A changed password counts as a users change; an added user does not.
        let mut new = old.clone();
        new.users[0].password = crate::config::Password::Plain(crate::config::Secret::new("x"));
        assert_eq!(sections_changed(&old, &new), ["users"]);
        let mut new = old.clone();
        new.users.push(crate::config::UserConfig {
            name: "other".into(),
            password: old.users[0].password.clone(),
            max_connections: None,
            require_tls: false,
            require_x509: false,
        });
        assert!(sections_changed(&old, &new).is_empty());
        // A server's own settings count; removing one does not.
        let mut new = old.clone();
        new.servers[1].weight = 5;
        assert_eq!(sections_changed(&old, &new), ["servers"]);
        let mut new = old.clone();
        new.servers.pop();
        assert!(sections_changed(&old, &new).is_empty());
        let mut new = old.clone();
        new.monitor.password = crate::config::Secret::new("changed");
        new.router.idle_timeout = crate::config::DurationSetting::from_secs(5);
        assert_eq!(sections_changed(&old, &new), ["router", "monitor"]);
    }
}
