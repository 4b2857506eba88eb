//! Read-your-writes: after a client writes, its later reads see the
//! write, even through a new connection of the same user (PHP opens one
//! per page), while reads still go to replicas whenever one has the write.
//! Where each read ran is told by the server (`@@server_id` in the row).
//!
//! Every test here changes replication, so each has a sandbox of its own.
use crate::{common, procs};

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::Router;
use mysql_async::prelude::*;
use mysql_async::Conn;
use sqlyard::sandbox::Topology;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn table(topo: &Topology, name: &str) {
    let mut d = common::direct(topo).await;
    d.query_drop(format!("DROP TABLE IF EXISTS test.{name}"))
        .await
        .unwrap();
    d.query_drop(format!(
        "CREATE TABLE test.{name} (id INT PRIMARY KEY AUTO_INCREMENT, token BIGINT, KEY (token))"
    ))
    .await
    .unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(10))
        .await
        .unwrap();
}

/// On every replica.
async fn replicas_exec(topo: &Topology, sql: &str) {
    for i in topo.replica_indexes() {
        topo.node(i).unwrap().exec_root(sql).await.unwrap();
    }
}

fn outcomes(r: &Router) -> [u64; 4] {
    r.server
        .ctx
        .stats
        .ryw
        .outcomes()
        .map(|(_, c)| c.load(Ordering::Relaxed))
}

/// Writes `token` through `writer`, then reads it through a new
/// connection; returns (rows seen, server id that answered).
async fn write_then_read(r: &Router, writer: &mut Conn, name: &str, token: u64) -> (i64, u32) {
    writer
        .query_drop(format!("INSERT INTO test.{name} (token) VALUES ({token})"))
        .await
        .unwrap();
    let mut reader = r.conn().await;
    let row: (i64, u32) = reader
        .query_first(format!(
            "SELECT COUNT(*), @@server_id FROM test.{name} WHERE token = {token}"
        ))
        .await
        .unwrap()
        .unwrap();
    reader.disconnect().await.unwrap();
    row
}

async fn metrics_text(r: &Router) -> String {
    let addr = r.server.metrics_addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    String::from_utf8(raw).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_sees_its_write_with_replication_stopped_and_reads_return_to_replicas() {
    let own = common::own_topology().await;
    let topo = &*own;
    let primary = topo.primary().server_id();
    table(topo, "ryw_loop").await;
    let r = Router::start(topo, "").await;
    r.wait_eligible(2, Duration::from_secs(20)).await;
    let mut writer = r.conn().await;

    replicas_exec(topo, "STOP SLAVE SQL_THREAD").await;
    let mut stale = Vec::new();
    for token in 0..1000u64 {
        let (n, _) = write_then_read(&r, &mut writer, "ryw_loop", token).await;
        if n != 1 {
            stale.push(token);
        }
    }
    replicas_exec(topo, "START SLAVE SQL_THREAD").await;
    assert!(stale.is_empty(), "stale reads for tokens {stale:?}");
    // the router has the user's position from the server's own tracking
    assert!(r
        .server
        .ctx
        .consistency
        .needed(sqlyard::config::RywScope::User, "app", &None)
        .is_some());

    // once the replicas have caught up, reads go back to them
    topo.wait_replicas_caught_up(Duration::from_secs(20))
        .await
        .unwrap();
    r.wait_eligible(2, Duration::from_secs(20)).await;
    let before = outcomes(&r);
    let mut on_replicas = 0;
    let mut stale = Vec::new();
    for token in 1000..1200u64 {
        let (n, server) = write_then_read(&r, &mut writer, "ryw_loop", token).await;
        if n != 1 {
            stale.push(token);
        }
        if server != primary {
            on_replicas += 1;
        }
    }
    assert!(stale.is_empty(), "stale reads for tokens {stale:?}");
    assert!(
        on_replicas >= 100,
        "only {on_replicas} of 200 reads ran on replicas"
    );
    let after = outcomes(&r);
    let served = (after[0] - before[0]) + (after[1] - before[1]);
    assert!(served >= on_replicas as u64, "{before:?} -> {after:?}");
    let text = metrics_text(&r).await;
    assert!(
        text.lines().any(
            |l| l.starts_with("sqlyard_read_your_writes_total{outcome=\"waited\"}")
                || l.starts_with("sqlyard_read_your_writes_total{outcome=\"hit\"}")
        ),
        "{text}"
    );
    writer.disconnect().await.unwrap();
    r.stop().await;
}

/// Writes that return rows (`INSERT ... RETURNING`, `DELETE ... RETURNING`)
/// from a client without CLIENT_DEPRECATE_EOF (the `mariadb` CLI, like
/// PHP's mysqlnd): their result set ends in an EOF packet, which has no
/// room for the write's GTID. The next read, in the same session and on a
/// new connection of the same user, still sees them, with the replicas'
/// SQL threads stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_return_rows_are_seen_by_the_next_read() {
    let own = common::own_topology().await;
    let topo = &*own;
    table(topo, "ryw_returning").await;
    let r = Router::start(topo, "").await;
    r.wait_eligible(2, Duration::from_secs(20)).await;
    replicas_exec(topo, "STOP SLAVE SQL_THREAD").await;
    let count =
        |token: u64| format!("SELECT COUNT(*) FROM test.ryw_returning WHERE token = {token}");
    let mut stale = Vec::new();
    for token in 0..20u64 {
        for (write, expect) in [
            (
                format!("INSERT INTO test.ryw_returning (token) VALUES ({token}) RETURNING token"),
                1,
            ),
            (
                format!("DELETE FROM test.ryw_returning WHERE token = {token} RETURNING token"),
                0,
            ),
        ] {
            let mut cli = procs::mariadb(r.port);
            cli.args(["--batch", "--skip-column-names", "-e"])
                .arg(format!("{write}; {}", count(token)));
            let out = procs::run_async(cli, Duration::from_secs(30)).await;
            out.assert_ok(&write);
            let lines: Vec<&str> = out.stdout.lines().collect();
            assert_eq!(lines.first(), Some(&token.to_string().as_str()), "{out:?}");
            if lines.get(1) != Some(&expect.to_string().as_str()) {
                stale.push(format!("{write}, then in the same session: {lines:?}"));
            }
            let mut reader = r.conn().await;
            let seen: i64 = reader.query_first(count(token)).await.unwrap().unwrap();
            reader.disconnect().await.unwrap();
            if seen != expect {
                stale.push(format!("{write}, then on a new connection: {seen} rows"));
            }
        }
    }
    replicas_exec(topo, "START SLAVE SQL_THREAD").await;
    // asking the server for the GTID keeps the statement's warnings
    let mut cli = procs::mariadb(r.port);
    cli.args(["--batch", "--skip-column-names", "-e"]).arg(
        "INSERT INTO test.ryw_returning (id, token) VALUES (1000, 1) RETURNING id; \
         INSERT IGNORE INTO test.ryw_returning (id, token) VALUES (1000, 2) RETURNING id; \
         SHOW WARNINGS",
    );
    let out = procs::run_async(cli, Duration::from_secs(30)).await;
    out.assert_ok("INSERT IGNORE ... RETURNING, then SHOW WARNINGS");
    assert!(
        out.stdout.contains("1062") && out.stdout.contains("Duplicate entry"),
        "{out:?}"
    );
    // the client really lacked CLIENT_DEPRECATE_EOF: a pool of its own
    let admin = procs::mariadb_as(r.server.admin_addr().port(), "admin", "admin_pw");
    let (header, rows) = procs::batch(admin, "SHOW POOLS", Duration::from_secs(30)).await;
    let col = header.iter().position(|h| h == "key_flags").unwrap();
    let keys: Vec<&str> = rows.iter().map(|row| row[col].as_str()).collect();
    assert!(
        keys.iter().any(|k| !k.contains("DEPRECATE_EOF")),
        "no pool for a client without DEPRECATE_EOF: {keys:?}"
    );
    assert!(stale.is_empty(), "stale reads: {stale:#?}");
    r.stop().await;
}

/// Replicas that apply everything 3 s late (MASTER_DELAY) but stay
/// within the lag bound: a read that must see a fresh write cannot get it
/// there within the wait timeout.
async fn delayed_replicas(topo: &Topology, delay: u32) {
    replicas_exec(topo, "STOP SLAVE").await;
    replicas_exec(topo, &format!("CHANGE MASTER TO MASTER_DELAY = {delay}")).await;
    replicas_exec(topo, "START SLAVE").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scopes_decide_whose_writes_a_read_waits_for() {
    let own = common::own_topology().await;
    let topo = &*own;
    let primary = topo.primary().server_id();
    table(topo, "ryw_scope").await;
    let lenient =
        "[routing]\nmax_replication_lag = \"30s\"\n[consistency]\nwait_timeout = \"300ms\"\n";
    delayed_replicas(topo, 3).await;
    let session = Router::start(topo, &format!("{lenient}read_your_writes = \"session\"\n")).await;
    let user = Router::start(topo, lenient).await;
    session.wait_eligible(2, Duration::from_secs(20)).await;
    user.wait_eligible(2, Duration::from_secs(20)).await;

    let mut results = Vec::new();
    for (i, r) in [&session, &user].into_iter().enumerate() {
        let mut writer = r.conn().await;
        let mut new_conn = Vec::new();
        let mut same_conn = Vec::new();
        for k in 0..3u64 {
            let token = 5000 + i as u64 * 100 + k;
            new_conn.push(write_then_read(r, &mut writer, "ryw_scope", token).await);
            let row: (i64, u32) = writer
                .query_first(format!(
                    "SELECT COUNT(*), @@server_id FROM test.ryw_scope WHERE token = {token}"
                ))
                .await
                .unwrap()
                .unwrap();
            same_conn.push(row);
        }
        writer.disconnect().await.unwrap();
        results.push((new_conn, same_conn, outcomes(r)));
    }
    delayed_replicas(topo, 0).await;
    session.stop().await;
    user.stop().await;

    let (new_conn, same_conn, counts) = &results[0];
    // scope = session: a new connection does not wait; a delayed replica
    // answers it without the write
    assert!(
        new_conn.iter().all(|(n, s)| *n == 0 && *s != primary),
        "session scope, new connection: {new_conn:?}"
    );
    // the writing session itself waits, times out, and reads the primary
    assert!(
        same_conn.iter().all(|(n, s)| *n == 1 && *s == primary),
        "session scope, same connection: {same_conn:?}"
    );
    assert_eq!(counts[2], 3, "three timed-out waits: {counts:?}");
    // scope = user: every connection of the user sees the writes
    let (new_conn, same_conn, counts) = &results[1];
    assert!(
        new_conn.iter().chain(same_conn).all(|(n, _)| *n == 1),
        "user scope: {new_conn:?} {same_conn:?}"
    );
    // (mysql_async's own SELECT on connect is a read of the user too)
    assert!(counts[2] >= 6, "timed-out waits: {counts:?}");
    assert_eq!(
        counts[0] + counts[1],
        0,
        "no replica had the writes: {counts:?}"
    );
}
