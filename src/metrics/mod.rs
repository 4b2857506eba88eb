//! Prometheus metrics.
//!
//! Problem: operators watch sqlyard with Prometheus. Every counter the
//! router keeps must be exported under conventional names, in the text
//! format `promtool check metrics` accepts, on `[router] metrics_listen`,
//! together with liveness and readiness probes.
//!
//! - `registry.rs`: metrics counted on the hot path (queries by server,
//!   role and route reason; query durations) and the build info.
//! - `failover.rs`: failovers by kind and outcome, detection and
//!   duration histograms (each finished failover counted once).
//! - `collect.rs`: values read from the router's state at scrape time
//!   (`Sources`: counters, pools, sessions, topology snapshot).
//! - `sources.rs`: what a scrape may read (the app root implements it).
//! - `stats.rs`: the counters the sessions bump on the hot path.
//! - `health.rs`: the readiness decision.
//! - `http.rs`: the HTTP endpoint.

pub mod collect;
pub mod error;
pub mod failover;
pub mod health;
pub mod http;
pub mod registry;
pub mod sources;
pub mod stats;

use std::sync::atomic::{AtomicBool, Ordering};

use prometheus::proto::MetricFamily;
use prometheus::TextEncoder;

pub use error::MetricsError;
pub use health::NotReady;
pub use http::MetricsListener;
use registry::HotMetrics;
pub use sources::Sources;
pub use stats::{RywStats, Stats};

use crate::failover::FailoverRecord;
use crate::router::QueryRecord;

/// The router's metrics registry.
#[derive(Debug)]
pub struct Metrics {
    /// `None` only if the metric definitions were rejected (a bug, caught
    /// by the unit tests); the router then runs without them.
    hot: Option<HotMetrics>,
    /// Set while the application listener accepts connections.
    accepting: AtomicBool,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let hot = match HotMetrics::new() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::error!(error = %e, "metrics disabled");
                None
            }
        };
        Metrics {
            hot,
            accepting: AtomicBool::new(false),
        }
    }

    /// Counts one finished statement.
    pub fn observe_query(&self, rec: &QueryRecord<'_>) {
        if let Some(h) = &self.hot {
            h.observe(rec);
        }
    }

    /// Counts a finished failover (by kind and outcome) and observes its
    /// detection time and duration. The manager calls it once per finished
    /// failover; a record is counted once even if called again or found in
    /// the history at a scrape.
    pub fn observe_failover(&self, rec: &FailoverRecord) {
        if let Some(h) = &self.hot {
            h.failover.observe(rec);
        }
    }

    /// Records whether the application listener accepts connections.
    pub fn set_accepting(&self, on: bool) {
        self.accepting.store(on, Ordering::Relaxed);
    }

    /// Whether the application listener accepts connections.
    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::Relaxed)
    }

    /// Every metric family, sorted by name: the hot-path registry plus the
    /// values read from `src` now.
    pub fn gather(&self, src: &dyn Sources) -> Result<Vec<MetricFamily>, MetricsError> {
        if let Some(h) = &self.hot {
            // with several instances, each counts the failovers it ran
            let me = src.cluster().map(|c| c.instance().to_string());
            let mine: Vec<crate::failover::FailoverRecord> = src
                .failover()
                .history
                .iter()
                .filter(|r| r.ran_by.is_none() || r.ran_by == me)
                .cloned()
                .collect();
            h.failover.observe_history(&mine);
        }
        let mut families = collect::gather(src)?;
        if let Some(h) = &self.hot {
            families.extend(h.registry().gather());
        }
        families.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(families)
    }

    /// The metrics in the classic Prometheus text format (version 0.0.4).
    pub fn render(&self, src: &dyn Sources) -> Result<String, MetricsError> {
        let families = self.gather(src)?;
        TextEncoder::new()
            .encode_to_string(&families)
            .map_err(MetricsError::Encode)
    }
}

#[cfg(test)]
mod tests;
