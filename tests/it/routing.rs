//! The read/write split, checked where statements really ran: every probe
//! returns `@@server_id` (or fails on a read-only replica), so the servers
//! themselves say which one answered, never sqlyard.
//!
//! Each test has a sandbox of its own: how reads spread over the replicas
//! depends on every replica being eligible, which a neighbour's writes (lag)
//! or a stopped replica would change.
use crate::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Router;
use mysql_async::prelude::*;
use mysql_async::Conn;
use sqlyard::sandbox::Topology;
use sqlyard::topology::AdminState;

const PROBE: &str = "SELECT @@server_id";

struct Ids {
    primary: u32,
    replicas: Vec<u32>,
}

fn ids(topo: &Topology) -> Ids {
    Ids {
        primary: topo.primary().server_id(),
        replicas: topo
            .replica_indexes()
            .into_iter()
            .map(|i| topo.node(i).unwrap().server_id())
            .collect(),
    }
}

/// Starts a router and waits until `replicas` replicas may serve reads.
async fn router(topo: &Topology, extra: &str, replicas: usize) -> Router {
    let r = Router::start(topo, extra).await;
    r.wait_eligible(replicas, Duration::from_secs(20)).await;
    r
}

async fn sid(c: &mut Conn, sql: &str) -> u32 {
    c.query_first::<u32, _>(sql).await.unwrap().unwrap()
}

/// Runs `sql` (which returns the server id) `n` times; counts per server id.
async fn spread(c: &mut Conn, sql: &str, n: usize) -> HashMap<u32, usize> {
    let mut m = HashMap::new();
    for _ in 0..n {
        *m.entry(sid(c, sql).await).or_default() += 1;
    }
    m
}

/// Runs `sql` `n` times, each on a new connection (like PHP's one per
/// page): a connection that runs statements back to back keeps its replica
/// (affinity while it holds one), so spreading shows across connections.
async fn spread_fresh(r: &Router, sql: &str, n: usize) -> HashMap<u32, usize> {
    let mut m = HashMap::new();
    for _ in 0..n {
        let mut c = r.conn().await;
        *m.entry(sid(&mut c, sql).await).or_default() += 1;
        c.disconnect().await.unwrap();
    }
    m
}

fn on(m: &HashMap<u32, usize>, id: u32) -> usize {
    m.get(&id).copied().unwrap_or(0)
}

/// A table on the primary, created directly, replicated before it is read.
async fn table(topo: &Topology, name: &str, rows: u32) {
    let mut d = common::direct(topo).await;
    d.query_drop(format!("DROP TABLE IF EXISTS test.{name}"))
        .await
        .unwrap();
    d.query_drop(format!(
        "CREATE TABLE test.{name} (id INT PRIMARY KEY AUTO_INCREMENT, v INT)"
    ))
    .await
    .unwrap();
    if rows > 0 {
        let values: Vec<String> = (1..=rows).map(|i| format!("({i}, {i})")).collect();
        d.query_drop(format!(
            "INSERT INTO test.{name} VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    }
    topo.wait_replicas_caught_up(Duration::from_secs(10))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocommit_reads_spread_over_replicas_by_weight() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    let r = router(topo, "", 2).await;
    let m = spread_fresh(&r, PROBE, 300).await;
    assert_eq!(on(&m, ids.primary), 0, "{m:?}");
    let mut c = r.conn().await;
    for id in &ids.replicas {
        let n = on(&m, *id);
        assert!((100..=200).contains(&n), "1:1 weights, replica {id}: {m:?}");
    }
    // SHOW and DESCRIBE go there too
    let rows: Vec<(String, String)> = c.query("SHOW VARIABLES LIKE 'server_id'").await.unwrap();
    assert_ne!(rows[0].1, ids.primary.to_string());
    r.stop().await;

    // weight 3 on the first replica: about 3:1
    let first = topo.node(topo.replica_indexes()[0]).unwrap().address();
    let r = Router::start_with(topo, true, |text| {
        *text = text.replace(
            &format!("address = \"{first}\""),
            &format!("address = \"{first}\"\nweight = 3"),
        );
    })
    .await;
    r.wait_eligible(2, Duration::from_secs(20)).await;
    let m = spread_fresh(&r, PROBE, 400).await;
    let heavy = on(&m, ids.replicas[0]);
    let light = on(&m, ids.replicas[1]);
    assert_eq!(heavy + light, 400, "{m:?}");
    assert!((250..=350).contains(&heavy), "3:1 weights: {m:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_locking_reads_and_transactions_stay_on_the_primary() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    table(topo, "routing_w", 3).await;
    let r = router(topo, "", 2).await;
    let mut c = r.conn().await;
    // replicas are read-only: a write that succeeds ran on the primary
    c.query_drop("INSERT INTO test.routing_w (v) VALUES (10)")
        .await
        .unwrap();
    c.query_drop("UPDATE test.routing_w SET v = v + 1 WHERE id = 1")
        .await
        .unwrap();
    for sql in [
        "SELECT @@server_id FROM test.routing_w WHERE id = 1 FOR UPDATE",
        "SELECT @@server_id FROM test.routing_w WHERE id = 1 LOCK IN SHARE MODE",
        "SELECT @@server_id + 0 * IS_FREE_LOCK('routing_lock')",
    ] {
        let m = spread(&mut c, sql, 10).await;
        assert_eq!(on(&m, ids.primary), 10, "{sql}: {m:?}");
    }
    // GET_LOCK pins the session to its primary connection until released
    let (sid_lock, lock, conn_id): (u32, i64, u64) = c
        .query_first("SELECT @@server_id, GET_LOCK('routing_lock', 1), CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((sid_lock, lock), (ids.primary, 1));
    for _ in 0..5 {
        let (s, id): (u32, u64) = c
            .query_first("SELECT @@server_id, CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((s, id), (ids.primary, conn_id));
    }
    c.query_drop("DO RELEASE_LOCK('routing_lock')")
        .await
        .unwrap();
    // SELECT ... INTO @v runs on the primary; @v is then readable anywhere
    c.query_drop("SELECT @@server_id INTO @where_into")
        .await
        .unwrap();
    for _ in 0..10 {
        let (v, s): (u32, u32) = c
            .query_first("SELECT @where_into, @@server_id")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(v, ids.primary);
        assert!(ids.replicas.contains(&s), "plain read on a replica");
    }
    // BEGIN ... COMMIT: every statement on one primary connection
    c.query_drop("BEGIN").await.unwrap();
    let mut seen = Vec::new();
    for i in 0..5 {
        let row: (u32, u64) = c
            .query_first("SELECT @@server_id, CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        seen.push(row);
        c.query_drop(format!("INSERT INTO test.routing_w (v) VALUES ({i})"))
            .await
            .unwrap();
    }
    c.query_drop("COMMIT").await.unwrap();
    assert!(seen.iter().all(|r| *r == seen[0]), "{seen:?}");
    assert_eq!(seen[0].0, ids.primary);
    // START TRANSACTION READ ONLY: one replica connection for all of it
    c.query_drop("START TRANSACTION READ ONLY").await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        let row: (u32, u64) = c
            .query_first("SELECT @@server_id, CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        seen.push(row);
    }
    let _: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM test.routing_w")
        .await
        .unwrap();
    c.query_drop("COMMIT").await.unwrap();
    assert!(seen.iter().all(|r| *r == seen[0]), "{seen:?}");
    assert!(ids.replicas.contains(&seen[0].0), "{seen:?}");
    // autocommit=0: everything on the primary, one connection
    c.query_drop("SET autocommit = 0").await.unwrap();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let row: (u32, u64) = c
            .query_first("SELECT @@server_id, CONNECTION_ID() FROM test.routing_w LIMIT 1")
            .await
            .unwrap()
            .unwrap();
        seen.push(row);
    }
    assert!(seen.iter().all(|r| *r == seen[0]), "{seen:?}");
    assert_eq!(seen[0].0, ids.primary);
    c.query_drop("COMMIT").await.unwrap();
    c.query_drop("SET autocommit = 1").await.unwrap();
    let m = spread(&mut c, PROBE, 10).await;
    assert_eq!(on(&m, ids.primary), 0, "autocommit back on: {m:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn found_rows_is_answered_by_the_connection_that_counted() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    table(topo, "routing_found", 200).await;
    let r = router(
        topo,
        "[pool]\nmax_size = 2\ncheckout_timeout = \"20s\"\n",
        2,
    )
    .await;
    let mut tasks = Vec::new();
    for client in 0..16u32 {
        let opts = r.opts();
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::new(opts).await.unwrap();
            for i in 0..15u32 {
                let k = 1 + (client * 37 + i * 11) % 200;
                let (_, s): (i64, u32) = c
                    .query_first(format!(
                        "SELECT SQL_CALC_FOUND_ROWS id, @@server_id FROM test.routing_found WHERE id <= {k} ORDER BY id LIMIT 1"
                    ))
                    .await
                    .unwrap()
                    .unwrap();
                let found: u32 = c.query_first("SELECT FOUND_ROWS()").await.unwrap().unwrap();
                assert_eq!(found, k, "client {client}, iteration {i}");
                assert!(s > 0);
            }
            c.disconnect().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // and the counting statement did go to replicas
    let mut c = r.conn().await;
    let mut replicas = 0;
    for k in 1..=20u32 {
        let (_, s): (i64, u32) = c
            .query_first(format!(
                "SELECT SQL_CALC_FOUND_ROWS id, @@server_id FROM test.routing_found WHERE id <= {k} LIMIT 1"
            ))
            .await
            .unwrap()
            .unwrap();
        let found: u32 = c.query_first("SELECT FOUND_ROWS()").await.unwrap().unwrap();
        assert_eq!(found, k);
        if ids.replicas.contains(&s) {
            replicas += 1;
        }
    }
    assert_eq!(replicas, 20);
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temp_tables_user_variables_and_unknown_state() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    let r = router(topo, "", 2).await;
    let mut c = r.conn().await;
    // a temporary table keeps the session on its (primary) connection
    c.query_drop("CREATE TEMPORARY TABLE test.routing_tmp (x INT)")
        .await
        .unwrap();
    c.query_drop("INSERT INTO test.routing_tmp VALUES (1), (2)")
        .await
        .unwrap();
    let first: u64 = c
        .query_first("SELECT CONNECTION_ID()")
        .await
        .unwrap()
        .unwrap();
    for _ in 0..5 {
        let (n, s, id): (i64, u32, u64) = c
            .query_first("SELECT COUNT(*), @@server_id, CONNECTION_ID() FROM test.routing_tmp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((n, s, id), (2, ids.primary, first));
    }
    c.query_drop("DROP TEMPORARY TABLE test.routing_tmp")
        .await
        .unwrap();
    let m = spread(&mut c, PROBE, 10).await;
    assert_eq!(on(&m, ids.primary), 0, "temp table gone: {m:?}");

    // a user variable set on the primary is seen on the replicas
    c.query_drop("SET @routing_v = 'hello', @routing_n = 42")
        .await
        .unwrap();
    let mut replica_reads = 0;
    for _ in 0..10 {
        let (v, n, s): (String, i64, u32) = c
            .query_first("SELECT @routing_v, @routing_n, @@server_id")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((v.as_str(), n), ("hello", 42));
        if ids.replicas.contains(&s) {
            replica_reads += 1;
        }
    }
    assert_eq!(replica_reads, 10);

    // hints force the route
    let m = spread(&mut c, "/* sqlyard:primary */ SELECT @@server_id", 10).await;
    assert_eq!(on(&m, ids.primary), 10, "{m:?}");
    let m = spread(
        &mut c,
        "SELECT /* sqlyard:replica */ @@server_id + 0 * IS_FREE_LOCK('routing_hint')",
        10,
    )
    .await;
    assert_eq!(on(&m, ids.primary), 0, "{m:?}");

    // a SET sqlyard cannot replay pins the session to the primary
    c.query_drop("SET ROLE NONE").await.unwrap();
    let m = spread(&mut c, PROBE, 10).await;
    assert_eq!(on(&m, ids.primary), 10, "unknown state: {m:?}");
    c.reset().await.unwrap();
    let m = spread(&mut c, PROBE, 10).await;
    assert_eq!(on(&m, ids.primary), 0, "after a reset: {m:?}");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_run_where_their_text_allows() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    table(topo, "routing_ps", 0).await;
    let r = router(topo, "", 2).await;
    let mut c = r.conn().await;
    let read = c.prep("SELECT @@server_id + ?").await.unwrap();
    let write = c
        .prep("INSERT INTO test.routing_ps (v) VALUES (?)")
        .await
        .unwrap();
    let mut m: HashMap<u32, usize> = HashMap::new();
    for i in 0..40u32 {
        let s: u32 = c.exec_first(&read, (0,)).await.unwrap().unwrap();
        *m.entry(s).or_default() += 1;
        // the replicas are read-only: this succeeds only on the primary
        c.exec_drop(&write, (i,)).await.unwrap();
    }
    assert_eq!(on(&m, ids.primary), 0, "{m:?}");
    for id in &ids.replicas {
        assert!(on(&m, *id) >= 8, "{m:?}");
    }
    let n: i64 = c
        .query_first("SELECT COUNT(*) FROM test.routing_ps")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 40, "read-your-writes sees all 40 rows");
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_replicas_and_primary_reads_policies() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    let [a, b] = [0, 1].map(|i| topo.node(topo.replica_indexes()[i]).unwrap().address());

    // never: reads never touch the primary, and fail clearly without replicas
    let r = router(topo, "[routing]\nprimary_reads = \"never\"\n", 2).await;
    let mut c = r.conn().await;
    let m = spread(&mut c, PROBE, 30).await;
    assert_eq!(on(&m, ids.primary), 0, "{m:?}");
    r.server
        .control
        .set_server_state(&a, AdminState::Offline)
        .unwrap();
    let m = spread(&mut c, PROBE, 20).await;
    assert_eq!(on(&m, ids.replicas[1]), 20, "{a} is OFFLINE: {m:?}");
    r.server
        .control
        .set_server_state(&b, AdminState::Offline)
        .unwrap();
    let err = c.query_drop(PROBE).await.unwrap_err().to_string();
    assert!(err.contains("sqlyard:") && err.contains("never"), "{err}");
    // writes still work
    let (s,): (u32,) = c
        .query_first("/* sqlyard:primary */ SELECT @@server_id")
        .await
        .unwrap()
        .map(|s| (s,))
        .unwrap();
    assert_eq!(s, ids.primary);
    r.stop().await;

    // fallback (the default): the primary only when no replica qualifies
    let r = router(topo, "", 2).await;
    let mut c = r.conn().await;
    for addr in [&a, &b] {
        r.server
            .control
            .set_server_state(addr, AdminState::Offline)
            .unwrap();
    }
    let m = spread(&mut c, PROBE, 10).await;
    assert_eq!(on(&m, ids.primary), 10, "{m:?}");
    r.server
        .control
        .set_server_state(&b, AdminState::Online)
        .unwrap();
    let m = spread(&mut c, PROBE, 10).await;
    assert_eq!(on(&m, ids.replicas[1]), 10, "{m:?}");
    r.stop().await;

    // always: the primary is one more read target
    let r = router(topo, "[routing]\nprimary_reads = \"always\"\n", 2).await;
    let m = spread_fresh(&r, PROBE, 300).await;
    for id in [ids.primary, ids.replicas[0], ids.replicas[1]] {
        assert!((60..=140).contains(&on(&m, id)), "{m:?}");
    }
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_gets_no_reads() {
    let own = common::own_topology().await;
    let topo = &*own;
    let ids = ids(topo);
    let lagging = topo.node(topo.replica_indexes()[0]).unwrap();
    let r = router(topo, "[routing]\nmax_replication_lag = \"1s\"\n", 2).await;
    let mut c = r.conn().await;
    lagging.exec_root("STOP SLAVE SQL_THREAD").await.unwrap();
    // with the SQL thread stopped, the heartbeat shows lag growing past 1 s
    let t0 = Instant::now();
    let lag_over = |r: &Router| {
        r.server
            .ctx
            .topology
            .load()
            .server(&lagging.address())
            .and_then(|s| s.lag)
            .is_some_and(|l| l > Duration::from_secs(1))
    };
    while !(lag_over(&r) && r.eligible_replicas() == 1) {
        assert!(t0.elapsed() < Duration::from_secs(10), "lag never over 1s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = spread(&mut c, PROBE, 40).await;
    lagging.exec_root("START SLAVE SQL_THREAD").await.unwrap();
    assert_eq!(on(&m, lagging.server_id()), 0, "{m:?}");
    assert_eq!(on(&m, ids.replicas[1]), 40, "{m:?}");
    r.wait_eligible(2, Duration::from_secs(20)).await;
    drop(c);
    let m = spread_fresh(&r, PROBE, 60).await;
    assert!(on(&m, lagging.server_id()) > 10, "back in rotation: {m:?}");
    r.stop().await;
}
