//! A virtual IP in front of two sqlyard hosts (issue 16), in network
//! namespaces on one machine, with the shipped files: keepalived runs
//! `examples/keepalived/keepalived.conf` and sqlyard runs
//! `examples/sqlyard.toml` with `examples/keepalived/sqlyard-vip.toml`
//! (only their sample addresses replaced).
//!
//! - The MariaDB topology (semi-sync) and etcd listen on the lab bridge's
//!   address; hosts 0 and 1 each run a sqlyard (cluster mode, listening on
//!   the VIP) and a keepalived; host 2 runs a PyMySQL client writing through
//!   the VIP.
//! - Killing the sqlyard that holds the VIP moves the VIP to the other host
//!   and the writes resume there (`SQLYARD_VIP_ROUNDS` rounds, default 1:
//!   `bench/vip.sh` runs more and summarizes the printed times).
//! - Killing the primary then fails the database over and the VIP stays
//!   where it is: keepalived checks `/healthz`, not `/readyz`.
//! - Every write the client saw acknowledged is on the new primary.
//!
//! Needs root (namespaces) and keepalived; without root it says so and
//! passes, as nothing can be tested.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use sqlyard::sandbox::netns::Lab;
use sqlyard::sandbox::vip::{keepalived_conf, sqlyard_vip_config, VipHost};
use sqlyard::sandbox::{EtcdProcess, SandboxOptions, Topology, APP_PASSWORD, APP_USER};

use crate::failover_support::{edit_toml, set_failover};
use crate::procs::{client_script, Running};
use crate::{common, failover_support};

/// The VIP's last octet on the lab's /24.
const VIP_LAST: u8 = 100;
/// The sqlyard hosts are lab hosts 0 and 1; the client is host 2.
const CLIENT: usize = 2;
const TABLE: &str = "vip_test.writes";
const KEEPALIVED: &str = "/usr/sbin/keepalived";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// One sqlyard host: its keepalived and sqlyard processes.
struct Host {
    vip: VipHost,
    dir: PathBuf,
    /// Its sqlyard.toml before the VIP overlay.
    config: String,
    sqlyard: Option<Running>,
    keepalived: Option<Running>,
}

/// The client's acknowledged writes so far: (id, unix ms).
fn acks(client: &Running) -> Vec<(u64, u64)> {
    client
        .printed()
        .0
        .lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            (f.next()? == "ok").then_some(())?;
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

/// The client's last error lines (for failure messages).
fn errors_tail(client: &Running) -> String {
    let out = client.printed();
    let errs: Vec<&str> = out.0.lines().filter(|l| l.starts_with("err")).collect();
    let from = errs.len().saturating_sub(5);
    format!("{}\n{}", errs[from..].join("\n"), out.1)
}

/// Waits until the client has an acknowledged write after `after_ms`;
/// returns its time.
async fn first_ack_after(client: &Running, after_ms: u64, limit: Duration) -> u64 {
    let t0 = Instant::now();
    loop {
        if let Some(&(_, at)) = acks(client).iter().find(|(_, at)| *at > after_ms) {
            return at;
        }
        assert!(
            t0.elapsed() < limit,
            "no write acknowledged within {limit:?}; the client's last errors:\n{}",
            errors_tail(client)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The last acknowledged write at or before `at_ms`.
fn last_ack_before(client: &Running, at_ms: u64) -> u64 {
    acks(client)
        .iter()
        .map(|(_, at)| *at)
        .filter(|at| *at <= at_ms)
        .max()
        .unwrap_or(at_ms)
}

impl Host {
    fn start_sqlyard(&mut self, lab: &Lab, index: usize) {
        let text = sqlyard_vip_config(&self.config, &self.vip).expect("VIP config renders");
        let config = self.dir.join("sqlyard.toml");
        std::fs::write(&config, text).unwrap();
        let mut cmd = lab.command(index, env!("CARGO_BIN_EXE_sqlyard"));
        cmd.arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env_remove("RUST_LOG_STYLE");
        self.sqlyard = Some(Running::spawn(cmd));
    }

    fn start_keepalived(&mut self, lab: &Lab, index: usize) {
        let conf = self.dir.join("keepalived.conf");
        std::fs::write(
            &conf,
            keepalived_conf(&self.vip).expect("keepalived.conf renders"),
        )
        .unwrap();
        let path = |name: &str| self.dir.join(name);
        let mut cmd = lab.command(index, KEEPALIVED);
        cmd.arg("--use-file")
            .arg(&conf)
            .arg("--pid")
            .arg(path("keepalived.pid"))
            .arg("--vrrp_pid")
            .arg(path("vrrp.pid"))
            .arg("--checkers_pid")
            .arg(path("checkers.pid"))
            .args(["--dont-fork", "--log-console", "--log-detail", "--vrrp"]);
        self.keepalived = Some(Running::spawn(cmd));
    }

    /// sqlyard's admin port on the host's own address answers.
    async fn wait_serving(&self) {
        let t0 = Instant::now();
        let opts = failover_support::admin_opts(6032).ip_or_hostname(self.vip.own.to_string());
        loop {
            if let Ok(mut c) = mysql_async::Conn::new(opts.clone()).await {
                if c.query_drop("SHOW SERVERS").await.is_ok() {
                    let _ = c.disconnect().await;
                    return;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "sqlyard on {} never served: {:?}",
                self.vip.own,
                self.sqlyard.as_ref().map(Running::printed)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn logs(&self) -> String {
        let show = |r: &Option<Running>| r.as_ref().map(|r| r.printed()).unwrap_or_default();
        let (k_out, k_err) = show(&self.keepalived);
        let (_, s_err) = show(&self.sqlyard);
        let tail = |s: &str| {
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        };
        format!(
            "--- {} keepalived:\n{}\n{}\n--- sqlyard:\n{}",
            self.vip.name,
            tail(&k_out),
            tail(&k_err),
            tail(&s_err)
        )
    }
}

/// Waits until exactly one host holds `vip`; returns it.
async fn wait_single_holder(lab: &Lab, vip: Ipv4Addr, hosts: &[Host], limit: Duration) -> usize {
    let t0 = Instant::now();
    loop {
        let held = lab.holders(vip).expect("ip addr show");
        if let [one] = held[..] {
            return one;
        }
        assert!(
            t0.elapsed() < limit,
            "the VIP is held by {held:?} after {limit:?}\n{}\n{}",
            hosts[0].logs(),
            hosts[1].logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The rows of `TABLE` on node `index`.
async fn ids_on(topo: &Topology, index: usize) -> BTreeSet<u64> {
    let rows: Vec<u64> = topo
        .node(index)
        .unwrap()
        .query_root(&format!("SELECT id FROM {TABLE}"))
        .await
        .unwrap();
    rows.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vip_follows_a_serving_sqlyard_and_not_the_primary() {
    if !running_as_root() {
        eprintln!("SKIPPED: network namespaces need root");
        return;
    }
    assert!(
        Path::new(KEEPALIVED).exists(),
        "{KEEPALIVED} is missing: install keepalived (.ci/setup-system.sh does)"
    );
    let rounds: usize = std::env::var("SQLYARD_VIP_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);

    // Declared first, dropped last: every process is gone by then.
    let lab = Lab::create(3).expect("network namespaces");
    let vip = lab.on_subnet(VIP_LAST);
    let bridge = IpAddr::V4(lab.bridge_address());
    let topo = common::start_topology(SandboxOptions {
        semi_sync: true,
        semi_sync_timeout_ms: 60_000,
        bind_address: bridge,
        ..Default::default()
    })
    .await
    .expect("a topology on the lab bridge");
    let dir = tempfile::tempdir().unwrap();
    let etcd = EtcdProcess::start_on(dir.path(), bridge)
        .await
        .expect("etcd on the lab bridge");
    topo.primary()
        .exec_root(&format!(
            "CREATE DATABASE vip_test; CREATE TABLE {TABLE} (id BIGINT PRIMARY KEY)"
        ))
        .await
        .unwrap();

    let base = topo.router_config_toml(6033, 6032, 9033);
    let mut hosts: Vec<Host> = (0..2)
        .map(|i| {
            let host_dir = dir.path().join(format!("host{i}"));
            std::fs::create_dir_all(&host_dir).unwrap();
            Host {
                vip: VipHost {
                    name: format!("sqlyard-{}", ["a", "b"][i]),
                    own: lab.address(i),
                    peers: vec![lab.address(1 - i)],
                    vip,
                    etcd_endpoints: vec![etcd.endpoint()],
                    cluster: "vip".into(),
                },
                dir: host_dir,
                config: String::new(),
                sqlyard: None,
                keepalived: None,
            }
        })
        .collect();
    for (i, host) in hosts.iter_mut().enumerate() {
        // each instance has its own journal
        let mut text = base.clone();
        let journal = host.dir.join("failover.journal");
        edit_toml(&mut text, |doc| set_failover(doc, &journal, &[]));
        host.config = text;
        lab.sysctl(i, "net.ipv4.ip_nonlocal_bind", "1").unwrap();
        host.start_sqlyard(&lab, i);
        host.wait_serving().await;
        host.start_keepalived(&lab, i);
    }
    let mut holder = wait_single_holder(&lab, vip, &hosts, Duration::from_secs(20)).await;

    let mut writer = lab.command(CLIENT, "/usr/bin/python3");
    writer.arg(client_script("vip_writer.py")).args([
        vip.to_string().as_str(),
        "6033",
        APP_USER,
        APP_PASSWORD,
        TABLE,
    ]);
    let client = Running::spawn(writer);
    first_ack_after(&client, 0, Duration::from_secs(30)).await;

    // ------------------------------------------------ the VIP holder's sqlyard dies
    for round in 1..=rounds {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let other = 1 - holder;
        let killed_at = now_ms();
        let t0 = Instant::now();
        drop(hosts[holder].sqlyard.take()); // SIGKILL, then reaped
        let moved = loop {
            let held = lab.holders(vip).unwrap();
            if held == [other] {
                break t0.elapsed();
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "round {round}: the VIP did not move to host {other} (held by {held:?})\n{}\n{}",
                hosts[0].logs(),
                hosts[1].logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let resumed = first_ack_after(&client, killed_at, Duration::from_secs(30)).await;
        let gap = resumed - last_ack_before(&client, killed_at);
        println!(
            "vip round {round}: VIP moved in {} ms; client write gap {gap} ms",
            moved.as_millis()
        );
        // The killed instance comes back; the VIP stays (nopreempt).
        hosts[holder].start_sqlyard(&lab, holder);
        hosts[holder].wait_serving().await;
        // keepalived's check needs 2 good answers (rise 2, 1 s apart)
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert_eq!(
            lab.holders(vip).unwrap(),
            [other],
            "round {round}: the VIP moved back when sqlyard returned"
        );
        holder = other;
    }

    // ------------------------------------------------ the primary dies
    let old = topo.primary_index();
    let killed_at = now_ms();
    let t0 = Instant::now();
    topo.kill(old).unwrap();
    let mut samples = 0;
    let mut resumed = None;
    let mut watch_until = t0 + Duration::from_secs(90);
    while Instant::now() < watch_until {
        let held = lab.holders(vip).unwrap();
        assert_eq!(
            held,
            [holder],
            "the VIP moved during the database failover ({samples} samples in)\n{}\n{}",
            hosts[0].logs(),
            hosts[1].logs()
        );
        samples += 1;
        if resumed.is_none() {
            if let Some(&(_, at)) = acks(&client).iter().find(|(_, at)| *at > killed_at) {
                resumed = Some(at);
                // keep watching a while after the failover
                watch_until = Instant::now() + Duration::from_secs(5);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(resumed) = resumed else {
        panic!(
            "writes never resumed after the primary was killed; the client's last errors:\n{}\n{}\n{}",
            errors_tail(&client),
            hosts[0].logs(),
            hosts[1].logs()
        );
    };
    println!(
        "vip primary kill: writes resumed {} ms after the kill (gap {} ms); the VIP stayed on host {holder} over {samples} samples",
        resumed.saturating_sub(killed_at),
        resumed - last_ack_before(&client, killed_at)
    );

    // The servers' own view: one writable server, not the old one, holding
    // every write the client saw acknowledged.
    let writable = topo.writable_nodes().await.unwrap();
    assert_eq!(writable.len(), 1, "writable servers: {writable:?}");
    assert_ne!(writable[0], old, "the killed primary is writable again");
    let acked: BTreeSet<u64> = acks(&client).into_iter().map(|(id, _)| id).collect();
    drop(client);
    let present = ids_on(&topo, writable[0]).await;
    let lost: Vec<&u64> = acked.difference(&present).take(20).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are missing on the new primary, e.g. {lost:?}",
        acked.difference(&present).count(),
        acked.len()
    );

    drop(hosts); // keepalived and sqlyard processes, before the namespaces
    drop(etcd);
    drop(topo);
    drop(lab);
}
