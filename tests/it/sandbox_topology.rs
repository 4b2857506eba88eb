//! The sandbox is the ground every other integration test stands on, so it is
//! tested against real mariadbd servers: wiring, accounts and grants,
//! disturbances (kill, freeze, resume, restart), start-up errors, and that no
//! server or directory of ours survives a drop or a killed owner.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, WhiteListFsHandler};
use sqlyard::sandbox::{
    self, process, shared, NodeState, SandboxError, SandboxOptions, StartFailure, Topology,
    APP_PASSWORD, APP_USER, REPL_PASSWORD, REPL_USER, ROUTER_PASSWORD, ROUTER_USER,
};

use crate::common;

const CATCH_UP: Duration = Duration::from_secs(30);

/// A table name no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", std::process::id(), rand::random::<u32>())
}

fn server_code(e: &mysql_async::Error) -> Option<u16> {
    match e {
        mysql_async::Error::Server(s) => Some(s.code),
        _ => None,
    }
}

async fn scalar_i64(conn: &mut Conn, sql: &str) -> i64 {
    conn.query_first::<i64, _>(sql).await.unwrap().unwrap()
}

#[tokio::test]
async fn shared_topology_has_one_writable_primary_and_replicates() {
    let topo = shared().await.unwrap();
    assert_eq!(topo.nodes().len(), 3);
    assert_eq!(topo.primary_index(), 0);
    assert_eq!(topo.replica_indexes(), vec![1, 2]);
    let addresses = topo.addresses();
    assert_eq!(addresses.len(), 3);
    for (i, address) in addresses.iter().enumerate() {
        assert_eq!(
            address,
            &format!("127.0.0.1:{}", topo.node(i).unwrap().port())
        );
        assert_eq!(topo.node(i).unwrap().server_id(), i as u32 + 1);
    }
    assert!(matches!(
        topo.node(3),
        Err(SandboxError::NoSuchNode { index: 3, count: 3 })
    ));

    assert_eq!(topo.writable_nodes().await.unwrap(), vec![0]);
    for node in topo.nodes() {
        let (server_id, strict, format, log_slave_updates, packet, conns): (
            u32,
            bool,
            String,
            bool,
            u64,
            u64,
        ) = node
            .query_root_first(
                "SELECT @@server_id, @@gtid_strict_mode, @@binlog_format, \
                 @@log_slave_updates, @@max_allowed_packet, @@max_connections",
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(server_id, node.server_id());
        assert!(strict);
        assert_eq!(format, "ROW");
        assert!(log_slave_updates);
        assert_eq!(packet, 1 << 30);
        assert_eq!(conns, 3000);
    }
    for i in [1, 2] {
        let status = topo
            .node(i)
            .unwrap()
            .replica_status()
            .await
            .unwrap()
            .unwrap();
        assert!(status.is_running(), "{status:?}");
        assert_eq!(status.master_port, topo.primary().port());
    }
    assert!(topo.primary().replica_status().await.unwrap().is_none());

    let table = unique("repl_check");
    topo.primary()
        .exec_root(&format!(
            "CREATE TABLE test.{table} (id INT PRIMARY KEY, v VARCHAR(20)); \
             INSERT INTO test.{table} VALUES (1, 'one'), (2, 'two')"
        ))
        .await
        .unwrap();
    topo.wait_replicas_caught_up(CATCH_UP).await.unwrap();
    let primary_gtid = topo.primary().gtid_binlog_pos().await.unwrap();
    assert!(primary_gtid.starts_with("0-1-"), "{primary_gtid}");
    for i in [1, 2] {
        let node = topo.node(i).unwrap();
        let rows: Vec<(i32, String)> = node
            .query_root(&format!("SELECT id, v FROM test.{table} ORDER BY id"))
            .await
            .unwrap();
        assert_eq!(rows, vec![(1, "one".into()), (2, "two".into())]);
        assert_eq!(node.gtid_current_pos().await.unwrap(), primary_gtid);
    }
    topo.primary()
        .exec_root(&format!("DROP TABLE test.{table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn router_and_repl_accounts_have_monitor_grants() {
    let topo = shared().await.unwrap();
    let replica = topo.node(1).unwrap();
    let mut router = replica
        .user_conn(ROUTER_USER, ROUTER_PASSWORD)
        .await
        .unwrap();
    let statuses: Vec<Row> = router.query("SHOW ALL SLAVES STATUS").await.unwrap();
    assert_eq!(statuses.len(), 1);
    // Already ON on a replica: a no-op, but the privilege is still checked.
    router
        .query_drop("SET GLOBAL read_only = ON")
        .await
        .unwrap();
    let users: Vec<String> = router
        .query("SELECT DISTINCT User FROM mysql.user")
        .await
        .unwrap();
    for expected in [APP_USER, ROUTER_USER, REPL_USER] {
        assert!(users.iter().any(|u| u == expected), "{users:?}");
    }
    assert!(
        !users.iter().any(String::is_empty),
        "anonymous user left: {users:?}"
    );
    router.disconnect().await.unwrap();

    let mut router = topo
        .primary()
        .user_conn(ROUTER_USER, ROUTER_PASSWORD)
        .await
        .unwrap();
    let hosts: Vec<Row> = router.query("SHOW SLAVE HOSTS").await.unwrap();
    assert_eq!(hosts.len(), 2);
    let _: Vec<Row> = router.query("SHOW MASTER STATUS").await.unwrap();
    let table = unique("sqlyard.heartbeat_probe");
    router
        .query_drop(format!("CREATE TABLE {table} (id INT PRIMARY KEY)"))
        .await
        .unwrap();
    router
        .query_drop(format!("DROP TABLE {table}"))
        .await
        .unwrap();
    // Not allowed outside its own database.
    let denied = router
        .query_drop("CREATE TABLE test.router_must_not_create (id INT)")
        .await
        .unwrap_err();
    assert_eq!(server_code(&denied), Some(1142), "{denied}");
    router.disconnect().await.unwrap();

    let mut repl = topo
        .primary()
        .user_conn(REPL_USER, REPL_PASSWORD)
        .await
        .unwrap();
    assert_eq!(scalar_i64(&mut repl, "SELECT 1").await, 1);
    repl.disconnect().await.unwrap();

    let wrong = topo
        .primary()
        .user_conn(ROUTER_USER, "wrong")
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, SandboxError::Connect { node: 0, .. }),
        "{wrong}"
    );
}

#[tokio::test]
async fn app_account_is_powerful_but_not_admin() {
    let topo = shared().await.unwrap();
    let primary = topo.primary();
    let mut app = primary.user_conn(APP_USER, APP_PASSWORD).await.unwrap();
    let denied = app
        .query_drop("SET GLOBAL read_only = OFF")
        .await
        .unwrap_err();
    assert_eq!(server_code(&denied), Some(1227), "{denied}");
    let grants: Vec<String> = app.query("SHOW GRANTS").await.unwrap();
    assert!(!grants.join(" ").contains("SUPER"), "{grants:?}");

    // Writes work on the primary, and are refused on a read-only replica.
    let table = unique("app_probe");
    app.query_drop(format!(
        "CREATE TABLE test.{table} (id INT PRIMARY KEY, v VARCHAR(10))"
    ))
    .await
    .unwrap();
    topo.wait_replicas_caught_up(CATCH_UP).await.unwrap();
    let mut on_replica = topo
        .node(2)
        .unwrap()
        .user_conn(APP_USER, APP_PASSWORD)
        .await
        .unwrap();
    let refused = on_replica
        .query_drop(format!("INSERT INTO test.{table} VALUES (9, 'no')"))
        .await
        .unwrap_err();
    assert_eq!(server_code(&refused), Some(1290), "{refused}");
    on_replica.disconnect().await.unwrap();

    // LOAD DATA LOCAL INFILE.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.tsv");
    std::fs::write(&file, "1\tone\n2\ttwo\n3\tthree\n").unwrap();
    let opts = primary
        .user_opts(APP_USER, APP_PASSWORD)
        .local_infile_handler(Some(WhiteListFsHandler::new(vec![file.clone()])));
    let mut loader = Conn::new(opts).await.unwrap();
    loader
        .query_drop(format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE test.{table}",
            file.display()
        ))
        .await
        .unwrap();
    assert_eq!(
        scalar_i64(&mut loader, &format!("SELECT COUNT(*) FROM test.{table}")).await,
        3
    );
    loader.disconnect().await.unwrap();

    // KILL QUERY on its own (other) connection works; on root's does not.
    let mut victim = primary.user_conn(APP_USER, APP_PASSWORD).await.unwrap();
    let victim_id = victim.id();
    let sleeper = tokio::spawn(async move {
        let started = Instant::now();
        let result = victim.query_first::<i64, _>("SELECT SLEEP(30)").await;
        (started.elapsed(), result.map_err(|e| e.to_string()))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.query_drop(format!("KILL QUERY {victim_id}"))
        .await
        .unwrap();
    let (elapsed, result) = sleeper.await.unwrap();
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?} {result:?}");
    // SLEEP() reports an interruption as 1 (or the server sends ER_QUERY_INTERRUPTED).
    assert!(
        matches!(result, Ok(Some(1))) || result.is_err(),
        "{result:?}"
    );

    let root = primary.root_conn().await.unwrap();
    let root_id = root.id();
    let not_owner = app
        .query_drop(format!("KILL QUERY {root_id}"))
        .await
        .unwrap_err();
    assert_eq!(server_code(&not_owner), Some(1095), "{not_owner}");
    root.disconnect().await.unwrap();

    app.query_drop(format!("DROP TABLE test.{table}"))
        .await
        .unwrap();
    app.disconnect().await.unwrap();
}

#[tokio::test]
async fn router_config_points_at_the_topology() {
    let topo = shared().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = topo
        .write_router_config(dir.path(), 16033, 16032, 19033)
        .unwrap();
    let parsed: toml::Value = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(parsed["router"]["listen"].as_str(), Some("127.0.0.1:16033"));
    assert_eq!(
        parsed["router"]["admin_listen"].as_str(),
        Some("127.0.0.1:16032")
    );
    assert_eq!(
        parsed["router"]["metrics_listen"].as_str(),
        Some("127.0.0.1:19033")
    );
    assert_eq!(parsed["monitor"]["user"].as_str(), Some(ROUTER_USER));
    assert_eq!(
        parsed["monitor"]["password"].as_str(),
        Some(ROUTER_PASSWORD)
    );
    assert_eq!(parsed["users"][0]["name"].as_str(), Some(APP_USER));
    let servers: Vec<&str> = parsed["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["address"].as_str().unwrap())
        .collect();
    assert_eq!(servers, topo.addresses());
}

#[tokio::test]
async fn kill_freeze_resume_restart_with_semi_sync_and_cleanup_on_drop() {
    let topo = common::start_topology(SandboxOptions {
        semi_sync: true,
        semi_sync_timeout_ms: 3_000,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let (primary_semi, primary_status): (bool, String) = topo
        .primary()
        .query_root_first(
            "SELECT @@rpl_semi_sync_master_enabled, VARIABLE_VALUE \
             FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'",
        )
        .await
        .unwrap()
        .unwrap();
    assert!(primary_semi);
    assert_eq!(primary_status, "ON");
    for i in [1, 2] {
        let (master, slave, wait_point): (bool, bool, String) = topo
            .node(i)
            .unwrap()
            .query_root_first(
                "SELECT @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_slave_enabled, \
                 @@rpl_semi_sync_master_wait_point",
            )
            .await
            .unwrap()
            .unwrap();
        assert!(!master && slave);
        assert_eq!(wait_point, "AFTER_SYNC");
    }

    let primary = topo.primary();
    primary
        .exec_root("CREATE TABLE test.t (id INT PRIMARY KEY); INSERT INTO test.t VALUES (1)")
        .await
        .unwrap();
    let acked: (String, u64) = primary
        .query_root_first(
            "SELECT VARIABLE_NAME, VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
             WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_YES_TX'",
        )
        .await
        .unwrap()
        .unwrap();
    assert!(acked.1 >= 2, "{acked:?}");

    // Freeze / resume a replica: the other one keeps acking.
    let frozen_pid = topo.node(2).unwrap().pid().unwrap();
    topo.freeze(2).unwrap();
    assert_eq!(topo.node(2).unwrap().state(), NodeState::Frozen);
    assert_eq!(process::process_state(frozen_pid), Some('T'));
    let started = Instant::now();
    primary
        .exec_root("INSERT INTO test.t VALUES (2)")
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "semi-sync fell back"
    );
    topo.wait_replicas_caught_up(CATCH_UP).await.unwrap(); // skips the frozen node
    topo.resume(2).unwrap();
    assert_eq!(topo.node(2).unwrap().state(), NodeState::Running);
    assert_ne!(process::process_state(frozen_pid), Some('T'));
    topo.wait_replicas_caught_up(CATCH_UP).await.unwrap();
    let n: Vec<i64> = topo
        .node(2)
        .unwrap()
        .query_root("SELECT COUNT(*) FROM test.t")
        .await
        .unwrap();
    assert_eq!(n, vec![2]);

    // kill -9 a replica, write, restart it: it comes back read-only and catches up.
    let replica_pid = topo.node(1).unwrap().pid().unwrap();
    topo.kill(1).unwrap();
    assert!(!process::pid_alive(replica_pid));
    assert_eq!(process::process_state(replica_pid), None, "zombie left");
    assert_eq!(topo.node(1).unwrap().state(), NodeState::Down);
    assert!(topo.node(1).unwrap().root_conn().await.is_err());
    primary
        .exec_root("INSERT INTO test.t VALUES (3)")
        .await
        .unwrap();
    topo.restart(1).await.unwrap();
    let replica = topo.node(1).unwrap();
    assert_ne!(replica.pid(), Some(replica_pid));
    assert!(replica.is_read_only().await.unwrap());
    replica.wait_replica_running(CATCH_UP).await.unwrap();
    topo.wait_replicas_caught_up(CATCH_UP).await.unwrap();
    let n: Vec<i64> = replica
        .query_root("SELECT COUNT(*) FROM test.t")
        .await
        .unwrap();
    assert_eq!(n, vec![3]);

    // kill -9 the primary and restart it: it boots read-only, so no writer.
    topo.kill(0).unwrap();
    assert_eq!(topo.writable_nodes().await.unwrap(), Vec::<usize>::new());
    assert!(matches!(
        topo.wait_replicas_caught_up(CATCH_UP).await,
        Err(SandboxError::NotRunning { node: 0 })
    ));
    topo.restart(0).await.unwrap();
    assert!(topo.primary().is_read_only().await.unwrap());
    assert!(topo.writable_nodes().await.unwrap().is_empty());
    assert!(topo
        .primary()
        .error_log_tail(50)
        .contains("ready for connections"));

    // Graceful stop, then drop: nothing of ours remains.
    let pids: Vec<u32> = topo.nodes().iter().filter_map(|n| n.pid()).collect();
    assert_eq!(pids.len(), 3);
    let dir = topo.dir().to_path_buf();
    topo.stop().await.unwrap();
    assert!(topo.nodes().iter().all(|n| n.state() == NodeState::Down));
    assert!(dir.exists());
    drop(topo);
    for pid in pids {
        assert!(!process::pid_alive(pid), "mariadbd {pid} survived");
    }
    assert!(!dir.exists(), "{} survived", dir.display());
}

#[tokio::test]
async fn drop_kills_running_servers_and_removes_the_directory() {
    let base = tempfile::tempdir().unwrap();
    let topo = common::start_topology(SandboxOptions {
        replicas: 1,
        base_dir: Some(base.path().to_path_buf()),
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let pids: Vec<u32> = topo.nodes().iter().filter_map(|n| n.pid()).collect();
    assert_eq!(pids.len(), 2);
    let dir = topo.dir().to_path_buf();
    assert!(dir.starts_with(base.path()));
    topo.freeze(1).unwrap(); // a frozen server must die too
    drop(topo);
    for pid in pids {
        assert!(!process::pid_alive(pid), "mariadbd {pid} survived");
    }
    assert!(!dir.exists());
}

#[tokio::test]
async fn start_failure_reports_the_error_log() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let base = tempfile::tempdir().unwrap();
    let err = common::start_topology(SandboxOptions {
        base_port: Some(port),
        replicas: 0,
        base_dir: Some(base.path().to_path_buf()),
        ..SandboxOptions::default()
    })
    .await
    .unwrap_err();
    match &err {
        SandboxError::StartFailed {
            node: 0,
            port: p,
            reason: StartFailure::PortInUse,
            log_tail,
        } => {
            assert_eq!(*p, port);
            assert!(log_tail.contains("[ERROR]"), "{log_tail}");
        }
        other => panic!("unexpected error: {other}"),
    }
    // Nothing left behind.
    assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
}

const HELPER_ENV: &str = "SQLYARD_SANDBOX_OWNER_HELPER";

/// Not a test on its own: the child process of
/// `killed_owner_leaves_no_server_and_dir_is_swept`.
#[test]
#[ignore = "helper process, run by another test"]
fn owner_helper_process() {
    let Some(base) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let topo = Topology::start(SandboxOptions {
            replicas: 0,
            base_dir: Some(PathBuf::from(base)),
            ..SandboxOptions::default()
        })
        .await
        .unwrap();
        println!(
            "READY {} {}",
            topo.primary().pid().unwrap(),
            topo.dir().display()
        );
        tokio::time::sleep(Duration::from_secs(300)).await;
    });
}

#[test]
fn killed_owner_leaves_no_server_and_dir_is_swept() {
    // The helper process starts the topology: its slot is taken here.
    let _slot = common::TopologySlots::take_blocking(1);
    let base = tempfile::tempdir().unwrap();
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sandbox_topology::owner_helper_process",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, base.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = owner.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("READY "));
    let Some(ready) = ready else {
        let _ = owner.kill();
        panic!("helper never became ready");
    };
    let mut words = ready.split_whitespace().skip(1);
    let pid: u32 = words.next().unwrap().parse().unwrap();
    let dir = PathBuf::from(words.next().unwrap());
    assert!(process::pid_alive(pid));

    owner.kill().unwrap(); // SIGKILL: no destructor, no atexit
    owner.wait().unwrap();
    let died = process::wait_pid_dead(pid, Duration::from_secs(10));
    let dir_was_left = dir.exists();
    let owner_gone = !sandbox::cleanup::owner_alive(&dir);
    // The sweep also kills a surviving server, so a failure leaves nothing.
    let removed = sandbox::cleanup::sweep_stale(base.path());
    assert!(died, "mariadbd {pid} outlived its owner");
    assert!(dir_was_left && owner_gone, "nothing to sweep?");
    assert_eq!(removed, vec![dir.clone()]);
    assert!(!dir.exists());
    assert!(!process::pid_alive(pid));
}
