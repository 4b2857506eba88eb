//! Problem: `router::route` says whether a statement belongs on the
//! primary, on a replica or on the connection the session holds; the
//! session must turn that into one synced backend connection. For a read
//! that means choosing a replica that qualifies (lag, health, source; see
//! `router::replicas`), balancing by weight and load (`router::balance`),
//! honouring `routing.primary_reads`, and making sure the replica has the
//! client's own writes (read-your-writes): a replica whose last polled
//! position covers them, else one that waits for them up to
//! `consistency.wait_timeout`, else the primary. A connection held only
//! for the previous statement's sake is reused when the statement goes to
//! its server, and given back otherwise.
//!
//! Read-your-writes outcomes are counted once per read that had a
//! position to see: `hit` (a replica already had it), `waited` (a replica
//! reached it in time), `wait_timeout` (it did not; the read went to the
//! primary) or `fallback` (no replica could wait; the primary). Reads with
//! a `/* sqlyard:replica */` hint skip read-your-writes: the client asked
//! for a replica. When no replica may wait and `primary_reads = "never"`,
//! a read that must see a write still goes to the primary: correctness
//! before the read-load policy.

use std::sync::Arc;

use rand::Rng;

use super::error::SessionError;
use super::session::Session;
use crate::app::context::Stats;
use crate::backend::Outstanding;
use crate::backend::{internal, PooledConn};
use crate::config::{Config, PrimaryReads, RywScope};
use crate::protocol::constants::status;
use crate::router::balance::{self, Load};
use crate::router::classify::Class;
use crate::router::consistency::{covers, may_wait_on, wait_sql};
use crate::router::replicas::candidates;
use crate::router::{route, RouteContext, RouteReason, Target};
use crate::topology::{GtidSet, Snapshot};

/// A statement's backend connection, and why it is that one.
pub struct Placed {
    pub conn: PooledConn,
    /// The session held it already (no fresh checkout).
    pub was_held: bool,
    /// The final reason (a fallback reason replaces the route's).
    pub reason: RouteReason,
    /// `primary` or `replica`.
    pub role: &'static str,
}

/// The outcome of a read that had to see a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RywOutcome {
    Hit,
    Waited,
    WaitTimeout,
    Fallback,
}

/// Where a read goes, decided from one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadPlan {
    /// This server (a replica, or the primary as a read target).
    Server {
        addr: String,
        reason: RouteReason,
        hit: bool,
    },
    /// This replica, once it has waited for `needed`.
    WaitOn { addr: String, needed: GtidSet },
    /// The primary, for this reason.
    Primary { reason: RouteReason, fallback: bool },
    /// Nothing may take it (`primary_reads = "never"`): why.
    Refused(String),
}

/// A session keeps reading from the replica it holds a connection to
/// while that replica's running statements (per unit of weight) are at
/// most `least * AFFINITY_FACTOR + AFFINITY_SLACK`, where `least` is the
/// least busy candidate's. Re-balancing every statement on small
/// differences made one read in eight change connections under sysbench at
/// 16 threads; with this margin it is one in fifty, and the replicas spend
/// less CPU per read. New sessions (and sessions whose connection went
/// back after `pool.linger`) still pick by weight and load.
const AFFINITY_FACTOR: f64 = 1.5;
const AFFINITY_SLACK: f64 = 2.0;

/// Chooses where a read goes. `needed` is the position it must see (none
/// for hinted reads or `read_your_writes = "none"`); `outstanding` gives a
/// server's current load.
pub fn plan_read<R: Rng + ?Sized>(
    snap: &Snapshot,
    cfg: &Config,
    reason: RouteReason,
    needed: Option<&GtidSet>,
    outstanding: impl Fn(&str) -> u64,
    held: Option<&str>,
    rng: &mut R,
) -> ReadPlan {
    let all = candidates(snap, cfg);
    struct Target<'a> {
        addr: &'a str,
        load: Load,
        primary: bool,
        server: &'a crate::topology::ServerState,
    }
    let mut targets: Vec<Target<'_>> = all
        .iter()
        .filter(|c| c.verdict.is_ok())
        .map(|c| Target {
            addr: &c.server.address,
            load: Load {
                weight: c.weight,
                outstanding: outstanding(&c.server.address),
            },
            primary: false,
            server: c.server,
        })
        .collect();
    let policy = cfg.routing.primary_reads;
    let shares = policy == PrimaryReads::Fallback && snap.primary_shares_reads;
    if policy == PrimaryReads::Always || shares {
        if let Some(p) = snap.primary_for_new_work() {
            let weight = cfg
                .servers
                .iter()
                .find(|c| c.address == p.address)
                .map_or(1, |c| c.weight);
            targets.push(Target {
                addr: &p.address,
                load: Load {
                    weight,
                    outstanding: outstanding(&p.address),
                },
                primary: true,
                server: p,
            });
        }
    }
    if targets.is_empty() {
        if policy == PrimaryReads::Never {
            let why: Vec<String> = all
                .iter()
                .filter_map(|c| {
                    let e = c.verdict.as_ref().err()?;
                    Some(format!("{}: {e}", c.server.address))
                })
                .collect();
            let why = if why.is_empty() {
                "no replica configured".to_string()
            } else {
                why.join("; ")
            };
            return ReadPlan::Refused(why);
        }
        return ReadPlan::Primary {
            reason: RouteReason::NoReplica,
            fallback: false,
        };
    }
    let chosen = |set: &[&Target<'_>], rng: &mut R| -> Option<(String, bool)> {
        // Affinity: a session that holds a connection to a server that
        // qualifies keeps using it (no pool churn, no re-sync, and the
        // server's thread for that connection stays warm), unless that
        // server is clearly busier than the least busy one.
        if let Some(h) = held.and_then(|h| set.iter().find(|t| t.addr == h)) {
            let per_weight = |l: &Load| l.outstanding as f64 / f64::from(l.weight.max(1));
            let least = set
                .iter()
                .map(|t| per_weight(&t.load))
                .fold(f64::INFINITY, f64::min);
            if per_weight(&h.load) <= least * AFFINITY_FACTOR + AFFINITY_SLACK {
                return Some((h.addr.to_string(), h.primary));
            }
        }
        let loads: Vec<Load> = set.iter().map(|t| t.load).collect();
        balance::pick(&loads, rng).map(|i| (set[i].addr.to_string(), set[i].primary))
    };
    let server = |addr: String, primary: bool, hit: bool| ReadPlan::Server {
        addr,
        reason: if primary {
            RouteReason::PrimaryReads
        } else {
            reason
        },
        hit: hit && !primary,
    };
    let Some(needed) = needed else {
        let all: Vec<&Target<'_>> = targets.iter().collect();
        return match chosen(&all, rng) {
            Some((addr, primary)) => server(addr, primary, false),
            None => ReadPlan::Primary {
                reason: RouteReason::NoReplica,
                fallback: false,
            },
        };
    };
    let covering: Vec<&Target<'_>> = targets
        .iter()
        .filter(|t| t.primary || covers(t.server, needed))
        .collect();
    if let Some((addr, primary)) = chosen(&covering, rng) {
        return server(addr, primary, true);
    }
    let waitable: Vec<&Target<'_>> = targets
        .iter()
        .filter(|t| !t.primary && may_wait_on(t.server))
        .collect();
    if let Some((addr, _)) = chosen(&waitable, rng) {
        return ReadPlan::WaitOn {
            addr,
            needed: needed.clone(),
        };
    }
    ReadPlan::Primary {
        reason: RouteReason::ReadYourWrites,
        fallback: true,
    }
}

impl Session {
    /// Decides where a statement of class `class` runs and returns its
    /// connection, synced to the session. With `consistent`, a read routed
    /// to a replica sees the session's (or user's) writes.
    pub async fn place(&mut self, class: &Class, consistent: bool) -> Result<Placed, SessionError> {
        let cfg = self.cfg.clone();
        let pinned = self.pinned_for_a_reason();
        let cx = RouteContext {
            pinned,
            holding: self.binding.is_held() && !pinned,
            autocommit: self.state.status & status::AUTOCOMMIT != 0,
            split: cfg.routing.read_write_split,
        };
        let route = route(class, &cx);
        match route.target {
            Target::Held if self.binding.is_held() => {
                let held_on_primary = self.held_addr().is_some_and(|a| self.is_primary(a));
                if route.reason == RouteReason::Session && !held_on_primary {
                    // session state is set on the primary: a SET sqlyard
                    // cannot replay must pin the session there
                    return self.on_primary(route.reason).await;
                }
                let conn = self.take_held().await?;
                let role = self.role_of(&conn.addr);
                Ok(Placed {
                    conn,
                    was_held: true,
                    reason: route.reason,
                    role,
                })
            }
            Target::Held | Target::Primary => self.on_primary(route.reason).await,
            Target::Replica => {
                let scope = cfg.consistency.read_your_writes;
                let needed = if consistent
                    && route.reason != RouteReason::HintReplica
                    && scope != RywScope::None
                {
                    self.ctx
                        .consistency
                        .needed(scope, &self.user, &self.session_gtid)
                } else {
                    None
                };
                self.on_replica(&cfg, route.reason, needed).await
            }
        }
    }

    fn is_primary(&self, addr: &str) -> bool {
        self.snap
            .primary_server()
            .is_some_and(|p| p.address == addr)
    }

    fn role_of(&self, addr: &str) -> &'static str {
        if self.is_primary(addr) {
            "primary"
        } else {
            "replica"
        }
    }

    /// A connection to the primary (the held one if it is there).
    async fn on_primary(&mut self, reason: RouteReason) -> Result<Placed, SessionError> {
        let primary = self.primary_addr().await?;
        match self.on_server(&primary, reason, "primary").await {
            // The primary cannot be reached: it has probably just died.
            // Hold the statement for the next primary instead of failing
            // it. (A login it refuses is its answer: passed on at once.)
            Err(SessionError::Backend(e)) if e.is_unreachable() => {
                let next = self.next_primary(&primary).await?;
                self.on_server(&next, reason, "primary").await
            }
            r => r,
        }
    }

    /// A connection to `addr`: the held one if it is there, else a fresh
    /// one (the held one goes back to its pool).
    async fn on_server(
        &mut self,
        addr: &str,
        reason: RouteReason,
        role: &'static str,
    ) -> Result<Placed, SessionError> {
        if self.held_addr().is_some_and(|a| **a == *addr) {
            let conn = self.take_held().await?;
            return Ok(Placed {
                conn,
                was_held: true,
                reason,
                role,
            });
        }
        self.release_held();
        let conn = self.checkout_at(addr).await?;
        Ok(Placed {
            conn,
            was_held: false,
            reason,
            role,
        })
    }

    async fn on_replica(
        &mut self,
        cfg: &Config,
        reason: RouteReason,
        needed: Option<GtidSet>,
    ) -> Result<Placed, SessionError> {
        let plan = {
            let servers = &self.ctx.backends.servers;
            let load = |addr: &str| servers.outstanding(addr);
            plan_read(
                &self.snap,
                cfg,
                reason,
                needed.as_ref(),
                load,
                self.held_addr().map(|a| &**a),
                &mut rand::thread_rng(),
            )
        };
        let ctx = self.ctx.clone();
        let ryw = &ctx.stats.ryw;
        match plan {
            ReadPlan::Server { addr, reason, hit } => {
                let primary = reason == RouteReason::PrimaryReads;
                let role = if primary { "primary" } else { "replica" };
                match self.on_server(&addr, reason, role).await {
                    Ok(p) => {
                        if hit {
                            Stats::inc(&ryw.hit);
                        }
                        Ok(p)
                    }
                    Err(e) if primary => Err(e),
                    Err(e) => self.replica_failed(cfg, &addr, e, needed.is_some()).await,
                }
            }
            ReadPlan::WaitOn { addr, needed } => {
                let addr: Arc<str> = Arc::from(addr.as_str());
                // wait before syncing: the state may name a database or
                // objects the replica gets only with the awaited writes
                let (mut conn, was_held) = if self.held_addr() == Some(&addr) {
                    match self.take_held().await {
                        Ok(c) => (c, true),
                        Err(e) => return self.replica_failed(cfg, &addr, e, true).await,
                    }
                } else {
                    self.release_held();
                    let pool = self.pool_at(&addr);
                    match self.checkout_unsynced(&pool).await {
                        Ok(c) => (c, false),
                        Err(e) => return self.replica_failed(cfg, &addr, e, true).await,
                    }
                };
                let sql = wait_sql(&needed, cfg.consistency.wait_timeout.get());
                let waited = {
                    let server = conn.pool().server.clone();
                    let _load = Outstanding::start(&server);
                    internal::execute(&mut conn, &sql).await
                };
                match waited {
                    Ok(res) if first_cell_is_zero(&res) => {
                        if let Err(e) = self.sync(&mut conn).await {
                            drop(conn);
                            return self.replica_failed(cfg, &addr, e, true).await;
                        }
                        Stats::inc(&ryw.waited);
                        Ok(Placed {
                            conn,
                            was_held,
                            reason,
                            role: "replica",
                        })
                    }
                    other => {
                        Stats::inc(&ryw.wait_timeout);
                        match other {
                            Err(e) if e.is_fatal_for_connection() => drop(conn),
                            _ => conn.release(),
                        }
                        if was_held {
                            self.pin(super::state::Pin::NextStatement, false);
                        }
                        self.on_primary(RouteReason::ReadYourWrites).await
                    }
                }
            }
            ReadPlan::Primary { reason, fallback } => {
                if fallback {
                    Stats::inc(&ryw.fallback);
                }
                self.on_primary(reason).await
            }
            ReadPlan::Refused(why) => {
                Stats::inc(&self.ctx.stats.no_replica_errors);
                Err(SessionError::NoReplica(why))
            }
        }
    }

    /// A replica could not give a connection: the read goes to the
    /// primary, unless reads may never go there.
    async fn replica_failed(
        &mut self,
        cfg: &Config,
        addr: &str,
        e: SessionError,
        needed: bool,
    ) -> Result<Placed, SessionError> {
        tracing::debug!(session = self.id, server = %addr, error = %e, origin = %e.origin(), retry = %e.retry(), "replica connection failed; reading from the primary");
        if cfg.routing.primary_reads == PrimaryReads::Never {
            return Err(e);
        }
        if needed {
            Stats::inc(&self.ctx.stats.ryw.fallback);
        }
        self.on_primary(RouteReason::NoReplica).await
    }
}

fn first_cell_is_zero(res: &internal::InternalResult) -> bool {
    matches!(
        res.rows.first().and_then(|r| r.first()),
        Some(Some(v)) if v.as_slice() == b"0"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{AdminState, Flavor, ReplicationStatus, Role, ServerState, ThreadState};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::time::Duration;

    const P: &str = "127.0.0.1:1";
    const R1: &str = "127.0.0.1:2";
    const R2: &str = "127.0.0.1:3";

    fn gtid(s: &str) -> GtidSet {
        GtidSet::parse(Flavor::MariaDb, s).unwrap()
    }

    fn replica(addr: &str, executed: &str) -> ServerState {
        let mut s = ServerState::new(addr);
        s.role = Role::Replica;
        s.reachable = true;
        s.lag = Some(Duration::from_millis(100));
        s.gtid.executed = Some(gtid(executed));
        s.replication = vec![ReplicationStatus {
            source_host: Some("127.0.0.1".into()),
            source_port: Some(1),
            io_running: ThreadState::Running,
            sql_running: ThreadState::Running,
            ..Default::default()
        }];
        s
    }

    fn snapshot(servers: Vec<ServerState>) -> Snapshot {
        let mut p = ServerState::new(P);
        p.role = Role::Primary;
        p.reachable = true;
        let mut all = vec![p];
        all.extend(servers);
        Snapshot::new(all, Some(0), None)
    }

    fn config(extra: &str) -> Config {
        let servers = [P.to_string(), R1.to_string(), R2.to_string()];
        let ports = crate::sandbox::RouterPorts {
            listen: 7001,
            admin: 7002,
            metrics: 7003,
        };
        let text = format!(
            "{}\n{extra}",
            crate::sandbox::render_router_config(&servers, ports)
        );
        Config::from_toml_str(&text, std::path::Path::new("t.toml")).unwrap()
    }

    fn plan(snap: &Snapshot, cfg: &Config, needed: Option<&str>) -> ReadPlan {
        let n = needed.map(gtid);
        plan_read(
            snap,
            cfg,
            RouteReason::Read,
            n.as_ref(),
            |_| 0,
            None,
            &mut StdRng::seed_from_u64(3),
        )
    }

    fn addr_of(p: &ReadPlan) -> &str {
        match p {
            ReadPlan::Server { addr, .. } | ReadPlan::WaitOn { addr, .. } => addr,
            _ => "",
        }
    }

    #[test]
    fn reads_go_to_eligible_replicas_only() {
        let mut r2 = replica(R2, "0-1-5");
        r2.admin = AdminState::Offline;
        let snap = snapshot(vec![replica(R1, "0-1-5"), r2]);
        let cfg = config("");
        for _ in 0..20 {
            assert_eq!(addr_of(&plan(&snap, &cfg, None)), R1);
        }
    }

    #[test]
    fn primary_reads_policies() {
        let mut r1 = replica(R1, "0-1-5");
        r1.lag = Some(Duration::from_secs(60));
        let snap = snapshot(vec![r1]);
        assert_eq!(
            plan(&snap, &config(""), None),
            ReadPlan::Primary {
                reason: RouteReason::NoReplica,
                fallback: false
            }
        );
        let never = plan(&snap, &config("[routing]\nprimary_reads='never'"), None);
        assert!(
            matches!(&never, ReadPlan::Refused(w) if w.contains("lag")),
            "{never:?}"
        );
        let always = plan(&snap, &config("[routing]\nprimary_reads='always'"), None);
        assert_eq!(
            always,
            ReadPlan::Server {
                addr: P.into(),
                reason: RouteReason::PrimaryReads,
                hit: false
            }
        );
        // with a healthy replica, "always" shares reads with the primary
        let snap = snapshot(vec![replica(R1, "0-1-5")]);
        let cfg = config("[routing]\nprimary_reads='always'");
        let mut rng = StdRng::seed_from_u64(9);
        let mut on_primary = 0;
        for _ in 0..1000 {
            let p = plan_read(&snap, &cfg, RouteReason::Read, None, |_| 0, None, &mut rng);
            if addr_of(&p) == P {
                on_primary += 1;
            }
        }
        assert!((400..=600).contains(&on_primary), "{on_primary}");
    }

    #[test]
    fn the_primary_takes_the_share_of_a_replica_a_backup_drained() {
        let mut r2 = replica(R2, "0-1-5");
        r2.admin = AdminState::Drain;
        let mut snap = snapshot(vec![replica(R1, "0-1-5"), r2]);
        let share = |snap: &Snapshot, cfg: &Config| {
            let mut rng = StdRng::seed_from_u64(11);
            (0..1000)
                .filter(|_| {
                    let p = plan_read(snap, cfg, RouteReason::Read, None, |_| 0, None, &mut rng);
                    addr_of(&p) == P
                })
                .count()
        };
        // an operator's DRAIN: the other replica takes everything
        assert_eq!(share(&snap, &config("")), 0);
        // a backup's: the primary takes half, unless primary_reads = never
        snap.primary_shares_reads = true;
        assert!((400..=600).contains(&share(&snap, &config(""))));
        let never = config("[routing]\nprimary_reads='never'");
        assert_eq!(share(&snap, &never), 0);
    }

    #[test]
    fn read_your_writes_prefers_covering_then_waits_then_primary() {
        let snap = snapshot(vec![replica(R1, "0-1-5"), replica(R2, "0-1-9")]);
        let cfg = config("");
        // only R2 has 0-1-7
        for _ in 0..20 {
            let p = plan(&snap, &cfg, Some("0-1-7"));
            assert_eq!(
                p,
                ReadPlan::Server {
                    addr: R2.into(),
                    reason: RouteReason::Read,
                    hit: true
                }
            );
        }
        // nobody has 0-1-12 yet: wait on one
        assert!(matches!(
            plan(&snap, &cfg, Some("0-1-12")),
            ReadPlan::WaitOn { .. }
        ));
        // a stopped SQL thread makes a replica ineligible and unwaitable
        let mut r1 = replica(R1, "0-1-5");
        r1.replication[0].sql_running = ThreadState::Stopped;
        let snap = snapshot(vec![r1]);
        assert_eq!(
            plan(&snap, &cfg, Some("0-1-6")),
            ReadPlan::Primary {
                reason: RouteReason::NoReplica,
                fallback: false
            }
        );
    }

    #[test]
    fn weights_and_load_balance() {
        let snap = snapshot(vec![replica(R1, "0-1-5"), replica(R2, "0-1-5")]);
        let cfg = config("");
        let mut rng = StdRng::seed_from_u64(5);
        let busy = |a: &str| if a == R1 { 4 } else { 0 };
        for _ in 0..50 {
            let p = plan_read(&snap, &cfg, RouteReason::Read, None, busy, None, &mut rng);
            assert_eq!(addr_of(&p), R2);
        }
    }

    #[test]
    fn a_held_replica_is_kept_unless_clearly_busier() {
        let cfg = config("");
        let mut rng = StdRng::seed_from_u64(11);
        // where a session holding R1 reads, with `r1` and `r2` statements
        // running on each
        let mut held_on_r1 = |snap: &Snapshot, r1: u64, r2: u64| {
            let busy = |a: &str| if a == R1 { r1 } else { r2 };
            let p = plan_read(
                snap,
                &cfg,
                RouteReason::Read,
                None,
                busy,
                Some(R1),
                &mut rng,
            );
            addr_of(&p).to_string()
        };
        let snap = snapshot(vec![replica(R1, "0-1-5"), replica(R2, "0-1-5")]);
        for _ in 0..50 {
            assert_eq!(held_on_r1(&snap, 0, 0), R1, "affinity to the held replica");
        }
        // 3 statements running on R1 and none on R2: move
        assert_eq!(held_on_r1(&snap, 3, 0), R2);
        // somewhat busier is not clearly busier: 4 running against 2 stays
        assert_eq!(held_on_r1(&snap, 4, 2), R1);
        // twice as busy and more than two over is clearly busier: 7 against 3
        assert_eq!(held_on_r1(&snap, 7, 3), R2);
        // a held server that does not qualify is not kept
        let mut r1 = replica(R1, "0-1-5");
        r1.admin = AdminState::Drain;
        let snap = snapshot(vec![r1, replica(R2, "0-1-5")]);
        assert_eq!(held_on_r1(&snap, 0, 0), R2);
    }
}
