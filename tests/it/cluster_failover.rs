//! Several sqlyard instances in front of one topology, sharing one
//! decision through a real three-member etcd cluster (issue 15). Each test
//! starts its own MariaDB topology, etcd and three in-process routers with
//! writers on every one, and proves what happened from the servers
//! (`@@read_only` sampled every 100 ms, rows present) and from etcd (the
//! shared journal), not from sqlyard's word alone.
use crate::etcd::EtcdCluster;
use crate::{common, failover_support};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use failover_support::*;
use load::assert_all_present;
use mysql_async::prelude::Queryable;
use toml_edit::{value, Array};

use crate::load;

/// The topology's id in etcd.
const NAME: &str = "it";

/// Adds `[cluster]` for instance `instance`.
fn set_cluster(doc: &mut toml_edit::DocumentMut, endpoints: &[String], instance: &str) {
    let t = doc
        .entry("cluster")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .expect("[cluster] is a table");
    let mut list = Array::new();
    for e in endpoints {
        list.push(e.as_str());
    }
    t["etcd_endpoints"] = value(list);
    t["name"] = value(NAME);
    t["instance"] = value(instance);
}

/// `n` routers with failover on, in cluster mode, each with its own journal.
async fn start_routers(
    topo: &sqlyard::sandbox::Topology,
    etcd: &EtcdCluster,
    dir: &std::path::Path,
    n: usize,
) -> Vec<common::Router> {
    let mut routers = Vec::new();
    for i in 0..n {
        let journal = dir.join(format!("r{i}"));
        std::fs::create_dir_all(&journal).unwrap();
        let endpoints = etcd.endpoints();
        routers.push(
            start_router(topo, &journal, |doc| {
                set_cluster(doc, &endpoints, &format!("r{i}"))
            })
            .await,
        );
    }
    routers
}

fn is_leader(r: &common::Router) -> bool {
    r.server.ctx.cluster.get().is_some_and(|c| c.is_leader())
}

/// Waits until exactly one router leads and every one sees all `n`.
async fn wait_one_leader(routers: &[common::Router]) -> usize {
    let n = routers.len();
    let t0 = Instant::now();
    loop {
        let leaders: Vec<usize> = (0..n).filter(|i| is_leader(&routers[*i])).collect();
        let all_listed = routers.iter().all(|r| {
            r.server
                .ctx
                .cluster
                .get()
                .is_some_and(|c| c.view().routers.len() == n)
        });
        if leaders.len() == 1 && all_listed {
            return leaders[0];
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no single leader: {leaders:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Samples `@@read_only` on every server every 100 ms; remembers the most
/// servers seen writable at once.
struct WritableSampler {
    stop: Arc<AtomicBool>,
    max: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl WritableSampler {
    fn start(topo: &sqlyard::sandbox::Topology) -> Self {
        let opts: Vec<mysql_async::Opts> = (0..topo.addresses().len())
            .map(|i| topo.node(i).unwrap().root_opts())
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let max = Arc::new(AtomicUsize::new(0));
        let (s, m) = (stop.clone(), max.clone());
        let task = tokio::spawn(async move {
            let mut conns: Vec<Option<mysql_async::Conn>> = opts.iter().map(|_| None).collect();
            while !s.load(Ordering::Relaxed) {
                let mut writable = 0;
                for (i, o) in opts.iter().enumerate() {
                    if conns[i].is_none() {
                        conns[i] = tokio::time::timeout(
                            Duration::from_millis(300),
                            mysql_async::Conn::new(o.clone()),
                        )
                        .await
                        .ok()
                        .and_then(Result::ok);
                    }
                    let Some(c) = conns[i].as_mut() else { continue };
                    let ro = tokio::time::timeout(
                        Duration::from_millis(300),
                        c.query_first::<u8, _>("SELECT @@global.read_only"),
                    )
                    .await;
                    match ro {
                        Ok(Ok(Some(0))) => writable += 1,
                        Ok(Ok(_)) => {}
                        _ => conns[i] = None,
                    }
                }
                m.fetch_max(writable, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        WritableSampler { stop, max, task }
    }

    async fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        self.max.load(Ordering::Relaxed)
    }
}

/// `sqlyard_failovers_total` summed over outcomes, from the exporter.
async fn failovers_total(router: &common::Router) -> u64 {
    let addr = router.server.metrics_addr();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    raw.lines()
        .filter(|l| l.starts_with("sqlyard_failovers_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// The records of the shared journal in etcd (JSON).
async fn shared_journal(etcd: &EtcdCluster) -> Vec<serde_json::Value> {
    let mut c = etcd.client().await.unwrap();
    let prefix = format!("/sqlyard/{NAME}/journal/");
    let r = c
        .get(prefix, Some(etcd_client::GetOptions::new().with_prefix()))
        .await
        .unwrap();
    r.kvs()
        .iter()
        .map(|kv| serde_json::from_slice(kv.value()).unwrap())
        .collect()
}

/// 1. kill -9 of the primary with three instances, each with writers:
/// exactly one promotion, one shared journal entry, one failover counted
/// over all instances, every instance's writers resume, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_routers_kill_primary_one_promotion() {
    let etcd = EtcdCluster::start(3).await;
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let routers = start_routers(&topo, &etcd, dir.path(), 3).await;
    let leader = wait_one_leader(&routers).await;
    let configured = topo.addresses();
    prepare_table(&topo).await;
    for r in &routers {
        wait_replicas_eligible(&topo, admin_port(r)).await;
    }
    let rows = admin_sql(admin_port(&routers[0]), "SHOW ROUTERS")
        .await
        .unwrap();
    assert_eq!(rows.len(), 3, "{rows:?}");
    let leaders: Vec<&str> = rows
        .iter()
        .filter(|r| cell(r, "leader") == "yes")
        .map(|r| cell(r, "instance"))
        .collect();
    assert_eq!(leaders, [format!("r{leader}").as_str()]);

    let sampler = WritableSampler::start(&topo);
    let mut loads = Vec::new();
    for (i, r) in routers.iter().enumerate() {
        loads.push(running_load(load_options(r, (i as u64 + 1) * 10_000_000)).await);
    }
    let old = topo.primary_index();
    let fault = Instant::now();
    topo.kill(old).unwrap();
    let rec = wait_failover_done(admin_port(&routers[leader]), 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(rec.old_primary, configured[old]);
    let new = node_of(&configured, &rec.new_primary);
    let mut resumed = Vec::new();
    for (i, l) in loads.iter().enumerate() {
        let at = l.wait_ok_write_after(fault, Duration::from_secs(30)).await;
        let at = at.unwrap_or_else(|| panic!("router r{i}: writes never resumed"));
        resumed.push(at.duration_since(fault));
    }
    println!("fault to first acknowledged write per instance: {resumed:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut reports = Vec::new();
    for l in loads {
        reports.push(l.stop().await);
    }
    let max_writable = sampler.finish().await;
    assert_eq!(max_writable, 1, "two servers were writable at once");

    // one entry in the shared journal, one failover counted in all
    let journal = shared_journal(&etcd).await;
    assert_eq!(journal.len(), 1, "{journal:#?}");
    assert_eq!(journal[0]["outcome"], "succeeded");
    assert_eq!(journal[0]["ran_by"], format!("r{leader}"));
    let mut total = 0;
    for r in &routers {
        total += failovers_total(r).await;
    }
    assert_eq!(
        total, 1,
        "sqlyard_failovers_total summed over the instances"
    );
    // every instance shows the shared journal
    for r in &routers {
        wait_until(
            Duration::from_secs(5),
            "SHOW FAILOVERS on every instance",
            || async { failover_count(admin_port(r)).await == 1 },
        )
        .await;
    }

    topo.set_primary_index(new).unwrap();
    assert_consistent(&topo, &[old], Duration::from_secs(20)).await;
    for (i, report) in reports.iter().enumerate() {
        assert_all_present(
            topo.node(new).unwrap().root_opts(),
            TABLE,
            &report.acknowledged,
            &format!("writes through router r{i}"),
        )
        .await;
    }
    for r in routers {
        r.stop().await;
    }
}
