//! Problem: a few metrics can only be counted where a statement finishes
//! (queries by server, role and route reason, and their durations), on the
//! hot path of every session. This file defines those metrics once, in a
//! registry owned by the router (no global statics, so tests can run many
//! routers in one process), and caches the labelled series so counting a
//! statement costs one map lookup and no allocation after the first time.
//! The failover counter and histograms (`failover.rs`) live in the same
//! registry, since they too must persist between scrapes.

use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::RwLock;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use super::error::MetricsError;
use super::failover::FailoverMetrics;
use crate::router::QueryRecord;

/// Upper bounds of the query duration histogram, in seconds: from half a
/// millisecond (a point read on a local server) to ten seconds.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Roles whose duration series are resolved up front.
const ROLES: [&str; 2] = ["primary", "replica"];

/// The series one server's statements are counted in, by role and reason.
#[derive(Default)]
struct ServerSeries {
    by_route: RwLock<Vec<(&'static str, &'static str, IntCounter)>>,
}

/// Metrics counted on the hot path, plus the build info.
pub struct HotMetrics {
    registry: Registry,
    queries: IntCounterVec,
    durations: HistogramVec,
    /// `durations` resolved for the usual roles.
    duration_by_role: Vec<(&'static str, Histogram)>,
    /// `queries` resolved per server, role and reason.
    series: DashMap<Arc<str>, Arc<ServerSeries>>,
    /// Failover counter and histograms (kept between scrapes).
    pub failover: FailoverMetrics,
}

impl std::fmt::Debug for HotMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HotMetrics")
            .field("servers", &self.series.len())
            .finish_non_exhaustive()
    }
}

pub(super) fn define<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    name: &'static str,
    made: Result<C, prometheus::Error>,
) -> Result<C, MetricsError> {
    let c = made.map_err(|source| MetricsError::Define { name, source })?;
    registry
        .register(Box::new(c.clone()))
        .map_err(|source| MetricsError::Define { name, source })?;
    Ok(c)
}

impl HotMetrics {
    /// Defines the hot-path metrics and `sqlyard_build_info` in a new registry.
    pub fn new() -> Result<HotMetrics, MetricsError> {
        let registry = Registry::new();
        let queries = define(
            &registry,
            "sqlyard_queries_total",
            IntCounterVec::new(
                Opts::new(
                    "sqlyard_queries_total",
                    "Statements finished, by backend server, its role and the routing reason.",
                ),
                &["server", "role", "route_reason"],
            ),
        )?;
        let durations = define(
            &registry,
            "sqlyard_query_duration_seconds",
            HistogramVec::new(
                HistogramOpts::new(
                    "sqlyard_query_duration_seconds",
                    "Time from a client's request to the end of the response, by role of the server that ran it.",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["role"],
            ),
        )?;
        let build = define(
            &registry,
            "sqlyard_build_info",
            IntGaugeVec::new(
                Opts::new(
                    "sqlyard_build_info",
                    "Always 1; the version of this sqlyard.",
                ),
                &["version"],
            ),
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let duration_by_role = ROLES
            .iter()
            .map(|r| (*r, durations.with_label_values(&[*r])))
            .collect();
        let failover = FailoverMetrics::new(&registry)?;
        Ok(HotMetrics {
            failover,
            registry,
            queries,
            durations,
            duration_by_role,
            series: DashMap::new(),
        })
    }

    /// The registry holding these metrics.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Counts one finished statement.
    pub fn observe(&self, rec: &QueryRecord<'_>) {
        self.count_query(rec.server, rec.role, rec.reason.as_str());
        let secs = rec.duration.as_secs_f64();
        match self.duration_by_role.iter().find(|(r, _)| *r == rec.role) {
            Some((_, h)) => h.observe(secs),
            None => self.durations.with_label_values(&[rec.role]).observe(secs),
        }
    }

    /// Adds one to the `sqlyard_queries_total` series of a server, role
    /// and reason; resolves the series on first use only.
    fn count_query(&self, server: &str, role: &'static str, reason: &'static str) {
        let same = |(ro, re, _): &&(&str, &str, IntCounter)| *ro == role && *re == reason;
        if let Some(series) = self.series.get(server) {
            if let Some((_, _, c)) = series.by_route.read().iter().find(same) {
                c.inc();
                return;
            }
        }
        let series = self.series.entry(Arc::from(server)).or_default().clone();
        let mut w = series.by_route.write();
        if let Some((_, _, c)) = w.iter().find(same) {
            c.inc();
            return;
        }
        let c = self.queries.with_label_values(&[server, role, reason]);
        c.inc();
        w.push((role, reason, c));
    }
}
