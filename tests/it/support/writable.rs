//! Test and bench support: "never two writable servers" checked from the
//! servers themselves. [`WritableSampler`] reads `@@global.read_only` on
//! every node every 100 ms (short timeouts, reconnecting after a failure,
//! so a dead or frozen node is skipped) and remembers the most nodes seen
//! writable at once, how many samples saw more than one, and when and
//! which (the first [`MAX_EVENTS`]). A sample reads the nodes one after
//! the other, so it spans up to a few hundred ms: each event gives the
//! time every writable node answered.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many two-writable samples are kept with their details.
pub const MAX_EVENTS: usize = 100;

/// One sample that saw several writable nodes: (node, unix ms of its answer).
pub type WritableEvent = Vec<(usize, u64)>;

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

use mysql_async::prelude::Queryable;

/// See the module doc.
pub struct WritableSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicUsize>,
    /// Samples with more than one writable node.
    pub two_or_more: Arc<AtomicU64>,
    pub samples: Arc<AtomicU64>,
    /// The first [`MAX_EVENTS`] samples with several writable nodes.
    pub events: Arc<Mutex<Vec<WritableEvent>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WritableSampler {
    /// Samples every node of `topo`.
    pub fn start(topo: &sqlyard::sandbox::Topology) -> Self {
        let opts: Vec<mysql_async::Opts> = (0..topo.addresses().len())
            .filter_map(|i| topo.node(i).ok().map(|n| n.root_opts()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicUsize::new(0));
        let two_or_more = Arc::new(AtomicU64::new(0));
        let samples = Arc::new(AtomicU64::new(0));
        let events = Arc::new(Mutex::new(Vec::new()));
        let (s, m, t, n, ev) = (
            stop.clone(),
            max.clone(),
            two_or_more.clone(),
            samples.clone(),
            events.clone(),
        );
        let task = tokio::spawn(async move {
            let mut conns: Vec<Option<mysql_async::Conn>> = opts.iter().map(|_| None).collect();
            while !s.load(Ordering::Relaxed) {
                let mut writable: WritableEvent = Vec::new();
                for (i, o) in opts.iter().enumerate() {
                    if conns[i].is_none() {
                        conns[i] = tokio::time::timeout(
                            Duration::from_millis(300),
                            mysql_async::Conn::new(o.clone()),
                        )
                        .await
                        .ok()
                        .and_then(Result::ok);
                    }
                    let Some(c) = conns[i].as_mut() else { continue };
                    let ro = tokio::time::timeout(
                        Duration::from_millis(300),
                        c.query_first::<u8, _>("SELECT @@global.read_only"),
                    )
                    .await;
                    match ro {
                        Ok(Ok(Some(0))) => writable.push((i, unix_ms())),
                        Ok(Ok(_)) => {}
                        _ => conns[i] = None,
                    }
                }
                m.fetch_max(writable.len(), Ordering::Relaxed);
                n.fetch_add(1, Ordering::Relaxed);
                if writable.len() > 1 {
                    t.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut events) = ev.lock() {
                        if events.len() < MAX_EVENTS {
                            events.push(writable);
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        WritableSampler {
            stop,
            max,
            two_or_more,
            samples,
            events,
            task,
        }
    }

    /// Stops sampling; the most nodes seen writable at once.
    pub async fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.max.load(Ordering::Relaxed)
    }
}
