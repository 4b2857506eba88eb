//! Problem: one call must bring a whole router up from a config (monitor,
//! pools, listener, housekeeping) and bring it down again cleanly, both for
//! the `sqlyard` binary and for tests that run routers in-process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::frontend::{Context, Listener};
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
    listen_addr: SocketAddr,
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
        let ctx = Context::new(config, topology);
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
        tasks.push(tokio::spawn(listener.run(shutdown_rx.clone())));
        tasks.push(tokio::spawn(housekeeping(ctx.clone(), shutdown_rx)));
        tracing::info!(listen = %listen_addr, "sqlyard is accepting application connections");
        Ok(Server {
            ctx,
            monitor: control,
            listen_addr,
            shutdown,
            tasks,
        })
    }

    /// The address the application listener is bound to.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen_addr
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
