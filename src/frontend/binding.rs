//! Problem: a session borrows a backend connection for each statement and
//! keeps it only while something binds the session to it: a transaction,
//! a temporary table, a lock, an open cursor (the pin reasons,
//! `backend::pins`), or the next statement's right to ask about this one
//! (`FOUND_ROWS()`), for at most `pool.linger` of client idleness. The
//! held connection, why it is held, whether it survives idle time and the
//! pools the session used are one piece of state with one set of rules;
//! [`Binding`] keeps them together behind a small API, and the rest of the
//! session never touches the parts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::app::registry::SessionInfo;
use crate::backend::pins::{Pin, Pins};
use crate::backend::pool::Pool;
use crate::backend::{Backends, PoolKey, PooledConn};

/// How many pools (server × pool key) a session remembers.
const POOLS_KEPT: usize = 8;

/// A session's tie to backend connections.
pub struct Binding {
    /// The connection held between statements, if any.
    held: Option<PooledConn>,
    /// Why the session is bound to `held`.
    pins: Pins,
    /// Keep a connection held only for the next statement even past
    /// `pool.linger` (warnings or SQL_CALC_FOUND_ROWS to ask about).
    through_idle: bool,
    /// Pools this session used, so a statement neither allocates nor looks
    /// up a shared map to find one.
    pools: Vec<Arc<Pool>>,
    /// Where other tasks (admin, metrics) read the pin reasons.
    info: Arc<SessionInfo>,
}

const NEXT_ONLY: u32 = 1 << Pin::NextStatement as u8;

impl Binding {
    pub fn new(info: Arc<SessionInfo>) -> Binding {
        Binding {
            held: None,
            pins: Pins::default(),
            through_idle: false,
            pools: Vec::new(),
            info,
        }
    }

    /// Why the session is bound now.
    pub fn pins(&self) -> Pins {
        self.pins
    }

    pub fn has(&self, p: Pin) -> bool {
        self.pins.has(p)
    }

    /// Sets or clears a reason; true when it was newly set (to count it).
    pub fn pin(&mut self, p: Pin, on: bool) -> bool {
        self.pins.set(p, on)
    }

    /// Whether any reason binds the session to a connection.
    pub fn pinned_by_anything(&self) -> bool {
        self.pins.any()
    }

    /// Whether a connection is held.
    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }

    /// The held connection, to look at.
    pub fn held(&self) -> Option<&PooledConn> {
        self.held.as_ref()
    }

    /// The address of the held connection.
    pub fn held_addr(&self) -> Option<&Arc<str>> {
        self.held.as_ref().map(|c| &c.addr)
    }

    /// Whether the session holds its connection for a reason other than
    /// keeping it for the next statement (which is no routing constraint).
    pub fn pinned_for_a_reason(&self) -> bool {
        self.held.is_some() && self.pins.0 & !NEXT_ONLY != 0
    }

    /// Takes the held connection out (to run a statement on it, or to
    /// reset it); the reasons stay until the statement's outcome says.
    pub fn take(&mut self) -> Option<PooledConn> {
        self.held.take()
    }

    /// After a statement: keeps the connection while any reason binds the
    /// session to it, else gives it back to its pool.
    pub fn check_in(&mut self, conn: PooledConn, session: u32) {
        self.publish(session);
        if self.pins.any() {
            self.held = Some(conn);
        } else {
            conn.release();
        }
    }

    /// Whether a connection held only for the next statement survives the
    /// client's idle time.
    pub fn keep_through_idle(&mut self, on: bool) {
        self.through_idle = on;
    }

    /// The pool of a connection held only for the next statement, which
    /// goes back once the client has been idle for `pool.linger` (none
    /// when nothing is held, the hold has another reason, the statement
    /// asked to keep it through idle time, or `request_waiting`).
    pub fn lingering_pool(&self, request_waiting: bool) -> Option<Arc<Pool>> {
        if self.pins.0 != NEXT_ONLY || self.through_idle || request_waiting {
            return None;
        }
        self.held.as_ref().map(|c| c.pool().clone())
    }

    /// Gives back a connection held only for the next statement's sake
    /// (never one pinned for a reason). `offline`: its server was set
    /// OFFLINE, so it is closed instead of pooled.
    pub fn release_unless_pinned(&mut self, offline: impl FnOnce(&str) -> bool) {
        if self.pinned_for_a_reason() {
            return;
        }
        self.pins.set(Pin::NextStatement, false);
        if let Some(conn) = self.held.take() {
            self.info.pins.store(self.pins.0, Ordering::Relaxed);
            // an OFFLINE server's idle connections were closed: do not add one
            if !offline(&conn.addr) {
                conn.release();
            }
        }
    }

    /// The connection was lost, or the session starts afresh: whatever
    /// bound the session to it is gone.
    pub fn lose(&mut self) {
        self.held = None;
        self.pins = Pins::default();
        self.info.pins.store(0, Ordering::Relaxed);
    }

    /// The client leaves. A connection held for a reason may hold temp
    /// tables, locks or a transaction: it is closed, never handed to
    /// someone else. One kept only for the next statement holds nothing:
    /// it goes back to the pool (a client that connects per request, like
    /// PHP, would otherwise cost a new server connection every time).
    pub fn close(&mut self) {
        let only_next = self.pins.0 == NEXT_ONLY;
        if let Some(conn) = self.held.take() {
            if only_next {
                conn.release();
            }
        }
    }

    /// The pool of server `addr` for `key`.
    pub fn pool_at(&mut self, backends: &Backends, addr: &str, key: &PoolKey) -> Arc<Pool> {
        if let Some(p) = self
            .pools
            .iter()
            .find(|p| *p.addr == *addr && p.key == *key)
        {
            return p.clone();
        }
        let pool = backends.pool(&Arc::from(addr), key);
        if self.pools.len() >= POOLS_KEPT {
            self.pools.clear();
        }
        self.pools.push(pool.clone());
        pool
    }

    /// `addr` as a shared string: the one of a pool this session used, so
    /// that naming the primary for every write allocates nothing.
    pub fn interned(&self, addr: &str) -> Arc<str> {
        match self.pools.iter().find(|p| *p.addr == *addr) {
            Some(p) => p.addr.clone(),
            None => Arc::from(addr),
        }
    }

    /// Publishes the reasons for other tasks to read.
    fn publish(&self, session: u32) {
        if self.info.pins.swap(self.pins.0, Ordering::Relaxed) != self.pins.0 {
            tracing::debug!(session, pins = ?self.pins.names(), "pin reasons changed");
        }
    }
}
