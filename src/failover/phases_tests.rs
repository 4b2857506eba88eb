//! The failover phases on a fake world of servers, in paused tokio time:
//! the order of the steps, what a failed step leaves, and (with the
//! in-memory etcd and the real [`Shared`] gate) that a deposed leader acts
//! on no server while the new leader finishes the interrupted failover.
//! The same phases run on real servers in the integration tests.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use super::actions::{CaughtUp, Fenced, Gate, Positions};
use super::error::ActionError;
use super::phases::{self, ServerActions};
use super::recover::{judge, Verdict};
use super::shared::Shared;
use super::sql::GtidStart;
use super::status::{FailoverRecord, Kind, Outcome, Phase, PhaseRecord};
use super::watch::Watched;
use crate::cluster::memory::MemStore;
use crate::cluster::tests::{instance, run};
use crate::topology::flavor::Flavor;
use crate::topology::gtid::GtidSet;
use crate::topology::primary::resolve;
use crate::topology::replica_status::ReplicationStatus;
use crate::topology::{ServerState, Snapshot, ThreadState, TopologyHandle};
use parking_lot::Mutex;

const A: &str = "127.0.0.1:1";
const B: &str = "127.0.0.1:2";
const C: &str = "127.0.0.1:3";

/// One fake server.
#[derive(Debug, Clone, Default)]
struct Server {
    writable: bool,
    /// Its source, while it replicates.
    source: Option<String>,
    receiving: bool,
    applying: bool,
    /// Sequence numbers of domain 0, server 1.
    received: u64,
    applied: u64,
    /// Refuses connections (kill -9).
    down: bool,
    /// Never answers (SIGSTOP).
    frozen: bool,
}

#[derive(Debug, Default)]
struct World {
    servers: BTreeMap<String, Server>,
    /// Every action that reached a server, in order ("promote 127.0.0.1:2").
    log: Vec<String>,
    /// The most servers writable at once (a dead one is not).
    most_writable: usize,
    /// "action address" -> how long it takes.
    slow: BTreeMap<String, Duration>,
    /// "action address" -> it fails (after taking effect for `promote`).
    failing: BTreeSet<String>,
    /// "repoint address": refused as a replication loop.
    loops: BTreeSet<String>,
}

/// Fake [`ServerActions`]: the world changes as the real servers would,
/// and every change first asks the gate, as `Actions` does.
#[derive(Clone, Default)]
struct Fake {
    world: Arc<Mutex<World>>,
    gate: Option<Arc<dyn Gate>>,
}

fn gtid(seq: u64) -> GtidSet {
    GtidSet::parse(Flavor::MariaDb, &format!("0-1-{seq}")).expect("a MariaDB GTID")
}

impl Fake {
    fn new(servers: &[(&str, Server)]) -> Fake {
        let fake = Fake::default();
        {
            let mut w = fake.world.lock();
            for (a, s) in servers {
                w.servers.insert(a.to_string(), s.clone());
            }
            w.most_writable = w.servers.values().filter(|s| s.writable && !s.down).count();
        }
        fake
    }

    fn gated(mut self, gate: Arc<dyn Gate>) -> Fake {
        self.gate = Some(gate);
        self
    }

    fn log(&self) -> Vec<String> {
        self.world.lock().log.clone()
    }

    fn server(&self, a: &str) -> Server {
        self.world
            .lock()
            .servers
            .get(a)
            .cloned()
            .unwrap_or_default()
    }

    fn writable(&self) -> Vec<String> {
        let w = self.world.lock();
        w.servers
            .iter()
            .filter(|(_, s)| s.writable && !s.down)
            .map(|(a, _)| a.clone())
            .collect()
    }

    fn position_in_log(&self, entry: &str) -> usize {
        let log = self.log();
        log.iter()
            .position(|l| l == entry)
            .unwrap_or_else(|| panic!("{entry} not in {log:?}"))
    }

    /// Reaches `address` for `action`: the gate (if it changes the
    /// server), a refused or hanging connection, the time it takes.
    async fn reach(
        &self,
        action: &'static str,
        address: &str,
        changes: bool,
    ) -> Result<(), ActionError> {
        if changes {
            if let Some(gate) = &self.gate {
                gate.allow(action, address, Duration::from_secs(1))
                    .await
                    .map_err(|reason| ActionError::Refused {
                        address: address.to_string(),
                        action,
                        reason,
                    })?;
            }
        }
        let (down, frozen, slow) = {
            let w = self.world.lock();
            let s = w.servers.get(address).cloned().unwrap_or_default();
            (
                s.down,
                s.frozen,
                w.slow.get(&format!("{action} {address}")).copied(),
            )
        };
        if down {
            return Err(ActionError::ConnectTimeout {
                address: address.to_string(),
                after: Duration::from_secs(1),
            });
        }
        if frozen {
            std::future::pending::<()>().await;
        }
        if let Some(d) = slow {
            tokio::time::sleep(d).await;
        }
        self.world.lock().log.push(format!("{action} {address}"));
        Ok(())
    }

    fn change(&self, address: &str, f: impl FnOnce(&mut Server)) {
        let mut w = self.world.lock();
        if let Some(s) = w.servers.get_mut(address) {
            f(s);
        }
        let n = w.servers.values().filter(|s| s.writable && !s.down).count();
        w.most_writable = w.most_writable.max(n);
    }

    fn fails(&self, action: &str, address: &str) -> bool {
        self.world
            .lock()
            .failing
            .contains(&format!("{action} {address}"))
    }

    fn failed(action: &'static str, address: &str) -> ActionError {
        ActionError::Refused {
            address: address.to_string(),
            action,
            reason: "scripted failure".into(),
        }
    }
}

impl ServerActions for Fake {
    async fn fence(&self, address: &str) -> Result<Fenced, ActionError> {
        self.reach("fence", address, true).await?;
        let was_writable = self.server(address).writable;
        self.change(address, |s| s.writable = false);
        Ok(Fenced { was_writable })
    }

    async fn read_positions(&self, address: &str) -> Result<Positions, ActionError> {
        self.reach("read_positions", address, false).await?;
        let s = self.server(address);
        Ok(Positions {
            current: gtid(s.applied),
            binlog: None,
            slave: None,
            read_only: !s.writable,
        })
    }

    async fn stop_receiver(&self, address: &str) -> Result<(), ActionError> {
        self.reach("stop_receiver", address, true).await?;
        self.change(address, |s| s.receiving = false);
        Ok(())
    }

    async fn start_replication(&self, address: &str) -> Result<(), ActionError> {
        self.reach("start_replication", address, true).await?;
        self.change(address, |s| {
            s.receiving = true;
            s.applying = true;
        });
        Ok(())
    }

    async fn wait_applied(
        &self,
        address: &str,
        gtid_text: &str,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let wanted: u64 = gtid_text
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        let r = tokio::time::timeout(timeout, self.reach("wait_applied", address, false)).await;
        match r {
            Ok(r) => r?,
            Err(_) => {
                return Err(ActionError::CatchUpTimeout {
                    address: address.to_string(),
                    waiting_for: gtid_text.to_string(),
                    applied: None,
                    after: timeout,
                })
            }
        }
        // the demoted primary's writes arrive and are applied
        self.change(address, |s| {
            s.received = s.received.max(wanted);
            s.applied = s.applied.max(wanted);
        });
        Ok(())
    }

    async fn catch_up(&self, address: &str, timeout: Duration) -> Result<CaughtUp, ActionError> {
        let r = tokio::time::timeout(timeout, self.reach("catch_up", address, false)).await;
        let s = self.server(address);
        match r {
            Ok(r) => r?,
            Err(_) => {
                return Err(ActionError::CatchUpTimeout {
                    address: address.to_string(),
                    waiting_for: gtid(s.received).to_string(),
                    applied: Some(gtid(s.applied).to_string()),
                    after: timeout,
                })
            }
        }
        self.change(address, |s| s.applied = s.received);
        let s = self.server(address);
        Ok(CaughtUp {
            received: gtid(s.received),
            applied: gtid(s.applied),
        })
    }

    async fn promote(&self, address: &str, _semi_sync: bool) -> Result<(), ActionError> {
        self.reach("promote", address, true).await?;
        self.change(address, |s| {
            s.source = None;
            s.receiving = false;
            s.applying = false;
            s.writable = true;
        });
        if self.fails("promote", address) {
            return Err(Fake::failed("promote", address));
        }
        Ok(())
    }

    async fn repoint(
        &self,
        address: &str,
        source: &str,
        _start: GtidStart,
        _heartbeat_period: Duration,
    ) -> Result<(), ActionError> {
        if self
            .world
            .lock()
            .loops
            .contains(&format!("repoint {address}"))
        {
            return Err(ActionError::ReplicationCycle {
                address: address.to_string(),
                target: source.to_string(),
                chain: format!("{source} -> {address}"),
            });
        }
        self.reach("repoint", address, true).await?;
        self.change(address, |s| {
            s.source = Some(source.to_string());
            s.receiving = true;
            s.applying = true;
        });
        Ok(())
    }

    async fn verify_replicating(
        &self,
        address: &str,
        _timeout: Duration,
    ) -> Result<(), ActionError> {
        self.reach("verify_replicating", address, false).await?;
        let s = self.server(address);
        if s.receiving && s.applying {
            Ok(())
        } else {
            Err(Fake::failed("verify_replicating", address))
        }
    }
}

fn primary(applied: u64) -> Server {
    Server {
        writable: true,
        received: applied,
        applied,
        ..Default::default()
    }
}

fn replica(of: &str, received: u64, applied: u64) -> Server {
    Server {
        source: Some(of.to_string()),
        receiving: true,
        applying: true,
        received,
        applied,
        ..Default::default()
    }
}

fn others(to_repoint: &[&str]) -> Vec<String> {
    to_repoint.iter().map(|s| s.to_string()).collect()
}

fn no_alert() -> impl Fn(&str, String) + Sync {
    |_: &str, _: String| {}
}

/// A lost primary, the steps in the manager's order: receivers stop before
/// anything else, the candidate applies what it received before it is
/// promoted, the others follow it. Never two writable servers.
#[tokio::test(start_paused = true)]
async fn a_lost_primary_is_replaced_in_order() {
    let mut dead = primary(12);
    dead.down = true;
    let fake = Fake::new(&[(A, dead), (B, replica(A, 12, 10)), (C, replica(A, 8, 8))]);
    let stopped = phases::stop_receivers(&fake, A, &[(B.into(), true), (C.into(), true)]).await;
    assert_eq!(stopped.receivers, [B, C]);
    assert!(!stopped.old_fenced, "a dead primary is not fenced");
    assert!(!fake.server(B).receiving && !fake.server(C).receiving);
    let applied = phases::catch_up(&fake, B, None, &[], Duration::from_secs(30))
        .await
        .expect("caught up");
    assert_eq!(applied, "0-1-12");
    phases::promote(&fake, B, false).await.expect("promoted");
    let summary = phases::repoint(
        &fake,
        &others(&[C]),
        B,
        GtidStart::SlavePos,
        Duration::from_secs(1),
        Some(Flavor::MariaDb),
        &no_alert(),
    )
    .await
    .summary;
    assert_eq!(summary, format!("{C} -> {B}: replicating"));
    for (before, after) in [
        (format!("stop_receiver {B}"), format!("catch_up {B}")),
        (format!("stop_receiver {C}"), format!("promote {B}")),
        (format!("catch_up {B}"), format!("promote {B}")),
        (format!("promote {B}"), format!("repoint {C}")),
    ] {
        assert!(
            fake.position_in_log(&before) < fake.position_in_log(&after),
            "{before} before {after}: {:?}",
            fake.log()
        );
    }
    assert_eq!(fake.writable(), [B]);
    assert_eq!(fake.server(C).source.as_deref(), Some(B));
    assert_eq!(fake.world.lock().most_writable, 1);
}

/// A frozen lost primary does not hold the failover up: its best-effort
/// fence is given up after one second, the receivers stop regardless.
#[tokio::test(start_paused = true)]
async fn a_frozen_lost_primary_delays_the_receivers_by_at_most_a_second() {
    let mut frozen = primary(5);
    frozen.frozen = true;
    let fake = Fake::new(&[(A, frozen), (B, replica(A, 5, 5))]);
    let t = tokio::time::Instant::now();
    let stopped = phases::stop_receivers(&fake, A, &[(B.into(), true)]).await;
    assert_eq!(stopped.receivers, [B]);
    let took = t.elapsed();
    assert!(
        took <= phases::LOST_FENCE_TIMEOUT + Duration::from_millis(10),
        "{took:?}"
    );
    assert!(!fake.log().contains(&format!("fence {A}")));
}

/// A refused failover starts again only the replication that ran: an
/// operator's STOP SLAVE stays.
#[tokio::test(start_paused = true)]
async fn a_refusal_restarts_only_the_replication_that_ran() {
    let mut stopped_by_operator = replica(A, 3, 3);
    stopped_by_operator.receiving = false;
    stopped_by_operator.applying = false;
    let mut dead = primary(3);
    dead.down = true;
    let fake = Fake::new(&[(A, dead), (B, replica(A, 3, 3)), (C, stopped_by_operator)]);
    let stopped = phases::stop_receivers(&fake, A, &[(B.into(), true), (C.into(), false)]).await;
    assert_eq!(stopped.receivers, [B]);
    phases::restart_receivers(&fake, &stopped.receivers).await;
    assert!(fake.server(B).receiving);
    assert!(!fake.server(C).receiving, "the operator's STOP SLAVE stays");
    assert!(!fake.log().contains(&format!("start_replication {C}")));
}

/// A "lost" primary that still answers (stalled, not dead) is set
/// read-only with the receivers; when nothing may replace it (a refusal),
/// it is made writable again: never a topology left with no primary.
#[tokio::test(start_paused = true)]
async fn a_refused_failover_makes_a_primary_that_answered_writable_again() {
    let mut broken = replica(A, 3, 3);
    broken.receiving = false;
    let fake = Fake::new(&[(A, primary(9)), (B, broken)]);
    let stopped = phases::stop_receivers(&fake, A, &[(B.into(), false)]).await;
    assert!(stopped.old_fenced, "it answered, writable: fenced");
    assert!(fake.writable().is_empty());
    // choose refuses (B's replication was broken): undo
    phases::restart_receivers(&fake, &stopped.receivers).await;
    phases::undo_fence(&fake, A, true)
        .await
        .expect("writable again");
    assert_eq!(fake.writable(), [A]);
    assert!(
        !fake.server(B).receiving,
        "B's broken replication stays as it was"
    );
}

/// A live primary (forced failover) is read-only first; the candidate
/// applies everything it wrote before the other receivers stop; a
/// candidate that cannot catch up within the timeout is never promoted.
#[tokio::test(start_paused = true)]
async fn a_live_primary_is_demoted_and_its_writes_applied_before_anything_else() {
    let fake = Fake::new(&[
        (A, primary(20)),
        (B, replica(A, 15, 15)),
        (C, replica(A, 20, 20)),
    ]);
    fake.world
        .lock()
        .slow
        .insert(format!("wait_applied {B}"), Duration::from_secs(2));
    let position = phases::demote(&fake, A).await.expect("demoted");
    assert_eq!(position, "0-1-20");
    assert!(fake.writable().is_empty(), "read-only before anything else");
    let applied = phases::catch_up(
        &fake,
        B,
        Some(&position),
        &others(&[C]),
        Duration::from_secs(30),
    )
    .await
    .expect("caught up");
    assert_eq!(applied, "0-1-20");
    assert!(
        fake.position_in_log(&format!("wait_applied {B}"))
            < fake.position_in_log(&format!("stop_receiver {C}"))
    );

    // the same, with a candidate slower than the timeout
    let fake = Fake::new(&[
        (A, primary(20)),
        (B, replica(A, 15, 15)),
        (C, replica(A, 20, 20)),
    ]);
    fake.world
        .lock()
        .slow
        .insert(format!("wait_applied {B}"), Duration::from_secs(120));
    let position = phases::demote(&fake, A).await.expect("demoted");
    let t = tokio::time::Instant::now();
    let r = phases::catch_up(
        &fake,
        B,
        Some(&position),
        &others(&[C]),
        Duration::from_secs(30),
    )
    .await;
    let e = r.expect_err("did not catch up");
    assert!(e.contains("did not apply 0-1-20"), "{e}");
    assert_eq!(t.elapsed(), Duration::from_secs(30));
    assert!(
        fake.server(C).receiving,
        "nothing stopped for a failover that stops here"
    );
}

/// A promotion that fails after the server became writable is fenced
/// again: a failed failover never leaves a second writer.
#[tokio::test(start_paused = true)]
async fn a_failed_promotion_is_fenced() {
    let mut dead = primary(4);
    dead.down = true;
    let fake = Fake::new(&[(A, dead), (B, replica(A, 4, 4))]);
    fake.world.lock().failing.insert(format!("promote {B}"));
    let e = phases::promote(&fake, B, true).await.expect_err("fails");
    assert!(e.starts_with("promotion failed"), "{e}");
    assert!(fake.writable().is_empty(), "{:?}", fake.log());
    assert!(
        fake.position_in_log(&format!("promote {B}")) < fake.position_in_log(&format!("fence {B}"))
    );
}

/// A replica holding transactions the new primary lacks (a leader that
/// never heard of its quarantine, another instance's) is compared live and
/// left alone, reported as errant; the others are repointed. Without a
/// flavor nothing is compared (unknown servers).
#[tokio::test(start_paused = true)]
async fn repoint_leaves_a_server_holding_what_the_source_lacks_alone() {
    const D: &str = "127.0.0.1:4";
    let fake = Fake::new(&[
        (B, primary(12)),
        (C, replica(A, 12, 12)),
        (D, replica(A, 15, 15)),
    ]);
    let r = phases::repoint(
        &fake,
        &others(&[C, D]),
        B,
        GtidStart::SlavePos,
        Duration::from_secs(1),
        Some(Flavor::MariaDb),
        &no_alert(),
    )
    .await;
    assert_eq!(r.errant.len(), 1, "{r:?}");
    assert_eq!(r.errant[0].0, D);
    assert!(r.errant[0].1.contains("0-1-13"), "{r:?}");
    assert!(
        r.summary
            .contains(&format!("{D} -> {B}: NOT repointed, quarantined")),
        "{}",
        r.summary
    );
    assert!(
        !fake.log().contains(&format!("repoint {D}")),
        "{:?}",
        fake.log()
    );
    assert_eq!(fake.server(D).source.as_deref(), Some(A), "untouched");
    assert_eq!(fake.server(C).source.as_deref(), Some(B));
    // read D's positions before B's: B may only move forward meanwhile
    let log = fake.log();
    let last_b = log
        .iter()
        .rposition(|l| *l == format!("read_positions {B}"));
    assert!(
        Some(fake.position_in_log(&format!("read_positions {D}"))) < last_b,
        "{log:?}"
    );

    let fake = Fake::new(&[(B, primary(12)), (D, replica(A, 15, 15))]);
    let r = phases::repoint(
        &fake,
        &others(&[D]),
        B,
        GtidStart::SlavePos,
        Duration::from_secs(1),
        None,
        &no_alert(),
    )
    .await;
    assert!(r.errant.is_empty());
    assert_eq!(fake.server(D).source.as_deref(), Some(B));
}

/// Each server's outcome is in the summary; a repoint refused as a
/// replication loop raises an alert and changes nothing.
#[tokio::test(start_paused = true)]
async fn repoint_reports_each_server_and_a_loop() {
    const D: &str = "127.0.0.1:4";
    let fake = Fake::new(&[
        (B, primary(9)),
        (C, replica(A, 9, 9)),
        (D, replica(A, 9, 9)),
    ]);
    fake.world.lock().loops.insert(format!("repoint {D}"));
    let alerts = Mutex::new(Vec::new());
    let on_cycle = |s: &str, m: String| alerts.lock().push((s.to_string(), m));
    let summary = phases::repoint(
        &fake,
        &others(&[C, D]),
        B,
        GtidStart::SlavePos,
        Duration::from_secs(1),
        Some(Flavor::MariaDb),
        &on_cycle,
    )
    .await
    .summary;
    assert!(
        summary.contains(&format!("{C} -> {B}: replicating")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("{D} -> {B}: FAILED: refusing")),
        "{summary}"
    );
    let alerts = alerts.into_inner();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].0, D);
    assert_eq!(fake.server(D).source.as_deref(), Some(A), "unchanged");
}

// ------------------------------------------------------- choose and route

fn state(address: &str, writable: bool, source: Option<&str>, applied: u64) -> ServerState {
    let mut s = ServerState::new(address);
    s.reachable = true;
    s.server_id = address.rsplit(':').next().and_then(|p| p.parse().ok());
    s.read_only = Some(!writable);
    s.flavor = Some(Flavor::MariaDb);
    s.gtid.executed = Some(gtid(applied));
    s.lag = Some(Duration::ZERO);
    if let Some(src) = source {
        let (host, port) = src.rsplit_once(':').unwrap_or((src, "0"));
        s.replication = vec![ReplicationStatus {
            source_host: Some(host.into()),
            source_port: port.parse().ok(),
            source_server_id: Some(1),
            io_running: ThreadState::Running,
            sql_running: ThreadState::Running,
            retrieved_gtid: Some(gtid(applied)),
            ..Default::default()
        }];
    }
    s
}

fn config() -> crate::config::Config {
    let servers = [A.to_string(), B.to_string(), C.to_string()];
    let ports = crate::sandbox::RouterPorts {
        listen: 7001,
        admin: 7002,
        metrics: 7003,
    };
    let text = crate::sandbox::render_router_config(&servers, ports);
    crate::config::Config::from_toml_str(&text, std::path::Path::new("t.toml"))
        .expect("the sandbox config")
}

/// The freshest replica is chosen on the positions of the moment, and a
/// quarantined one never is.
#[test]
fn choose_takes_the_freshest_replica_that_is_not_quarantined() {
    let config = config();
    let healthy = resolve(
        None,
        vec![
            state(A, true, None, 12),
            state(B, false, Some(A), 12),
            state(C, false, Some(A), 11),
        ],
    );
    let mut lost = ServerState::new(A);
    lost.consecutive_failures = 5;
    let now = resolve(
        None,
        vec![
            lost,
            state(B, false, Some(A), 12),
            state(C, false, Some(A), 11),
        ],
    );
    let old = Watched {
        address: A.into(),
        server_id: Some(1),
    };
    let pick = |quarantined: &(dyn Fn(&str) -> bool + Sync)| {
        phases::choose(&phases::ChooseInput {
            config: &config,
            now: &now,
            healthy: Some(&healthy),
            old: &old,
            forced: None,
            lost_hint: None,
            quarantined,
        })
    };
    let s = pick(&|_| false);
    let chosen = s.choice.chosen.as_ref().map(|c| c.address.clone());
    assert_eq!(chosen.as_deref(), Some(B), "{:?}", s.choice.rejected);
    assert_eq!(
        s.positions[0],
        (format!("{A} (lost, last seen)"), "0-1-12".to_string())
    );
    let s = pick(&|a| a == B);
    let chosen = s.choice.chosen.as_ref().map(|c| c.address.clone());
    assert_ne!(
        chosen.as_deref(),
        Some(B),
        "a quarantined server is never chosen"
    );
}

/// The route phase waits for the snapshot that elects the new primary,
/// asking the monitor for rounds meanwhile, and gives up at its timeout.
#[tokio::test(start_paused = true)]
async fn route_waits_for_routing_to_elect_the_new_primary() {
    let topology = TopologyHandle::new(vec![A.into(), B.into()]);
    let polls = std::sync::atomic::AtomicU32::new(0);
    let poll = || {
        polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let publisher = topology.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        publisher.publish(resolve(
            None,
            vec![state(A, false, Some(B), 3), state(B, true, None, 3)],
        ));
    });
    let t = tokio::time::Instant::now();
    let routed = phases::route(&topology, &poll, B, Duration::from_secs(5)).await;
    assert!(routed.is_ok());
    assert_eq!(t.elapsed(), Duration::from_millis(700));
    assert!(
        polls.load(std::sync::atomic::Ordering::Relaxed) >= 7,
        "a round asked every 100 ms"
    );
    let r = phases::route(&topology, &poll, A, Duration::from_secs(5)).await;
    assert!(r.is_err(), "A is not elected");
    assert_eq!(t.elapsed(), Duration::from_millis(5700));
}

// -------------------------------------- the leader, the handover, fencing

fn interrupted(old: &str, new: &str) -> FailoverRecord {
    FailoverRecord {
        id: 1,
        kind: Kind::Automatic,
        trigger: "primary lost".into(),
        started_at: std::time::SystemTime::now(),
        finished_at: None,
        outcome: Outcome::Running,
        old_primary: Some(old.into()),
        new_primary: Some(new.into()),
        reason: String::new(),
        detection: None,
        phases: [Phase::Detect, Phase::Choose]
            .iter()
            .map(|p| PhaseRecord {
                phase: *p,
                started_at: std::time::SystemTime::now(),
                duration: Duration::ZERO,
                detail: String::new(),
            })
            .collect(),
        positions: Vec::new(),
        error: None,
        fencing: Vec::new(),
        ran_by: Some("a".into()),
    }
}

/// Leader `a` journals a failover (shared, fenced), stops the receivers
/// and chooses `B`, then freezes before promoting. `b` is elected, finds
/// the interrupted entry in the shared journal, judges it against the live
/// servers, and finishes it. When `a` thaws, each of its actions is
/// refused by the gate: it changes no server. One writable server, one
/// journal entry.
#[tokio::test(start_paused = true)]
async fn a_deposed_leader_acts_on_no_server_and_the_new_one_finishes() {
    let store = MemStore::new();
    let (ha, hb) = (instance(&store, "a"), instance(&store, "b"));
    let (stop_a, task_a) = run(&ha);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _rb = run(&hb);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(ha.is_leader() && !hb.is_leader());

    let mut dead = primary(12);
    dead.down = true;
    let world = Fake::new(&[(A, dead), (B, replica(A, 12, 11)), (C, replica(A, 12, 12))]);
    let shared_a = Shared::new(ha.clone());
    let fake_a = Fake {
        world: world.world.clone(),
        gate: None,
    }
    .gated(Arc::new(shared_a.clone()));
    // a: journaled, receivers stopped, B chosen
    let record = interrupted(A, B);
    shared_a.record(&record);
    let stopped = phases::stop_receivers(&fake_a, A, &[(B.into(), true), (C.into(), true)]).await;
    assert_eq!(stopped.receivers, [B, C], "the leader acts");
    let steps: Vec<String> = store
        .value(&ha.keys().step())
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .into_iter()
        .collect();
    assert!(!steps.is_empty(), "each action recorded as a step first");

    // a freezes (SIGSTOP): its agent stops renewing; b takes over
    task_a.abort();
    drop(stop_a);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(hb.is_leader(), "b leads once a's lease ran out");

    // b: the entry is in the shared journal, and matches the live servers
    let journal = hb.view().journal.clone();
    let entries: Vec<FailoverRecord> = journal
        .iter()
        .filter_map(|j| serde_json::from_slice(j).ok())
        .collect();
    assert_eq!(entries.len(), 1, "one journal entry");
    let entry = &entries[0];
    assert_eq!(entry.outcome, Outcome::Running);
    let receiver_stopped = |a: &str| {
        let mut s = state(a, false, Some(A), 12);
        s.replication[0].io_running = ThreadState::Stopped;
        s
    };
    let live: Snapshot = resolve(
        None,
        vec![
            ServerState::new(A),
            receiver_stopped(B),
            receiver_stopped(C),
        ],
    );
    assert_eq!(judge(entry, &live), Verdict::Applies);

    // a thaws and goes on where it stopped: refused, nothing changes
    let r = phases::promote(&fake_a, B, false).await;
    assert!(r.is_err(), "a deposed leader's promotion is refused");
    assert!(fake_a.writable().is_empty());
    assert!(!fake_a.log().contains(&format!("promote {B}")));

    // b finishes the failover it adopted
    let fake_b = Fake {
        world: world.world.clone(),
        gate: None,
    }
    .gated(Arc::new(Shared::new(hb.clone())));
    let new = entry.new_primary.clone().unwrap_or_default();
    phases::catch_up(&fake_b, &new, None, &[], Duration::from_secs(30))
        .await
        .expect("caught up");
    phases::promote(&fake_b, &new, false)
        .await
        .expect("b promotes");
    let summary = phases::repoint(
        &fake_b,
        &others(&[C]),
        &new,
        GtidStart::SlavePos,
        Duration::from_secs(1),
        Some(Flavor::MariaDb),
        &no_alert(),
    )
    .await
    .summary;
    assert!(summary.ends_with("replicating"), "{summary}");
    // a tries again: still nothing
    assert!(phases::repoint(
        &fake_a,
        &others(&[C]),
        A,
        GtidStart::SlavePos,
        Duration::from_secs(1),
        Some(Flavor::MariaDb),
        &no_alert()
    )
    .await
    .summary
    .contains("FAILED"));
    assert_eq!(fake_b.writable(), [B]);
    assert_eq!(world.world.lock().most_writable, 1, "never two writable");
    assert_eq!(fake_b.server(C).source.as_deref(), Some(B), "no loop");
}
