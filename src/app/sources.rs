//! Problem: the exporters read the router's state at scrape time without
//! knowing the app root (see `metrics::Sources`); this is the root's side
//! of that contract.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Context;
use crate::backend::pins::Pins;
use crate::backend::Backends;
use crate::config::Config;
use crate::failover::FailoverStatus;
use crate::metrics::{Metrics, Sources, Stats};
use crate::topology::Snapshot;

impl Sources for Context {
    fn config(&self) -> Arc<Config> {
        self.config.load_full()
    }

    fn snapshot(&self) -> Arc<Snapshot> {
        self.topology.load()
    }

    fn backends(&self) -> &Backends {
        &self.backends
    }

    fn stats(&self) -> &Stats {
        &self.stats
    }

    fn buffers(&self) -> Option<&crate::protocol::budget::BufferBudget> {
        Some(&self.buffers)
    }

    fn listener_tls(&self) -> Option<Arc<crate::tls::ServerTls>> {
        self.listener_tls.get()
    }

    fn backups(&self) -> Option<crate::backup::BackupStats> {
        let config = self.config.load();
        config.backup.is_some().then(|| self.backups.stats(&config))
    }

    fn cluster(&self) -> Option<crate::cluster::ClusterHandle> {
        self.cluster.get().cloned()
    }

    fn session_pins(&self) -> Vec<Pins> {
        self.registry
            .all()
            .iter()
            .map(|s| Pins(s.pins.load(Ordering::Relaxed)))
            .collect()
    }

    fn failover(&self) -> Arc<FailoverStatus> {
        self.failover.status()
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}
