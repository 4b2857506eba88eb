//! A read/write split is only worth having if a real application cannot
//! tell it is there. This test installs Debian's WordPress behind sqlyard,
//! serves it with `php -S`, and drives it like a person
//! (tests/clients/wordpress_e2e.py): web installer, login, publish a post,
//! edit it ten times, comment on it, and read every change back at once on
//! the public pages and in the admin lists. It requires that:
//! - no page was ever stale;
//! - the replicas served at least a third of the application user's
//!   SELECTs, counted by the servers themselves (USER_STATISTICS and the
//!   general log), never by sqlyard;
//! - no client session stayed pinned to its backend connection.
//!
//! It runs on a sandbox of its own: it turns the servers' general log on
//! and counts the application user's statements on them.
//!
//! With `SQLYARD_WORDPRESS_CORPUS=<file>` it also writes the distinct
//! statements WordPress sent (one per normalized form, blocks separated by
//! `;;` lines), which is how bench/corpus/wordpress-general-log.sql was made.
use crate::{common, procs};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sqlyard::router::digest::normalize;
use sqlyard::sandbox::{pick_free_port, Node, Topology};

const WORDPRESS: &str = "/usr/share/wordpress";
const THEME: &str = "wp-content/themes/twentytwentythree/theme.json";
/// Edit/read cycles the client runs (each: edit, read back, comment, read back).
const EDITS: usize = 10;
/// Share of the app's SELECTs the replicas must have served.
const MIN_REPLICA_SHARE: f64 = 1.0 / 3.0;
const CLIENT_LIMIT: Duration = Duration::from_secs(90);

/// Statements sqlyard itself sends on the app user's backend connections
/// (session setup, read-your-writes waits): not WordPress's.
const INTERNAL: &[&str] = &[
    "@@collation_connection",
    "session_track_",
    "MASTER_GTID_WAIT",
    "WAIT_FOR_EXECUTED_GTID_SET",
];

fn is_internal(sql: &str) -> bool {
    let upper = sql.to_ascii_uppercase();
    INTERNAL
        .iter()
        .any(|m| upper.contains(&m.to_ascii_uppercase()))
}

/// Whether `sql` is a SELECT (after leading blanks and comments).
fn is_select(sql: &str) -> bool {
    let mut s = sql.trim_start();
    while let Some(rest) = s.strip_prefix("/*") {
        match rest.find("*/") {
            Some(end) => s = rest[end + 2..].trim_start(),
            None => return false,
        }
    }
    s.get(..6).is_some_and(|w| w.eq_ignore_ascii_case("SELECT"))
        && s[6..].starts_with(|c: char| c.is_whitespace() || c == '(' || c == '@' || c == '*')
}

/// The WordPress tree, copied, with our own wp-config.php.
fn install_tree(dir: &Path, port: u16, db: &str) -> PathBuf {
    let root = dir.join("wordpress");
    let mut cp = Command::new("cp");
    cp.arg("-r").arg(WORDPRESS).arg(&root);
    procs::run(cp, Duration::from_secs(60)).assert_ok("copy WordPress");
    // Debian's theme package installs into /usr/share/wordpress/wp-content
    // (its /var/lib/wordpress/wp-content only links there), so the copy has it.
    assert!(
        root.join(THEME).exists(),
        "theme twentytwentythree missing (Debian package wordpress-theme-twentytwentythree)"
    );
    // Debian's wp-config.php reads /etc/wordpress/config-<host>.php and sets
    // WP_CONTENT_DIR to /var/lib/wordpress; replace it with a plain one.
    let config = format!(
        r#"<?php
// Written by tests/it/wordpress.rs: WordPress behind sqlyard.
define( 'DB_NAME', '{db}' );
define( 'DB_USER', 'app' );
define( 'DB_PASSWORD', 'app_pw' );
define( 'DB_HOST', '127.0.0.1:{port}' );
define( 'DB_CHARSET', 'utf8mb4' );
define( 'DB_COLLATE', '' );
define( 'AUTH_KEY', 'e2e-auth-key-{db}' );
define( 'SECURE_AUTH_KEY', 'e2e-secure-auth-key-{db}' );
define( 'LOGGED_IN_KEY', 'e2e-logged-in-key-{db}' );
define( 'NONCE_KEY', 'e2e-nonce-key-{db}' );
define( 'AUTH_SALT', 'e2e-auth-salt-{db}' );
define( 'SECURE_AUTH_SALT', 'e2e-secure-auth-salt-{db}' );
define( 'LOGGED_IN_SALT', 'e2e-logged-in-salt-{db}' );
define( 'NONCE_SALT', 'e2e-nonce-salt-{db}' );
$table_prefix = 'wp_';
define( 'WP_DEBUG', false );
// No background work: every query comes from a page the client asked for.
define( 'DISABLE_WP_CRON', true );
define( 'AUTOMATIC_UPDATER_DISABLED', true );
define( 'WP_HTTP_BLOCK_EXTERNAL', true );
if ( ! defined( 'ABSPATH' ) ) {{
	define( 'ABSPATH', __DIR__ . '/' );
}}
require_once ABSPATH . 'wp-settings.php';
"#
    );
    std::fs::write(root.join("wp-config.php"), config).unwrap();
    root
}

/// `php -S` serving `root` (killed when dropped).
fn serve(root: &Path, port: u16) -> procs::Running {
    let mut php = Command::new("php");
    php.arg("-S")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-t")
        .arg(root)
        .current_dir(root)
        // Without workers, WordPress's loopback requests deadlock.
        .env("PHP_CLI_SERVER_WORKERS", "4");
    let server = procs::Running::spawn(php);
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "php -S did not listen: {:?}",
            server.printed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// USER_STATISTICS Select_commands of the app user on `node` (SQLCOM_SELECT
/// statements only: SHOW and DESCRIBE are not counted).
async fn select_commands(node: &Node) -> u64 {
    let n: Option<u64> = node
        .query_root_first(
            "SELECT SELECT_COMMANDS FROM information_schema.USER_STATISTICS WHERE USER = 'app'",
        )
        .await
        .unwrap();
    n.unwrap_or(0)
}

/// A root session on `node` whose statements are not binlogged (so that a
/// TRUNCATE of the primary's general log never reaches the replicas').
async fn unlogged_root(node: &Node) -> mysql_async::Conn {
    let mut c = node.root_conn().await.unwrap();
    c.query_drop("SET SESSION sql_log_bin = 0").await.unwrap();
    c
}

/// Turns the general log on, into mysql.general_log, emptied first;
/// returns the settings to restore.
async fn general_log_on(node: &Node) -> (String, i64) {
    let mut c = unlogged_root(node).await;
    let before: Option<(String, i64)> = c
        .query_first("SELECT @@global.log_output, @@global.general_log")
        .await
        .unwrap();
    for sql in [
        "SET GLOBAL general_log = OFF",
        "SET GLOBAL log_output = 'TABLE'",
        "TRUNCATE TABLE mysql.general_log",
        "SET GLOBAL general_log = ON",
    ] {
        c.query_drop(sql).await.unwrap();
    }
    c.disconnect().await.unwrap();
    before.unwrap()
}

/// The app user's statements in the general log, in order; empties it and
/// restores the logging settings.
async fn general_log_off(node: &Node, (output, on): (String, i64)) -> Vec<String> {
    let mut c = unlogged_root(node).await;
    c.query_drop("SET GLOBAL general_log = OFF").await.unwrap();
    let rows: Vec<Vec<u8>> = c
        .query(
            "SELECT argument FROM mysql.general_log \
             WHERE user_host LIKE 'app[app]%' AND command_type = 'Query' ORDER BY event_time",
        )
        .await
        .unwrap();
    let on = if on == 1 { "ON" } else { "OFF" };
    for sql in [
        "TRUNCATE TABLE mysql.general_log".to_string(),
        format!("SET GLOBAL log_output = '{output}'"),
        format!("SET GLOBAL general_log = {on}"),
    ] {
        c.query_drop(sql).await.unwrap();
    }
    c.disconnect().await.unwrap();
    rows.into_iter()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

/// A pinned session in SHOW CLIENTS.
#[derive(Debug, Clone, PartialEq)]
struct Pinned {
    reasons: String,
    /// No statement in progress.
    idle: bool,
}

/// The pinned sessions in SHOW CLIENTS, by session id.
async fn pinned_sessions(admin: &mut mysql_async::Conn) -> BTreeMap<u64, Pinned> {
    let rows: Vec<mysql_async::Row> = admin.query("SHOW CLIENTS").await.unwrap();
    let mut pinned = BTreeMap::new();
    for row in rows {
        let id: u64 = row.get("id").unwrap();
        let is_pinned: String = row.get("pinned").unwrap();
        if is_pinned == "yes" {
            let reasons: Option<String> = row.get("pin_reasons").unwrap();
            let state: String = row.get("state").unwrap();
            pinned.insert(
                id,
                Pinned {
                    reasons: reasons.unwrap_or_default(),
                    idle: state == "idle",
                },
            );
        }
    }
    pinned
}

/// Finds sessions that stay pinned across SHOW CLIENTS samples.
/// - `transaction`: allowed (a transaction in progress keeps its connection);
/// - `connection_scoped_result`: set again by every statement, so it counts
///   only while the session is idle. After `SQL_CALC_FOUND_ROWS` or a
///   warning it is kept through idle time on purpose (for `FOUND_ROWS()` or
///   `SHOW WARNINGS` next), so a page that renders between two statements
///   keeps it: it must be gone by the [`SCOPED_RESULT_SAMPLES`]th sample
///   (about 2 s idle; CI once saw a page pause for 3 samples);
/// - any other reason must be gone by the next sample.
const SCOPED_RESULT_SAMPLES: usize = 8;

#[derive(Debug, Default)]
struct PinTracker {
    /// (session, reason) -> consecutive samples that counted it.
    streaks: BTreeMap<(u64, String), usize>,
    stuck: BTreeSet<String>,
}

impl PinTracker {
    fn sample(&mut self, now: &BTreeMap<u64, Pinned>) {
        let mut next = BTreeMap::new();
        for (id, p) in now {
            for reason in p.reasons.split(',').map(str::trim) {
                let limit = match reason {
                    "" | "transaction" => continue,
                    "connection_scoped_result" if !p.idle => continue,
                    "connection_scoped_result" => SCOPED_RESULT_SAMPLES,
                    _ => 2,
                };
                let key = (*id, reason.to_string());
                let n = self.streaks.get(&key).copied().unwrap_or(0) + 1;
                if n >= limit {
                    self.stuck.insert(format!("session {id}: {reason}"));
                }
                next.insert(key, n);
            }
        }
        self.streaks = next;
    }
}

/// The sum of `sqlyard_sessions_pinned` over its reasons, from /metrics.
fn sessions_pinned_metric(addr: std::net::SocketAddr) -> u64 {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("sqlyard_sessions_pinned{"))
        .collect();
    assert!(!lines.is_empty(), "no sqlyard_sessions_pinned in /metrics");
    lines
        .iter()
        .map(|l| {
            let v = l.rsplit(' ').next().unwrap();
            v.parse::<f64>().unwrap() as u64
        })
        .sum()
}

#[derive(Debug, Default)]
struct Counts {
    /// USER_STATISTICS Select_commands deltas, per node.
    user_stats: Vec<u64>,
    /// WordPress's SELECTs in the general log, per node.
    logged_selects: Vec<u64>,
    /// sqlyard's own statements on app connections, per node.
    internal: Vec<u64>,
}

fn replica_share(per_node: &[u64], primary: usize) -> (u64, u64, f64) {
    let total: u64 = per_node.iter().sum();
    let replicas = total - per_node[primary];
    let share = if total == 0 {
        0.0
    } else {
        replicas as f64 / total as f64
    };
    (replicas, total, share)
}

fn write_corpus(path: &Path, logs: &[Vec<String>]) {
    let mut seen = HashMap::new();
    let mut order = Vec::new();
    for sql in logs.iter().flatten() {
        if is_internal(sql) {
            continue;
        }
        let key = normalize(sql.as_bytes());
        if !seen.contains_key(&key) {
            seen.insert(key.clone(), sql.trim().to_string());
            order.push(key);
        }
    }
    let mut text = String::new();
    for key in &order {
        text.push_str(&seen[key]);
        text.push_str("\n;;\n");
    }
    std::fs::write(path, text).unwrap();
    eprintln!("wrote {} statements to {}", order.len(), path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wordpress_is_never_stale_and_reads_go_to_replicas() {
    assert!(
        Path::new(WORDPRESS).join("wp-settings.php").exists(),
        "Debian package wordpress is not installed"
    );
    assert!(procs::have("php", &["--version"]), "php is not installed");
    let own = common::own_topology().await;
    let topo: &Topology = &own;
    let router = common::Router::start(topo, "").await;
    let db = common::fresh_db(topo, &format!("wp_e2e_{}", std::process::id())).await;
    topo.wait_replicas_caught_up(Duration::from_secs(10))
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let root = install_tree(dir.path(), router.port, &db);
    let http_port = pick_free_port().unwrap();
    let php = serve(&root, http_port);

    let primary = topo.primary_index();
    let mut stats_before = Vec::new();
    let mut log_settings = Vec::new();
    for node in topo.nodes() {
        stats_before.push(select_commands(node).await);
        log_settings.push(general_log_on(node).await);
    }

    let mut client = Command::new("/usr/bin/python3");
    client
        .arg(procs::client_script("wordpress_e2e.py"))
        .arg(format!("http://127.0.0.1:{http_port}"))
        .arg(format!("t{}", std::process::id()))
        .arg(EDITS.to_string());
    let mut running = procs::Running::spawn(client);

    // Sample the sessions while WordPress works: a session may be pinned
    // for a moment (a statement's connection-scoped answers, a
    // transaction), never across samples for any other reason.
    let mut admin = mysql_async::Conn::new(
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(router.server.admin_addr().port())
            .user(Some("admin"))
            .pass(Some("admin_pw"))
            .prefer_socket(false),
    )
    .await
    .unwrap();
    let t0 = Instant::now();
    let mut samples = 0;
    let mut seen_pinned = 0;
    let mut reasons_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut pins = PinTracker::default();
    while !running.exited() && t0.elapsed() < CLIENT_LIMIT {
        let now = pinned_sessions(&mut admin).await;
        samples += 1;
        seen_pinned += now.len();
        for reason in now.values().flat_map(|p| p.reasons.split(',')) {
            *reasons_seen.entry(reason.trim().to_string()).or_default() += 1;
        }
        pins.sample(&now);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let out = tokio::task::spawn_blocking(move || running.wait(Duration::from_secs(5)))
        .await
        .unwrap();
    drop(php);
    out.assert_ok("wordpress_e2e.py");

    let mut counts = Counts::default();
    let mut logs = Vec::new();
    for (i, node) in topo.nodes().iter().enumerate() {
        counts
            .user_stats
            .push(select_commands(node).await - stats_before[i]);
        let log = general_log_off(node, log_settings[i].clone()).await;
        counts.logged_selects.push(
            log.iter()
                .filter(|s| is_select(s) && !is_internal(s))
                .count() as u64,
        );
        counts
            .internal
            .push(log.iter().filter(|s| is_internal(s)).count() as u64);
        logs.push(log);
    }
    if let Ok(path) = std::env::var("SQLYARD_WORDPRESS_CORPUS") {
        write_corpus(Path::new(&path), &logs);
    }

    // After the run, nothing stays pinned (the PHP connections are gone).
    let t1 = Instant::now();
    let mut left = pinned_sessions(&mut admin).await;
    while !left.is_empty() && t1.elapsed() < Duration::from_secs(3) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = pinned_sessions(&mut admin).await;
    }

    let pinned_metric = sessions_pinned_metric(router.server.metrics_addr());

    let value = |key: &str| -> String {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}\t")))
            .unwrap_or_else(|| panic!("{key} missing from the client's output:\n{}", out.stdout))
            .to_string()
    };
    let stale: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("check\tSTALE"))
        .collect();
    let checks_ok: usize = value("checks_ok").parse().unwrap();
    let (us_replicas, us_total, us_share) = replica_share(&counts.user_stats, primary);
    let (log_replicas, log_total, log_share) = replica_share(&counts.logged_selects, primary);
    eprintln!(
        "wordpress e2e: {} requests in {} s, {checks_ok} read-backs fresh, {} stale",
        value("requests"),
        value("seconds"),
        stale.len()
    );
    eprintln!(
        "  USER_STATISTICS Select_commands of app per node (primary = {primary}): {:?}; replicas {us_replicas}/{us_total} = {:.1}%",
        counts.user_stats,
        us_share * 100.0
    );
    eprintln!(
        "  general log, WordPress SELECTs per node: {:?}; replicas {log_replicas}/{log_total} = {:.1}%; sqlyard's own statements per node: {:?}",
        counts.logged_selects,
        log_share * 100.0,
        counts.internal
    );
    eprintln!(
        "  SHOW CLIENTS: {samples} samples, {seen_pinned} pinned sessions seen, {} pinned across samples, {} pinned at the end",
        pins.stuck.len(),
        left.len()
    );
    eprintln!("  pin reasons seen in samples: {reasons_seen:?}; sqlyard_sessions_pinned at the end: {pinned_metric}");

    assert_eq!(value("done"), "true");
    assert!(stale.is_empty(), "stale pages:\n{}", stale.join("\n"));
    // 4 read-backs after publishing, 6 per edit cycle, 5 at the end.
    assert_eq!(checks_ok, 4 + 6 * EDITS + 5, "{}", out.stdout);
    assert!(log_total > 500, "too few SELECTs logged: {log_total}");
    assert!(
        us_share >= MIN_REPLICA_SHARE,
        "replicas served {us_replicas} of {us_total} app SELECTs (USER_STATISTICS)"
    );
    assert!(
        log_share >= MIN_REPLICA_SHARE,
        "replicas served {log_replicas} of {log_total} WordPress SELECTs (general log)"
    );
    assert!(samples >= 3, "only {samples} SHOW CLIENTS samples");
    assert!(
        pins.stuck.is_empty(),
        "sessions stayed pinned: {:?}",
        pins.stuck
    );
    assert!(left.is_empty(), "sessions pinned after the run: {left:?}");
    assert_eq!(pinned_metric, 0, "sqlyard_sessions_pinned after the run");

    let mut c = common::direct(topo).await;
    c.query_drop(format!("DROP DATABASE `{db}`")).await.unwrap();
    router.stop().await;
}

#[test]
fn statement_kinds_are_recognized() {
    assert!(is_select("SELECT 1"));
    assert!(is_select("  /* x */ select\n* from t"));
    assert!(is_select("SELECT(1)"));
    assert!(!is_select("SELECTED"));
    assert!(!is_select("SHOW TABLES"));
    assert!(!is_select("UPDATE t SET a = (SELECT 1)"));
    assert!(is_internal("SELECT @@collation_connection"));
    assert!(is_internal("SELECT master_gtid_wait('0-1-5', 1)"));
    assert!(!is_internal("SELECT @@SESSION.sql_mode"));
    let sample = |pairs: &[(u64, &str, bool)]| -> BTreeMap<u64, Pinned> {
        pairs
            .iter()
            .map(|(id, r, idle)| {
                (
                    *id,
                    Pinned {
                        reasons: r.to_string(),
                        idle: *idle,
                    },
                )
            })
            .collect()
    };
    let mut t = PinTracker::default();
    for _ in 0..5 {
        t.sample(&sample(&[
            (1, "transaction", true),
            (2, "connection_scoped_result", false),
        ]));
    }
    assert!(t.stuck.is_empty(), "{:?}", t.stuck);
    for _ in 1..SCOPED_RESULT_SAMPLES {
        t.sample(&sample(&[(3, "connection_scoped_result", true)]));
    }
    assert!(t.stuck.is_empty());
    t.sample(&sample(&[(3, "connection_scoped_result", true)]));
    assert_eq!(t.stuck.len(), 1);
    let mut t = PinTracker::default();
    t.sample(&sample(&[(4, "transaction,unknown_state", false)]));
    t.sample(&sample(&[(5, "unknown_state", false)]));
    assert!(t.stuck.is_empty(), "different sessions");
    t.sample(&sample(&[(5, "temporary_table", false)]));
    assert!(t.stuck.is_empty(), "different reasons");
    t.sample(&sample(&[(5, "temporary_table", false)]));
    assert_eq!(
        t.stuck,
        BTreeSet::from(["session 5: temporary_table".to_string()])
    );
    assert_eq!(replica_share(&[10, 15, 5], 0), (20, 30, 20.0 / 30.0));
}
