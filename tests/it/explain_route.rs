//! Operators ask `EXPLAIN ROUTE '<sql>'` on the admin port why a statement
//! runs where it does. These tests send it from the real `mariadb` CLI and
//! from mysql_async to a router in front of the real sandbox topology and
//! check the classification, the route and its reason, the replica
//! verdicts taken from the running topology (an operator's OFFLINE shows),
//! the running `routing.read_write_split`, and the usage errors.
use crate::{common, procs};

use std::process::Command;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::Value;
use procs::run_async;

const LIMIT: Duration = Duration::from_secs(30);

fn admin_cli(port: u16) -> Command {
    procs::mariadb_as(port, "admin", "admin_pw")
}

/// `EXPLAIN ROUTE` through the CLI in batch mode: (header, field/value pairs).
async fn cli_explain(port: u16, sql: &str) -> (Vec<String>, Vec<(String, String)>) {
    let (header, rows) = procs::batch(admin_cli(port), sql, LIMIT).await;
    let pairs = rows
        .into_iter()
        .map(|mut r| {
            let field = if r.is_empty() {
                String::new()
            } else {
                r.remove(0)
            };
            (field, r.join("\t"))
        })
        .collect();
    (header, pairs)
}

fn text(v: &Value) -> String {
    match v {
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::NULL => "NULL".to_string(),
        other => other.as_sql(true),
    }
}

/// `EXPLAIN ROUTE` through mysql_async: (column names, field/value pairs).
async fn explain(c: &mut mysql_async::Conn, sql: &str) -> (Vec<String>, Vec<(String, String)>) {
    let mut result = c
        .query_iter(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let cols = result
        .columns_ref()
        .iter()
        .map(|c| c.name_str().into_owned())
        .collect();
    let rows: Vec<mysql_async::Row> = result.collect().await.unwrap();
    let rows = rows
        .iter()
        .map(|r| {
            (
                r.as_ref(0).map(text).unwrap_or_default(),
                r.as_ref(1).map(text).unwrap_or_default(),
            )
        })
        .collect();
    (cols, rows)
}

fn get(rows: &[(String, String)], field: &str) -> String {
    rows.iter()
        .find(|(f, _)| f == field)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {field} in {rows:?}"))
}

fn admin_opts(port: u16) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("admin"))
        .pass(Some("admin_pw"))
        .prefer_socket(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_route_from_the_cli_and_mysql_async() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let port = router.server.admin_addr().port();
    let primary = topo.addresses()[topo.primary_index()].clone();
    let replicas: Vec<String> = topo
        .addresses()
        .into_iter()
        .filter(|a| *a != primary)
        .collect();
    assert!(!replicas.is_empty(), "the sandbox has replicas");

    // a read, with a keyword inside a string: the CLI
    let (header, rows) = cli_explain(
        port,
        "EXPLAIN ROUTE 'SELECT SQL_CALC_FOUND_ROWS * FROM t WHERE a = ''FOR UPDATE'''",
    )
    .await;
    assert_eq!(header, ["field", "value"]);
    assert_eq!(
        get(&rows, "statement"),
        "SELECT SQL_CALC_FOUND_ROWS * FROM t WHERE a = 'FOR UPDATE'"
    );
    assert_eq!(get(&rows, "kind"), "read");
    assert_eq!(get(&rows, "decided_by"), "fast path");
    assert_eq!(get(&rows, "hint"), "none");
    assert_eq!(get(&rows, "effects"), "SQL_CALC_FOUND_ROWS");
    assert_eq!(get(&rows, "read_write_split"), "on");
    assert_eq!(get(&rows, "target"), "replica");
    assert_eq!(get(&rows, "reason"), "read");
    assert_eq!(get(&rows, "primary_reads"), "fallback");
    for r in &replicas {
        let v = get(&rows, &format!("replica {r}"));
        assert!(
            v.starts_with("eligible (") || v.starts_with("ineligible: "),
            "{r}: {v}"
        );
    }
    assert!(
        rows.iter().all(|(f, _)| *f != format!("replica {primary}")),
        "the primary is no replica candidate: {rows:?}"
    );

    // mysql_async: writes, locking reads, user variables, hints, fallback
    let mut admin = mysql_async::Conn::new(admin_opts(port)).await.unwrap();
    let cases = [
        ("INSERT INTO t VALUES (1)", "write", "primary", "write"),
        ("SELECT 1; UPDATE t SET a = 2", "write", "primary", "write"),
        (
            "select * from t for update skip locked",
            "locking_read",
            "primary",
            "locking_read",
        ),
        (
            "SELECT GET_LOCK(''a'', 1)",
            "side_effects",
            "primary",
            "side_effects",
        ),
        (
            "SET @a = 1",
            "user_variable_assignment",
            "primary",
            "user_variables",
        ),
        (
            "SELECT FOUND_ROWS()",
            "connection_scoped",
            "primary",
            "connection_scoped",
        ),
        ("SET NAMES utf8mb4", "session", "primary", "session"),
        (
            "START TRANSACTION READ ONLY",
            "read_only_transaction",
            "replica",
            "read_only_transaction",
        ),
        (
            "/* sqlyard:primary */ SELECT 1",
            "read",
            "primary",
            "hint_primary",
        ),
        ("FROBNICATE t", "unparsed", "primary", "unparsed"),
    ];
    for (sql, kind, target, reason) in cases {
        let (cols, rows) = explain(&mut admin, &format!("EXPLAIN ROUTE '{sql}'")).await;
        assert_eq!(cols, ["field", "value"]);
        assert_eq!(get(&rows, "kind"), kind, "{sql}: {rows:?}");
        assert_eq!(get(&rows, "target"), target, "{sql}: {rows:?}");
        assert_eq!(get(&rows, "reason"), reason, "{sql}: {rows:?}");
        let has_candidates = rows.iter().any(|(f, _)| f.starts_with("replica "));
        assert_eq!(has_candidates, target == "replica", "{sql}: {rows:?}");
    }
    let (_, rows) = explain(&mut admin, "EXPLAIN ROUTE \"SELECT @x := 1, @Y := 2\"").await;
    assert_eq!(get(&rows, "effects"), "assigns @x, @y");
    let (_, rows) = explain(&mut admin, "explain route '(SELECT 1) UNION (SELECT 2)'").await;
    assert_eq!(get(&rows, "decided_by"), "sqlparser");
    assert_eq!(get(&rows, "target"), "replica");

    // the verdicts come from the running topology
    admin
        .query_drop(format!("SET SERVER '{}' OFFLINE", replicas[0]))
        .await
        .unwrap();
    let (_, rows) = explain(&mut admin, "EXPLAIN ROUTE 'SELECT 1'").await;
    assert_eq!(
        get(&rows, &format!("replica {}", replicas[0])),
        "ineligible: set OFFLINE by an operator"
    );
    admin
        .query_drop(format!("SET SERVER '{}' ONLINE", replicas[0]))
        .await
        .unwrap();

    // usage errors, from both clients
    for sql in [
        "EXPLAIN ROUTE",
        "EXPLAIN ROUTE 42",
        "EXPLAIN ROUTE ''",
        "EXPLAIN ROUTE 'SELECT 1' 'SELECT 2'",
        "EXPLAIN ROUTE SELECT 1",
    ] {
        let mut c = admin_cli(port);
        c.args(["--batch", "-e", sql]);
        let out = run_async(c, LIMIT).await;
        assert!(out.code != Some(0), "{sql} succeeded in the CLI");
        assert!(
            out.stderr.contains("sqlyard:") && out.stderr.contains("EXPLAIN ROUTE '<sql>'"),
            "{sql}: {}",
            out.stderr
        );
        match admin.query_drop(sql).await {
            Err(mysql_async::Error::Server(e)) => {
                assert_eq!(e.code, 1064, "{sql}");
                assert!(
                    e.message.starts_with("sqlyard:") && e.message.contains("usage"),
                    "{sql}: {}",
                    e.message
                );
            }
            other => panic!("{sql}: expected a server error, got {other:?}"),
        }
    }
    drop(admin);
    router.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_route_follows_the_running_split_setting() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "[routing]\nread_write_split = false\n").await;
    let port = router.server.admin_addr().port();
    let (_, rows) = cli_explain(port, "EXPLAIN ROUTE 'SELECT * FROM t'").await;
    assert_eq!(get(&rows, "read_write_split"), "off");
    assert_eq!(get(&rows, "kind"), "read");
    assert_eq!(get(&rows, "target"), "primary");
    assert_eq!(get(&rows, "reason"), "split_disabled");
    router.stop().await;
}
