//! Failover must stay safe on topologies run the way people run them, not
//! only on the sandbox's tuned settings:
//! - a journal written for an old cluster is history: a cluster rebuilt from
//!   scratch, or a primary switched back by hand while sqlyard was down,
//!   keeps its primary and its replication (no loop, writes go on);
//! - a hung primary is replaced within `silence_grace` + 3 s on replicas
//!   left at MariaDB's default replication settings (sqlyard shortens their
//!   heartbeat period itself);
//! - fencing holds against writers that `read_only` does not stop (a direct
//!   client with READ ONLY ADMIN): killed sessions, a shutdown, an operator
//!   command.
//!
//! Every outcome is checked on the servers themselves (`@@read_only`,
//! `SHOW SLAVE STATUS`, `PROCESSLIST`, rows present, the process table),
//! and then in what sqlyard reports.
use crate::{common, failover_support, load};

use std::path::Path;
use std::time::{Duration, Instant};

use failover_support::*;
use load::{assert_all_present, missing_on, Load};
use mysql_async::prelude::Queryable;
use sqlyard::sandbox::{Node, NodeState, SandboxOptions, Topology};
use toml_edit::value;

/// The account of a client that writes to a server directly, with the
/// privilege that `read_only` does not stop.
const DIRECT_USER: &str = "direct_admin";
const DIRECT_PASSWORD: &str = "direct_pw";

// ---------------------------------------------------------------- helpers

/// Asserts, for `hold`, that node `primary` is the only writable server
/// and every other node replicates from it (the servers' own view).
async fn assert_stays(topo: &Topology, primary: usize, hold: Duration, what: &str) {
    let until = Instant::now() + hold;
    loop {
        match check_consistent(topo, &[]).await {
            Ok(p) => assert_eq!(p, primary, "{what}: the primary moved"),
            Err(e) => panic!("{what}: the topology changed: {e}"),
        }
        if Instant::now() >= until {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A write through sqlyard lands on node `primary`: the row is there, and
/// the GTID it got carries that node's server_id.
async fn assert_write_lands_on(topo: &Topology, router_port: u16, primary: usize, id: u64) {
    let node = topo.node(primary).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while let Err(e) = write_through(
        router_port,
        &format!("INSERT INTO {TABLE} (id, worker) VALUES ({id}, 0)"),
    )
    .await
    {
        assert!(Instant::now() < deadline, "no write through sqlyard: {e}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let found: Option<(i64,)> = node
        .query_root_first(&format!("SELECT COUNT(*) FROM {TABLE} WHERE id = {id}"))
        .await
        .unwrap();
    assert_eq!(found, Some((1,)), "the write is on node {primary}");
    let binlog = node.gtid_binlog_pos().await.unwrap();
    let own = format!("-{}-", node.server_id());
    assert!(
        binlog.split(',').any(|g| g.contains(&own)),
        "node {primary} wrote it itself: gtid_binlog_pos {binlog}"
    );
}

/// Points `node` at `primary` by hand, as an operator's tool would.
async fn point_by_hand(node: &Node, primary: &Node, current_pos: bool) {
    let start = if current_pos {
        "current_pos"
    } else {
        "slave_pos"
    };
    node.exec_root("STOP SLAVE").await.unwrap();
    node.exec_root(&format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='{}', \
         MASTER_PASSWORD='{}', MASTER_USE_GTID={start}, MASTER_HEARTBEAT_PERIOD=1, \
         MASTER_CONNECT_RETRY=1",
        primary.port(),
        sqlyard::sandbox::REPL_USER,
        sqlyard::sandbox::REPL_PASSWORD
    ))
    .await
    .unwrap();
    node.exec_root("START SLAVE").await.unwrap();
    node.wait_replica_running(Duration::from_secs(20))
        .await
        .unwrap();
}

/// The replication heartbeat period a node's default channel reports.
async fn heartbeat_period(node: &Node) -> Option<f64> {
    let rows: Vec<mysql_async::Row> = node.query_root("SHOW ALL SLAVES STATUS").await.ok()?;
    let row = rows.first()?;
    let i = row
        .columns_ref()
        .iter()
        .position(|c| c.name_str() == "Slave_heartbeat_period")?;
    let v: Option<String> = row.get(i)?;
    v?.parse().ok()
}

/// Creates the direct writer's account and table (on the primary; they
/// replicate).
async fn create_direct_account(topo: &Topology) {
    topo.primary()
        .exec_root(&format!(
            "CREATE USER IF NOT EXISTS '{DIRECT_USER}'@'%' IDENTIFIED BY '{DIRECT_PASSWORD}'; \
             GRANT READ_ONLY ADMIN ON *.* TO '{DIRECT_USER}'@'%'; \
             GRANT SELECT, INSERT ON failover_test.* TO '{DIRECT_USER}'@'%'; \
             CREATE TABLE IF NOT EXISTS failover_test.direct \
             (id BIGINT PRIMARY KEY, at TIMESTAMP(6) DEFAULT NOW(6))"
        ))
        .await
        .unwrap();
}

/// Rows `ids` in the load's table, written on the primary directly.
async fn insert_rows(topo: &Topology, ids: std::ops::RangeInclusive<u64>) {
    let values: Vec<String> = ids.map(|i| format!("({i}, 0)")).collect();
    topo.primary()
        .exec_root(&format!(
            "INSERT INTO {TABLE} (id, worker) VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
}

/// `CHECKSUM TABLE` of the load's table on every node, once the replicas
/// applied everything: equal when no replica skipped or replayed anything.
async fn assert_same_rows(topo: &Topology, what: &str) {
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
    let mut sums = Vec::new();
    for node in topo.nodes() {
        let row: Option<(String, i64)> = node
            .query_root_first(&format!("CHECKSUM TABLE {TABLE}"))
            .await
            .unwrap();
        sums.push(row.map(|r| r.1));
    }
    assert!(
        sums.windows(2).all(|w| w[0] == w[1]) && sums[0].is_some(),
        "{what}: checksums {sums:?}"
    );
}

/// Whether the metrics text has `name{labels} value`, labels in any order.
fn has_sample(metrics: &str, name: &str, labels: &[&str], value: &str) -> bool {
    metrics.lines().any(|l| {
        l.starts_with(&format!("{name}{{"))
            && labels.iter().all(|p| l.contains(p))
            && l.ends_with(&format!(" {value}"))
    })
}

/// A client connected straight to one server (not through sqlyard) that
/// inserts in a loop on one session until that session fails.
struct DirectWriter {
    connection_id: u64,
    task: tokio::task::JoinHandle<(u64, Option<String>)>,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl DirectWriter {
    async fn start(node: &Node) -> DirectWriter {
        let mut conn = mysql_async::Conn::new(node.user_opts(DIRECT_USER, DIRECT_PASSWORD))
            .await
            .expect("direct login");
        let connection_id: u64 = conn
            .query_first("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap();
        let written = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = written.clone();
        let task = tokio::spawn(async move {
            let mut id = 0u64;
            loop {
                id += 1;
                let r = conn
                    .query_drop(format!(
                        "INSERT INTO failover_test.direct (id) VALUES ({id})"
                    ))
                    .await;
                match r {
                    Ok(()) => {
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(e) => return (id - 1, Some(e.to_string())),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        DirectWriter {
            connection_id,
            task,
            written,
        }
    }

    fn written(&self) -> u64 {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until the writer has written `n` more rows than now.
    async fn wait_writes(&self, n: u64, limit: Duration, what: &str) {
        let from = self.written();
        wait_until(limit, what, || async { self.written() >= from + n }).await;
    }
}

/// The ids of the sessions a server has now.
async fn session_ids(node: &Node) -> Result<Vec<u64>, String> {
    node.query_root::<u64>("SELECT ID FROM information_schema.PROCESSLIST")
        .await
        .map_err(|e| e.to_string())
}

/// With sqlyard (journal in `dir`) in front of `topo`, kill -9 node 0 and
/// wait for the automatic failover; returns the router and the node that
/// took over.
async fn kill_node0_and_fail_over(topo: &Topology, dir: &Path) -> (common::Router, usize) {
    let configured = topo.addresses();
    let router = start_router(topo, dir, |_| {}).await;
    let admin = admin_port(&router);
    prepare_table(topo).await;
    wait_replicas_eligible(topo, admin).await;
    topo.kill(0).unwrap();
    let rec = wait_failover_done(admin, 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new = node_of(&configured, &rec.new_primary);
    assert_ne!(new, 0);
    (router, new)
}

/// After a restart on the journal of an older topology: the entry becomes
/// `superseded`, and node 0 stays the primary of the others.
async fn assert_superseded_and_kept(topo: &Topology, admin: u16) {
    wait_until(
        Duration::from_secs(20),
        "the old entry is marked superseded",
        || async { newest_failover(admin).await.outcome == "superseded" },
    )
    .await;
    assert_stays(
        topo,
        0,
        Duration::from_secs(6),
        "after a restart on an old journal",
    )
    .await;
    let rec = newest_failover(admin).await;
    let error = cell(&rec.row, "error");
    assert!(
        error.contains("superseded") && error.contains(&topo.addresses()[0]),
        "SHOW FAILOVERS says why: {rec:#?}"
    );
    assert_eq!(failovers(admin).await.unwrap().len(), 1, "no new failover");
}

// ---------------------------------------------------------------- 1. the journal is history

/// The journal says node 0 was replaced by another node; the operator then
/// rebuilt the cluster from scratch (node 0 primary again) and started the
/// same sqlyard with the same config and journal. Nothing may be rewired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_cluster_is_not_rewired_from_an_old_journal() {
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, _) = kill_node0_and_fail_over(&topo, dir.path()).await;
    router.stop().await;

    // The operator rebuilds everything: fresh datadirs, node 0 primary.
    topo.rebuild().await.unwrap();
    assert_eq!(check_consistent(&topo, &[]).await, Ok(0));
    prepare_table(&topo).await;

    let router = start_router(&topo, dir.path(), |_| {}).await;
    assert_superseded_and_kept(&topo, admin_port(&router)).await;
    assert_write_lands_on(&topo, router.port, 0, 77).await;
    // And at the next restart the entry stays history.
    router.stop().await;
    let router = start_router(&topo, dir.path(), |_| {}).await;
    assert_stays(&topo, 0, Duration::from_secs(4), "after a second restart").await;
    assert_write_lands_on(&topo, router.port, 0, 78).await;
    router.stop().await;
    topo.stop().await.unwrap();
}

/// After a failover, the operator switches the primary back to node 0
/// directly on the servers while sqlyard is stopped. sqlyard restarts on
/// its journal and keeps node 0 as the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_back_made_by_hand_while_sqlyard_was_down_is_kept() {
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let (router, new) = kill_node0_and_fail_over(&topo, dir.path()).await;
    let other = 3 - new; // the third node (nodes 0, 1, 2)
    topo.set_primary_index(new).unwrap();
    assert_write_lands_on(&topo, router.port, new, 1).await;
    topo.restart(0).await.unwrap();
    if wait_rejoined(&topo, admin_port(&router), 0, new, Duration::from_secs(60)).await
        == Returned::Quarantined
    {
        // a heartbeat in node 0's binlog that no replica got when it was
        // killed (rare): quarantine is right, and there is nothing to switch
        // back to in this run
        router.stop().await;
        topo.stop().await.unwrap();
        return;
    }
    router.stop().await;

    // The switch back, by hand.
    let (n0, nn, no) = (
        topo.node(0).unwrap(),
        topo.node(new).unwrap(),
        topo.node(other).unwrap(),
    );
    nn.exec_root("SET GLOBAL rpl_semi_sync_master_enabled = OFF; SET GLOBAL read_only = ON")
        .await
        .unwrap();
    let pos = nn.gtid_binlog_pos().await.unwrap();
    n0.wait_gtid_applied(&pos, Duration::from_secs(30))
        .await
        .unwrap();
    n0.exec_root(
        "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL rpl_semi_sync_master_enabled = ON; \
         SET GLOBAL read_only = OFF",
    )
    .await
    .unwrap();
    point_by_hand(nn, n0, true).await;
    point_by_hand(no, n0, false).await;
    topo.set_primary_index(0).unwrap();
    assert_eq!(
        assert_consistent(&topo, &[], Duration::from_secs(20)).await,
        0
    );

    let router = start_router(&topo, dir.path(), |_| {}).await;
    assert_superseded_and_kept(&topo, admin_port(&router)).await;
    assert_write_lands_on(&topo, router.port, 0, 2).await;
    router.stop().await;
    topo.stop().await.unwrap();
}

// ---------------------------------------------------------------- 2. default settings

/// Replicas at MariaDB's defaults (slave_net_timeout 60 s, a heartbeat
/// every 30 s). sqlyard shortens their heartbeat period itself, keeping
/// their GTID positions; a SIGSTOPped primary under a writer is then
/// replaced within silence_grace + 3 s. A client writing directly to the
/// primary with READ ONLY ADMIN keeps writing through the freeze and the
/// failover; after SIGCONT the old primary is fenced and, with the default
/// `kill_connections` step, that session is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_primary_on_default_settings_is_replaced_within_the_grace() {
    let topo = common::start_topology(SandboxOptions {
        mariadb_defaults: true,
        ..Default::default()
    })
    .await
    .expect("sandbox with MariaDB's default replication settings");
    let configured = topo.addresses();
    // As users leave them: checked on the servers before sqlyard starts.
    for r in topo.replica_indexes() {
        let node = topo.node(r).unwrap();
        let timeout: Option<(u32,)> = node
            .query_root_first("SELECT @@global.slave_net_timeout")
            .await
            .unwrap();
        assert_eq!(timeout, Some((60,)), "node {r}");
        assert_eq!(heartbeat_period(node).await, Some(30.0), "node {r}");
    }
    prepare_table(&topo).await;
    create_direct_account(&topo).await;
    insert_rows(&topo, 1..=200).await;

    let dir = tempfile::tempdir().unwrap();
    let router = start_router(&topo, dir.path(), |_| {}).await;
    let admin = admin_port(&router);
    for r in topo.replica_indexes() {
        let node = topo.node(r).unwrap();
        // The period changes while the channel is stopped (STOP SLAVE,
        // CHANGE MASTER, START SLAVE): wait for both.
        wait_until(
            Duration::from_secs(20),
            "sqlyard shortened the replica's heartbeat period and restarted its channel",
            || async {
                heartbeat_period(node).await == Some(1.0)
                    && replicates_from(&topo, r, 0).await.is_ok()
            },
        )
        .await;
    }
    // GTID positions kept: the replicas resume where they were, so rows
    // written before and after the change are all there, once.
    insert_rows(&topo, 201..=400).await;
    assert_same_rows(&topo, "after the heartbeat change").await;
    wait_until(
        Duration::from_secs(5),
        "SHOW AUTOFAILOVER counts two heartbeat changes",
        || async {
            let rows = admin_sql(admin, "SHOW AUTOFAILOVER").await.unwrap();
            cell(&rows[0], "heartbeat_tunings") == "2"
        },
    )
    .await;
    let m = common::scrape_metrics(&router).await;
    assert!(
        m.lines()
            .any(|l| l == "sqlyard_replica_heartbeat_tuned_total 2"),
        "counted in the metrics"
    );
    wait_replicas_eligible(&topo, admin).await;

    let direct = DirectWriter::start(topo.primary()).await;
    direct
        .wait_writes(5, Duration::from_secs(10), "the direct client writes")
        .await;
    let mut options = load_options(&router, 0);
    options.op_timeout = Duration::from_secs(15);
    let load = Load::start(options);
    assert!(
        load.wait_acknowledged(40, Duration::from_secs(30)).await,
        "writes through sqlyard before the freeze"
    );
    let fault = Instant::now();
    topo.freeze(0).unwrap();
    let rec = wait_failover_done(admin, 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new = node_of(&configured, &rec.new_primary);
    let resumed = load
        .wait_ok_write_after(fault, Duration::from_secs(30))
        .await
        .expect("writes resume");
    let gap = resumed.duration_since(fault);
    println!("default settings, freeze: writes resumed after {gap:?}; {rec:#?}");
    assert!(
        gap <= SILENCE_GRACE + Duration::from_secs(3),
        "writes resumed {gap:?} after the freeze (limit: silence_grace + 3 s)"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = load.stop().await;
    topo.set_primary_index(new).unwrap();
    // Asynchronous replication (the default): a write the frozen primary
    // acknowledged but had not sent yet is not on the new primary. It must
    // not vanish: it stays on the old primary, reported as errant below.
    let missing = missing_on(
        topo.node(new).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
    )
    .await
    .unwrap();
    println!(
        "default settings, freeze: {} of {} acknowledged writes not on the new primary (asynchronous replication)",
        missing.len(),
        report.acknowledged.len()
    );

    // SIGCONT: the direct client's frozen insert completes and it keeps
    // going (READ ONLY ADMIN) until the fence kills its session.
    let written_before_thaw = direct.written();
    topo.resume(0).unwrap();
    let node = topo.node(0).unwrap();
    wait_until(
        Duration::from_secs(20),
        "the old primary is fenced (read_only=ON)",
        || async { node.is_read_only().await.unwrap_or(false) },
    )
    .await;
    let (last_id, error) = tokio::time::timeout(Duration::from_secs(20), direct.task)
        .await
        .expect("the direct session ends")
        .unwrap();
    println!(
        "direct READ ONLY ADMIN client: {last_id} rows, {} after the thaw, ended with {error:?}",
        last_id.saturating_sub(written_before_thaw)
    );
    assert!(error.is_some(), "its session was ended");
    let ids = session_ids(node).await.unwrap();
    assert!(
        !ids.contains(&direct.connection_id),
        "session {} is gone from the old primary: {ids:?}",
        direct.connection_id
    );
    wait_until(
        Duration::from_secs(5),
        "SHOW FAILOVERS shows the fencing steps",
        || async {
            let done = newest_failover(admin).await;
            let fencing = cell(&done.row, "fencing").to_string();
            fencing.contains("read_only: set") && fencing.contains("kill_connections: killed")
        },
    )
    .await;
    // Whatever the new primary lacks is on the old one, which is then
    // reported with its errant transactions (so are the direct client's
    // writes after the failover); with nothing errant it is rejoined.
    assert_all_present(node.root_opts(), TABLE, &missing, "the old primary").await;
    let errant = !missing.is_empty() || last_id > written_before_thaw;
    wait_until(
        Duration::from_secs(30),
        "the old primary is quarantined with its errant GTIDs, or rejoined",
        || async {
            if errant {
                let rows = show_servers(admin).await;
                cell(server_row(&rows, &configured[0]), "alert").contains("errant")
            } else {
                replicates_from(&topo, 0, new).await.is_ok()
            }
        },
    )
    .await;
    // the rest of the topology is whole
    assert_eq!(
        assert_consistent(&topo, &[0], Duration::from_secs(20)).await,
        new
    );
    router.stop().await;
    topo.stop().await.unwrap();
}

// ---------------------------------------------------------------- 3. fencing that holds

/// `failover.fence = ["read_only", "command", "shutdown"]`: after the thaw
/// the operator command ran with the old primary's address (its exit status
/// is in SHOW FAILOVERS), then the old primary was shut down, which SHOW
/// SERVERS says; the direct READ ONLY ADMIN writer is stopped with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_runs_the_operator_command_then_shuts_the_old_primary_down() {
    // semi-sync: every write acknowledged through sqlyard is on the new primary
    let topo = start_topology().await;
    let configured = topo.addresses();
    prepare_table(&topo).await;
    create_direct_account(&topo).await;
    let dir = tempfile::tempdir().unwrap();
    let seen = dir.path().join("fence-command.args");
    let script = dir.path().join("fence.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{}'\necho \"would power off $1\" >&2\nexit 7\n",
            seen.display()
        ),
    )
    .unwrap();
    let router = start_router(&topo, dir.path(), |doc| {
        let t = doc["failover"].as_table_mut().unwrap();
        let mut steps = toml_edit::Array::new();
        for s in ["read_only", "command", "shutdown"] {
            steps.push(s);
        }
        t["fence"] = value(steps);
        let mut command = toml_edit::Array::new();
        command.push("/bin/sh");
        command.push(script.to_string_lossy().into_owned());
        t["fence_command"] = value(command);
        t["fence_command_timeout"] = value("10s");
    })
    .await;
    let admin = admin_port(&router);
    wait_replicas_eligible(&topo, admin).await;
    let direct = DirectWriter::start(topo.primary()).await;
    direct
        .wait_writes(5, Duration::from_secs(10), "the direct client writes")
        .await;
    let load = Load::start(load_options(&router, 0));
    assert!(load.wait_acknowledged(40, Duration::from_secs(30)).await);

    let fault = Instant::now();
    topo.freeze(0).unwrap();
    let rec = wait_failover_done(admin, 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new = node_of(&configured, &rec.new_primary);
    load.wait_ok_write_after(fault, Duration::from_secs(30))
        .await
        .expect("writes resume");
    let report = load.stop().await;
    topo.set_primary_index(new).unwrap();
    assert!(
        !seen.exists(),
        "nothing is done to the old primary while it does not answer"
    );

    topo.resume(0).unwrap();
    let node = topo.node(0).unwrap();
    wait_until(
        Duration::from_secs(30),
        "the old primary's process exits (SHUTDOWN)",
        || async { node.state() == NodeState::Down },
    )
    .await;
    let args = std::fs::read_to_string(&seen).expect("the command ran");
    assert_eq!(
        args.trim(),
        configured[0],
        "the command got the old primary's address"
    );
    let (_, error) = tokio::time::timeout(Duration::from_secs(20), direct.task)
        .await
        .expect("the direct session ends")
        .unwrap();
    assert!(error.is_some());
    wait_until(
        Duration::from_secs(10),
        "SHOW SERVERS shows the old primary down, shut down by sqlyard",
        || async {
            let rows = show_servers(admin).await;
            let row = server_row(&rows, &configured[0]);
            cell(row, "reachable") == "no" && cell(row, "alert").contains("shut down by sqlyard")
        },
    )
    .await;
    wait_until(
        Duration::from_secs(5),
        "SHOW FAILOVERS shows the shutdown",
        || async {
            let done = newest_failover(admin).await;
            cell(&done.row, "fencing").contains("shutdown:")
        },
    )
    .await;
    let done = newest_failover(admin).await;
    let fencing = cell(&done.row, "fencing").to_string();
    println!("fencing: {fencing}");
    let order: Vec<usize> = [
        "read_only: sent ahead at the failover",
        "read_only: set",
        "command: FAILED: exit status 7",
        "shutdown: SHUTDOWN accepted",
    ]
    .iter()
    .map(|step| {
        fencing
            .find(step)
            .unwrap_or_else(|| panic!("{step} in SHOW FAILOVERS fencing: {fencing}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "in order: {fencing}");
    assert!(fencing.contains("would power off"), "{fencing}");
    let m = common::scrape_metrics(&router).await;
    for (labels, value) in [
        (["result=\"ok\"", "step=\"shutdown\""], "1"),
        (["result=\"failed\"", "step=\"command\""], "1"),
        // sent ahead (ran as it thawed), then set again when it answered
        (["result=\"ok\"", "step=\"read_only\""], "2"),
    ] {
        assert!(
            has_sample(&m, "sqlyard_fence_steps_total", &labels, value),
            "{labels:?} {value} in the metrics"
        );
    }
    assert_eq!(
        assert_consistent(&topo, &[0], Duration::from_secs(20)).await,
        new
    );
    assert_all_present(
        topo.node(new).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
        "the new primary",
    )
    .await;
    router.stop().await;
    topo.stop().await.unwrap();
}
