//! The soak of several sqlyard instances (issue 15): for SOAK_MINUTES
//! (default 30), random faults hit the primary and the sqlyard instances,
//! the leader included: kill -9 and SIGSTOP of the primary, kill -9 and
//! SIGSTOP (past the lease) of an instance. Three `sqlyard` binaries run in
//! cluster mode on one etcd member, with writers on each. Killed nodes are
//! restarted and rejoin (or are rebuilt by hand when sqlyard quarantined
//! them); killed instances are restarted; frozen ones are thawed.
//!
//! Checked from the servers, not from sqlyard: `@@read_only` on every node
//! sampled every 100 ms (moments with two writable servers), replication
//! sources after every fault (loops), and at the end every acknowledged
//! write on the final primary (lost writes). Targets: all three zero.
//!
//! Run with `bench/soak.sh` or `cargo run --release --example soak`.
//! Settings (environment): SOAK_MINUTES=30 ROUTERS=3 WORKERS=2 SEED=<random>
//! SQLYARD_BIN=target/release/sqlyard RESULTS=<file> (Markdown summary).

#[path = "support/admin.rs"]
mod admin;
#[path = "../tests/it/support/load.rs"]
mod load;
#[path = "support/repair.rs"]
mod repair;
#[path = "../tests/it/support/writable.rs"]
mod writable;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use admin::admin;
use load::{create_table, missing_on, Load, LoadOptions};
use rand::{Rng, SeedableRng};
use sqlyard::sandbox::{pick_free_port, EtcdProcess, SandboxOptions, Topology};

const TABLE: &str = "soak.writes";
type Res<T> = Result<T, String>;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// One sqlyard binary.
struct Instance {
    name: String,
    config: PathBuf,
    log: PathBuf,
    port: u16,
    admin: u16,
    child: Option<Child>,
    frozen: bool,
}

impl Instance {
    fn start(&mut self, bin: &Path) -> Res<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| e.to_string())?;
        let mut cmd = Command::new(bin);
        cmd.arg("--config")
            .arg(&self.config)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        let child = sqlyard::sandbox::process::spawn_tied(cmd).map_err(|e| e.to_string())?;
        self.child = Some(child);
        self.frozen = false;
        Ok(())
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(c) = &self.child {
            if let Ok(pid) = libc::pid_t::try_from(c.id()) {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, sig) };
            }
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The source port each running node replicates from (None: no source).
async fn sources(topo: &Topology) -> Vec<(usize, Option<u16>)> {
    let mut out = Vec::new();
    for i in 0..topo.addresses().len() {
        let Ok(n) = topo.node(i) else { continue };
        if n.state() != sqlyard::sandbox::NodeState::Running {
            continue;
        }
        let src = match n.replica_status().await {
            Ok(Some(st)) => Some(st.master_port),
            _ => None,
        };
        out.push((i, src));
    }
    out
}

/// Whether the replication sources form a loop.
async fn has_loop(topo: &Topology) -> bool {
    let ports: Vec<u16> = (0..topo.addresses().len())
        .filter_map(|i| topo.node(i).ok().map(|n| n.port()))
        .collect();
    let src = sources(topo).await;
    for (start, _) in &src {
        let mut at = *start;
        for _ in 0..ports.len() {
            let next = src
                .iter()
                .find(|(i, _)| *i == at)
                .and_then(|(_, p)| *p)
                .and_then(|p| ports.iter().position(|x| *x == p));
            match next {
                Some(n) if n == *start => return true,
                Some(n) => at = n,
                None => break,
            }
        }
    }
    false
}

/// The single writable running node, waiting up to `limit`.
async fn primary(topo: &Topology, limit: Duration) -> Res<usize> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(w) = topo.writable_nodes().await {
            if w.len() == 1 {
                return Ok(w[0]);
            }
        }
        if Instant::now() >= deadline {
            return Err("no single writable node".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How long a replaced primary gets to follow the new one (rejoined, or
/// quarantined and rebuilt by `failover.auto_rebuild`) before the harness
/// rebuilds it by hand.
const BRING_BACK: Duration = Duration::from_secs(150);

/// Restarts or thaws node `old` and waits until it follows `new`,
/// rebuilding it by hand if sqlyard did not (quarantined, no rebuild).
async fn bring_back(topo: &Topology, old: usize, new: usize) -> Res<&'static str> {
    let n = topo.node(old).map_err(|e| e.to_string())?;
    let p = topo.node(new).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + BRING_BACK;
    loop {
        let ro = n.is_read_only().await.unwrap_or(false);
        let follows = matches!(n.replica_status().await, Ok(Some(st)) if st.master_port == p.port() && st.is_running());
        if ro && follows {
            return Ok("rejoined");
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    repair::rebuild_replica(topo, old, new).await?;
    Ok("rebuilt by hand")
}

/// One node as the soak saw it at a failure: running, read_only, source.
async fn node_state(topo: &Topology, i: usize) -> String {
    let Ok(n) = topo.node(i) else {
        return format!("node {i}: unknown");
    };
    let ro = n.is_read_only().await.map_err(|e| e.to_string());
    let st = n.replica_status().await.map_err(|e| e.to_string());
    let pos = n.gtid_binlog_pos().await.unwrap_or_default();
    format!(
        "node {i} (port {}): {:?}, read_only {ro:?}, binlog {pos}, replication {st:?}",
        n.port(),
        n.state()
    )
}

#[derive(Default)]
struct Tally {
    faults: BTreeMap<&'static str, u64>,
    outcomes: BTreeMap<String, u64>,
    loops: u64,
    errors: Vec<String>,
}

async fn run() -> Res<String> {
    let minutes = env_u64("SOAK_MINUTES", 30);
    let routers = env_u64("ROUTERS", 3).max(2) as usize;
    let workers = env_u64("WORKERS", 2).max(1) as usize;
    let seed = env_u64("SEED", rand::random::<u32>() as u64);
    let bin = std::env::var("SQLYARD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("target/release/sqlyard"));
    if !bin.exists() {
        return Err(format!(
            "{} not found (cargo build --release)",
            bin.display()
        ));
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    eprintln!("soak: seed {seed}, {minutes} min, {routers} instances");
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let topo = Topology::start(SandboxOptions {
        semi_sync: true,
        semi_sync_timeout_ms: 60_000,
        ..Default::default()
    })
    .await
    .map_err(|e| format!("sandbox: {e}"))?;
    let etcd = EtcdProcess::start(dir.path())
        .await
        .map_err(|e| e.to_string())?;
    {
        let mut c = topo
            .primary()
            .root_conn()
            .await
            .map_err(|e| e.to_string())?;
        create_table(&mut c, TABLE)
            .await
            .map_err(|e| e.to_string())?;
        let _ = c.disconnect().await;
    }
    let mut instances = Vec::new();
    for i in 0..routers {
        let (port, admin_port, metrics) = (
            pick_free_port().map_err(|e| e.to_string())?,
            pick_free_port().map_err(|e| e.to_string())?,
            pick_free_port().map_err(|e| e.to_string())?,
        );
        let text = topo.router_config_toml(port, admin_port, metrics);
        let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("config: {e}"))?;
        let journal = dir.path().join(format!("failover-{i}.journal"));
        let f = doc
            .entry("failover")
            .or_insert(toml_edit::table())
            .as_table_mut()
            .ok_or("[failover] is not a table")?;
        f["enabled"] = toml_edit::value(true);
        f["anti_flap_window"] = toml_edit::value("1s");
        // sqlyard rebuilds the nodes it quarantines (the harness only
        // steps in when that did not happen within BRING_BACK)
        f["auto_rebuild"] = toml_edit::value(true);
        f["journal"] = toml_edit::value(journal.to_string_lossy().into_owned());
        let mut c = toml_edit::Table::new();
        let mut endpoints = toml_edit::Array::new();
        endpoints.push(etcd.endpoint());
        c["etcd_endpoints"] = toml_edit::value(endpoints);
        c["name"] = toml_edit::value("soak");
        c["instance"] = toml_edit::value(format!("r{i}"));
        doc["cluster"] = toml_edit::Item::Table(c);
        let text = doc.to_string();
        let config = dir.path().join(format!("sqlyard-{i}.toml"));
        std::fs::write(&config, text).map_err(|e| e.to_string())?;
        let mut inst = Instance {
            name: format!("r{i}"),
            config,
            log: dir.path().join(format!("sqlyard-{i}.log")),
            port,
            admin: admin_port,
            child: None,
            frozen: false,
        };
        inst.start(&bin)?;
        instances.push(inst);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sampler = writable::WritableSampler::start(&topo);
    let mut loads = Vec::new();
    for (i, inst) in instances.iter().enumerate() {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(inst.port)
            .user(Some("app"))
            .pass(Some("app_pw"))
            .prefer_socket(false);
        let mut o = LoadOptions::new(opts, TABLE);
        o.workers = workers;
        o.first_id = (i as u64 + 1) * 1_000_000_000;
        o.pause = Duration::from_millis(20);
        o.max_duration = Duration::from_secs(minutes * 60 + 300);
        o.max_writes_per_worker = u64::MAX;
        o.op_timeout = Duration::from_secs(20);
        loads.push(Load::start(o));
    }
    let end = Instant::now() + Duration::from_secs(minutes * 60);
    let mut tally = Tally::default();
    let mut round = 0;
    let t0 = Instant::now();
    let mut rounds: Vec<(u32, Duration, &'static str, SystemTime)> = Vec::new();
    while Instant::now() < end {
        round += 1;
        tokio::time::sleep(Duration::from_secs(rng.gen_range(5..15))).await;
        let old = match primary(&topo, Duration::from_secs(60)).await {
            Ok(p) => p,
            Err(e) => {
                tally.errors.push(format!("round {round}: {e}"));
                break;
            }
        };
        topo.set_primary_index(old).map_err(|e| e.to_string())?;
        let which = rng.gen_range(0..4);
        let kind = [
            "kill -9 primary",
            "SIGSTOP primary",
            "kill -9 instance",
            "SIGSTOP instance",
        ][which];
        *tally.faults.entry(kind).or_default() += 1;
        rounds.push((round, t0.elapsed(), kind, SystemTime::now()));
        eprintln!(
            "soak round {round} at {:?}: {kind} (primary node {old})",
            t0.elapsed()
        );
        match which {
            0 | 1 => {
                if which == 0 {
                    topo.kill(old).map_err(|e| e.to_string())?;
                } else {
                    topo.freeze(old).map_err(|e| e.to_string())?;
                }
                // a failover, or (short freeze) the old primary again
                let hold = Duration::from_secs(rng.gen_range(2..12));
                tokio::time::sleep(hold).await;
                if which == 1 {
                    topo.resume(old).map_err(|e| e.to_string())?;
                } else {
                    topo.restart(old).await.map_err(|e| e.to_string())?;
                }
                let new = match primary(&topo, Duration::from_secs(60)).await {
                    Ok(p) => p,
                    Err(e) => {
                        tally.errors.push(format!("round {round} ({kind}): {e}"));
                        break;
                    }
                };
                topo.set_primary_index(new).map_err(|e| e.to_string())?;
                let outcome = if new == old {
                    "primary kept".to_string()
                } else {
                    match bring_back(&topo, old, new).await {
                        Ok(o) => format!("failed over; old primary {o}"),
                        Err(e) => {
                            tally.errors.push(format!("round {round}: bring back: {e}"));
                            "failed over; old primary NOT back".into()
                        }
                    }
                };
                *tally.outcomes.entry(outcome).or_default() += 1;
            }
            _ => {
                // an instance, the leader half of the time
                let mut target = rng.gen_range(0..instances.len());
                if rng.gen_bool(0.5) {
                    for (i, inst) in instances.iter().enumerate() {
                        let leads =
                            admin(inst.admin, "SHOW ROUTERS")
                                .await
                                .ok()
                                .is_some_and(|rows| {
                                    rows.iter().any(|r| {
                                        r.get("instance") == Some(&inst.name)
                                            && r.get("leader").map(String::as_str) == Some("yes")
                                    })
                                });
                        if leads {
                            target = i;
                        }
                    }
                }
                let inst = &mut instances[target];
                if which == 2 {
                    inst.kill();
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    inst.start(&bin)?;
                } else {
                    inst.signal(libc::SIGSTOP);
                    inst.frozen = true;
                    tokio::time::sleep(Duration::from_secs(rng.gen_range(4..9))).await;
                    inst.signal(libc::SIGCONT);
                    inst.frozen = false;
                }
                *tally
                    .outcomes
                    .entry(format!("{kind}: {}", inst.name))
                    .or_default() += 1;
            }
        }
        if has_loop(&topo).await {
            tally.loops += 1;
            tally
                .errors
                .push(format!("round {round}: a replication loop"));
        }
    }
    let two = sampler.two_or_more.load(Ordering::Relaxed);
    let samples = sampler.samples.load(Ordering::Relaxed);
    let events = sampler.events.lock().map(|e| e.clone()).unwrap_or_default();
    sampler.finish().await;
    // when and which, next to the fault before it (the instances' logs,
    // kept below, say what they did then)
    for event in &events {
        let at = |ms: u64| {
            humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        };
        let nodes: Vec<String> = event
            .iter()
            .map(|(n, ms)| format!("node {n} at {}", at(*ms)))
            .collect();
        let first = event.first().map(|(_, ms)| *ms).unwrap_or(0);
        let before = rounds
            .iter()
            .rev()
            .find(|r| r.3 <= UNIX_EPOCH + Duration::from_millis(first))
            .map(|(r, _, kind, when)| {
                format!(
                    "round {r} ({kind}) began {}",
                    humantime::format_rfc3339_millis(*when)
                )
            })
            .unwrap_or_default();
        let msg = format!("two writable: {}; {before}", nodes.join(", "));
        eprintln!("{msg}");
        tally.errors.push(msg);
    }
    eprintln!(
        "soak: {samples} samples, {two} with two writable servers, {} replication loops",
        tally.loops
    );
    let mut lost = 0;
    let mut acknowledged = 0;
    let final_primary = match primary(&topo, Duration::from_secs(60)).await {
        Ok(p) => p,
        Err(e) => {
            // what the servers and the instances say, and their logs kept
            let mut out = format!("{e} (seed {seed})\n\nservers:\n");
            for i in 0..topo.addresses().len() {
                out.push_str(&format!("- {}\n", node_state(&topo, i).await));
            }
            for inst in &instances {
                for sql in ["SHOW ROUTERS", "SHOW AUTOFAILOVER", "SHOW FAILOVERS"] {
                    let rows = admin(inst.admin, sql).await;
                    out.push_str(&format!("\n{} {sql}: {rows:?}\n", inst.name));
                }
            }
            for inst in &mut instances {
                inst.kill();
            }
            let kept = dir.keep();
            out.push_str(&format!("\ninstance logs kept in {}\n", kept.display()));
            for e in &tally.errors {
                out.push_str(&format!("- {e}\n"));
            }
            let _ = topo.stop().await;
            return Err(out);
        }
    };
    let node = topo.node(final_primary).map_err(|e| e.to_string())?;
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .ok();
    for (i, l) in loads.into_iter().enumerate() {
        let report = l.stop().await;
        acknowledged += report.acknowledged.len();
        let missing = missing_on(node.root_opts(), TABLE, &report.acknowledged)
            .await
            .map_err(|e| e.to_string())?;
        lost += missing.len();
        if missing.len() > 20 {
            let msg = format!(
                "{} acknowledged writes through r{i} missing on the final primary; the first 20:",
                missing.len()
            );
            eprintln!("{msg}");
            tally.errors.push(msg);
        }
        // where they went: the write's time, and the nodes that have them
        for id in missing.iter().take(20) {
            let at = report
                .writes
                .iter()
                .find(|w| w.id == *id)
                .map(|w| w.finished.saturating_duration_since(t0));
            let mut on = Vec::new();
            for n in 0..topo.addresses().len() {
                if let Ok(nd) = topo.node(n) {
                    if let Ok(m) = missing_on(nd.root_opts(), TABLE, &[*id]).await {
                        if m.is_empty() {
                            on.push(n);
                        }
                    }
                }
            }
            let msg = format!(
                "lost id {id} acknowledged through r{i} at {at:?}; present on nodes {on:?} (final primary {final_primary})"
            );
            eprintln!("{msg}");
            tally.errors.push(msg);
        }
    }
    for (r, at, kind, _) in &rounds {
        eprintln!("round {r} at {at:?}: {kind}");
    }
    let failovers = admin(instances[0].admin, "SHOW FAILOVERS")
        .await
        .map(|r| r.len())
        .unwrap_or(0);
    for inst in &mut instances {
        inst.kill();
    }
    drop(etcd);
    let _ = topo.stop().await;
    let mut out = String::new();
    out.push_str(&format!(
        "## sqlyard soak: {routers} instances, {minutes} min, seed {seed}\n\n\
         | measure | value | target |\n|---|---|---|\n\
         | acknowledged writes | {acknowledged} | |\n\
         | acknowledged writes lost | {lost} | 0 |\n\
         | samples with two writable servers (of {samples}, every 100 ms) | {two} | 0 |\n\
         | replication loops | {} | 0 |\n\
         | journal entries (failovers) | {failovers} | |\n\n",
        tally.loops
    ));
    out.push_str("| fault | count |\n|---|---|\n");
    for (k, v) in &tally.faults {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    out.push_str("\n| outcome | count |\n|---|---|\n");
    for (k, v) in &tally.outcomes {
        out.push_str(&format!("| {k} | {v} |\n"));
    }
    if !tally.errors.is_empty() {
        out.push_str("\nProblems:\n");
        for e in &tally.errors {
            out.push_str(&format!("- {e}\n"));
        }
    }
    if lost > 0 || two > 0 || tally.loops > 0 || !tally.errors.is_empty() {
        let kept = dir.keep();
        out.push_str(&format!(
            "\nThe instances' logs and configs are kept in {}\n",
            kept.display()
        ));
        return Err(out);
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::process::ExitCode {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    else {
        eprintln!("cannot watch SIGTERM");
        return std::process::ExitCode::from(2);
    };
    let result = tokio::select! {
        r = run() => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        _ = term.recv() => Err("terminated".into()),
    };
    let (text, code) = match result {
        Ok(t) => (t, 0),
        Err(t) => (t, 1),
    };
    println!("{text}");
    if let Ok(path) = std::env::var("RESULTS") {
        let _ = std::fs::write(path, &text);
    }
    std::process::ExitCode::from(code)
}
