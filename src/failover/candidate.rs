//! When the primary is lost, exactly one replica must be promoted, and promoting the
//! wrong one loses data silently: a replica whose replication broke long before, one
//! far behind, or one holding writes the primary never had. This file decides, from the
//! monitor's snapshots alone (no I/O), which replica may be promoted and why, and why
//! every other one may not, in words an operator can act on.
//!
//! Safety checks (all must pass): reachable, `promotion = "always"`, ONLINE, a replica
//! of the lost primary, replication healthy in the last snapshot where the primary was
//! healthy (`before`) and SQL thread still running now, lag at loss time within
//! `failover.max_candidate_lag`, a known GTID position, and no errant GTIDs.
//! Ranking among the servers that pass: most advanced received GTID position, then most
//! advanced applied position, then configured order. "More advanced" is containment;
//! two positions where neither contains the other are ranked by transaction count, and
//! the reason says so.

use std::cmp::Reverse;
use std::time::Duration;

use crate::config::Promotion;
use crate::router::replicas::{replicates_from, same_address};
use crate::topology::{AdminState, GtidSet, ReplicationStatus, ServerState, ThreadState};

use super::errant::{errant_on_replica_of, ErrantGtids};

/// One server that might be promoted.
#[derive(Debug, Clone, Copy)]
pub struct Contender<'a> {
    /// Its state now (after the loss).
    pub now: &'a ServerState,
    /// The same server in the last snapshot in which the lost primary was still healthy.
    pub before: Option<&'a ServerState>,
    /// `[[servers]] promotion`.
    pub promotion: Promotion,
}

/// Why a server is not promoted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotPromotable {
    /// `FAILOVER TO` named an address that is not a configured server.
    #[error("not a configured server")]
    NotConfigured,
    #[error("it is the primary that was lost")]
    LostPrimary,
    #[error("unreachable")]
    Unreachable,
    #[error("configured with promotion = \"never\"")]
    PromotionNever,
    #[error("set {} by an operator", .0.as_str().to_uppercase())]
    Offline(AdminState),
    #[error("not a replica (no replication channel)")]
    NotAReplica,
    #[error("replicates from {source_address}, not from the lost primary")]
    NotReplicatingFromLostPrimary { source_address: String },
    #[error(
        "replication was already broken before the primary was lost (io {io}, sql {sql}{})",
        error_suffix(.error)
    )]
    ReplicationBrokenBeforeLoss {
        io: ThreadState,
        sql: ThreadState,
        error: Option<String>,
    },
    #[error("replication SQL thread is not running (sql {sql}{})", error_suffix(.error))]
    SqlThreadStopped {
        sql: ThreadState,
        error: Option<String>,
    },
    #[error(
        "lag {:.1}s at the loss exceeds failover.max_candidate_lag {:.1}s",
        .lag.as_secs_f64(),
        .max.as_secs_f64()
    )]
    LagTooLarge { lag: Duration, max: Duration },
    #[error(
        "lag unknown (not measured before the loss) and behind the primary's last known position"
    )]
    LagUnknown,
    #[error("holds errant GTIDs the lost primary never had: {0}")]
    ErrantGtids(ErrantGtids),
    #[error("GTID position unknown")]
    NoGtidPosition,
    /// Passed every check, but another server ranks higher.
    #[error("{}", .by.describe(.than))]
    Behind { than: String, by: Ranking },
}

impl NotPromotable {
    /// False for [`NotPromotable::Behind`]: the server was safe to promote, just not the
    /// best; true for every refusal on safety grounds.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, NotPromotable::Behind { .. })
    }
}

fn error_suffix(error: &Option<String>) -> String {
    error
        .as_ref()
        .map(|e| format!(", error: {e}"))
        .unwrap_or_default()
}

/// Which rule put one eligible server behind another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    /// Its received position is contained in the other's.
    Received,
    /// Same received position, applied position contained in the other's.
    Applied,
    /// Positions not comparable (neither contains the other): fewer transactions.
    TransactionCount,
    /// Same positions; the other comes first in configured order.
    ConfiguredOrder,
}

impl Ranking {
    /// Why a server ranks below `than`, as a sentence fragment.
    pub fn describe(&self, than: &str) -> String {
        match self {
            Ranking::Received => format!("received less than {than}"),
            Ranking::Applied => format!("received as much as {than} but applied less"),
            Ranking::TransactionCount => {
                format!("fewer transactions than {than} (neither position contains the other)")
            }
            Ranking::ConfiguredOrder => {
                format!("same position as {than}, which comes first in configured order")
            }
        }
    }
}

/// The server to promote.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub address: String,
    pub server_id: Option<u32>,
    /// Why, human readable.
    pub reason: String,
    /// Everything it has received from the lost primary (applied or in its relay log).
    pub received: Option<GtidSet>,
    /// What it has applied (`gtid_current_pos` / `gtid_executed`).
    pub applied: Option<GtidSet>,
}

/// The outcome of [`choose`].
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// `None`: no server may be promoted (refuse and alert).
    pub chosen: Option<Chosen>,
    /// Every other server considered, in configured order, with why it is not promoted
    /// (servers that passed every check but ranked lower carry `Behind`).
    pub rejected: Vec<(String, NotPromotable)>,
}

/// A server that passed every check.
struct Eligible<'a> {
    index: usize,
    server: &'a ServerState,
    received: GtidSet,
    applied: GtidSet,
}

impl Eligible<'_> {
    fn key(&self) -> (u128, u128, Reverse<usize>) {
        (
            weight(&self.received),
            weight(&self.applied),
            Reverse(self.index),
        )
    }
}

/// Chooses the server to promote after `lost` (the primary's last known state) is gone.
/// `contenders` are in configured order. With `forced` (`FAILOVER TO`), only that server
/// is considered; it still has to pass every safety check (except an unknown lag: the
/// operator vouches for it), and is promoted even if another server is more advanced
/// (the reason says so).
pub fn choose(
    lost: &ServerState,
    contenders: &[Contender],
    max_candidate_lag: Duration,
    forced: Option<&str>,
) -> Choice {
    let mut rejected = Vec::new();
    let mut eligible = Vec::new();
    for (index, c) in contenders.iter().enumerate() {
        // An operator forcing a target knows what sqlyard cannot measure.
        let forced_here = forced.is_some_and(|t| same_address(&c.now.address, t));
        match check(lost, c, max_candidate_lag, forced_here) {
            Ok((received, applied)) => eligible.push(Eligible {
                index,
                server: c.now,
                received,
                applied,
            }),
            Err(why) => rejected.push((index, c.now.address.clone(), why)),
        }
    }

    if let Some(target) = forced {
        return choose_forced(target, contenders, &eligible, rejected);
    }

    eligible.sort_by_key(|e| Reverse(e.key()));
    let Some((best, others)) = eligible.split_first() else {
        return Choice {
            chosen: None,
            rejected: rejected.into_iter().map(|(_, a, w)| (a, w)).collect(),
        };
    };
    for other in others {
        let by = ranking(best, other);
        rejected.push((
            other.index,
            other.server.address.clone(),
            NotPromotable::Behind {
                than: best.server.address.clone(),
                by,
            },
        ));
    }
    rejected.sort_by_key(|(i, _, _)| *i);
    Choice {
        chosen: Some(chosen(best, reason(best, others))),
        rejected: rejected.into_iter().map(|(_, a, w)| (a, w)).collect(),
    }
}

fn choose_forced(
    target: &str,
    contenders: &[Contender],
    eligible: &[Eligible],
    rejected: Vec<(usize, String, NotPromotable)>,
) -> Choice {
    let Some(index) = contenders
        .iter()
        .position(|c| same_address(&c.now.address, target))
    else {
        return Choice {
            chosen: None,
            rejected: vec![(target.to_string(), NotPromotable::NotConfigured)],
        };
    };
    let Some(t) = eligible.iter().find(|e| e.index == index) else {
        let rejected = rejected
            .into_iter()
            .filter(|(i, _, _)| *i == index)
            .map(|(_, a, w)| (a, w))
            .collect();
        return Choice {
            chosen: None,
            rejected,
        };
    };
    let mut reason = format!(
        "forced by FAILOVER TO; received GTID {}; applied {}",
        t.received, t.applied
    );
    let ahead: Vec<String> = eligible
        .iter()
        .filter(|o| o.index != index && is_ahead(o, t))
        .map(|o| {
            format!(
                "{} (received {}, applied {})",
                o.server.address, o.received, o.applied
            )
        })
        .collect();
    if !ahead.is_empty() {
        reason.push_str(&format!(
            "; NOTE: not the most advanced, behind {}",
            ahead.join(", ")
        ));
    }
    Choice {
        chosen: Some(chosen(t, reason)),
        rejected: Vec::new(),
    }
}

fn chosen(e: &Eligible, reason: String) -> Chosen {
    Chosen {
        address: e.server.address.clone(),
        server_id: e.server.server_id,
        reason,
        received: Some(e.received.clone()),
        applied: Some(e.applied.clone()),
    }
}

/// `o` has something `t` lacks: received more, or the same received but applied more.
fn is_ahead(o: &Eligible, t: &Eligible) -> bool {
    if !t.received.contains(&o.received) {
        return true;
    }
    equivalent(&t.received, &o.received) && !t.applied.contains(&o.applied)
}

/// Why `other` ranks below `best`.
fn ranking(best: &Eligible, other: &Eligible) -> Ranking {
    if !equivalent(&best.received, &other.received) {
        return if best.received.contains(&other.received) {
            Ranking::Received
        } else {
            Ranking::TransactionCount
        };
    }
    if !equivalent(&best.applied, &other.applied) {
        return if best.applied.contains(&other.applied) {
            Ranking::Applied
        } else {
            Ranking::TransactionCount
        };
    }
    Ranking::ConfiguredOrder
}

/// Picks one position of an eligible server.
type Position = for<'x, 'y> fn(&'x Eligible<'y>) -> &'x GtidSet;

/// The human-readable reason `best` was chosen over `others` (in rank order).
fn reason(best: &Eligible, others: &[Eligible]) -> String {
    let Some(runner) = others.first() else {
        return format!(
            "only eligible replica; received GTID {}; applied {}",
            best.received, best.applied
        );
    };
    // `others` shown with their position `pos`, and a note for those whose position
    // `best`'s does not contain (ranked by transaction count).
    let describe = |others: &[&Eligible], pos: Position| {
        let had = others
            .iter()
            .map(|o| format!("{} had {}", o.server.address, pos(o)))
            .collect::<Vec<_>>()
            .join(", ");
        let incomparable = others
            .iter()
            .filter(|o| !pos(best).contains(pos(o)))
            .map(|o| o.server.address.as_str())
            .collect::<Vec<_>>();
        if incomparable.is_empty() {
            had
        } else {
            format!(
                "{had}; ranked by transaction count: neither position contains the other for {}",
                incomparable.join(", ")
            )
        }
    };
    if !equivalent(&best.received, &runner.received) {
        let all: Vec<&Eligible> = others.iter().collect();
        return format!(
            "most advanced received GTID {} ({}); applied {}",
            best.received,
            describe(&all, |e| &e.received),
            best.applied
        );
    }
    if ranking(best, runner) == Ranking::ConfiguredOrder {
        return format!(
            "received GTID {} and applied {} like {}; first in configured order",
            best.received, best.applied, runner.server.address
        );
    }
    let same_received: Vec<&Eligible> = others
        .iter()
        .filter(|o| equivalent(&best.received, &o.received))
        .collect();
    format!(
        "received GTID {} like {}; most advanced applied GTID {} ({})",
        best.received,
        runner.server.address,
        best.applied,
        describe(&same_received, |e| &e.applied)
    )
}

/// Every safety check; on success the received and applied positions.
fn check(
    lost: &ServerState,
    c: &Contender,
    max_lag: Duration,
    lag_unknown_ok: bool,
) -> Result<(GtidSet, GtidSet), NotPromotable> {
    let now = c.now;
    if same_address(&now.address, &lost.address) {
        return Err(NotPromotable::LostPrimary);
    }
    if !now.reachable {
        return Err(NotPromotable::Unreachable);
    }
    if c.promotion == Promotion::Never {
        return Err(NotPromotable::PromotionNever);
    }
    if now.admin != AdminState::Online {
        return Err(NotPromotable::Offline(now.admin));
    }
    let channel = channel_from(now, lost)?;
    if let Some(before) = c.before {
        let was = channel_from(before, lost).map_err(|why| match why {
            NotPromotable::NotAReplica => NotPromotable::NotReplicatingFromLostPrimary {
                source_address: "no one (before the loss)".to_string(),
            },
            other => other,
        })?;
        let error = was
            .last_sql_error
            .clone()
            .or_else(|| was.last_io_error.clone())
            .or_else(|| errno_text(was));
        if was.sql_running != ThreadState::Running
            || was.io_running == ThreadState::Stopped
            || error.is_some()
        {
            return Err(NotPromotable::ReplicationBrokenBeforeLoss {
                io: was.io_running,
                sql: was.sql_running,
                error,
            });
        }
    }
    let sql_error = channel
        .last_sql_error
        .clone()
        .or_else(|| channel.last_sql_errno.map(|n| format!("SQL error {n}")));
    if channel.sql_running != ThreadState::Running || sql_error.is_some() {
        return Err(NotPromotable::SqlThreadStopped {
            sql: channel.sql_running,
            error: sql_error,
        });
    }
    let Some(applied) = now.gtid.executed.clone() else {
        return Err(NotPromotable::NoGtidPosition);
    };
    let flavor = now.flavor.or(lost.flavor).unwrap_or(applied.flavor());
    if applied.flavor() != flavor {
        return Err(NotPromotable::NoGtidPosition);
    }
    let mut received = applied.clone();
    if let Some(r) = channel
        .retrieved_gtid
        .as_ref()
        .filter(|r| r.flavor() == flavor)
    {
        received.merge(r);
    }
    match c.before.and_then(|b| b.lag).or(now.lag) {
        // Not measured (sqlyard started moments before the loss): the data
        // is not behind if it already received everything the primary was
        // last seen to have.
        None if lost
            .gtid
            .executed
            .as_ref()
            .is_some_and(|p| p.flavor() == flavor && received.contains(p)) => {}
        None if lag_unknown_ok => {}
        None => return Err(NotPromotable::LagUnknown),
        Some(lag) if lag > max_lag => return Err(NotPromotable::LagTooLarge { lag, max: max_lag }),
        Some(_) => {}
    }
    let errant = errant_on_replica_of(&now.gtid, &lost.gtid, lost.server_id, None, flavor);
    if !errant.is_empty() {
        return Err(NotPromotable::ErrantGtids(errant));
    }
    Ok((received, applied))
}

/// Error numbers without text still count as errors.
fn errno_text(c: &ReplicationStatus) -> Option<String> {
    c.last_sql_errno
        .map(|n| format!("SQL error {n}"))
        .or_else(|| c.last_io_errno.map(|n| format!("IO error {n}")))
}

/// The replication channel of `s` whose source is the lost primary.
fn channel_from<'s>(
    s: &'s ServerState,
    lost: &ServerState,
) -> Result<&'s ReplicationStatus, NotPromotable> {
    let mut sources = s.replication.iter().filter(|c| c.has_source()).peekable();
    let Some(first) = sources.peek().copied() else {
        return Err(NotPromotable::NotAReplica);
    };
    sources.find(|c| replicates_from(c, lost)).ok_or_else(|| {
        NotPromotable::NotReplicatingFromLostPrimary {
            source_address: first.source_address().unwrap_or_default(),
        }
    })
}

/// Orders positions consistently with containment: a position that strictly contains
/// another weighs more. MariaDB: sum over domains of seq + 1; MySQL: transaction count.
fn weight(set: &GtidSet) -> u128 {
    match set {
        GtidSet::MariaDb(l) => l.iter().map(|g| u128::from(g.seq) + 1).sum(),
        GtidSet::MySql(s) => s
            .iter()
            .flat_map(|(_, ivs)| ivs.iter())
            .map(|iv| u128::from(iv.end - iv.start) + 1)
            .sum(),
    }
}

/// Each contains the other (MariaDB lists may differ in the server_id part only).
fn equivalent(a: &GtidSet, b: &GtidSet) -> bool {
    a.contains(b) && b.contains(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{Flavor, GtidPositions, Role};

    const LOST: &str = "127.0.0.1:23301";
    const R2: &str = "127.0.0.1:23302";
    const R3: &str = "127.0.0.1:23303";
    const R4: &str = "127.0.0.1:23304";
    const U1: &str = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
    const U2: &str = "2174B383-5441-11E8-B90A-C80AA9429562";
    const U3: &str = "7A3E5F00-0000-11EE-8000-000000000003";
    const MAX_LAG: Duration = Duration::from_secs(5);

    fn gtid(flavor: Flavor, text: &str) -> GtidSet {
        GtidSet::parse(flavor, text).unwrap()
    }

    fn positions(flavor: Flavor, applied: &str) -> GtidPositions {
        match flavor {
            Flavor::MariaDb => GtidPositions {
                executed: Some(gtid(flavor, applied)),
                slave_pos: Some(applied.parse().unwrap()),
                binlog_pos: Some(applied.parse().unwrap()),
            },
            Flavor::MySql => GtidPositions {
                executed: Some(gtid(flavor, applied)),
                ..Default::default()
            },
        }
    }

    /// The primary as last seen: server_id 1, at `applied`.
    fn lost(flavor: Flavor, applied: &str) -> ServerState {
        let mut s = ServerState::new(LOST);
        s.server_id = Some(1);
        s.flavor = Some(flavor);
        s.read_only = Some(false);
        s.role = Role::Unreachable;
        s.gtid = positions(flavor, applied);
        s
    }

    /// A replica of the lost primary after the loss (IO thread reconnecting), with
    /// `applied` applied and `received` in its relay log, lag 0.2 s.
    fn replica(flavor: Flavor, addr: &str, id: u32, applied: &str, received: &str) -> ServerState {
        let mut s = ServerState::new(addr);
        s.reachable = true;
        s.server_id = Some(id);
        s.flavor = Some(flavor);
        s.read_only = Some(true);
        s.role = Role::Replica;
        s.gtid = positions(flavor, applied);
        s.lag = Some(Duration::from_millis(200));
        s.replication = vec![ReplicationStatus {
            source_host: Some("127.0.0.1".into()),
            source_port: Some(23301),
            io_running: ThreadState::Connecting,
            sql_running: ThreadState::Running,
            retrieved_gtid: Some(gtid(flavor, received)),
            executed_gtid: Some(gtid(flavor, applied)),
            ..Default::default()
        }];
        s
    }

    fn maria(addr: &str, id: u32, applied: &str, received: &str) -> ServerState {
        replica(Flavor::MariaDb, addr, id, applied, received)
    }

    /// The same server while the primary was healthy: IO thread running.
    fn healthy(now: &ServerState) -> ServerState {
        let mut b = now.clone();
        for c in &mut b.replication {
            c.io_running = ThreadState::Running;
        }
        b
    }

    fn contender<'a>(now: &'a ServerState, before: &'a ServerState) -> Contender<'a> {
        Contender {
            now,
            before: Some(before),
            promotion: Promotion::Always,
        }
    }

    fn rejection<'c>(choice: &'c Choice, addr: &str) -> &'c NotPromotable {
        &choice
            .rejected
            .iter()
            .find(|(a, _)| a == addr)
            .unwrap_or_else(|| panic!("{addr} not rejected: {choice:?}"))
            .1
    }

    /// One MariaDB contender (with a healthy `before`) judged alone.
    fn verdict_of(now: &ServerState, before: Option<&ServerState>) -> Choice {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let c = Contender {
            now,
            before,
            promotion: Promotion::Always,
        };
        choose(&l, &[c], MAX_LAG, None)
    }

    fn only_rejection(choice: &Choice) -> &NotPromotable {
        assert!(choice.chosen.is_none(), "{choice:?}");
        assert_eq!(choice.rejected.len(), 1, "{choice:?}");
        &choice.rejected[0].1
    }

    #[test]
    fn most_advanced_received_position_wins() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let r2 = maria(R2, 2, "0-1-55", "0-1-57");
        let r3 = maria(R3, 3, "0-1-55", "0-1-55");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let choice = choose(
            &l,
            &[contender(&r3, &b3), contender(&r2, &b2)],
            MAX_LAG,
            None,
        );
        let chosen = choice.chosen.clone().unwrap();
        assert_eq!(chosen.address, R2);
        assert_eq!(chosen.server_id, Some(2));
        assert_eq!(
            chosen.reason,
            "most advanced received GTID 0-1-57 (127.0.0.1:23303 had 0-1-55); applied 0-1-55"
        );
        assert_eq!(chosen.received, Some(gtid(Flavor::MariaDb, "0-1-57")));
        assert_eq!(chosen.applied, Some(gtid(Flavor::MariaDb, "0-1-55")));
        assert_eq!(
            choice.rejected,
            vec![(
                R3.to_string(),
                NotPromotable::Behind {
                    than: R2.into(),
                    by: Ranking::Received
                }
            )]
        );
        assert!(!choice.rejected[0].1.is_refusal());
        assert_eq!(
            choice.rejected[0].1.to_string(),
            "received less than 127.0.0.1:23302"
        );
    }

    #[test]
    fn received_wins_over_applied() {
        // r3 applied more, but r2 received more: r2 will have more once caught up.
        let l = lost(Flavor::MariaDb, "0-1-50");
        let r2 = maria(R2, 2, "0-1-50", "0-1-60");
        let r3 = maria(R3, 3, "0-1-58", "0-1-58");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let choice = choose(
            &l,
            &[contender(&r3, &b3), contender(&r2, &b2)],
            MAX_LAG,
            None,
        );
        assert_eq!(choice.chosen.unwrap().address, R2);
    }

    #[test]
    fn same_received_position_then_most_applied_wins() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let r2 = maria(R2, 2, "0-1-56", "0-1-57");
        let r3 = maria(R3, 3, "0-1-57", "0-1-57");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let choice = choose(
            &l,
            &[contender(&r2, &b2), contender(&r3, &b3)],
            MAX_LAG,
            None,
        );
        let chosen = choice.chosen.unwrap();
        assert_eq!(chosen.address, R3);
        assert_eq!(
            chosen.reason,
            "received GTID 0-1-57 like 127.0.0.1:23302; most advanced applied GTID 0-1-57 \
             (127.0.0.1:23302 had 0-1-56)"
        );
        assert_eq!(
            choice.rejected[0].1,
            NotPromotable::Behind {
                than: R3.into(),
                by: Ranking::Applied
            }
        );
    }

    #[test]
    fn equal_positions_fall_back_to_configured_order() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let r2 = maria(R2, 2, "0-1-55", "0-1-55");
        let r3 = maria(R3, 3, "0-1-55", "0-1-55");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let choice = choose(
            &l,
            &[contender(&r3, &b3), contender(&r2, &b2)],
            MAX_LAG,
            None,
        );
        let chosen = choice.chosen.unwrap();
        assert_eq!(chosen.address, R3, "first in the given order");
        assert_eq!(
            chosen.reason,
            "received GTID 0-1-55 and applied 0-1-55 like 127.0.0.1:23302; first in configured order"
        );
        assert_eq!(
            choice.rejected[0].1,
            NotPromotable::Behind {
                than: R3.into(),
                by: Ranking::ConfiguredOrder
            }
        );
    }

    #[test]
    fn incomparable_positions_rank_by_transaction_count() {
        let l = lost(Flavor::MariaDb, "0-1-40,1-1-5");
        // Neither contains the other: r2 is ahead in domain 0, r3 in domain 1.
        let r2 = maria(R2, 2, "0-1-50,1-1-10", "0-1-50,1-1-10");
        let r3 = maria(R3, 3, "0-1-48,1-1-15", "0-1-48,1-1-15");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let choice = choose(
            &l,
            &[contender(&r2, &b2), contender(&r3, &b3)],
            MAX_LAG,
            None,
        );
        let chosen = choice.chosen.unwrap();
        assert_eq!(chosen.address, R3);
        assert!(
            chosen.reason.contains("ranked by transaction count") && chosen.reason.contains(R2),
            "{}",
            chosen.reason
        );
        assert_eq!(
            choice.rejected[0].1,
            NotPromotable::Behind {
                than: R3.into(),
                by: Ranking::TransactionCount
            }
        );
    }

    #[test]
    fn mysql_ranking_and_errant_transactions() {
        let l = lost(Flavor::MySql, &format!("{U1}:1-100, {U2}:1-27"));
        let r2 = replica(
            Flavor::MySql,
            R2,
            2,
            &format!("{U1}:1-100, {U2}:1-27"),
            &format!("{U1}:1-104"),
        );
        let r3 = replica(
            Flavor::MySql,
            R3,
            3,
            &format!("{U1}:1-102, {U2}:1-27"),
            &format!("{U1}:1-102"),
        );
        // r4 is the most advanced but holds a transaction written on itself.
        let r4 = replica(
            Flavor::MySql,
            R4,
            4,
            &format!("{U1}:1-110, {U2}:1-27, {U3}:1"),
            &format!("{U1}:1-110"),
        );
        let (b2, b3, b4) = (healthy(&r2), healthy(&r3), healthy(&r4));
        let choice = choose(
            &l,
            &[
                contender(&r2, &b2),
                contender(&r3, &b3),
                contender(&r4, &b4),
            ],
            MAX_LAG,
            None,
        );
        let chosen = choice.chosen.clone().unwrap();
        assert_eq!(chosen.address, R2, "{choice:?}");
        assert_eq!(
            chosen.received.unwrap().to_string(),
            "2174b383-5441-11e8-b90a-c80aa9429562:1-27,\n3e11fa47-71ca-11e1-9e33-c80aa9429562:1-104"
        );
        let NotPromotable::ErrantGtids(errant) = rejection(&choice, R4) else {
            panic!("{choice:?}")
        };
        assert_eq!(errant.to_string(), "7a3e5f00-0000-11ee-8000-000000000003:1");
        assert!(rejection(&choice, R4)
            .to_string()
            .starts_with("holds errant GTIDs the lost primary never had: 7a3e5f00"));
        assert_eq!(
            rejection(&choice, R3),
            &NotPromotable::Behind {
                than: R2.into(),
                by: Ranking::Received
            }
        );
        // Rejections are listed in configured order.
        let order: Vec<&str> = choice.rejected.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(order, vec![R3, R4]);
    }

    #[test]
    fn received_includes_what_was_applied() {
        // A channel reporting no received position (or an older one) still counts what
        // the server applied.
        let l = lost(Flavor::MariaDb, "0-1-55");
        let mut r2 = maria(R2, 2, "0-1-57", "0-1-50");
        let r3 = maria(R3, 3, "0-1-56", "0-1-56");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let choice = choose(
            &l,
            &[contender(&r3, &b3), contender(&r2, &b2)],
            MAX_LAG,
            None,
        );
        assert_eq!(
            choice.chosen.unwrap().received.unwrap().to_string(),
            "0-1-57"
        );
        r2.replication[0].retrieved_gtid = None;
        let choice = choose(
            &l,
            &[contender(&r3, &b3), contender(&r2, &b2)],
            MAX_LAG,
            None,
        );
        assert_eq!(choice.chosen.unwrap().address, R2);
    }

    #[test]
    fn unreachable_never_and_offline_are_refused() {
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        let b = healthy(&r);
        r.reachable = false;
        assert_eq!(
            only_rejection(&verdict_of(&r, Some(&b))),
            &NotPromotable::Unreachable
        );

        let r = maria(R2, 2, "0-1-55", "0-1-55");
        let l = lost(Flavor::MariaDb, "0-1-55");
        let c = Contender {
            now: &r,
            before: Some(&b),
            promotion: Promotion::Never,
        };
        let choice = choose(&l, &[c], MAX_LAG, None);
        assert_eq!(only_rejection(&choice), &NotPromotable::PromotionNever);
        assert_eq!(
            only_rejection(&choice).to_string(),
            "configured with promotion = \"never\""
        );

        for admin in [AdminState::Offline, AdminState::Drain] {
            let mut r = maria(R2, 2, "0-1-55", "0-1-55");
            r.admin = admin;
            let choice = verdict_of(&r, Some(&b));
            assert_eq!(only_rejection(&choice), &NotPromotable::Offline(admin));
            assert_eq!(
                only_rejection(&choice).to_string(),
                format!("set {} by an operator", admin.as_str().to_uppercase())
            );
        }
    }

    #[test]
    fn the_lost_primary_itself_is_refused() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let choice = verdict_of(&l, None);
        assert_eq!(only_rejection(&choice), &NotPromotable::LostPrimary);
    }

    #[test]
    fn must_replicate_from_the_lost_primary() {
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        r.replication.clear();
        assert_eq!(
            only_rejection(&verdict_of(&r, None)),
            &NotPromotable::NotAReplica
        );

        // A channel reset to no host is no channel.
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        r.replication[0].source_host = None;
        assert_eq!(
            only_rejection(&verdict_of(&r, None)),
            &NotPromotable::NotAReplica
        );

        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        r.replication[0].source_port = Some(23309);
        let choice = verdict_of(&r, None);
        assert_eq!(
            only_rejection(&choice),
            &NotPromotable::NotReplicatingFromLostPrimary {
                source_address: "127.0.0.1:23309".into()
            }
        );
        assert_eq!(
            only_rejection(&choice).to_string(),
            "replicates from 127.0.0.1:23309, not from the lost primary"
        );

        // localhost is 127.0.0.1.
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        r.replication[0].source_host = Some("localhost".into());
        let b = healthy(&r);
        assert_eq!(verdict_of(&r, Some(&b)).chosen.unwrap().address, R2);

        // A second channel from the lost primary is found.
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        let mut other = r.replication[0].clone();
        other.channel = "east".into();
        other.source_host = Some("10.0.0.9".into());
        r.replication.insert(0, other);
        let b = healthy(&r);
        assert_eq!(verdict_of(&r, Some(&b)).chosen.unwrap().address, R2);

        // Replicating from elsewhere before the loss.
        let r = maria(R2, 2, "0-1-55", "0-1-55");
        let mut b = healthy(&r);
        b.replication[0].source_host = Some("10.0.0.9".into());
        assert_eq!(
            only_rejection(&verdict_of(&r, Some(&b))),
            &NotPromotable::NotReplicatingFromLostPrimary {
                source_address: "10.0.0.9:23301".into()
            }
        );
        b.replication.clear();
        assert_eq!(
            only_rejection(&verdict_of(&r, Some(&b))),
            &NotPromotable::NotReplicatingFromLostPrimary {
                source_address: "no one (before the loss)".into()
            }
        );
    }

    #[test]
    fn replication_broken_before_the_loss_is_refused() {
        let r = maria(R2, 2, "0-1-55", "0-1-55");

        // SQL thread stopped while the primary was healthy (e.g. STOP SLAVE SQL_THREAD).
        let mut b = healthy(&r);
        b.replication[0].sql_running = ThreadState::Stopped;
        let choice = verdict_of(&r, Some(&b));
        assert_eq!(
            only_rejection(&choice),
            &NotPromotable::ReplicationBrokenBeforeLoss {
                io: ThreadState::Running,
                sql: ThreadState::Stopped,
                error: None
            }
        );
        assert_eq!(
            only_rejection(&choice).to_string(),
            "replication was already broken before the primary was lost (io running, sql stopped)"
        );

        // IO thread stopped before (STOP SLAVE IO_THREAD): refused.
        let mut b = healthy(&r);
        b.replication[0].io_running = ThreadState::Stopped;
        assert!(matches!(
            only_rejection(&verdict_of(&r, Some(&b))),
            NotPromotable::ReplicationBrokenBeforeLoss {
                io: ThreadState::Stopped,
                ..
            }
        ));

        // IO thread merely reconnecting before: fine.
        let mut b = healthy(&r);
        b.replication[0].io_running = ThreadState::Connecting;
        assert!(verdict_of(&r, Some(&b)).chosen.is_some());

        // An error recorded before, even with both threads running.
        let mut b = healthy(&r);
        b.replication[0].last_io_error = Some("Got fatal error 1236 from master".into());
        b.replication[0].last_io_errno = Some(1236);
        let choice = verdict_of(&r, Some(&b));
        assert_eq!(
            only_rejection(&choice).to_string(),
            "replication was already broken before the primary was lost (io running, sql running, \
             error: Got fatal error 1236 from master)"
        );
        let mut b = healthy(&r);
        b.replication[0].last_sql_errno = Some(1062);
        assert!(matches!(
            only_rejection(&verdict_of(&r, Some(&b))),
            NotPromotable::ReplicationBrokenBeforeLoss { error: Some(e), .. } if e == "SQL error 1062"
        ));
    }

    #[test]
    fn sql_thread_stopped_now_is_refused() {
        // No `before` snapshot: judged on now, where the IO thread is expected to be down.
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        r.replication[0].io_running = ThreadState::Stopped;
        r.replication[0].last_io_error = Some("error reconnecting to master".into());
        assert!(
            verdict_of(&r, None).chosen.is_some(),
            "IO state now is irrelevant"
        );

        r.replication[0].sql_running = ThreadState::Stopped;
        let choice = verdict_of(&r, None);
        assert_eq!(
            only_rejection(&choice),
            &NotPromotable::SqlThreadStopped {
                sql: ThreadState::Stopped,
                error: None
            }
        );

        // An SQL error now, with `before` healthy.
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        let b = healthy(&r);
        r.replication[0].sql_running = ThreadState::Stopped;
        r.replication[0].last_sql_errno = Some(1062);
        r.replication[0].last_sql_error = Some("Duplicate entry '1' for key 'PRIMARY'".into());
        let choice = verdict_of(&r, Some(&b));
        assert_eq!(
            only_rejection(&choice).to_string(),
            "replication SQL thread is not running (sql stopped, error: Duplicate entry '1' for \
             key 'PRIMARY')"
        );
    }

    #[test]
    fn lag_at_loss_time_is_bounded() {
        let mut r = maria(R2, 2, "0-1-55", "0-1-55");
        let mut b = healthy(&r);
        // Lag at loss time decides, not the lag now.
        b.lag = Some(Duration::from_secs(30));
        r.lag = Some(Duration::from_millis(100));
        let choice = verdict_of(&r, Some(&b));
        assert_eq!(
            only_rejection(&choice),
            &NotPromotable::LagTooLarge {
                lag: Duration::from_secs(30),
                max: MAX_LAG
            }
        );
        assert_eq!(
            only_rejection(&choice).to_string(),
            "lag 30.0s at the loss exceeds failover.max_candidate_lag 5.0s"
        );
        // Exactly at the bound is fine.
        b.lag = Some(MAX_LAG);
        assert!(verdict_of(&r, Some(&b)).chosen.is_some());

        // Falls back to the lag now when it was not measured before.
        b.lag = None;
        r.lag = Some(Duration::from_secs(6));
        assert!(matches!(
            only_rejection(&verdict_of(&r, Some(&b))),
            NotPromotable::LagTooLarge { .. }
        ));
        assert!(matches!(
            only_rejection(&verdict_of(&r, None)),
            NotPromotable::LagTooLarge { .. }
        ));

        // Never measured: fine when it received all the primary was last
        // seen to have (0-1-55), refused when it is behind (0-1-50).
        r.lag = None;
        let mut b2 = b.clone();
        b2.lag = None;
        assert!(verdict_of(&r, Some(&b2)).chosen.is_some());
        let mut behind = maria(R2, 2, "0-1-50", "0-1-50");
        behind.lag = None;
        let mut b3 = healthy(&behind);
        b3.lag = None;
        assert_eq!(
            only_rejection(&verdict_of(&behind, Some(&b3))),
            &NotPromotable::LagUnknown
        );
    }

    #[test]
    fn errant_and_unknown_positions_are_refused() {
        // A write made directly on the replica (server 3): 0-3-56 after the primary's 0-1-55.
        let mut r = maria(R3, 3, "0-1-55", "0-1-55");
        r.gtid = GtidPositions {
            executed: Some(gtid(Flavor::MariaDb, "0-3-56")),
            slave_pos: Some("0-1-55".parse().unwrap()),
            binlog_pos: Some("0-3-56".parse().unwrap()),
        };
        let b = healthy(&r);
        let choice = verdict_of(&r, Some(&b));
        let NotPromotable::ErrantGtids(e) = only_rejection(&choice) else {
            panic!("{choice:?}")
        };
        assert_eq!(e.to_string(), "up to 0-3-56");
        assert!(only_rejection(&choice).is_refusal());

        // More transactions of the primary's own than last seen on it: not errant.
        let r = maria(R3, 3, "0-1-60", "0-1-62");
        let b = healthy(&r);
        assert!(verdict_of(&r, Some(&b)).chosen.is_some());

        let mut r = maria(R3, 3, "0-1-55", "0-1-55");
        r.gtid.executed = None;
        assert_eq!(
            only_rejection(&verdict_of(&r, None)),
            &NotPromotable::NoGtidPosition
        );
        assert_eq!(
            NotPromotable::NoGtidPosition.to_string(),
            "GTID position unknown"
        );
    }

    #[test]
    fn nobody_eligible_means_no_choice_and_every_reason() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let mut r2 = maria(R2, 2, "0-1-55", "0-1-55");
        let b2 = healthy(&r2);
        r2.reachable = false;
        let r3 = maria(R3, 3, "0-1-55", "0-1-55");
        let mut b3 = healthy(&r3);
        b3.replication[0].sql_running = ThreadState::Stopped;
        let choice = choose(
            &l,
            &[contender(&r2, &b2), contender(&r3, &b3)],
            MAX_LAG,
            None,
        );
        assert!(choice.chosen.is_none());
        assert_eq!(choice.rejected.len(), 2);
        assert_eq!(
            choice.rejected[0],
            (R2.to_string(), NotPromotable::Unreachable)
        );
        assert!(matches!(
            choice.rejected[1].1,
            NotPromotable::ReplicationBrokenBeforeLoss { .. }
        ));
        assert!(choice.rejected.iter().all(|(_, w)| w.is_refusal()));

        let empty = choose(&l, &[], MAX_LAG, None);
        assert!(empty.chosen.is_none() && empty.rejected.is_empty());
    }

    #[test]
    fn forced_target_is_the_only_one_considered() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let r2 = maria(R2, 2, "0-1-55", "0-1-57");
        let r3 = maria(R3, 3, "0-1-55", "0-1-55");
        let (b2, b3) = (healthy(&r2), healthy(&r3));
        let cs = [contender(&r2, &b2), contender(&r3, &b3)];

        // Less advanced than r2, still promoted, and the reason says so.
        let choice = choose(&l, &cs, MAX_LAG, Some(R3));
        let chosen = choice.chosen.unwrap();
        assert_eq!(chosen.address, R3);
        assert_eq!(
            chosen.reason,
            "forced by FAILOVER TO; received GTID 0-1-55; applied 0-1-55; NOTE: not the most \
             advanced, behind 127.0.0.1:23302 (received 0-1-57, applied 0-1-55)"
        );
        assert!(choice.rejected.is_empty());

        // The most advanced one: no note. `localhost` names the same server.
        let choice = choose(&l, &cs, MAX_LAG, Some("localhost:23302"));
        let chosen = choice.chosen.unwrap();
        assert_eq!(chosen.address, R2);
        assert!(!chosen.reason.contains("NOTE"), "{}", chosen.reason);

        // Not configured.
        let choice = choose(&l, &cs, MAX_LAG, Some("10.9.9.9:3306"));
        assert!(choice.chosen.is_none());
        assert_eq!(
            choice.rejected,
            vec![("10.9.9.9:3306".to_string(), NotPromotable::NotConfigured)]
        );
    }

    #[test]
    fn forced_target_still_gets_every_safety_check() {
        let l = lost(Flavor::MariaDb, "0-1-55");
        let r2 = maria(R2, 2, "0-1-55", "0-1-55");
        let mut r3 = maria(R3, 3, "0-1-55", "0-1-55");
        let (b2, mut b3) = (healthy(&r2), healthy(&r3));
        b3.lag = Some(Duration::from_secs(60));
        r3.lag = Some(Duration::from_secs(60));
        let choice = choose(
            &l,
            &[contender(&r2, &b2), contender(&r3, &b3)],
            MAX_LAG,
            Some(R3),
        );
        assert!(
            choice.chosen.is_none(),
            "never falls back to another server"
        );
        assert_eq!(choice.rejected.len(), 1);
        assert_eq!(choice.rejected[0].0, R3);
        assert!(matches!(
            choice.rejected[0].1,
            NotPromotable::LagTooLarge { .. }
        ));

        let c = Contender {
            now: &r2,
            before: Some(&b2),
            promotion: Promotion::Never,
        };
        let choice = choose(&l, &[c], MAX_LAG, Some(R2));
        assert_eq!(only_rejection(&choice), &NotPromotable::PromotionNever);
    }

    #[test]
    fn single_eligible_reason() {
        let r = maria(R2, 2, "0-1-55", "0-1-56");
        let b = healthy(&r);
        let chosen = verdict_of(&r, Some(&b)).chosen.unwrap();
        assert_eq!(
            chosen.reason,
            "only eligible replica; received GTID 0-1-56; applied 0-1-55"
        );
    }

    #[test]
    fn weight_follows_containment() {
        let a = gtid(Flavor::MariaDb, "0-1-10,1-2-0");
        let b = gtid(Flavor::MariaDb, "0-1-10");
        assert!(a.contains(&b) && !b.contains(&a));
        assert!(weight(&a) > weight(&b));
        let m = gtid(Flavor::MySql, &format!("{U1}:1-5:7"));
        assert_eq!(weight(&m), 6);
        assert!(equivalent(
            &gtid(Flavor::MariaDb, "0-1-10"),
            &gtid(Flavor::MariaDb, "0-2-10")
        ));
    }

    #[test]
    fn behind_reads_as_a_sentence() {
        let text = |by| {
            NotPromotable::Behind {
                than: R2.into(),
                by,
            }
            .to_string()
        };
        assert_eq!(
            text(Ranking::Applied),
            "received as much as 127.0.0.1:23302 but applied less"
        );
        assert_eq!(
            text(Ranking::TransactionCount),
            "fewer transactions than 127.0.0.1:23302 (neither position contains the other)"
        );
        assert_eq!(
            text(Ranking::ConfiguredOrder),
            "same position as 127.0.0.1:23302, which comes first in configured order"
        );
        assert_eq!(NotPromotable::Unreachable.to_string(), "unreachable");
        assert_eq!(
            NotPromotable::LagUnknown.to_string(),
            "lag unknown (not measured before the loss) and behind the primary's last known position"
        );
    }

    #[test]
    fn addresses_compare_with_localhost_as_loopback() {
        assert!(same_address("localhost:3306", "127.0.0.1:3306"));
        assert!(same_address("LOCALHOST:3306", "127.0.0.1:3306"));
        assert!(!same_address("localhost:3307", "127.0.0.1:3306"));
        assert!(!same_address("db1:3306", "db2:3306"));
    }
}
