//! Problem: an instance must hold a lease while it lives, take the
//! leadership when nobody has it, notice at once when it lost it, publish
//! what it sees of the primary, and keep an up-to-date copy of the shared
//! state, all while etcd may be slow, partly down or gone. [`Agent`] is
//! that loop. Each round (every quarter of a second, or at once when etcd
//! reports a change): renew or take a lease, read every shared key at one
//! revision, campaign if there is no leader, publish this instance's
//! record, and replace the [`ClusterView`].
//!
//! The lease is renewed every third of its TTL, and its deadline is
//! counted from before the renewal was sent, so this instance stops
//! believing it leads no later than etcd ends its lease. While reads fail
//! (no quorum), renewals do not extend the leadership: a member that lost
//! its quorum may renew leases until it steps down. An instance that
//! cannot reach etcd keeps routing; it loses the leadership when its
//! lease deadline passes. On shutdown the lease is revoked, so another
//! instance takes over at once.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::handle::{ClusterHandle, ClusterView, Leadership};
use super::keys::Keys;
use super::records::{now_ms, PublishedPrimary, RouterRecord};
use super::store::{Kv, Range};

/// The longest gap between rounds.
const ROUND: Duration = Duration::from_millis(250);
/// How often the instance record is rewritten even when unchanged (its
/// `last_ok_ms` and `seen_ms` move).
const REPUBLISH: Duration = Duration::from_millis(1000);
/// Bound on one etcd call of a round.
const CALL: Duration = Duration::from_secs(2);

/// The loop (see the module doc).
pub struct Agent {
    handle: ClusterHandle,
    lease: Option<(i64, Instant)>,
    next_renewal: Instant,
    published: Option<(RouterRecord, Instant)>,
    /// Highest mod revision and count of the journal keys last read.
    journal_revision: (i64, usize),
    journal: Arc<Vec<Vec<u8>>>,
    journal_version: u64,
    watch: Option<mpsc::Receiver<()>>,
}

async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, super::error::StoreError>>,
) -> Result<T, super::error::StoreError> {
    tokio::time::timeout(CALL, f)
        .await
        .map_err(|_| super::error::StoreError::Timeout(CALL))?
}

impl Agent {
    pub fn new(handle: ClusterHandle) -> Agent {
        Agent {
            handle,
            lease: None,
            next_renewal: Instant::now(),
            published: None,
            journal_revision: (0, 0),
            journal: Arc::default(),
            journal_version: 0,
            watch: None,
        }
    }

    /// Runs until `shutdown`; then gives the lease (and the leadership) up.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.round().await;
            let inner = self.handle.inner.clone();
            let notice = async {
                match self.watch.as_mut() {
                    Some(rx) => {
                        if rx.recv().await.is_none() {
                            return false;
                        }
                        true
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = shutdown.changed() => {
                    if r.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                alive = notice => if !alive { self.watch = None; },
                _ = inner.local_changed.notified() => {}
                _ = tokio::time::sleep(ROUND) => {}
            }
        }
        if let Some((lease, _)) = self.lease.take() {
            let _ = bounded(self.handle.inner.store.revoke(lease)).await;
        }
        tracing::info!("cluster agent stopped");
    }

    /// One round (see the module doc).
    pub async fn round(&mut self) {
        let inner = self.handle.inner.clone();
        let keys = inner.keys.clone();
        let mut error: Option<String> = None;
        // the lease
        let now = Instant::now();
        if let Some((_, deadline)) = self.lease {
            if now >= deadline {
                tracing::warn!("the cluster lease ran out before it could be renewed");
                self.lease = None;
            }
        }
        match self.lease {
            None => match bounded(inner.store.grant(inner.ttl)).await {
                Ok(id) => {
                    self.lease = Some((id, now + inner.ttl));
                    self.next_renewal = now + inner.ttl / 3;
                }
                Err(e) => error = Some(e.to_string()),
            },
            Some((id, _)) if now >= self.next_renewal => {
                match bounded(inner.store.keep_alive(id)).await {
                    Ok(ttl) if ttl.is_zero() => {
                        tracing::warn!("the cluster lease had expired; taking a new one");
                        self.lease = None;
                    }
                    Ok(ttl) => {
                        self.lease = Some((id, now + ttl.min(inner.ttl)));
                        self.next_renewal = now + inner.ttl / 3;
                    }
                    Err(e) => error = Some(e.to_string()),
                }
            }
            Some(_) => {}
        }
        if self.watch.is_none() && error.is_none() {
            if let Ok(rx) = bounded(inner.store.watch(keys.root().to_string())).await {
                self.watch = Some(rx);
            }
        }
        // read everything
        let mut read = self.read(&keys).await;
        // campaign
        if let (Ok(r), Some((lease, _))) = (&read, self.lease) {
            if r.leader.is_none() {
                let me = inner.me.instance.clone().into_bytes();
                match bounded(inner.store.create(keys.leader(), me, lease)).await {
                    Ok(true) => {
                        tracing::info!(instance = %inner.me.instance, "elected cluster leader");
                        read = self.read(&keys).await;
                    }
                    Ok(false) => read = self.read(&keys).await,
                    Err(super::error::StoreError::LeaseExpired) => self.lease = None,
                    Err(e) => error = Some(e.to_string()),
                }
            }
        }
        let old = self.handle.view();
        let mut view = ClusterView {
            generation: old.generation,
            ..(*old).clone()
        };
        match read {
            Ok(r) => {
                view.etcd_up = error.is_none();
                view.etcd_error = error.clone();
                view.leadership = match (&r.leader, self.lease) {
                    (Some(kv), Some((lease, deadline))) if kv.lease == lease => Some(Leadership {
                        revision: kv.create_revision,
                        lease,
                        deadline,
                    }),
                    _ => None,
                };
                view.leader = r
                    .leader
                    .as_ref()
                    .map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
                view.routers = r.routers;
                view.primary = r.primary;
                view.hold = r.hold;
                view.replacing = r.replacing;
                view.server_states = r.server_states;
                view.autofailover = r.autofailover;
                view.quarantined = r.quarantined;
                view.added = r.added;
                view.removed = r.removed;
                view.requests = r.requests;
                view.replies = r.replies;
                if let Some(j) = r.journal {
                    self.journal = Arc::new(j);
                    self.journal_version += 1;
                }
                view.journal = self.journal.clone();
                view.journal_version = self.journal_version;
            }
            Err(e) => {
                view.etcd_up = false;
                view.etcd_error = Some(error.unwrap_or(e));
                // The leadership lasts at most until the deadline it had at
                // the last read that worked. A renewal alone does not extend
                // it: an etcd member that lost its quorum may still renew
                // leases until it steps down, but reads need the quorum.
                view.leadership = match (old.leadership, self.lease) {
                    (Some(l), Some((lease, deadline))) if l.lease == lease => Some(Leadership {
                        deadline: deadline.min(l.deadline),
                        ..l
                    }),
                    _ => None,
                };
                if view.leadership.is_none() && view.leader.as_deref() == Some(&inner.me.instance) {
                    view.leader = None;
                }
            }
        }
        if old.is_leader() && !view.is_leader() {
            tracing::warn!(instance = %inner.me.instance, "no longer the cluster leader");
        }
        // publish this instance's record
        if view.etcd_up {
            if let Some((lease, _)) = self.lease {
                self.publish_record(&keys, lease, view.is_leader()).await;
            }
        }
        self.handle.publish(view);
    }

    async fn publish_record(&mut self, keys: &Keys, lease: i64, leader: bool) {
        let inner = self.handle.inner.clone();
        let record = RouterRecord {
            instance: inner.me.instance.clone(),
            address: inner.me.address.clone(),
            admin: inner.me.admin.clone(),
            version: inner.me.version.clone(),
            leader,
            held: inner.held.load(std::sync::atomic::Ordering::Relaxed),
            view: inner.local.lock().clone(),
            backup_drained: inner.backup_drained.lock().clone(),
            seen_ms: 0,
            lease_ttl_ms: inner.ttl.as_millis() as u64,
        };
        let due = match &self.published {
            Some((last, at)) => {
                last.leader != record.leader
                    || last.held != record.held
                    || last.view.primary != record.view.primary
                    || last.view.state != record.view.state
                    || last.backup_drained != record.backup_drained
                    || at.elapsed() >= REPUBLISH
            }
            None => true,
        };
        if !due {
            return;
        }
        let mut stamped = record.clone();
        stamped.seen_ms = now_ms();
        let Ok(json) = serde_json::to_vec(&stamped) else {
            return;
        };
        match bounded(
            inner
                .store
                .put(keys.router(&inner.me.instance), json, Some(lease)),
        )
        .await
        {
            Ok(()) => self.published = Some((record, Instant::now())),
            Err(super::error::StoreError::LeaseExpired) => self.lease = None,
            Err(e) => tracing::debug!(error = %e, "could not publish this instance's record"),
        }
    }

    async fn read(&mut self, keys: &Keys) -> Result<Read, String> {
        let inner = self.handle.inner.clone();
        let ranges = vec![
            Range::key(keys.leader()),
            Range::prefix(keys.routers()),
            Range::key(keys.primary()),
            Range::prefix(keys.runtime()),
            Range::prefix(keys.requests()),
            Range::prefix(keys.replies()),
            Range::prefix(keys.journal()).keys_only(),
            Range::key(keys.hold()),
            Range::key(keys.replacing()),
        ];
        let mut r = bounded(inner.store.read(ranges))
            .await
            .map_err(|e| e.to_string())?;
        if r.len() != 9 {
            return Err("etcd answered a batched read with the wrong number of ranges".into());
        }
        let replacing = r
            .pop()
            .unwrap_or_default()
            .first()
            .and_then(|kv| decode::<super::records::Replacing>(kv, "replacing"));
        let hold = r
            .pop()
            .unwrap_or_default()
            .first()
            .and_then(|kv| decode::<super::records::Hold>(kv, "hold"));
        let journal_keys = r.pop().unwrap_or_default();
        let replies = r.pop().unwrap_or_default();
        let requests = r.pop().unwrap_or_default();
        let runtime = r.pop().unwrap_or_default();
        let primary = r.pop().unwrap_or_default();
        let routers = r.pop().unwrap_or_default();
        let leader = r.pop().unwrap_or_default().into_iter().next();
        let journal_revision = (
            journal_keys
                .iter()
                .map(|kv| kv.mod_revision)
                .max()
                .unwrap_or(0),
            journal_keys.len(),
        );
        let journal = if journal_revision != self.journal_revision {
            match bounded(inner.store.read(vec![Range::prefix(keys.journal())])).await {
                Ok(mut j) => {
                    self.journal_revision = journal_revision;
                    Some(
                        j.pop()
                            .unwrap_or_default()
                            .into_iter()
                            .map(|kv| kv.value)
                            .collect(),
                    )
                }
                Err(e) => return Err(e.to_string()),
            }
        } else {
            None
        };
        let mut routers: Vec<RouterRecord> = routers
            .iter()
            .filter_map(|kv| decode(kv, "router record"))
            .collect();
        routers.sort_by(|a, b| a.instance.cmp(&b.instance));
        let primary = primary
            .first()
            .and_then(|kv| decode::<PublishedPrimary>(kv, "published primary"));
        let mut read = Read {
            leader,
            routers,
            primary,
            hold,
            replacing,
            journal,
            ..Read::default()
        };
        let server_prefix = format!("{}runtime/server/", keys.root());
        let added_prefix = format!("{}runtime/added/", keys.root());
        let removed_prefix = format!("{}runtime/removed/", keys.root());
        for kv in runtime {
            if let Some(address) = Keys::tail(&kv.key, &server_prefix) {
                read.server_states.insert(
                    address.to_string(),
                    String::from_utf8_lossy(&kv.value).into_owned(),
                );
            } else if let Some(address) = Keys::tail(&kv.key, &added_prefix) {
                read.added.insert(address.to_string(), kv.value);
            } else if let Some(address) = Keys::tail(&kv.key, &removed_prefix) {
                read.removed.push(address.to_string());
            } else if kv.key == keys.quarantine() {
                read.quarantined = decode(&kv, "quarantine list");
            } else if kv.key == keys.autofailover() {
                read.autofailover = match kv.value.as_slice() {
                    b"on" => Some(true),
                    b"off" => Some(false),
                    _ => None,
                };
            }
        }
        for kv in requests {
            if let Some(id) = Keys::tail(&kv.key, &keys.requests()) {
                read.requests.insert(id.to_string(), kv.value);
            }
        }
        for kv in replies {
            if let Some(id) = Keys::tail(&kv.key, &keys.replies()) {
                read.replies.insert(id.to_string(), kv.value);
            }
        }
        Ok(read)
    }
}

/// One batched read, decoded.
#[derive(Default)]
struct Read {
    leader: Option<Kv>,
    routers: Vec<RouterRecord>,
    primary: Option<PublishedPrimary>,
    hold: Option<super::records::Hold>,
    replacing: Option<super::records::Replacing>,
    server_states: BTreeMap<String, String>,
    autofailover: Option<bool>,
    quarantined: Option<Vec<super::records::SharedQuarantine>>,
    added: BTreeMap<String, Vec<u8>>,
    removed: Vec<String>,
    requests: BTreeMap<String, Vec<u8>>,
    replies: BTreeMap<String, Vec<u8>>,
    /// Read again only when it changed.
    journal: Option<Vec<Vec<u8>>>,
}

fn decode<T: serde::de::DeserializeOwned>(kv: &Kv, what: &str) -> Option<T> {
    match serde_json::from_slice(&kv.value) {
        Ok(v) => Some(v),
        Err(e) => {
            tracing::warn!(key = %kv.key, error = %e, "skipped an unreadable {what} in etcd");
            None
        }
    }
}
