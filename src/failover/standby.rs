//! Problem: a primary that froze (SIGSTOP, a paused VM, a stalled disk) and
//! is replaced answers `read_only=OFF` when it thaws, until a poll finds it
//! and a new connection fences it: for that while, two servers are
//! writable. Nothing can reach a frozen server, but a statement already in
//! its socket is read as it thaws, with no round trip or poll to wait for.
//! (Not strictly first: every thread of the server wakes at once, so a
//! session connecting at that moment may be answered before it.)
//!
//! [`StandbyFence`] keeps one connection open to the watched primary while
//! it is healthy (replaced every [`REFRESH`], so a failover always finds a
//! live one), with the fence prepared as one statement. When a failover has
//! promoted the new primary, the fence is sent on it: a dead server refuses
//! it (nothing lost), a frozen one runs it as it thaws. The usual
//! fencing of old primaries (`rejoin`) still follows; this narrows the gap
//! before it to the server's own scheduling.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::actions::{Actions, ArmedFence};
use super::status::FenceRecord;
use crate::config::FenceStep;

/// A fresh connection replaces the kept one this often.
pub const REFRESH: Duration = Duration::from_secs(60);
/// After a failed open, the next try waits this long.
pub const RETRY: Duration = Duration::from_secs(5);
/// How long a sent fence waits for a frozen server to thaw.
pub const FIRE_WAIT: Duration = Duration::from_secs(600);

/// A fence sent ahead that ran: the old primary, its failover, the step.
pub type Ran = (String, u64, FenceRecord);

/// See the module doc.
pub struct StandbyFence {
    armed: Arc<Mutex<Option<ArmedFence>>>,
    opening: Option<JoinHandle<()>>,
    last_try: Option<Instant>,
    ran_tx: tokio::sync::mpsc::UnboundedSender<Ran>,
    ran_rx: tokio::sync::mpsc::UnboundedReceiver<Ran>,
}

impl Default for StandbyFence {
    fn default() -> Self {
        let (ran_tx, ran_rx) = tokio::sync::mpsc::unbounded_channel();
        StandbyFence {
            armed: Default::default(),
            opening: None,
            last_try: None,
            ran_tx,
            ran_rx,
        }
    }
}

impl std::fmt::Debug for StandbyFence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let armed = lock(&self.armed).as_ref().map(|a| a.address().to_string());
        f.debug_struct("StandbyFence")
            .field("armed_for", &armed)
            .finish()
    }
}

fn lock(m: &Mutex<Option<ArmedFence>>) -> MutexGuard<'_, Option<ArmedFence>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl StandbyFence {
    /// Called while `primary` is healthy: opens (in the background) a
    /// connection to it when none is kept for it or the kept one is older
    /// than [`REFRESH`].
    pub fn keep(&mut self, actions: &Actions, primary: &str) {
        if self.opening.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let (current, fresh) = match lock(&self.armed).as_ref() {
            Some(a) if a.address() == primary => (true, a.age() < REFRESH),
            _ => (false, false),
        };
        if fresh {
            return;
        }
        // one try per RETRY, unless the primary changed
        if current && self.last_try.is_some_and(|t| t.elapsed() < RETRY) {
            return;
        }
        if !current && self.last_try.is_some_and(|t| t.elapsed() < RETRY / 5) {
            return;
        }
        self.last_try = Some(Instant::now());
        let (actions, slot, primary) = (actions.clone(), self.armed.clone(), primary.to_string());
        self.opening = Some(tokio::spawn(async move {
            match actions.arm_fence(&primary).await {
                Ok(armed) => *lock(&slot) = Some(armed),
                Err(e) => {
                    tracing::debug!(primary = %primary, error = %e, "could not open the standby fence connection")
                }
            }
        }));
    }

    /// The server a fence is kept ready for now, if any.
    pub fn armed_for(&self) -> Option<String> {
        lock(&self.armed).as_ref().map(|a| a.address().to_string())
    }

    /// Drops the kept connection (this instance no longer acts).
    pub fn disarm(&mut self) {
        if let Some(h) = self.opening.take() {
            h.abort();
        }
        lock(&self.armed).take();
    }

    /// Fences sent ahead that ran since the last call, to journal with
    /// their failover.
    pub fn ran(&mut self) -> Vec<Ran> {
        let mut out = Vec::new();
        while let Ok(r) = self.ran_rx.try_recv() {
            out.push(r);
        }
        out
    }

    /// Sends the fence kept for `old`, replaced by failover `record`;
    /// whether one was kept. The send and the wait for a frozen server run
    /// in the background; [`StandbyFence::ran`] reports it when it ran.
    pub fn fire(&mut self, actions: &Actions, old: &str, record: u64) -> bool {
        let armed = {
            let mut slot = lock(&self.armed);
            match slot.as_ref() {
                Some(a) if a.address() == old => slot.take(),
                _ => None,
            }
        };
        let Some(armed) = armed else {
            return false;
        };
        let (actions, old, tx) = (actions.clone(), old.to_string(), self.ran_tx.clone());
        tokio::spawn(async move {
            let sent = Instant::now();
            match actions.fire_fence(armed, FIRE_WAIT).await {
                Ok(()) => {
                    let after = sent.elapsed();
                    tracing::info!(
                        server = %old,
                        after = ?after,
                        "the replaced primary ran the fence sent ahead: read-only"
                    );
                    let _ = tx.send((
                        old.clone(),
                        record,
                        FenceRecord {
                            step: FenceStep::ReadOnly,
                            address: old,
                            at: std::time::SystemTime::now(),
                            ok: true,
                            outcome: format!(
                                "sent ahead at the failover; ran {} ms later, as it answered again",
                                after.as_millis()
                            ),
                        },
                    ));
                }
                Err(e) => tracing::debug!(
                    server = %old,
                    error = %e,
                    "the fence sent ahead did not run (the old primary is fenced when it answers)"
                ),
            }
        });
        true
    }
}
