//! Problem: while the primary is lost and a failover runs (or a switchover
//! moves it), statements that need the primary must wait for the new one
//! instead of failing, but not forever and not without bound in memory.
//! A statement waits up to `router.primary_wait`, or `failover.hold_timeout`
//! when failover is enabled and that is longer; at most `failover.max_held`
//! statements wait at once, the others get an error at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::topology::{NoPrimary, Snapshot, TopologyHandle};

/// Why a statement waiting for a primary gave up.
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    /// `failover.max_held` statements wait already.
    #[error("too many statements are waiting for a primary (failover.max_held = {0})")]
    TooManyHeld(usize),
    /// No primary within the bound.
    #[error("{0}")]
    NoPrimary(#[from] NoPrimary),
}

/// Statements waiting for a primary now.
#[derive(Debug, Default)]
pub struct Held {
    count: AtomicUsize,
}

impl Held {
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A place in the queue, or `None` when `max` statements wait already.
    fn enter(&self, max: usize) -> Option<Place<'_>> {
        let mut n = self.count.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match self
                .count
                .compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Some(Place(self)),
                Err(now) => n = now,
            }
        }
    }
}

/// Leaves the queue when dropped.
struct Place<'a>(&'a Held);

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a statement may wait for a primary under `config`.
pub fn hold_bound(config: &Config) -> Duration {
    let wait = config.router.primary_wait.get();
    if config.failover.enabled {
        wait.max(config.failover.hold_timeout.get())
    } else {
        wait
    }
}

/// Waits for a snapshot with a primary that takes new work, held in
/// `held` (bounded by `config`).
pub async fn wait_for_primary(
    config: &Config,
    held: &Held,
    topology: &TopologyHandle,
) -> Result<Arc<Snapshot>, HoldError> {
    let max = config.failover.max_held;
    let Some(_place) = held.enter(max) else {
        return Err(HoldError::TooManyHeld(max));
    };
    Ok(topology.wait_for_primary(hold_bound(config)).await?)
}

/// The primary `failed` could not be reached (connection refused): it
/// has probably just died. Waits, held like any statement needing the
/// primary, for a primary other than `failed`.
pub async fn wait_for_new_primary(
    config: &Config,
    held: &Held,
    topology: &TopologyHandle,
    failed: &str,
) -> Result<Arc<Snapshot>, HoldError> {
    let (bound, max) = (hold_bound(config), config.failover.max_held);
    let Some(_place) = held.enter(max) else {
        return Err(HoldError::TooManyHeld(max));
    };
    let mut changes = topology.subscribe();
    let wait = async {
        loop {
            let snap = topology.load();
            if snap
                .primary_for_new_work()
                .is_some_and(|p| p.address != failed)
            {
                return Some(snap);
            }
            if changes.changed().await.is_err() {
                return None;
            }
        }
    };
    match tokio::time::timeout(bound, wait).await {
        Ok(Some(snap)) => Ok(snap),
        _ => Err(NoPrimary::from_snapshot(&topology.load(), bound).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_is_bounded_and_places_are_given_back() {
        let held = Held::default();
        let a = held.enter(2).unwrap();
        let _b = held.enter(2).unwrap();
        assert!(held.enter(2).is_none());
        assert_eq!(held.len(), 2);
        drop(a);
        assert!(held.enter(2).is_some());
        assert_eq!(held.len(), 1);
    }

    #[test]
    fn failover_extends_the_wait() {
        let mut c = Config::default();
        c.router.primary_wait = crate::config::DurationSetting::from_secs(2);
        c.failover.hold_timeout = crate::config::DurationSetting::from_secs(10);
        assert_eq!(hold_bound(&c), Duration::from_secs(10));
        c.failover.enabled = false;
        assert_eq!(hold_bound(&c), Duration::from_secs(2));
    }
}
