//! sqlyard multiplexes many client sessions over few backend connections.
//! Sessions that share a backend connection must not see each other's
//! state; a session that cannot move (temporary table, named lock) keeps
//! its connection and the others queue; idle clients hold no backend
//! connection; and many concurrent clients all get correct answers.
//!
//! The tests in this file are heavy (hundreds to thousands of clients), so
//! they run one at a time; the two that count the app user's threads on the
//! primary have a sandbox of their own.
use crate::common;

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;
use sqlyard::sandbox::Topology;
use tokio::sync::Mutex;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// How many clients connect at once in the idle-client tests.
const CONCURRENCY: usize = 10;

/// One backend connection in all: pools are per server, so reads must not
/// go to the replicas' pools here.
const ONE_BACKEND: &str =
    "[pool]\nmax_size = 1\ncheckout_timeout = \"10s\"\n[routing]\nread_write_split = false\n";

async fn count(c: &mut Conn, sql: &str) -> i64 {
    c.query_first::<i64, _>(sql).await.unwrap().unwrap()
}

/// Backend connections of the app user on every server (not counting
/// the connections that ask), as the servers' own PROCESSLIST shows them.
async fn app_threads(topo: &Topology) -> i64 {
    let mut total = 0;
    for node in topo.nodes() {
        let mut d = Conn::new(common::app_opts(node.port()))
            .await
            .expect("direct connect");
        total += count(
            &mut d,
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND ID <> CONNECTION_ID()",
        )
        .await;
        d.disconnect().await.unwrap();
    }
    total
}

/// Waits until earlier routers' backend connections are gone.
async fn wait_quiet(topo: &Topology) {
    let t0 = Instant::now();
    loop {
        let n = app_threads(topo).await;
        if n <= 2 {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{n} app connections left over on the primary before the test"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

type Probe = (i64, Option<String>, String, Option<String>);
const PROBE: &str = "SELECT CONNECTION_ID(), @secret, @@sql_mode, DATABASE()";

#[tokio::test]
async fn sessions_sharing_one_backend_connection_do_not_see_each_other() {
    let _serial = SERIAL.lock().await;
    let topo = common::topology().await;
    let db_a = common::fresh_db(topo, "mux_a").await;
    let db_b = common::fresh_db(topo, "mux_b").await;
    let default_mode: String = common::direct(topo)
        .await
        .query_first("SELECT @@sql_mode")
        .await
        .unwrap()
        .unwrap();
    let router = common::Router::start(topo, ONE_BACKEND).await;
    let mut a = Conn::new(router.opts()).await.unwrap();
    let mut b = Conn::new(router.opts().db_name(Some(&db_b))).await.unwrap();

    a.query_drop("SET @secret = 'a-only'").await.unwrap();
    a.query_drop("SET sql_mode = 'ANSI_QUOTES'").await.unwrap();
    a.query_drop(format!("USE `{db_a}`")).await.unwrap();

    let pa: Probe = a.query_first(PROBE).await.unwrap().unwrap();
    let pb: Probe = b.query_first(PROBE).await.unwrap().unwrap();
    assert_eq!(
        pa.0, pb.0,
        "A and B are served by the same backend connection"
    );
    assert_eq!(pb.1, None, "B does not see A's user variable");
    assert_eq!(pb.2, default_mode, "B does not see A's sql_mode");
    assert_eq!(
        pb.3.as_deref(),
        Some(db_b.as_str()),
        "B keeps its own database"
    );
    let pa2: Probe = a.query_first(PROBE).await.unwrap().unwrap();
    assert_eq!(pa2.0, pa.0);
    assert_eq!(
        pa2.1.as_deref(),
        Some("a-only"),
        "A's user variable is intact"
    );
    assert_eq!(pa2.2, "ANSI_QUOTES", "A's sql_mode is intact");
    assert_eq!(
        pa2.3.as_deref(),
        Some(db_a.as_str()),
        "A's database is intact"
    );

    // A temporary table pins A to the connection: B queues.
    a.query_drop("CREATE TEMPORARY TABLE tmp_a (x INT)")
        .await
        .unwrap();
    a.query_drop("INSERT INTO tmp_a VALUES (1), (2)")
        .await
        .unwrap();
    let b_task = tokio::spawn(async move {
        let t0 = Instant::now();
        let seen = b
            .query_first::<i64, _>(format!("SELECT COUNT(*) FROM `{db_a}`.tmp_a"))
            .await;
        let id = b.query_first::<i64, _>("SELECT CONNECTION_ID()").await;
        (t0.elapsed(), seen, id, b)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !b_task.is_finished(),
        "B waits while A holds the only connection"
    );
    // A keeps working meanwhile, on the same connection, with its table.
    assert_eq!(count(&mut a, "SELECT COUNT(*) FROM tmp_a").await, 2);
    assert_eq!(count(&mut a, "SELECT CONNECTION_ID()").await, pa.0);
    let dropped_at = Instant::now();
    a.query_drop("DROP TEMPORARY TABLE tmp_a").await.unwrap();
    let (waited, seen, id, b) = tokio::time::timeout(Duration::from_secs(5), b_task)
        .await
        .expect("B proceeds once A dropped its temporary table")
        .unwrap();
    assert!(
        waited >= Duration::from_millis(700),
        "B really waited: {waited:?}"
    );
    assert!(dropped_at.elapsed() < Duration::from_secs(3));
    match seen {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1146, "B never saw A's temporary table: {e:?}")
        }
        other => panic!("B saw A's temporary table: {other:?}"),
    }
    assert_eq!(id.unwrap(), Some(pa.0), "still the one backend connection");
    drop((a, b));
    router.stop().await;
}

#[tokio::test]
async fn named_lock_pins_until_released() {
    let _serial = SERIAL.lock().await;
    let topo = common::topology().await;
    let router = common::Router::start(topo, ONE_BACKEND).await;
    let mut a = router.conn().await;
    let mut b = router.conn().await;
    let got: Option<i64> = a
        .query_first("SELECT GET_LOCK('mux_lock', 0)")
        .await
        .unwrap();
    assert_eq!(got, Some(1));
    let b_task = tokio::spawn(async move {
        let used: Option<Option<i64>> = b
            .query_first("SELECT IS_USED_LOCK('mux_lock')")
            .await
            .unwrap();
        (used, b)
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!b_task.is_finished(), "B waits while A holds a named lock");
    let rel: Option<i64> = a
        .query_first("SELECT RELEASE_LOCK('mux_lock')")
        .await
        .unwrap();
    assert_eq!(rel, Some(1));
    let (used, b) = tokio::time::timeout(Duration::from_secs(5), b_task)
        .await
        .expect("B proceeds after RELEASE_LOCK")
        .unwrap();
    assert_eq!(used, Some(None), "the lock is free when B runs");
    drop((a, b));
    router.stop().await;
}

/// Connects `n` clients, `parallel` at a time, each running `first`.
async fn connect_many(
    router: &common::Router,
    n: usize,
    parallel: usize,
    first: &str,
) -> Vec<Conn> {
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(parallel));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let opts = router.opts();
        let sem = sem.clone();
        let first = first.to_string();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.unwrap();
            let mut c = Conn::new(opts).await?;
            c.query_drop(first).await?;
            Ok::<Conn, mysql_async::Error>(c)
        }));
    }
    let mut conns = Vec::with_capacity(n);
    for t in tasks {
        conns.push(
            t.await
                .unwrap()
                .expect("client connects and runs its statement"),
        );
    }
    conns
}

async fn disconnect_all(conns: Vec<Conn>) {
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|c| tokio::spawn(async move { c.disconnect().await }))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_clients_hold_few_backend_connections() {
    let _serial = SERIAL.lock().await;
    let own = common::own_topology().await;
    let topo = &*own;
    wait_quiet(topo).await;
    let router = common::Router::start(topo, "").await;
    // reads go to the replicas once they are measured; before that, to the
    // primary
    router.wait_eligible(2, Duration::from_secs(20)).await;
    let t0 = Instant::now();
    let mut conns = connect_many(&router, 2000, CONCURRENCY, "SELECT 1").await;
    let connect_time = t0.elapsed();
    let sessions = router
        .server
        .ctx
        .stats
        .active
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(sessions, 2000, "all clients are connected to sqlyard");
    let backends = app_threads(topo).await;
    // at most one connection per concurrent client on each of the three
    // servers (reads spread over two replicas; logins check the database
    // on the primary), whatever the number of idle clients
    let bound = 3 * CONCURRENCY as i64;
    assert!(
        backends <= bound,
        "2000 idle clients hold {backends} backend connections on the three servers (want <= {bound})"
    );
    // every idle session is still usable
    for (i, c) in conns.iter_mut().enumerate().step_by(97) {
        let v: Option<i64> = c.query_first(format!("SELECT {i}")).await.unwrap();
        assert_eq!(v, Some(i as i64));
    }
    disconnect_all(conns).await;
    router.stop().await;
    eprintln!("2000 clients connected in {connect_time:?}, {backends} backend connections");
}

/// A client whose last statement changed rows and who then goes idle is
/// idle all the same: it must not keep a backend connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_clients_after_a_write_hold_few_backend_connections() {
    let _serial = SERIAL.lock().await;
    let own = common::own_topology().await;
    let topo = &*own;
    let db = common::fresh_db(topo, "mux_idle_write").await;
    let mut d = common::direct(topo).await;
    d.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT AUTO_INCREMENT PRIMARY KEY, v INT)"
    ))
    .await
    .unwrap();
    drop(d);
    wait_quiet(topo).await;
    let router = common::Router::start(topo, "[pool]\ncheckout_timeout = \"20s\"\n").await;
    let conns = connect_many(
        &router,
        200,
        CONCURRENCY,
        &format!("INSERT INTO `{db}`.t (v) VALUES (1)"),
    )
    .await;
    let backends = app_threads(topo).await;
    assert!(
        backends <= 20,
        "200 clients idle after an INSERT hold {backends} backend connections (want <= 20)"
    );
    disconnect_all(conns).await;
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_clients_all_succeed() {
    let _serial = SERIAL.lock().await;
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "mux_many").await;
    let mut d = common::direct(topo).await;
    d.query_drop(format!(
        "CREATE TABLE `{db}`.t (id INT AUTO_INCREMENT PRIMARY KEY, client INT, v INT, KEY (client)) ENGINE=InnoDB"
    ))
    .await
    .unwrap();
    let router =
        common::Router::start(topo, "[pool]\nmax_size = 16\ncheckout_timeout = \"30s\"\n").await;
    const CLIENTS: usize = 200;
    const ROUNDS: i64 = 3;
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let opts = router.opts().db_name(Some(db.clone())).stmt_cache_size(0);
        tasks.push(tokio::spawn(async move {
            let i = client as i64;
            let fail = |what: &str, e: String| format!("client {client}: {what}: {e}");
            let mut c = Conn::new(opts)
                .await
                .map_err(|e| fail("connect", e.to_string()))?;
            let mode = if client % 2 == 0 {
                "ANSI_QUOTES"
            } else {
                "NO_ENGINE_SUBSTITUTION"
            };
            let tz = format!("+{:02}:00", client % 10);
            c.query_drop(format!(
                "SET @me = {i}, sql_mode = '{mode}', time_zone = '{tz}'"
            ))
            .await
            .map_err(|e| fail("SET", e.to_string()))?;
            for r in 0..ROUNDS {
                c.query_drop(format!("INSERT INTO t (client, v) VALUES ({i}, {r})"))
                    .await
                    .map_err(|e| fail("INSERT", e.to_string()))?;
                let probe: Option<(i64, String, String, String)> = c
                    .query_first("SELECT @me, @@sql_mode, @@time_zone, DATABASE()")
                    .await
                    .map_err(|e| fail("probe", e.to_string()))?;
                let want = (i, mode.to_string(), tz.clone(), "mux_many".to_string());
                if probe.as_ref() != Some(&want) {
                    return Err(fail("session state", format!("{probe:?}, want {want:?}")));
                }
                c.query_drop("BEGIN")
                    .await
                    .map_err(|e| fail("BEGIN", e.to_string()))?;
                c.query_drop(format!("INSERT INTO t (client, v) VALUES ({i}, 100)"))
                    .await
                    .map_err(|e| fail("INSERT in trx", e.to_string()))?;
                let n: Option<i64> = c
                    .query_first(format!("SELECT COUNT(*) FROM t WHERE client = {i}"))
                    .await
                    .map_err(|e| fail("count in trx", e.to_string()))?;
                if n != Some(r + 2) {
                    return Err(fail("count in trx", format!("{n:?}, want {}", r + 2)));
                }
                c.query_drop("ROLLBACK")
                    .await
                    .map_err(|e| fail("ROLLBACK", e.to_string()))?;
                let st = c
                    .prep("SELECT ? + @me")
                    .await
                    .map_err(|e| fail("prepare", e.to_string()))?;
                let v: Option<i64> = c
                    .exec_first(&st, (10,))
                    .await
                    .map_err(|e| fail("execute", e.to_string()))?;
                c.close(st)
                    .await
                    .map_err(|e| fail("close", e.to_string()))?;
                if v != Some(i + 10) {
                    return Err(fail("prepared result", format!("{v:?}")));
                }
                c.query_drop(format!(
                    "SELECT SQL_CALC_FOUND_ROWS * FROM t WHERE client = {i} LIMIT 1"
                ))
                .await
                .map_err(|e| fail("SQL_CALC_FOUND_ROWS", e.to_string()))?;
                let found: Option<i64> = c
                    .query_first("SELECT FOUND_ROWS()")
                    .await
                    .map_err(|e| fail("FOUND_ROWS", e.to_string()))?;
                if found != Some(r + 1) {
                    return Err(fail("FOUND_ROWS", format!("{found:?}, want {}", r + 1)));
                }
            }
            c.disconnect()
                .await
                .map_err(|e| fail("disconnect", e.to_string()))?;
            Ok::<(), String>(())
        }));
    }
    let mut failures = Vec::new();
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            failures.push(e);
        }
    }
    let elapsed = t0.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed; first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    let total: Option<i64> = d
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.t"))
        .await
        .unwrap();
    assert_eq!(
        total,
        Some(CLIENTS as i64 * ROUNDS),
        "every committed row, no rolled back one"
    );
    eprintln!("{CLIENTS} clients done in {elapsed:?}");
    router.stop().await;
}
