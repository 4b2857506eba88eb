//! sqlyard promises that a lost primary is replaced without losing an
//! acknowledged write, that a network blip or a lost replica causes no
//! failover, that stale or divergent data is never promoted and that an old
//! primary never comes back as a second writer. These tests check that on
//! real MariaDB topologies (semi-sync on, long semi-sync timeout) with real
//! faults: kill -9, SIGSTOP, a cut link between sqlyard and the primary only
//! (a fault-injecting TCP proxy), stopped replication, an errant
//! transaction, a planned switchover under load, and a sqlyard killed in the
//! middle of a failover. Each test starts its own topology (the Topology
//! handle kills its servers when dropped, so a failing test cleans up too).
//!
//! The measured write unavailability is printed (`--nocapture` shows it).
use crate::{common, failover_support, fault_proxy, load, router_process};

use std::time::{Duration, Instant};

use failover_support::*;
use fault_proxy::{FaultProxy, Mode};
use load::{assert_all_present, LoadReport};
use mysql_async::prelude::Queryable;

// ---------------------------------------------------------------- scenarios

/// kill -9 the primary under a read/write load, three times in a row, the
/// role moving each time (the killed node restarts and rejoins in between).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_primary_three_times_under_load() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |_| {}).await;
    let admin = admin_port(&router);
    let configured = topo.addresses();
    prepare_table(&topo).await;
    let mut primaries = vec![topo.primary_index()];

    for round in 0..3u64 {
        let old = topo.primary_index();
        // sqlyard has measured the replicas' lag (as in production, where
        // the primary does not die in the router's first second)
        wait_replicas_eligible(&topo, admin).await;
        let before = failover_count(admin).await;
        let load = running_load(load_options(&router, round * 10_000_000)).await;

        let fault = Instant::now();
        topo.kill(old).unwrap();
        let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
        assert_eq!(rec.outcome, "succeeded", "round {round}: {rec:#?}");
        assert_eq!(rec.kind, "automatic", "round {round}: {rec:#?}");
        assert_eq!(rec.old_primary, configured[old], "round {round}: {rec:#?}");
        let new = node_of(&configured, &rec.new_primary);
        assert_ne!(new, old);

        let resumed = load
            .wait_ok_write_after(fault, Duration::from_secs(30))
            .await;
        assert!(resumed.is_some(), "round {round}: writes never resumed");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let report = load.stop().await;
        print_unavailability(&format!("kill round {round}"), &report, fault);
        println!(
            "kill round {round}: detection {:?} ms, failover {:?} ms",
            rec.detection_ms, rec.duration_ms
        );

        topo.set_primary_index(new).unwrap();
        assert_eq!(
            assert_consistent(&topo, &[], Duration::from_secs(20)).await,
            new
        );
        assert_all_present(
            topo.node(new).unwrap().root_opts(),
            TABLE,
            &report.acknowledged,
            &format!("round {round}, new primary node {new}"),
        )
        .await;

        // the old primary restarts (read-only) and is rejoined as a replica,
        // unless the kill left a write in its binlog that no replica got
        topo.restart(old).await.unwrap();
        let returned = wait_rejoined(&topo, admin, old, new, Duration::from_secs(60)).await;
        primaries.push(new);
        if returned == Returned::Quarantined {
            // right, but this topology has one replica left: the rounds end
            assert_eq!(
                assert_consistent(&topo, &[old], Duration::from_secs(20)).await,
                new
            );
            println!("round {round}: the old primary was quarantined; the last rounds are skipped");
            break;
        }
        assert_eq!(
            assert_consistent(&topo, &[], Duration::from_secs(20)).await,
            new
        );
    }
    println!("primaries over the rounds: {primaries:?}");
    router.stop().await;
    topo.stop().await.unwrap();
}

/// SIGSTOP the primary under load (nothing resets the TCP connections):
/// writes resume on a replica after the silence grace; after SIGCONT the
/// old primary is fenced, then rejoined or quarantined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_primary_is_replaced_then_fenced() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |_| {}).await;
    let admin = admin_port(&router);
    let configured = topo.addresses();
    prepare_table(&topo).await;
    let old = topo.primary_index();
    let before = failover_count(admin).await;
    let mut options = load_options(&router, 0);
    options.op_timeout = Duration::from_secs(15);
    let load = running_load(options).await;

    // The fence is kept ready for the primary once the detector finds it
    // healthy (a freeze before that leaves only the fencing on answer).
    wait_until(
        Duration::from_secs(20),
        "SHOW AUTOFAILOVER shows the fence kept ready for the primary",
        || async {
            admin_sql(admin, "SHOW AUTOFAILOVER")
                .await
                .ok()
                .and_then(|rows| rows.first().map(|r| cell(r, "fence_ahead").to_string()))
                .is_some_and(|f| f == configured[old])
        },
    )
    .await;
    let sampler = crate::writable::WritableSampler::start(&topo);
    let fault = Instant::now();
    topo.freeze(old).unwrap();
    let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    assert_eq!(rec.old_primary, configured[old], "{rec:#?}");

    let new = node_of(&configured, &rec.new_primary);
    assert_ne!(new, old);
    let resumed = load
        .wait_ok_write_after(fault, Duration::from_secs(30))
        .await
        .expect("writes resume on a replica");
    // silence acts only after the grace (minus one probe interval)
    assert!(
        resumed.duration_since(fault) + Duration::from_secs(1) >= SILENCE_GRACE,
        "writes moved {:?} after a freeze: faster than silence_grace",
        resumed.duration_since(fault)
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let report = load.stop().await;
    print_unavailability("freeze", &report, fault);
    println!(
        "freeze: detection {:?} ms, failover {:?} ms, phases {:?}",
        rec.detection_ms,
        rec.duration_ms,
        rec.row.get("phases")
    );
    topo.set_primary_index(new).unwrap();
    assert_eq!(
        assert_consistent(&topo, &[old], Duration::from_secs(20)).await,
        new
    );
    assert_all_present(
        topo.node(new).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
        "after the freeze",
    )
    .await;

    topo.resume(old).unwrap();
    let thawed = Instant::now();
    let node = topo.node(old).unwrap();
    // The fence sent ahead waits in the server's socket and runs as the
    // server runs again. A new session may still be answered first: after
    // a freeze every thread of the server wakes at once, in no fixed order
    // (a CI run saw one `read_only=OFF` answer), so what is asserted is
    // how soon it is read-only, not that no one saw it writable.
    let mut said_off = 0;
    let on_after = loop {
        match tokio::time::timeout(Duration::from_secs(2), node.is_read_only()).await {
            Ok(Ok(true)) => break thawed.elapsed(),
            Ok(Ok(false)) => said_off += 1,
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        assert!(
            thawed.elapsed() < Duration::from_secs(20),
            "the thawed old primary is still writable"
        );
    };
    println!(
        "freeze: read_only=ON {on_after:?} after the thaw ({said_off} answers said OFF first)"
    );
    wait_until(
        Duration::from_secs(10),
        "SHOW FAILOVERS shows the fence sent ahead",
        || async {
            let done = newest_failover(admin).await;
            done.row
                .get("fencing")
                .cloned()
                .flatten()
                .is_some_and(|f| f.contains("sent ahead at the failover"))
        },
    )
    .await;
    // Fenced. If this times out: in-flight commits on the old primary wait
    // for semi-sync acks, and `SET GLOBAL read_only=ON` waits for them
    // unless the semi-sync source side is turned off first.
    wait_until(
        Duration::from_secs(20),
        "the old primary is fenced (read_only=ON)",
        || async { node.is_read_only().await.unwrap_or(false) },
    )
    .await;
    // Then rejoined, or quarantined with an alert.
    let old_address = configured[old].clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let rejoined = loop {
        if replicates_from(&topo, old, new).await.is_ok() {
            break true;
        }
        let rows = show_servers(admin).await;
        let row = server_row(&rows, &old_address);
        if !cell(row, "alert").is_empty() || cell(row, "role").contains("quarantin") {
            println!("freeze: old primary quarantined: {row:?}");
            break false;
        }
        assert!(
            Instant::now() < deadline,
            "old primary neither rejoined nor quarantined: {row:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(node.is_read_only().await.unwrap(), "still fenced");
    let two = sampler
        .two_or_more
        .load(std::sync::atomic::Ordering::Relaxed);
    let samples = sampler.samples.load(std::sync::atomic::Ordering::Relaxed);
    let events = sampler.events.lock().unwrap().clone();
    sampler.finish().await;
    assert_eq!(
        two, 0,
        "{two} of {samples} samples saw two writable servers: (node, unix ms) {events:?}"
    );
    let skip = if rejoined { vec![] } else { vec![old] };
    assert_eq!(
        assert_consistent(&topo, &skip, Duration::from_secs(20)).await,
        new
    );
    assert_all_present(
        topo.node(new).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
        "after SIGCONT",
    )
    .await;
    router.stop().await;
    topo.stop().await.unwrap();
}

/// A cut link between sqlyard and the primary while the replicas still
/// replicate from it: no failover, for longer than silence_grace + 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_between_sqlyard_and_primary_only_is_no_failover() {
    let topo = start_topology().await;
    let primary = topo.primary_index();
    let real = topo.node(primary).unwrap().address();
    let proxy = FaultProxy::start(&real).await.unwrap();
    let via = proxy.address();
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |doc| {
        set_server(doc, &real, "address", &via);
    })
    .await;
    let admin = admin_port(&router);
    prepare_table(&topo).await;
    write_through(
        router.port,
        &format!("INSERT INTO {TABLE} (id, worker) VALUES (1, 0)"),
    )
    .await
    .expect("a write through sqlyard before the partition");
    let before_row = server_row(&show_servers(admin).await, &via).clone();
    assert_eq!(cell(&before_row, "reachable"), "yes", "{before_row:?}");

    proxy.set_mode(Mode::Blackhole);
    let cut = Instant::now();
    let mut saw_unreachable = None;
    let mut last_row = before_row.clone();
    while cut.elapsed() < SILENCE_GRACE + Duration::from_secs(6) {
        let rows = show_servers(admin).await;
        let row = server_row(&rows, &via);
        if cell(row, "reachable") == "no" && saw_unreachable.is_none() {
            saw_unreachable = Some(row.clone());
        }
        last_row = row.clone();
        assert_no_failover(admin, "during the partition").await;
        assert_eq!(
            check_consistent(&topo, &[]).await,
            Ok(primary),
            "the servers' topology is unchanged during the partition"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let row = saw_unreachable.expect("sqlyard saw the primary unreachable through the cut link");
    println!("partition: SHOW SERVERS row of the primary: {row:?}");
    // "logged, counted, and shown in SHOW SERVERS"
    for column in ["alert", "detector"] {
        if row.contains_key(column) {
            let shown = [cell(&row, "alert"), cell(&row, "detector")].join(" ");
            assert!(
                !shown.trim().is_empty()
                    && shown
                        != [cell(&before_row, "alert"), cell(&before_row, "detector")].join(" "),
                "the lost primary is shown in SHOW SERVERS: {row:?}"
            );
        }
    }

    // after the grace: lost by sqlyard, not confirmed by the replicas
    assert_eq!(
        cell(&last_row, "detector"),
        "lost-unconfirmed",
        "{last_row:?}"
    );
    assert!(
        cell(&last_row, "alert").contains("replicas still replicate"),
        "{last_row:?}"
    );
    assert!(router.server.ctx.failover.status().unconfirmed_losses >= 1);
    let m = common::scrape_metrics(&router).await;
    assert!(
        m.lines().any(|l| l.starts_with("sqlyard_primary_lost_unconfirmed_total ")
            && !l.ends_with(" 0")),
        "counted"
    );

    proxy.set_mode(Mode::Pass);
    wait_until(
        Duration::from_secs(20),
        "writes through sqlyard after the link is back",
        || async {
            write_through(
                router.port,
                &format!("INSERT INTO {TABLE} (id, worker) VALUES (2, 0)"),
            )
            .await
            .is_ok()
        },
    )
    .await;
    assert_no_failover(admin, "after the partition").await;
    assert_eq!(
        assert_consistent(&topo, &[], Duration::from_secs(10)).await,
        primary
    );
    router.stop().await;
    topo.stop().await.unwrap();
}

/// A killed replica: its reads move to the other replica; no failover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_replica_moves_reads_and_is_no_failover() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |_| {}).await;
    let admin = admin_port(&router);
    let primary = topo.primary_index();
    let replicas = topo.replica_indexes();
    let (lost, kept) = (replicas[1], replicas[0]);
    let lost_id = topo.node(lost).unwrap().server_id();
    let kept_id = topo.node(kept).unwrap().server_id();
    prepare_table(&topo).await;
    let configured = topo.addresses();
    wait_reads_eligible(
        admin,
        &[configured[lost].clone(), configured[kept].clone()],
        Duration::from_secs(20),
    )
    .await;

    let ids = read_server_ids(router.port, 30).await.unwrap();
    assert!(
        ids.iter().all(|i| *i == lost_id || *i == kept_id),
        "reads go to the replicas: {ids:?}"
    );

    let load = running_load(load_options(&router, 0)).await;
    topo.kill(lost).unwrap();
    let killed = Instant::now();
    // every read lands on the remaining replica within a few monitor rounds
    let deadline = killed + Duration::from_secs(15);
    loop {
        let ids = read_server_ids(router.port, 20).await;
        if matches!(&ids, Ok(ids) if ids.iter().all(|i| *i == kept_id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "reads still not all on node {kept}: {ids:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("replica loss: reads moved after {:?}", killed.elapsed());
    // and stay there, without errors, past the silence grace
    tokio::time::sleep(SILENCE_GRACE + Duration::from_secs(2)).await;
    let ids = read_server_ids(router.port, 50)
        .await
        .expect("reads keep working");
    assert!(ids.iter().all(|i| *i == kept_id), "{ids:?}");
    let report = load.stop().await;
    println!("replica loss: {}", report.summary());
    // writes never depended on the lost replica (a read in flight there may fail)
    assert!(
        report.errors.iter().all(|e| e.op == load::Op::Read),
        "{}",
        report.summary()
    );
    assert!(report.unavailability(killed).first_ok_after.is_some());
    assert_all_present(
        topo.node(primary).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
        "the primary",
    )
    .await;
    write_through(
        router.port,
        &format!("INSERT INTO {TABLE} (id, worker) VALUES (999999999, 0)"),
    )
    .await
    .expect("writes keep working");
    assert_no_failover(admin, "after losing a replica").await;
    assert_eq!(
        assert_consistent(&topo, &[lost], Duration::from_secs(10)).await,
        primary
    );
    router.stop().await;
    topo.stop().await.unwrap();
}

/// Replication stopped on every replica, then the primary dies: nothing
/// may be promoted; a refused failover is recorded and an alert raised;
/// reads keep running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_stale_candidates_means_no_promotion_and_an_alert() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let replicas = topo.replica_indexes();
    let (stale, never) = (replicas[0], replicas[1]);
    let never_addr = topo.node(never).unwrap().address();
    // One replica's replication is broken before the loss; the other is
    // healthy but may never be promoted.
    let router = start_router(&topo, journal.path(), |doc| {
        set_server(doc, &never_addr, "promotion", "never");
    })
    .await;
    let admin = admin_port(&router);
    let configured = topo.addresses();
    let primary = topo.primary_index();
    prepare_table(&topo).await;
    topo.node(stale)
        .unwrap()
        .exec_root("STOP SLAVE")
        .await
        .unwrap();
    // sqlyard has seen the stopped threads before the loss
    wait_until(
        Duration::from_secs(10),
        "SHOW SERVERS shows stopped replication",
        || async {
            let rows = show_servers(admin).await;
            cell(server_row(&rows, &configured[stale]), "io_thread") == "stopped"
        },
    )
    .await;
    let before = failover_count(admin).await;

    topo.kill(primary).unwrap();
    let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "refused", "{rec:#?}");
    println!("stale candidates: {rec:#?}");
    // and it stays that way
    tokio::time::sleep(SILENCE_GRACE + Duration::from_secs(2)).await;
    assert_eq!(
        topo.writable_nodes().await.unwrap(),
        Vec::<usize>::new(),
        "a stale replica was made writable"
    );
    let list = failovers(admin).await.unwrap();
    assert!(list.iter().all(|r| r.outcome != "succeeded"), "{list:#?}");
    let rows = show_servers(admin).await;
    let alert = cell(server_row(&rows, &configured[stale]), "alert");
    assert!(
        alert.contains("not promotable"),
        "an alert for the stale replica in SHOW SERVERS: {rows:#?}"
    );
    // reads keep running on the healthy replica
    let ids = read_server_ids(router.port, 10)
        .await
        .expect("reads keep running");
    assert!(
        ids.iter()
            .all(|i| *i == topo.node(never).unwrap().server_id()),
        "{ids:?}"
    );
    router.stop().await;
    topo.stop().await.unwrap();
}

/// The old primary restarts after a failover: it is rejoined as a replica
/// of the new primary and receives its writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_old_primary_is_rejoined_as_replica() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |_| {}).await;
    let admin = admin_port(&router);
    let configured = topo.addresses();
    prepare_table(&topo).await;
    let old = topo.primary_index();
    let before = failover_count(admin).await;
    let load = running_load(load_options(&router, 0)).await;
    topo.kill(old).unwrap();
    let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new = node_of(&configured, &rec.new_primary);
    topo.set_primary_index(new).unwrap();
    load.wait_ok_write_after(Instant::now(), Duration::from_secs(30))
        .await
        .expect("writes resume");
    let report = load.stop().await;

    topo.restart(old).await.unwrap();
    if wait_rejoined(&topo, admin, old, new, Duration::from_secs(60)).await == Returned::Quarantined
    {
        // the kill left a write (a client's or sqlyard's heartbeat) in the
        // old primary's binlog that no replica got: quarantine is right,
        // and there is no rejoin to check in this run
        write_through(
            router.port,
            &format!("INSERT INTO {TABLE} (id, worker) VALUES (99999999, 0)"),
        )
        .await
        .expect("a write with the old primary quarantined");
        router.stop().await;
        topo.stop().await.unwrap();
        return;
    }
    write_through(
        router.port,
        &format!("INSERT INTO {TABLE} (id, worker) VALUES (99999999, 0)"),
    )
    .await
    .expect("a write after the rejoin");
    let pos = topo.node(new).unwrap().gtid_binlog_pos().await.unwrap();
    topo.node(old)
        .unwrap()
        .wait_gtid_applied(&pos, Duration::from_secs(30))
        .await
        .expect("the rejoined old primary applies the new primary's writes");
    assert_eq!(
        assert_consistent(&topo, &[], Duration::from_secs(20)).await,
        new
    );
    assert_all_present(
        topo.node(old).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
        "the rejoined old primary",
    )
    .await;
    // sqlyard sees it as a replica at its next polls
    wait_until(
        Duration::from_secs(10),
        "SHOW SERVERS shows the old primary as a replica, unfenced",
        || async {
            let rows = show_servers(admin).await;
            let row = server_row(&rows, &configured[old]);
            cell(row, "role") == "replica" && cell(row, "fenced") == "no"
        },
    )
    .await;
    router.stop().await;
    topo.stop().await.unwrap();
}

/// An errant transaction written into the old primary before it comes back
/// (while a proxy keeps it away from sqlyard): it is quarantined, never
/// rejoined, and the errant GTID is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_primary_with_errant_transaction_is_quarantined() {
    let topo = start_topology().await;
    let old = topo.primary_index();
    let real = topo.node(old).unwrap().address();
    let proxy = FaultProxy::start(&real).await.unwrap();
    let via = proxy.address();
    let mut configured = topo.addresses();
    configured[old] = via.clone();
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |doc| {
        set_server(doc, &real, "address", &via);
    })
    .await;
    let admin = admin_port(&router);
    prepare_table(&topo).await;
    let before = failover_count(admin).await;
    let load = running_load(load_options(&router, 0)).await;

    topo.kill(old).unwrap();
    proxy.set_mode(Mode::Refuse);
    let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
    assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
    let new = node_of(&configured, &rec.new_primary);
    topo.set_primary_index(new).unwrap();
    load.wait_ok_write_after(Instant::now(), Duration::from_secs(30))
        .await
        .expect("writes resume");
    let report = load.stop().await;

    // The old primary restarts out of sqlyard's sight and gets a
    // transaction the new primary never had.
    topo.restart(old).await.unwrap();
    let node = topo.node(old).unwrap();
    node.exec_root(&format!(
        "INSERT INTO {TABLE} (id, worker) VALUES (999999999, 999)"
    ))
    .await
    .unwrap();
    let errant = node.gtid_binlog_pos().await.unwrap();
    let errant = errant
        .split(',')
        .find(|g| g.split('-').nth(1) == Some(&node.server_id().to_string()))
        .unwrap_or_else(|| panic!("errant GTID in {errant}"))
        .trim()
        .to_string();
    println!("errant GTID: {errant}");
    let binlog_before = node.gtid_binlog_pos().await.unwrap();

    proxy.set_mode(Mode::Pass);
    // reported by GTID in SHOW SERVERS or SHOW FAILOVERS
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let servers = show_servers(admin).await;
        let history = admin_sql(admin, "SHOW FAILOVERS").await.unwrap_or_default();
        let mentioned = servers
            .iter()
            .chain(history.iter())
            .flat_map(|r| r.values())
            .any(|v| v.as_deref().is_some_and(|v| v.contains(&errant)));
        if mentioned {
            println!("errant: reported: {:?}", server_row(&servers, &via));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "errant GTID {errant} not reported: {servers:#?} {history:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // quarantined: read-only, not replicating, and sqlyard writes nothing there
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        node.is_read_only().await.unwrap(),
        "quarantined = read-only"
    );
    assert!(
        replicates_from(&topo, old, new).await.is_err(),
        "a server with an errant transaction was rejoined"
    );
    write_through(
        router.port,
        &format!("INSERT INTO {TABLE} (id, worker) VALUES (888888888, 0)"),
    )
    .await
    .expect("writes go to the new primary");
    assert_eq!(node.gtid_binlog_pos().await.unwrap(), binlog_before);
    assert_eq!(
        assert_consistent(&topo, &[old], Duration::from_secs(20)).await,
        new
    );
    assert_all_present(
        topo.node(new).unwrap().root_opts(),
        TABLE,
        &report.acknowledged,
        "new primary",
    )
    .await;
    router.stop().await;
    topo.stop().await.unwrap();
}

/// SWITCHOVER under load: no client error, a short write pause; then
/// SWITCHOVER TO the old primary moves the role back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_under_load_has_no_client_errors() {
    let topo = start_topology().await;
    let journal = tempfile::tempdir().unwrap();
    let router = start_router(&topo, journal.path(), |_| {}).await;
    let admin = admin_port(&router);
    let configured = topo.addresses();
    prepare_table(&topo).await;
    let first = topo.primary_index();

    for (round, target) in [(0u64, None), (1, Some(first))] {
        let old = topo.primary_index();
        let before = failover_count(admin).await;
        let load = running_load(load_options(&router, round * 10_000_000)).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let sql = match target {
            None => "SWITCHOVER".to_string(),
            Some(t) => format!("SWITCHOVER TO '{}'", configured[t]),
        };
        let issued = Instant::now();
        admin_sql(admin, &sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let rec = wait_failover_done(admin, before, FAILOVER_LIMIT).await;
        let done = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let report = load.stop().await;
        assert_eq!(rec.kind, "switchover", "{rec:#?}");
        assert_eq!(rec.outcome, "succeeded", "{rec:#?}");
        let new = node_of(&configured, &rec.new_primary);
        assert_ne!(new, old);
        if let Some(t) = target {
            assert_eq!(new, t, "SWITCHOVER TO picks the target");
        }
        let pause = report.longest_gap(issued, done + Duration::from_millis(500));
        println!(
            "{sql}: write pause {pause:?}, longest write {:?}, switchover {:?} ms; {}",
            report.max_write_latency(),
            rec.duration_ms,
            report.summary()
        );
        assert_eq!(
            report.error_count(),
            0,
            "client errors: {}",
            report.summary()
        );
        assert!(pause <= Duration::from_secs(5), "write pause {pause:?}");
        topo.set_primary_index(new).unwrap();
        // the old primary is a replica of the new one
        assert_eq!(
            assert_consistent(&topo, &[], Duration::from_secs(20)).await,
            new
        );
        assert_all_present(
            topo.node(new).unwrap().root_opts(),
            TABLE,
            &report.acknowledged,
            &sql,
        )
        .await;
    }
    router.stop().await;
    topo.stop().await.unwrap();
}

/// Rows in the table whose replication is slow to apply (no primary key,
/// row-based: every row event scans the table), so a failover spends a
/// while catching up and can be interrupted.
const SLOW_ROWS: usize = 3000;

/// sqlyard (a separate process) is killed -9 while a failover runs and
/// started again: the topology ends consistent, and the interrupted
/// failover is finished or reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlyard_killed_mid_failover_restarts_into_a_consistent_topology() {
    let topo = start_topology().await;
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("failover.journal");
    let edit = |text: &mut String| {
        edit_toml(text, |doc| {
            set_failover(
                doc,
                &journal,
                &[("catch_up_timeout", "60s"), ("max_candidate_lag", "60s")],
            )
        })
    };
    let first = router_process::RouterProcess::start(&topo, "info", edit).await;
    let configured = topo.addresses();
    let old = topo.primary_index();
    let primary = topo.node(old).unwrap();
    primary
        .exec_root(
            "CREATE DATABASE IF NOT EXISTS failover_test; \
             DROP TABLE IF EXISTS failover_test.slow; \
             CREATE TABLE failover_test.slow (a INT NOT NULL, b INT NOT NULL)",
        )
        .await
        .unwrap();
    let values: Vec<String> = (0..SLOW_ROWS).map(|i| format!("({i}, 0)")).collect();
    primary
        .exec_root(&format!(
            "INSERT INTO failover_test.slow VALUES {}",
            values.join(",")
        ))
        .await
        .unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(60))
        .await
        .unwrap();
    let before = failover_count(first.admin_port).await;
    // acknowledged once a replica received it (semi-sync), applied slowly
    primary
        .exec_root("UPDATE failover_test.slow SET b = 1")
        .await
        .unwrap();
    topo.kill(old).unwrap();

    // catch the failover running, and kill sqlyard there
    let mut conn = mysql_async::Conn::new(admin_opts(first.admin_port))
        .await
        .unwrap();
    let deadline = Instant::now() + FAILOVER_LIMIT;
    loop {
        let rows: Vec<mysql_async::Row> = conn.query("SHOW FAILOVERS").await.unwrap();
        let list: Vec<FailoverRecord> = to_admin_rows(rows)
            .into_iter()
            .map(FailoverRecord::from_row)
            .collect();
        if list.len() > before {
            let newest = &list[list.len() - 1];
            assert!(
                newest.running(),
                "the failover finished before sqlyard could be killed mid-way \
                 (raise SLOW_ROWS): {newest:#?}"
            );
            println!("killing sqlyard during: {newest:#?}");
            break;
        }
        assert!(Instant::now() < deadline, "no failover started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(conn);
    first.signal(libc::SIGKILL);
    first.wait_exit(Duration::from_secs(10)).await;

    let second = router_process::RouterProcess::start(&topo, "info", edit).await;
    let p = assert_consistent(&topo, &[old], Duration::from_secs(90)).await;
    assert_ne!(p, old);
    topo.set_primary_index(p).unwrap();
    // the interrupted failover is finished or reported, not left running
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let list = failovers(second.admin_port).await.expect("SHOW FAILOVERS");
        let settled = !list.is_empty() && list.iter().all(|r| !r.running());
        if settled {
            break list;
        }
        assert!(Instant::now() < deadline, "failover history: {list:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    println!("after the restart: {list:#?}");
    assert!(
        list.iter()
            .any(|r| r.outcome == "interrupted" || r.outcome == "succeeded"),
        "{list:#?}"
    );
    assert!(
        list.iter().any(|r| r.old_primary == configured[old]),
        "the failover away from {} is in the history: {list:#?}",
        configured[old]
    );
    // the acknowledged UPDATE is on the new primary
    let changed: Option<(i64,)> = topo
        .node(p)
        .unwrap()
        .query_root_first("SELECT COUNT(*) FROM failover_test.slow WHERE b = 1")
        .await
        .unwrap();
    assert_eq!(changed, Some((SLOW_ROWS as i64,)));
    // writes work through the restarted sqlyard
    wait_until(
        Duration::from_secs(20),
        "a write through the restarted sqlyard",
        || async {
            write_through(
                second.port,
                "INSERT INTO failover_test.slow VALUES (-1, -1)",
            )
            .await
            .is_ok()
        },
    )
    .await;
    second.signal(libc::SIGTERM);
    second.wait_exit(Duration::from_secs(30)).await;
    topo.stop().await.unwrap();
}

// ---------------------------------------------------------------- support self-checks

/// The fault proxy itself, against a plain TCP echo target: bytes flow in
/// `Pass`, nothing flows (and nothing closes) in `Blackhole`, connections
/// are refused and reset in `Refuse`, and `Pass` works again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_proxy_modes_behave_like_a_link() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = echo.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let proxy = FaultProxy::start(&target).await.unwrap();
    let short = Duration::from_millis(300);
    async fn roundtrip(s: &mut tokio::net::TcpStream, limit: Duration) -> Result<(), String> {
        s.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        match tokio::time::timeout(limit, s.read_exact(&mut buf)).await {
            Ok(Ok(_)) if &buf == b"ping" => Ok(()),
            Ok(Ok(_)) => Err(format!("got {buf:?}")),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("silence".into()),
        }
    }
    let connect = || tokio::net::TcpStream::connect(proxy.address());

    let mut a = connect().await.unwrap();
    roundtrip(&mut a, Duration::from_secs(5)).await.unwrap();
    assert_eq!(proxy.open_connections(), 1);

    proxy.set_mode(Mode::Blackhole);
    assert_eq!(roundtrip(&mut a, short).await, Err("silence".into()));
    let mut b = connect().await.expect("a cut link still accepts");
    assert_eq!(roundtrip(&mut b, short).await, Err("silence".into()));

    // the link comes back: what was sent arrives, both connections work
    proxy.set_mode(Mode::Pass);
    let mut buf = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), a.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping");
    roundtrip(&mut a, Duration::from_secs(5)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), b.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    roundtrip(&mut b, Duration::from_secs(5)).await.unwrap();

    proxy.set_mode(Mode::Refuse);
    let mut buf = [0u8; 4];
    let read = tokio::time::timeout(Duration::from_secs(5), a.read(&mut buf))
        .await
        .expect("an open connection is cut at once");
    assert!(
        matches!(read, Err(_) | Ok(0)),
        "open connection after Refuse: {read:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match connect().await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            other => assert!(Instant::now() < deadline, "connect in Refuse: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    proxy.set_mode(Mode::Pass);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut c = loop {
        match connect().await {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < deadline, "connect after Refuse: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    roundtrip(&mut c, Duration::from_secs(5)).await.unwrap();
}

/// The load report's measurements on a hand-made timeline.
#[test]
fn load_report_measures_unavailability_and_pauses() {
    use load::WriteAttempt;
    let t0 = Instant::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let w = |id, s, f, ok: bool| WriteAttempt {
        worker: 0,
        id,
        started: at(s),
        finished: at(f),
        error: (!ok).then(|| "lost".to_string()),
    };
    let report = LoadReport {
        started: t0,
        finished: at(5000),
        writes: vec![
            w(1, 0, 10, true),
            w(2, 90, 100, true),
            w(3, 150, 900, false), // in flight at the fault
            w(4, 120, 1500, true), // held, finished after the fault
            w(5, 1000, 2000, true),
            w(6, 2000, 2010, true),
        ],
        acknowledged: vec![1, 2, 4, 5, 6],
        errors: vec![],
        reads_ok: 0,
    };
    let u = report.unavailability(at(200));
    assert_eq!(u.last_ok_before, Some(at(100)));
    assert_eq!(u.first_ok_after, Some(at(2000)));
    assert_eq!(u.window(), Some(Duration::from_millis(1900)));
    assert_eq!(u.since(at(200)), Some(Duration::from_millis(1800)));
    assert_eq!(
        report.longest_gap(at(100), at(3000)),
        Duration::from_millis(1400)
    );
    // the end of the range counts: nothing after 2010 until 4000
    assert_eq!(
        report.longest_gap(at(1600), at(4000)),
        Duration::from_millis(1990)
    );
    assert_eq!(report.max_write_latency(), Duration::from_millis(1380));
    let none = report.unavailability(at(5000));
    assert_eq!(none.first_ok_after, None);
    assert_eq!(none.window(), None);
}
