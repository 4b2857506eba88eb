//! Problem: opening a server connection per client wastes the servers'
//! memory and the clients' time. Connections are pooled per server and per
//! [`PoolKey`] (the user and the capability flags that change results), with
//! a maximum size, and a statement that finds the pool exhausted queues for
//! a bounded time before it gets a clear error.
//!
//! Settings are live: a config reload reaches existing pools. A smaller
//! `max_size` takes effect as connections come back (permits are retired
//! instead of returned), a larger one at once.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::conn::BackendConn;
use super::credentials::Credentials;
use super::error::BackendError;
use super::prepared::{close_packet, StmtHandles};
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
    /// MariaDB extended capabilities the client negotiated, of those
    /// sqlyard passes through (`ext_cap::SUPPORTED`): a connection asked
    /// for progress reports sends them, so it serves only such clients.
    pub ext: u32,
}

impl PoolKey {
    pub fn new(user: Arc<str>, client_caps: u32, collation: u8) -> Self {
        PoolKey {
            user,
            caps: client_caps & KEY_CAPS_MASK,
            collation,
            ext: 0,
        }
    }

    /// The same key for a client with MariaDB extended capabilities `ext`.
    pub fn with_ext(mut self, ext: u32) -> Self {
        self.ext = ext & crate::protocol::constants::ext_cap::SUPPORTED;
        self
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
    /// Statements one connection keeps prepared on its server.
    pub max_prepared: usize,
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
            max_prepared: 64,
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
    settings: ArcSwap<PoolSettings>,
    idle: Mutex<Vec<BackendConn>>,
    permits: Arc<Semaphore>,
    /// The size permits are issued for, and how many of them must still be
    /// retired (taken out of circulation when they come back) after a
    /// shrink; both change only under this lock.
    sizing: Mutex<Sizing>,
    /// Connections kept by sessions for their next statement; they come
    /// back within `linger`, so waiting for one beats opening another.
    pub lingering: AtomicUsize,
    released: tokio::sync::Notify,
    pub stats: PoolStats,
    /// The counters of the server (shared by its pools).
    pub server: Arc<super::ServerStats>,
    /// Client handles of prepared statements (shared by every pool).
    pub stmt_handles: Arc<StmtHandles>,
}

/// A checked-out connection. Return it with [`PooledConn::release`];
/// dropping it closes the connection (used after errors).
pub struct PooledConn {
    conn: Option<BackendConn>,
    pool: Arc<Pool>,
    permit: Option<OwnedSemaphorePermit>,
}

/// Permit accounting of a pool (see [`Pool::set_settings`]).
#[derive(Debug, Default)]
struct Sizing {
    max: usize,
    debt: usize,
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
    /// Returns a healthy connection to its pool. Statements no client
    /// holds any more are closed with its next command.
    pub fn release(mut self) {
        if let Some(mut c) = self.conn.take() {
            for id in c.prepared.release_unused(&self.pool.stmt_handles) {
                c.io.queue(0, &close_packet(id));
            }
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
        if let Some(permit) = self.permit.take() {
            self.pool.give_back(permit);
        }
    }
}

impl Pool {
    pub fn new(
        addr: Arc<str>,
        key: PoolKey,
        settings: PoolSettings,
        server: Arc<super::ServerStats>,
        stmt_handles: Arc<StmtHandles>,
    ) -> Arc<Pool> {
        let max = settings.max_size.max(1);
        Arc::new(Pool {
            server,
            addr,
            key,
            settings: ArcSwap::from_pointee(settings),
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(max)),
            sizing: Mutex::new(Sizing { max, debt: 0 }),
            lingering: AtomicUsize::new(0),
            released: tokio::sync::Notify::new(),
            stats: PoolStats::default(),
            stmt_handles,
        })
    }

    /// The settings in force now.
    pub fn settings(&self) -> Arc<PoolSettings> {
        self.settings.load_full()
    }

    /// Replaces the settings of this pool. Timeouts apply to the next
    /// checkout and the next reap; a new `max_size` resizes the permits.
    pub fn set_settings(&self, settings: PoolSettings) {
        let new_max = settings.max_size.max(1);
        self.settings.store(Arc::new(settings));
        let mut sizing = self.sizing.lock();
        if new_max > sizing.max {
            let mut grow = new_max - sizing.max;
            let paid = grow.min(sizing.debt);
            sizing.debt -= paid;
            grow -= paid;
            self.permits.add_permits(grow);
        } else if new_max < sizing.max {
            let shrink = sizing.max - new_max;
            let forgotten = self.permits.forget_permits(shrink);
            sizing.debt += shrink - forgotten;
        }
        sizing.max = new_max;
    }

    /// Returns a permit, or retires it while a shrink is still owed.
    fn give_back(&self, permit: OwnedSemaphorePermit) {
        let mut sizing = self.sizing.lock();
        if sizing.debt > 0 {
            sizing.debt -= 1;
            permit.forget();
        }
    }

    /// Permits that can be checked out right now (for tests and admin).
    pub fn available(&self) -> usize {
        self.permits.available_permits()
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
        tls: &crate::tls::BackendTls,
        session: Option<u32>,
        no_db: bool,
    ) -> Result<PooledConn, BackendError> {
        let settings = self.settings.load_full();
        let started = Instant::now();
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                let wait = settings.checkout_timeout;
                match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                        return Err(BackendError::PoolTimeout {
                            addr: self.addr.to_string(),
                            ms: wait.as_millis(),
                            max: settings.max_size,
                        });
                    }
                }
            }
        };
        self.stats.checkouts.fetch_add(1, Ordering::Relaxed);
        let wait_until = tokio::time::Instant::now() + settings.linger + Duration::from_millis(1);
        loop {
            while let Some(conn) = self.pop_idle(session, no_db) {
                if is_alive(&conn) {
                    self.stats.in_use.fetch_add(1, Ordering::Relaxed);
                    return Ok(PooledConn {
                        conn: Some(conn),
                        pool: self.clone(),
                        permit: Some(permit),
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
        // one more connection to this server, within its limit across pools
        let deadline = tokio::time::Instant::from_std(started) + settings.checkout_timeout;
        let Some(slot) = super::server_limit::take(&self.server, self, deadline).await else {
            self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
            return Err(BackendError::ServerConnLimit {
                addr: self.addr.to_string(),
                ms: settings.checkout_timeout.as_millis(),
                max: self.server.conns.limit(),
            });
        };
        let mut conn = self.connect(creds, tls, settings.connect_timeout).await?;
        conn.slot = Some(slot);
        self.stats.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(PooledConn {
            conn: Some(conn),
            pool: self.clone(),
            permit: Some(permit),
        })
    }

    /// Closes this pool's oldest idle connection (with COM_QUIT, so the
    /// server does not count an aborted client), to free its place in the
    /// server's limit for another pool. Returns whether there was one.
    pub async fn close_oldest_idle(&self) -> bool {
        let mut oldest = {
            let mut idle = self.idle.lock();
            if idle.is_empty() {
                return false;
            }
            idle.remove(0)
        };
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
        tracing::debug!(server = %self.addr, user = %self.key.user, "closing an idle connection: another pool needs its place");
        let quit = [crate::protocol::constants::com::QUIT];
        let _ = tokio::time::timeout(Duration::from_millis(200), oldest.io.send(0, &quit)).await;
        true
    }

    async fn connect(
        &self,
        creds: &Credentials,
        tls: &crate::tls::BackendTls,
        connect_timeout: Duration,
    ) -> Result<BackendConn, BackendError> {
        let cred = creds
            .get(&self.key.user)
            .ok_or_else(|| BackendError::NoCredential {
                addr: self.addr.to_string(),
                user: self.key.user.to_string(),
                reason: "unknown user",
            })?;
        let tls = tls.get();
        match BackendConn::connect(&self.addr, &cred, &self.key, connect_timeout, &tls).await {
            Ok(c) => {
                self.stats.created.fetch_add(1, Ordering::Relaxed);
                self.stats.open.fetch_add(1, Ordering::Relaxed);
                let transport = c.io.get_ref();
                *self.server.tls.lock() =
                    transport
                        .tls_info()
                        .map(|info| super::server_stats::SeenTls {
                            info,
                            not_after: transport.peer_not_after(),
                        });
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
        let settings = self.settings.load();
        let keep_min = if all { 0 } else { settings.min_idle };
        let timeout = settings.idle_timeout;
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

    /// Closes every idle connection politely: COM_QUIT, then close (at
    /// shutdown, so the servers log no aborted connections).
    pub async fn quit_idle(&self) -> usize {
        let conns: Vec<BackendConn> = std::mem::take(&mut *self.idle.lock());
        let n = conns.len();
        self.stats.open.fetch_sub(n, Ordering::Relaxed);
        for mut c in conns {
            let quit = [crate::protocol::constants::com::QUIT];
            let _ = tokio::time::timeout(Duration::from_millis(200), c.io.send(0, &quit)).await;
        }
        n
    }
}

/// A cheap, non-blocking check that the server has not closed the socket
/// (or sent anything unasked, like a timeout error) while it sat idle.
/// Over TLS the byte read is lost, which does not matter: a connection
/// with anything to read is dropped.
fn is_alive(conn: &BackendConn) -> bool {
    let mut b = [0u8; 1];
    let Some(tcp) = conn.io.get_ref().tcp() else {
        return false;
    };
    match tcp.try_read(&mut b) {
        Ok(_) => false,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

/// All pools, by server address and key.
pub struct Backends {
    pools: DashMap<(Arc<str>, PoolKey), Arc<Pool>>,
    settings: parking_lot::RwLock<PoolSettings>,
    pub credentials: Credentials,
    /// TLS towards the servers (`[backend_tls]`).
    pub tls: crate::tls::BackendTls,
    /// Servers failover gave up on: statements running there end.
    pub lost: super::lost::ServerLoss,
    /// Per-server counters (statements, errors, load).
    pub servers: super::ServerStatsMap,
    /// Client handles of prepared statements, by text (see `prepared`).
    pub stmt_handles: Arc<StmtHandles>,
    /// Live sqlyard instances sharing the servers (`[cluster]`; 1 alone):
    /// each server's connection cap is divided by it.
    pub instances: std::sync::atomic::AtomicUsize,
}

impl Backends {
    pub fn new(
        settings: PoolSettings,
        credentials: Credentials,
        tls: crate::tls::BackendTls,
    ) -> Arc<Backends> {
        Arc::new(Backends {
            pools: DashMap::new(),
            settings: parking_lot::RwLock::new(settings),
            credentials,
            tls,
            lost: super::lost::ServerLoss::default(),
            servers: super::ServerStatsMap::default(),
            stmt_handles: Arc::default(),
            instances: std::sync::atomic::AtomicUsize::new(1),
        })
    }

    /// The pool for `addr` and `key`, created on first use.
    pub fn pool(&self, addr: &Arc<str>, key: &PoolKey) -> Arc<Pool> {
        if let Some(p) = self.pools.get(&(addr.clone(), key.clone())) {
            return p.clone();
        }
        // Held across the insert so a concurrent set_settings cannot miss
        // the new pool (lock order: settings, then the map).
        let settings = self.settings.read();
        self.pools
            .entry((addr.clone(), key.clone()))
            .or_insert_with(|| {
                let server = self.servers.get(addr);
                let pool = Pool::new(
                    addr.clone(),
                    key.clone(),
                    settings.clone(),
                    server.clone(),
                    self.stmt_handles.clone(),
                );
                server.conns.add_pool(&pool);
                pool
            })
            .clone()
    }

    /// Replaces the settings of every pool, existing and future.
    pub fn set_settings(&self, settings: PoolSettings) {
        *self.settings.write() = settings.clone();
        for e in self.pools.iter() {
            e.value().set_settings(settings.clone());
        }
    }

    /// Sends COM_QUIT on every idle connection and closes it (shutdown).
    pub async fn quit_idle(&self) -> usize {
        let mut closed = 0;
        for pool in self.pools() {
            closed += pool.quit_idle().await;
        }
        closed
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(max: usize) -> Arc<Pool> {
        let key = PoolKey::new(Arc::from("app"), 0, 45);
        let settings = PoolSettings {
            max_size: max,
            ..Default::default()
        };
        Pool::new(
            Arc::from("127.0.0.1:1"),
            key,
            settings,
            Default::default(),
            Default::default(),
        )
    }

    fn with_max(max: usize) -> PoolSettings {
        PoolSettings {
            max_size: max,
            idle_timeout: Duration::from_secs(7),
            ..Default::default()
        }
    }

    #[test]
    fn settings_reach_an_existing_pool() {
        let p = pool(4);
        assert_eq!(p.available(), 4);
        p.set_settings(with_max(6));
        assert_eq!(p.available(), 6);
        assert_eq!(p.settings().idle_timeout, Duration::from_secs(7));
        p.set_settings(with_max(2));
        assert_eq!(p.available(), 2);
        p.set_settings(with_max(0)); // treated as 1, like at creation
        assert_eq!(p.available(), 1);
    }

    #[test]
    fn shrinking_below_what_is_checked_out_retires_permits_later() {
        let p = pool(3);
        let held: Vec<_> = (0..3)
            .map(|_| p.permits.clone().try_acquire_owned().unwrap())
            .collect();
        p.set_settings(with_max(1));
        assert_eq!(p.sizing.lock().debt, 2);
        // Growing again first cancels what is still owed.
        p.set_settings(with_max(2));
        assert_eq!(p.sizing.lock().debt, 1);
        assert_eq!(p.available(), 0);
        // Returned permits pay the debt first (PooledConn::drop does this).
        let mut held = held.into_iter();
        p.give_back(held.next().unwrap());
        assert_eq!(p.available(), 0);
        assert_eq!(p.sizing.lock().debt, 0);
        for permit in held {
            p.give_back(permit);
        }
        assert_eq!(p.available(), 2);
    }

    #[test]
    fn backends_push_settings_to_every_pool() {
        let b = Backends::new(
            with_max(3),
            Credentials::default(),
            crate::tls::BackendTls::plaintext(),
        );
        let key = PoolKey::new(Arc::from("app"), 0, 45);
        let p1 = b.pool(&Arc::from("127.0.0.1:1"), &key);
        let p2 = b.pool(&Arc::from("127.0.0.1:2"), &key);
        b.set_settings(PoolSettings {
            max_size: 5,
            min_idle: 1,
            ..Default::default()
        });
        for p in [p1, p2] {
            assert_eq!(p.settings().max_size, 5);
            assert_eq!(p.settings().min_idle, 1);
            assert_eq!(p.available(), 5);
        }
        let p3 = b.pool(&Arc::from("127.0.0.1:3"), &key);
        assert_eq!(p3.settings().max_size, 5);
    }
}
