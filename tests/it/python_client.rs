//! Python apps reach MySQL through PyMySQL (pure Python, text protocol,
//! client-side parameter interpolation). These tests run
//! tests/clients/pymysql_client.py with Debian's /usr/bin/python3 against
//! sqlyard and against the primary directly, and require the same answers
//! plus known expected values.
use crate::{common, procs};

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use sqlyard::sandbox::Topology;

const PYTHON: &str = "/usr/bin/python3";
const LIMIT: Duration = Duration::from_secs(40);

fn assert_pymysql() {
    assert!(
        procs::have(PYTHON, &["-c", "import pymysql"]),
        "{PYTHON} with PyMySQL is needed (Debian package python3-pymysql)"
    );
}

/// Output lines "key<TAB>json", in order.
fn parse_checks(stdout: &str) -> Vec<(String, String)> {
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

async fn run_script(port: u16, db: &str, section: &str) -> Vec<(String, String)> {
    let mut c = Command::new(PYTHON);
    c.arg(procs::client_script("pymysql_client.py"))
        .args(["127.0.0.1", &port.to_string(), "app", "app_pw", db, section])
        .env("PYTHONIOENCODING", "utf-8");
    let out = procs::run_async(c, LIMIT).await;
    out.assert_ok(&format!("pymysql_client.py {section} on port {port}"));
    let checks = parse_checks(&out.stdout);
    assert_eq!(
        checks.last().map(|(k, v)| (k.as_str(), v.as_str())),
        Some(("done", "true")),
        "the script ran to its end:\n{}",
        out.stdout
    );
    checks
}

/// Runs a section through the router and direct (each in a fresh
/// database); requires identical output; returns it as a map.
async fn same_via_router_and_direct(
    topo: &Topology,
    router_port: u16,
    section: &str,
) -> BTreeMap<String, String> {
    let via_db = common::fresh_db(topo, &format!("py_{section}_via")).await;
    let direct_db = common::fresh_db(topo, &format!("py_{section}_direct")).await;
    let via = run_script(router_port, &via_db, section).await;
    let direct = run_script(topo.primary().port(), &direct_db, section).await;
    for (i, (v, d)) in via.iter().zip(direct.iter()).enumerate() {
        assert_eq!(
            v, d,
            "line {i} of section {section}: through sqlyard vs direct"
        );
    }
    assert_eq!(via.len(), direct.len());
    via.into_iter().collect()
}

fn expect(checks: &BTreeMap<String, String>, key: &str, json: &str) {
    assert_eq!(
        checks.get(key).map(String::as_str),
        Some(json),
        "check {key}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_queries_params_transactions_unicode_match_direct() {
    assert_pymysql();
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let checks = same_via_router_and_direct(topo, router.port, "main").await;
    expect(
        &checks,
        "simple",
        r#"[[1, "two", null, "Decimal(3.5)", 100.0], ["one", "two", "nothing", "dec_val", "dbl"]]"#,
    );
    expect(&checks, "insert_3", "[1, 3]");
    expect(&checks, "named_params", r#"[["Ada"]]"#);
    expect(&checks, "in_list", "[1]");
    expect(&checks, "executemany_rows", "[200, 200]");
    expect(&checks, "executemany_update", "2");
    expect(
        &checks,
        "executemany_sum",
        r#"[200, "Decimal(19902)", "Decimal(4975.00)"]"#,
    );
    expect(&checks, "unicode_equal", "true");
    expect(&checks, "emoji_literal", r#"["🎉", 1]"#);
    expect(&checks, "after_rollback", "[0]");
    expect(&checks, "after_commit", "[1]");
    expect(&checks, "in_tx_sees_own_write", "[99]");
    expect(&checks, "after_tx_rollback", "[36]");
    expect(
        &checks,
        "error_missing_table",
        r#"[1146, "ProgrammingError"]"#,
    );
    expect(&checks, "error_duplicate", r#"[1062, "IntegrityError"]"#);
    expect(&checks, "error_syntax", "1064");
    expect(
        &checks,
        "session_vars",
        r#"["kept", "+05:30", "datetime(2024-01-01 05:30:00)"]"#,
    );
    expect(&checks, "streamed", "[5000, 15002500]");
    let all = checks.get("all_rows").unwrap();
    assert!(
        all.contains(r#""Bobby'); DROP TABLE py_people;--""#),
        "{all}"
    );
    assert!(all.contains("bytes(0001ff)"), "{all}");
    assert!(
        all.contains("datetime(2024-02-29 12:34:56.789012)"),
        "{all}"
    );
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pymysql_multi_statements_after_a_session_without_them() {
    assert_pymysql();
    let topo = common::topology().await;
    // One backend connection per pool: the second session surely reuses
    // the backend connection the first one left behind.
    let router = common::Router::start(topo, "[pool]\nmax_size = 1\n").await;
    let checks = same_via_router_and_direct(topo, router.port, "multi").await;
    expect(&checks, "plain_multi", "1064");
    expect(&checks, "multi_0", r#"[[[1]], [["b", 2]], []]"#);
    expect(&checks, "multi_1", r#"[[[1]], [["b", 2]], []]"#);
    expect(
        &checks,
        "multi_0_state",
        checks.get("multi_1_state").unwrap(),
    );
    router.stop().await;
}
