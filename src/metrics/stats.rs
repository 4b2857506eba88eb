//! Problem: the sessions count what they do (connections, statements,
//! bytes, pins, read-your-writes outcomes, errors by origin) on the hot
//! path, with no lock and no lookup, and the exporters read the totals at
//! scrape time. These are those counters: plain atomics the app root owns
//! and the sessions bump.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::backend::pins::PIN_KINDS;

/// Counters shared by all sessions (exported by the metrics issue).
#[derive(Debug, Default)]
pub struct Stats {
    pub accepted: AtomicU64,
    pub active: AtomicU64,
    pub auth_failures: AtomicU64,
    /// Logins made to wait after consecutive failures.
    pub auth_delays: AtomicU64,
    pub queries: AtomicU64,
    pub query_errors: AtomicU64,
    pub backend_errors: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub state_syncs: AtomicU64,
    pub pins_total: [AtomicU64; PIN_KINDS],
    pub refused_max_connections: AtomicU64,
    /// Read-your-writes outcomes of reads that had a position to see.
    pub ryw: RywStats,
    /// Reads refused because no replica qualified and
    /// `routing.primary_reads = "never"`.
    pub no_replica_errors: AtomicU64,
    /// ERR packets sqlyard sent to clients, by who caused them
    /// (client, server, sqlyard; see `protocol::origin`).
    pub errors_by_origin: [AtomicU64; 3],
}

/// What happened to each read that had to see a write (read-your-writes),
/// one outcome per read.
#[derive(Debug, Default)]
pub struct RywStats {
    /// A replica already had the position (per the monitor's last poll).
    pub hit: AtomicU64,
    /// A replica was waited on and reached the position in time.
    pub waited: AtomicU64,
    /// The wait on a replica timed out; the read went to the primary.
    pub wait_timeout: AtomicU64,
    /// No replica could have it in time; the read went to the primary.
    pub fallback: AtomicU64,
}

impl RywStats {
    /// (outcome label, counter), for metrics and `SHOW STATS`.
    pub fn outcomes(&self) -> [(&'static str, &AtomicU64); 4] {
        [
            ("hit", &self.hit),
            ("waited", &self.waited),
            ("wait_timeout", &self.wait_timeout),
            ("fallback", &self.fallback),
        ]
    }
}

impl Stats {
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}
