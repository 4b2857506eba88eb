//! Problem: the election, the fencing and the handover must be tested in
//! paused tokio time, with etcd lost and found at will. [`MemStore`] is an
//! in-memory [`Store`] that keeps etcd's rules (leases that expire with
//! their keys, create revisions, compare-and-put), and can be made
//! unreachable. Unit tests only; the integration tests use real etcd.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::error::StoreError;
use super::store::{Kv, Range, Store, StoreFuture};

#[derive(Debug, Default)]
struct State {
    keys: BTreeMap<String, Kv>,
    /// Lease id -> (ttl, expiry).
    leases: HashMap<i64, (Duration, Instant)>,
    revision: i64,
    next_lease: i64,
    watchers: Vec<(String, mpsc::Sender<()>)>,
    down: bool,
}

/// An in-memory etcd (see the module doc). Clones share the data.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    state: Arc<Mutex<State>>,
}

impl State {
    /// Drops expired leases and their keys.
    fn expire(&mut self) {
        let now = Instant::now();
        let expired: Vec<i64> = self
            .leases
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.drop_lease(id);
        }
    }

    fn drop_lease(&mut self, id: i64) {
        self.leases.remove(&id);
        let gone: Vec<String> = self
            .keys
            .values()
            .filter(|kv| kv.lease == id)
            .map(|kv| kv.key.clone())
            .collect();
        for key in gone {
            self.remove(&key);
        }
    }

    fn notify(&mut self, key: &str) {
        self.watchers.retain(|(_, tx)| !tx.is_closed());
        for (prefix, tx) in &self.watchers {
            if key.starts_with(prefix.as_str()) {
                let _ = tx.try_send(());
            }
        }
    }

    fn set(&mut self, key: &str, value: Vec<u8>, lease: i64) {
        self.revision += 1;
        let revision = self.revision;
        let kv = self.keys.entry(key.to_string()).or_insert_with(|| Kv {
            key: key.to_string(),
            value: Vec::new(),
            create_revision: revision,
            mod_revision: revision,
            lease: 0,
        });
        kv.value = value;
        kv.mod_revision = revision;
        kv.lease = lease;
        self.notify(key);
    }

    fn remove(&mut self, key: &str) {
        if self.keys.remove(key).is_some() {
            self.revision += 1;
            self.notify(key);
        }
    }
}

impl MemStore {
    pub fn new() -> MemStore {
        MemStore::default()
    }

    /// Makes every call fail (etcd lost) or work again.
    pub fn set_down(&self, down: bool) {
        self.state.lock().down = down;
    }

    /// The value at `key`, for assertions.
    pub fn value(&self, key: &str) -> Option<Vec<u8>> {
        let mut s = self.state.lock();
        s.expire();
        s.keys.get(key).map(|kv| kv.value.clone())
    }

    /// Every key under `prefix`, for assertions.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut s = self.state.lock();
        s.expire();
        s.keys
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let state = self.state.clone();
        Box::pin(async move {
            // a store call is never instantaneous: let other tasks run
            tokio::task::yield_now().await;
            let mut s = state.lock();
            if s.down {
                return Err(StoreError::Etcd("connection refused (test)".into()));
            }
            s.expire();
            f(&mut s)
        })
    }
}

impl Store for MemStore {
    fn grant(&self, ttl: Duration) -> StoreFuture<'_, i64> {
        self.with(move |s| {
            s.next_lease += 1;
            let id = s.next_lease;
            let ttl = ttl.max(Duration::from_secs(1));
            s.leases.insert(id, (ttl, Instant::now() + ttl));
            Ok(id)
        })
    }

    fn keep_alive(&self, lease: i64) -> StoreFuture<'_, Duration> {
        self.with(move |s| match s.leases.get_mut(&lease) {
            Some((ttl, at)) => {
                *at = Instant::now() + *ttl;
                Ok(*ttl)
            }
            None => Ok(Duration::ZERO),
        })
    }

    fn revoke(&self, lease: i64) -> StoreFuture<'_, ()> {
        self.with(move |s| {
            s.drop_lease(lease);
            Ok(())
        })
    }

    fn read(&self, ranges: Vec<Range>) -> StoreFuture<'_, Vec<Vec<Kv>>> {
        self.with(move |s| {
            Ok(ranges
                .iter()
                .map(|r| {
                    s.keys
                        .values()
                        .filter(|kv| r.contains(&kv.key))
                        .map(|kv| {
                            let mut kv = kv.clone();
                            if r.keys_only {
                                kv.value.clear();
                            }
                            kv
                        })
                        .collect()
                })
                .collect())
        })
    }

    fn put(&self, key: String, value: Vec<u8>, lease: Option<i64>) -> StoreFuture<'_, ()> {
        self.with(move |s| {
            let lease = lease.unwrap_or(0);
            if lease != 0 && !s.leases.contains_key(&lease) {
                return Err(StoreError::LeaseExpired);
            }
            s.set(&key, value, lease);
            Ok(())
        })
    }

    fn delete(&self, key: String) -> StoreFuture<'_, ()> {
        self.with(move |s| {
            s.remove(&key);
            Ok(())
        })
    }

    fn create(&self, key: String, value: Vec<u8>, lease: i64) -> StoreFuture<'_, bool> {
        self.with(move |s| {
            if !s.leases.contains_key(&lease) {
                return Err(StoreError::LeaseExpired);
            }
            if s.keys.contains_key(&key) {
                return Ok(false);
            }
            s.set(&key, value, lease);
            Ok(true)
        })
    }

    fn put_guarded(
        &self,
        guard: String,
        revision: i64,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> StoreFuture<'_, bool> {
        self.with(move |s| {
            if s.keys.get(&guard).map(|kv| kv.create_revision) != Some(revision) {
                return Ok(false);
            }
            for (k, v) in puts {
                s.set(&k, v, 0);
            }
            for k in deletes {
                s.remove(&k);
            }
            Ok(true)
        })
    }

    fn watch(&self, prefix: String) -> StoreFuture<'_, mpsc::Receiver<()>> {
        self.with(move |s| {
            let (tx, rx) = mpsc::channel(1);
            s.watchers.push((prefix, tx));
            Ok(rx)
        })
    }
}
