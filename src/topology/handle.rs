//! Every client session reads the topology on every query, while the monitor (and later
//! failover) replaces it a few times a second. `TopologyHandle` is the meeting point:
//! readers `load()` the current `Snapshot` lock-free from an `ArcSwap`; writers `publish()`
//! a whole new one, which bumps the generation and wakes anyone waiting (for example a
//! client connecting before the first primary is known).

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::error::NoPrimary;
use super::snapshot::Snapshot;

struct Inner {
    current: ArcSwap<Snapshot>,
    /// Serializes publishers so generations are strictly increasing; readers never take it.
    publish_lock: Mutex<()>,
    /// Carries the generation of the latest publish, to wake waiters.
    published: watch::Sender<u64>,
}

/// Shared access to the current topology snapshot. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct TopologyHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TopologyHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snap = self.load();
        f.debug_struct("TopologyHandle")
            .field("generation", &snap.generation)
            .field("servers", &snap.servers.len())
            .field(
                "primary",
                &snap.primary_server().map(|s| s.address.as_str()),
            )
            .finish()
    }
}

/// Brings `held` up to what `swap` holds now; returns whether it changed.
/// While nothing changed this is one lock-free load and no write to the
/// shared reference count (the topology and the config are read this way
/// once per statement).
pub fn refresh_from<T>(swap: &ArcSwap<T>, held: &mut Arc<T>) -> bool {
    let current = swap.load();
    if Arc::ptr_eq(&current, held) {
        return false;
    }
    *held = arc_swap::Guard::into_inner(current);
    true
}

impl TopologyHandle {
    /// A handle whose first snapshot lists `servers`, all Unknown, with no primary.
    pub fn new(servers: Vec<String>) -> Self {
        let (published, _) = watch::channel(0);
        TopologyHandle {
            inner: Arc::new(Inner {
                current: ArcSwap::from_pointee(Snapshot::initial(&servers)),
                publish_lock: Mutex::new(()),
                published,
            }),
        }
    }

    /// The current snapshot. Lock-free; this is the hot path.
    pub fn load(&self) -> Arc<Snapshot> {
        self.inner.current.load_full()
    }

    /// Brings `held` up to the current snapshot; returns whether it
    /// changed. A caller that keeps its own `Arc` (a session, once per
    /// statement) pays one lock-free load and no reference-count write
    /// while the topology stays the same, and decides a whole statement
    /// from one snapshot.
    pub fn refresh(&self, held: &mut Arc<Snapshot>) -> bool {
        refresh_from(&self.inner.current, held)
    }

    /// Replaces the snapshot as a whole. Its generation is set to the previous one plus
    /// one (whatever the caller put there). Returns what was published.
    pub fn publish(&self, mut snapshot: Snapshot) -> Arc<Snapshot> {
        let _guard = self.inner.publish_lock.lock();
        snapshot.generation = self.inner.current.load().generation.wrapping_add(1);
        let generation = snapshot.generation;
        let snapshot = Arc::new(snapshot);
        self.inner.current.store(Arc::clone(&snapshot));
        self.inner.published.send_replace(generation);
        snapshot
    }

    /// A receiver that sees the generation of every publish (for tasks that react to
    /// topology changes).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.published.subscribe()
    }

    /// The current snapshot if it has a primary; otherwise waits up to `timeout` for one
    /// that does. On timeout, explains why there is none.
    pub async fn wait_for_primary(&self, timeout: Duration) -> Result<Arc<Snapshot>, NoPrimary> {
        // Subscribe before looking, so a publish in between is not missed.
        let mut changes = self.subscribe();
        let current = self.load();
        if current.primary_for_new_work().is_some() {
            return Ok(current);
        }
        let wait = async {
            while changes.changed().await.is_ok() {
                let snapshot = self.load();
                if snapshot.primary_for_new_work().is_some() {
                    return Some(snapshot);
                }
            }
            None
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Some(snapshot)) => Ok(snapshot),
            _ => Err(NoPrimary::from_snapshot(&self.load(), timeout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::flavor::{Flavor, GtidPositions};
    use crate::topology::primary::resolve;
    use crate::topology::probe::ServerFacts;
    use crate::topology::snapshot::{Role, ServerState};
    use std::time::SystemTime;

    fn polled(address: &str, id: u32, read_only: bool) -> ServerState {
        let mut s = ServerState::new(address);
        s.record_success(
            ServerFacts {
                heartbeat: None,
                heartbeat_written: None,
                semi_sync: Default::default(),
                slave_net_timeout: None,
                max_allowed_packet: None,
                max_connections: None,
                server_id: id,
                read_only,
                flavor: Flavor::MariaDb,
                version: "10.11".into(),
                replication: vec![],
                gtid: GtidPositions::default(),
            },
            SystemTime::now(),
        );
        s
    }

    fn addresses() -> Vec<String> {
        vec!["127.0.0.1:23301".into(), "127.0.0.1:23302".into()]
    }

    #[test]
    fn new_handle_has_unknown_servers_and_no_primary() {
        let h = TopologyHandle::new(addresses());
        let s = h.load();
        assert_eq!(s.generation, 0);
        assert_eq!(s.servers.len(), 2);
        assert!(s.servers.iter().all(|x| x.role == Role::Unknown));
        assert!(s.primary.is_none());
    }

    #[test]
    fn publish_replaces_whole_snapshot_and_bumps_generation() {
        let h = TopologyHandle::new(addresses());
        let clone = h.clone();
        let before = h.load();
        let mut next = resolve(None, vec![polled("127.0.0.1:23301", 1, false)]);
        next.generation = 77; // ignored
        let published = clone.publish(next);
        assert_eq!(published.generation, 1);
        let after = h.load();
        assert_eq!(after.generation, 1);
        assert_eq!(after.servers.len(), 1);
        assert_eq!(after.primary, Some(0));
        // Readers holding the old snapshot still see it unchanged.
        assert_eq!(before.generation, 0);
        assert_eq!(before.servers.len(), 2);
        h.publish(Snapshot::initial(&addresses()));
        assert_eq!(h.load().generation, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_returns_at_once_when_primary_known() {
        let h = TopologyHandle::new(addresses());
        h.publish(resolve(None, vec![polled("127.0.0.1:23301", 1, false)]));
        let start = tokio::time::Instant::now();
        let s = h.wait_for_primary(Duration::from_secs(5)).await.unwrap();
        assert_eq!(s.primary_server().unwrap().address, "127.0.0.1:23301");
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[test]
    fn refresh_follows_publishes_and_keeps_an_unchanged_snapshot() {
        let h = TopologyHandle::new(addresses());
        let mut held = h.load();
        assert!(!h.refresh(&mut held), "nothing published yet");
        let before = held.clone();
        h.publish(resolve(None, vec![polled("127.0.0.1:23301", 1, true)]));
        assert!(h.refresh(&mut held));
        assert_eq!(held.generation, before.generation + 1);
        assert!(Arc::ptr_eq(&held, &h.load()));
        assert!(!h.refresh(&mut held));
    }

    #[tokio::test(start_paused = true)]
    async fn wait_wakes_on_publish_with_primary() {
        let h = TopologyHandle::new(addresses());
        let publisher = h.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            // A snapshot without a primary does not end the wait...
            publisher.publish(resolve(None, vec![polled("127.0.0.1:23301", 1, true)]));
            tokio::time::sleep(Duration::from_secs(1)).await;
            // ...one with a primary does.
            publisher.publish(resolve(None, vec![polled("127.0.0.1:23301", 1, false)]));
        });
        let start = tokio::time::Instant::now();
        let s = h.wait_for_primary(Duration::from_secs(10)).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_secs(2));
        assert_eq!(s.generation, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn wait_times_out_and_explains_unreachable() {
        let h = TopologyHandle::new(addresses());
        let mut down = ServerState::new("127.0.0.1:23301");
        down.record_failure(
            "connect to 127.0.0.1:23301 failed: refused".into(),
            SystemTime::now(),
        );
        h.publish(resolve(
            None,
            vec![down, polled("127.0.0.1:23302", 2, true)],
        ));
        let start = tokio::time::Instant::now();
        let err = h
            .wait_for_primary(Duration::from_secs(3))
            .await
            .unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        let text = err.to_string();
        assert!(
            text.starts_with("no primary known after 3s: 1 of 2 servers unreachable"),
            "{text}"
        );
        assert!(
            text.contains("127.0.0.1:23301: connect to 127.0.0.1:23301 failed: refused"),
            "{text}"
        );
        assert!(
            text.contains("1 reachable but read-only or replicating (127.0.0.1:23302)"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn wait_with_two_writable_names_both() {
        let h = TopologyHandle::new(addresses());
        h.publish(resolve(
            None,
            vec![
                polled("127.0.0.1:23301", 1, false),
                polled("127.0.0.1:23302", 2, false),
            ],
        ));
        let err = h
            .wait_for_primary(Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, NoPrimary::Conflict { .. }));
        assert!(err.to_string().contains(
            "two writable servers: 127.0.0.1:23301 and 127.0.0.1:23302; refusing to guess"
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_publishers_keep_generations_unique() {
        let h = TopologyHandle::new(addresses());
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                (0..100)
                    .map(|_| h.publish(Snapshot::initial(&[])).generation)
                    .collect::<Vec<_>>()
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 800);
        assert_eq!(h.load().generation, 800);
    }
}
