//! `REBUILD SERVER` on real servers (issue 17): a frozen primary replaced
//! by a failover comes back holding a transaction nobody else has and is
//! quarantined; a rebuild (typed, or by `failover.auto_rebuild`) saves its
//! binary logs, loads a backup, and makes it a replica that serves reads
//! and matches the primary table for table. Refusals (the primary, a
//! server that cannot be fenced) and a corrupt backup are refused with a
//! clear error, and a refused or failed rebuild that did not touch the data
//! puts the server back as it was.

use std::time::{Duration, Instant};

use sqlyard::sandbox::{SandboxOptions, Topology};

use crate::common;
use crate::failover_support::{
    admin_port, admin_sql, cell, replicates_from, server_row, show_servers, wait_failover_done,
    wait_reads_eligible, wait_replicas_eligible, wait_until, AdminRow, FAILOVER_LIMIT,
};

const ROWS: u32 = 2_000;

/// `SHOW REBUILDS`' newest row for `server`, if any.
async fn rebuild_row(admin: u16, server: &str) -> Option<AdminRow> {
    let rows = admin_sql(admin, "SHOW REBUILDS").await.ok()?;
    rows.into_iter().find(|r| cell(r, "server") == server)
}

/// Waits until the newest rebuild of `server` is not running; its row.
pub(crate) async fn wait_rebuilt(admin: u16, server: &str, limit: Duration) -> AdminRow {
    let t0 = Instant::now();
    loop {
        if let Some(row) = rebuild_row(admin, server).await {
            if cell(&row, "state") != "running" {
                return row;
            }
        }
        assert!(
            t0.elapsed() < limit,
            "rebuild of {server} not done in {limit:?}: {:?}",
            rebuild_row(admin, server).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Table checksums of every user table on `node` (root), sorted.
async fn all_checksums(topo: &Topology, node: usize) -> Vec<(String, Option<u64>)> {
    let n = topo.node(node).unwrap();
    let tables: Vec<(String, String)> = n
        .query_root(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN \
             ('mysql', 'information_schema', 'performance_schema', 'sys', 'sqlyard') \
             ORDER BY 1, 2",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for (schema, table) in tables {
        let name = format!("`{schema}`.`{table}`");
        let row: Option<(String, Option<u64>)> = n
            .query_root_first(&format!("CHECKSUM TABLE {name} EXTENDED"))
            .await
            .unwrap();
        out.push((name, row.and_then(|(_, c)| c)));
    }
    out
}

/// A topology whose primary was frozen, replaced, and thawed holding one
/// transaction nobody else got: quarantined. Returns (old, new).
async fn quarantined_old_primary(topo: &Topology, admin: u16) -> (usize, usize) {
    wait_replicas_eligible(topo, admin).await;
    let old = topo.primary_index();
    topo.node(old)
        .unwrap()
        .exec_root(&format!(
            "CREATE DATABASE shop; \
             CREATE TABLE shop.orders (id INT PRIMARY KEY, note VARCHAR(40)); \
             INSERT INTO shop.orders SELECT seq, 'before' FROM test.seq_1_to_{ROWS}; \
             CREATE VIEW shop.recent AS SELECT id FROM shop.orders WHERE id > 100; \
             CREATE PROCEDURE shop.count_orders() SELECT COUNT(*) FROM shop.orders"
        ))
        .await
        .unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
    // the replicas stop receiving; the primary commits one more, then hangs
    for r in topo.replica_indexes() {
        topo.node(r)
            .unwrap()
            .exec_root("STOP SLAVE IO_THREAD")
            .await
            .unwrap();
    }
    topo.node(old)
        .unwrap()
        .exec_root("INSERT INTO shop.orders VALUES (999999, 'errant')")
        .await
        .unwrap();
    topo.node(old).unwrap().freeze().unwrap();
    for r in topo.replica_indexes() {
        topo.node(r)
            .unwrap()
            .exec_root("START SLAVE IO_THREAD")
            .await
            .unwrap();
    }
    let rec = wait_failover_done(admin, 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let configured = topo.addresses();
    let new = crate::failover_support::node_of(&configured, &rec.new_primary);
    topo.set_primary_index(new).unwrap();
    topo.node(old).unwrap().resume().unwrap();
    let address = configured[old].clone();
    wait_until(
        Duration::from_secs(60),
        "the thawed old primary is quarantined",
        || async {
            let rows = show_servers(admin).await;
            cell(server_row(&rows, &address), "alert").contains("quarantined")
        },
    )
    .await;
    (old, new)
}

/// The rebuilt old primary: replicates from the new primary, serves
/// reads, matches it table for table, shows no alert, lost its errant row
/// (kept in the saved binary logs), and the rebuild's steps are journaled.
async fn assert_rebuilt(topo: &Topology, admin: u16, old: usize, new: usize, row: &AdminRow) {
    let configured = topo.addresses();
    assert_eq!(cell(row, "state"), "succeeded", "{row:#?}");
    let steps = cell(row, "steps");
    let mut at = 0;
    for step in [
        "check:",
        "fence:",
        "errant:",
        "backup:",
        "load:",
        "replicate:",
        "release:",
    ] {
        let found = steps[at..]
            .find(step)
            .unwrap_or_else(|| panic!("step {step} not journaled in order: {row:#?}"));
        at += found + step.len();
    }
    assert!(
        cell(row, "errant").contains(&format!("-{}-", topo.node(old).unwrap().server_id())),
        "{row:#?}"
    );
    let saved = cell(row, "errant_saved").to_string();
    let files: Vec<_> = std::fs::read_dir(&saved)
        .unwrap_or_else(|e| panic!("{saved}: {e}"))
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("bin"))
        .collect();
    assert!(!files.is_empty(), "no binary log saved in {saved}");
    replicates_from(topo, old, new).await.unwrap();
    assert!(
        topo.node(old).unwrap().is_read_only().await.unwrap(),
        "a rebuilt replica stays read-only"
    );
    // a write made now reaches it
    topo.node(new)
        .unwrap()
        .exec_root("INSERT INTO shop.orders VALUES (500001, 'after')")
        .await
        .unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        all_checksums(topo, old).await,
        all_checksums(topo, new).await,
        "the rebuilt server differs from the primary"
    );
    let errant: Option<u64> = topo
        .node(old)
        .unwrap()
        .query_root_first("SELECT COUNT(*) FROM shop.orders WHERE note = 'errant'")
        .await
        .unwrap();
    assert_eq!(errant, Some(0), "the errant row is gone (saved in {saved})");
    wait_reads_eligible(
        admin,
        std::slice::from_ref(&configured[old]),
        Duration::from_secs(30),
    )
    .await;
    let rows = show_servers(admin).await;
    let server = server_row(&rows, &configured[old]);
    assert_eq!(cell(server, "alert"), "", "{server:#?}");
    assert_eq!(cell(server, "state"), "online", "{server:#?}");
    // the accounts came with the backup: the application logs in there
    let app: Option<String> = topo
        .node(old)
        .unwrap()
        .query_root_first("SELECT User FROM mysql.user WHERE User = 'app'")
        .await
        .unwrap();
    assert_eq!(app.as_deref(), Some("app"));
}

/// SIGSTOP the primary, failover, SIGCONT: quarantined; `REBUILD SERVER`
/// (from a fresh dump of the healthy replica) brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_and_quarantined_old_primary_is_rebuilt() {
    let topo = common::start_topology(SandboxOptions::default())
        .await
        .unwrap();
    let router = common::Router::start(&topo, "").await;
    let admin = admin_port(&router);
    let (old, new) = quarantined_old_primary(&topo, admin).await;
    let configured = topo.addresses();

    // refusals: the primary; a server that cannot be fenced (down)
    let err = admin_sql(admin, &format!("REBUILD SERVER '{}'", configured[new]))
        .await
        .unwrap_err();
    assert!(
        err.contains("sqlyard:") && err.contains("it is the primary"),
        "{err}"
    );
    let err = admin_sql(admin, "REBUILD SERVER '127.0.0.1:1'")
        .await
        .unwrap_err();
    assert!(err.contains("not a server of this topology"), "{err}");

    let rows = admin_sql(admin, &format!("REBUILD SERVER '{}'", configured[old]))
        .await
        .unwrap();
    assert_eq!(cell(&rows[0], "state"), "running", "{rows:?}");
    let row = wait_rebuilt(admin, &configured[old], Duration::from_secs(180)).await;
    println!("rebuild: {row:#?}");
    assert_eq!(cell(&row, "auto"), "no");
    // no backup on disk: a fresh dump, executed on the target as read
    assert!(
        cell(&row, "steps").contains(&format!("streamed into {}", configured[old])),
        "{row:#?}"
    );
    assert_rebuilt(&topo, admin, old, new, &row).await;
    router.stop().await;
}

/// The same with `failover.auto_rebuild = true` and no admin action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_rebuild_brings_a_quarantined_old_primary_back_by_itself() {
    let topo = common::start_topology(SandboxOptions::default())
        .await
        .unwrap();
    let router = common::Router::start_with(&topo, true, |text| {
        *text = text.replacen("[failover]\n", "[failover]\nauto_rebuild = true\n", 1);
    })
    .await;
    assert!(router.server.ctx.config.load().failover.auto_rebuild);
    let admin = admin_port(&router);
    let (old, new) = quarantined_old_primary(&topo, admin).await;
    let configured = topo.addresses();
    let row = wait_rebuilt(admin, &configured[old], Duration::from_secs(180)).await;
    println!("rebuild: {row:#?}");
    assert_eq!(cell(&row, "auto"), "yes");
    assert_rebuilt(&topo, admin, old, new, &row).await;
    router.stop().await;
}

/// A corrupt backup (one byte changed: sha256 mismatch) is refused by the
/// rebuild before it touches the server, which is put back in rotation;
/// a replica that is down cannot be fenced and is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_backup_and_an_unfenceable_server_are_refused() {
    let topo = common::start_topology(SandboxOptions::default())
        .await
        .unwrap();
    topo.set_router_auto_failover(false);
    let router = common::Router::start(&topo, "").await;
    let admin = admin_port(&router);
    wait_replicas_eligible(&topo, admin).await;
    let configured = topo.addresses();
    let rows = admin_sql(admin, "BACKUP").await.unwrap();
    let id = cell(&rows[0], "id").to_string();
    let dir = {
        let config = router.server.ctx.config.load();
        config.file_path(&config.backup.as_ref().unwrap().dir)
    };
    wait_until(Duration::from_secs(60), "the backup completes", || async {
        dir.join(&id).join("manifest.json").exists()
    })
    .await;
    let data = dir.join(&id).join("data.sql.zst");
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&data, bytes).unwrap();

    let target = configured[topo.replica_indexes()[0]].clone();
    let gtid_before = topo
        .node(topo.replica_indexes()[0])
        .unwrap()
        .gtid_binlog_pos()
        .await
        .unwrap();
    admin_sql(
        admin,
        &format!("REBUILD SERVER '{target}' FROM BACKUP '{id}'"),
    )
    .await
    .unwrap();
    let row = wait_rebuilt(admin, &target, Duration::from_secs(60)).await;
    assert_eq!(cell(&row, "state"), "failed", "{row:#?}");
    let error = cell(&row, "error");
    assert!(error.contains("does not match its manifest"), "{error}");
    assert_eq!(
        cell(&row, "step"),
        "errant",
        "stopped before the load: {row:#?}"
    );
    // untouched and back in rotation
    replicates_from(&topo, topo.replica_indexes()[0], topo.primary_index())
        .await
        .unwrap();
    assert_eq!(
        topo.node(topo.replica_indexes()[0])
            .unwrap()
            .gtid_binlog_pos()
            .await
            .unwrap(),
        gtid_before
    );
    wait_reads_eligible(
        admin,
        std::slice::from_ref(&target),
        Duration::from_secs(20),
    )
    .await;
    let rows = show_servers(admin).await;
    assert_eq!(cell(server_row(&rows, &target), "state"), "online");

    // a replica that is down cannot be fenced: refused
    let down = topo.replica_indexes()[1];
    topo.kill(down).unwrap();
    wait_until(
        Duration::from_secs(20),
        "the monitor sees it down",
        || async {
            let rows = show_servers(admin).await;
            cell(server_row(&rows, &configured[down]), "reachable") == "no"
        },
    )
    .await;
    let err = admin_sql(admin, &format!("REBUILD SERVER '{}'", configured[down]))
        .await
        .unwrap_err();
    assert!(
        err.contains("sqlyard:") && err.contains("cannot fence"),
        "{err}"
    );
    router.stop().await;
}
