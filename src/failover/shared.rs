//! Problem: with several sqlyard instances, the failover journal must be
//! one, in etcd, and a leader that was deposed, cut off or frozen must not
//! touch a server. [`Shared`] is the failover manager's side of that: the
//! records the manager journals are queued and written to etcd in order;
//! before each action on a server ([`Gate`]), the queue and the step are
//! written in one transaction fenced by the leader's election revision,
//! and only if less lease is left than the action may take, or the write
//! fails, is the action refused. After a failover or switchover the new
//! primary is published in the same way, for every instance to follow.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{watch, Notify};

use super::actions::Gate;
use super::status::FailoverRecord;
use crate::cluster::records::{now_ms, Step};
use crate::cluster::{ClusterError, ClusterHandle, PublishedPrimary};

/// How often a queue that could not be written is tried again.
const RETRY: Duration = Duration::from_millis(500);

#[derive(Default)]
struct Queue {
    records: BTreeMap<u64, FailoverRecord>,
    primary: Option<PublishedPrimary>,
    /// Other keys, last value wins.
    other: BTreeMap<String, Vec<u8>>,
}

/// The shared journal and the gate (cheap to clone).
#[derive(Clone)]
pub struct Shared {
    cluster: ClusterHandle,
    queue: Arc<Mutex<Queue>>,
    kick: Arc<Notify>,
    /// Keeps writes in the order they were queued.
    order: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl Shared {
    pub fn new(cluster: ClusterHandle) -> Shared {
        Shared {
            cluster,
            queue: Arc::default(),
            kick: Arc::new(Notify::new()),
            order: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    pub fn cluster(&self) -> &ClusterHandle {
        &self.cluster
    }

    /// Queues a changed record for etcd.
    pub fn record(&self, rec: &FailoverRecord) {
        self.queue.lock().records.insert(rec.id, rec.clone());
        self.kick.notify_one();
    }

    /// Queues the new primary for every instance.
    pub fn publish_primary(&self, primary: PublishedPrimary) {
        self.queue.lock().primary = Some(primary);
        self.kick.notify_one();
    }

    /// Queues a write of `key`.
    pub fn queue_put(&self, key: String, value: Vec<u8>) {
        self.queue.lock().other.insert(key, value);
        self.kick.notify_one();
    }

    /// Writes the queue and `extra` in one fenced transaction, with at
    /// least `need` of the lease left. What could not be written stays
    /// queued (unless something newer replaced it).
    pub async fn flush(
        &self,
        extra: Vec<(String, Vec<u8>)>,
        need: Duration,
    ) -> Result<(), ClusterError> {
        let _order = self.order.lock().await;
        let taken = std::mem::take(&mut *self.queue.lock());
        let keys = self.cluster.keys();
        let mut puts = Vec::new();
        for rec in taken.records.values() {
            let json = serde_json::to_vec(rec).map_err(|e| ClusterError::Encode {
                what: "a failover record",
                reason: e.to_string(),
            })?;
            puts.push((keys.journal_entry(rec.id), json));
        }
        if let Some(p) = &taken.primary {
            let json = serde_json::to_vec(p).map_err(|e| ClusterError::Encode {
                what: "the published primary",
                reason: e.to_string(),
            })?;
            puts.push((keys.primary(), json));
        }
        puts.extend(taken.other.iter().map(|(k, v)| (k.clone(), v.clone())));
        puts.extend(extra);
        if puts.is_empty() {
            return Ok(());
        }
        let r = self.cluster.fenced(puts, Vec::new(), need).await;
        if r.is_err() {
            let mut q = self.queue.lock();
            for (id, rec) in taken.records {
                q.records.entry(id).or_insert(rec);
            }
            if q.primary.is_none() {
                q.primary = taken.primary;
            }
            for (k, v) in taken.other {
                q.other.entry(k).or_insert(v);
            }
        }
        r
    }

    /// Writes `value` (JSON) at `key` now, with the queue, fenced; a
    /// failure is logged (`what` says what the other instances miss).
    pub async fn write_now(&self, what: &str, key: String, value: &impl serde::Serialize) {
        let json = match serde_json::to_vec(value) {
            Ok(j) => j,
            Err(e) => {
                tracing::warn!(error = %e, "could not encode {what} for the other instances");
                return;
            }
        };
        if let Err(e) = self.flush(vec![(key, json)], Duration::ZERO).await {
            tracing::warn!(error = %e, "could not tell the other instances {what}");
        }
    }

    /// Whether something waits to be written.
    pub fn pending(&self) -> bool {
        let q = self.queue.lock();
        !q.records.is_empty() || q.primary.is_some() || !q.other.is_empty()
    }

    /// Drops what waits (this instance is no longer the leader: the new
    /// one owns the journal now).
    pub fn discard(&self) -> usize {
        let mut q = self.queue.lock();
        let n = q.records.len() + usize::from(q.primary.is_some()) + q.other.len();
        *q = Queue::default();
        n
    }

    /// Writes the queue whenever something is added, and again while it
    /// cannot be written, until shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                r = shutdown.changed() => if r.is_err() || *shutdown.borrow() { break },
                _ = self.kick.notified() => {}
                _ = tokio::time::sleep(RETRY), if self.pending() => {}
            }
            if !self.pending() {
                continue;
            }
            match self.flush(Vec::new(), Duration::ZERO).await {
                Ok(()) => {}
                Err(ClusterError::NotLeader | ClusterError::Deposed) => {
                    let n = self.discard();
                    tracing::warn!(
                        records = n,
                        "not the leader any more: failover records not written to the shared journal"
                    );
                }
                Err(e) => tracing::warn!(error = %e, "shared journal not written yet; retrying"),
            }
        }
    }
}

impl Gate for Shared {
    fn allow<'a>(
        &'a self,
        action: &'static str,
        address: &'a str,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let step = Step {
                instance: self.cluster.instance().to_string(),
                action: action.to_string(),
                server: address.to_string(),
                at_ms: now_ms(),
            };
            let json = serde_json::to_vec(&step).map_err(|e| e.to_string())?;
            let key = self.cluster.keys().step();
            match self.flush(vec![(key, json)], timeout).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    tracing::error!(action, server = %address, error = %e, "action on a server refused: the step could not be recorded as the leader");
                    Err(e.to_string())
                }
            }
        })
    }
}
