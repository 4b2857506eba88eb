//! How long are writes unavailable when the primary dies, hangs or is
//! switched over on purpose? This driver measures it on one sandbox
//! topology (1 primary + 2 replicas, semi-sync with a 60 s timeout) with a
//! small write load through sqlyard (in-process, failover on, anti-flap
//! window 1 s): KILLS kill -9s, FREEZES SIGSTOPs and SWITCHOVERS planned
//! switchovers. Per event it records the detection and promotion times
//! that sqlyard journals (`SHOW FAILOVERS` detection_ms / duration_ms) and,
//! measured by the client, the time from the fault to the first
//! acknowledged write through sqlyard (for a switchover: the longest pause
//! between acknowledged writes, and client errors). It checks after every
//! event that every acknowledged write is on the new primary, then brings
//! the old primary back (restart or SIGCONT) and waits until sqlyard has
//! rejoined it. It prints p50 and max per kind against the targets
//! and published figures of other tools.
//!
//! Run it with `bench/failover.sh` or
//! `cargo run --release --example failover_bench`. Settings (environment):
//! KILLS=10 FREEZES=5 SWITCHOVERS=5 WORKERS=4 SILENCE_GRACE=3s,
//! MARIADB_DEFAULTS=0 (1: replicas left at MariaDB's default replication
//! timing, semi-sync off; sqlyard tunes their heartbeat period first unless
//! TUNE_REPLICA_HEARTBEAT=0), RESULTS=<file> (also write the summary there
//! as Markdown), RUST_LOG (sqlyard's log, default "warn"), ROUTERS=1 (more:
//! that many sqlyard instances in cluster mode on a one-member etcd, each
//! with its own writers; the fault to first write is then reported per
//! instance, with the spread between the instances).

#[path = "support/admin.rs"]
mod admin;
#[path = "../tests/it/support/load.rs"]
mod load;
#[path = "support/repair.rs"]
mod repair;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use load::{create_table, missing_on, Load, LoadOptions};
use sqlyard::config::Config;
use sqlyard::sandbox::{pick_free_port, EtcdProcess, NodeState, SandboxOptions, Topology};
use sqlyard::server::Server;
use toml_edit::{value, DocumentMut};

const TABLE: &str = "failover_bench.writes";
const EVENT_LIMIT: Duration = Duration::from_secs(120);

type Row = BTreeMap<String, String>;
type BenchResult<T> = Result<T, String>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kill,
    Freeze,
    Switchover,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Kill => "kill -9",
            Kind::Freeze => "freeze (SIGSTOP)",
            Kind::Switchover => "switchover",
        }
    }
}

/// One measured event.
#[derive(Debug, Clone)]
struct Sample {
    kind: Kind,
    outcome: String,
    detection: Option<Duration>,
    promotion: Option<Duration>,
    /// Fault to the first acknowledged write started after it (the
    /// slowest instance when there are several).
    first_write: Option<Duration>,
    /// The same per instance (several routers).
    per_instance: Vec<Option<Duration>>,
    /// Switchover: the longest pause between acknowledged writes.
    pause: Option<Duration>,
    client_errors: usize,
    acknowledged: usize,
    lost: usize,
    note: String,
}

struct Settings {
    kills: usize,
    freezes: usize,
    switchovers: usize,
    workers: usize,
    silence_grace: Duration,
    /// Replicas at MariaDB's default replication timing, semi-sync off.
    mariadb_defaults: bool,
    /// `failover.tune_replica_heartbeat`.
    tune: bool,
    results: Option<String>,
    routers: usize,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn settings() -> BenchResult<Settings> {
    let grace = std::env::var("SILENCE_GRACE").unwrap_or_else(|_| "3s".into());
    let silence_grace =
        humantime::parse_duration(&grace).map_err(|e| format!("SILENCE_GRACE={grace:?}: {e}"))?;
    Ok(Settings {
        kills: env_usize("KILLS", 10),
        freezes: env_usize("FREEZES", 5),
        switchovers: env_usize("SWITCHOVERS", 5),
        workers: env_usize("WORKERS", 4).max(1),
        silence_grace,
        mariadb_defaults: env_usize("MARIADB_DEFAULTS", 0) == 1,
        tune: env_usize("TUNE_REPLICA_HEARTBEAT", 1) == 1,
        results: std::env::var("RESULTS").ok().filter(|s| !s.is_empty()),
        routers: env_usize("ROUTERS", 1).max(1),
    })
}

// ------------------------------------------------------------ admin port

use admin::admin;

fn col<'a>(row: &'a Row, name: &str) -> &'a str {
    row.get(name).map(String::as_str).unwrap_or("")
}

fn millis(row: &Row, name: &str) -> Option<Duration> {
    col(row, name)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| Duration::from_secs_f64(v / 1000.0))
}

async fn failovers(port: u16) -> BenchResult<Vec<Row>> {
    let mut rows = admin(port, "SHOW FAILOVERS").await?;
    rows.sort_by_key(|r| col(r, "id").parse::<u64>().unwrap_or(u64::MAX));
    Ok(rows)
}

/// The first failover entry after the first `before` that is finished.
async fn wait_failover(port: u16, before: usize) -> BenchResult<Row> {
    let deadline = Instant::now() + EVENT_LIMIT;
    loop {
        let rows = failovers(port).await?;
        if rows.len() > before {
            let newest = &rows[rows.len() - 1];
            if !col(newest, "outcome").eq_ignore_ascii_case("running") {
                return Ok(newest.clone());
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("no finished failover within {EVENT_LIMIT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------ servers

fn node_of(topo: &Topology, address: &str) -> BenchResult<usize> {
    topo.addresses()
        .iter()
        .position(|a| a == address)
        .ok_or_else(|| format!("{address} is not a node of the sandbox"))
}

async fn replicates_from(topo: &Topology, node: usize, primary: usize) -> bool {
    let (Ok(n), Ok(p)) = (topo.node(node), topo.node(primary)) else {
        return false;
    };
    matches!(n.replica_status().await, Ok(Some(st)) if st.master_port == p.port() && st.is_running())
}

/// Waits until `node` is read-only and replicates from `primary`; if it
/// is quarantined instead (errant transactions after a freeze), rebuilds
/// its replication by hand so the next event has two replicas again.
async fn bring_back(
    topo: &Topology,
    servers: &[Server],
    node: usize,
    primary: usize,
) -> BenchResult<String> {
    let deadline = Instant::now() + EVENT_LIMIT;
    let n = topo.node(node).map_err(|e| e.to_string())?;
    let address = n.address();
    let mut quarantined;
    loop {
        let ro = n.is_read_only().await.unwrap_or(false);
        if ro && replicates_from(topo, node, primary).await {
            return Ok(String::new());
        }
        // sqlyard quarantined it (errant transactions): rebuild it now
        quarantined = servers.iter().any(|server| {
            server
                .ctx
                .failover
                .status()
                .quarantined
                .iter()
                .any(|q| q.address == address)
        });
        if Instant::now() >= deadline || (ro && quarantined) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Not rejoined (quarantined): rebuilt by hand.
    let errant = repair::rebuild_replica(topo, node, primary).await?;
    Ok(if quarantined {
        format!("node {node} quarantined by sqlyard (errant {errant}); rebuilt by hand")
    } else {
        format!(
            "node {node} not rejoined within {EVENT_LIMIT:?} (binlog {errant}); rebuilt by hand"
        )
    })
}

/// Exactly one writable running node, the others replicating from it.
async fn consistent(topo: &Topology) -> BenchResult<usize> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let writable = topo.writable_nodes().await.map_err(|e| e.to_string())?;
        if let [p] = writable[..] {
            let mut ok = true;
            for node in topo.nodes() {
                if node.index() != p && node.state() == NodeState::Running {
                    ok &= replicates_from(topo, node.index(), p).await;
                }
            }
            if ok {
                return Ok(p);
            }
        }
        if Instant::now() >= deadline {
            return Err(format!("topology not consistent: writable {writable:?}"));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

// ------------------------------------------------------------ events

struct Bench {
    topo: Topology,
    /// One sqlyard instance, or several sharing an etcd.
    servers: Vec<Server>,
    etcd: Option<EtcdProcess>,
    router_ports: Vec<u16>,
    admin_port: u16,
    workers: usize,
    events: u64,
}

impl Bench {
    fn load(&mut self, instance: usize) -> Load {
        self.events += 1;
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.router_ports[instance])
            .user(Some("app"))
            .pass(Some("app_pw"))
            .prefer_socket(false);
        let mut o = LoadOptions::new(opts, TABLE);
        o.workers = self.workers;
        o.first_id = self.events * 10_000_000;
        o.pause = Duration::from_millis(10);
        o.op_timeout = Duration::from_secs(20);
        Load::start(o)
    }

    /// A load through every instance, each writing.
    async fn started_loads(&mut self) -> BenchResult<Vec<Load>> {
        let mut loads = Vec::new();
        for i in 0..self.router_ports.len() {
            let load = self.load(i);
            if !load.wait_acknowledged(20, Duration::from_secs(30)).await {
                return Err(format!(
                    "the load does not write through sqlyard instance {i} ({} errors)",
                    load.errors()
                ));
            }
            loads.push(load);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        Ok(loads)
    }

    async fn fault(&mut self, kind: Kind) -> BenchResult<Sample> {
        let old = self.topo.primary_index();
        let before = failovers(self.admin_port).await?.len();
        let loads = self.started_loads().await?;
        let fault = Instant::now();
        match kind {
            Kind::Kill => self.topo.kill(old),
            Kind::Freeze => self.topo.freeze(old),
            Kind::Switchover => Ok(()),
        }
        .map_err(|e| e.to_string())?;
        if kind == Kind::Switchover {
            admin(self.admin_port, "SWITCHOVER").await?;
        }
        let rec = wait_failover(self.admin_port, before).await;
        let done = Instant::now();
        let mut per_instance = Vec::new();
        for load in &loads {
            let first = load.wait_ok_write_after(fault, EVENT_LIMIT).await;
            per_instance.push(first.map(|t| t.saturating_duration_since(fault)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut reports = Vec::new();
        for load in loads {
            reports.push(load.stop().await);
        }
        let rec = rec?;
        let first_write = if per_instance.iter().all(Option::is_some) {
            per_instance.iter().flatten().max().copied()
        } else {
            None
        };
        let outcome = col(&rec, "outcome").to_lowercase();
        let mut sample = Sample {
            kind,
            outcome: outcome.clone(),
            detection: millis(&rec, "detection_ms"),
            promotion: millis(&rec, "duration_ms"),
            first_write,
            per_instance,
            pause: reports
                .iter()
                .map(|r| r.longest_gap(fault, done + Duration::from_millis(500)))
                .max()
                .filter(|_| kind == Kind::Switchover),
            client_errors: reports.iter().map(|r| r.error_count()).sum(),
            acknowledged: reports.iter().map(|r| r.acknowledged.len()).sum(),
            lost: 0,
            note: String::new(),
        };
        if outcome != "succeeded" {
            return Err(format!("{} ended {outcome}: {rec:?}", kind.name()));
        }
        let new = node_of(&self.topo, col(&rec, "new_primary"))?;
        self.topo
            .set_primary_index(new)
            .map_err(|e| e.to_string())?;
        let node = self.topo.node(new).map_err(|e| e.to_string())?;
        for report in &reports {
            sample.lost += missing_on(node.root_opts(), TABLE, &report.acknowledged)
                .await
                .map_err(|e| e.to_string())?
                .len();
        }
        match kind {
            Kind::Kill => self.topo.restart(old).await.map_err(|e| e.to_string())?,
            Kind::Freeze => self.topo.resume(old).map_err(|e| e.to_string())?,
            Kind::Switchover => {}
        }
        sample.note = bring_back(&self.topo, &self.servers, old, new).await?;
        let p = consistent(&self.topo).await?;
        if p != new {
            return Err(format!("node {p} is writable, not the new primary {new}"));
        }
        // the anti-flap window (1 s) must pass before the next failover
        tokio::time::sleep(Duration::from_millis(1200)).await;
        Ok(sample)
    }
}

// ------------------------------------------------------------ report

fn p50_max(mut v: Vec<Duration>) -> Option<(Duration, Duration)> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some((v[(v.len() - 1) / 2], v[v.len() - 1]))
}

fn fmt_d(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f64()))
}

fn fmt_pm(v: Vec<Duration>) -> String {
    match p50_max(v) {
        Some((p, m)) => format!("{:.2} s / {:.2} s", p.as_secs_f64(), m.as_secs_f64()),
        None => "-".into(),
    }
}

fn summary(samples: &[Sample], s: &Settings) -> String {
    let mut out = String::new();
    let servers = if s.mariadb_defaults {
        format!(
            "MariaDB, asynchronous, replication timing left at MariaDB's defaults \
             (slave_net_timeout 60 s, heartbeat 30 s), failover.tune_replica_heartbeat = {}",
            s.tune
        )
    } else {
        "MariaDB, semi-sync AFTER_SYNC, 60 s timeout".to_string()
    };
    let _ = writeln!(
        out,
        "## sqlyard failover bench\n\n1 primary + 2 replicas ({servers}), {} client workers \
         writing through sqlyard, silence_grace {:?}.\n",
        s.workers, s.silence_grace
    );
    let _ = writeln!(
        out,
        "| event | n | detection p50 / max | promotion p50 / max | fault → first write p50 / max | \
         switchover write pause p50 / max | client errors | lost acknowledged writes | target |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for kind in [Kind::Kill, Kind::Freeze, Kind::Switchover] {
        let of: Vec<&Sample> = samples.iter().filter(|x| x.kind == kind).collect();
        if of.is_empty() {
            continue;
        }
        let pick = |f: fn(&Sample) -> Option<Duration>| of.iter().filter_map(|x| f(x)).collect();
        let target = match kind {
            Kind::Kill => "first write p50 ≤ 2 s, max ≤ 5 s".to_string(),
            Kind::Freeze => format!(
                "first write ≤ silence_grace + 3 s = {:.0} s",
                (s.silence_grace + Duration::from_secs(3)).as_secs_f64()
            ),
            Kind::Switchover => "pause ≤ 1 s, no client error".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            kind.name(),
            of.len(),
            fmt_pm(pick(|x| x.detection)),
            fmt_pm(pick(|x| x.promotion)),
            fmt_pm(pick(|x| x.first_write)),
            fmt_pm(pick(|x| x.pause)),
            of.iter().map(|x| x.client_errors).sum::<usize>(),
            of.iter().map(|x| x.lost).sum::<usize>(),
            target
        );
    }
    if s.routers > 1 {
        let _ = writeln!(
            out,
            "\n{} sqlyard instances in cluster mode (one etcd member), writers on each. \
             Fault to first acknowledged write per instance, kill -9 (target: p50 ≤ 1.5 s on every \
             instance; instances within 200 ms of each other):\n",
            s.routers
        );
        let _ = writeln!(out, "| instance | p50 / max |\n|---|---|");
        let kills: Vec<&Sample> = samples.iter().filter(|x| x.kind == Kind::Kill).collect();
        for i in 0..s.routers {
            let v = kills
                .iter()
                .filter_map(|x| x.per_instance.get(i).copied().flatten())
                .collect();
            let _ = writeln!(out, "| r{i} | {} |", fmt_pm(v));
        }
        let spread = kills
            .iter()
            .filter(|x| x.per_instance.iter().all(Option::is_some))
            .map(|x| {
                let v: Vec<Duration> = x.per_instance.iter().flatten().copied().collect();
                let max = v.iter().max().copied().unwrap_or_default();
                let min = v.iter().min().copied().unwrap_or_default();
                max - min
            })
            .collect();
        let _ = writeln!(out, "| spread between instances | {} |", fmt_pm(spread));
    }
    let _ = writeln!(
        out,
        "\nClient errors on kill/freeze are the statements in flight on the lost primary \
         (expected); on a switchover there should be none.\n\n\
         Published figures for comparison (total write outage unless noted):\n\n\
         | setup | figure |\n|---|---|\n\
         | GitHub's orchestrator setup | 10-13 s total outage |\n\
         | MHA | 10-30 s |\n\
         | MaxScale (default monitor settings) | detection alone up to 25 s |\n\
         | Vitess | buffers primary traffic for up to 20 s |"
    );
    out
}

fn print_sample(i: usize, x: &Sample) {
    if x.per_instance.len() > 1 {
        let each: Vec<String> = x.per_instance.iter().map(|d| fmt_d(*d)).collect();
        println!("    first write per instance: {}", each.join(", "));
    }
    println!(
        "{:>3} {:<17} {:<10} detection {:>8} promotion {:>8} first write {:>8} pause {:>8} \
         errors {:>3} acked {:>6} lost {} {}",
        i + 1,
        x.kind.name(),
        x.outcome,
        fmt_d(x.detection),
        fmt_d(x.promotion),
        fmt_d(x.first_write),
        fmt_d(x.pause),
        x.client_errors,
        x.acknowledged,
        x.lost,
        x.note
    );
}

// ------------------------------------------------------------ main

async fn start(s: &Settings, dir: &Path) -> BenchResult<Bench> {
    let topo = Topology::start(SandboxOptions {
        semi_sync: !s.mariadb_defaults,
        semi_sync_timeout_ms: 60_000,
        mariadb_defaults: s.mariadb_defaults,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("sandbox: {e}"))?;
    let etcd = if s.routers > 1 {
        Some(
            EtcdProcess::start(dir)
                .await
                .map_err(|e| format!("etcd: {e}"))?,
        )
    } else {
        None
    };
    let mut servers = Vec::new();
    let mut router_ports = Vec::new();
    let mut admin_ports = Vec::new();
    for i in 0..s.routers {
        let port = pick_free_port().map_err(|e| e.to_string())?;
        let admin_port = pick_free_port().map_err(|e| e.to_string())?;
        let metrics = pick_free_port().map_err(|e| e.to_string())?;
        let text = topo.router_config_toml(port, admin_port, metrics);
        let mut doc: DocumentMut = text.parse().map_err(|e| format!("config: {e}"))?;
        let f = doc
            .entry("failover")
            .or_insert(toml_edit::table())
            .as_table_mut()
            .ok_or("[failover] is not a table")?;
        f["enabled"] = value(true);
        f["anti_flap_window"] = value("1s");
        f["silence_grace"] = value(format!("{}ms", s.silence_grace.as_millis()));
        let journal = dir.join(format!("failover-{i}.journal"));
        f["journal"] = value(journal.to_string_lossy().into_owned());
        f["tune_replica_heartbeat"] = value(s.tune);
        if let Some(e) = &etcd {
            let mut c = toml_edit::Table::new();
            let mut endpoints = toml_edit::Array::new();
            endpoints.push(e.endpoint());
            c["etcd_endpoints"] = value(endpoints);
            c["name"] = value("bench");
            c["instance"] = value(format!("r{i}"));
            doc["cluster"] = toml_edit::Item::Table(c);
        }
        let path = dir.join(format!("sqlyard-{i}.toml"));
        let config = Config::from_toml_str(&doc.to_string(), &path).map_err(|e| e.to_string())?;
        let server = Server::start(config).await.map_err(|e| e.to_string())?;
        if !server.wait_ready(Duration::from_secs(30)).await {
            return Err("sqlyard found no primary".into());
        }
        servers.push(server);
        router_ports.push(port);
        admin_ports.push(admin_port);
    }
    let admin_port = admin_ports[0];
    let mut c = topo
        .primary()
        .root_conn()
        .await
        .map_err(|e| e.to_string())?;
    create_table(&mut c, TABLE)
        .await
        .map_err(|e| e.to_string())?;
    let _ = c.disconnect().await;
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    // sqlyard has measured the replicas' lag (and written its heartbeat
    // table everywhere), as in production where the primary does not die
    // in the router's first second.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = admin(admin_port, "SHOW SERVERS").await?;
        let eligible = rows
            .iter()
            .filter(|r| r.get("reads").map(String::as_str) == Some("eligible"))
            .count();
        if eligible >= topo.replica_indexes().len() {
            break;
        }
        if Instant::now() >= deadline {
            return Err(format!("only {eligible} replicas take reads after 30 s"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if s.mariadb_defaults && s.tune {
        // The replicas run with sqlyard's heartbeat period before the first fault.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let rows = admin(admin_port, "SHOW AUTOFAILOVER").await?;
            let tuned: usize = rows
                .first()
                .and_then(|r| r.get("heartbeat_tunings"))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if tuned >= topo.replica_indexes().len() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(format!("only {tuned} replica heartbeat periods tuned"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(Bench {
        topo,
        servers,
        etcd,
        router_ports,
        admin_port,
        workers: s.workers,
        events: 0,
    })
}

async fn run(s: &Settings) -> BenchResult<Vec<Sample>> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut bench = start(s, dir.path()).await?;
    println!(
        "sandbox {:?}; sqlyard on 127.0.0.1 ports {:?} (admin {})",
        bench.topo.addresses(),
        bench.router_ports,
        bench.admin_port
    );
    let plan = std::iter::repeat_n(Kind::Kill, s.kills)
        .chain(std::iter::repeat_n(Kind::Freeze, s.freezes))
        .chain(std::iter::repeat_n(Kind::Switchover, s.switchovers));
    let mut samples = Vec::new();
    for (i, kind) in plan.enumerate() {
        match bench.fault(kind).await {
            Ok(x) => {
                print_sample(i, &x);
                samples.push(x);
            }
            Err(e) => {
                eprintln!(
                    "event {} ({}) failed: {e}; stopping here",
                    i + 1,
                    kind.name()
                );
                break;
            }
        }
    }
    let Bench {
        topo,
        servers,
        etcd,
        ..
    } = bench;
    for server in servers {
        server.shutdown().await;
    }
    drop(etcd);
    if let Err(e) = topo.stop().await {
        eprintln!("sandbox stop: {e}");
    }
    Ok(samples)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    let s = match settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    // SIGINT or SIGTERM drops the run, and with it the sandbox (its nodes
    // are killed and its directory removed).
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot watch SIGTERM: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let samples = tokio::select! {
        r = run(&s) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        _ = term.recv() => Err("terminated".into()),
    };
    let samples = match samples {
        Ok(x) => x,
        Err(e) => {
            eprintln!("failover bench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let text = summary(&samples, &s);
    println!("\n{text}");
    if let Some(path) = &s.results {
        if let Err(e) = std::fs::write(path, &text) {
            eprintln!("cannot write {path}: {e}");
            return std::process::ExitCode::from(2);
        }
    }
    let planned = s.kills + s.freezes + s.switchovers;
    if samples.len() < planned {
        eprintln!("only {} of {planned} events ran", samples.len());
        return std::process::ExitCode::from(1);
    }
    std::process::ExitCode::SUCCESS
}
