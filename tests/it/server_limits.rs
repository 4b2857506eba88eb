//! What one client population may take from a server: sqlyard never holds
//! more connections to a server than its limit across all pools (by
//! default 80% of the server's own `max_connections`), clients choosing
//! different collations share one pool per user, and a server refusing
//! sqlyard's logins is the server's answer, passed on at once, not a lost
//! primary. Checked on the servers: their processlists, `@@collation_connection`,
//! replication and `read_only`.
use crate::{common, failover_support};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use failover_support::*;
use mysql_async::prelude::*;
use sqlyard::sandbox::Topology;

use crate::raw::{RawConn, Response};

/// Connections the user `app` has open on the server at `port`.
async fn app_threads(port: u16) -> u64 {
    let mut c = common::monitor_conn(port).await;
    let n: Option<u64> = c
        .query_first("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")
        .await
        .unwrap();
    c.disconnect().await.ok();
    n.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_to_a_server_stay_under_its_limit_whatever_the_collation() {
    let own = common::own_topology().await;
    let topo: &Topology = &own;
    let primary_port = topo.primary().port();
    // the server's own limit: 21, so sqlyard's default is 16 (4/5); the 5
    // beyond are the test's, the monitor's and the standby fence's
    let mut root = topo.primary().root_conn().await.unwrap();
    root.query_drop("SET GLOBAL max_connections = 21")
        .await
        .unwrap();
    let db = common::fresh_db(topo, "server_limit").await;
    root.query_drop(format!("CREATE TABLE {db}.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let r = common::Router::start(topo, "[pool]\ncheckout_timeout = \"2s\"\n").await;
    // the monitor's next polls read the new max_connections
    tokio::time::sleep(Duration::from_secs(2)).await;

    // the servers' processlist, sampled while the clients run
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max(app_threads(primary_port).await, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    // 20 clients with ten different collations, each holding a write
    // transaction (a primary connection) open
    let collations: [u8; 10] = [8, 33, 45, 46, 224, 83, 192, 47, 9, 63];
    let mut holders = Vec::new();
    let mut refused = Vec::new();
    for i in 0..20u8 {
        let coll = collations[usize::from(i) % collations.len()];
        let mut c = RawConn::connect_with_collation(r.port, "app", "app_pw", None, 0, coll)
            .await
            .expect("login");
        let started = Instant::now();
        let mut r = c.query("BEGIN").await;
        if matches!(r, Response::Ok { .. }) {
            r = c.query(&format!("INSERT INTO {db}.t VALUES ({i})")).await;
        }
        match r {
            Response::Ok { .. } => {
                // the session has the collation it asked for, on the server
                let want: Option<String> = root
                    .exec_first(
                        "SELECT COLLATION_NAME FROM information_schema.COLLATIONS WHERE ID = ?",
                        (coll,),
                    )
                    .await
                    .unwrap();
                let rows = c.query_rows("SELECT @@collation_connection").await;
                let got = String::from_utf8(rows[0][0].clone().unwrap()).unwrap();
                assert_eq!(Some(got), want, "client {i} asked for collation {coll}");
                holders.push(c);
            }
            Response::Err(e) => {
                assert_eq!(e.code, 1040, "{e:?}");
                assert!(
                    e.message.starts_with("sqlyard: all 16 connections"),
                    "{}",
                    e.message
                );
                assert!(started.elapsed() >= Duration::from_millis(1900));
                refused.push((i, c));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(holders.len(), 16, "the limit is 80% of the server's 20");
    // the refused ones go on as soon as places are free
    for c in holders.iter_mut() {
        assert!(matches!(c.query("COMMIT").await, Response::Ok { .. }));
    }
    for (i, c) in refused.iter_mut() {
        let _ = c.query("ROLLBACK").await;
        assert!(matches!(c.query("BEGIN").await, Response::Ok { .. }));
        let r = c.query(&format!("INSERT INTO {db}.t VALUES ({i})")).await;
        assert!(matches!(r, Response::Ok { .. }), "{r:?}");
        assert!(matches!(c.query("COMMIT").await, Response::Ok { .. }));
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.await.unwrap();
    let peak = peak.load(Ordering::Relaxed);
    let rows: Option<u64> = root
        .query_first(format!("SELECT COUNT(*) FROM {db}.t"))
        .await
        .unwrap();
    assert_eq!(rows, Some(20), "every client's row is on the primary");
    println!("peak app connections on the primary: {peak} (limit 16)");
    assert!(peak <= 16, "the primary saw {peak} app connections");

    // one pool for the user, whatever the collations
    let pools = admin_sql(r.server.admin_addr().port(), "SHOW POOLS")
        .await
        .unwrap();
    let primary = topo.primary().address();
    let app_pools: Vec<_> = pools
        .iter()
        .filter(|p| cell(p, "user") == "app" && cell(p, "server") == primary)
        .collect();
    assert_eq!(app_pools.len(), 1, "pools: {pools:#?}");

    // A collation with a pool of its own (named differently by MariaDB and
    // MySQL) while the user's pool holds all 16 places idle: that pool's
    // oldest idle connection gives way at once, closed with COM_QUIT.
    let aborted_before = aborted(&mut root).await;
    let mut other = RawConn::connect_with_collation(r.port, "app", "app_pw", None, 0, 213)
        .await
        .expect("login");
    let started = Instant::now();
    let r2 = other
        .query(&format!("INSERT INTO {db}.t VALUES (100)"))
        .await;
    assert!(matches!(r2, Response::Ok { .. }), "{r2:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert!(app_threads(primary_port).await <= 16);
    assert_eq!(
        aborted(&mut root).await,
        aborted_before,
        "closed without COM_QUIT"
    );
    root.disconnect().await.ok();
    r.stop().await;
}

/// The server's `Aborted_clients`: connections closed without COM_QUIT.
async fn aborted(root: &mut mysql_async::Conn) -> u64 {
    let v: Option<(String, u64)> = root
        .query_first("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")
        .await
        .unwrap();
    v.map_or(0, |(_, n)| n)
}

/// Ends the user `app`'s connections on a server (the router's pooled ones).
async fn kick_app(root: &mut mysql_async::Conn) {
    let ids: Vec<u64> = root
        .query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app'")
        .await
        .unwrap();
    for id in ids {
        let _ = root.query_drop(format!("KILL {id}")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_refusing_logins_is_answered_at_once_and_never_failed_over() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |_| {}).await;
    let admin = admin_port(&router);
    let p = topo.primary_index();
    prepare_table(&topo).await;
    wait_replicas_eligible(&topo, admin).await;
    let mut root = topo.primary().root_conn().await.unwrap();
    // on the primary only (not replicated)
    root.query_drop("SET SESSION sql_log_bin = 0")
        .await
        .unwrap();

    // 1. Access denied: the router's password for app no longer works there
    root.query_drop("ALTER USER 'app'@'%' IDENTIFIED BY 'changed_behind_sqlyards_back'")
        .await
        .unwrap();
    kick_app(&mut root).await;
    let started = Instant::now();
    let e = write_through(
        router.port,
        "INSERT INTO failover_test.writes (id, worker) VALUES (1, 1)",
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(e.contains("1045") || e.contains("Access denied"), "{e}");
    assert!(
        took < Duration::from_secs(2),
        "the refusal took {took:?}: writes were held"
    );
    // reads go on on the replicas
    read_server_ids(router.port, 4).await.unwrap();

    // 2. Too many connections for the user there
    root.query_drop("ALTER USER 'app'@'%' IDENTIFIED BY 'app_pw' WITH MAX_USER_CONNECTIONS 1")
        .await
        .unwrap();
    kick_app(&mut root).await;
    let only = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(topo.primary().port())
            .user(Some("app"))
            .pass(Some("app_pw")),
    )
    .await
    .unwrap();
    let started = Instant::now();
    let e = write_through(
        router.port,
        "INSERT INTO failover_test.writes (id, worker) VALUES (2, 1)",
    )
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(
        e.contains("1226") || e.contains("max_user_connections"),
        "{e}"
    );
    assert!(
        took < Duration::from_secs(2),
        "the refusal took {took:?}: writes were held"
    );

    // longer than the detector would need to act on a lost primary
    tokio::time::sleep(SILENCE_GRACE * 3).await;
    assert_no_failover(admin, "a primary refusing logins").await;
    let ro: Option<u8> = root.query_first("SELECT @@read_only").await.unwrap();
    assert_eq!(ro, Some(0), "the primary is still writable");
    for n in 0..topo.nodes().len() {
        if n != p {
            replicates_from(&topo, n, p).await.unwrap();
        }
    }
    // and once the server takes the login again, writes go through
    only.disconnect().await.unwrap();
    root.query_drop("ALTER USER 'app'@'%' WITH MAX_USER_CONNECTIONS 0")
        .await
        .unwrap();
    write_through(
        router.port,
        "INSERT INTO failover_test.writes (id, worker) VALUES (3, 1)",
    )
    .await
    .unwrap();
    root.disconnect().await.ok();
    router.stop().await;
}
