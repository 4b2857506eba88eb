//! Graceful shutdown of the real binary: on SIGTERM the port closes at
//! once, idle clients are closed, a running statement finishes and returns
//! its result, a transaction is not continued, and the process exits 0;
//! a statement longer than `router.shutdown_timeout` is cut and the
//! process still exits 0 right after the timeout.
use crate::{common, router_process};

use std::time::{Duration, Instant};

use mysql_async::prelude::*;
use mysql_async::Conn;
use router_process::RouterProcess;

fn with_shutdown_timeout(t: &'static str) -> impl FnOnce(&mut String) {
    move |text: &mut String| {
        *text = text.replace(
            "[router]\n",
            &format!("[router]\nshutdown_timeout = \"{t}\"\n"),
        );
        assert!(text.contains("shutdown_timeout"));
    }
}

/// Whether a TCP connect to `port` is refused within `limit`.
async fn refused_within(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return true,
            _ if Instant::now() >= deadline => return false,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

type Timed<T> = (Result<T, mysql_async::Error>, Duration);

fn run_sleep(mut c: Conn, sql: String) -> tokio::task::JoinHandle<Timed<Option<i64>>> {
    tokio::spawn(async move {
        let t0 = Instant::now();
        let r = c.query_first::<i64, _>(sql).await;
        (r, t0.elapsed())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_running_statement_finish() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "shutdown_trx").await;
    common::direct(topo)
        .await
        .query_drop(format!("CREATE TABLE `{db}`.t (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    let router = RouterProcess::start(topo, "info", with_shutdown_timeout("10s")).await;
    let opts = common::app_opts(router.port);

    let sleeper = Conn::new(opts.clone()).await.unwrap();
    let mut idle = Conn::new(opts.clone()).await.unwrap();
    idle.query_drop("SELECT 1").await.unwrap();
    let mut trx = Conn::new(opts.clone()).await.unwrap();
    trx.query_drop("BEGIN").await.unwrap();
    trx.query_drop(format!("INSERT INTO `{db}`.t VALUES (1)"))
        .await
        .unwrap();

    let marker = "shutdown_sleep_3";
    let running = run_sleep(sleeper, format!("SELECT /* {marker} */ SLEEP(3)"));
    common::wait_running(topo, marker).await;
    let t0 = Instant::now();
    router.signal(libc::SIGTERM);

    // The port closes at once; a new client is refused.
    assert!(
        refused_within(router.port, Duration::from_millis(500)).await,
        "the port still accepts after SIGTERM"
    );
    assert!(Conn::new(opts.clone()).await.is_err());

    // Idle clients (in a transaction or not) are closed right away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = idle
        .query_drop("SELECT 1")
        .await
        .expect_err("idle client closed");
    eprintln!("idle client after SIGTERM: {e}");
    trx.query_drop(format!("INSERT INTO `{db}`.t VALUES (2)"))
        .await
        .expect_err("the transaction is not continued");

    // The running statement returns its result.
    let (result, took) = running.await.unwrap();
    assert_eq!(result.expect("SLEEP(3) completes"), Some(0));
    assert!(took >= Duration::from_millis(2500), "{took:?}");

    let out = router.wait_exit(Duration::from_secs(15)).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let exited = t0.elapsed();
    assert!(exited < Duration::from_secs(6), "exit took {exited:?}");
    assert!(out.stderr.contains("shutdown complete"), "{}", out.stderr);
    assert!(!out.stderr.contains("cutting"), "{}", out.stderr);

    // The open transaction was rolled back, not committed.
    let n: Option<i64> = common::direct(topo)
        .await
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.t"))
        .await
        .unwrap();
    assert_eq!(n, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_timeout_cuts_long_statements() {
    let topo = common::topology().await;
    let router = RouterProcess::start(topo, "info", with_shutdown_timeout("1s")).await;
    let c = Conn::new(common::app_opts(router.port)).await.unwrap();
    let marker = "shutdown_sleep_10";
    let running = run_sleep(c, format!("SELECT /* {marker} */ SLEEP(10)"));
    common::wait_running(topo, marker).await;
    let t0 = Instant::now();
    router.signal(libc::SIGTERM);
    let out = router.wait_exit(Duration::from_secs(10)).await;
    let exited = t0.elapsed();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(exited < Duration::from_millis(2500), "exit took {exited:?}");
    assert!(exited >= Duration::from_millis(900), "exit took {exited:?}");
    assert!(
        out.stderr.contains("cutting the remaining sessions"),
        "{}",
        out.stderr
    );
    let (result, took) = running.await.unwrap();
    assert!(result.is_err(), "SLEEP(10) was cut: {result:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}
