//! Problem: operators change a running router (re-read the config, take a
//! server out of rotation, add or remove one) from admin SQL and from
//! signals. Every such change must go through one place, so the config
//! file stays the single source of truth and runtime-only states stay
//! visibly runtime-only. [`Control`] is that place.
//!
//! - `RELOAD CONFIG` and SIGHUP: [`Control::reload`].
//! - `ADD SERVER` / `REMOVE SERVER`: edit the config file (atomically,
//!   keeping comments), then reload from it.
//! - `SET SERVER ... OFFLINE | DRAIN | ONLINE`: runtime only, published in
//!   the topology snapshot at once and kept by every later monitor round.

use std::path::PathBuf;
use std::sync::Arc;

use crate::app::Context;
use crate::config::Config;
use crate::topology::{AdminState, MonitorControl};

pub use crate::config::writeback::ControlError;

/// What a reload changed, for the log and for `RELOAD CONFIG`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadReport {
    pub servers_added: Vec<String>,
    pub servers_removed: Vec<String>,
    pub users_added: Vec<String>,
    pub users_removed: Vec<String>,
    /// Top-level sections whose settings changed.
    pub sections_changed: Vec<String>,
    /// Changed settings that only take effect after a restart (listeners).
    pub needs_restart: Vec<String>,
}

impl std::fmt::Display for ReloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        let list = |label: &str, v: &[String]| {
            (!v.is_empty()).then(|| format!("{label}: {}", v.join(", ")))
        };
        parts.extend(list("servers added", &self.servers_added));
        parts.extend(list("servers removed", &self.servers_removed));
        parts.extend(list("users added", &self.users_added));
        parts.extend(list("users removed", &self.users_removed));
        parts.extend(list("settings changed in", &self.sections_changed));
        parts.extend(list("changed but needs a restart", &self.needs_restart));
        if parts.is_empty() {
            f.write_str("config reloaded; nothing changed")
        } else {
            write!(f, "config reloaded; {}", parts.join("; "))
        }
    }
}

/// The one entry point for operator changes to a running router.
pub struct Control {
    pub ctx: Arc<Context>,
    pub monitor: MonitorControl,
    /// The config file the router was started from (None in tests that
    /// start a router from a config built in memory).
    pub config_path: Option<PathBuf>,
    /// Serializes reloads and config edits.
    lock: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("config_path", &self.config_path)
            .finish()
    }
}

impl Control {
    pub fn new(
        ctx: Arc<Context>,
        monitor: MonitorControl,
        config_path: Option<PathBuf>,
    ) -> Arc<Control> {
        Arc::new(Control {
            ctx,
            monitor,
            config_path,
            lock: tokio::sync::Mutex::new(()),
        })
    }

    /// The running config.
    pub fn config(&self) -> Arc<Config> {
        self.ctx.config.load_full()
    }

    /// `SET SERVER 'addr' OFFLINE | DRAIN | ONLINE`: runtime only.
    pub fn set_server_state(&self, address: &str, state: AdminState) -> Result<(), ControlError> {
        if self.ctx.topology.load().server(address).is_none() {
            return Err(ControlError::UnknownServer(address.to_string()));
        }
        // Published by the monitor's one publisher, from the snapshot
        // current under its lock: a failover's publish landing meanwhile
        // is kept, not undone.
        self.monitor.set_admin_state(address, state);
        self.monitor.republish();
        if state == AdminState::Offline {
            self.ctx.backends.close_idle_to(address);
        }
        tracing::info!(address = %address, state = %state, "server state set by an operator");
        Ok(())
    }

    /// Re-reads the config file and applies it (`RELOAD CONFIG`, SIGHUP).
    pub async fn reload(&self) -> Result<ReloadReport, ControlError> {
        let _guard = self.lock.lock().await;
        self.reload_locked()
    }

    fn reload_locked(&self) -> Result<ReloadReport, ControlError> {
        let path = self
            .config_path
            .as_ref()
            .ok_or(ControlError::NoConfigFile("reload"))?;
        let new = Config::load(path)?;
        // Certificates are checked before anything changes: an unusable
        // file leaves the running config and certificates in place.
        let tls = crate::tls::load(&new)?;
        let report = self.apply(new);
        self.ctx.apply_tls(tls);
        Ok(report)
    }

    /// Applies a validated config to the running router.
    pub fn apply(&self, new: Config) -> ReloadReport {
        crate::server::apply_config(&self.ctx, &self.monitor, new)
    }

    /// `ADD SERVER 'addr'`: adds it to the config file, then reloads.
    pub async fn add_server(&self, address: &str) -> Result<ReloadReport, ControlError> {
        let _guard = self.lock.lock().await;
        let path = self
            .config_path
            .as_ref()
            .ok_or(ControlError::NoConfigFile("add a server to"))?;
        if self.config().servers.iter().any(|s| s.address == address) {
            return Err(ControlError::ServerExists(address.to_string()));
        }
        crate::config::writeback::add_server(path, address)?;
        self.reload_locked()
    }

    /// `REMOVE SERVER 'addr'`: refused for the primary; removes it from the
    /// config file, then reloads (its sessions drain).
    pub async fn remove_server(&self, address: &str) -> Result<ReloadReport, ControlError> {
        let _guard = self.lock.lock().await;
        let path = self
            .config_path
            .as_ref()
            .ok_or(ControlError::NoConfigFile("remove a server from"))?;
        if !self.config().servers.iter().any(|s| s.address == address) {
            return Err(ControlError::UnknownServer(address.to_string()));
        }
        let snap = self.ctx.topology.load();
        if snap.primary_server().is_some_and(|p| p.address == address) {
            return Err(ControlError::RemovePrimary(address.to_string()));
        }
        crate::config::writeback::remove_server(path, address)?;
        self.reload_locked()
    }
}

/// Starts a `REBUILD SERVER` of `target` on this router (typed here,
/// forwarded by another instance, or `failover.auto_rebuild` when `auto`),
/// with the running config, topology and monitor, and the failover
/// manager's quarantine; returns the started rebuild's record.
pub fn start_rebuild(
    ctx: &Arc<Context>,
    monitor: &MonitorControl,
    target: &str,
    source: crate::backup::rebuild::Source,
    auto: bool,
) -> Result<crate::backup::rebuilds::RebuildRecord, crate::backup::BackupError> {
    let config = ctx.config.load_full();
    let failover = ctx.failover.clone();
    let job = crate::backup::rebuild::Job {
        target: target.to_string(),
        source,
        settings: crate::config::monitor_settings(&config),
        config,
        topology: ctx.topology.clone(),
        monitor: monitor.clone(),
        quarantined: Arc::new(move |address: &str| {
            failover
                .status()
                .quarantined
                .iter()
                .any(|q| q.address == address)
        }),
        publish: rebuild_publisher(ctx),
    };
    ctx.backups.rebuilds.start(job, auto)
}

/// With several instances (`[cluster]`): this instance's name, and a
/// publisher that copies each rebuild record to etcd
/// (`rebuilds/<instance>/<id>`), in order, for `SHOW REBUILDS` on every
/// instance. Must be called on the runtime.
pub fn rebuild_publisher(ctx: &Context) -> Option<(String, crate::backup::rebuilds::Publish)> {
    use crate::backup::rebuilds::RebuildRecord;
    let cluster = ctx.cluster.get()?.clone();
    let instance = cluster.instance().to_string();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<RebuildRecord>();
    tokio::spawn(async move {
        while let Some(record) = rx.recv().await {
            let key = cluster.keys().rebuild(cluster.instance(), &record.id);
            let put = match serde_json::to_vec(&record) {
                Ok(json) => cluster.put(key, json).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = put {
                tracing::warn!(id = %record.id, error = %e, "a rebuild record could not be copied to etcd (SHOW REBUILDS on the other instances misses it)");
            }
        }
    });
    let publish = Arc::new(move |record: &RebuildRecord| {
        let _ = tx.send(record.clone());
    });
    Some((instance, publish))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::config::monitor_settings;
    use crate::topology::monitor::Monitor;
    use crate::topology::snapshot::{Role, ServerState, Snapshot};
    use crate::topology::TopologyHandle;

    const A: &str = "127.0.0.1:23301";
    const B: &str = "127.0.0.1:23302";

    /// `SET SERVER` races a failover that fences the old primary (through
    /// the monitor's publisher, as failover does). Once the fence is
    /// published, no operator command may publish a snapshot taken before
    /// it: the fenced primary must stay out. Publishing a copy of a
    /// snapshot loaded outside the publisher's lock fails this within a
    /// few thousand rounds on two cores; 50,000 are run.
    #[test]
    fn operator_commands_never_undo_a_concurrent_publish() {
        let text = include_str!("../examples/sqlyard.toml");
        let config = Config::from_toml_str(text, Path::new("examples/sqlyard.toml")).unwrap();
        let servers: Vec<String> = vec![A.into(), B.into()];
        let handle = TopologyHandle::new(servers.clone());
        let monitor = Monitor::new(monitor_settings(&config), servers, handle.clone()).control();
        let ctx = Context::new(config, handle.clone()).unwrap();
        let mut a = ServerState::new(A);
        a.reachable = true;
        a.role = Role::Primary;
        a.read_only = Some(false);
        let mut b = ServerState::new(B);
        b.reachable = true;
        b.role = Role::Replica;
        b.read_only = Some(true);
        handle.publish(Snapshot::new(vec![a, b], Some(0), None));
        let control = Control::new(ctx, monitor.clone(), None);
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let operator = {
            let stop = stop.clone();
            let started = started.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    started.store(true, Ordering::Relaxed);
                    let state = if n % 2 == 0 {
                        AdminState::Drain
                    } else {
                        AdminState::Online
                    };
                    control.set_server_state(B, state).unwrap();
                    n += 1;
                }
                n
            })
        };
        while !started.load(Ordering::Relaxed) {
            std::thread::yield_now();
        }
        for round in 0..50_000 {
            monitor.set_fenced(A, true);
            for _ in 0..20 {
                let snap = handle.load();
                let fenced = snap.server(A).is_some_and(|s| s.fenced);
                assert!(fenced, "round {round}: the fence was undone");
                assert_ne!(
                    snap.primary_server().map(|p| &*p.address),
                    Some(A),
                    "round {round}: the fenced primary came back"
                );
            }
            monitor.set_fenced(A, false);
        }
        stop.store(true, Ordering::Relaxed);
        let commands = operator.join().unwrap();
        assert!(commands > 100, "only {commands} operator commands ran");
    }
}
