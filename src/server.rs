//! Problem: one call must bring a whole router up from a config (monitor,
//! pools, listener, housekeeping) and bring it down again cleanly, both for
//! the `sqlyard` binary and for tests that run routers in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::admin::AdminListener;
use crate::config::Config;
use crate::control::{Control, ReloadReport};
use crate::frontend::context::pool_settings;
use crate::frontend::{Context, Listener};
use crate::metrics::MetricsListener;
use crate::topology::{Monitor, MonitorControl, MonitorSettings, TopologyHandle};

/// Errors starting a router.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
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

/// Monitor settings from the config.
pub fn monitor_settings(c: &Config) -> MonitorSettings {
    MonitorSettings {
        user: c.monitor.user.clone(),
        password: c.monitor.password.expose().to_string(),
        interval: c.monitor.interval.get(),
        connect_timeout: c.monitor.connect_timeout.get(),
        query_timeout: c.monitor.query_timeout.get(),
        schema: c.monitor.schema.clone(),
    }
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
        let ctx = Context::new(config, topology);
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
        tasks.push(tokio::spawn(metrics.run(shutdown_rx.clone())));
        ctx.metrics.set_accepting(true);
        let app_ctx = ctx.clone();
        let app_shutdown = shutdown_rx.clone();
        tasks.push(tokio::spawn(async move {
            listener.run(app_shutdown).await;
            app_ctx.metrics.set_accepting(false);
        }));
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

    /// Stops accepting, closes idle backends and stops background tasks.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        for p in self.ctx.backends.pools() {
            p.reap(true);
        }
    }
}

/// Closes idle backend connections past their idle timeout.
async fn housekeeping(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => {
                if *shutdown.borrow() { return; }
            }
        }
        let servers: Vec<String> = ctx
            .config
            .load()
            .servers
            .iter()
            .map(|s| s.address.clone())
            .collect();
        ctx.backends.reap(&servers);
    }
}

/// Applies a validated config to a running router: users, servers,
/// monitor and pool settings. Listeners are bound once; a changed address
/// is reported as needing a restart.
pub fn apply_config(ctx: &Context, monitor: &MonitorControl, new: Config) -> ReloadReport {
    let old = ctx.config.load_full();
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
    ] {
        if changed {
            report.needs_restart.push(name.to_string());
        }
    }
    ctx.apply_users(&new);
    monitor.set_settings(monitor_settings(&new));
    monitor.set_servers(new_servers.iter().map(|a| a.to_string()).collect());
    ctx.backends.set_settings(pool_settings(&new));
    for a in &report.servers_added {
        tracing::info!(address = %a, "server added by a config reload");
    }
    for a in &report.servers_removed {
        tracing::info!(address = %a, "server removed by a config reload; its sessions drain");
    }
    ctx.config.store(Arc::new(new));
    tracing::info!("{report}");
    report
}
