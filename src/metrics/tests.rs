//! Tests of the metrics text output: it parses, uses conventional names,
//! escapes label values, reflects the router's state, and passes
//! `promtool check metrics` when promtool is installed.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};

use super::*;
// the exporter is tested through the app root's real `Sources`
use crate::app::Context;
use crate::config::Config;
use crate::router::QueryRecord;
use crate::router::RouteReason;
use crate::topology::replica_status::{ReplicationStatus, ThreadState};
use crate::topology::snapshot::{Role, ServerState, Snapshot};
use crate::topology::TopologyHandle;

const PRIMARY: &str = "127.0.0.1:23301";
const REPLICA: &str = "127.0.0.1:23302";

fn context() -> Arc<Context> {
    let text = include_str!("../../examples/sqlyard.toml");
    let config = Config::from_toml_str(text, Path::new("examples/sqlyard.toml")).unwrap();
    let servers = config.servers.iter().map(|s| s.address.clone()).collect();
    Context::new(config, TopologyHandle::new(servers)).unwrap()
}

/// Publishes a primary and a replica with one running channel.
fn publish_topology(ctx: &Context) {
    let mut p = ServerState::new(PRIMARY);
    p.reachable = true;
    p.role = Role::Primary;
    p.read_only = Some(false);
    let mut r = ServerState::new(REPLICA);
    r.reachable = true;
    r.role = Role::Replica;
    r.read_only = Some(true);
    r.replication = vec![ReplicationStatus {
        source_host: Some("127.0.0.1".into()),
        source_port: Some(23301),
        io_running: ThreadState::Running,
        sql_running: ThreadState::Stopped,
        seconds_behind_source: Some(7),
        ..ReplicationStatus::default()
    }];
    ctx.topology
        .publish(Snapshot::new(vec![p, r], Some(0), None));
}

fn record(server: &str, reason: RouteReason, ms: u64) -> QueryRecord<'_> {
    QueryRecord {
        sql: b"SELECT 1",
        lexing: Default::default(),
        server,
        role: "primary",
        reason,
        duration: Duration::from_millis(ms),
        rows: 1,
        error: false,
    }
}

/// One sample line: name, labels, value.
#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A strict parser of the classic text format's sample lines (the subset
/// the encoder writes), unescaping label values.
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment {line:?}");
        let name_end = line
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = &line[..name_end];
        assert!(!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()));
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            loop {
                let (start, c) = chars.next().expect("label or }");
                if c == '}' {
                    rest = &r[start + 1..];
                    break;
                }
                let mut key = String::from(c);
                for (_, c) in chars.by_ref() {
                    if c == '=' {
                        break;
                    }
                    key.push(c);
                }
                assert_eq!(chars.next().map(|x| x.1), Some('"'), "in {line:?}");
                let mut value = String::new();
                loop {
                    match chars.next().expect("closing quote").1 {
                        '"' => break,
                        '\\' => match chars.next().expect("escape").1 {
                            'n' => value.push('\n'),
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            other => panic!("bad escape \\{other} in {line:?}"),
                        },
                        '\n' => panic!("raw newline in {line:?}"),
                        c => value.push(c),
                    }
                }
                labels.insert(key, value);
                if let Some((_, ',')) = chars.peek() {
                    chars.next();
                }
            }
        }
        let value = rest.trim_start_matches(' ');
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// Runs `promtool check metrics`; false when promtool is not installed.
fn promtool_check(text: &str) -> bool {
    use std::io::Write;
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("promtool not installed; skipping its check");
        return false;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejected the metrics:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

#[test]
fn definitions_are_accepted() {
    registry::HotMetrics::new().unwrap();
}

#[test]
fn text_output_parses_with_conventional_names_and_current_values() {
    let ctx = context();
    publish_topology(&ctx);
    ctx.stats.bytes_in.store(123, Ordering::Relaxed);
    ctx.stats.accepted.store(4, Ordering::Relaxed);
    ctx.stats.pins_total[0].store(2, Ordering::Relaxed);
    ctx.backends
        .servers
        .get(PRIMARY)
        .query_errors
        .store(1, Ordering::Relaxed);
    ctx.metrics
        .observe_query(&record(PRIMARY, RouteReason::Write, 3));
    ctx.metrics
        .observe_query(&record(PRIMARY, RouteReason::Write, 30));
    ctx.metrics
        .observe_query(&record(PRIMARY, RouteReason::Pinned, 3));
    let text = ctx.metrics.render(&*ctx).unwrap();
    let samples = parse(&text);

    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let mut parts = line.split(' ').skip(2);
        let (name, kind) = (parts.next().unwrap(), parts.next().unwrap());
        assert!(name.starts_with("sqlyard_"), "{line}");
        assert_eq!(name.ends_with("_total"), kind == "counter", "{line}");
    }
    for s in &samples {
        assert!(s.name.starts_with("sqlyard_"), "{s:?}");
    }
    let q = |reason| {
        value(
            &samples,
            "sqlyard_queries_total",
            &[
                ("server", PRIMARY),
                ("role", "primary"),
                ("route_reason", reason),
            ],
        )
    };
    assert_eq!(q("write"), Some(2.0));
    assert_eq!(q("pinned"), Some(1.0));
    let count = value(
        &samples,
        "sqlyard_query_duration_seconds_count",
        &[("role", "primary")],
    );
    assert_eq!(count, Some(3.0));
    let le_10ms = value(
        &samples,
        "sqlyard_query_duration_seconds_bucket",
        &[("role", "primary"), ("le", "0.01")],
    );
    assert_eq!(le_10ms, Some(2.0));
    let one = |name: &str, labels: &[(&str, &str)]| value(&samples, name, labels);
    assert_eq!(one("sqlyard_client_bytes_received_total", &[]), Some(123.0));
    assert_eq!(
        one("sqlyard_client_connections_accepted_total", &[]),
        Some(4.0)
    );
    assert_eq!(
        one("sqlyard_session_pins_total", &[("reason", "transaction")]),
        Some(2.0)
    );
    assert_eq!(
        one("sqlyard_query_errors_total", &[("server", PRIMARY)]),
        Some(1.0)
    );
    assert_eq!(
        one(
            "sqlyard_server_role",
            &[("server", REPLICA), ("role", "replica")]
        ),
        Some(1.0)
    );
    assert_eq!(
        one(
            "sqlyard_server_role",
            &[("server", REPLICA), ("role", "primary")]
        ),
        Some(0.0)
    );
    assert_eq!(
        one("sqlyard_server_read_only", &[("server", REPLICA)]),
        Some(1.0)
    );
    assert_eq!(
        one(
            "sqlyard_replication_seconds_behind_master",
            &[("server", REPLICA)]
        ),
        Some(7.0)
    );
    assert_eq!(
        one(
            "sqlyard_replication_threads_running",
            &[("server", REPLICA), ("thread", "io")]
        ),
        Some(1.0)
    );
    assert_eq!(
        one(
            "sqlyard_replication_threads_running",
            &[("server", REPLICA), ("thread", "sql")]
        ),
        Some(0.0)
    );
    assert_eq!(
        one(
            "sqlyard_replication_seconds_behind_master",
            &[("server", PRIMARY)]
        ),
        None,
        "a primary has no replication channel"
    );
    assert_eq!(
        one(
            "sqlyard_server_admin_state",
            &[("server", PRIMARY), ("state", "online")]
        ),
        Some(1.0)
    );
    assert_eq!(one("sqlyard_topology_generation", &[]), Some(1.0));
    assert_eq!(
        one(
            "sqlyard_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );
    promtool_check(&text);
}

#[test]
fn a_series_is_counted_once_per_label_set() {
    let ctx = context();
    for _ in 0..5 {
        ctx.metrics
            .observe_query(&record(PRIMARY, RouteReason::Write, 1));
    }
    let text = ctx.metrics.render(&*ctx).unwrap();
    let series: Vec<_> = parse(&text)
        .into_iter()
        .filter(|s| s.name == "sqlyard_queries_total")
        .collect();
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(series[0].value, 5.0);
}

#[test]
fn label_values_are_escaped() {
    let ctx = context();
    let odd = "db\"1\\x\nnext";
    ctx.metrics
        .observe_query(&record(odd, RouteReason::Write, 1));
    let text = ctx.metrics.render(&*ctx).unwrap();
    assert!(
        text.contains(r#"server="db\"1\\x\nnext""#),
        "escaped form missing:\n{text}"
    );
    let samples = parse(&text);
    assert_eq!(
        value(&samples, "sqlyard_queries_total", &[("server", odd)]),
        Some(1.0)
    );
    promtool_check(&text);
}

#[test]
fn endpoint_answers_by_path_and_method() {
    let ctx = context();
    let status = |m: Method, p: &str| http::respond(&*ctx, &m, p).status();
    assert_eq!(status(Method::GET, "/healthz"), StatusCode::OK);
    assert_eq!(status(Method::GET, "/metrics"), StatusCode::OK);
    assert_eq!(status(Method::GET, "/nope"), StatusCode::NOT_FOUND);
    assert_eq!(
        status(Method::POST, "/metrics"),
        StatusCode::METHOD_NOT_ALLOWED
    );
    // not accepting, no primary
    assert_eq!(
        status(Method::GET, "/readyz"),
        StatusCode::SERVICE_UNAVAILABLE
    );
    ctx.metrics.set_accepting(true);
    assert_eq!(
        status(Method::GET, "/readyz"),
        StatusCode::SERVICE_UNAVAILABLE
    );
    publish_topology(&ctx);
    assert_eq!(status(Method::GET, "/readyz"), StatusCode::OK);
    let res = http::respond(&*ctx, &Method::GET, "/metrics");
    assert_eq!(
        res.headers().get(hyper::header::CONTENT_TYPE).unwrap(),
        "text/plain; version=0.0.4"
    );
}

/// A finished failover record.
fn failover_record(
    id: u64,
    kind: crate::failover::Kind,
    outcome: crate::failover::Outcome,
) -> crate::failover::FailoverRecord {
    let now = std::time::SystemTime::now();
    crate::failover::FailoverRecord {
        id,
        kind,
        trigger: "test".into(),
        started_at: now - Duration::from_millis(800),
        finished_at: Some(now),
        outcome,
        old_primary: Some(PRIMARY.into()),
        new_primary: Some(REPLICA.into()),
        reason: String::new(),
        detection: (kind == crate::failover::Kind::Automatic).then(|| Duration::from_millis(1500)),
        phases: Vec::new(),
        positions: Vec::new(),
        error: None,
        fencing: Vec::new(),
        ran_by: None,
    }
}

#[test]
fn failover_state_is_exported() {
    use crate::failover::{Alert, Kind, Outcome, Quarantined};
    let ctx = context();
    publish_topology(&ctx);
    let text = ctx.metrics.render(&*ctx).unwrap();
    let samples = parse(&text);
    let one =
        |samples: &[Sample], name: &str, labels: &[(&str, &str)]| value(samples, name, labels);
    assert_eq!(
        one(&samples, "sqlyard_autofailover_enabled", &[]),
        Some(1.0),
        "failover.enabled defaults to true"
    );
    assert_eq!(
        one(&samples, "sqlyard_failover_in_progress", &[]),
        Some(0.0)
    );
    assert_eq!(
        one(
            &samples,
            "sqlyard_failovers_total",
            &[("kind", "automatic"), ("outcome", "succeeded")]
        ),
        Some(0.0),
        "series exist before the first failover"
    );
    assert_eq!(
        one(&samples, "sqlyard_failover_detection_seconds_count", &[]),
        Some(0.0)
    );
    assert!(!text.contains("sqlyard_server_errant_transactions{"));
    assert_eq!(one(&samples, "sqlyard_primary_semi_sync", &[]), Some(0.0));
    assert_eq!(
        one(&samples, "sqlyard_failover_fence_ahead_ready", &[]),
        Some(0.0)
    );
    let mut snap = (*ctx.topology.load()).clone();
    snap.servers[0].semi_sync.master_active = Some(true);
    snap.servers[1].semi_sync.master_active = Some(false);
    ctx.topology.publish(snap);

    let now = std::time::SystemTime::now();
    let automatic = failover_record(1, Kind::Automatic, Outcome::Succeeded);
    // the manager reports the automatic one; the refused switchover is
    // only in the history
    ctx.metrics.observe_failover(&automatic);
    let mut running = failover_record(3, Kind::Manual, Outcome::Running);
    running.finished_at = None;
    ctx.failover.update(|s| {
        s.auto = false;
        s.history = vec![
            automatic.clone(),
            failover_record(2, Kind::Switchover, Outcome::Refused),
        ];
        s.running = Some(running);
        s.unconfirmed_losses = 3;
        s.fence_ahead = Some(PRIMARY.into());
        s.alerts = vec![Alert {
            address: Some(REPLICA.into()),
            message: "stale".into(),
            since: now,
        }];
        s.quarantined = vec![Quarantined {
            address: PRIMARY.into(),
            server_id: Some(1),
            errant: format!("0-1-{}", "9".repeat(300)),
            since: now,
        }];
    });
    for _ in 0..2 {
        let text = ctx.metrics.render(&*ctx).unwrap();
        let samples = parse(&text);
        let total = |kind, outcome| {
            one(
                &samples,
                "sqlyard_failovers_total",
                &[("kind", kind), ("outcome", outcome)],
            )
        };
        assert_eq!(total("automatic", "succeeded"), Some(1.0), "counted once");
        assert_eq!(total("switchover", "refused"), Some(1.0));
        assert_eq!(total("manual", "succeeded"), Some(0.0), "still running");
        assert_eq!(
            one(&samples, "sqlyard_failover_in_progress", &[]),
            Some(1.0)
        );
        assert_eq!(
            one(&samples, "sqlyard_autofailover_enabled", &[]),
            Some(0.0)
        );
        assert_eq!(
            one(&samples, "sqlyard_primary_lost_unconfirmed_total", &[]),
            Some(3.0)
        );
        assert_eq!(one(&samples, "sqlyard_failover_alerts", &[]), Some(1.0));
        assert_eq!(
            one(&samples, "sqlyard_failover_fence_ahead_ready", &[]),
            Some(1.0)
        );
        assert_eq!(one(&samples, "sqlyard_primary_semi_sync", &[]), Some(1.0));
        assert_eq!(one(&samples, "sqlyard_quarantined_servers", &[]), Some(1.0));
        assert_eq!(
            one(&samples, "sqlyard_failover_detection_seconds_count", &[]),
            Some(1.0)
        );
        assert_eq!(
            one(
                &samples,
                "sqlyard_failover_detection_seconds_bucket",
                &[("le", "1")]
            ),
            Some(0.0)
        );
        assert_eq!(
            one(
                &samples,
                "sqlyard_failover_detection_seconds_bucket",
                &[("le", "2")]
            ),
            Some(1.0)
        );
        assert_eq!(
            one(
                &samples,
                "sqlyard_failover_duration_seconds_count",
                &[("kind", "automatic")]
            ),
            Some(1.0)
        );
        assert_eq!(
            one(
                &samples,
                "sqlyard_failover_duration_seconds_count",
                &[("kind", "switchover")]
            ),
            Some(0.0),
            "a refused switchover has no duration sample"
        );
        let errant: Vec<_> = samples
            .iter()
            .filter(|s| s.name == "sqlyard_server_errant_transactions")
            .collect();
        assert_eq!(errant.len(), 1);
        assert_eq!(errant[0].labels["server"], PRIMARY);
        assert_eq!(errant[0].labels["errant"].chars().count(), 200);
        assert!(errant[0].labels["errant"].starts_with("0-1-999"));
        promtool_check(&text);
    }
}

/// The README's metrics table lists every metric the router exports.
#[test]
fn readme_lists_every_metric() {
    let readme = include_str!("../../README.md");
    let ctx = context();
    publish_topology(&ctx);
    ctx.failover.update(|s| {
        s.quarantined = vec![crate::failover::Quarantined {
            address: PRIMARY.into(),
            server_id: Some(1),
            errant: "0-1-9".into(),
            since: std::time::SystemTime::now(),
        }];
    });
    let text = ctx.metrics.render(&*ctx).unwrap();
    let missing: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .filter(|name| !readme.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "metrics missing from the README's table: {missing:?}"
    );
}
