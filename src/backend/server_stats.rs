//! Problem: every statement counts itself against the server that ran it
//! (statements, errors, requests running now for the balancer), and a
//! lookup by address string per statement costs more than the counting.
//! The counters of a server live here, once per address; each pool holds
//! its server's counters, so the data path reaches them through the
//! connection it already has.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

/// Counters of one backend server.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Statements served.
    pub queries: AtomicU64,
    /// Statements that ended in an error from the server.
    pub query_errors: AtomicU64,
    /// Failed attempts to open a backend connection.
    pub connect_errors: AtomicU64,
    /// Requests running on it now (the balancer's load measure).
    pub outstanding: AtomicU64,
    /// Backend connections open to it, and how many its pools may hold.
    pub conns: super::server_limit::ConnLimit,
    /// TLS of the last pool connection opened to it (none: plaintext, or
    /// no connection yet).
    pub tls: parking_lot::Mutex<Option<SeenTls>>,
}

/// The TLS a server's connection uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenTls {
    pub info: crate::tls::TlsInfo,
    /// The end of validity of the server's certificate (Unix seconds).
    pub not_after: Option<i64>,
}

/// The counters of every server used so far, by address.
#[derive(Debug, Default)]
pub struct ServerStatsMap {
    servers: DashMap<Arc<str>, Arc<ServerStats>>,
}

impl ServerStatsMap {
    /// The counters of server `addr` (created on first use).
    pub fn get(&self, addr: &str) -> Arc<ServerStats> {
        if let Some(s) = self.servers.get(addr) {
            return s.clone();
        }
        self.servers.entry(Arc::from(addr)).or_default().clone()
    }

    /// Requests running on `addr` now (0 for a server never used).
    pub fn outstanding(&self, addr: &str) -> u64 {
        self.servers
            .get(addr)
            .map_or(0, |s| s.outstanding.load(Ordering::Relaxed))
    }

    /// (address, counters) of every server used so far.
    pub fn all(&self) -> Vec<(Arc<str>, Arc<ServerStats>)> {
        self.servers
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
    }
}

/// Counts one request running on a server while it lives.
pub struct Outstanding<'a>(&'a ServerStats);

impl<'a> Outstanding<'a> {
    pub fn start(server: &'a ServerStats) -> Outstanding<'a> {
        server.outstanding.fetch_add(1, Ordering::Relaxed);
        Outstanding(server)
    }
}

impl Drop for Outstanding<'_> {
    fn drop(&mut self) {
        self.0.outstanding.fetch_sub(1, Ordering::Relaxed);
    }
}
