//! Problem: a server gets one pool per user and client flavour, and each
//! pool opens connections up to its own size, so together they could open
//! more than the server accepts (`max_connections`). The server would then
//! refuse everyone, sqlyard's monitor and the operators included. One
//! count per server bounds the connections all its pools hold:
//! `[[servers]] max_connections`, or by default 80% of the server's own
//! `max_connections` as the monitor reads it. With several sqlyard
//! instances (`[cluster]`), each takes its part: the cap divided by the
//! number of live instances.
//!
//! Every backend connection a pool opens holds a [`ConnSlot`] of its
//! server until it is closed. A pool that needs one more when the server
//! is at its limit first closes an idle connection of another pool of
//! the same server (the oldest), and else waits for one to close, within
//! the checkout timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::pool::Pool;

/// The connections sqlyard holds to one server, and how many it may.
#[derive(Debug)]
pub struct ConnLimit {
    open: AtomicUsize,
    limit: AtomicUsize,
    freed: Notify,
    /// The server's pools, to take an idle connection from.
    pools: Mutex<Vec<Weak<Pool>>>,
}

impl Default for ConnLimit {
    fn default() -> Self {
        ConnLimit {
            open: AtomicUsize::new(0),
            limit: AtomicUsize::new(usize::MAX),
            freed: Notify::new(),
            pools: Mutex::new(Vec::new()),
        }
    }
}

/// One open connection's place in its server's limit; dropping it (with
/// the connection) frees the place.
pub struct ConnSlot(Arc<super::ServerStats>);

impl std::fmt::Debug for ConnSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConnSlot")
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        self.0.conns.open.fetch_sub(1, Ordering::AcqRel);
        self.0.conns.freed.notify_one();
    }
}

/// The limit for a server: the configured one, else 80% of what the server
/// reports, else none yet.
pub fn limit_for(configured: Option<u32>, server_max: Option<u64>, instances: usize) -> usize {
    let whole = match (configured, server_max) {
        (Some(n), _) => (n as usize).max(1),
        (None, Some(m)) => usize::try_from(m.saturating_mul(4) / 5)
            .unwrap_or(usize::MAX)
            .max(1),
        (None, None) => return usize::MAX,
    };
    // several instances share the server: each takes its part
    (whole / instances.max(1)).max(1)
}

impl ConnLimit {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// The limit in force (`usize::MAX`: none).
    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Acquire)
    }

    /// Sets the limit (every checkout passes it: a read when unchanged).
    pub fn set_limit(&self, limit: usize) {
        let old = self.limit.load(Ordering::Acquire);
        if old == limit {
            return;
        }
        self.limit.store(limit, Ordering::Release);
        if old < limit {
            self.freed.notify_waiters();
        }
    }

    /// Registers a pool of this server.
    pub fn add_pool(&self, pool: &Arc<Pool>) {
        let mut pools = self.pools.lock();
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(pool));
    }

    fn pools(&self) -> Vec<Arc<Pool>> {
        self.pools.lock().iter().filter_map(Weak::upgrade).collect()
    }
}

/// Takes a place for one more connection to `server`, if under its limit.
pub fn try_take(server: &Arc<super::ServerStats>) -> Option<ConnSlot> {
    let c = &server.conns;
    let limit = c.limit();
    c.open
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .ok()
        .map(|_| ConnSlot(server.clone()))
}

/// Takes a place for one more connection to `server`: at once if under the
/// limit; else after closing an idle connection of another of its pools
/// than `asking`; else when one closes, until `deadline`.
pub async fn take(
    server: &Arc<super::ServerStats>,
    asking: &Pool,
    deadline: tokio::time::Instant,
) -> Option<ConnSlot> {
    loop {
        let freed = server.conns.freed.notified();
        tokio::pin!(freed);
        freed.as_mut().enable();
        if let Some(slot) = try_take(server) {
            return Some(slot);
        }
        let mut closed = false;
        for p in server.conns.pools() {
            if !std::ptr::eq(p.as_ref(), asking) && p.close_oldest_idle().await {
                closed = true;
                break;
            }
        }
        if closed {
            continue;
        }
        if tokio::time::timeout_at(deadline, freed).await.is_err() {
            return try_take(server);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ServerStats;
    use std::time::Duration;

    #[test]
    fn limits_from_config_or_the_server() {
        assert_eq!(limit_for(Some(10), Some(151), 1), 10);
        assert_eq!(limit_for(None, Some(151), 1), 120);
        assert_eq!(limit_for(None, Some(1), 1), 1);
        assert_eq!(limit_for(Some(0), None, 1), 1);
        assert_eq!(limit_for(None, None, 1), usize::MAX);
        // several instances share the server
        assert_eq!(limit_for(Some(10), Some(151), 3), 3);
        assert_eq!(limit_for(None, Some(151), 3), 40);
        assert_eq!(limit_for(Some(2), None, 3), 1);
        assert_eq!(limit_for(None, None, 3), usize::MAX);
        assert_eq!(limit_for(Some(10), None, 0), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn places_are_given_back_and_waited_for() {
        let server = Arc::new(ServerStats::default());
        server.conns.set_limit(2);
        let a = try_take(&server).unwrap();
        let _b = try_take(&server).unwrap();
        assert!(try_take(&server).is_none());
        assert_eq!(server.conns.open(), 2);
        // nothing frees a place: the wait ends empty at the deadline
        let pool = Pool::new(
            Arc::from("127.0.0.1:1"),
            crate::backend::PoolKey::new(Arc::from("app"), 0, 45),
            crate::backend::PoolSettings::default(),
            server.clone(),
            Arc::default(),
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        assert!(take(&server, &pool, deadline).await.is_none());
        // a connection closing frees its place for the waiter
        let s = server.clone();
        let p = pool.clone();
        let waiter = tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            take(&s, &p, deadline).await.is_some()
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(a);
        assert!(waiter.await.unwrap());
        // a higher limit lets more in at once
        server.conns.set_limit(3);
        assert!(try_take(&server).is_some());
    }
}
