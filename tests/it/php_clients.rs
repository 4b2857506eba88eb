//! WordPress and most PHP apps talk to MySQL through mysqlnd, with PDO
//! (often with real server-side prepares) or mysqli. These tests run PHP
//! scripts (tests/clients/*.php) against sqlyard and against the primary
//! directly, and require the same answers, plus known expected values.
use crate::{common, procs};

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use sqlyard::sandbox::Topology;

const LIMIT: Duration = Duration::from_secs(40);

fn assert_php_mysql() {
    let out = procs::run(
        {
            let mut c = Command::new("php");
            c.arg("-m");
            c
        },
        Duration::from_secs(20),
    );
    out.assert_ok("php -m");
    let modules = out.stdout.to_lowercase();
    for m in ["pdo_mysql", "mysqli", "mysqlnd", "json"] {
        assert!(
            modules.lines().any(|l| l.trim() == m),
            "PHP module {m} is missing (Debian package php-mysql)"
        );
    }
}

/// Output lines "key<TAB>json", in order.
type Checks = Vec<(String, String)>;

fn parse_checks(stdout: &str) -> Checks {
    stdout
        .lines()
        .map(|l| {
            let (k, v) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("not a key<TAB>json line: {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Runs `script` against `port` using database `db`.
async fn run_php(script: &str, port: u16, db: &str) -> Checks {
    let mut c = Command::new("php");
    c.arg("-d")
        .arg("display_errors=stderr")
        .arg(procs::client_script(script))
        .args(["127.0.0.1", &port.to_string(), "app", "app_pw", db]);
    let out = procs::run_async(c, LIMIT).await;
    out.assert_ok(&format!("php {script} on port {port}"));
    assert!(out.stderr.is_empty(), "php warnings: {}", out.stderr);
    let checks = parse_checks(&out.stdout);
    assert_eq!(
        checks.last().map(|(k, v)| (k.as_str(), v.as_str())),
        Some(("done", "true")),
        "the script ran to its end:\n{}",
        out.stdout
    );
    checks
}

/// Runs `script` through the router and direct (each in its own fresh
/// database) and requires identical output; returns it as a map.
async fn same_via_router_and_direct(
    topo: &Topology,
    router_port: u16,
    script: &str,
    db_prefix: &str,
) -> BTreeMap<String, String> {
    let via_db = common::fresh_db(topo, &format!("{db_prefix}_via")).await;
    let direct_db = common::fresh_db(topo, &format!("{db_prefix}_direct")).await;
    let via = run_php(script, router_port, &via_db).await;
    let direct = run_php(script, topo.primary().port(), &direct_db).await;
    for (i, (v, d)) in via.iter().zip(direct.iter()).enumerate() {
        assert_eq!(v, d, "line {i} of {script}: through sqlyard vs direct");
    }
    assert_eq!(via.len(), direct.len());
    via.into_iter().collect()
}

/// A global status counter summed over the topology's servers (through
/// sqlyard, a statement may run on any of them).
async fn global_status(topo: &Topology, name: &str) -> u64 {
    let mut sum = 0;
    for node in topo.nodes() {
        let mut c = node.root_conn().await.unwrap();
        let v: Option<(String, u64)> = c
            .exec_first("SHOW GLOBAL STATUS WHERE Variable_name = ?", (name,))
            .await
            .unwrap();
        c.disconnect().await.unwrap();
        sum += v.map(|(_, n)| n).unwrap_or(0);
    }
    sum
}

fn expect(checks: &BTreeMap<String, String>, key: &str, json: &str) {
    assert_eq!(
        checks.get(key).map(String::as_str),
        Some(json),
        "check {key}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pdo_with_server_side_prepares_matches_direct() {
    assert_php_mysql();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let prepares_before = global_status(topo, "Com_stmt_prepare").await;
    let checks = same_via_router_and_direct(topo, router.port, "pdo_native.php", "php_pdo").await;
    let prepares_after = global_status(topo, "Com_stmt_prepare").await;
    // The script prepares > 60 statements per run, two runs: the servers saw
    // real COM_STMT_PREPAREs (no emulation anywhere on the way). Through
    // sqlyard a read is prepared where it runs, on a replica once sqlyard
    // has measured their lag, so every server counts.
    assert!(
        prepares_after - prepares_before >= 120,
        "Com_stmt_prepare rose by {} only",
        prepares_after - prepares_before
    );
    expect(&checks, "emulate_prepares", "0");
    expect(&checks, "insert_2.last_id", "\"3\"");
    expect(
        &checks,
        "unicode",
        r#"{"name":"naïve 日本 🎉","chars":10,"bytes":18}"#,
    );
    expect(
        &checks,
        "select_min1",
        r#"[{"id":1,"name":"apple","qty":5,"price":"1.25","ratio":0.5,"no_note":1,"raw_hex":"00FF","created":"2024-01-02 03:04:05"}]"#,
    );
    expect(
        &checks,
        "expr",
        r#"{"i":1,"d":"2.5","s":"x","n":null,"u":3,"f":1000.0}"#,
    );
    expect(&checks, "bad_sql", r#"["42000",1064]"#);
    expect(&checks, "duplicate", r#"["23000",1062]"#);
    expect(&checks, "after_rollback", "0");
    expect(&checks, "after_commit", "1");
    expect(&checks, "many_prepares_sum", "3540");
    expect(&checks, "interleaved", r#"["apple",-7]"#);
    expect(&checks, "big", "[2000,600000]");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysqli_matches_direct() {
    assert_php_mysql();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let checks = same_via_router_and_direct(topo, router.port, "mysqli.php", "php_mysqli").await;
    expect(&checks, "multi_row_insert", "[2,1]");
    expect(&checks, "escaped_insert_id", "3");
    expect(&checks, "last_insert_id_fn", r#"{"l":"3"}"#);
    expect(&checks, "prepared_inserts", "[[1,4],[1,5],[1,6]]");
    expect(&checks, "conn_insert_id_after_prepared", "6");
    expect(
        &checks,
        "prepared_select",
        r#"[{"id":4,"title":"prep one","views":10,"body":"x"},{"id":5,"title":"prep two 日本","views":20,"body":null}]"#,
    );
    expect(
        &checks,
        "long_data",
        r#"{"len":150000,"md5":"900150983cd24fb0d6963f7d28e17f72"}"#,
    );
    expect(
        &checks,
        "multi_query",
        r#"[[{"a":"1"}],[{"b":"two","c":null}],{"affected":1},[{"views":"100"}]]"#,
    );
    expect(
        &checks,
        "multi_query_error",
        r#"[[[{"first":"ok"}]],1146,"42S02"]"#,
    );
    expect(&checks, "after_multi_error", r#"{"x":"42"}"#);
    expect(&checks, "after_rollback", r#"{"n":"0"}"#);
    expect(&checks, "after_commit", r#"{"n":"1"}"#);
    expect(&checks, "in_tx_read_own_write", r#"{"views":"-99"}"#);
    expect(&checks, "after_rollback_update", r#"{"views":"1"}"#);
    expect(&checks, "session_state", r#"{"v":"17","s":"6"}"#);
    expect(&checks, "found_rows", r#"{"f":"7"}"#);
    expect(&checks, "after_change_user_var", r#"{"v":null}"#);
    expect(&checks, "after_change_user_tmp", "1146");
    expect(&checks, "kill", "true");
    expect(&checks, "killed_conn_query", "\"failed\"");
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn php_gets_access_denied_through_sqlyard() {
    assert_php_mysql();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let code = r#"
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        try { new mysqli('127.0.0.1', 'app', 'bad_pw', '', (int)$argv[1]); echo "connected\n"; }
        catch (mysqli_sql_exception $e) { echo $e->getCode(), ' ', $e->getSqlState(), ' ', $e->getMessage(), "\n"; }
        try { new PDO('mysql:host=127.0.0.1;port=' . $argv[1], 'app', 'bad_pw'); echo "connected\n"; }
        catch (PDOException $e) { echo $e->errorInfo[1] ?? $e->getCode(), ' ', $e->getMessage(), "\n"; }
    "#;
    let run = |port: u16| {
        let mut c = Command::new("php");
        c.arg("-r").arg(code).arg(port.to_string());
        procs::run_async(c, LIMIT)
    };
    let out = run(router.port).await;
    out.assert_ok("php access denied through sqlyard");
    let direct = run(topo.primary().port()).await;
    direct.assert_ok("php access denied direct");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    // mysqlnd reports SQLSTATE HY000 for every connect error, direct too.
    assert!(
        lines[0].starts_with("1045 HY000 sqlyard: Access denied for user 'app'"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("1045 "), "{}", lines[1]);
    // Apart from the prefix, the same as MariaDB says it.
    assert_eq!(out.stdout.replace("sqlyard: ", ""), direct.stdout);
    router.stop().await;
}

/// Connections the app user has opened to one node (`TOTAL_CONNECTIONS`
/// in USER_STATISTICS). Not the server's `Connections`: that also counts
/// sqlyard's monitor, which reconnects after a probe timed out (1 s), as it
/// can on a loaded machine.
async fn connections_of(node: &sqlyard::sandbox::Node) -> u64 {
    let n: Option<u64> = node
        .query_root_first(
            "SELECT TOTAL_CONNECTIONS FROM information_schema.USER_STATISTICS WHERE USER = 'app'",
        )
        .await
        .unwrap();
    n.unwrap_or(0)
}

/// The WordPress pattern, one connection per page: 4 PHP processes each
/// connect with a database, run one SELECT and disconnect, 150 times. Once
/// the pools are warm, the servers' own counters of the app user's
/// connections show that sqlyard opened (almost) no server connection for
/// these 600 client sessions: a new client session costs a local
/// handshake, not a server connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_per_page_opens_no_server_connection() {
    assert_php_mysql();
    let topo = common::start_topology(sqlyard::sandbox::SandboxOptions::default())
        .await
        .expect("sandbox");
    let router = common::Router::start(&topo, "").await;
    let run = |count: u32| {
        let port = router.port.to_string();
        async move {
            let mut runs = tokio::task::JoinSet::new();
            for _ in 0..4 {
                let mut c = Command::new("php");
                c.arg("-d")
                    .arg("display_errors=stderr")
                    .arg(procs::client_script("connect_per_page.php"))
                    .args([
                        "127.0.0.1",
                        &port,
                        "app",
                        "app_pw",
                        "sbtest",
                        &count.to_string(),
                    ]);
                runs.spawn(procs::run_async(c, LIMIT));
            }
            let mut ids = std::collections::BTreeSet::new();
            while let Some(out) = runs.join_next().await {
                let out = out.unwrap();
                out.assert_ok("php connect_per_page.php");
                assert!(out.stderr.is_empty(), "php warnings: {}", out.stderr);
                let checks = parse_checks(&out.stdout);
                assert_eq!(checks[0], ("sessions".to_string(), count.to_string()));
                let seen: Vec<u32> = serde_json::from_str(&checks[1].1).unwrap();
                ids.extend(seen);
            }
            ids
        }
    };
    // Warm the pools (and let sqlyard measure the replicas' lag, so that
    // reads spread as configured by default).
    run(10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    run(10).await;
    let mut before = Vec::new();
    for node in topo.nodes() {
        before.push(connections_of(node).await);
    }
    let ids = run(150).await;
    let sessions = 4 * 150;
    let mut opened = 0;
    for (node, b) in topo.nodes().iter().zip(&before) {
        let grew = connections_of(node).await - b;
        println!(
            "node {}: app connections +{grew} for {sessions} client sessions",
            node.index()
        );
        opened += grew;
    }
    assert!(
        opened * 100 <= sessions,
        "{opened} server connections opened for {sessions} client sessions (at most 1%)"
    );
    let replica_ids: Vec<u32> = topo
        .replica_indexes()
        .iter()
        .map(|&r| topo.node(r).unwrap().server_id())
        .collect();
    assert!(
        ids.iter().any(|id| replica_ids.contains(id)),
        "reads were spread to the replicas: {ids:?}"
    );
    router.stop().await;
    topo.stop().await.unwrap();
}
