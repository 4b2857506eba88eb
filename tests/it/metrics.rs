//! The Prometheus endpoint of a real router in front of the sandbox
//! topology: `/metrics` passes `promtool check metrics` and its counters
//! move when queries run through the router; `/healthz`, `/readyz` and 404
//! answer as documented; the shipped Prometheus config and Grafana
//! dashboard are valid and use only metric names the router exports.
use crate::common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use mysql_async::prelude::*;
use sqlyard::sandbox::SandboxOptions;
use sqlyard::topology::AdminState;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP answer.
struct Http {
    status: u16,
    headers: String,
    body: String,
}

/// A plain HTTP/1.1 GET.
async fn get(addr: SocketAddr, path: &str) -> Http {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    Http {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

/// Runs promtool with `args` and `stdin`; None when promtool is missing.
fn promtool(args: &[&str], stdin: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED promtool check: promtool is not installed (CI installs it)");
        return None;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), text))
}

/// The sum of the samples of `name` whose labels include all of `labels`
/// (each written `key="value"`); 0 when there is none.
fn sample(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter(|l| labels.iter().all(|lb| l.contains(lb)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The metric names a scrape exports (sample names, so histograms give
/// their `_bucket`, `_sum` and `_count` series).
fn names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrape_passes_promtool_and_counters_move() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let addr = router.server.metrics_addr();
    let primary = format!("server=\"{}\"", topo.primary().address());

    let before = get(addr, "/metrics").await;
    assert_eq!(before.status, 200);
    assert!(
        before
            .headers
            .contains("content-type: text/plain; version=0.0.4"),
        "{}",
        before.headers
    );
    let mut c = router.conn().await;
    for i in 0..10 {
        let v: Option<i64> = c.query_first(format!("SELECT {i}")).await.unwrap();
        assert_eq!(v, Some(i));
    }
    let err = c.query_drop("SELECT * FROM no_such_db.no_such_table").await;
    assert!(err.is_err());
    let during = get(addr, "/metrics").await.body;
    drop(c);
    let after = get(addr, "/metrics").await.body;

    if let Some((ok, out)) = promtool(&["check", "metrics"], &after) {
        assert!(ok, "promtool rejected /metrics: {out}\n{after}");
    }
    let b = &before.body;
    // any route reason: after the first statement the session keeps its
    // connection for the next one (route_reason="pinned")
    let queries = |t: &str| sample(t, "sqlyard_queries_total", &[&primary, "role=\"primary\""]);
    assert!(
        queries(&after) >= queries(b) + 10.0,
        "queries_total for the primary did not move:\n{after}"
    );
    let count = |t: &str| {
        sample(
            t,
            "sqlyard_query_duration_seconds_count",
            &["role=\"primary\""],
        )
    };
    assert!(count(&after) >= count(b) + 11.0, "{after}");
    assert!(
        sample(&after, "sqlyard_query_errors_total", &[&primary])
            >= sample(b, "sqlyard_query_errors_total", &[&primary]) + 1.0
    );
    for name in [
        "sqlyard_client_bytes_received_total",
        "sqlyard_client_bytes_sent_total",
        "sqlyard_client_connections_accepted_total",
    ] {
        assert!(
            sample(&after, name, &[]) > sample(b, name, &[]),
            "{name} did not move"
        );
    }
    assert!(sample(&during, "sqlyard_client_connections_active", &[]) >= 1.0);
    let conns = |state: &str| {
        sample(
            &during,
            "sqlyard_backend_connections",
            &[&primary, &format!("state=\"{state}\"")],
        )
    };
    assert!(
        conns("in_use") + conns("idle") >= 1.0,
        "no backend connection to the primary:\n{during}"
    );
    assert_eq!(
        sample(
            &after,
            "sqlyard_server_role",
            &[&primary, "role=\"primary\""]
        ),
        1.0
    );
    assert_eq!(sample(&after, "sqlyard_server_up", &[&primary]), 1.0);
    // failover state: off on the shared test sandbox (many routers watch
    // it), nothing running, no failover yet
    assert_eq!(sample(&after, "sqlyard_autofailover_enabled", &[]), 0.0);
    assert_eq!(sample(&after, "sqlyard_failover_in_progress", &[]), 0.0);
    let exported = names(&after);
    for name in [
        "sqlyard_failovers_total",
        "sqlyard_failover_detection_seconds_bucket",
        "sqlyard_failover_duration_seconds_bucket",
        "sqlyard_primary_lost_unconfirmed_total",
        "sqlyard_failover_alerts",
        "sqlyard_quarantined_servers",
    ] {
        assert!(exported.contains(name), "{name} not exported:\n{after}");
    }
    assert_eq!(sample(&after, "sqlyard_failovers_total", &[]), 0.0);
    assert!(exported.contains("sqlyard_primary_semi_sync"));
    assert_eq!(
        sample(&after, "sqlyard_primary_semi_sync", &[]),
        0.0,
        "the shared sandbox runs without semi-sync"
    );
    for replica in topo
        .addresses()
        .iter()
        .filter(|a| **a != topo.primary().address())
    {
        let r = format!("server=\"{replica}\"");
        assert_eq!(
            sample(&after, "sqlyard_server_role", &[&r, "role=\"replica\""]),
            1.0
        );
        assert_eq!(
            sample(
                &after,
                "sqlyard_replication_threads_running",
                &[&r, "thread=\"sql\""]
            ),
            1.0
        );
    }
    router.stop().await;
}

/// Waits until `name` (no labels) has `value` in a scrape.
async fn wait_sample(addr: SocketAddr, name: &str, value: f64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let body = get(addr, "/metrics").await.body;
        if sample(&body, name, &[]) == value {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never became {value}:\n{body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semi_sync_on_the_primary_is_exported() {
    let topo = common::start_topology(SandboxOptions {
        replicas: 1,
        semi_sync: true,
        semi_sync_timeout_ms: 30_000,
        ..SandboxOptions::default()
    })
    .await
    .unwrap();
    let router = common::Router::start(&topo, "").await;
    let addr = router.server.metrics_addr();
    wait_sample(addr, "sqlyard_primary_semi_sync", 1.0).await;
    topo.primary()
        .exec_root("SET GLOBAL rpl_semi_sync_master_enabled = OFF")
        .await
        .unwrap();
    wait_sample(addr, "sqlyard_primary_semi_sync", 0.0).await;
    router.stop().await;
    topo.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_unknown_paths() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let addr = router.server.metrics_addr();

    let h = get(addr, "/healthz").await;
    assert_eq!((h.status, h.body.trim()), (200, "ok"));
    let r = get(addr, "/readyz").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(get(addr, "/nope").await.status, 404);
    assert_eq!(get(addr, "/metrics/extra").await.status, 404);

    let primary = topo.primary().address();
    router
        .server
        .control
        .set_server_state(&primary, AdminState::Offline)
        .unwrap();
    let r = get(addr, "/readyz").await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("primary"), "reason missing: {}", r.body);
    assert_eq!(get(addr, "/healthz").await.status, 200);
    let m = get(addr, "/metrics").await.body;
    assert_eq!(
        sample(
            &m,
            "sqlyard_server_admin_state",
            &[&format!("server=\"{primary}\""), "state=\"offline\""]
        ),
        1.0
    );
    router
        .server
        .control
        .set_server_state(&primary, AdminState::Online)
        .unwrap();
    assert_eq!(get(addr, "/readyz").await.status, 200);
    router.stop().await;
}

#[test]
fn example_prometheus_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus/prometheus.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("127.0.0.1:9033"));
    let path = path.to_string_lossy().to_string();
    if let Some((ok, out)) = promtool(&["check", "config", &path], "") {
        assert!(ok, "promtool check config failed: {out}");
    }
}

/// A scrape of a real router in cluster mode (one etcd member), taken once
/// replica lag was measured and every name of `wanted` is exported (or
/// after 15 s, whatever it has then).
async fn cluster_router_scrape(wanted: &BTreeSet<String>) -> String {
    let etcd = crate::etcd::EtcdCluster::start(1).await;
    let endpoints: Vec<String> = etcd
        .endpoints()
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect();
    // (the sandbox's router config has [backup], so the backup metrics are there)
    let extra = format!(
        "[cluster]\netcd_endpoints = [{}]\nname = \"scrape\"\ninstance = \"a\"\n",
        endpoints.join(", ")
    );
    let topo = common::topology().await;
    let router = common::Router::start(topo, &extra).await;
    let mut c = router.conn().await;
    c.query_drop("SELECT 1").await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let scrape = loop {
        let scrape = get(router.server.metrics_addr(), "/metrics").await.body;
        let exported = names(&scrape);
        let lag = scrape.contains("sqlyard_replication_lag_seconds{");
        if (lag && wanted.iter().all(|u| exported.contains(u)))
            || std::time::Instant::now() >= deadline
        {
            break scrape;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    drop(c);
    router.stop().await;
    scrape
}

/// The alert rules pass `promtool check rules`, and their unit tests
/// (`alerts_test.yml`: each alert fires when it should and stays quiet in
/// the look-alike case) pass `promtool test rules`.
#[test]
fn alert_rules_are_valid_and_their_tests_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus");
    let rules = dir.join("alerts.yml").to_string_lossy().to_string();
    let tests = dir.join("alerts_test.yml").to_string_lossy().to_string();
    if let Some((ok, out)) = promtool(&["check", "rules", &rules], "") {
        assert!(ok, "promtool check rules failed: {out}");
        assert!(out.contains("14 rules found"), "{out}");
    }
    if let Some((ok, out)) = promtool(&["test", "rules", &tests], "") {
        assert!(ok, "promtool test rules failed: {out}");
    }
}

/// Every sqlyard metric the alert rules use is exported by a real router
/// (in cluster mode, so the etcd and leader series exist too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_use_only_exported_metrics() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/prometheus/alerts.yml");
    let text = std::fs::read_to_string(path).unwrap();
    // the `expr:` of each rule, up to its next key
    let mut used = BTreeSet::new();
    let mut in_expr = false;
    for line in text.lines().map(str::trim_start) {
        if line.starts_with("expr:") {
            in_expr = true;
        } else if ["for:", "labels:", "annotations:", "- alert:"]
            .iter()
            .any(|k| line.starts_with(k))
        {
            in_expr = false;
        }
        if in_expr {
            used.extend(metric_names(line));
        }
    }
    assert!(used.len() >= 12, "too few metrics: {used:?}");
    let scrape = cluster_router_scrape(&used).await;
    let exported = names(&scrape);
    let missing: Vec<_> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "alerts use metrics the router does not export: {missing:?}"
    );
    assert_eq!(
        sample(&scrape, "sqlyard_cluster_leader", &[]),
        1.0,
        "it leads"
    );
    assert_eq!(sample(&scrape, "sqlyard_writes_held", &[]), 0.0);
    assert!(
        sample(&scrape, "sqlyard_replication_lag_limit_seconds", &[]) > 0.0,
        "the replicas' lag limits"
    );
}

/// Every `expr` string (and template query) in a Grafana dashboard.
fn expressions(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => expressions(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| expressions(v, out)),
        _ => {}
    }
}

/// The `sqlyard_*` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("sqlyard_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_uses_only_exported_metrics() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/grafana/sqlyard-dashboard.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    expressions(&dash, &mut exprs);
    assert!(exprs.len() >= 10, "too few expressions: {exprs:?}");

    let mut used = BTreeSet::new();
    for e in &exprs {
        used.extend(metric_names(e));
    }
    // in cluster mode, so the cluster panels' series exist too
    let scrape = cluster_router_scrape(&used).await;
    assert!(
        scrape.contains("sqlyard_replication_lag_seconds{"),
        "lag exported"
    );
    let exported = names(&scrape);
    for needed in [
        "sqlyard_queries_total",
        "sqlyard_query_duration_seconds_bucket",
        "sqlyard_server_role",
        "sqlyard_replication_seconds_behind_master",
        "sqlyard_client_connections_active",
        "sqlyard_backend_connections",
        "sqlyard_failovers_total",
        "sqlyard_writes_held",
        "sqlyard_cluster_leader",
        "sqlyard_cluster_etcd_up",
    ] {
        assert!(used.contains(needed), "dashboard lacks {needed}");
    }
    let missing: Vec<_> = used.difference(&exported).collect();
    assert!(
        missing.is_empty(),
        "dashboard uses metrics the router does not export: {missing:?}"
    );

    // Each expression parses as PromQL: promtool checks them as recording rules.
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs
        .iter()
        .filter(|e| !e.starts_with("label_values("))
        .enumerate()
    {
        let e = e
            .replace("$__rate_interval", "1m")
            .replace("$__range", "1h")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: '{}'\n",
            e.replace('\'', "''")
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let file = file.to_string_lossy().to_string();
    if let Some((ok, out)) = promtool(&["check", "rules", &file], "") {
        assert!(
            ok,
            "a dashboard expression is not valid PromQL: {out}\n{rules}"
        );
    }
}
