//! A router must pass results through, not hold them: a 256 MiB result
//! may not cost the router 256 MiB, and a client that stops reading must
//! slow the server down rather than fill the router's memory. These tests
//! run the real `sqlyard` binary as a child process (so its peak memory,
//! VmHWM in /proc/PID/status, is its own) in front of real MariaDB.
use crate::{common, router_process};

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Value;
use router_process::RouterProcess;
use sqlyard::sandbox::Topology;

const MIB: u64 = 1024 * 1024;
/// 256 rows of 1 MiB each.
const BIG_SQL: &str = "SELECT REPEAT('x', 1048576) FROM test.seq_1_to_256";
const BIG_BYTES: u64 = 256 * MIB;
/// The most the router's peak memory may grow while streaming BIG_SQL.
const MAX_GROWTH: u64 = 64 * MIB;

fn row_bytes(row: &mysql_async::Row) -> u64 {
    match row.as_ref(0) {
        Some(Value::Bytes(b)) => b.len() as u64,
        other => panic!("unexpected value {other:?}"),
    }
}

/// The primary's max_allowed_packet (rows of 1 MiB need more than that).
async fn server_max_allowed_packet(topo: &Topology) -> u64 {
    let mut d = common::direct(topo).await;
    let v: Option<u64> = d
        .query_first("SELECT @@global.max_allowed_packet")
        .await
        .unwrap();
    d.disconnect().await.unwrap();
    v.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_256_mib_keeps_router_memory_flat() {
    let topo = common::topology().await;
    let map = server_max_allowed_packet(topo).await;
    assert!(
        map >= 1 << 30,
        "the sandbox sets max_allowed_packet = 1G, found {map}"
    );
    let router = RouterProcess::start(topo, "warn", |_| {}).await;
    let mut c = mysql_async::Conn::new(common::app_opts(router.port))
        .await
        .unwrap();
    c.query_drop("SELECT 1").await.unwrap();
    let before = router.peak();

    // Text protocol.
    let started = Instant::now();
    let mut total = 0u64;
    let mut rows = 0u64;
    let mut result = c.query_iter(BIG_SQL).await.unwrap();
    result
        .for_each(|row| {
            total += row_bytes(&row);
            rows += 1;
        })
        .await
        .unwrap();
    drop(result);
    assert_eq!((rows, total), (256, BIG_BYTES));
    let after_text = router.peak();
    eprintln!(
        "text: {} MiB in {:?}; router VmHWM {} -> {} MiB",
        BIG_BYTES / MIB,
        started.elapsed(),
        before / MIB,
        after_text / MIB
    );
    assert!(
        after_text.saturating_sub(before) < MAX_GROWTH,
        "router peak memory grew by {} MiB while streaming {} MiB (text protocol)",
        after_text.saturating_sub(before) / MIB,
        BIG_BYTES / MIB
    );

    // Binary protocol (a server-side prepared statement).
    let started = Instant::now();
    let mut total = 0u64;
    let mut result = c
        .exec_iter(
            "SELECT REPEAT('y', ?) FROM test.seq_1_to_256",
            (1_048_576u32,),
        )
        .await
        .unwrap();
    result
        .for_each(|row| total += row_bytes(&row))
        .await
        .unwrap();
    drop(result);
    assert_eq!(total, BIG_BYTES);
    let after_binary = router.peak();
    eprintln!(
        "binary: {} MiB in {:?}; router VmHWM {} MiB",
        BIG_BYTES / MIB,
        started.elapsed(),
        after_binary / MIB
    );
    assert!(
        after_binary.saturating_sub(before) < MAX_GROWTH,
        "router peak memory grew by {} MiB while streaming {} MiB (binary protocol)",
        after_binary.saturating_sub(before) / MIB,
        BIG_BYTES / MIB
    );
    c.disconnect().await.unwrap();
    // Still serving afterwards.
    router.wait_serving().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_stops_reading_does_not_fill_router_memory() {
    let topo = common::topology().await;
    let router = RouterProcess::start(topo, "warn", |_| {}).await;
    let mut c = mysql_async::Conn::new(common::app_opts(router.port))
        .await
        .unwrap();
    c.query_drop("SELECT 1").await.unwrap();
    let before = router.peak();
    // The query starts, then the client reads nothing for a while: the
    // server keeps producing, and only backpressure stops the router from
    // reading (and holding) all of it.
    let mut result = c.query_iter(BIG_SQL).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stalled = router.peak();
    eprintln!(
        "stalled client: router VmHWM {} -> {} MiB",
        before / MIB,
        stalled / MIB
    );
    assert!(
        stalled.saturating_sub(before) < MAX_GROWTH,
        "router buffered {} MiB for a client that stopped reading",
        stalled.saturating_sub(before) / MIB
    );
    // Then it reads everything, and nothing was lost.
    let mut total = 0u64;
    result
        .for_each(|row| total += row_bytes(&row))
        .await
        .unwrap();
    drop(result);
    assert_eq!(total, BIG_BYTES);
    c.disconnect().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_large_results_stay_within_bounds() {
    let topo = common::topology().await;
    let router = RouterProcess::start(topo, "warn", |_| {}).await;
    let before = router.peak();
    // Four clients each stream 64 MiB at the same time.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let port = router.port;
        tasks.push(tokio::spawn(async move {
            let mut c = mysql_async::Conn::new(common::app_opts(port))
                .await
                .unwrap();
            let mut total = 0u64;
            let mut result = c
                .query_iter("SELECT REPEAT('p', 1048576) FROM test.seq_1_to_64")
                .await
                .unwrap();
            result
                .for_each(|row| total += row_bytes(&row))
                .await
                .unwrap();
            drop(result);
            c.disconnect().await.unwrap();
            total
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 64 * MIB);
    }
    let after = router.peak();
    eprintln!(
        "4 x 64 MiB in parallel: router VmHWM {} -> {} MiB",
        before / MIB,
        after / MIB
    );
    assert!(
        after.saturating_sub(before) < MAX_GROWTH,
        "router peak memory grew by {} MiB for 4 parallel 64 MiB results",
        after.saturating_sub(before) / MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_giant_packets_are_not_buffered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let topo = common::topology().await;
    let router = RouterProcess::start(topo, "warn", |_| {}).await;
    let before = router.peak();
    // Before logging in, three clients each send a 64 MiB "handshake
    // response" (four 16 MiB physical packets). A real handshake response
    // is a few hundred bytes; nobody has authenticated yet.
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", router.port))
            .await
            .unwrap();
        let mut greeting = [0u8; 512];
        let n = s.read(&mut greeting).await.unwrap();
        assert!(n > 4, "greeting");
        let mut packet = vec![0u8; 4 + 0xff_ffff];
        packet[..3].copy_from_slice(&[0xff, 0xff, 0xff]);
        for seq in 1..=4u8 {
            packet[3] = seq;
            // The router may rightly close the socket early: stop then.
            if s.write_all(&packet).await.is_err() {
                break;
            }
        }
        clients.push(s);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = router.peak();
    eprintln!(
        "3 unauthenticated 64 MiB packets: router VmHWM {} -> {} MiB",
        before / MIB,
        after / MIB
    );
    drop(clients);
    router.wait_serving().await;
    assert!(
        after.saturating_sub(before) < MAX_GROWTH,
        "unauthenticated clients made the router's peak memory grow by {} MiB",
        after.saturating_sub(before) / MIB
    );
}

/// Client packets are bounded together, not only one by one: ten clients
/// (PHP mysqli with a server-side prepared statement, and PyMySQL with the
/// value in the query text) each send a 200 MiB `SELECT LENGTH(?)` at
/// once. sqlyard's memory stays under `router.max_buffered_bytes` (the
/// default 256 MiB) plus 64 MiB, and every client gets either the length,
/// computed by the server, or a clear `sqlyard:` error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_clients_sending_200_mib_stay_within_the_buffer_budget() {
    use crate::procs;
    const SIZE: u64 = 200 * MIB;
    const BUDGET: u64 = 256 * MIB;
    let topo = common::topology().await;
    let router = RouterProcess::start(topo, "warn", |_| {}).await;
    let received_before = common::bytes_received(topo).await;
    let port = router.port.to_string();
    let n = SIZE.to_string();
    let runs: Vec<_> = (0..10)
        .map(|i| {
            let cmd = if i % 2 == 0 {
                let mut c = std::process::Command::new("php");
                c.args(["-d", "memory_limit=-1", "-d", "display_errors=stderr"])
                    .arg(procs::client_script("big_param.php"));
                c
            } else {
                let mut c = std::process::Command::new("/usr/bin/python3");
                c.arg(procs::client_script("big_query.py"));
                c
            };
            let mut cmd = cmd;
            cmd.args(["127.0.0.1", &port, "app", "app_pw", &n]);
            tokio::spawn(procs::run_async(cmd, Duration::from_secs(240)))
        })
        .collect();
    let mut rss = 0;
    while !runs.iter().all(|h| h.is_finished()) {
        rss = rss.max(router.status_bytes("VmRSS"));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peak = router.peak().max(rss);
    let (mut ok, mut refused) = (0u64, 0u64);
    for h in runs {
        let out = h.await.unwrap();
        out.assert_ok("big packet client");
        let line = out.stdout.trim();
        if line == format!("ok\t{SIZE}") {
            ok += 1;
        } else if line.starts_with("err\t1041\tsqlyard: ") {
            refused += 1;
        } else {
            panic!("neither the result nor a clear error: {line:?} {out:?}");
        }
    }
    let received = common::bytes_received(topo).await - received_before;
    eprintln!(
        "10 x 200 MiB: {ok} answered, {refused} refused; router peak {} MiB; servers received {} MiB",
        peak / MIB,
        received / MIB
    );
    assert!(ok >= 1, "no client got its result");
    // the answers came from the servers: they received every answered packet
    assert!(
        received >= ok * SIZE,
        "servers received {received} bytes for {ok} packets"
    );
    assert!(
        peak <= BUDGET + 64 * MIB,
        "sqlyard's memory reached {} MiB (budget 256 MiB + 64 MiB)",
        peak / MIB
    );
    router.wait_serving().await;
}
