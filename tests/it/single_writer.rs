//! The topology snapshot has one writer: the monitor's publisher. An
//! operator's `SET SERVER … OFFLINE | ONLINE` and `RELOAD CONFIG` go through
//! it too, so neither can publish a copy of a snapshot taken before a
//! failover's publish and bring the replaced primary back.
//!
//! Several admin clients change server states and reload the config in a
//! loop while the primary is killed and replaced. A watcher reads the
//! router's snapshot every millisecond: once the new primary has been
//! published, the old one must never be the primary again. The outcome is
//! then checked on the servers (who is writable, who replicates from whom)
//! and with a write through sqlyard that lands on the new primary
//! (`@@server_id`).
use crate::{common, failover_support};

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::path::Path;

use failover_support::*;
use mysql_async::prelude::Queryable;
use sqlyard::config::Config;
use sqlyard::sandbox::{pick_free_port, Topology};
use sqlyard::server::Server;

/// Admin clients that change states and reload at the same time.
const CHURNERS: usize = 3;

/// A router with failover on, started from a config file in `dir`.
async fn start_router_from_file(topo: &Topology, dir: &Path) -> common::Router {
    let port = pick_free_port().unwrap();
    let admin = pick_free_port().unwrap();
    let metrics = pick_free_port().unwrap();
    let mut text = topo.router_config_toml(port, admin, metrics);
    let journal = dir.join("failover.journal");
    edit_toml(&mut text, |doc| set_failover(doc, &journal, &[]));
    let path = dir.join("sqlyard.toml");
    std::fs::write(&path, &text).unwrap();
    let config = Config::from_toml_str(&text, &path).expect("valid config");
    let server = Server::start(config).await.expect("router starts");
    assert!(server.wait_ready(Duration::from_secs(30)).await);
    common::Router { server, port }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_server_and_reload_during_a_failover_never_bring_back_the_old_primary() {
    let topo = start_topology().await;
    // RELOAD CONFIG reads the file the router was started from
    let dir = tempfile::tempdir().unwrap();
    let router = start_router_from_file(&topo, dir.path()).await;
    let admin = admin_port(&router);
    let configured = topo.addresses();
    prepare_table(&topo).await;
    wait_replicas_eligible(&topo, admin).await;
    let old = topo.primary_index();
    let old_addr = configured[old].clone();
    // a replica whose state the operators toggle (never the primary)
    let toggled = configured[(old + 2) % configured.len()].clone();

    let stop = Arc::new(AtomicBool::new(false));
    // The primary of every snapshot the router published, in order
    // (consecutive repeats collapsed).
    let watcher = {
        let ctx = router.server.ctx.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen: Vec<Option<String>> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let snap = ctx.topology.load();
                let p = snap.primary_server().map(|s| s.address.clone());
                if seen.last() != Some(&p) {
                    seen.push(p);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            seen
        })
    };
    let rounds = Arc::new(AtomicU64::new(0));
    let churners: Vec<_> = (0..CHURNERS)
        .map(|i| {
            let stop = stop.clone();
            let rounds = rounds.clone();
            let toggled = toggled.clone();
            tokio::spawn(async move {
                let mut c = mysql_async::Conn::new(admin_opts(admin))
                    .await
                    .expect("admin connects");
                while !stop.load(Ordering::Relaxed) {
                    let sql = match (rounds.load(Ordering::Relaxed) + i as u64) % 3 {
                        0 => format!("SET SERVER '{toggled}' OFFLINE"),
                        1 => format!("SET SERVER '{toggled}' ONLINE"),
                        _ => "RELOAD CONFIG".to_string(),
                    };
                    c.query_drop(&sql)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
                let _ = c.query_drop(format!("SET SERVER '{toggled}' ONLINE")).await;
                let _ = c.disconnect().await;
            })
        })
        .collect();

    let before = failover_count(admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    topo.kill(old).unwrap();
    let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new_addr = rec.new_primary.clone();
    let new = node_of(&configured, &new_addr);
    // keep churning after the failover: later publishes must keep it too
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for c in churners {
        c.await.expect("churner");
    }
    let seen = watcher.await.expect("watcher");
    let churned = rounds.load(Ordering::Relaxed);
    assert!(churned > 50, "only {churned} admin statements ran");

    let first_new = seen
        .iter()
        .position(|p| p.as_deref() == Some(new_addr.as_str()))
        .unwrap_or_else(|| panic!("the new primary was never published: {seen:?}"));
    assert!(
        seen[first_new..]
            .iter()
            .all(|p| p.as_deref() != Some(old_addr.as_str())),
        "the old primary came back after {churned} admin statements: {seen:?}"
    );
    assert_eq!(
        router
            .server
            .ctx
            .topology
            .load()
            .primary_server()
            .map(|p| p.address.clone()),
        Some(new_addr.clone())
    );

    // The servers agree: the new primary is the only writer, the other
    // live node replicates from it, and a write through sqlyard lands there.
    topo.set_primary_index(new).unwrap();
    assert_eq!(
        assert_consistent(&topo, &[old], Duration::from_secs(20)).await,
        new
    );
    let want: u32 = topo.nodes()[new]
        .root_conn()
        .await
        .unwrap()
        .query_first("SELECT @@server_id")
        .await
        .unwrap()
        .unwrap();
    let mut app = router.conn().await;
    // one transaction: the write and the server id come from one connection
    app.query_drop("BEGIN").await.unwrap();
    app.query_drop(format!(
        "INSERT INTO {TABLE} (id, worker) VALUES (987654321, 0)"
    ))
    .await
    .unwrap();
    let got: u32 = app
        .query_first("SELECT @@server_id")
        .await
        .unwrap()
        .unwrap();
    app.query_drop("COMMIT").await.unwrap();
    assert_eq!(got, want, "the write went to the new primary");
    drop(app);
    router.stop().await;
}
