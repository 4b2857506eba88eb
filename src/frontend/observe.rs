//! Problem: every statement a client runs feeds the counters behind
//! `SHOW SERVERS`, `SHOW QUERY DIGEST` and the Prometheus metrics. The
//! session reports each finished statement once, here, and this fans the
//! record out, so the data path has one call and no knowledge of who
//! listens.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::app::context::Context;
use crate::backend::ServerStats;
use crate::router::digest::DigestEntry;
use crate::router::QueryRecord;

/// Records one finished statement everywhere it is counted. `digest` is
/// the digest entry the session keeps for this statement's text, filled
/// on first use; `server` the counters of the server that ran it.
pub fn observe(
    ctx: &Context,
    rec: &QueryRecord<'_>,
    server: &ServerStats,
    digest: &mut Option<Arc<DigestEntry>>,
) {
    server.queries.fetch_add(1, Ordering::Relaxed);
    if rec.error {
        server.query_errors.fetch_add(1, Ordering::Relaxed);
    }
    ctx.metrics.observe_query(rec);
    let entry = digest.get_or_insert_with(|| ctx.digest.entry(rec.sql, rec.lexing));
    ctx.digest.record_on(entry, rec);
}

/// Texts a session runs again and again (`SELECT 1`, `SET NAMES …`, a
/// framework's fixed queries) keep their digest entry here, so they are
/// normalized once; the few most recent distinct texts are kept.
#[derive(Debug, Default)]
pub struct DigestCache {
    slots: Vec<(Bytes, Arc<DigestEntry>)>,
    next: usize,
}

impl DigestCache {
    const SLOTS: usize = 8;
    /// Longer texts are not kept (they rarely repeat byte for byte).
    const MAX_TEXT: usize = 512;

    /// The entry kept for `sql`, if any.
    pub fn get(&self, sql: &[u8]) -> Option<Arc<DigestEntry>> {
        let i = self.slots.iter().position(|(t, _)| t.as_ref() == sql)?;
        Some(self.slots[i].1.clone())
    }

    /// Keeps `entry` for `sql`.
    pub fn put(&mut self, sql: &Bytes, entry: Arc<DigestEntry>) {
        if sql.len() > Self::MAX_TEXT {
            return;
        }
        if let Some(slot) = self.slots.iter_mut().find(|(t, _)| t == sql) {
            slot.1 = entry;
            return;
        }
        if self.slots.len() < Self::SLOTS {
            self.slots.push((sql.clone(), entry));
        } else {
            self.slots[self.next] = (sql.clone(), entry);
            self.next = (self.next + 1) % Self::SLOTS;
        }
    }
}
