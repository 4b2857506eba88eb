//! Failover tests and the failover bench must know, from the application's
//! side, which writes were acknowledged and how long writes were
//! unavailable around a fault. This is a mixed read/write load through the
//! router: N mysql_async workers, bounded by count and time, each inserting
//! rows with unique ids (autocommit) and running SELECTs, reconnecting on
//! any error, and recording the timestamps and outcome of every write.
//!
//! examples/failover_bench.rs includes this file too; each uses only part of
//! it, and some record fields are read only in Debug output.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How to run a load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Where the workers connect (the router), with the user and password.
    pub opts: Opts,
    /// `db.table`, created by [`create_table`].
    pub table: String,
    pub workers: usize,
    /// Stop after this long...
    pub max_duration: Duration,
    /// ...or after this many write attempts per worker.
    pub max_writes_per_worker: u64,
    /// SELECTs after each write.
    pub reads_per_write: u32,
    /// Pause between two iterations of a worker.
    pub pause: Duration,
    /// A statement or connect taking longer counts as an error (and the
    /// connection is dropped).
    pub op_timeout: Duration,
    /// Ids start above this (several loads on one table must not collide).
    pub first_id: u64,
}

impl LoadOptions {
    pub fn new(opts: impl Into<Opts>, table: &str) -> LoadOptions {
        LoadOptions {
            opts: opts.into(),
            table: table.to_string(),
            workers: 4,
            max_duration: Duration::from_secs(120),
            max_writes_per_worker: 100_000,
            reads_per_write: 1,
            pause: Duration::from_millis(5),
            op_timeout: Duration::from_secs(20),
            first_id: 0,
        }
    }
}

/// What a statement was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Connect,
    Write,
    Read,
}

/// One write attempt and its outcome.
#[derive(Debug, Clone)]
pub struct WriteAttempt {
    pub worker: usize,
    pub id: u64,
    pub started: Instant,
    pub finished: Instant,
    /// `None`: the server acknowledged it.
    pub error: Option<String>,
}

impl WriteAttempt {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// One failed statement or connect.
#[derive(Debug, Clone)]
pub struct LoadError {
    pub worker: usize,
    pub op: Op,
    pub at: Instant,
    pub message: String,
}

#[derive(Debug, Default)]
struct Record {
    writes: Vec<WriteAttempt>,
    errors: Vec<LoadError>,
    reads_ok: u64,
}

/// A load that runs until [`Load::stop`] or its bounds.
pub struct Load {
    started: Instant,
    table: String,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    stopped: Arc<Notify>,
    workers: Vec<JoinHandle<()>>,
    op_timeout: Duration,
}

/// How long writes were unavailable around a fault.
#[derive(Debug, Clone, Copy)]
pub struct Unavailability {
    /// The last acknowledged write that completed before the fault.
    pub last_ok_before: Option<Instant>,
    /// The first acknowledged write that was *started* at or after the
    /// fault (so it cannot be one the old primary finished).
    pub first_ok_after: Option<Instant>,
}

impl Unavailability {
    /// From the last acknowledged write before the fault to the first one
    /// after it.
    pub fn window(&self) -> Option<Duration> {
        Some(self.first_ok_after?.duration_since(self.last_ok_before?))
    }

    /// From the fault to the first acknowledged write after it.
    pub fn since(&self, fault: Instant) -> Option<Duration> {
        Some(self.first_ok_after?.saturating_duration_since(fault))
    }
}

/// Everything a load saw.
#[derive(Debug, Clone)]
pub struct LoadReport {
    pub started: Instant,
    pub finished: Instant,
    /// Every write attempt that finished (in completion order).
    pub writes: Vec<WriteAttempt>,
    /// Ids whose INSERT returned OK, sorted.
    pub acknowledged: Vec<u64>,
    pub errors: Vec<LoadError>,
    pub reads_ok: u64,
}

impl LoadReport {
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Distinct error messages with their counts, most frequent first.
    pub fn error_summary(&self) -> Vec<(String, usize)> {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for e in &self.errors {
            let key = format!("{:?}: {}", e.op, e.message);
            match counts.iter_mut().find(|(m, _)| *m == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
        counts.sort_by_key(|c| std::cmp::Reverse(c.1));
        counts
    }

    /// The write unavailability around `fault`.
    pub fn unavailability(&self, fault: Instant) -> Unavailability {
        let ok = || self.writes.iter().filter(|w| w.ok());
        Unavailability {
            last_ok_before: ok()
                .filter(|w| w.finished <= fault)
                .map(|w| w.finished)
                .max(),
            first_ok_after: ok()
                .filter(|w| w.started >= fault)
                .map(|w| w.finished)
                .min(),
        }
    }

    /// The longest time without any acknowledged write completing, among
    /// completions in `[from, to]` (the write pause of a switchover).
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        let mut done: Vec<Instant> = self
            .writes
            .iter()
            .filter(|w| w.ok() && w.finished >= from && w.finished <= to)
            .map(|w| w.finished)
            .collect();
        done.sort_unstable();
        let mut longest = Duration::ZERO;
        let mut prev = from;
        for t in done.into_iter().chain(std::iter::once(to)) {
            longest = longest.max(t.saturating_duration_since(prev));
            prev = t;
        }
        longest
    }

    /// The longest acknowledged write (from attempt to OK).
    pub fn max_write_latency(&self) -> Duration {
        self.writes
            .iter()
            .filter(|w| w.ok())
            .map(|w| w.finished.saturating_duration_since(w.started))
            .max()
            .unwrap_or_default()
    }

    /// One line for test output.
    pub fn summary(&self) -> String {
        format!(
            "{} writes attempted, {} acknowledged, {} reads ok, {} errors {:?}",
            self.writes.len(),
            self.acknowledged.len(),
            self.reads_ok,
            self.errors.len(),
            self.error_summary()
        )
    }
}

/// Creates `db.table` (dropped first) with the columns the load writes,
/// using `conn` (a direct connection to the primary).
pub async fn create_table(conn: &mut Conn, table: &str) -> Result<(), mysql_async::Error> {
    if let Some((db, _)) = table.split_once('.') {
        conn.query_drop(format!("CREATE DATABASE IF NOT EXISTS `{db}`"))
            .await?;
    }
    conn.query_drop(format!("DROP TABLE IF EXISTS {table}"))
        .await?;
    conn.query_drop(format!(
        "CREATE TABLE {table} (id BIGINT UNSIGNED PRIMARY KEY, worker INT NOT NULL, \
         at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), KEY (worker))"
    ))
    .await
}

/// Ids of `ids` that are missing from `table` on the server `opts` points at.
pub async fn missing_on(
    opts: impl Into<Opts>,
    table: &str,
    ids: &[u64],
) -> Result<Vec<u64>, mysql_async::Error> {
    let mut conn = Conn::new(opts.into()).await?;
    let present: Vec<u64> = conn.query(format!("SELECT id FROM {table}")).await?;
    let _ = conn.disconnect().await;
    let present: BTreeSet<u64> = present.into_iter().collect();
    Ok(ids
        .iter()
        .copied()
        .filter(|id| !present.contains(id))
        .collect())
}

/// Panics unless every id of `ids` is in `table` on the server `opts`
/// points at (queried directly, not through the router).
pub async fn assert_all_present(opts: impl Into<Opts>, table: &str, ids: &[u64], what: &str) {
    let missing = missing_on(opts, table, ids)
        .await
        .unwrap_or_else(|e| panic!("{what}: cannot read {table}: {e}"));
    assert!(
        missing.is_empty(),
        "{what}: {} of {} acknowledged writes are missing, e.g. {:?}",
        missing.len(),
        ids.len(),
        &missing[..missing.len().min(20)]
    );
}

impl Load {
    /// Starts the workers.
    pub fn start(options: LoadOptions) -> Load {
        let started = Instant::now();
        let record = Arc::new(Mutex::new(Record::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::new(Notify::new());
        let next_id = Arc::new(AtomicU64::new(options.first_id + 1));
        let options = Arc::new(options);
        let workers = (0..options.workers)
            .map(|worker| {
                tokio::spawn(run_worker(
                    worker,
                    options.clone(),
                    next_id.clone(),
                    record.clone(),
                    stop.clone(),
                    stopped.clone(),
                    started,
                ))
            })
            .collect();
        Load {
            started,
            table: options.table.clone(),
            record,
            stop,
            stopped,
            workers,
            op_timeout: options.op_timeout,
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Acknowledged writes so far.
    pub fn acknowledged(&self) -> usize {
        self.record.lock().writes.iter().filter(|w| w.ok()).count()
    }

    /// Errors so far.
    pub fn errors(&self) -> usize {
        self.record.lock().errors.len()
    }

    /// Whether an acknowledged write was started at or after `t`.
    pub fn ok_write_started_after(&self, t: Instant) -> Option<Instant> {
        self.record
            .lock()
            .writes
            .iter()
            .filter(|w| w.ok() && w.started >= t)
            .map(|w| w.finished)
            .min()
    }

    /// Waits until `n` writes were acknowledged in total; false on timeout.
    pub async fn wait_acknowledged(&self, n: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while self.acknowledged() < n {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Waits until an acknowledged write started at or after `t` (writes
    /// are available again); returns when it finished.
    pub async fn wait_ok_write_after(&self, t: Instant, limit: Duration) -> Option<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(done) = self.ok_write_started_after(t) {
                return Some(done);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the workers (an operation in flight may finish within
    /// `op_timeout`; after that the worker is abandoned, its write counted
    /// as not acknowledged) and returns what they saw.
    pub async fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::SeqCst);
        self.stopped.notify_waiters();
        let deadline = tokio::time::Instant::now() + self.op_timeout + Duration::from_secs(1);
        for w in self.workers {
            let abort = w.abort_handle();
            if tokio::time::timeout_at(deadline, w).await.is_err() {
                abort.abort();
            }
        }
        let finished = Instant::now();
        let record = std::mem::take(&mut *self.record.lock());
        let mut acknowledged: Vec<u64> = record
            .writes
            .iter()
            .filter(|w| w.ok())
            .map(|w| w.id)
            .collect();
        acknowledged.sort_unstable();
        LoadReport {
            started: self.started,
            finished,
            writes: record.writes,
            acknowledged,
            errors: record.errors,
            reads_ok: record.reads_ok,
        }
    }
}

/// Runs `fut` with the load's per-operation timeout.
async fn timed<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

async fn run_worker(
    worker: usize,
    options: Arc<LoadOptions>,
    next_id: Arc<AtomicU64>,
    record: Arc<Mutex<Record>>,
    stop: Arc<AtomicBool>,
    stopped: Arc<Notify>,
    started: Instant,
) {
    let error = |op: Op, message: String| {
        record.lock().errors.push(LoadError {
            worker,
            op,
            at: Instant::now(),
            message,
        });
    };
    let mut conn: Option<Conn> = None;
    let mut writes = 0u64;
    let done = |writes: u64| {
        stop.load(Ordering::SeqCst)
            || started.elapsed() >= options.max_duration
            || writes >= options.max_writes_per_worker
    };
    while !done(writes) {
        if conn.is_none() {
            match timed(options.op_timeout, Conn::new(options.opts.clone())).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    error(Op::Connect, e);
                    pause(&stopped, Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let id = next_id.fetch_add(1, Ordering::SeqCst);
        let sql = format!(
            "INSERT INTO {} (id, worker) VALUES ({id}, {worker})",
            options.table
        );
        let t0 = Instant::now();
        let result = timed(options.op_timeout, c.query_drop(sql)).await;
        writes += 1;
        let failed = result.is_err();
        record.lock().writes.push(WriteAttempt {
            worker,
            id,
            started: t0,
            finished: Instant::now(),
            error: result.clone().err(),
        });
        if let Err(e) = result {
            error(Op::Write, e);
            conn = None; // a new connection through the router
            continue;
        }
        for _ in 0..options.reads_per_write {
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE worker = {worker}",
                options.table
            );
            match timed(options.op_timeout, c.query_first::<u64, _>(sql)).await {
                Ok(_) => record.lock().reads_ok += 1,
                Err(e) => {
                    error(Op::Read, e);
                    conn = None;
                    break;
                }
            }
        }
        if !failed {
            pause(&stopped, options.pause).await;
        }
    }
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
    }
}

/// Sleeps `d`, or less when the load is stopped.
async fn pause(stopped: &Notify, d: Duration) {
    if d.is_zero() {
        return;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stopped.notified() => {}
    }
}
