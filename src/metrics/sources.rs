//! Problem: a scrape reads the whole router's state (configuration,
//! topology, pools, session counters and pins, failover status), but the
//! exporter must not depend on the app root that owns that state: the
//! root owns the exporter's registry too. [`Sources`] is what a scrape may
//! read; the app root implements it.

use std::sync::Arc;

use crate::backend::pins::Pins;
use crate::backend::Backends;
use crate::config::Config;
use crate::failover::FailoverStatus;
use crate::topology::Snapshot;

use super::stats::Stats;
use super::Metrics;

/// The state a scrape reads.
pub trait Sources: Send + Sync {
    /// The running configuration.
    fn config(&self) -> Arc<Config>;
    /// The current topology snapshot.
    fn snapshot(&self) -> Arc<Snapshot>;
    /// The pools and per-server counters.
    fn backends(&self) -> &Backends;
    /// The sessions' counters.
    fn stats(&self) -> &Stats;
    /// The pin reasons of every client session now.
    fn session_pins(&self) -> Vec<Pins>;
    /// What the failover manager published last.
    fn failover(&self) -> Arc<FailoverStatus>;
    /// The hot-path metrics registry.
    fn metrics(&self) -> &Metrics;
    /// The client packet buffer budget (`router.max_buffered_bytes`).
    fn buffers(&self) -> Option<&crate::protocol::budget::BufferBudget> {
        None
    }
    /// The cluster (`[cluster]`), if configured.
    fn cluster(&self) -> Option<crate::cluster::ClusterHandle> {
        None
    }
    /// The backup counters, when `[backup]` is configured.
    fn backups(&self) -> Option<crate::backup::BackupStats> {
        None
    }
    /// The listeners' TLS (`[tls]`), if configured.
    fn listener_tls(&self) -> Option<Arc<crate::tls::ServerTls>> {
        None
    }
}
