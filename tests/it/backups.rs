//! Backups from a replica (issue 17), on real servers, proved with the
//! servers' own answers:
//! - a backup taken during sysbench (oltp_read_write on the primary, point
//!   selects on the replicas) through sqlyard restores into a fresh server
//!   whose tables' checksums equal those of another replica stopped at the
//!   manifest's GTID position (`START SLAVE UNTIL master_gtid_pos`);
//! - the source got no reads while drained (its own `USER_STATISTICS`),
//!   and is back in rotation and replicating afterwards;
//! - the source killed mid-dump: the backup is failed with a clear error,
//!   nothing that looks like a backup is left, the admin state is back;
//! - `VERIFY BACKUP` restores it into a scratch server and finds it equal
//!   to its manifest, and refuses a file changed by one bit (sha256);
//! - refusals: the primary without `allow_primary`, a second backup while
//!   one runs, an unknown server.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sqlyard::backup::manifest::{verify_files, Manifest};
use sqlyard::sandbox::{SandboxOptions, Topology};

use crate::common;
use crate::common::TopologySlots;
use crate::failover_support::{admin_port, admin_sql, cell, server_row, show_servers, AdminRow};
use crate::procs::Running;

const SB_DB: &str = "sbtest";

fn sysbench(port: u16, test: &str) -> Command {
    crate::sysbench::sysbench(test, &port.to_string(), SB_DB, 2, 50000)
}

/// The router's `[backup] dir` (from its config text).
fn backup_dir(router: &common::Router) -> PathBuf {
    let config = router.server.ctx.config.load();
    let b = config
        .backup
        .as_ref()
        .expect("the sandbox config has [backup]");
    config.file_path(&b.dir)
}

/// `SHOW BACKUPS`' row for `id`.
async fn backup_row(admin: u16, id: &str) -> Option<AdminRow> {
    let rows = admin_sql(admin, "SHOW BACKUPS")
        .await
        .expect("SHOW BACKUPS");
    rows.into_iter().find(|r| cell(r, "id") == id)
}

/// Waits until backup `id` is no longer running; returns its row.
async fn wait_backup(admin: u16, id: &str, limit: Duration) -> AdminRow {
    let t0 = Instant::now();
    loop {
        if let Some(row) = backup_row(admin, id).await {
            if cell(&row, "state") != "running" {
                return row;
            }
        }
        assert!(
            t0.elapsed() < limit,
            "backup {id} still running after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `BACKUP [FROM ...]`: (id, source).
async fn start_backup(admin: u16, sql: &str) -> Result<(String, String), String> {
    let rows = admin_sql(admin, sql).await.map_err(|e| e.to_string())?;
    let row = rows.first().ok_or("no row")?;
    assert_eq!(cell(row, "state"), "running", "{row:?}");
    Ok((cell(row, "id").to_string(), cell(row, "source").to_string()))
}

/// The app user's SELECTs a server has run (its own USER_STATISTICS).
async fn app_selects(topo: &Topology, node: usize) -> u64 {
    let n: Option<u64> = topo
        .node(node)
        .unwrap()
        .query_root_first(
            "SELECT SELECT_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = 'app'",
        )
        .await
        .unwrap();
    n.unwrap_or(0)
}

fn node_of(topo: &Topology, address: &str) -> usize {
    topo.addresses()
        .iter()
        .position(|a| a == address)
        .unwrap_or_else(|| panic!("{address} is not a node"))
}

/// Checksums of every table of the manifest on `node` (root).
async fn checksums(topo: &Topology, node: usize, m: &Manifest) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for t in &m.tables {
        let name = format!("`{}`.`{}`", t.schema, t.table);
        let row: Option<(String, Option<u64>)> = topo
            .node(node)
            .unwrap()
            .query_root_first(&format!("CHECKSUM TABLE {name} EXTENDED"))
            .await
            .unwrap();
        out.push((name, row.and_then(|(_, c)| c)));
    }
    out
}

/// Loads a backup's files into `node` with the mariadb CLI (root, socket).
fn restore(topo: &Topology, node: usize, dir: &Path) {
    let n = topo.node(node).unwrap();
    for file in ["accounts.sql.zst", "data.sql.zst"] {
        let compressed = std::fs::read(dir.join(file)).unwrap();
        let sql = zstd::decode_all(&compressed[..]).unwrap();
        let mut cmd = Command::new("mariadb");
        cmd.arg("--no-defaults")
            .arg(format!("--socket={}", n.socket_path().display()))
            .arg("-uroot")
            .arg("--binary-mode");
        crate::procs::run_with_stdin(cmd, &sql, Duration::from_secs(120)).assert_ok(file);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_from_a_replica_under_load_is_exact_and_drains_its_source() {
    let _slots = TopologySlots::take(2).await;
    let topo = Topology::start(SandboxOptions::default())
        .await
        .expect("topology");
    topo.set_router_auto_failover(false);
    let scratch = Topology::start(SandboxOptions {
        replicas: 0,
        ..Default::default()
    })
    .await
    .expect("a fresh server to restore into");
    // objects beyond tables: a view, a routine, a trigger, an account
    topo.primary()
        .exec_root(
            "CREATE DATABASE shop; \
             CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20), photo BLOB); \
             INSERT INTO shop.items VALUES (1, 'tea', x'00ff10'), (2, 'caf\u{e9}', NULL); \
             CREATE TABLE shop.audit (n INT); \
             CREATE TRIGGER shop.count_items AFTER INSERT ON shop.items FOR EACH ROW INSERT INTO shop.audit VALUES (NEW.id); \
             CREATE VIEW shop.names AS SELECT name FROM shop.items; \
             CREATE FUNCTION shop.twice(x INT) RETURNS INT DETERMINISTIC RETURN 2 * x; \
             CREATE USER 'shopper'@'%' IDENTIFIED BY 'shopper_pw'; \
             GRANT SELECT ON shop.* TO 'shopper'@'%'",
        )
        .await
        .unwrap();
    let router = common::Router::start(&topo, "").await;
    let admin = admin_port(&router);
    crate::failover_support::wait_replicas_eligible(&topo, admin).await;
    let dir = backup_dir(&router);

    // refusals first
    let primary = topo.primary().address();
    let err = start_backup(admin, &format!("BACKUP FROM '{primary}'"))
        .await
        .unwrap_err();
    assert!(
        err.contains("sqlyard:") && err.contains("allow_primary"),
        "{err}"
    );
    let err = start_backup(admin, "BACKUP FROM '127.0.0.1:1'")
        .await
        .unwrap_err();
    assert!(err.contains("not a server of this topology"), "{err}");

    // load: writes in transactions on the primary, point selects on the replicas
    sysbench(router.port, "oltp_read_write")
        .arg("prepare")
        .output()
        .map(|o| assert!(o.status.success(), "{o:?}"))
        .unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
    let mut writes = sysbench(router.port, "oltp_read_write");
    writes.args(["--threads=2", "--time=120", "run"]);
    let writes = Running::spawn(writes);
    let mut reads = sysbench(router.port, "oltp_point_select");
    reads.args(["--threads=2", "--time=120", "run"]);
    let reads = Running::spawn(reads);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // the other replica holds still before the backup's position, to be
    // stopped exactly there afterwards
    let replicas = topo.replica_indexes();
    let (witness, expected_source) = (replicas[0], replicas[1]);
    topo.node(witness)
        .unwrap()
        .exec_root("STOP SLAVE SQL_THREAD")
        .await
        .unwrap();
    topo.node(expected_source)
        .unwrap()
        .exec_root("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1")
        .await
        .unwrap();
    // once the monitor has seen it, the witness is no candidate
    let witness_address = topo.addresses()[witness].clone();
    let t0 = Instant::now();
    while !router
        .server
        .ctx
        .topology
        .load()
        .server(&witness_address)
        .is_some_and(|s| {
            s.replication
                .iter()
                .any(|r| r.sql_running == sqlyard::topology::ThreadState::Stopped)
        })
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the monitor never saw the witness stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (id, source) = start_backup(admin, "BACKUP").await.expect("BACKUP");
    assert_eq!(
        source,
        topo.addresses()[expected_source],
        "the healthy replica"
    );
    let err = start_backup(admin, "BACKUP").await.unwrap_err();
    assert!(err.contains("still running"), "{err}");
    // the drained replica's share of reads goes to the primary meanwhile
    let shares = || router.server.ctx.topology.load().primary_shares_reads;
    let t0 = Instant::now();
    while !shares() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the primary never shared reads during the backup"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let row = wait_backup(admin, &id, Duration::from_secs(120)).await;
    assert_eq!(cell(&row, "state"), "complete", "{row:?}");
    assert!(!shares(), "the primary still shares reads after the backup");
    let after = app_selects(&topo, expected_source).await;
    let manifest = Manifest::read(&dir.join(&id)).unwrap();
    // drained while it ran: the source's own general log holds no read by
    // the application between the drain (at the start; 100 ms for reads
    // already running then) and the end of the dump
    let (from, to) = (manifest.started_unix_ms + 100, manifest.finished_unix_ms);
    assert!(
        to > from + 300,
        "the backup was too short to tell: {from}..{to}"
    );
    let drained_reads: Vec<(String, String)> = topo
        .node(expected_source)
        .unwrap()
        .query_root(&format!(
            "SELECT CAST(event_time AS CHAR), CAST(LEFT(argument, 80) AS CHAR) FROM mysql.general_log \
             WHERE user_host LIKE 'app%' AND command_type IN ('Query', 'Execute') \
             AND UNIX_TIMESTAMP(event_time) * 1000 BETWEEN {from} AND {to} LIMIT 10"
        ))
        .await
        .unwrap();
    assert!(
        drained_reads.is_empty(),
        "the source served reads while drained: {drained_reads:?}"
    );
    // back in rotation, and replicating again
    let rows = show_servers(admin).await;
    assert_eq!(cell(server_row(&rows, &source), "state"), "online");
    assert_eq!(sql_running(&topo, expected_source).await, "Yes");
    let t0 = Instant::now();
    while app_selects(&topo, expected_source).await == after {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no reads after the backup"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(reads);
    drop(writes);

    // the backup on disk: complete, its files as the manifest says
    let backup = dir.join(&id);
    verify_files(&backup, &manifest).unwrap();
    assert_eq!(cell(&row, "gtid"), manifest.gtid);
    assert!(!manifest.gtid.is_empty());
    assert!(manifest
        .tables
        .iter()
        .any(|t| t.schema == SB_DB && t.rows == 50000));
    assert!(manifest.tables.iter().all(|t| t.checksum.is_some()));
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != &id)
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // exact: the witness replica stopped at the manifest's position has
    // the checksums of the manifest and of the restored server
    let w = topo.node(witness).unwrap();
    w.exec_root("STOP SLAVE").await.unwrap();
    w.exec_root(&format!(
        "START SLAVE UNTIL master_gtid_pos = '{}'",
        manifest.gtid
    ))
    .await
    .unwrap();
    let t0 = Instant::now();
    loop {
        let pos = w.gtid_current_pos().await.unwrap();
        if pos == manifest.gtid {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "witness at {pos}, not {}",
            manifest.gtid
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at_gtid = checksums(&topo, witness, &manifest).await;
    let in_manifest: Vec<(String, Option<u64>)> = manifest
        .tables
        .iter()
        .map(|t| (format!("`{}`.`{}`", t.schema, t.table), t.checksum))
        .collect();
    assert_eq!(
        at_gtid, in_manifest,
        "the manifest's checksums are not the data at its GTID"
    );
    restore(&scratch, 0, &backup);
    let restored = checksums(&scratch, 0, &manifest).await;
    assert_eq!(restored, in_manifest, "the restored tables differ");
    // routines, triggers, views and accounts came along
    let s = scratch.primary();
    let twice: Option<i64> = s.query_root_first("SELECT shop.twice(21)").await.unwrap();
    assert_eq!(twice, Some(42));
    let names: Vec<String> = s
        .query_root("SELECT name FROM shop.names ORDER BY name")
        .await
        .unwrap();
    assert_eq!(names, ["caf\u{e9}", "tea"]);
    s.exec_root("INSERT INTO shop.items VALUES (3, 'x', NULL)")
        .await
        .unwrap();
    let audit: Option<u64> = s
        .query_root_first("SELECT COUNT(*) FROM shop.audit WHERE n = 3")
        .await
        .unwrap();
    assert_eq!(audit, Some(1), "the trigger");
    let mut shopper = s
        .user_conn("shopper", "shopper_pw")
        .await
        .expect("the account came along");
    let n: Option<u64> = shopper
        .query_first("SELECT COUNT(*) FROM shop.items")
        .await
        .unwrap();
    assert_eq!(n, Some(3));
    let _ = shopper.disconnect().await;

    // VERIFY BACKUP: restored into a scratch server sqlyard starts, equal
    // to the manifest; a corrupt file is refused before any restore
    let rows = admin_sql(admin, &format!("VERIFY BACKUP '{id}'"))
        .await
        .expect("VERIFY BACKUP");
    assert_eq!(cell(&rows[0], "ok"), "yes", "{rows:?}");
    assert_eq!(cell(&rows[0], "tables"), manifest.tables.len().to_string());
    let row = backup_row(admin, &id).await.unwrap();
    assert!(cell(&row, "verified").starts_with("ok"), "{row:?}");
    let data = backup.join("data.sql.zst");
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&data, &bytes).unwrap();
    let err = admin_sql(admin, &format!("VERIFY BACKUP '{id}'"))
        .await
        .unwrap_err();
    assert!(err.contains("sqlyard:") && err.contains("sha256"), "{err}");
    let err = admin_sql(admin, "VERIFY BACKUP '../etc'")
        .await
        .unwrap_err();
    assert!(err.contains("no backup"), "{err}");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_whose_source_dies_leaves_nothing_and_says_why() {
    let topo = big_topology().await;
    let router = common::Router::start(&topo, "").await;
    let admin = admin_port(&router);
    crate::failover_support::wait_replicas_eligible(&topo, admin).await;
    let dir = backup_dir(&router);
    let (id, source) = start_backup(admin, "BACKUP").await.expect("BACKUP");
    let node = node_of(&topo, &source);
    // kill the source while the dump reads big.t
    wait_dumping_big(&topo, node).await;
    topo.kill(node).unwrap();
    let row = wait_backup(admin, &id, Duration::from_secs(60)).await;
    assert_eq!(cell(&row, "state"), "failed", "{row:?}");
    let error = cell(&row, "error").to_string();
    assert!(
        error.contains("mariadb-dump") || error.contains(&source),
        "{error}"
    );
    assert!(
        !dir.join(&id).exists(),
        "a failed backup left its directory"
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    // the admin state is back (ONLINE), though the server is down
    let rows = show_servers(admin).await;
    assert_eq!(cell(server_row(&rows, &source), "state"), "online");
    let metrics = common::scrape_metrics(&router).await;
    assert!(
        metrics.contains("sqlyard_backup_failures_total 1"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("backup"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    router.stop().await;
}

/// A topology of its own with `big.t` (300,000 rows of 200 bytes: the
/// dump takes a while), on every node.
async fn big_topology() -> common::OwnTopology {
    topology_with(
        "CREATE DATABASE big; CREATE TABLE big.t (id INT PRIMARY KEY AUTO_INCREMENT, pad CHAR(200)); \
         INSERT INTO big.t (pad) SELECT REPEAT('x', 200) FROM test.seq_1_to_300000",
    )
    .await
}

/// A topology of its own (no automatic failover) where `sql` ran on the
/// primary and reached every replica.
async fn topology_with(sql: &str) -> common::OwnTopology {
    let topo = common::start_topology(SandboxOptions::default())
        .await
        .unwrap();
    topo.set_router_auto_failover(false);
    topo.primary().exec_root(sql).await.unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(60))
        .await
        .unwrap();
    topo
}

/// Waits until the backup's dump reads `big.t` on `node`.
async fn wait_dumping_big(topo: &Topology, node: usize) {
    let t0 = Instant::now();
    loop {
        let dumping: Vec<String> = topo
            .node(node)
            .unwrap()
            .query_root(
                "SELECT INFO FROM information_schema.PROCESSLIST WHERE USER = 'backup' AND INFO LIKE 'SELECT%big%'",
            )
            .await
            .unwrap_or_default();
        if !dumping.is_empty() {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the dump never read big.t"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The SQL thread state of `node` (`Slave_SQL_Running`).
async fn sql_running(topo: &Topology, node: usize) -> String {
    let rows: Vec<mysql_async::Row> = topo
        .node(node)
        .unwrap()
        .query_root("SHOW SLAVE STATUS")
        .await
        .unwrap();
    rows.first()
        .and_then(|r| r.get::<String, _>("Slave_SQL_Running"))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_killed_mid_backup_starts_the_sql_thread_again_at_its_next_start() {
    let topo = big_topology().await;
    let router = crate::router_process::RouterProcess::start(&topo, "info", |_| {}).await;
    let doc: toml_edit::DocumentMut = router.text.parse().unwrap();
    let dir = PathBuf::from(doc["backup"]["dir"].as_str().unwrap());
    crate::failover_support::wait_replicas_eligible(&topo, router.admin_port).await;
    let (_, source) = start_backup(router.admin_port, "BACKUP")
        .await
        .expect("BACKUP");
    let node = node_of(&topo, &source);
    wait_dumping_big(&topo, node).await;
    router.signal(libc::SIGKILL);
    // what the dead router left: the source's SQL thread stopped
    assert_eq!(sql_running(&topo, node).await, "No");
    // the next start puts it back, and removes the partial backup
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sqlyard"));
    cmd.arg("--config")
        .arg(&router.config)
        .env("RUST_LOG", "info")
        .env_remove("RUST_LOG_STYLE");
    let again = Running::spawn(cmd);
    let t0 = Instant::now();
    while !again.printed().1.contains("SQL thread started again") {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no recovery in the log:\n{}",
            again.printed().1
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sql_running(&topo, node).await, "Yes");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", dir.display());
    drop(again);
    drop(router);
}

/// A small tmpfs mounted for one test (never the real disk); unmounted and
/// removed when dropped, whatever happened.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs (needs root)");
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// A full disk (a 512 KiB tmpfs as `backup.dir`, data that does not
/// compress below it): the backup fails with the disk's error, leaves
/// nothing partial, and the source is back in rotation and replicating.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_backup_cleanly() {
    let topo = topology_with(
        "CREATE DATABASE noise; CREATE TABLE noise.t (id INT PRIMARY KEY, h CHAR(32)); \
         INSERT INTO noise.t SELECT seq, MD5(seq) FROM test.seq_1_to_100000",
    )
    .await;
    let disk = SmallDisk::mount("512k");
    let dir = disk.path().to_path_buf();
    let router = common::Router::start_with(&topo, true, |text| {
        let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
        doc["backup"]["dir"] = toml_edit::value(dir.to_string_lossy().into_owned());
        *text = doc.to_string();
    })
    .await;
    let admin = admin_port(&router);
    crate::failover_support::wait_replicas_eligible(&topo, admin).await;
    let (id, source) = start_backup(admin, "BACKUP").await.expect("BACKUP");
    let row = wait_backup(admin, &id, Duration::from_secs(60)).await;
    assert_eq!(cell(&row, "state"), "failed", "{row:?}");
    let error = cell(&row, "error").to_string();
    assert!(
        error.contains("No space left on device"),
        "the disk's error: {error}"
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left on the full disk: {left:?}");
    let node = node_of(&topo, &source);
    assert_eq!(sql_running(&topo, node).await, "Yes");
    let rows = show_servers(admin).await;
    assert_eq!(cell(server_row(&rows, &source), "state"), "online");
    router.stop().await;
    drop(disk);
}
