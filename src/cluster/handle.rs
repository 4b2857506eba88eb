//! Problem: the failover manager, admin, metrics and control all need the
//! cluster's state (who leads, which instances are alive and what they see,
//! the shared journal and runtime changes) without waiting on etcd, and the
//! leader's writes must be fenced by its election. [`ClusterHandle`] holds
//! one immutable [`ClusterView`] that the agent replaces (readers never
//! lock), the instance's own view of the primary for the agent to publish,
//! and the fenced write.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::time::Instant;

use super::error::{ClusterError, StoreError};
use super::keys::Keys;
use super::records::{PrimaryView, PublishedPrimary, RouterRecord};
use super::store::Store;

/// How long a fenced write may wait for etcd at most.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// This instance's leadership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leadership {
    /// The create revision of the election key: the fencing token.
    pub revision: i64,
    pub lease: i64,
    /// When the lease ends unless renewed (measured from before the
    /// renewal was sent, so never later than etcd's own).
    pub deadline: Instant,
}

/// The cluster as the agent last read it.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// The last read of etcd worked.
    pub etcd_up: bool,
    /// Why etcd is not reachable (no secrets in it).
    pub etcd_error: Option<String>,
    /// The leader's instance name.
    pub leader: Option<String>,
    /// Set while this instance leads.
    pub leadership: Option<Leadership>,
    /// Live instances (their lease holds), this one included.
    pub routers: Vec<RouterRecord>,
    pub primary: Option<PublishedPrimary>,
    /// The primary a failover replaces (see `records::Replacing`).
    pub replacing: Option<super::records::Replacing>,
    /// Writes held everywhere (a switchover on the leader).
    pub hold: Option<super::records::Hold>,
    /// `SET SERVER` states by address.
    pub server_states: BTreeMap<String, String>,
    pub autofailover: Option<bool>,
    /// The quarantined servers the leader shared (`None`: never written).
    pub quarantined: Option<Vec<super::records::SharedQuarantine>>,
    /// `ADD SERVER` entries (address -> JSON of the server's settings).
    pub added: BTreeMap<String, Vec<u8>>,
    pub removed: Vec<String>,
    /// The shared journal: failover records as JSON, oldest first (shared
    /// between views; read again only when it changed).
    pub journal: Arc<Vec<Vec<u8>>>,
    /// Bumped each time the journal is read again (it changed).
    pub journal_version: u64,
    /// Forwarded requests waiting for the leader (id -> JSON).
    pub requests: BTreeMap<String, Vec<u8>>,
    pub replies: BTreeMap<String, Vec<u8>>,
    /// Bumped at each read.
    pub generation: u64,
}

impl ClusterView {
    /// Whether this instance leads now (its lease has not run out).
    pub fn is_leader(&self) -> bool {
        self.leadership.is_some_and(|l| l.deadline > Instant::now())
    }

    /// Lease time this leader has left.
    pub fn lease_left(&self) -> Option<Duration> {
        self.leadership
            .map(|l| l.deadline.saturating_duration_since(Instant::now()))
    }
}

/// Who this instance is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub instance: String,
    pub address: String,
    pub admin: String,
    pub version: String,
}

pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) keys: Keys,
    pub(super) me: Identity,
    pub(super) ttl: Duration,
    pub(super) view: ArcSwap<ClusterView>,
    pub(super) changes: watch::Sender<u64>,
    pub(super) local: Mutex<PrimaryView>,
    pub(super) local_changed: tokio::sync::Notify,
    /// Writes held and drained for the leader's switchover.
    pub(super) held: std::sync::atomic::AtomicBool,
    /// Servers a backup of this instance reads (published in its record).
    pub(super) backup_drained: Mutex<Vec<String>>,
    /// Orders the leader's writes (journal records and steps).
    write_lock: tokio::sync::Mutex<()>,
}

/// Shared access to the cluster (cheap to clone).
#[derive(Clone)]
pub struct ClusterHandle {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for ClusterHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHandle")
            .field("instance", &self.inner.me.instance)
            .field("root", &self.inner.keys.root())
            .finish()
    }
}

impl ClusterHandle {
    pub fn new(store: Arc<dyn Store>, name: &str, me: Identity, ttl: Duration) -> ClusterHandle {
        let (changes, _) = watch::channel(0);
        ClusterHandle {
            inner: Arc::new(Inner {
                store,
                keys: Keys::new(name),
                me,
                ttl: ttl.max(Duration::from_secs(1)),
                view: ArcSwap::from_pointee(ClusterView::default()),
                changes,
                local: Mutex::new(PrimaryView::default()),
                local_changed: tokio::sync::Notify::new(),
                held: std::sync::atomic::AtomicBool::new(false),
                backup_drained: Mutex::new(Vec::new()),
                write_lock: tokio::sync::Mutex::new(()),
            }),
        }
    }

    pub fn view(&self) -> Arc<ClusterView> {
        self.inner.view.load_full()
    }

    /// Notified at every new view.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    pub fn instance(&self) -> &str {
        &self.inner.me.instance
    }

    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub fn lease_ttl(&self) -> Duration {
        self.inner.ttl
    }

    pub fn is_leader(&self) -> bool {
        self.view().is_leader()
    }

    /// This instance's view of the primary, published by the agent.
    pub fn set_local_view(&self, view: PrimaryView) {
        let changed = {
            let mut local = self.inner.local.lock();
            let changed = local.primary != view.primary || local.state != view.state;
            *local = view;
            changed
        };
        if changed {
            self.inner.local_changed.notify_one();
        }
    }

    /// Says (in this instance's record) that writes are held and drained
    /// here for the leader's switchover.
    pub fn set_held(&self, held: bool) {
        let old = self
            .inner
            .held
            .swap(held, std::sync::atomic::Ordering::Relaxed);
        if old != held {
            self.inner.local_changed.notify_one();
        }
    }

    /// Says (in this instance's record) which servers its backups read now,
    /// for every instance to drain them.
    pub fn set_backup_drained(&self, mut addresses: Vec<String>) {
        addresses.sort();
        let changed = {
            let mut current = self.inner.backup_drained.lock();
            let changed = *current != addresses;
            *current = addresses;
            changed
        };
        if changed {
            self.inner.local_changed.notify_one();
        }
    }

    /// Writes `puts` and deletes `deletes` only while this instance leads,
    /// with at least `need` of its lease left (the time the action that
    /// follows may take). A deposed, frozen or cut-off leader gets an error
    /// and must not act.
    pub async fn fenced(
        &self,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
        need: Duration,
    ) -> Result<(), ClusterError> {
        let _order = self.inner.write_lock.lock().await;
        let view = self.view();
        let Some(l) = view.leadership else {
            return Err(ClusterError::NotLeader);
        };
        let left = l.deadline.saturating_duration_since(Instant::now());
        if left < need || left.is_zero() {
            return Err(ClusterError::LeaseShort { left, need });
        }
        let wait = WRITE_TIMEOUT.min(left);
        let done = tokio::time::timeout(
            wait,
            self.inner
                .store
                .put_guarded(self.inner.keys.leader(), l.revision, puts, deletes),
        )
        .await
        .map_err(|_| ClusterError::Store(StoreError::Timeout(wait)))??;
        if done {
            Ok(())
        } else {
            Err(ClusterError::Deposed)
        }
    }

    /// An unfenced write (runtime changes, forwarded requests).
    pub async fn put(&self, key: String, value: Vec<u8>) -> Result<(), ClusterError> {
        tokio::time::timeout(WRITE_TIMEOUT, self.inner.store.put(key, value, None))
            .await
            .map_err(|_| ClusterError::Store(StoreError::Timeout(WRITE_TIMEOUT)))??;
        Ok(())
    }

    /// The values under `prefix` (an unfenced read, for admin commands).
    pub async fn read_prefix(&self, prefix: String) -> Result<Vec<Vec<u8>>, ClusterError> {
        let mut ranges = tokio::time::timeout(
            WRITE_TIMEOUT,
            self.inner
                .store
                .read(vec![super::store::Range::prefix(prefix)]),
        )
        .await
        .map_err(|_| ClusterError::Store(StoreError::Timeout(WRITE_TIMEOUT)))??;
        Ok(ranges
            .pop()
            .unwrap_or_default()
            .into_iter()
            .map(|kv| kv.value)
            .collect())
    }

    pub async fn delete(&self, key: String) -> Result<(), ClusterError> {
        tokio::time::timeout(WRITE_TIMEOUT, self.inner.store.delete(key))
            .await
            .map_err(|_| ClusterError::Store(StoreError::Timeout(WRITE_TIMEOUT)))??;
        Ok(())
    }

    /// Replaces the view (the agent, and tests).
    pub fn publish(&self, mut view: ClusterView) {
        view.generation = self.view().generation + 1;
        let generation = view.generation;
        self.inner.view.store(Arc::new(view));
        self.inner.changes.send_replace(generation);
    }
}
