//! Operators drive sqlyard with the clients they already have, on the
//! admin port. These tests run every admin command from the real `mariadb`
//! CLI and from mysql_async (plus PHP mysqli and PyMySQL for SHOW SERVERS)
//! against a router in front of the real sandbox topology, including the
//! error paths, and check that the commands act on the router (OFFLINE,
//! DRAIN, RELOAD CONFIG, the query digest, the client list).
use crate::{common, procs};

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use mysql_async::Value;
use procs::{run_async, Output};
use sqlyard::config::Config;
use sqlyard::sandbox::{pick_free_port, Topology};
use sqlyard::server::Server;

const LIMIT: Duration = Duration::from_secs(30);

type Rows = Vec<Vec<Option<String>>>;

/// `mariadb` CLI on the admin port as `user`/`password`.
fn admin_cli_as(port: u16, user: &str, password: &str) -> Command {
    procs::mariadb_as(port, user, password)
}

fn admin_port(router: &common::Router) -> u16 {
    router.server.admin_addr().port()
}

/// Runs `sql` with the CLI in batch mode; returns (header, rows).
async fn cli_batch(port: u16, sql: &str) -> (Vec<String>, Vec<Vec<String>>) {
    procs::batch(admin_cli_as(port, "admin", "admin_pw"), sql, LIMIT).await
}

/// Runs `sql` with the CLI; returns its output (not checked).
async fn cli_raw(port: u16, user: &str, password: &str, sql: &str) -> Output {
    let mut c = admin_cli_as(port, user, password);
    c.args(["--batch", "-e", sql]);
    run_async(c, LIMIT).await
}

fn admin_opts(port: u16) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("admin"))
        .pass(Some("admin_pw"))
        .prefer_socket(false)
}

async fn admin_conn(port: u16) -> mysql_async::Conn {
    mysql_async::Conn::new(admin_opts(port))
        .await
        .expect("mysql_async logs in on the admin port")
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Runs `sql` with mysql_async; returns (column names, rows as text).
async fn query(c: &mut mysql_async::Conn, sql: &str) -> (Vec<String>, Rows) {
    let mut result = c
        .query_iter(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let cols: Vec<String> = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let rows: Vec<mysql_async::Row> = result.collect().await.unwrap();
    let rows = rows
        .into_iter()
        .map(|r| (0..r.len()).map(|i| r.as_ref(i).and_then(text)).collect())
        .collect();
    (cols, rows)
}

/// The server error of a failed statement: (code, message).
async fn query_err(c: &mut mysql_async::Conn, sql: &str) -> (u16, String) {
    match c.query_drop(sql).await {
        Ok(()) => panic!("{sql} succeeded; an error was expected"),
        Err(mysql_async::Error::Server(e)) => (e.code, e.message),
        Err(e) => panic!("{sql}: not a server error: {e}"),
    }
}

fn col(cols: &[String], name: &str) -> usize {
    cols.iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {cols:?}"))
}

const SERVERS: &[&str] = &[
    "address",
    "server_id",
    "role",
    "state",
    "state_from",
    "reachable",
    "read_only",
    "source",
    "io_thread",
    "sql_thread",
    "lag_seconds",
    "reads",
    "seconds_behind_master",
    "gtid_position",
    "conns_in_use",
    "conns_idle",
    "queries",
    "query_errors",
    "connect_errors",
    "version",
    "last_seen",
    "last_error",
    "last_error_at",
    "tls",
    "detector",
    "fenced",
    "alert",
];
const TOPOLOGY: &[&str] = &[
    "server",
    "server_id",
    "role",
    "source",
    "source_role",
    "channel",
    "io_thread",
    "sql_thread",
    "seconds_behind_master",
    "using_gtid",
    "gtid_io_pos",
    "gtid_slave_pos",
    "gtid_current_pos",
    "last_io_error",
    "last_sql_error",
];
const POOLS: &[&str] = &[
    "server",
    "user",
    "collation",
    "key_flags",
    "in_use",
    "idle",
    "lingering",
    "open",
    "max_size",
    "checkouts",
    "opened_total",
    "connect_errors",
    "checkout_timeouts",
    "replaced_dead",
];
const CLIENTS: &[&str] = &[
    "id",
    "user",
    "client",
    "connected_at",
    "connected_seconds",
    "state",
    "statement_seconds",
    "pinned",
    "pin_reasons",
    "statement",
];
const STATS: &[&str] = &["name", "value"];
const CONFIG: &[&str] = &["section", "key", "value"];
const DIGEST: &[&str] = &[
    "digest_text",
    "count",
    "total_ms",
    "avg_ms",
    "min_ms",
    "max_ms",
    "rows",
    "errors",
    "first_seen",
    "last_seen",
    "routes",
];
const HELP: &[&str] = &["command"];
const FAILOVERS: &[&str] = &[
    "id",
    "kind",
    "outcome",
    "started_at",
    "old_primary",
    "new_primary",
    "detection_ms",
    "duration_ms",
    "phases",
    "reason",
    "positions",
    "trigger",
    "error",
    "fencing",
    "ran_by",
];
const AUTOFAILOVER: &[&str] = &[
    "autofailover",
    "watched_primary",
    "detector",
    "running",
    "no_auto_until",
    "unconfirmed_losses",
    "heartbeat_tunings",
    "alerts",
    "quarantined",
    "leader_only_losses",
    "fence_ahead",
];

/// Every table command, with its columns.
const TABLES: &[(&str, &[&str])] = &[
    ("SHOW SERVERS", SERVERS),
    ("show servers;", SERVERS),
    ("SHOW TOPOLOGY", TOPOLOGY),
    ("SHOW POOLS", POOLS),
    ("show clients", CLIENTS),
    ("SHOW STATS", STATS),
    ("SHOW CONFIG", CONFIG),
    ("SHOW QUERY DIGEST", DIGEST),
    ("Show Query Digest Limit 1", DIGEST),
    ("HELP", HELP),
    ("SHOW COMMANDS", HELP),
    ("show autofailover", AUTOFAILOVER),
    ("SHOW ROUTERS", ROUTERS),
];

const ROUTERS: &[&str] = &[
    "instance",
    "address",
    "admin",
    "leader",
    "lease_left_ms",
    "version",
    "primary",
    "primary_view",
    "evidence",
    "last_seen_ms_ago",
    "etcd",
];

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_command_from_the_cli_and_mysql_async() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = admin_port(&router);
    // some traffic, so pools, stats and the digest have rows
    let mut app = router.conn().await;
    app.query_drop("SELECT 1").await.unwrap();

    let mut admin = admin_conn(port).await;
    for (sql, columns) in TABLES {
        // the CLI takes a bare `help` as its own command: it never sends it
        let cli_sql = if *sql == "HELP" { "SHOW COMMANDS" } else { sql };
        let (header, rows) = cli_batch(port, cli_sql).await;
        assert_eq!(header, strs(columns), "CLI columns of {sql}");
        let (cols, rows2) = query(&mut admin, sql).await;
        assert_eq!(cols, strs(columns), "mysql_async columns of {sql}");
        assert!(
            rows.iter().all(|r| r.len() == columns.len()),
            "{sql}: {rows:?}"
        );
        if !sql.to_uppercase().contains("LIMIT") {
            assert!(!rows2.is_empty(), "{sql} has rows");
        } else {
            assert_eq!(rows2.len(), 1, "{sql}");
        }
    }

    let primary = topo.addresses()[topo.primary_index()].clone();
    // SHOW SERVERS: every configured server, the primary as primary
    let (cols, rows) = query(&mut admin, "SHOW SERVERS").await;
    assert_eq!(rows.len(), topo.addresses().len());
    let p = rows
        .iter()
        .find(|r| r[0].as_deref() == Some(primary.as_str()))
        .expect("primary listed");
    assert_eq!(p[col(&cols, "role")].as_deref(), Some("primary"));
    assert_eq!(p[col(&cols, "state")].as_deref(), Some("online"));

    // SHOW TOPOLOGY: each replica replicates from the primary, threads running
    let (cols, rows) = query(&mut admin, "SHOW TOPOLOGY").await;
    for i in topo.replica_indexes() {
        let addr = &topo.addresses()[i];
        let r = rows
            .iter()
            .find(|r| r[0].as_deref() == Some(addr.as_str()))
            .unwrap_or_else(|| panic!("replica {addr} in {rows:?}"));
        assert_eq!(r[col(&cols, "source")].as_deref(), Some(primary.as_str()));
        assert_eq!(r[col(&cols, "source_role")].as_deref(), Some("primary"));
        assert_eq!(r[col(&cols, "io_thread")].as_deref(), Some("running"));
        assert_eq!(r[col(&cols, "sql_thread")].as_deref(), Some("running"));
        assert!(r[col(&cols, "gtid_slave_pos")].is_some(), "{r:?}");
    }
    let p = rows
        .iter()
        .find(|r| r[0].as_deref() == Some(primary.as_str()))
        .expect("primary in SHOW TOPOLOGY");
    assert_eq!(p[col(&cols, "source")], None);

    // SHOW POOLS: the app's pool to the primary
    let (cols, rows) = query(&mut admin, "SHOW POOLS").await;
    let pool = rows
        .iter()
        .find(|r| r[0].as_deref() == Some(primary.as_str()) && r[1].as_deref() == Some("app"))
        .unwrap_or_else(|| panic!("app pool in {rows:?}"));
    assert!(pool[col(&cols, "opened_total")].as_deref() >= Some("1"));
    assert!(pool[col(&cols, "collation")]
        .as_deref()
        .is_some_and(|c| c.contains("utf8mb4")));

    // SHOW STATS: counters move
    let stat = |rows: &Rows, name: &str| -> u64 {
        rows.iter()
            .find(|r| r[0].as_deref() == Some(name))
            .and_then(|r| r[1].as_deref())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("stat {name} in {rows:?}"))
    };
    let (_, before) = query(&mut admin, "SHOW STATS").await;
    app.query_drop("SELECT 2").await.unwrap();
    let (_, after) = query(&mut admin, "SHOW STATS").await;
    assert!(stat(&after, "queries_total") > stat(&before, "queries_total"));
    assert!(stat(&after, "client_connections_accepted_total") >= 1);
    assert_eq!(stat(&after, "client_connections_active"), 1);
    let key = format!("server_queries_total{{server=\"{primary}\"}}");
    assert!(stat(&after, &key) >= 2);
    stat(&after, "pins_total{reason=\"transaction\"}");

    // SHOW CONFIG: every section, no password
    let (_, rows) = cli_batch(port, "SHOW CONFIG").await;
    let all = format!("{rows:?}");
    assert!(
        !all.contains("admin_pw") && !all.contains("app_pw"),
        "{all}"
    );
    for section in [
        "router",
        "monitor",
        "pool",
        "routing",
        "failover",
        "servers[0]",
    ] {
        assert!(rows.iter().any(|r| r[0] == section), "{section}: {all}");
    }
    assert!(rows
        .iter()
        .any(|r| r[1] == "admin_password" && r[2].contains("***")));
    assert!(rows
        .iter()
        .any(|r| r[1] == "file" && r[2].contains("test-router.toml")));

    // HELP lists every command
    let (_, rows) = query(&mut admin, "HELP").await;
    let help = format!("{rows:?}");
    for c in [
        "SHOW SERVERS",
        "SHOW TOPOLOGY",
        "SHOW POOLS",
        "SHOW CLIENTS",
        "SHOW STATS",
        "SHOW CONFIG",
        "RELOAD CONFIG",
        "SHOW QUERY DIGEST",
        "TRUNCATE QUERY DIGEST",
        "SET SERVER",
        "ADD SERVER",
        "REMOVE SERVER",
        "SHOW FAILOVERS",
        "SHOW AUTOFAILOVER",
        "SWITCHOVER [TO '<host:port>']",
        "FAILOVER [TO '<host:port>']",
        "SET AUTOFAILOVER = ON | OFF",
    ] {
        assert!(help.contains(c), "{c} in {help}");
    }

    // client programs' own statements, and aliases keep their case
    let (cols, rows) = query(&mut admin, "SELECT 1 AS x, @@version_comment AS `Vc`").await;
    assert_eq!(cols, strs(&["x", "Vc"]));
    assert_eq!(rows[0][0].as_deref(), Some("1"));
    let (h, _) = cli_batch(port, "select 1 as MyName").await;
    assert_eq!(h, strs(&["MyName"]));

    // OK commands from both clients
    let set_online = format!("SET SERVER '{primary}' ONLINE");
    let out = cli_raw(port, "admin", "admin_pw", &set_online).await;
    out.assert_ok("SET SERVER ONLINE from the CLI");
    admin.query_drop(&set_online).await.unwrap();
    assert!(admin.info().contains("ONLINE"), "{}", admin.info());
    cli_raw(port, "admin", "admin_pw", "TRUNCATE QUERY DIGEST")
        .await
        .assert_ok("TRUNCATE QUERY DIGEST from the CLI");
    admin.query_drop("truncate query digest").await.unwrap();
    assert_eq!(admin.affected_rows(), 0, "already empty");

    admin.disconnect().await.unwrap();
    app.disconnect().await.unwrap();
    router.stop().await;
}

/// An ERR from both clients: the CLI's stderr and mysql_async's error.
async fn both_fail(port: u16, admin: &mut mysql_async::Conn, sql: &str) -> String {
    let out = cli_raw(port, "admin", "admin_pw", sql).await;
    assert!(out.code != Some(0), "{sql} succeeded in the CLI");
    assert!(out.stderr.contains("sqlyard:"), "{sql}: {}", out.stderr);
    let (_, msg) = query_err(admin, sql).await;
    assert!(msg.starts_with("sqlyard:"), "{sql}: {msg}");
    msg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_paths() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = admin_port(&router);
    let primary = topo.addresses()[topo.primary_index()].clone();

    // wrong admin password
    let out = cli_raw(port, "admin", "wrong", "SHOW SERVERS").await;
    assert!(out.code != Some(0));
    assert!(out.stderr.contains("1045"), "{}", out.stderr);
    let e = mysql_async::Conn::new(admin_opts(port).pass(Some("wrong")))
        .await
        .expect_err("wrong admin password")
        .to_string();
    assert!(e.contains("1045"), "{e}");
    // an application user on the admin port
    let out = cli_raw(port, "app", "app_pw", "SHOW SERVERS").await;
    assert!(out.code != Some(0));
    assert!(out.stderr.contains("1045"), "{}", out.stderr);
    let e = mysql_async::Conn::new(common::app_opts(port))
        .await
        .expect_err("app user on the admin port")
        .to_string();
    assert!(e.contains("1045"), "{e}");
    // the admin user on the application port
    let out = cli_raw(router.port, "admin", "admin_pw", "SELECT 1").await;
    assert!(out.code != Some(0));
    assert!(out.stderr.contains("1045"), "{}", out.stderr);
    let e = mysql_async::Conn::new(admin_opts(router.port))
        .await
        .expect_err("admin user on the application port")
        .to_string();
    assert!(e.contains("1045"), "{e}");

    let mut admin = admin_conn(port).await;
    let msg = both_fail(port, &mut admin, "SHOW NONSENSE").await;
    assert!(msg.contains("accepted"), "{msg}");
    assert!(
        msg.contains("SHOW TOPOLOGY") && msg.contains("RELOAD CONFIG"),
        "{msg}"
    );
    let (code, _) = query_err(&mut admin, "FLUSH EVERYTHING").await;
    assert_eq!(code, 1064);

    let msg = both_fail(port, &mut admin, "SET SERVER 'x' sideways").await;
    assert!(
        msg.contains("usage") && msg.contains("OFFLINE | ONLINE | DRAIN"),
        "{msg}"
    );
    let msg = both_fail(port, &mut admin, "SET SERVER").await;
    assert!(msg.contains("usage"), "{msg}");
    let msg = both_fail(port, &mut admin, "SET SERVER '127.0.0.1:1' OFFLINE").await;
    assert!(msg.contains("no server '127.0.0.1:1'"), "{msg}");
    let msg = both_fail(port, &mut admin, &format!("REMOVE SERVER '{primary}'")).await;
    assert!(
        msg.contains("current primary") && msg.contains(&primary),
        "{msg}"
    );
    let msg = both_fail(port, &mut admin, "ADD SERVER").await;
    assert!(msg.contains("usage"), "{msg}");
    let msg = both_fail(port, &mut admin, "SHOW QUERY DIGEST LIMIT many").await;
    assert!(msg.contains("SHOW QUERY DIGEST [LIMIT <n>]"), "{msg}");
    let msg = both_fail(port, &mut admin, "TRUNCATE QUERY DIGEST NOW").await;
    assert!(msg.contains("usage"), "{msg}");
    let msg = both_fail(port, &mut admin, "SHOW 'unterminated").await;
    assert!(msg.contains("unterminated"), "{msg}");
    // the test router's config was built in memory: there is no file to re-read
    let msg = both_fail(port, &mut admin, "RELOAD CONFIG").await;
    assert!(msg.contains("test-router.toml"), "{msg}");
    assert!(msg.contains("running config stays"), "{msg}");
    // the connection still works after errors
    let (_, rows) = query(&mut admin, "SHOW SERVERS").await;
    assert_eq!(rows.len(), topo.addresses().len());
    admin.disconnect().await.unwrap();
    router.stop().await;
}

/// `/metrics` of a router, by plain HTTP.
async fn scrape(router: &common::Router) -> String {
    common::scrape_metrics(router).await
}

/// The value of a metric without labels.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// SHOW FAILOVERS starts empty; SET AUTOFAILOVER switches the mode seen in
/// SHOW AUTOFAILOVER and the metrics; SWITCHOVER and FAILOVER answer with
/// an ERR while no failover manager runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_commands() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = admin_port(&router);
    let mut admin = admin_conn(port).await;

    // the CLI prints nothing at all for an empty result in batch mode
    let out = cli_raw(port, "admin", "admin_pw", "SHOW FAILOVERS").await;
    out.assert_ok("SHOW FAILOVERS from the CLI");
    assert_eq!(out.stdout.trim(), "", "no failover yet");
    let (cols, rows) = query(&mut admin, "show failovers;").await;
    assert_eq!(cols, strs(FAILOVERS));
    assert!(rows.is_empty(), "{rows:?}");

    let auto = |rows: &Rows| rows[0][0].clone();
    let (_, rows) = query(&mut admin, "SHOW AUTOFAILOVER").await;
    assert_eq!(
        auto(&rows).as_deref(),
        Some("OFF"),
        "failover.enabled = false in tests sharing a sandbox"
    );
    admin.query_drop("SET AUTOFAILOVER = ON").await.unwrap();
    let (_, rows) = query(&mut admin, "SHOW AUTOFAILOVER").await;
    assert_eq!(auto(&rows).as_deref(), Some("ON"));
    assert_eq!(
        metric(&scrape(&router).await, "sqlyard_autofailover_enabled"),
        Some(1.0)
    );

    admin.query_drop("SET AUTOFAILOVER = OFF").await.unwrap();
    assert!(admin.info().contains("OFF"), "{}", admin.info());
    let (_, rows) = query(&mut admin, "SHOW AUTOFAILOVER").await;
    assert_eq!(auto(&rows).as_deref(), Some("OFF"));
    let m = scrape(&router).await;
    assert_eq!(metric(&m, "sqlyard_autofailover_enabled"), Some(0.0), "{m}");
    assert_eq!(metric(&m, "sqlyard_failover_in_progress"), Some(0.0));

    cli_raw(port, "admin", "admin_pw", "set autofailover=1")
        .await
        .assert_ok("SET AUTOFAILOVER from the CLI");
    assert!(router.server.ctx.failover.status().auto);
    assert_eq!(
        metric(&scrape(&router).await, "sqlyard_autofailover_enabled"),
        Some(1.0)
    );

    let msg = both_fail(port, &mut admin, "SET AUTOFAILOVER = sometimes").await;
    assert!(msg.contains("usage") && msg.contains("ON | OFF"), "{msg}");
    let msg = both_fail(port, &mut admin, "SWITCHOVER TO").await;
    assert!(msg.contains("SWITCHOVER [TO"), "{msg}");
    // A target that is not a configured server is refused before anything
    // changes (the shared sandbox keeps its primary).
    for sql in ["SWITCHOVER TO '127.0.0.1:1'", "FAILOVER TO '127.0.0.1:1'"] {
        let msg = both_fail(port, &mut admin, sql).await;
        assert!(
            msg.contains("not a configured server") || msg.contains("127.0.0.1:1"),
            "{sql}: {msg}"
        );
    }
    assert_eq!(
        topo.writable_nodes().await.unwrap(),
        vec![topo.primary_index()]
    );
    // nothing was journaled, and the connection still works
    let (_, rows) = query(&mut admin, "SHOW FAILOVERS").await;
    assert!(rows.is_empty());
    let (cols, rows) = query(&mut admin, "SHOW SERVERS").await;
    let primary = topo.addresses()[topo.primary_index()].clone();
    for r in &rows {
        assert_eq!(r[col(&cols, "alert")], None, "{r:?}");
        assert_eq!(r[col(&cols, "fenced")].as_deref(), Some("no"), "{r:?}");
        assert!(r[col(&cols, "detector")].is_some(), "{r:?}");
        if r[0].as_deref() != Some(primary.as_str()) {
            assert_eq!(r[col(&cols, "detector")].as_deref(), Some(""), "{r:?}");
        }
    }
    admin.disconnect().await.unwrap();
    router.stop().await;
}

/// A router started from a config file in a temporary directory.
async fn router_from_file(topo: &Topology, dir: &Path) -> (Server, std::path::PathBuf, u16) {
    let port = pick_free_port().unwrap();
    let admin = pick_free_port().unwrap();
    let metrics = pick_free_port().unwrap();
    let path = topo
        .write_router_config(&dir.join("sqlyard.toml"), port, admin, metrics)
        .unwrap();
    let config = Config::load(&path).unwrap();
    let server = Server::start(config).await.unwrap();
    assert!(server.wait_ready(Duration::from_secs(30)).await);
    (server, path, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_config_applies_a_valid_file_and_refuses_an_invalid_one() {
    let topo = common::topology().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, path, app_port) = router_from_file(topo, dir.path()).await;
    let port = server.admin_addr().port();
    let mut admin = admin_conn(port).await;
    let mut app = mysql_async::Conn::new(common::app_opts(app_port))
        .await
        .unwrap();
    app.query_drop("SELECT 1").await.unwrap();

    // unchanged file
    admin.query_drop("RELOAD CONFIG").await.unwrap();
    assert!(
        admin.info().starts_with("config reloaded"),
        "{}",
        admin.info()
    );
    cli_raw(port, "admin", "admin_pw", "reload config")
        .await
        .assert_ok("RELOAD CONFIG from the CLI");
    let (_, rows) = query(&mut admin, "SHOW CONFIG").await;
    assert!(rows.iter().any(|r| r[1].as_deref() == Some("file")
        && r[2].as_deref() == Some(path.display().to_string().as_str())));

    // a changed setting is applied
    let good = std::fs::read_to_string(&path).unwrap();
    let changed = format!("{good}\n[pool]\nmax_size = 7\n");
    std::fs::write(&path, &changed).unwrap();
    admin.query_drop("RELOAD CONFIG").await.unwrap();
    let (_, rows) = query(&mut admin, "SHOW CONFIG").await;
    let max_size = rows
        .iter()
        .find(|r| r[0].as_deref() == Some("pool") && r[1].as_deref() == Some("max_size"))
        .and_then(|r| r[2].clone());
    assert_eq!(max_size.as_deref(), Some("7"));

    // an invalid file: ERR with file, line and reason; nothing changes
    let lines = changed.lines().count();
    std::fs::write(&path, format!("{changed}\n[pool]\nmax_size = \"lots\"\n")).unwrap();
    let msg = both_fail(port, &mut admin, "RELOAD CONFIG").await;
    let file = path.display().to_string();
    assert!(msg.contains(&file), "{msg}");
    assert!(msg.contains("running config stays"), "{msg}");
    let line_mentioned = (lines..lines + 5).any(|l| msg.contains(&format!("{file}:{l}:")));
    assert!(line_mentioned, "a line number in {msg}");
    let (_, rows) = query(&mut admin, "SHOW CONFIG").await;
    assert!(rows.iter().any(|r| r[0].as_deref() == Some("pool")
        && r[1].as_deref() == Some("max_size")
        && r[2].as_deref() == Some("7")));
    // the application connection was not dropped
    app.query_drop("SELECT 2").await.unwrap();
    app.disconnect().await.unwrap();
    admin.disconnect().await.unwrap();
    server.shutdown().await;
}

fn short_primary_wait(t: &mut String) {
    *t = t.replacen("[router]\n", "[router]\nprimary_wait = \"700ms\"\n", 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_fails_app_queries_and_online_brings_them_back() {
    let topo = common::topology().await;
    let router = common::Router::start_with(topo, true, short_primary_wait).await;
    let port = admin_port(&router);
    let primary = topo.addresses()[topo.primary_index()].clone();
    let mut app = router.conn().await;
    app.query_drop("SELECT 1").await.unwrap();

    cli_raw(
        port,
        "admin",
        "admin_pw",
        &format!("set server '{primary}' offline"),
    )
    .await
    .assert_ok("SET SERVER OFFLINE from the CLI");
    let mut admin = admin_conn(port).await;
    let (cols, rows) = query(&mut admin, "SHOW SERVERS").await;
    let p = rows
        .iter()
        .find(|r| r[0].as_deref() == Some(primary.as_str()))
        .unwrap();
    assert_eq!(p[col(&cols, "state")].as_deref(), Some("offline"));
    let err = app
        .query_drop("SELECT 1")
        .await
        .expect_err("the only primary is offline")
        .to_string();
    assert!(err.contains("sqlyard"), "{err}");

    admin
        .query_drop(format!("SET SERVER '{primary}' ONLINE"))
        .await
        .unwrap();
    let mut app2 = router.conn().await;
    app2.query_drop("SELECT 1").await.unwrap();
    let one: Option<u8> = app2.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    admin.disconnect().await.unwrap();
    app2.disconnect().await.unwrap();
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_lets_a_transaction_finish_and_shows_it_pinned() {
    let topo = common::topology().await;
    let db = common::fresh_db(topo, "admin_drain").await;
    let router = common::Router::start_with(topo, true, short_primary_wait).await;
    let port = admin_port(&router);
    let primary = topo.addresses()[topo.primary_index()].clone();
    let mut inside = mysql_async::Conn::new(router.opts().db_name(Some(db.clone())))
        .await
        .unwrap();
    let mut other = mysql_async::Conn::new(router.opts().db_name(Some(db.clone())))
        .await
        .unwrap();
    inside
        .query_drop("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    inside.query_drop("BEGIN").await.unwrap();
    inside.query_drop("INSERT INTO t VALUES (1)").await.unwrap();

    // SHOW CLIENTS: the session in a transaction is pinned for that reason.
    // `other` ran only mysql_async's connect-time SELECT @@...: its session
    // keeps that connection for pool.linger (5 ms) after it, which a fast
    // run can still see, so wait until that has passed.
    let mut admin = admin_conn(port).await;
    let is_pinned =
        |cols: &[String], r: &[Option<String>]| r[col(cols, "pinned")].as_deref() == Some("yes");
    let t0 = Instant::now();
    let (cols, rows) = loop {
        let (cols, rows) = query(&mut admin, "SHOW CLIENTS").await;
        if rows.iter().filter(|r| is_pinned(&cols, r)).count() <= 1
            || t0.elapsed() > Duration::from_secs(2)
        {
            break (cols, rows);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(rows.len(), 2, "{rows:?}");
    let pinned: Vec<_> = rows.iter().filter(|r| is_pinned(&cols, r)).collect();
    assert_eq!(pinned.len(), 1, "{rows:?}");
    let reasons = pinned[0][col(&cols, "pin_reasons")]
        .clone()
        .unwrap_or_default();
    assert!(reasons.split(',').any(|r| r == "transaction"), "{reasons}");
    assert_eq!(pinned[0][col(&cols, "user")].as_deref(), Some("app"));
    assert_eq!(pinned[0][col(&cols, "state")].as_deref(), Some("idle"));
    assert!(rows.iter().all(|r| r[col(&cols, "client")]
        .as_deref()
        .is_some_and(|c| c.starts_with("127.0.0.1:"))));
    // the CLI shows it too
    let (h, rows) = cli_batch(port, "SHOW CLIENTS").await;
    let p = col(&h, "pin_reasons");
    assert!(
        rows.iter().any(|r| r[p].contains("transaction")),
        "{rows:?}"
    );

    admin
        .query_drop(format!("SET SERVER '{primary}' DRAIN"))
        .await
        .unwrap();
    // the transaction keeps its connection until COMMIT
    inside.query_drop("INSERT INTO t VALUES (2)").await.unwrap();
    let n: Option<u32> = inside.query_first("SELECT COUNT(*) FROM t").await.unwrap();
    assert_eq!(n, Some(2));
    // a session without a connection gets no new work on the draining server
    let err = other
        .query_drop("INSERT INTO t VALUES (3)")
        .await
        .expect_err("new work must not go to a draining server")
        .to_string();
    assert!(err.contains("sqlyard"), "{err}");
    inside.query_drop("COMMIT").await.unwrap();
    // after COMMIT (and the short linger for connection-scoped answers),
    // its next write is new work too (a read may go to a replica)
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(inside.query_drop("INSERT INTO t VALUES (4)").await.is_err());

    admin
        .query_drop(format!("SET SERVER '{primary}' ONLINE"))
        .await
        .unwrap();
    let mut check = common::direct(topo).await;
    let n: Option<u32> = check
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.t"))
        .await
        .unwrap();
    assert_eq!(
        n,
        Some(2),
        "the drained transaction committed; the refused insert did not run"
    );
    check.disconnect().await.unwrap();
    admin.disconnect().await.unwrap();
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_digest_counts_normalized_statements_and_truncates() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = admin_port(&router);
    let primary = topo.addresses()[topo.primary_index()].clone();
    let mut app = router.conn().await;
    for i in 0..7 {
        app.query_drop(format!(
            "select {i} as digest_marker, 'text {i}'  FROM dual WHERE {i} IN (1, 2, {i})"
        ))
        .await
        .unwrap();
    }
    let want = "SELECT ? AS digest_marker, ? FROM dual WHERE ? IN (?+)";
    let mut admin = admin_conn(port).await;
    let (cols, rows) = query(&mut admin, "SHOW QUERY DIGEST").await;
    let r = rows
        .iter()
        .find(|r| r[0].as_deref() == Some(want))
        .unwrap_or_else(|| panic!("{want} in {rows:?}"));
    assert_eq!(r[col(&cols, "count")].as_deref(), Some("7"));
    assert_eq!(r[col(&cols, "rows")].as_deref(), Some("7"));
    assert_eq!(r[col(&cols, "errors")].as_deref(), Some("0"));
    let routes = r[col(&cols, "routes")].clone().unwrap_or_default();
    assert!(
        routes.starts_with(&format!("{primary} primary (")),
        "{routes}"
    );
    // route reasons (pinned while a connection lingers, else the statement's own reason) add up
    let counted: u64 = routes
        .trim_end_matches(')')
        .split('(')
        .nth(1)
        .unwrap_or("")
        .split(", ")
        .filter_map(|p| p.split(": ").nth(1)?.parse::<u64>().ok())
        .sum();
    assert_eq!(counted, 7, "{routes}");
    // the CLI sees the same, and LIMIT bounds it
    let (h, rows) = cli_batch(port, "SHOW QUERY DIGEST").await;
    let c = col(&h, "count");
    assert!(rows.iter().any(|r| r[0] == want && r[c] == "7"), "{rows:?}");
    let (_, limited) = query(&mut admin, "SHOW QUERY DIGEST LIMIT 1").await;
    assert_eq!(limited.len(), 1);
    // errors are counted
    let _ = app
        .query_drop("SELECT * FROM no_such_db_x.no_such_table")
        .await;
    let (_, rows) = query(&mut admin, "SHOW QUERY DIGEST").await;
    let e = rows
        .iter()
        .find(|r| r[0].as_deref() == Some("SELECT * FROM no_such_db_x.no_such_table"))
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!(e[col(&cols, "errors")].as_deref(), Some("1"));

    admin.query_drop("TRUNCATE QUERY DIGEST").await.unwrap();
    assert!(admin.affected_rows() >= 2);
    let (_, rows) = query(&mut admin, "SHOW QUERY DIGEST").await;
    assert!(
        rows.iter().all(|r| r[0].as_deref() != Some(want)),
        "{rows:?}"
    );
    app.query_drop("SELECT 5 AS digest_marker, 'x' FROM dual WHERE 1 IN (1)")
        .await
        .unwrap();
    let (_, rows) = cli_batch(port, "SHOW QUERY DIGEST").await;
    assert!(rows.iter().any(|r| r[0] == want && r[1] == "1"), "{rows:?}");
    app.disconnect().await.unwrap();
    admin.disconnect().await.unwrap();
    router.stop().await;
}

/// `SHOW SERVERS` addresses of a router.
async fn server_addresses(port: u16) -> Vec<String> {
    let mut admin = admin_conn(port).await;
    let (_, rows) = query(&mut admin, "SHOW SERVERS").await;
    admin.disconnect().await.unwrap();
    rows.into_iter().filter_map(|r| r[0].clone()).collect()
}

/// Waits until SHOW SERVERS lists `addr` (or no longer does).
async fn wait_listed(port: u16, addr: &str, listed: bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while server_addresses(port).await.iter().any(|a| a == addr) != listed {
        assert!(
            std::time::Instant::now() < deadline,
            "{addr} listed = {listed} expected within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_and_remove_server_write_the_config_file() {
    let topo = common::topology().await;
    let dir = tempfile::tempdir().unwrap();
    let (server, path, _) = router_from_file(topo, dir.path()).await;
    let port = server.admin_addr().port();
    let replica = topo.addresses()[topo.replica_indexes()[0]].clone();
    let in_file = |addr: &str| {
        std::fs::read_to_string(&path)
            .unwrap()
            .contains(&format!("\"{addr}\""))
    };
    assert!(in_file(&replica));

    let mut admin = admin_conn(port).await;
    admin
        .query_drop(format!("REMOVE SERVER '{replica}'"))
        .await
        .unwrap();
    assert!(admin.info().contains(&replica), "{}", admin.info());
    assert!(!in_file(&replica));
    // gone from the topology at the monitor's next round
    wait_listed(port, &replica, false).await;
    let msg = both_fail(port, &mut admin, &format!("REMOVE SERVER '{replica}'")).await;
    assert!(msg.contains("no server"), "{msg}");

    cli_raw(
        port,
        "admin",
        "admin_pw",
        &format!("add server '{replica}'"),
    )
    .await
    .assert_ok("ADD SERVER from the CLI");
    assert!(in_file(&replica));
    wait_listed(port, &replica, true).await;
    let msg = both_fail(port, &mut admin, &format!("ADD SERVER '{replica}'")).await;
    assert!(msg.contains("configured already"), "{msg}");
    Config::load(&path).expect("the written file is a valid config");
    admin.disconnect().await.unwrap();
    server.shutdown().await;
}

/// Runs a client script against the admin port; returns its stdout.
async fn run_client(program: &str, script: &str, port: u16) -> String {
    let mut c = Command::new(program);
    c.arg(procs::client_script(script))
        .args(["127.0.0.1", &port.to_string(), "admin", "admin_pw"]);
    let out = run_async(c, LIMIT).await;
    out.assert_ok(&format!("{program} {script}"));
    out.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn php_mysqli_and_pymysql_run_show_servers() {
    assert!(
        procs::have(
            "php",
            &["-r", "exit(function_exists('mysqli_connect') ? 0 : 1);"]
        ),
        "php with mysqli is needed (Debian package php-mysql)"
    );
    assert!(
        procs::have("/usr/bin/python3", &["-c", "import pymysql"]),
        "/usr/bin/python3 with PyMySQL is needed (python3-pymysql)"
    );
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = admin_port(&router);
    let mut want: Vec<String> = topo.addresses();
    want.sort();
    for (program, script) in [
        ("php", "admin_mysqli.php"),
        ("/usr/bin/python3", "admin_pymysql.py"),
    ] {
        let out = run_client(program, script, port).await;
        let mut lines = out.lines();
        assert_eq!(
            lines.next(),
            Some("columns\taddress,server_id,role"),
            "{out}"
        );
        let mut got: Vec<String> = lines
            .filter_map(|l| l.strip_prefix("server\t"))
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect();
        got.sort();
        assert_eq!(got, want, "{script}: {out}");
        assert!(out.contains("\tprimary"), "{script}: {out}");
        assert!(out.ends_with("done\n"), "{script}: {out}");
    }
    router.stop().await;
}

/// The admin port has its own cap (`router.admin_max_connections`: one more
/// connection gets ERR 1040 instead of a greeting) and closes operator
/// connections idle for `router.admin_idle_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_port_caps_connections_and_closes_idle_ones() {
    let topo = common::topology().await;
    let router = common::Router::start_with_router_keys(
        topo,
        "admin_max_connections = 2\nadmin_idle_timeout = \"1s\"",
    )
    .await;
    let port = admin_port(&router);
    let mut a = admin_conn(port).await;
    let mut b = admin_conn(port).await;
    a.query_drop("SHOW SERVERS").await.unwrap();
    match mysql_async::Conn::new(admin_opts(port)).await {
        Err(mysql_async::Error::Server(e)) => {
            assert_eq!(e.code, 1040, "{e:?}");
            assert!(
                e.message.starts_with(
                    "sqlyard: too many admin connections (router.admin_max_connections = 2)"
                ),
                "{}",
                e.message
            );
        }
        Err(e) => panic!("expected ERR 1040, got {e}"),
        Ok(_) => panic!("a third admin connection was let in"),
    }
    // idle for longer than admin_idle_timeout: both are closed
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(
        a.query_drop("SHOW SERVERS").await.is_err(),
        "an idle admin connection was closed"
    );
    assert!(b.query_drop("SHOW SERVERS").await.is_err());
    let mut c = admin_conn(port).await;
    c.query_drop("SHOW SERVERS").await.unwrap();
    c.disconnect().await.ok();
    router.stop().await;
}
