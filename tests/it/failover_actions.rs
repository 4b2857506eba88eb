//! Failover is only as good as the server-side steps it is made of. These tests run
//! those steps (`sqlyard::failover::actions`) against a real 3-node MariaDB topology
//! with semi-sync on: kill -9 the primary, let both replicas catch up, promote one,
//! repoint the other, write through the new primary; bring the old primary back,
//! fence it and rejoin it; and show that a server holding an errant transaction
//! cannot rejoin (error 1236).

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Row;
use sqlyard::failover::actions::Actions;
use sqlyard::failover::error::{ActionError, ReplicationThread};
use sqlyard::failover::sql::{self, GtidStart};
use sqlyard::sandbox::{
    Node, SandboxOptions, Topology, APP_PASSWORD, APP_USER, REPL_PASSWORD, REPL_USER,
    ROUTER_PASSWORD, ROUTER_USER,
};
use sqlyard::topology::{Flavor, GtidSet, MonitorSettings};

use crate::common;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_secs(1);

fn actions() -> Actions {
    let mut settings = MonitorSettings::new(ROUTER_USER, ROUTER_PASSWORD);
    settings.connect_timeout = Duration::from_secs(2);
    Actions::new(settings, REPL_USER, REPL_PASSWORD)
}

fn maria(text: &str) -> GtidSet {
    GtidSet::parse(Flavor::MariaDb, text).unwrap()
}

/// (`@@rpl_semi_sync_master_enabled`, `Rpl_semi_sync_master_status`,
/// `Rpl_semi_sync_master_clients`, `Rpl_semi_sync_master_yes_tx`).
async fn semi_sync(node: &Node) -> Result<(bool, String, u64, u64), Box<dyn std::error::Error>> {
    let status: Vec<(String, String)> = node
        .query_root(
            "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME IN ('RPL_SEMI_SYNC_MASTER_STATUS', \
             'RPL_SEMI_SYNC_MASTER_CLIENTS', 'RPL_SEMI_SYNC_MASTER_YES_TX')",
        )
        .await?;
    let get = |name: &str| {
        status
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let enabled: Option<(bool,)> = node
        .query_root_first("SELECT @@global.rpl_semi_sync_master_enabled")
        .await?;
    Ok((
        enabled.is_some_and(|(e,)| e),
        get("RPL_SEMI_SYNC_MASTER_STATUS"),
        get("RPL_SEMI_SYNC_MASTER_CLIENTS").parse().unwrap_or(0),
        get("RPL_SEMI_SYNC_MASTER_YES_TX").parse().unwrap_or(0),
    ))
}

/// Inserts rows as the application user over TCP; returns the slowest commit.
async fn insert(
    node: &Node,
    ids: impl IntoIterator<Item = u32>,
    origin: &str,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut conn = node.user_conn(APP_USER, APP_PASSWORD).await?;
    let mut slowest = Duration::ZERO;
    for id in ids {
        let started = Instant::now();
        conn.query_drop(format!(
            "INSERT INTO test.failover_rows (id, origin) VALUES ({id}, '{origin}')"
        ))
        .await?;
        slowest = slowest.max(started.elapsed());
    }
    conn.disconnect().await?;
    Ok(slowest)
}

async fn row_count(node: &Node) -> Result<u64, Box<dyn std::error::Error>> {
    let count: Option<(u64,)> = node
        .query_root_first("SELECT COUNT(*) FROM test.failover_rows")
        .await?;
    Ok(count.map_or(0, |(c,)| c))
}

async fn slave_channels(node: &Node) -> Result<usize, Box<dyn std::error::Error>> {
    let rows: Vec<Row> = node.query_root("SHOW ALL SLAVES STATUS").await?;
    Ok(rows.len())
}

async fn wait_semi_sync_clients(
    node: &Node,
    expected: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, _, clients, _) = semi_sync(node).await?;
        if clients >= expected {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("only {clients} semi-sync replicas, expected {expected}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn failover_and_rejoin_then_errant_transaction_is_refused() -> TestResult {
    let started = Instant::now();
    let topo = common::start_topology(SandboxOptions {
        semi_sync: true,
        semi_sync_timeout_ms: 30_000,
        ..SandboxOptions::default()
    })
    .await?;
    // Drop kills the nodes if anything below panics; on an error, stop first.
    let outcome = scenario(&topo).await;
    let stopped = topo.stop().await;
    outcome?;
    stopped?;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    Ok(())
}

async fn scenario(topo: &Topology) -> TestResult {
    let a = actions();
    let addr = topo.addresses();
    let old = 0;

    // --- quoting round-trips through a real server (passwords may hold anything)
    for value in [
        "plain",
        "it's",
        "back\\slash\\",
        "\\'; DROP TABLE x; --",
        "nul\0 nl\n cr\r z\u{1a}",
        "é😀",
    ] {
        let echoed: Option<(String,)> = topo
            .node(old)?
            .query_root_first(&format!("SELECT {} AS v", sql::quote(value)))
            .await?;
        assert_eq!(echoed.map(|(v,)| v).as_deref(), Some(value));
    }

    // --- writes through the primary, acknowledged by semi-sync
    topo.node(old)?
        .exec_root(
            "CREATE TABLE test.failover_rows (id INT PRIMARY KEY, origin VARCHAR(20) NOT NULL)",
        )
        .await?;
    insert(topo.node(old)?, 1..=20, "old").await?;
    // node 2 keeps receiving but stops applying: it will have to catch up
    topo.node(2)?.exec_root("STOP SLAVE SQL_THREAD").await?;
    insert(topo.node(old)?, 21..=25, "old").await?;
    let last_write = maria(&topo.node(old)?.gtid_binlog_pos().await?);
    // semi-sync waits for one acknowledgement: node 2's receiver may still
    // be behind on a loaded machine
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let received = topo.node(2)?.replica_status().await?.map(|s| s.gtid_io_pos);
        if received
            .as_deref()
            .is_some_and(|r| maria(r).contains(&last_write))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node 2 never received {last_write:?}: {received:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (on, status, _, _) = semi_sync(topo.node(old)?).await?;
    assert!(
        on && status == "ON",
        "semi-sync off on the primary: {status}"
    );

    // --- the primary dies
    topo.kill(old)?;
    let err = a.fence(&addr[old]).await.unwrap_err();
    assert!(err.is_unreachable(), "{err:?}");

    // --- both replicas apply what they received; node 2 only once its applier runs
    let c1 = a.catch_up(&addr[1], WAIT).await?;
    // (long enough that a loaded machine still connects and asks within
    // it: the wait itself cannot end, the applier is stopped)
    let err = a
        .catch_up(&addr[2], Duration::from_secs(2))
        .await
        .unwrap_err();
    match &err {
        ActionError::CatchUpTimeout {
            waiting_for,
            applied: Some(applied),
            ..
        } => {
            assert!(maria(waiting_for).contains(&last_write), "{err}");
            assert!(!maria(applied).contains(&last_write), "{err}");
        }
        other => panic!("expected a catch-up timeout, got {other:?}"),
    }
    let (c2, started) = tokio::join!(a.catch_up(&addr[2], WAIT), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        topo.node(2)?.exec_root("START SLAVE SQL_THREAD").await
    });
    started?;
    let c2 = c2?;
    for c in [&c1, &c2] {
        assert!(c.applied.contains(&c.received), "{c:?}");
        assert!(!c.received.is_empty(), "{c:?}");
    }
    // semi-sync: at least one replica has every acknowledged write
    assert!(
        c1.applied.contains(&last_write) || c2.applied.contains(&last_write),
        "acknowledged writes lost: {last_write} vs {c1:?} / {c2:?}"
    );
    let (new, other) = if c1.applied.contains(&c2.applied) {
        (1, 2)
    } else {
        (2, 1)
    };

    // --- promote the most advanced one
    a.promote(&addr[new], true).await?;
    a.promote(&addr[new], true).await?; // idempotent
    topo.set_primary_index(new)?;
    let new_node = topo.node(new)?;
    assert!(!new_node.is_read_only().await?);
    assert_eq!(slave_channels(new_node).await?, 0);
    let (on, _, _, yes_before) = semi_sync(new_node).await?;
    assert!(on, "semi-sync source side not switched on");
    let positions = a.read_positions(&addr[new]).await?;
    assert!(!positions.read_only);
    assert!(positions.current.contains(&last_write), "{positions:?}");
    let err = a.catch_up(&addr[new], WAIT).await.unwrap_err();
    assert!(matches!(err, ActionError::NotReplica { .. }), "{err:?}");

    // --- repoint the other replica, which then replicates (and acks) again
    a.repoint(&addr[other], &addr[new], GtidStart::SlavePos, HEARTBEAT)
        .await?;
    a.verify_replicating(&addr[other], WAIT).await?;
    wait_semi_sync_clients(new_node, 1).await?;
    let slowest = insert(new_node, 101..=105, "new").await?;
    assert!(
        slowest < Duration::from_secs(5),
        "a commit waited {slowest:?}: semi-sync fell back to its timeout"
    );
    let (on, status, _, yes_after) = semi_sync(new_node).await?;
    assert!(on && status == "ON", "semi-sync status {status}");
    assert!(yes_after >= yes_before + 5, "{yes_before} -> {yes_after}");
    let new_pos = new_node.gtid_binlog_pos().await?;
    let applied = a.wait_applied(&addr[other], &new_pos, WAIT).await?;
    assert!(applied.contains(&maria(&new_pos)));
    assert_eq!(row_count(topo.node(other)?).await?, 30);

    // --- the old primary comes back (read-only by its config), is fenced and rejoins
    topo.restart(old).await?;
    let old_node = topo.node(old)?;
    assert!(!a.fence(&addr[old]).await?.was_writable);
    // as if it had come back writable and semi-sync: fencing undoes both
    old_node
        .exec_root("SET GLOBAL read_only = OFF; SET GLOBAL rpl_semi_sync_master_enabled = ON")
        .await?;
    assert!(a.fence(&addr[old]).await?.was_writable);
    assert!(old_node.is_read_only().await?);
    assert!(!semi_sync(old_node).await?.0);
    assert!(!a.fence(&addr[old]).await?.was_writable);
    let old_positions = a.read_positions(&addr[old]).await?;
    assert!(old_positions.read_only);
    let old_binlog = old_positions.binlog.clone().map(GtidSet::MariaDb);
    assert_eq!(old_binlog.as_ref(), Some(&last_write), "{old_positions:?}");

    a.repoint(&addr[old], &addr[new], GtidStart::CurrentPos, HEARTBEAT)
        .await?;
    a.verify_replicating(&addr[old], WAIT).await?;
    insert(new_node, [200], "new").await?;
    let new_pos = new_node.gtid_binlog_pos().await?;
    a.wait_applied(&addr[old], &new_pos, WAIT).await?;
    assert_eq!(row_count(old_node).await?, 31);
    wait_semi_sync_clients(new_node, 2).await?;

    // --- waits that cannot finish, and bad input
    let err = a
        .wait_applied(&addr[old], "7-1-1", Duration::from_millis(300))
        .await
        .unwrap_err();
    match &err {
        ActionError::CatchUpTimeout {
            waiting_for,
            applied: Some(applied),
            ..
        } => {
            assert_eq!(waiting_for, "7-1-1");
            assert!(maria(applied).contains(&maria(&new_pos)), "{err}");
        }
        other => panic!("{other:?}"),
    }
    let err = a
        .wait_applied(&addr[old], "not-a-gtid", WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::BadGtid { .. }), "{err:?}");

    // --- errant transaction: a server with a write its new source never had
    let errant_node = topo.node(other)?;
    errant_node.exec_root("STOP SLAVE").await?;
    errant_node
        .exec_root("INSERT INTO test.failover_rows (id, origin) VALUES (900, 'errant')")
        .await?;
    let errant = maria(&errant_node.gtid_binlog_pos().await?);
    let errant_text = errant.to_string();
    assert!(
        errant_text.contains(&format!("-{}-", errant_node.server_id())),
        "{errant_text}"
    );
    a.repoint(&addr[other], &addr[new], GtidStart::CurrentPos, HEARTBEAT)
        .await?;
    let verify_started = Instant::now();
    let err = a.verify_replicating(&addr[other], WAIT).await.unwrap_err();
    match &err {
        ActionError::Replication {
            errno: 1236,
            thread: ReplicationThread::Io,
            message,
            ..
        } => assert!(message.contains(&errant_text), "{err}"),
        other => panic!("expected error 1236, got {other:?}"),
    }
    assert!(
        verify_started.elapsed() < Duration::from_secs(5),
        "a fatal error should end the wait at once"
    );
    // the error is fit for an operator and carries no password
    let text = format!("{err} {err:?}");
    assert!(!text.contains(REPL_PASSWORD) && !text.contains(ROUTER_PASSWORD));

    // the primary still has exactly one writable server: itself
    assert_eq!(topo.writable_nodes().await?, vec![new]);
    Ok(())
}

/// The replication heartbeat period and the IO/SQL thread states of a
/// node's default channel, as the server reports them.
async fn channel_state(
    node: &Node,
) -> Result<(String, String, String), Box<dyn std::error::Error>> {
    // the heartbeat columns are only in the ALL form
    let rows: Vec<Row> = node.query_root("SHOW ALL SLAVES STATUS").await?;
    let row = rows.first().ok_or("not a replica")?;
    let get = |name: &str| -> String {
        row.columns_ref()
            .iter()
            .position(|c| c.name_str() == name)
            .and_then(|i| row.get::<Option<String>, usize>(i).flatten())
            .unwrap_or_default()
    };
    Ok((
        get("Slave_heartbeat_period"),
        get("Slave_IO_Running"),
        get("Slave_SQL_Running"),
    ))
}

/// Pointing a server at one that replicates from it, directly or through
/// another server, is refused before anything changes; the heartbeat
/// period of a running channel can be changed alone, a stopped one is left
/// stopped; fencing kills client sessions but not sqlyard's own.
#[tokio::test]
async fn loops_are_refused_and_channels_are_tuned_in_place() -> TestResult {
    let topo = common::start_topology(SandboxOptions::default()).await?;
    let outcome = loops_and_tuning(&topo).await;
    let stopped = topo.stop().await;
    outcome?;
    stopped?;
    Ok(())
}

async fn loops_and_tuning(topo: &Topology) -> TestResult {
    let a = actions();
    let addr = topo.addresses();
    let (n0, n1, n2) = (topo.node(0)?, topo.node(1)?, topo.node(2)?);

    // 0 is the primary, 1 and 2 its replicas: 0 under 1 is a loop.
    let err = a
        .repoint(&addr[0], &addr[1], GtidStart::CurrentPos, HEARTBEAT)
        .await
        .unwrap_err();
    match &err {
        ActionError::ReplicationCycle { address, chain, .. } => {
            assert_eq!(address, &addr[0]);
            assert_eq!(chain, &format!("{} replicates from {}", addr[1], addr[0]));
        }
        other => panic!("expected a refused loop, got {other:?}"),
    }
    assert_eq!(slave_channels(n0).await?, 0, "nothing changed on node 0");
    assert_eq!(topo.writable_nodes().await?, vec![0]);

    // 2 under 1 (a chain 0 <- 1 <- 2) is fine ...
    a.repoint(&addr[2], &addr[1], GtidStart::SlavePos, HEARTBEAT)
        .await?;
    a.verify_replicating(&addr[2], WAIT).await?;
    // ... but then 0 under 2, or 1 under 2, is a loop through another server
    for (pointed, via) in [(0, 2), (1, 2)] {
        let err = a
            .repoint(&addr[pointed], &addr[via], GtidStart::SlavePos, HEARTBEAT)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ActionError::ReplicationCycle { .. }),
            "{pointed} under {via}: {err:?}"
        );
    }
    assert_eq!(slave_channels(n0).await?, 0);
    let (_, io, sql) = channel_state(n1).await?;
    assert_eq!(
        (io.as_str(), sql.as_str()),
        ("Yes", "Yes"),
        "node 1 untouched"
    );
    assert_eq!(topo.writable_nodes().await?, vec![0]);
    // back to a flat topology
    a.repoint(&addr[2], &addr[0], GtidStart::SlavePos, HEARTBEAT)
        .await?;
    a.verify_replicating(&addr[2], WAIT).await?;

    // Heartbeat: only the period changes; replication goes on from where it was.
    let (period, _, _) = channel_state(n2).await?;
    assert_eq!(period, "1.000");
    let before = a
        .set_heartbeat_period(&addr[2], "", Duration::from_millis(2500))
        .await?;
    assert_eq!(before, Some(Duration::from_secs(1)));
    let (period, _, _) = channel_state(n2).await?;
    assert_eq!(period, "2.500");
    n0.exec_root(
        "CREATE TABLE IF NOT EXISTS test.tuned (id INT PRIMARY KEY); \
         INSERT INTO test.tuned VALUES (1), (2), (3)",
    )
    .await?;
    let pos = n0.gtid_binlog_pos().await?;
    n2.wait_gtid_applied(&pos, WAIT).await?;
    n2.wait_replica_running(WAIT).await?;
    let (period, io, sql) = channel_state(n2).await?;
    assert_eq!(
        [period.as_str(), io.as_str(), sql.as_str()],
        ["2.500", "Yes", "Yes"]
    );
    // A channel an operator stopped stays stopped.
    n1.exec_root("STOP SLAVE").await?;
    let err = a
        .set_heartbeat_period(&addr[1], "", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, ActionError::Refused { .. }), "{err:?}");
    let (period, io, sql) = channel_state(n1).await?;
    assert_eq!(
        (period.as_str(), io.as_str(), sql.as_str()),
        ("1.000", "No", "No")
    );
    n1.exec_root("START SLAVE").await?;

    // Fencing's kill: an application session goes, sqlyard's own stays.
    let mut app = n0.user_conn(APP_USER, APP_PASSWORD).await?;
    let app_id: u64 = app
        .query_first("SELECT CONNECTION_ID()")
        .await?
        .ok_or("id")?;
    let mut own = n0.user_conn(ROUTER_USER, ROUTER_PASSWORD).await?;
    let own_id: u64 = own
        .query_first("SELECT CONNECTION_ID()")
        .await?
        .ok_or("id")?;
    // replicas' binlog dump sessions cannot write: they stay
    let dump_ids = |rows: Vec<(u64, String)>| -> Vec<u64> {
        rows.into_iter()
            .filter(|(_, c)| c.starts_with("Binlog Dump"))
            .map(|(id, _)| id)
            .collect::<std::collections::BTreeSet<u64>>()
            .into_iter()
            .collect()
    };
    let listing = "SELECT ID, COMMAND FROM information_schema.PROCESSLIST";
    // The restarted channel on node 1 registers a new dump, which replaces
    // its old one on the primary: wait until both replicas run and the
    // primary shows the same two dumps twice in a row.
    let deadline = Instant::now() + WAIT;
    let dumps = loop {
        let (_, io1, _) = channel_state(n1).await?;
        let (_, io2, _) = channel_state(n2).await?;
        let first = dump_ids(n0.query_root(listing).await?);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let second = dump_ids(n0.query_root(listing).await?);
        if io1 == "Yes" && io2 == "Yes" && first.len() == 2 && first == second {
            break first;
        }
        assert!(Instant::now() < deadline, "dumps not settled: {second:?}");
    };
    let k = a.kill_sessions(&addr[0]).await?;
    assert!(k.killed.contains(&app_id), "{k:?}");
    assert!(k.failed.is_empty(), "{k:?}");
    for kept in dumps.iter().chain([&own_id]) {
        assert!(!k.killed.contains(kept), "{kept} killed: {k:?}");
    }
    // KILL is asynchronous: the session goes within moments
    let deadline = Instant::now() + WAIT;
    loop {
        let ids: Vec<u64> = n0
            .query_root("SELECT ID FROM information_schema.PROCESSLIST")
            .await?;
        assert!(ids.contains(&own_id), "{ids:?}");
        if !ids.contains(&app_id) {
            break;
        }
        assert!(Instant::now() < deadline, "{app_id} still there: {ids:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        app.query_drop("SELECT 1").await.is_err(),
        "the app session is gone"
    );
    own.query_drop("SELECT 1").await?;
    assert_eq!(dump_ids(n0.query_root(listing).await?), dumps, "same dumps");
    let (_, io, sql) = channel_state(n2).await?;
    assert_eq!((io.as_str(), sql.as_str()), ("Yes", "Yes"));
    drop(own);
    Ok(())
}
