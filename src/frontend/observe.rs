//! Problem: every statement a client runs feeds the counters behind
//! `SHOW SERVERS`, `SHOW QUERY DIGEST` and the Prometheus metrics. The
//! session reports each finished statement once, here, and this fans the
//! record out, so the data path has one call and no knowledge of who
//! listens.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::context::Context;
use crate::router::RouteReason;

/// One finished statement.
#[derive(Debug, Clone, Copy)]
pub struct QueryRecord<'a> {
    /// The statement text (COM_QUERY) or the prepared statement's text.
    pub sql: &'a [u8],
    /// The backend server that ran it.
    pub server: &'a str,
    /// `primary` or `replica`.
    pub role: &'static str,
    pub reason: RouteReason,
    /// From the request to the end of the response.
    pub duration: Duration,
    /// Rows returned, or rows affected.
    pub rows: u64,
    /// The server answered with an error.
    pub error: bool,
}

/// Records one finished statement everywhere it is counted.
pub fn observe(ctx: &Context, rec: &QueryRecord<'_>) {
    let server = ctx.stats.server(rec.server);
    server.queries.fetch_add(1, Ordering::Relaxed);
    if rec.error {
        server.query_errors.fetch_add(1, Ordering::Relaxed);
    }
    ctx.metrics.observe_query(rec);
    ctx.digest.record(rec);
}
