//! Problem: a planned primary change (maintenance, upgrades) must not cost
//! clients errors or lost writes. `SWITCHOVER [TO 'host:port']` moves the
//! primary while it is alive:
//!
//! 1. hold new writes (statements needing the primary wait, `hold`);
//! 2. let open transactions on the old primary finish, for at most
//!    `failover.switchover_timeout` (else cancel: nothing changed);
//! 3. set the old primary read-only and turn its semi-sync source side off;
//! 4. wait until the candidate applied everything the old primary wrote;
//! 5. promote it;
//! 6. repoint the other replicas, and the old primary, as its replicas;
//! 7. release the held writes as soon as routing sees the new primary.
//!
//! If anything fails before the promotion, the old primary is made
//! writable again and the held writes are released to it.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::candidate::{choose, Contender};
use super::manager::{repoint_all, uses_semi_sync, Manager, ROUTE_TIMEOUT};
use super::sql::GtidStart;
use super::status::{FailoverRecord, Kind, Outcome, Phase, RequestError};
use super::watch::Watched;

/// Runs a switchover to `to` (or the best replica).
pub async fn run(m: &mut Manager, to: Option<String>) -> Result<FailoverRecord, RequestError> {
    let config = m.deps().config.load_full();
    let snap = m.deps().topology.load();
    let Some(old) = snap.primary_server().cloned() else {
        return Err(RequestError::Refused(
            "no primary: nothing to switch over from (FAILOVER promotes a replica when the primary is lost)".into(),
        ));
    };
    // The candidate applies everything before it is promoted (bounded by
    // failover.catch_up_timeout), so a lag sqlyard has not measured yet
    // (just after a start) costs time, not data: it does not disqualify.
    let servers: Vec<_> = snap
        .servers
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.lag = s.lag.or(Some(Duration::ZERO));
            s
        })
        .collect();
    let contenders: Vec<Contender<'_>> = servers
        .iter()
        .filter(|s| s.address != old.address)
        .map(|s| Contender {
            now: s,
            before: Some(s),
            promotion: config.promotion(&s.address),
        })
        .collect();
    let choice = choose(
        &old,
        &contenders,
        config.failover.max_candidate_lag.get(),
        to.as_deref(),
    );
    let trigger = match &to {
        Some(t) => format!("SWITCHOVER TO '{t}' by an operator"),
        None => "SWITCHOVER by an operator".to_string(),
    };
    let Some(chosen) = choice.chosen else {
        let why: Vec<String> = choice
            .rejected
            .iter()
            .map(|(a, w)| format!("{a}: {w}"))
            .collect();
        return Err(RequestError::Refused(format!(
            "no replica can take over: {}",
            why.join("; ")
        )));
    };
    // A replica stopped for a heartbeat change is started first.
    m.tuner
        .settle(super::actions::Actions::DEFAULT_STATEMENT_TIMEOUT)
        .await;
    let actions = m.actions();
    let semi_sync = uses_semi_sync(&snap, &old.address);
    let mut record = m.begin(Kind::Switchover, trigger, Some(old.address.clone()));
    record.new_primary = Some(chosen.address.clone());
    record.reason = chosen.reason.clone();
    m.journal_update(&record);

    // 1-2. Hold new writes; let what runs on the old primary finish.
    let t = (SystemTime::now(), Instant::now());
    m.monitor().set_writes_held(true);
    let bound = config.failover.switchover_timeout.get();
    m.hold_everywhere(
        true,
        bound + config.failover.catch_up_timeout.get() + ROUTE_TIMEOUT,
        None,
    )
    .await;
    let deadline = Instant::now() + bound;
    loop {
        let busy = m.deps().backends.server_counts(&old.address).1;
        // with several instances, each one holds and drains its own
        let others = m.instances_not_holding();
        if busy == 0 && others.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            m.monitor().set_writes_held(false);
            m.hold_everywhere(false, Duration::ZERO, None).await;
            let others = if others.is_empty() {
                String::new()
            } else {
                format!(
                    "; sqlyard instance(s) {} did not hold and drain their writes",
                    others.join(", ")
                )
            };
            let e = format!(
                "{busy} connection(s) still busy on {} after failover.switchover_timeout ({} ms){others}: open transactions did not finish; nothing was changed",
                old.address,
                bound.as_millis()
            );
            m.phase(&mut record, Phase::Drain, t, e.clone());
            m.finish(&mut record, Outcome::Cancelled, Some(e.clone()));
            return Err(RequestError::Failed(e));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    m.phase(
        &mut record,
        Phase::Drain,
        t,
        format!("new writes held; nothing running on {}", old.address),
    );

    // 3. Demote.
    let t = (SystemTime::now(), Instant::now());
    if let Err(e) = actions.fence(&old.address).await {
        return Err(undo(
            m,
            &mut record,
            &old.address,
            semi_sync,
            format!("could not set {} read-only: {e}", old.address),
        )
        .await);
    }
    let position = match actions.read_positions(&old.address).await {
        Ok(p) => p.current,
        Err(e) => {
            return Err(undo(
                m,
                &mut record,
                &old.address,
                semi_sync,
                format!("could not read {}'s position: {e}", old.address),
            )
            .await)
        }
    };
    record
        .positions
        .push((old.address.clone(), position.to_string()));
    m.phase(
        &mut record,
        Phase::Demote,
        t,
        format!("{} read-only at {position}", old.address),
    );

    // 4. The candidate applies everything.
    let t = (SystemTime::now(), Instant::now());
    match actions
        .wait_applied(
            &chosen.address,
            &position.to_string(),
            config.failover.catch_up_timeout.get(),
        )
        .await
    {
        Ok(applied) => {
            record
                .positions
                .push((chosen.address.clone(), applied.to_string()));
            m.phase(
                &mut record,
                Phase::CatchUp,
                t,
                format!("{} applied {applied}", chosen.address),
            );
        }
        Err(e) => {
            return Err(undo(
                m,
                &mut record,
                &old.address,
                semi_sync,
                format!("{} did not catch up: {e}", chosen.address),
            )
            .await)
        }
    }

    // 5. Promote.
    let t = (SystemTime::now(), Instant::now());
    if let Err(e) = actions.promote(&chosen.address, semi_sync).await {
        return Err(undo(
            m,
            &mut record,
            &old.address,
            semi_sync,
            format!("promotion of {} failed: {e}", chosen.address),
        )
        .await);
    }
    m.phase(
        &mut record,
        Phase::Promote,
        t,
        format!("{}: replication reset, read_only=OFF", chosen.address),
    );

    // 6-7. Repoint the others and the old primary while routing moves.
    let t = (SystemTime::now(), Instant::now());
    let others: Vec<String> = snap
        .servers
        .iter()
        .filter(|s| s.reachable && s.address != old.address && s.address != chosen.address)
        .map(|s| s.address.clone())
        .collect();
    let target = chosen.address.clone();
    let handle = m.deps().handle.clone();
    let heartbeat = config.failover.replica_heartbeat_period.get();
    let flavor = snap.server(&chosen.address).and_then(|s| s.flavor);
    let repoint = async {
        let mut a = repoint_all(
            &actions,
            &handle,
            &others,
            &chosen.address,
            GtidStart::SlavePos,
            heartbeat,
            flavor,
        )
        .await;
        let b = repoint_all(
            &actions,
            &handle,
            std::slice::from_ref(&old.address),
            &chosen.address,
            GtidStart::CurrentPos,
            heartbeat,
            flavor,
        )
        .await;
        a.summary = format!("{}; {}", a.summary, b.summary);
        a.errant.extend(b.errant);
        a
    };
    let route = async {
        let snap = m
            .fresh_snapshot(ROUTE_TIMEOUT, |s| {
                s.primary_server().is_some_and(|p| p.address == target)
            })
            .await;
        let ok = snap.primary_server().is_some_and(|p| p.address == target);
        m.monitor().set_writes_held(false);
        m.hold_everywhere(false, Duration::ZERO, Some(&target))
            .await;
        (ok, Instant::now())
    };
    let (repointed, (routed, released_at)) = tokio::join!(repoint, route);
    let pause = released_at.duration_since(record_started(&record));
    m.quarantine_errant(&repointed.errant, &snap);
    m.phase(&mut record, Phase::Repoint, t, repointed.summary);
    let t2 = (SystemTime::now(), Instant::now());
    if !routed {
        return Err(m.not_routed(&mut record, &chosen.address, t2));
    }
    m.phase(
        &mut record,
        Phase::Route,
        t2,
        format!(
            "writes go to {}; writes were held {} ms",
            chosen.address,
            pause.as_millis()
        ),
    );
    m.watch_mut().watch(Watched {
        address: chosen.address.clone(),
        server_id: chosen.server_id,
    });
    m.finish(&mut record, Outcome::Succeeded, None);
    Ok(record)
}

/// The instant the record's first phase (the drain) started.
fn record_started(record: &FailoverRecord) -> Instant {
    let since = record
        .phases
        .first()
        .map(|p| p.started_at)
        .unwrap_or(record.started_at);
    let ago = SystemTime::now().duration_since(since).unwrap_or_default();
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// Gives the primary role back to the old primary after a failed
/// switchover (nothing was promoted) and releases the held writes.
async fn undo(
    m: &mut Manager,
    record: &mut FailoverRecord,
    old: &str,
    semi_sync: bool,
    error: String,
) -> RequestError {
    let actions = m.actions();
    let restored = match actions.promote(old, semi_sync).await {
        Ok(()) => format!("; {old} is writable again"),
        Err(e) => format!("; could NOT make {old} writable again: {e}"),
    };
    m.monitor().set_writes_held(false);
    m.hold_everywhere(false, Duration::ZERO, None).await;
    m.monitor().poll_now();
    let e = format!("{error}{restored}");
    m.finish(record, Outcome::Failed, Some(e.clone()));
    RequestError::Failed(e)
}
