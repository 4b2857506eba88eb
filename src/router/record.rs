//! Problem: a finished statement is counted in several places (the
//! digest, the Prometheus histograms, the per-server counters), which must
//! not know the session that ran it. [`QueryRecord`] is what they all get:
//! what ran, where, why there, how long and with what outcome.

use std::time::Duration;

use super::{Lexing, RouteReason};

/// One finished statement.
#[derive(Debug, Clone, Copy)]
pub struct QueryRecord<'a> {
    /// The statement text (COM_QUERY) or the prepared statement's text.
    pub sql: &'a [u8],
    /// How its quotes read (for normalizing it).
    pub lexing: Lexing,
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
