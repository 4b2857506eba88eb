//! The election, the lease and the fenced write, on the in-memory etcd in
//! paused tokio time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::error::ClusterError;
use super::handle::{ClusterHandle, Identity};
use super::memory::MemStore;
use super::Agent;

pub(crate) fn instance(store: &MemStore, name: &str) -> ClusterHandle {
    ClusterHandle::new(
        Arc::new(store.clone()),
        "t",
        Identity {
            instance: name.to_string(),
            address: format!("{name}:6033"),
            admin: format!("{name}:6032"),
            version: "test".into(),
        },
        Duration::from_secs(3),
    )
}

/// Starts an agent; dropping (or sending true on) the sender stops it.
pub(crate) fn run(h: &ClusterHandle) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(Agent::new(h.clone()).run(rx));
    (tx, task)
}

fn leaders(hs: &[&ClusterHandle]) -> Vec<String> {
    hs.iter()
        .filter(|h| h.is_leader())
        .map(|h| h.instance().to_string())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn exactly_one_leader_and_every_instance_listed() {
    let store = MemStore::new();
    let (a, b, c) = (
        instance(&store, "a"),
        instance(&store, "b"),
        instance(&store, "c"),
    );
    let _ra = run(&a);
    let _rb = run(&b);
    let _rc = run(&c);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let l = leaders(&[&a, &b, &c]);
    assert_eq!(l.len(), 1, "{l:?}");
    for h in [&a, &b, &c] {
        let v = h.view();
        assert!(v.etcd_up);
        assert_eq!(v.leader.as_deref(), Some(l[0].as_str()));
        let names: Vec<&str> = v.routers.iter().map(|r| r.instance.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let flagged: Vec<&str> = v
            .routers
            .iter()
            .filter(|r| r.leader)
            .map(|r| r.instance.as_str())
            .collect();
        assert_eq!(flagged, [l[0].as_str()]);
    }
}

#[tokio::test(start_paused = true)]
async fn a_stopped_leader_is_replaced_at_once_and_a_dead_one_after_its_lease() {
    let store = MemStore::new();
    let (a, b) = (instance(&store, "a"), instance(&store, "b"));
    let (stop_a, task_a) = run(&a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _rb = run(&b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(leaders(&[&a, &b]), ["a"]);
    // a clean stop revokes the lease: b leads within a round
    stop_a.send_replace(true);
    let _ = task_a.await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(leaders(&[&b]), ["b"]);

    // a leader that dies without a word (its task aborted) keeps the key
    // until its lease runs out, and not longer
    let c = instance(&store, "c");
    let (_stop_c, task_c) = run(&c);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(leaders(&[&c]), Vec::<String>::new());
    // b dies: its task is aborted, its lease is not revoked
    assert!(b.view().is_leader());
    let (_stop_b, task_b) = _rb;
    task_b.abort();
    let t0 = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if c.is_leader() {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "c never took over");
    }
    // not before b's lease (3 s, renewed every second) could have ended
    assert!(t0.elapsed() >= Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(!task_c.is_finished());
}

#[tokio::test(start_paused = true)]
async fn fenced_writes_only_from_the_leader_with_lease_left() {
    let store = MemStore::new();
    let (a, b) = (instance(&store, "a"), instance(&store, "b"));
    let _ra = run(&a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _rb = run(&b);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let key = a.keys().step();
    a.fenced(
        vec![(key.clone(), b"1".to_vec())],
        vec![],
        Duration::from_secs(1),
    )
    .await
    .expect("the leader writes");
    assert_eq!(store.value(&key), Some(b"1".to_vec()));
    assert_eq!(
        b.fenced(
            vec![(key.clone(), b"2".to_vec())],
            vec![],
            Duration::from_secs(1)
        )
        .await,
        Err(ClusterError::NotLeader)
    );
    // an action longer than the lease is never started
    let r = a
        .fenced(
            vec![(key.clone(), b"3".to_vec())],
            vec![],
            Duration::from_secs(10),
        )
        .await;
    assert!(matches!(r, Err(ClusterError::LeaseShort { .. })), "{r:?}");
    assert_eq!(store.value(&key), Some(b"1".to_vec()));
}

#[tokio::test(start_paused = true)]
async fn a_frozen_leader_that_wakes_up_writes_nothing() {
    let store = MemStore::new();
    let (a, b) = (instance(&store, "a"), instance(&store, "b"));
    let (stop_a, task_a) = run(&a);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _rb = run(&b);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(leaders(&[&a, &b]), ["a"]);
    // "SIGSTOP": a's agent stops running, but its handle keeps the old view
    task_a.abort();
    drop(stop_a);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(leaders(&[&b]), ["b"]);
    // "SIGCONT": a still holds its stale view, and tries to act
    let key = a.keys().step();
    let r = a
        .fenced(
            vec![(key.clone(), b"stale".to_vec())],
            vec![],
            Duration::from_millis(1),
        )
        .await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(store.value(&key), None);
}

#[tokio::test(start_paused = true)]
async fn a_deposed_leader_whose_clock_says_otherwise_is_refused_by_etcd() {
    let store = MemStore::new();
    let a = instance(&store, "a");
    let (stop_a, task_a) = run(&a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(a.is_leader());
    // someone deletes the election key (etcd lost a's lease early)
    stop_a.send_replace(true);
    let _ = task_a.await;
    let mut view = (*a.view()).clone();
    // pretend the lease is still long: only etcd's compare can refuse
    if let Some(l) = view.leadership.as_mut() {
        l.deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    }
    a.publish(view);
    let b = instance(&store, "b");
    let _rb = run(&b);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = a
        .fenced(
            vec![(a.keys().step(), b"x".to_vec())],
            vec![],
            Duration::from_secs(1),
        )
        .await;
    assert_eq!(r, Err(ClusterError::Deposed));
}

#[tokio::test(start_paused = true)]
async fn etcd_lost_means_no_leader_anywhere_and_back_means_one() {
    let store = MemStore::new();
    let (a, b) = (instance(&store, "a"), instance(&store, "b"));
    let _ra = run(&a);
    let _rb = run(&b);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(leaders(&[&a, &b]).len(), 1);
    store.set_down(true);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(leaders(&[&a, &b]), Vec::<String>::new());
    assert!(!a.view().etcd_up && !b.view().etcd_up);
    // etcd comes back with the old keys expired: one new leader
    tokio::time::sleep(Duration::from_secs(4)).await;
    store.set_down(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(leaders(&[&a, &b]).len(), 1);
    assert!(a.view().etcd_up && b.view().etcd_up);
}

/// A store whose reads fail while renewals still work (an etcd member that
/// lost its quorum and has not stepped down yet).
#[derive(Clone)]
struct ReadsFail {
    inner: MemStore,
    reads_fail: Arc<std::sync::atomic::AtomicBool>,
}

impl super::store::Store for ReadsFail {
    fn grant(&self, ttl: Duration) -> super::store::StoreFuture<'_, i64> {
        self.inner.grant(ttl)
    }
    fn keep_alive(&self, lease: i64) -> super::store::StoreFuture<'_, Duration> {
        self.inner.keep_alive(lease)
    }
    fn revoke(&self, lease: i64) -> super::store::StoreFuture<'_, ()> {
        self.inner.revoke(lease)
    }
    fn read(
        &self,
        ranges: Vec<super::store::Range>,
    ) -> super::store::StoreFuture<'_, Vec<Vec<super::store::Kv>>> {
        if self.reads_fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Box::pin(async { Err(super::error::StoreError::Etcd("no quorum".into())) });
        }
        self.inner.read(ranges)
    }
    fn put(
        &self,
        key: String,
        value: Vec<u8>,
        lease: Option<i64>,
    ) -> super::store::StoreFuture<'_, ()> {
        self.inner.put(key, value, lease)
    }
    fn delete(&self, key: String) -> super::store::StoreFuture<'_, ()> {
        self.inner.delete(key)
    }
    fn create(
        &self,
        key: String,
        value: Vec<u8>,
        lease: i64,
    ) -> super::store::StoreFuture<'_, bool> {
        self.inner.create(key, value, lease)
    }
    fn put_guarded(
        &self,
        guard: String,
        revision: i64,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> super::store::StoreFuture<'_, bool> {
        self.inner.put_guarded(guard, revision, puts, deletes)
    }
    fn watch(
        &self,
        prefix: String,
    ) -> super::store::StoreFuture<'_, tokio::sync::mpsc::Receiver<()>> {
        self.inner.watch(prefix)
    }
}

#[tokio::test(start_paused = true)]
async fn renewals_without_reads_do_not_extend_the_leadership() {
    let store = ReadsFail {
        inner: MemStore::new(),
        reads_fail: Arc::default(),
    };
    let a = ClusterHandle::new(
        Arc::new(store.clone()),
        "t",
        Identity {
            instance: "a".into(),
            address: "a:6033".into(),
            admin: "a:6032".into(),
            version: "test".into(),
        },
        Duration::from_secs(3),
    );
    let _ra = run(&a);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(a.is_leader());
    store
        .reads_fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    // renewals keep working, but the leadership ends with the lease it had
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!a.is_leader(), "leadership extended without a read");
    assert!(!a.view().etcd_up);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!a.is_leader());
    // reads work again: it leads again
    store
        .reads_fail
        .store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(a.is_leader());
}
