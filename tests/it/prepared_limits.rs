//! Prepared statements do not pile up on the servers. A client that
//! prepares, runs and closes many distinct statements must not leave them
//! open on the servers after it closed them (or left): the servers'
//! `max_prepared_stmt_count` is shared by every client. Checked with the
//! servers' own `Prepared_stmt_count` against the backend connections
//! sqlyard has open there (the app user's threads in the processlist).
use crate::{common, procs};

use std::process::Command;
use std::time::Duration;

use mysql_async::prelude::*;
use sqlyard::sandbox::Topology;

/// The bound this test runs with (`pool.max_prepared_per_connection`).
const CAP: u64 = 64;
const STATEMENTS: u32 = 1000;

/// (server id, Prepared_stmt_count, app connections) of every server, each
/// read in one statement.
async fn census(topo: &Topology) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    for node in topo.nodes() {
        let mut c = common::monitor_conn(node.port()).await;
        let row: Option<(u64, u64)> = c
            .query_first(
                "SELECT (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                         WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'), \
                        (SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app')",
            )
            .await
            .expect("census");
        let (stmts, conns) = row.unwrap_or_default();
        out.push((node.server_id(), stmts, conns));
        c.disconnect().await.ok();
    }
    out
}

fn php(port: u16, db: &str) -> Command {
    let mut c = Command::new("php");
    c.arg("-d")
        .arg("display_errors=stderr")
        .arg(procs::client_script("prepare_many.php"))
        .args([
            "127.0.0.1",
            &port.to_string(),
            "app",
            "app_pw",
            db,
            &STATEMENTS.to_string(),
        ]);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_statements_do_not_pile_up_on_the_servers() {
    let own = common::own_topology().await;
    let topo: &Topology = &own;
    let db = common::fresh_db(topo, "prep_limits").await;
    let r = common::Router::start(topo, "[pool]\nmax_prepared_per_connection = 64\n").await;
    r.wait_eligible(2, Duration::from_secs(30)).await;
    let port = r.port;

    // one session, then 16 at once, the servers sampled meanwhile
    let mut over = Vec::new();
    for clients in [1, 16] {
        let runs: Vec<_> = (0..clients)
            .map(|_| tokio::spawn(procs::run_async(php(port, &db), Duration::from_secs(300))))
            .collect();
        while !runs.iter().all(|h| h.is_finished()) {
            for (id, stmts, conns) in census(topo).await {
                if stmts > CAP * conns {
                    over.push((id, stmts, conns));
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for h in runs {
            let out = h.await.unwrap();
            out.assert_ok("prepare_many.php");
            assert_eq!(out.stdout.trim(), format!("ok\t{STATEMENTS}"));
        }
    }
    assert!(
        over.is_empty(),
        "Prepared_stmt_count above {CAP} per open app connection: {over:?}"
    );

    // After the clients left: at most CAP per idle pooled connection, and
    // in fact none are kept for texts no client holds.
    let mut last = Vec::new();
    for _ in 0..50 {
        last = census(topo).await;
        if last.iter().all(|(_, stmts, conns)| *stmts <= CAP * conns) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (id, stmts, conns) in &last {
        assert!(
            *stmts <= CAP * conns,
            "server {id}: {stmts} statements open for {conns} idle connections"
        );
    }
    println!("after the clients left (server id, statements, app connections): {last:?}");
    r.stop().await;
}
