//! Problem: a server keeps every prepared statement until it is closed or
//! its connection ends, and all its clients share one limit
//! (`max_prepared_stmt_count`, 16,382 by default). sqlyard prepares a
//! client's statement on each backend connection it runs on and keeps the
//! connections open for years, so statements the clients closed long ago
//! would pile up until that limit refuses every client's prepares.
//!
//! Two things bound them. [`StmtHandles`] counts, per statement text, the
//! client handles open across all sessions; a backend statement whose text
//! no client holds any more is closed the next time its connection goes
//! back to the pool. [`ConnStatements`] holds at most `cap` statements per
//! backend connection and closes the least recently used one to make room
//! (a client still holding it gets it prepared again where it next runs).
//! Closing costs no round trip: `COM_STMT_CLOSE` has no answer, so the
//! packets go out with the connection's next command.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;

/// A statement prepared on one backend connection.
#[derive(Debug, Clone)]
pub struct PreparedOnConn {
    pub id: u32,
    pub bound_types: Option<Vec<u8>>,
    /// When it was last used on this connection (a per-connection tick).
    used: u64,
}

/// Client handles open per statement text, across every session.
#[derive(Debug, Default)]
pub struct StmtHandles {
    open: DashMap<Bytes, u32>,
    /// Bumped whenever a text loses its last handle.
    released: AtomicU64,
}

/// One client handle of a statement text; closing (dropping) it releases
/// the text when it was the last.
#[derive(Debug)]
pub struct StmtHandle {
    handles: Arc<StmtHandles>,
    sql: Bytes,
}

impl Clone for StmtHandle {
    /// Another handle of the same text.
    fn clone(&self) -> Self {
        self.handles.open(self.sql.clone())
    }
}

impl StmtHandles {
    /// Counts a new client handle of `sql`.
    pub fn open(self: &Arc<Self>, sql: Bytes) -> StmtHandle {
        *self.open.entry(sql.clone()).or_insert(0) += 1;
        StmtHandle {
            handles: self.clone(),
            sql,
        }
    }

    /// True if some client holds a handle of `sql`.
    pub fn in_use(&self, sql: &[u8]) -> bool {
        self.open.contains_key(sql)
    }

    /// Texts with a handle open now.
    pub fn texts_open(&self) -> usize {
        self.open.len()
    }

    fn generation(&self) -> u64 {
        self.released.load(Ordering::Acquire)
    }
}

impl Drop for StmtHandle {
    fn drop(&mut self) {
        let last = match self.handles.open.get_mut(&self.sql) {
            Some(mut n) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            None => false,
        };
        if last {
            // removed only if no handle was opened in between
            self.handles.open.remove_if(&self.sql, |_, n| *n == 0);
            self.handles.released.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// The statements prepared on one backend connection, by SQL text.
#[derive(Debug, Default)]
pub struct ConnStatements {
    by_text: HashMap<Bytes, PreparedOnConn>,
    tick: u64,
    /// The [`StmtHandles`] generation last swept against.
    swept: u64,
}

impl ConnStatements {
    /// The server's id for `sql`, marking it used.
    pub fn lookup(&mut self, sql: &[u8]) -> Option<u32> {
        self.tick += 1;
        let tick = self.tick;
        self.by_text.get_mut(sql).map(|p| {
            p.used = tick;
            p.id
        })
    }

    /// The statement for `sql`, to read or update what is bound to it.
    pub fn get_mut(&mut self, sql: &[u8]) -> Option<&mut PreparedOnConn> {
        self.by_text.get_mut(sql)
    }

    /// The server's id for `sql`, without marking it used.
    pub fn id_of(&self, sql: &[u8]) -> Option<u32> {
        self.by_text.get(sql).map(|p| p.id)
    }

    /// Records `sql` as prepared with server id `id`, keeping at most
    /// `cap` statements. Returns the ids to close on the server: the one
    /// `sql` had before, and the least recently used ones over `cap`.
    pub fn insert(&mut self, sql: Bytes, id: u32, cap: usize) -> Vec<u32> {
        self.tick += 1;
        let mut close = Vec::new();
        let entry = PreparedOnConn {
            id,
            bound_types: None,
            used: self.tick,
        };
        if let Some(old) = self.by_text.insert(sql, entry) {
            if old.id != id {
                close.push(old.id);
            }
        }
        self.evict_over(cap.max(1), &mut close);
        close
    }

    /// Makes room for one more statement before a prepare is sent, so the
    /// server never holds more than `cap`: returns the ids to close (they
    /// go out ahead of the prepare).
    pub fn make_room(&mut self, cap: usize) -> Vec<u32> {
        let mut close = Vec::new();
        self.evict_over(cap.max(1) - 1, &mut close);
        close
    }

    /// Removes least recently used statements until at most `keep` remain.
    fn evict_over(&mut self, keep: usize, close: &mut Vec<u32>) {
        while self.by_text.len() > keep {
            let Some(oldest) = self
                .by_text
                .iter()
                .min_by_key(|(_, p)| p.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(p) = self.by_text.remove(&oldest) {
                close.push(p.id);
            }
        }
    }

    /// Drops the statements no client holds a handle of any more; returns
    /// their ids to close on the server. Cheap when no handle was released
    /// since the last sweep.
    pub fn release_unused(&mut self, handles: &StmtHandles) -> Vec<u32> {
        let generation = handles.generation();
        if generation == self.swept || self.by_text.is_empty() {
            self.swept = generation;
            return Vec::new();
        }
        self.swept = generation;
        let mut close = Vec::new();
        self.by_text.retain(|sql, p| {
            let keep = handles.in_use(sql);
            if !keep {
                close.push(p.id);
            }
            keep
        });
        close
    }

    /// Forgets everything (the server dropped the connection's statements:
    /// a reset).
    pub fn clear(&mut self) {
        self.by_text.clear();
    }

    pub fn len(&self) -> usize {
        self.by_text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_text.is_empty()
    }
}

/// The `COM_STMT_CLOSE` packet of server statement `id`.
pub fn close_packet(id: u32) -> [u8; 5] {
    let b = id.to_le_bytes();
    [
        crate::protocol::constants::com::STMT_CLOSE,
        b[0],
        b[1],
        b[2],
        b[3],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn least_recently_used_statements_make_room() {
        let mut c = ConnStatements::default();
        assert!(c.insert(text("a"), 1, 2).is_empty());
        assert!(c.insert(text("b"), 2, 2).is_empty());
        assert_eq!(c.lookup(b"a"), Some(1)); // b is now the oldest
        assert_eq!(c.insert(text("c"), 3, 2), vec![2]);
        assert_eq!(c.len(), 2);
        assert_eq!(c.id_of(b"b"), None);
        // prepared again under a new id: the old one is closed
        assert_eq!(c.insert(text("a"), 4, 2), vec![1]);
        assert_eq!(c.lookup(b"a"), Some(4));
        // room for one more before a prepare: c (3) is the oldest now
        assert_eq!(c.make_room(2), vec![3]);
        assert_eq!(c.len(), 1);
        assert!(c.make_room(2).is_empty());
    }

    #[test]
    fn statements_no_client_holds_are_released() {
        let handles = Arc::new(StmtHandles::default());
        let mut c = ConnStatements::default();
        let h1 = handles.open(text("a"));
        let h2 = handles.open(text("a"));
        let hb = handles.open(text("b"));
        c.insert(text("a"), 1, 64);
        c.insert(text("b"), 2, 64);
        assert!(c.release_unused(&handles).is_empty());
        drop(h1);
        assert!(c.release_unused(&handles).is_empty(), "a has a handle left");
        drop(hb);
        assert_eq!(c.release_unused(&handles), vec![2]);
        drop(h2);
        assert_eq!(c.release_unused(&handles), vec![1]);
        assert!(c.is_empty());
        assert_eq!(handles.texts_open(), 0);
        // a text opened again after its last close counts from one
        let h3 = handles.open(text("a"));
        assert!(handles.in_use(b"a"));
        drop(h3);
        assert!(!handles.in_use(b"a"));
        assert_eq!(close_packet(7), [0x19, 7, 0, 0, 0]);
    }
}
