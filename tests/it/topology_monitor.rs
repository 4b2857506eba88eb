//! The topology monitor must read real MariaDB 10.11 output correctly and react to real
//! failures: these tests run it against a sandbox topology (1 primary + 2 replicas, GTID
//! replication, monitor account router/router_pw) and check roles, GTID positions, a
//! killed primary and a second writable server.

use std::time::Duration;

use sqlyard::sandbox::SandboxOptions;
use sqlyard::topology::{
    probe_once, Flavor, GtidSet, Monitor, MonitorSettings, NoPrimary, Role, Snapshot, ThreadState,
    TopologyHandle,
};
use tokio::sync::watch;

use crate::common;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn settings() -> MonitorSettings {
    let mut s = MonitorSettings::new("router", "router_pw");
    s.interval = Duration::from_millis(200);
    s.connect_timeout = Duration::from_millis(500);
    s.query_timeout = Duration::from_millis(500);
    s
}

/// Starts a monitor on `addresses`; the returned sender stops it when dropped.
fn start_monitor(addresses: Vec<String>) -> (TopologyHandle, watch::Sender<bool>) {
    let handle = TopologyHandle::new(addresses.clone());
    let (stop, stopped) = watch::channel(false);
    Monitor::new(settings(), addresses, handle.clone()).spawn(stopped);
    (handle, stop)
}

/// Polls the handle until `check` holds or `within` passes.
async fn wait_until(
    handle: &TopologyHandle,
    within: Duration,
    check: impl Fn(&Snapshot) -> bool,
) -> Result<std::sync::Arc<Snapshot>, String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let snap = handle.load();
        if check(&snap) {
            return Ok(snap);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "condition not met within {within:?}; last snapshot: {snap:#?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn probe_reads_real_mariadb_output() -> TestResult {
    let topo = common::start_topology(SandboxOptions::default()).await?;
    let addresses = topo.addresses();

    let primary = probe_once(&addresses[0], &settings()).await?;
    assert_eq!(primary.flavor, Flavor::MariaDb);
    assert!(primary.version.contains("MariaDB"), "{}", primary.version);
    assert!(!primary.read_only);
    assert!(primary.replication.iter().all(|c| !c.has_source()));

    let mut ids = vec![primary.server_id];
    for replica_address in &addresses[1..] {
        let replica = probe_once(replica_address, &settings()).await?;
        assert!(replica.read_only);
        assert_eq!(replica.replication.len(), 1, "{replica:#?}");
        let channel = &replica.replication[0];
        assert_eq!(
            channel.source_address().as_deref(),
            Some(addresses[0].as_str())
        );
        assert_eq!(channel.io_running, ThreadState::Running);
        assert_eq!(channel.sql_running, ThreadState::Running);
        assert!(channel.retrieved_gtid.is_some(), "{channel:#?}");
        assert!(replica.gtid.executed.is_some());
        ids.push(replica.server_id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 3, "server ids must differ");
    Ok(())
}

#[tokio::test]
async fn monitor_finds_primary_and_replicas_and_follows_gtids() -> TestResult {
    let topo = common::start_topology(SandboxOptions::default()).await?;
    let (handle, _stop) = start_monitor(topo.addresses());

    let snap = handle.wait_for_primary(Duration::from_secs(10)).await?;
    assert_eq!(snap.primary, Some(0));
    assert_eq!(
        snap.servers.iter().map(|s| s.role).collect::<Vec<_>>(),
        [Role::Primary, Role::Replica, Role::Replica]
    );
    assert!(snap.primary_conflict.is_none());

    topo.node(0)?
        .query_root::<u8>(
            "CREATE DATABASE IF NOT EXISTS monitor_test; \
                     CREATE TABLE monitor_test.t (id INT PRIMARY KEY); \
                     INSERT INTO monitor_test.t VALUES (1)",
        )
        .await?;
    // Once the replicas applied the write, their executed GTID position contains the
    // primary's.
    wait_until(&handle, Duration::from_secs(10), |s| {
        let Some(primary_pos) = s.primary_server().and_then(|p| p.gtid.executed.clone()) else {
            return false;
        };
        !primary_pos.is_empty()
            && s.replicas().count() == 2
            && s.replicas().all(|r| {
                r.gtid
                    .executed
                    .as_ref()
                    .is_some_and(|pos: &GtidSet| pos.contains(&primary_pos))
            })
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn killed_primary_means_no_primary_with_reason() -> TestResult {
    let topo = common::start_topology(SandboxOptions::default()).await?;
    let addresses = topo.addresses();
    let (handle, _stop) = start_monitor(addresses.clone());
    handle.wait_for_primary(Duration::from_secs(10)).await?;

    topo.kill(0)?;
    let snap = wait_until(&handle, Duration::from_secs(10), |s| s.primary.is_none()).await?;
    assert_eq!(snap.servers[0].role, Role::Unreachable);
    assert!(snap.servers[0].last_error.is_some());
    assert!(snap.servers[0].consecutive_failures >= 1);
    // Last known identity stays while unreachable.
    assert!(snap.servers[0].server_id.is_some());
    assert_eq!(snap.servers[1].role, Role::Replica);
    assert_eq!(snap.servers[2].role, Role::Replica);

    let err = handle
        .wait_for_primary(Duration::from_millis(600))
        .await
        .expect_err("no primary while the primary is dead");
    let text = err.to_string();
    assert!(matches!(err, NoPrimary::NotFound { .. }), "{text}");
    assert!(text.contains("1 of 3 servers unreachable"), "{text}");
    assert!(text.contains(&addresses[0]), "{text}");
    Ok(())
}

#[tokio::test]
async fn second_writable_server_is_suspect_and_blocks_startup() -> TestResult {
    let topo = common::start_topology(SandboxOptions::default()).await?;
    let addresses = topo.addresses();
    let (handle, _stop) = start_monitor(addresses.clone());
    handle.wait_for_primary(Duration::from_secs(10)).await?;

    // Turn replica 1 into a standalone writable server: a split brain.
    topo.node(1)?
        .query_root::<u8>("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")
        .await?;
    let snap = wait_until(&handle, Duration::from_secs(10), |s| {
        s.servers[1].role == Role::Suspect
    })
    .await?;
    assert_eq!(snap.primary, Some(0), "the known primary keeps its role");
    let conflict = snap.primary_conflict.clone().ok_or("conflict expected")?;
    assert_eq!(conflict.kept.as_deref(), Some(addresses[0].as_str()));

    // A monitor starting now has no previous primary: it must refuse to choose.
    let (fresh, _stop_fresh) = start_monitor(addresses.clone());
    let err = fresh
        .wait_for_primary(Duration::from_secs(3))
        .await
        .expect_err("two writable servers at startup");
    assert_eq!(
        err.to_string(),
        format!(
            "no primary: two writable servers: {} and {}; refusing to guess",
            addresses[0], addresses[1]
        )
    );
    Ok(())
}

/// Sets `router.primary_wait` in a test router's config.
/// Failover is off: these tests are about waiting for a primary.
fn primary_wait(text: &mut String, wait: &str) {
    *text = text.replacen(
        "[router]\n",
        &format!("[router]\nprimary_wait = \"{wait}\"\n"),
        1,
    );
    *text = text.replacen("[failover]\n", "[failover]\nenabled = false\n", 1);
}

#[tokio::test]
async fn router_waits_for_a_primary_then_fails_with_the_reason() -> TestResult {
    use mysql_async::prelude::*;
    let topo = common::start_topology(SandboxOptions::default()).await?;
    let router = common::Router::start_with(&topo, true, |t| primary_wait(t, "1500ms")).await;
    let mut c = router.conn().await;
    let id: u32 = c.query_first("SELECT @@server_id").await?.ok_or("row")?;
    assert_eq!(id, topo.primary().server_id());

    // No writable server: statements wait for a primary, then fail and say why.
    topo.node(0)?.exec_root("SET GLOBAL read_only = ON").await?;
    wait_until(&router.server.ctx.topology, Duration::from_secs(10), |s| {
        s.primary.is_none()
    })
    .await?;
    let started = std::time::Instant::now();
    // (reads keep flowing to the replicas; this one must run on the primary)
    let err = c
        .query_drop("/* sqlyard:primary */ SELECT 1")
        .await
        .expect_err("no primary");
    let waited = started.elapsed();
    let text = err.to_string();
    assert!(text.contains("sqlyard: no primary"), "{text}");
    assert!(
        waited >= Duration::from_millis(1400),
        "waited only {waited:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");

    // A statement issued while there is no primary runs once one appears.
    let port = router.port;
    let pending = tokio::spawn(async move {
        let mut c = mysql_async::Conn::new(common::app_opts(port)).await?;
        c.query_first::<u32, _>("/* sqlyard:primary */ SELECT @@server_id")
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    topo.node(0)?
        .exec_root("SET GLOBAL read_only = OFF")
        .await?;
    let served_by = pending.await??.ok_or("row")?;
    assert_eq!(served_by, topo.primary().server_id());

    // A second writable server: the known primary keeps the writes...
    topo.node(1)?
        .exec_root("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = OFF")
        .await?;
    wait_until(&router.server.ctx.topology, Duration::from_secs(10), |s| {
        s.servers[1].role == Role::Suspect
    })
    .await?;
    for _ in 0..5 {
        let id: u32 = c.query_first("SELECT @@server_id").await?.ok_or("row")?;
        assert_eq!(id, topo.primary().server_id());
    }
    // ...and a router starting now guesses nothing: it names both servers.
    let fresh = common::Router::start_with(&topo, false, |t| primary_wait(t, "1s")).await;
    // mysql_async runs statements of its own while connecting: the error may
    // come at connect time or at the first query.
    let text = match mysql_async::Conn::new(fresh.opts()).await {
        Err(e) => e.to_string(),
        Ok(mut f) => f
            .query_drop("SELECT 1")
            .await
            .expect_err("two writable servers")
            .to_string(),
    };
    let addrs = topo.addresses();
    assert!(
        text.contains(&addrs[0]) && text.contains(&addrs[1]),
        "{text}"
    );
    assert!(text.contains("sqlyard:"), "{text}");
    drop(c);
    fresh.stop().await;
    router.stop().await;
    Ok(())
}
