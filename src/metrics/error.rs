//! Problem: building and serving the metrics can fail in a few distinct
//! ways (a metric definition the registry rejects, an encoding failure),
//! and callers need to tell them apart. This is the metrics layer's error.

/// Errors of the metrics layer.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The Prometheus registry rejected a metric (bad name, duplicate,
    /// inconsistent labels).
    #[error("metric {name}: {source}")]
    Define {
        name: &'static str,
        source: prometheus::Error,
    },
    /// The gathered metrics could not be written in the text format.
    #[error("encoding metrics: {0}")]
    Encode(#[source] prometheus::Error),
}
