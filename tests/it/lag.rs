//! sqlyard measures replica lag itself, with a heartbeat it writes on the
//! primary and reads on the replicas (Seconds_Behind_Master reads 0 or NULL
//! while replication is stopped). These tests stop a replica's SQL thread
//! on a sandbox of their own while writes continue and check the
//! measurement, in the topology snapshot and in the admin's SHOW SERVERS.

use crate::common;

use std::time::{Duration, Instant};

use common::Router;
use mysql_async::prelude::*;

/// The lag sqlyard currently reports for `addr`.
fn lag_of(router: &Router, addr: &str) -> Option<Duration> {
    router
        .server
        .ctx
        .topology
        .load()
        .server(addr)
        .and_then(|s| s.lag)
}

async fn wait_for(what: &str, within: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SHOW SERVERS' lag_seconds for `addr`, through the real mariadb CLI.
fn admin_lag(router: &Router, addr: &str) -> Option<f64> {
    admin_cell(router, addr, "lag_seconds").and_then(|v| v.parse().ok())
}

/// One cell of SHOW SERVERS for `addr`, through the real mariadb CLI.
fn admin_cell(router: &Router, addr: &str, column: &str) -> Option<String> {
    let out = std::process::Command::new("mariadb")
        .args([
            "-h127.0.0.1",
            &format!("-P{}", router.server.admin_addr().port()),
            "-uadmin",
            "-padmin_pw",
            "--batch",
            "-e",
            "SHOW SERVERS",
        ])
        .output()
        .expect("mariadb CLI runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = header.iter().position(|h| *h == column)?;
    let addr_col = header.iter().position(|h| *h == "address")?;
    lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|r| r.get(addr_col) == Some(&addr))
        .and_then(|r| r.get(col).map(|v| v.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_sql_thread_lag_is_measured_to_the_second() {
    let own = common::own_topology().await;
    let topo = &*own;
    let router = Router::start(topo, "").await;
    let replica = topo.node(1).unwrap();
    let addr = replica.address();

    // A healthy replica: measured, and under a second.
    wait_for(
        "healthy replica lag measured",
        Duration::from_secs(10),
        || lag_of(&router, &addr).is_some_and(|l| l < Duration::from_secs(1)),
    )
    .await;

    let mut app = router.conn().await;
    app.query_drop("CREATE TABLE IF NOT EXISTS test.lag_writes (id INT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6))")
        .await
        .unwrap();
    replica.exec_root("STOP SLAVE SQL_THREAD").await.unwrap();
    let stopped = Instant::now();
    // writes continue on the primary
    while stopped.elapsed() < Duration::from_secs(5) {
        app.query_drop("INSERT INTO test.lag_writes (at) VALUES (NOW(6))")
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let measured = lag_of(&router, &addr).expect("lag is measured while stopped");
    let from_admin = admin_lag(&router, &addr).expect("SHOW SERVERS has lag_seconds");
    let reads = admin_cell(&router, &addr, "reads").unwrap_or_default();
    let sbm: Option<Option<u64>> = replica
        .query_root_first::<mysql_async::Row>("SHOW SLAVE STATUS")
        .await
        .unwrap()
        .map(|r| r.get::<Option<u64>, _>("Seconds_Behind_Master").flatten());
    replica.exec_root("START SLAVE SQL_THREAD").await.unwrap();
    eprintln!("lag after 5 s stopped: snapshot {measured:?}, SHOW SERVERS {from_admin}, Seconds_Behind_Master {sbm:?}");
    assert!(
        measured >= Duration::from_secs(4) && measured <= Duration::from_secs(6),
        "5 ± 1 s expected, measured {measured:?}"
    );
    assert!(
        (4.0..=6.5).contains(&from_admin),
        "SHOW SERVERS lag {from_admin}"
    );
    assert!(
        reads.starts_with("no: replication not running"),
        "a replica with its SQL thread stopped gets no reads: {reads}"
    );

    // Caught up again: back under a second.
    wait_for("lag back under a second", Duration::from_secs(15), || {
        lag_of(&router, &addr).is_some_and(|l| l < Duration::from_secs(1))
    })
    .await;
    // The other replica was never behind.
    let other = topo.node(2).unwrap().address();
    assert!(lag_of(&router, &other).is_some_and(|l| l < Duration::from_secs(1)));
    // The primary has no lag.
    let primary = topo.node(0).unwrap().address();
    assert_eq!(lag_of(&router, &primary), None);
    router.stop().await;
}
