//! Problem: with several sqlyard instances, an operator's runtime change
//! (`SET SERVER ... OFFLINE | DRAIN | ONLINE`, `SET AUTOFAILOVER`, `ADD
//! SERVER`, `REMOVE SERVER`) typed on one instance must reach every other
//! one within a second, and an instance that restarts must take it again.
//! So must the drain of a server a backup reads (`backup.drain`): it is
//! published in the record of the instance taking the backup, under its
//! lease, so that it ends with the backup or with that instance.
//! The change is stored in etcd (`cluster::keys`); every instance follows
//! the shared values ([`Control::follow_cluster`]), applying those that
//! differ from its own. `ADD`/`REMOVE SERVER` still write the file of the
//! instance where they were typed; the others apply them in memory (a
//! reload from their file keeps them, since the shared value is applied
//! again).

use std::sync::Arc;

use tokio::sync::watch;

use crate::cluster::{ClusterHandle, ClusterView};
use crate::config::ServerConfig;
use crate::control::Control;
use crate::topology::AdminState;

/// How often this instance's backups' drains are copied into its record.
const BACKUP_DRAIN_PUBLISH: std::time::Duration = std::time::Duration::from_millis(200);

impl Control {
    /// The cluster, with several instances.
    pub fn cluster(&self) -> Option<&ClusterHandle> {
        self.ctx.cluster.get()
    }

    /// Stores a runtime change in etcd for every instance. Returns what to
    /// add to the admin answer (empty when running alone).
    pub async fn share(&self, puts: Vec<(String, Vec<u8>)>, deletes: Vec<String>) -> String {
        let Some(c) = self.cluster() else {
            return String::new();
        };
        for (k, v) in puts {
            if let Err(e) = c.put(k, v).await {
                tracing::error!(error = %e, "a runtime change could not be shared through etcd");
                return format!("; NOT shared with the other sqlyard instances: {e}");
            }
        }
        for k in deletes {
            if let Err(e) = c.delete(k).await {
                return format!("; NOT shared with the other sqlyard instances: {e}");
            }
        }
        "; shared with every sqlyard instance".to_string()
    }

    /// `SET SERVER`, shared.
    pub async fn share_server_state(&self, address: &str, state: AdminState) -> String {
        let Some(c) = self.cluster() else {
            return String::new();
        };
        let key = c.keys().server_state(address);
        self.share(vec![(key, state.as_str().as_bytes().to_vec())], vec![])
            .await
    }

    /// `SET AUTOFAILOVER`, shared.
    pub async fn share_autofailover(&self, on: bool) -> String {
        let Some(c) = self.cluster() else {
            return String::new();
        };
        let value = if on { "on" } else { "off" };
        self.share(vec![(c.keys().autofailover(), value.into())], vec![])
            .await
    }

    /// `ADD SERVER` (added) or `REMOVE SERVER` (not added), shared.
    pub async fn share_server_list(&self, address: &str, added: bool) -> String {
        let Some(c) = self.cluster() else {
            return String::new();
        };
        let (put, delete) = if added {
            (c.keys().added(address), c.keys().removed(address))
        } else {
            (c.keys().removed(address), c.keys().added(address))
        };
        self.share(vec![(put, b"{}".to_vec())], vec![delete]).await
    }

    /// Applies the shared runtime values whenever the cluster view changes,
    /// until shutdown.
    pub async fn follow_cluster(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let Some(cluster) = self.cluster().cloned() else {
            return;
        };
        let mut changes = cluster.subscribe();
        // this instance's backups' drains, into its record
        let mut drains = tokio::time::interval(BACKUP_DRAIN_PUBLISH);
        drains.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
                r = changes.changed() => {
                    if r.is_err() {
                        break;
                    }
                    self.apply_shared(&cluster.view());
                }
                _ = drains.tick() => cluster.set_backup_drained(self.monitor.backup_drained()),
            }
        }
    }

    /// Applies the shared values that differ from this instance's.
    pub fn apply_shared(&self, view: &ClusterView) {
        if view.generation == 0 {
            return;
        }
        if view.etcd_up && !view.routers.is_empty() {
            // the per-server connection caps are divided among the instances
            let n = view.routers.len();
            let old = self
                .ctx
                .backends
                .instances
                .swap(n, std::sync::atomic::Ordering::Relaxed);
            if old != n {
                tracing::info!(instances = n, "live sqlyard instances changed: each server's connection cap is divided by {n}");
            }
        }
        // servers added or removed on another instance
        let config = self.config();
        let mut servers = config.servers.clone();
        let mut changed = Vec::new();
        for address in view.added.keys() {
            if !servers.iter().any(|s| s.address == *address) {
                servers.push(ServerConfig::new(address));
                changed.push(format!("added {address}"));
            }
        }
        let snap = self.ctx.topology.load();
        for address in &view.removed {
            if !servers.iter().any(|s| s.address == *address) {
                continue;
            }
            if snap.primary_server().is_some_and(|p| p.address == *address) {
                tracing::warn!(server = %address, "REMOVE SERVER from another instance names the primary here: not removed");
                continue;
            }
            servers.retain(|s| s.address != *address);
            changed.push(format!("removed {address}"));
        }
        if !changed.is_empty() {
            let mut new = (*config).clone();
            new.servers = servers;
            let report = self.apply(new);
            tracing::info!(changes = ?changed, %report, "server list changed by another sqlyard instance");
        }
        // backups other instances take: their sources are drained here too
        let me = self.cluster().map(|c| c.instance().to_string());
        let drained: Vec<String> = view
            .routers
            .iter()
            .filter(|r| Some(&r.instance) != me.as_ref())
            .flat_map(|r| r.backup_drained.iter().cloned())
            .collect();
        let listed = drained.clone();
        if self.monitor.set_shared_backup_drained(drained) {
            tracing::info!(servers = ?listed, "servers read by another sqlyard instance's backup (drained while it runs)");
        }
        // SET SERVER states (the operator's state, not a backup's drain)
        let snap = self.ctx.topology.load();
        for (address, state) in &view.server_states {
            let Some(state) = AdminState::parse(state) else {
                continue;
            };
            if snap.server(address).is_some()
                && self.monitor.admin_state(address) != state
                && self.set_server_state(address, state).is_ok()
            {
                tracing::info!(server = %address, state = %state, "server state set on another sqlyard instance");
            }
        }
        // SET AUTOFAILOVER
        if let Some(on) = view.autofailover {
            if self.ctx.failover.status().auto != on {
                self.ctx.failover.set_auto(on);
                tracing::info!(
                    on,
                    "automatic failover switched on another sqlyard instance"
                );
            }
        }
    }
}
