//! Several sqlyard instances in front of one topology, sharing one
//! decision through a real three-member etcd cluster (issue 15). Each test
//! starts its own MariaDB topology, etcd and three in-process routers with
//! writers on every one, and proves what happened from the servers
//! (`@@read_only` sampled every 100 ms, rows present) and from etcd (the
//! shared journal), not from sqlyard's word alone.
use crate::etcd::EtcdCluster;
use crate::writable::WritableSampler;
use crate::{common, failover_support, fault_proxy, router_process};

use std::time::{Duration, Instant};

use failover_support::*;
use fault_proxy::{FaultProxy, Mode};
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

/// Each instance its own `backup.dir` (in `dir`), as on hosts of their own.
fn set_backup_dir(doc: &mut toml_edit::DocumentMut, dir: &std::path::Path) {
    if let Some(t) = doc.get_mut("backup").and_then(|b| b.as_table_mut()) {
        t["dir"] = value(dir.join("backups").display().to_string());
    }
}

/// `n` routers with failover on, in cluster mode, each with its own
/// journal and backup directory.
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
                set_cluster(doc, &endpoints, &format!("r{i}"));
                set_backup_dir(doc, &journal);
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

/// `sqlyard_failovers_total` summed over outcomes, from the exporter.
async fn failovers_total(router: &common::Router) -> u64 {
    common::scrape_metrics(router)
        .await
        .lines()
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

/// etcd, a topology with the load's table, and `n` routers in cluster
/// mode that all measured the replicas; `leader` is the one that leads.
struct Scene {
    etcd: EtcdCluster,
    topo: common::OwnTopology,
    _dir: tempfile::TempDir,
    routers: Vec<common::Router>,
    leader: usize,
}

impl Scene {
    async fn start(n: usize) -> Scene {
        let etcd = EtcdCluster::start(3).await;
        let topo = start_topology().await;
        let dir = tempfile::tempdir().unwrap();
        let routers = start_routers(&topo, &etcd, dir.path(), n).await;
        let leader = wait_one_leader(&routers).await;
        prepare_table(&topo).await;
        for r in &routers {
            wait_replicas_eligible(&topo, admin_port(r)).await;
        }
        Scene {
            etcd,
            topo,
            _dir: dir,
            routers,
            leader,
        }
    }

    fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    async fn stop(self) {
        for r in self.routers {
            r.stop().await;
        }
    }

    /// A running load through every router (ids apart).
    async fn loads(&self) -> Vec<load::Load> {
        let mut loads = Vec::new();
        for (i, r) in self.routers.iter().enumerate() {
            loads.push(running_load(load_options(r, (i as u64 + 1) * 10_000_000)).await);
        }
        loads
    }
}

/// 1. kill -9 of the primary with three instances, each with writers:
/// exactly one promotion, one shared journal entry, one failover counted
/// over all instances, every instance's writers resume, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_routers_kill_primary_one_promotion() {
    let scene = Scene::start(3).await;
    let (etcd, topo, routers, leader) = (&scene.etcd, &scene.topo, &scene.routers, scene.leader);
    let configured = topo.addresses();
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

    let sampler = WritableSampler::start(topo);
    let loads = scene.loads().await;
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
    let samples = sampler.samples.load(std::sync::atomic::Ordering::Relaxed);
    let two = sampler
        .two_or_more
        .load(std::sync::atomic::Ordering::Relaxed);
    println!("read_only sampled {samples} times, {two} with two writable servers");
    let events = sampler.events.lock().unwrap().clone();
    let max_writable = sampler.finish().await;
    assert_eq!(
        max_writable, 1,
        "two servers were writable at once: (node, unix ms) {events:?}"
    );

    // one entry in the shared journal, one failover counted in all
    let journal = shared_journal(etcd).await;
    assert_eq!(journal.len(), 1, "{journal:#?}");
    assert_eq!(journal[0]["outcome"], "succeeded");
    assert_eq!(journal[0]["ran_by"], format!("r{leader}"));
    let mut total = 0;
    for r in routers.iter() {
        total += failovers_total(r).await;
    }
    assert_eq!(
        total, 1,
        "sqlyard_failovers_total summed over the instances"
    );
    // every instance shows the shared journal
    for r in routers.iter() {
        wait_until(
            Duration::from_secs(5),
            "SHOW FAILOVERS on every instance",
            || async { failover_count(admin_port(r)).await == 1 },
        )
        .await;
    }

    topo.set_primary_index(new).unwrap();
    assert_consistent(topo, &[old], Duration::from_secs(20)).await;
    assert_reports_present(topo, new, &reports).await;
    scene.stop().await;
}

/// Reads `SHOW SERVERS` on a router and returns the `state` of `address`.
async fn state_on(router: &common::Router, address: &str) -> String {
    let rows = show_servers(admin_port(router)).await;
    cell(server_row(&rows, address), "state").to_string()
}

/// 5. A runtime change on one instance: `SET SERVER ... OFFLINE` on A; B
/// and C stop reading from that server within 1 s, and a restarted C
/// takes it from etcd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_change_on_one_router_reaches_all() {
    let etcd = EtcdCluster::start(3).await;
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let mut routers = start_routers(&topo, &etcd, dir.path(), 3).await;
    wait_one_leader(&routers).await;
    let configured = topo.addresses();
    let replica = (0..configured.len())
        .find(|i| *i != topo.primary_index())
        .unwrap();
    let address = configured[replica].clone();
    let replica_id = {
        let mut c = mysql_async::Conn::new(topo.node(replica).unwrap().root_opts())
            .await
            .unwrap();
        let id: u32 = c.query_first("SELECT @@server_id").await.unwrap().unwrap();
        c.disconnect().await.unwrap();
        id
    };
    for r in &routers {
        wait_replicas_eligible(&topo, admin_port(r)).await;
    }
    let answer = admin_sql(
        admin_port(&routers[0]),
        &format!("SET SERVER '{address}' OFFLINE"),
    )
    .await;
    assert!(answer.is_ok(), "{answer:?}");
    let t0 = Instant::now();
    for r in &routers[1..] {
        while state_on(r, &address).await != "offline" {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "the change never reached another instance"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let took = t0.elapsed();
    println!("SET SERVER OFFLINE reached both other instances in {took:?}");
    assert!(took <= Duration::from_secs(1), "took {took:?}");
    // the servers say it: reads through B and C never land on it
    for r in &routers[1..] {
        let ids = read_server_ids(r.port, 30).await.unwrap();
        assert!(!ids.contains(&replica_id), "{ids:?} includes {replica_id}");
        let rows = show_servers(admin_port(r)).await;
        assert_eq!(cell(server_row(&rows, &address), "state_from"), "cluster");
    }
    // C restarts and takes the state from etcd
    let c = routers.pop().unwrap();
    c.stop().await;
    let journal = dir.path().join("r2");
    let endpoints = etcd.endpoints();
    let c = start_router(&topo, &journal, |doc| set_cluster(doc, &endpoints, "r2")).await;
    let t0 = Instant::now();
    while state_on(&c, &address).await != "offline" {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "a restarted instance did not take the shared state"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids = read_server_ids(c.port, 30).await.unwrap();
    assert!(!ids.contains(&replica_id), "{ids:?} includes {replica_id}");
    // ONLINE on C reaches A
    admin_sql(admin_port(&c), &format!("SET SERVER '{address}' ONLINE"))
        .await
        .unwrap();
    let t0 = Instant::now();
    while state_on(&routers[0], &address).await != "online" {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.stop().await;
    for r in routers {
        r.stop().await;
    }
}

/// Whether `SHOW AUTOFAILOVER` on `router` lists an alert containing `text`.
async fn has_alert(router: &common::Router, text: &str) -> bool {
    admin_sql(admin_port(router), "SHOW AUTOFAILOVER")
        .await
        .ok()
        .and_then(|rows| rows.first().map(|r| cell(r, "alerts").to_string()))
        .is_some_and(|a| a.contains(text))
}

/// 4. etcd quorum lost (2 of 3 members stopped): traffic continues; the
/// primary is then killed: no promotion anywhere, alerts raised. Quorum
/// back: a leader is elected and the failover proceeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_quorum_lost_means_no_promotion_until_it_is_back() {
    let mut scene = Scene::start(3).await;
    let configured = scene.topo.addresses();
    let (etcd, topo, routers) = (&mut scene.etcd, &scene.topo, &scene.routers);
    etcd.stop_member(0);
    etcd.stop_member(1);
    wait_until(
        Duration::from_secs(15),
        "every instance sees etcd down and no leader",
        || async {
            routers.iter().all(|r| {
                let v = r.server.ctx.cluster.get().unwrap().view();
                !v.etcd_up && !v.is_leader()
            })
        },
    )
    .await;
    // traffic continues, /readyz stays ready
    for (i, r) in routers.iter().enumerate() {
        write_through(
            r.port,
            &format!("INSERT INTO {TABLE} (id, worker) VALUES ({}, 0)", 100 + i),
        )
        .await
        .unwrap_or_else(|e| panic!("a write through r{i} with etcd down: {e}"));
        let m = common::scrape_metrics(r).await;
        assert!(m.lines().any(|l| l == "sqlyard_cluster_etcd_up 0"), "r{i}");
        assert!(m.lines().any(|l| l == "sqlyard_cluster_leader 0"), "r{i}");
        assert_eq!(common::http_status(r, "/readyz").await, 200, "r{i} /readyz");
        assert!(
            has_alert(r, "etcd is unreachable").await,
            "r{i} raises an alert"
        );
    }
    // the primary dies: nobody promotes
    let sampler = WritableSampler::start(topo);
    let old = topo.primary_index();
    topo.kill(old).unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < SILENCE_GRACE + Duration::from_secs(5) {
        for (i, r) in routers.iter().enumerate() {
            let n = failover_count(admin_port(r)).await;
            let status = r.server.ctx.failover.status();
            let view = r.server.ctx.cluster.get().unwrap().view();
            assert!(
                n == 0 && status.running.is_none(),
                "a failover ran on r{i} with etcd down: {:?} {:?}; etcd_up {} leader {:?} lease left {:?}",
                status.running,
                status.history,
                view.etcd_up,
                view.leader,
                view.lease_left()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        sampler.finish().await,
        0,
        "a server became writable with etcd down"
    );
    // quorum back: one leader, one failover
    etcd.start_member(0);
    let t0 = Instant::now();
    let leader = wait_one_leader(routers).await;
    let rec = wait_failover_done(admin_port(&routers[leader]), 0, FAILOVER_LIMIT).await;
    println!("quorum back to failover done: {:?}", t0.elapsed());
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(rec.old_primary, configured[old]);
    let new = node_of(&configured, &rec.new_primary);
    topo.set_primary_index(new).unwrap();
    wait_writes_everywhere(routers, 200).await;
    let journal = shared_journal(etcd).await;
    assert_eq!(journal.len(), 1, "{journal:#?}");
    scene.stop().await;
}

/// 3. A partition between the leader alone and the primary (the leader
/// reaches the primary through a fault proxy that is cut): no failover;
/// then the primary is killed for real: failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_between_the_leader_and_the_primary_is_no_failover() {
    let etcd = EtcdCluster::start(3).await;
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let configured = topo.addresses();
    let old = topo.primary_index();
    let real = configured[old].clone();
    let proxy = FaultProxy::start(&real).await.unwrap();
    let via = proxy.address();
    let endpoints = etcd.endpoints();
    // r0 starts first and leads; it reaches the primary through the proxy
    let j0 = dir.path().join("r0");
    std::fs::create_dir_all(&j0).unwrap();
    let r0 = start_router(&topo, &j0, |doc| {
        set_cluster(doc, &endpoints, "r0");
        set_server(doc, &real, "address", &via);
    })
    .await;
    wait_until(Duration::from_secs(15), "r0 leads", || async {
        is_leader(&r0)
    })
    .await;
    let mut routers = vec![r0];
    for i in 1..3 {
        let j = dir.path().join(format!("r{i}"));
        std::fs::create_dir_all(&j).unwrap();
        routers.push(
            start_router(&topo, &j, |doc| {
                set_cluster(doc, &endpoints, &format!("r{i}"))
            })
            .await,
        );
    }
    assert_eq!(wait_one_leader(&routers).await, 0);
    prepare_table(&topo).await;
    for r in &routers {
        wait_replicas_eligible(&topo, admin_port(r)).await;
    }
    let sampler = WritableSampler::start(&topo);
    proxy.set_mode(Mode::Blackhole);
    let cut = Instant::now();
    while cut.elapsed() < SILENCE_GRACE + Duration::from_secs(6) {
        for r in &routers {
            assert_no_failover(admin_port(r), "during the partition").await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = routers[0].server.ctx.failover.status();
    println!(
        "partition: leader detector {}, leader-only losses {}, unconfirmed {}",
        status.detector.as_str(),
        status.leader_isolated_losses,
        status.unconfirmed_losses
    );
    assert_ne!(
        status.detector.as_str(),
        "healthy",
        "the leader lost the primary"
    );
    assert!(
        status.leader_isolated_losses + status.unconfirmed_losses >= 1,
        "the partition is counted"
    );
    // the others still reach it, and say so
    let rows = admin_sql(admin_port(&routers[1]), "SHOW ROUTERS")
        .await
        .unwrap();
    for row in rows.iter().filter(|r| cell(r, "instance") != "r0") {
        assert_eq!(cell(row, "primary_view"), "healthy", "{row:?}");
    }
    // now the primary dies for real: failover
    topo.kill(old).unwrap();
    let rec = wait_failover_done(admin_port(&routers[0]), 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(
        sampler.finish().await,
        1,
        "two servers were writable at once"
    );
    let new = node_of(&configured, &rec.new_primary);
    topo.set_primary_index(new).unwrap();
    wait_writes_everywhere(&routers, 300).await;
    for r in routers {
        r.stop().await;
    }
}

/// The leader as the `sqlyard` binary, paused by the test hook before
/// promoting (`SQLYARD_TEST_PAUSE_BEFORE=promote`), with `[cluster]` and
/// failover on; started first so that it leads.
async fn paused_leader(
    topo: &sqlyard::sandbox::Topology,
    etcd: &EtcdCluster,
    journal: &std::path::Path,
    pause_secs: &str,
) -> router_process::RouterProcess {
    let endpoints = etcd.endpoints();
    let journal = journal.join("failover.journal");
    let leader = router_process::RouterProcess::start_with_env(
        topo,
        "info",
        &[
            ("SQLYARD_TEST_PAUSE_BEFORE", "promote"),
            ("SQLYARD_TEST_PAUSE_SECS", pause_secs),
        ],
        |text| {
            edit_toml(text, |doc| {
                set_failover(doc, &journal, &[]);
                set_cluster(doc, &endpoints, "bin");
            })
        },
    )
    .await;
    wait_until(Duration::from_secs(20), "the binary leads", || async {
        admin_sql(leader.admin_port, "SHOW ROUTERS")
            .await
            .ok()
            .is_some_and(|rows| {
                rows.iter()
                    .any(|r| cell(r, "instance") == "bin" && cell(r, "leader") == "yes")
            })
    })
    .await;
    leader
}

/// Waits until the paused leader logs its pause, then sends it `sig`.
async fn signal_at_pause(leader: &router_process::RouterProcess, sig: libc::c_int) {
    wait_until(
        Duration::from_secs(30),
        "the leader pauses before promote",
        || async { leader.log().contains("test hook: pausing before promote") },
    )
    .await;
    leader.signal(sig);
}

/// Waits until a failover succeeded on one of `routers`; returns that
/// router's records.
async fn wait_taken_over(routers: &[common::Router], what: &str) -> Vec<FailoverRecord> {
    let t0 = Instant::now();
    loop {
        assert!(t0.elapsed() < FAILOVER_LIMIT, "no failover {what}");
        for r in routers {
            let records = failovers(admin_port(r)).await.unwrap_or_default();
            if records.iter().any(|x| x.outcome == "succeeded") {
                return records;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every write acknowledged through router i (report i) is on node `new`.
async fn assert_reports_present(
    topo: &sqlyard::sandbox::Topology,
    new: usize,
    reports: &[load::LoadReport],
) {
    for (i, report) in reports.iter().enumerate() {
        assert_all_present(
            topo.node(new).unwrap().root_opts(),
            TABLE,
            &report.acknowledged,
            &format!("writes through router r{i}"),
        )
        .await;
    }
}

/// Waits until a write through every router works (ids from `first`).
async fn wait_writes_everywhere(routers: &[common::Router], first: usize) {
    for (i, r) in routers.iter().enumerate() {
        wait_until(
            Duration::from_secs(15),
            "writes through every instance",
            || async {
                let sql = format!("INSERT INTO {TABLE} (id, worker) VALUES ({}, 0)", first + i);
                write_through(r.port, &sql).await.is_ok()
            },
        )
        .await;
    }
}

/// The `step` key: which instance last acted on a server.
async fn last_step(etcd: &EtcdCluster) -> Option<serde_json::Value> {
    let mut c = etcd.client().await.unwrap();
    let r = c.get(format!("/sqlyard/{NAME}/step"), None).await.unwrap();
    r.kvs()
        .first()
        .map(|kv| serde_json::from_slice(kv.value()).unwrap())
}

/// 2a. The leader is killed (-9) between choose and promote: another
/// instance takes over the shared journal and the failover is finished
/// (or undone and run again). Never two writable servers, no loop, no
/// acknowledged write lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_mid_failover_is_taken_over() {
    let etcd = EtcdCluster::start(3).await;
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let configured = topo.addresses();
    prepare_table(&topo).await;
    let leader = paused_leader(&topo, &etcd, dir.path(), "60").await;
    let routers = start_routers(&topo, &etcd, dir.path(), 2).await;
    for r in &routers {
        wait_replicas_eligible(&topo, admin_port(r)).await;
    }
    let sampler = WritableSampler::start(&topo);
    let mut loads = Vec::new();
    for (i, r) in routers.iter().enumerate() {
        loads.push(running_load(load_options(r, (i as u64 + 1) * 10_000_000)).await);
    }
    let old = topo.primary_index();
    let fault = Instant::now();
    topo.kill(old).unwrap();
    signal_at_pause(&leader, libc::SIGKILL).await;
    // one of the others takes over and the topology gets a primary
    let records = wait_taken_over(&routers, "after the leader died").await;
    println!("after the leader was killed: {records:#?}");
    assert!(
        records.iter().any(|x| x.outcome == "interrupted"),
        "the killed leader's failover is reported as interrupted"
    );
    let rec = records.iter().find(|x| x.outcome == "succeeded").unwrap();
    let new = node_of(&configured, &rec.new_primary);
    let mut reports = Vec::new();
    for (i, l) in loads.into_iter().enumerate() {
        assert!(
            l.wait_ok_write_after(fault, Duration::from_secs(30))
                .await
                .is_some(),
            "r{i}: writes never resumed"
        );
        reports.push(l.stop().await);
    }
    assert_eq!(
        sampler.finish().await,
        1,
        "two servers were writable at once"
    );
    topo.set_primary_index(new).unwrap();
    assert_consistent(&topo, &[old], Duration::from_secs(20)).await;
    assert_reports_present(&topo, new, &reports).await;
    drop(leader);
    for r in routers {
        r.stop().await;
    }
}

/// 2b. The leader is frozen (SIGSTOP) between choose and promote, past its
/// lease; another instance fails over; the leader is thawed (SIGCONT) and
/// acts on no server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_leader_that_wakes_up_acts_on_no_server() {
    let etcd = EtcdCluster::start(3).await;
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let configured = topo.addresses();
    prepare_table(&topo).await;
    let leader = paused_leader(&topo, &etcd, dir.path(), "3").await;
    let routers = start_routers(&topo, &etcd, dir.path(), 2).await;
    for r in &routers {
        wait_replicas_eligible(&topo, admin_port(r)).await;
    }
    let sampler = WritableSampler::start(&topo);
    let old = topo.primary_index();
    topo.kill(old).unwrap();
    signal_at_pause(&leader, libc::SIGSTOP).await;
    let records = wait_taken_over(&routers, "while the leader was frozen").await;
    let new_primary = records
        .iter()
        .find(|x| x.outcome == "succeeded")
        .map(|x| x.new_primary.clone())
        .unwrap();
    let step = last_step(&etcd).await.expect("steps are recorded");
    assert_ne!(step["instance"], "bin", "{step}");
    // thaw it: its pause is over, it goes on to promote, and must not
    leader.signal(libc::SIGCONT);
    wait_until(
        Duration::from_secs(20),
        "the thawed leader gives up",
        || async {
            leader.log().contains("test hook: resuming") && leader.log().contains("refused")
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let log = leader.log();
    assert!(
        !log.lines()
            .skip_while(|l| !l.contains("test hook: resuming"))
            .any(|l| l.contains("failover phase done") && l.contains("promote")),
        "the thawed leader promoted:\n{log}"
    );
    let step = last_step(&etcd).await.unwrap();
    assert_ne!(
        step["instance"], "bin",
        "the thawed leader recorded a step: {step}"
    );
    assert_eq!(
        sampler.finish().await,
        1,
        "two servers were writable at once"
    );
    let new = node_of(&configured, &new_primary);
    topo.set_primary_index(new).unwrap();
    assert_consistent(&topo, &[old], Duration::from_secs(20)).await;
    drop(leader);
    for r in routers {
        r.stop().await;
    }
}

/// A SWITCHOVER typed on an instance that does not lead is run by the
/// leader; every instance holds its writes meanwhile, so writers on all
/// three see no error, and nothing acknowledged is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_typed_on_a_follower_holds_writes_everywhere() {
    let scene = Scene::start(3).await;
    let (topo, routers, leader) = (&scene.topo, &scene.routers, scene.leader);
    let follower = (leader + 1) % 3;
    let configured = topo.addresses();
    let sampler = WritableSampler::start(topo);
    let loads = scene.loads().await;
    let answer = admin_sql(admin_port(&routers[follower]), "SWITCHOVER").await;
    assert!(answer.is_ok(), "{answer:?}");
    let records = failovers(admin_port(&routers[follower])).await.unwrap();
    let rec = records.last().unwrap();
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(
        rec.row.get("ran_by").cloned().flatten().as_deref(),
        Some(format!("r{leader}").as_str()),
        "run by the leader"
    );
    let new = node_of(&configured, &rec.new_primary);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut reports = Vec::new();
    for (i, l) in loads.into_iter().enumerate() {
        let report = l.stop().await;
        println!("r{i}: {}", report.summary());
        assert_eq!(
            report.error_count(),
            0,
            "r{i}: {:?}",
            report.error_summary()
        );
        reports.push(report);
    }
    assert_reports_present(topo, new, &reports).await;
    assert_eq!(
        sampler.finish().await,
        1,
        "two servers were writable at once"
    );
    scene.stop().await;
}

/// sysbench oltp_read_write through several instances, whose threads
/// reconnect when cut (`tests/clients/oltp_reconnect.lua`).
struct RollingSysbench {
    run: crate::procs::Running,
    started: Instant,
    threads: u32,
}

const ROLLING_DB: &str = "sbroll";
const ROLLING_TIME: Duration = Duration::from_secs(20);

impl RollingSysbench {
    async fn start(scene: &Scene, ports: &str) -> RollingSysbench {
        scene
            .topo
            .primary()
            .exec_root(&format!("CREATE DATABASE {ROLLING_DB}"))
            .await
            .expect("create the sysbench schema");
        let script = crate::procs::client_script("oltp_reconnect.lua");
        let script = script.to_str().expect("utf-8 path");
        // prepared through the first instance
        let first = ports.split(',').next().unwrap_or(ports);
        let mut prepare = crate::sysbench::sysbench(script, first, ROLLING_DB, 4, 10000);
        prepare.arg("prepare");
        crate::procs::run_async(prepare, Duration::from_secs(120))
            .await
            .assert_ok("sysbench prepare");
        let threads = 6;
        let mut run = crate::sysbench::sysbench(script, ports, ROLLING_DB, 4, 10000);
        // uniform: sysbench's default ("special") sends most accesses to
        // a few hot rows, where the clients deadlock each other now and
        // then (a failed transaction that no restart caused)
        run.arg(format!("--threads={threads}"))
            .arg("--rand-type=uniform")
            .arg(format!("--time={}", ROLLING_TIME.as_secs()))
            .arg("--report-interval=1")
            .arg("run");
        RollingSysbench {
            run: crate::procs::Running::spawn(run),
            started: Instant::now(),
            threads,
        }
    }

    /// Waits for sysbench's end and checks its account: it ran to the end
    /// (any error but a cut connection is fatal in the script, and a
    /// deadlock would show in `ignored errors`), every failed transaction
    /// was a cut connection, at most one per thread per restart.
    async fn finish(self) {
        assert!(
            self.started.elapsed() + Duration::from_secs(3) < ROLLING_TIME,
            "the rolling restart outlasted sysbench's {ROLLING_TIME:?}: make it longer"
        );
        let threads = self.threads;
        let run = self.run;
        let out =
            tokio::task::spawn_blocking(move || run.wait(ROLLING_TIME + Duration::from_secs(60)))
                .await
                .expect("join");
        out.assert_ok("sysbench through the instances being restarted");
        let cuts: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("sqlyard-cut "))
            .collect();
        let others: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("sqlyard-other "))
            .collect();
        let transactions = crate::sysbench::stat(&out.stdout, "transactions:");
        let ignored = crate::sysbench::stat(&out.stdout, "ignored errors:");
        let idle = out
            .stdout
            .lines()
            .filter(|l| l.starts_with('[') && l.contains(" tps: 0.00 "))
            .count();
        let mut errnos = std::collections::BTreeMap::<&str, usize>::new();
        for c in &cuts {
            *errnos
                .entry(c.trim_start_matches("sqlyard-cut "))
                .or_default() += 1;
        }
        println!(
            "sysbench: {transactions} transactions, {} cut (one per connection cut: {errnos:?}), {ignored} ignored errors, {idle} seconds without a transaction",
            cuts.len()
        );
        assert!(transactions > 500, "{}", out.stdout);
        // three restarts, each cutting the threads connected to it
        assert!(
            !cuts.is_empty(),
            "no connection was cut: the restarts did nothing?"
        );
        assert!(
            cuts.len() <= 3 * threads as usize,
            "more failed transactions than connections cut: {cuts:?}"
        );
        assert_eq!(
            ignored,
            cuts.len() as u64,
            "sysbench failed transactions beyond the connections cut (others: {others:?})\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

/// Starts router `i` of a scene on the ports it had (a restart).
async fn restart_router(scene: &Scene, i: usize, ports: (u16, u16, u16)) -> common::Router {
    let journal = scene.dir().join(format!("r{i}")).join("failover.journal");
    let endpoints = scene.etcd.endpoints();
    let mut text = scene.topo.router_config_toml(ports.0, ports.1, ports.2);
    edit_toml(&mut text, |doc| {
        set_failover(doc, &journal, &[]);
        set_cluster(doc, &endpoints, &format!("r{i}"));
        set_backup_dir(doc, &scene.dir().join(format!("r{i}")));
    });
    let config = sqlyard::config::Config::from_toml_str(&text, std::path::Path::new("r.toml"))
        .expect("valid config");
    let server = sqlyard::server::Server::start(config)
        .await
        .expect("router restarts on its ports");
    assert!(server.wait_ready(Duration::from_secs(30)).await);
    common::Router {
        server,
        port: ports.0,
    }
}

/// 6. Rolling restart of every instance under sysbench: one at a time, each
/// shut down (gracefully) and started again on its ports, clients
/// reconnecting. No failover; each client loses at most the transaction
/// cut by its router's restart; nothing acknowledged is lost.
///
/// Two loads run through it: sysbench oltp_read_write with its threads
/// spread over the three instances, reconnecting to the next one when cut
/// (`tests/clients/oltp_reconnect.lua`: Debian's sysbench crashes when its
/// own driver reconnects), and mysql_async writers on every instance,
/// whose acknowledged rows are then looked for on the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_every_router_under_load() {
    let mut scene = Scene::start(3).await;
    let configured = scene.topo.addresses();
    let primary = scene.topo.primary_index();
    let ports: Vec<String> = scene.routers.iter().map(|r| r.port.to_string()).collect();
    let bench = RollingSysbench::start(&scene, &ports.join(",")).await;
    let loads = scene.loads().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut restarts = Vec::new();
    for i in 0..3 {
        let r = scene.routers.remove(i);
        let ports = (r.port, admin_port(&r), r.server.metrics_addr().port());
        let t0 = Instant::now();
        r.stop().await;
        let r = restart_router(&scene, i, ports).await;
        scene.routers.insert(i, r);
        restarts.push(t0.elapsed());
        wait_one_leader(&scene.routers).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("restarts took {restarts:?}");
    bench.finish().await;
    let mut reports = Vec::new();
    for (i, l) in loads.into_iter().enumerate() {
        assert!(
            l.wait_ok_write_after(Instant::now(), Duration::from_secs(10))
                .await
                .is_some(),
            "r{i}: writes after the rolling restart"
        );
        let report = l.stop().await;
        println!("r{i}: {}", report.summary());
        let failed: Vec<&load::LoadError> = report
            .errors
            .iter()
            .filter(|e| e.op != load::Op::Connect)
            .collect();
        // 4 workers, one restart of their router each
        assert!(failed.len() <= 4, "r{i}: {failed:#?}");
        for e in failed {
            let m = e.message.to_lowercase();
            assert!(
                m.contains("1053")
                    || m.contains("connection")
                    || m.contains("broken pipe")
                    || m.contains("unexpected eof")
                    || m.contains("input/output"),
                "r{i}: not a cut connection: {e:?}"
            );
        }
        reports.push(report);
    }
    for r in &scene.routers {
        assert_no_failover(admin_port(r), "after the rolling restart").await;
    }
    assert!(shared_journal(&scene.etcd).await.is_empty());
    assert_eq!(configured[scene.topo.primary_index()], configured[primary]);
    assert_reports_present(&scene.topo, primary, &reports).await;
    scene.stop().await;
}

/// An instance restarted while etcd is down trusts only its own monitor,
/// and never elects the primary its journal (the copy of the shared one)
/// says was replaced. Here the replaced primary comes back writable and
/// replicating from no one (without etcd no leader can fence it): two
/// writable servers. The restarted instance keeps it out of the election,
/// so writes through it reach the new primary, and only it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_restarted_with_etcd_down_never_elects_the_replaced_primary() {
    let mut scene = Scene::start(2).await;
    let configured = scene.topo.addresses();
    let old = scene.topo.primary_index();
    scene.topo.kill(old).unwrap();
    let leader = scene.leader;
    let rec = wait_failover_done(admin_port(&scene.routers[leader]), 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new = node_of(&configured, &rec.new_primary);
    scene.topo.set_primary_index(new).unwrap();
    wait_writes_everywhere(&scene.routers, 400).await;
    let follower = 1 - leader;
    let follower_admin = admin_port(&scene.routers[follower]);
    wait_until(
        Duration::from_secs(10),
        "the follower's journal has the failover",
        || async { failover_count(follower_admin).await >= 1 },
    )
    .await;

    for m in 0..3 {
        scene.etcd.stop_member(m);
    }
    wait_until(Duration::from_secs(15), "no leader anywhere", || async {
        scene.routers.iter().all(|r| {
            let v = r.server.ctx.cluster.get().unwrap().view();
            !v.etcd_up && !v.is_leader()
        })
    })
    .await;
    // the replaced primary is back, writable, replicating from no one
    scene.topo.restart(old).await.unwrap();
    let mut c = scene.topo.node(old).unwrap().root_conn().await.unwrap();
    c.query_drop("STOP SLAVE").await.unwrap();
    c.query_drop("RESET SLAVE ALL").await.unwrap();
    c.query_drop("SET GLOBAL read_only = OFF").await.unwrap();
    let _ = c.disconnect().await;

    let r = scene.routers.remove(follower);
    let ports = (r.port, admin_port(&r), r.server.metrics_addr().port());
    r.stop().await;
    let r = restart_router(&scene, follower, ports).await;
    let port = r.port;
    scene.routers.insert(follower, r);
    let t0 = Instant::now();
    loop {
        let last = match write_through(
            port,
            &format!("INSERT INTO {TABLE} (id, worker) VALUES (777, 0)"),
        )
        .await
        {
            Ok(()) => break,
            Err(e) => e,
        };
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no write through the restarted instance: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "restarted with etcd down: first write after {:?}",
        t0.elapsed()
    );
    let on = |n: usize| {
        let opts = scene.topo.node(n).unwrap().root_opts();
        async move {
            load::missing_on(opts, TABLE, &[777])
                .await
                .unwrap()
                .is_empty()
        }
    };
    assert!(on(new).await, "the write is on the new primary");
    assert!(!on(old).await, "the replaced primary got nothing");
    let rows = show_servers(follower_admin).await;
    let row = server_row(&rows, &configured[old]);
    assert_eq!(cell(row, "fenced"), "yes", "{row:?}");
    for m in 0..3 {
        scene.etcd.start_member(m);
    }
    scene.stop().await;
}

/// The quarantine column of `SHOW AUTOFAILOVER` on `router`.
async fn quarantined_on(router: &common::Router) -> String {
    let rows = admin_sql(admin_port(router), "SHOW AUTOFAILOVER")
        .await
        .unwrap_or_default();
    rows.first()
        .map(|r| cell(r, "quarantined").to_string())
        .unwrap_or_default()
}

/// Reads through every router but the first, on new connections, marked
/// with `mark`; how many of them the server at `node` logged (its own
/// general log).
async fn marked_reads(scene: &Scene, node: usize, mark: &str) -> usize {
    for r in &scene.routers[1..] {
        for _ in 0..15 {
            let mut c = r.conn().await;
            let _: Vec<u64> = c
                .query(format!("SELECT COUNT(*) FROM {TABLE} WHERE '{mark}' <> ''"))
                .await
                .expect("a read through sqlyard");
            c.disconnect().await.ok();
        }
    }
    let n: Option<u64> = scene
        .topo
        .node(node)
        .unwrap()
        .query_root_first(&format!(
            "SELECT COUNT(*) FROM mysql.general_log WHERE command_type IN ('Query', 'Execute') \
             AND argument LIKE '%{mark}%' AND user_host LIKE 'app%'"
        ))
        .await
        .unwrap();
    n.unwrap_or(0) as usize
}

/// A backup one instance takes drains its source on every instance
/// (`backup.drain` in cluster mode): the others stop sending it reads
/// within a second, as its own general log shows, and send it reads again
/// once the backup is over. The dump is held by a write lock the test
/// takes on the source, so that it lasts as long as the test needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_on_one_instance_drains_its_source_on_every_instance() {
    let scene = Scene::start(3).await;
    let topo = &scene.topo;
    let node = topo.replica_indexes()[0];
    let source = topo.addresses()[node].clone();
    topo.primary()
        .exec_root("CREATE DATABASE bk; CREATE TABLE bk.t (id INT PRIMARY KEY); INSERT INTO bk.t VALUES (1)")
        .await
        .unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
    let server = topo.node(node).unwrap();
    server
        .exec_root("SET GLOBAL log_output = 'TABLE'; SET GLOBAL general_log = 1")
        .await
        .unwrap();
    // the check can fail: before the backup, the others read from it
    let before = marked_reads(&scene, node, "probe-before").await;
    assert!(before > 0, "no read reached {source} before the backup");

    let mut lock = server.root_conn().await.unwrap();
    lock.query_drop("LOCK TABLES bk.t WRITE").await.unwrap();
    let rows = admin_sql(
        admin_port(&scene.routers[0]),
        &format!("BACKUP FROM '{source}'"),
    )
    .await
    .expect("BACKUP on r0");
    let id = cell(&rows[0], "id").to_string();
    let t0 = Instant::now();
    for (i, r) in scene.routers.iter().enumerate() {
        while state_on(r, &source).await != "drain" {
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "r{i} does not drain {source} during r0's backup"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    println!(
        "every instance drained the source {:?} after BACKUP",
        t0.elapsed()
    );
    assert!(
        scene.routers[1]
            .server
            .ctx
            .topology
            .load()
            .primary_shares_reads,
        "the primary takes the drained replica's share on r1 too"
    );
    let during = marked_reads(&scene, node, "probe-during").await;
    assert_eq!(
        during, 0,
        "{source} served reads from r1/r2 while r0's backup drained it"
    );
    let rows = admin_sql(admin_port(&scene.routers[0]), "SHOW BACKUPS")
        .await
        .unwrap();
    let row = rows
        .iter()
        .find(|r| cell(r, "id") == id)
        .expect("the backup is listed");
    assert_eq!(cell(row, "state"), "running", "{row:?}");

    lock.query_drop("UNLOCK TABLES").await.unwrap();
    let t0 = Instant::now();
    loop {
        let rows = admin_sql(admin_port(&scene.routers[0]), "SHOW BACKUPS")
            .await
            .unwrap();
        let row = rows.iter().find(|r| cell(r, "id") == id).expect("listed");
        if cell(row, "state") != "running" {
            assert_eq!(cell(row, "state"), "complete", "{row:?}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "backup still running: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t0 = Instant::now();
    for (i, r) in scene.routers.iter().enumerate() {
        while state_on(r, &source).await != "online" {
            assert!(
                t0.elapsed() < Duration::from_secs(3),
                "r{i} still drains {source} after the backup"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        !scene.routers[1]
            .server
            .ctx
            .topology
            .load()
            .primary_shares_reads
    );
    // the lag the paused SQL thread left must go before it is read again
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
    let t0 = Instant::now();
    while marked_reads(&scene, node, "probe-after").await == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{source} gets no reads after the backup"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    lock.disconnect().await.ok();
    scene.stop().await;
}

/// A server one leader quarantined stays quarantined under the next one.
/// (The soak at 293bb9b ended with no candidate left: a new leader, which
/// had never heard of the previous leader's quarantine, repointed the
/// server and broke its replication.) A replica holding a transaction the
/// primary never had is left alone by the failover's repoint, listed on
/// every instance, and after the leader is gone and the old primary has
/// rejoined, a second failover under the new leader still leaves it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_outlives_the_leader_that_made_it() {
    let mut scene = Scene::start(3).await;
    let configured = scene.topo.addresses();
    let first = scene.topo.primary_index();
    let replicas = scene.topo.replica_indexes();
    let (bad, good) = (replicas[0], replicas[1]);
    let node = scene.topo.node(bad).unwrap();
    node.exec_root("CREATE DATABASE errant_here").await.unwrap();
    let binlog_bad = node.gtid_binlog_pos().await.unwrap();
    println!("node {bad} holds an errant transaction: {binlog_bad}");

    scene.topo.kill(first).unwrap();
    let admin = admin_port(&scene.routers[scene.leader]);
    let rec = wait_failover_done(admin, 0, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(rec.new_primary, configured[good], "{rec:#?}");
    let journal = serde_json::to_string(&shared_journal(&scene.etcd).await).unwrap();
    assert!(
        journal.contains(&format!(
            "{} -> {}: NOT repointed",
            configured[bad], configured[good]
        )),
        "{journal}"
    );
    for (i, r) in scene.routers.iter().enumerate() {
        wait_until(
            Duration::from_secs(5),
            &format!("r{i} lists the quarantine"),
            || async { quarantined_on(r).await.contains(&configured[bad]) },
        )
        .await;
    }

    // the leader goes; another one leads and still knows
    let gone = scene.routers.remove(scene.leader);
    gone.stop().await;
    scene.leader = wait_one_leader(&scene.routers).await;
    let leader = &scene.routers[scene.leader];
    let admin = admin_port(leader);
    assert!(quarantined_on(leader).await.contains(&configured[bad]));

    // the old primary comes back and rejoins; then the primary is lost again
    scene.topo.set_primary_index(good).unwrap();
    scene.topo.restart(first).await.unwrap();
    wait_until(
        Duration::from_secs(60),
        "the old primary rejoined under the new leader",
        || async { replicates_from(&scene.topo, first, good).await.is_ok() },
    )
    .await;
    wait_reads_eligible(admin, &[configured[first].clone()], Duration::from_secs(30)).await;
    let before = failover_count(admin).await;
    scene.topo.kill(good).unwrap();
    let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(rec.new_primary, configured[first], "{rec:#?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        replicates_from(&scene.topo, bad, first).await.is_err(),
        "the quarantined server was repointed: {rec:#?}"
    );
    assert_eq!(
        node.gtid_binlog_pos().await.unwrap(),
        binlog_bad,
        "the quarantined server was written to"
    );
    assert!(quarantined_on(leader).await.contains(&configured[bad]));

    // REBUILD SERVER typed on a follower runs on the leader: the primary
    // is refused there, and the quarantined server is rebuilt from a fresh
    // dump of a replica and leaves the quarantine on every instance
    scene.topo.set_primary_index(first).unwrap();
    scene.topo.restart(good).await.unwrap();
    wait_until(
        Duration::from_secs(60),
        "the killed primary rejoined",
        || async { replicates_from(&scene.topo, good, first).await.is_ok() },
    )
    .await;
    wait_reads_eligible(admin, &[configured[good].clone()], Duration::from_secs(30)).await;
    let leader_name = leader
        .server
        .ctx
        .cluster
        .get()
        .unwrap()
        .instance()
        .to_string();
    let follower = admin_port(&scene.routers[(scene.leader + 1) % scene.routers.len()]);
    let err = admin_sql(follower, &format!("REBUILD SERVER '{}'", configured[first]))
        .await
        .unwrap_err();
    assert!(
        err.contains("primary") && err.contains(&format!("forwarded to the leader, {leader_name}")),
        "{err}"
    );
    let rows = admin_sql(
        follower,
        &format!(
            "REBUILD SERVER '{}' FROM '{}'",
            configured[bad], configured[good]
        ),
    )
    .await
    .expect("REBUILD SERVER on a follower");
    assert_eq!(cell(&rows[0], "ran_by"), leader_name, "{rows:#?}");
    let row =
        crate::rebuilds::wait_rebuilt(admin, &configured[bad], Duration::from_secs(180)).await;
    assert_eq!(cell(&row, "state"), "succeeded", "{row:#?}");
    assert_eq!(cell(&row, "id"), cell(&rows[0], "id"));
    // SHOW REBUILDS on the follower (another backup directory) shows it,
    // from the copy the leader keeps in etcd
    let listed = admin_sql(follower, "SHOW REBUILDS").await.unwrap();
    let there = listed
        .iter()
        .find(|r| cell(r, "id") == cell(&row, "id"))
        .unwrap_or_else(|| panic!("the follower's SHOW REBUILDS lacks it: {listed:#?}"));
    assert_eq!(cell(there, "state"), "succeeded", "{there:#?}");
    assert_eq!(cell(there, "ran_by"), leader_name, "{there:#?}");
    assert_eq!(cell(there, "steps"), cell(&row, "steps"));
    replicates_from(&scene.topo, bad, first)
        .await
        .expect("the rebuilt server replicates from the primary");
    for (i, r) in scene.routers.iter().enumerate() {
        wait_until(
            Duration::from_secs(5),
            &format!("r{i} no longer lists the quarantine"),
            || async { !quarantined_on(r).await.contains(&configured[bad]) },
        )
        .await;
    }
    scene.stop().await;
}
