//! Problem: opening a server connection per client wastes the servers'
//! memory and the clients' time. Connections are pooled per server and per
//! [`PoolKey`] (the user and the capability flags that change results), with
//! a maximum size, and a statement that finds the pool exhausted queues for
//! a bounded time before it gets a clear error.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::BackendConn;
use super::credentials::Credentials;
use super::error::BackendError;
use crate::protocol::constants::cap;

/// Client capability flags that change what a server sends back; clients
/// that differ in these cannot share backend connections.
pub const KEY_CAPS_MASK: u32 =
    cap::FOUND_ROWS | cap::DEPRECATE_EOF | cap::IGNORE_SPACE | cap::LOCAL_FILES;

/// What makes backend connections interchangeable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolKey {
    pub user: Arc<str>,
    /// Client capabilities masked by [`KEY_CAPS_MASK`].
    pub caps: u32,
    /// The connection collation chosen at handshake.
    pub collation: u8,
}

impl PoolKey {
    pub fn new(user: Arc<str>, client_caps: u32, collation: u8) -> Self {
        PoolKey {
            user,
            caps: client_caps & KEY_CAPS_MASK,
            collation,
        }
    }
}

/// Pool limits and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: usize,
    pub checkout_timeout: Duration,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub min_idle: usize,
    /// How long a session keeps its connection for its next statement.
    pub linger: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_size: 200,
            checkout_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(60),
            min_idle: 0,
            linger: Duration::from_millis(5),
        }
    }
}

/// Counters of one pool.
#[derive(Debug, Default)]
pub struct PoolStats {
    pub open: AtomicUsize,
    pub in_use: AtomicUsize,
    pub created: AtomicU64,
    pub connect_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub checkouts: AtomicU64,
    pub replaced_dead: AtomicU64,
}

/// The connections to one server for one key.
pub struct Pool {
    pub addr: Arc<str>,
    pub key: PoolKey,
    settings: PoolSettings,
    idle: Mutex<Vec<BackendConn>>,
    permits: Arc<Semaphore>,
    /// Connections kept by sessions for their next statement; they come
    /// back within `linger`, so waiting for one beats opening another.
    pub lingering: AtomicUsize,
    released: tokio::sync::Notify,
    pub stats: PoolStats,
}

/// A checked-out connection. Return it with [`PooledConn::release`];
/// dropping it closes the connection (used after errors).
pub struct PooledConn {
    conn: Option<BackendConn>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl Deref for PooledConn {
    type Target = BackendConn;
    fn deref(&self) -> &BackendConn {
        // Invariant: `conn` is Some until release/drop consumes self.
        self.conn.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut BackendConn {
        self.conn.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl PooledConn {
    /// Returns a healthy connection to its pool.
    pub fn release(mut self) {
        if let Some(mut c) = self.conn.take() {
            c.last_used = Instant::now();
            c.io.shrink();
            self.pool.stats.in_use.fetch_sub(1, Ordering::Relaxed);
            self.pool.idle.lock().push(c);
            self.pool.released.notify_one();
        }
    }

    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.pool.stats.in_use.fetch_sub(1, Ordering::Relaxed);
            self.pool.stats.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Pool {
    pub fn new(addr: Arc<str>, key: PoolKey, settings: PoolSettings) -> Arc<Pool> {
        let max = settings.max_size.max(1);
        Arc::new(Pool {
            addr,
            key,
            settings,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max)),
            lingering: AtomicUsize::new(0),
            released: tokio::sync::Notify::new(),
            stats: PoolStats::default(),
        })
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    pub fn idle_count(&self) -> usize {
        self.idle.lock().len()
    }

    /// Checks out a connection, preferring one last synced to `session`.
    /// With `no_db`, only a connection without a current database will do
    /// (no command unselects a database), else a new one is opened.
    pub async fn get(
        self: &Arc<Self>,
        creds: &Credentials,
        session: Option<u32>,
        no_db: bool,
    ) -> Result<PooledConn, BackendError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let wait = self.settings.checkout_timeout;
                match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                        return Err(BackendError::PoolTimeout {
                            addr: self.addr.to_string(),
                            ms: wait.as_millis(),
                            max: self.settings.max_size,
                        });
                    }
                }
            }
        };
        self.stats.checkouts.fetch_add(1, Ordering::Relaxed);
        let wait_until =
            tokio::time::Instant::now() + self.settings.linger + Duration::from_millis(1);
        loop {
            while let Some(conn) = self.pop_idle(session, no_db) {
                if is_alive(&conn) {
                    self.stats.in_use.fetch_add(1, Ordering::Relaxed);
                    return Ok(PooledConn {
                        conn: Some(conn),
                        pool: self.clone(),
                        _permit: permit,
                    });
                }
                // died while idle (server restart, wait_timeout): replace it
                self.stats.open.fetch_sub(1, Ordering::Relaxed);
                self.stats.replaced_dead.fetch_add(1, Ordering::Relaxed);
            }
            // A session keeping a connection for its next statement gives
            // it back within `linger`: wait for that rather than grow.
            if self.lingering.load(Ordering::Relaxed) == 0
                || tokio::time::timeout_at(wait_until, self.released.notified())
                    .await
                    .is_err()
            {
                break;
            }
        }
        if no_db {
            // keep the pool within its size: close a connection that has a database
            if self.idle.lock().pop().is_some() {
                self.stats.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let conn = self.connect(creds).await?;
        self.stats.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(PooledConn {
            conn: Some(conn),
            pool: self.clone(),
            _permit: permit,
        })
    }

    async fn connect(&self, creds: &Credentials) -> Result<BackendConn, BackendError> {
        let cred = creds
            .get(&self.key.user)
            .ok_or_else(|| BackendError::NoCredential {
                addr: self.addr.to_string(),
                user: self.key.user.to_string(),
                reason: "unknown user",
            })?;
        match BackendConn::connect(&self.addr, &cred, &self.key, self.settings.connect_timeout)
            .await
        {
            Ok(c) => {
                self.stats.created.fetch_add(1, Ordering::Relaxed);
                self.stats.open.fetch_add(1, Ordering::Relaxed);
                Ok(c)
            }
            Err(e) => {
                self.stats.connect_errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn pop_idle(&self, session: Option<u32>, no_db: bool) -> Option<BackendConn> {
        let mut idle = self.idle.lock();
        if no_db {
            let i = idle.iter().rposition(|c| c.state.db.is_none())?;
            return Some(idle.swap_remove(i));
        }
        if let Some(sid) = session {
            // look at the most recently used few for one that already holds our state
            let n = idle.len();
            for i in (n.saturating_sub(8)..n).rev() {
                if idle[i].synced_to.map(|(s, _)| s) == Some(sid) {
                    return Some(idle.swap_remove(i));
                }
            }
        }
        idle.pop()
    }

    /// Closes idle connections beyond `min_idle` that have been idle longer
    /// than the idle timeout (or all of them when `all`).
    pub fn reap(&self, all: bool) -> usize {
        let now = Instant::now();
        let mut idle = self.idle.lock();
        let before = idle.len();
        let keep_min = if all { 0 } else { self.settings.min_idle };
        let timeout = self.settings.idle_timeout;
        let mut kept = 0usize;
        // newest last: keep the newest ones
        let mut out = Vec::with_capacity(idle.len());
        for c in idle.drain(..).rev() {
            if !all && (kept < keep_min || now.duration_since(c.last_used) < timeout) {
                kept += 1;
                out.push(c);
            }
        }
        out.reverse();
        *idle = out;
        let closed = before - idle.len();
        self.stats.open.fetch_sub(closed, Ordering::Relaxed);
        closed
    }
}

/// A cheap, non-blocking check that the server has not closed the socket
/// (or sent anything unasked, like a timeout error) while it sat idle.
fn is_alive(conn: &BackendConn) -> bool {
    let mut b = [0u8; 1];
    match conn.io.get_ref().try_read(&mut b) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// All pools, by server address and key.
pub struct Backends {
    pools: DashMap<(Arc<str>, PoolKey), Arc<Pool>>,
    settings: parking_lot::RwLock<PoolSettings>,
    pub credentials: Credentials,
}

impl Backends {
    pub fn new(settings: PoolSettings, credentials: Credentials) -> Arc<Backends> {
        Arc::new(Backends {
            pools: DashMap::new(),
            settings: parking_lot::RwLock::new(settings),
            credentials,
        })
    }

    /// The pool for `addr` and `key`, created on first use.
    pub fn pool(&self, addr: &Arc<str>, key: &PoolKey) -> Arc<Pool> {
        if let Some(p) = self.pools.get(&(addr.clone(), key.clone())) {
            return p.clone();
        }
        let settings = self.settings.read().clone();
        self.pools
            .entry((addr.clone(), key.clone()))
            .or_insert_with(|| Pool::new(addr.clone(), key.clone(), settings))
            .clone()
    }

    /// Replaces the settings new pools get (existing pools keep theirs).
    pub fn set_settings(&self, settings: PoolSettings) {
        *self.settings.write() = settings;
    }

    /// Every pool, for admin and metrics.
    pub fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools.iter().map(|e| e.value().clone()).collect()
    }

    /// Idle and in-use connection counts for one server.
    pub fn server_counts(&self, addr: &str) -> (usize, usize) {
        let mut idle = 0;
        let mut in_use = 0;
        for e in self.pools.iter() {
            if &*e.key().0 == addr {
                idle += e.value().idle_count();
                in_use += e.value().stats.in_use.load(Ordering::Relaxed);
            }
        }
        (idle, in_use)
    }

    /// Closes every idle connection to `addr` (server set OFFLINE).
    pub fn close_idle_to(&self, addr: &str) -> usize {
        let mut closed = 0;
        for e in self.pools.iter() {
            if &*e.key().0 == addr {
                closed += e.value().reap(true);
            }
        }
        closed
    }

    /// Closes idle connections of servers no longer configured, and
    /// reaps idle connections past the idle timeout.
    pub fn reap(&self, servers: &[String]) {
        self.pools.retain(|(addr, _), pool| {
            let keep = servers.iter().any(|s| s.as_str() == &**addr);
            pool.reap(!keep);
            keep || pool.stats.in_use.load(Ordering::Relaxed) > 0
        });
    }
}
