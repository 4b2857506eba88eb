//! Problem: operators (admin SQL, metrics, logs) need to see what failover is
//! doing and has done, while the manager task runs on its own. This file holds
//! the shared vocabulary (kinds, phases, outcomes, one failover's record) and
//! [`FailoverHandle`]: the manager publishes a [`FailoverStatus`] snapshot
//! through it (read lock-free), and admin commands send it requests.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::config::FenceStep;

/// What started a failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The detector confirmed the primary lost.
    Automatic,
    /// `FAILOVER [TO ...]` from an operator.
    Manual,
    /// `SWITCHOVER [TO ...]`: planned, the old primary is alive.
    Switchover,
}

impl Kind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Automatic => "automatic",
            Kind::Manual => "manual",
            Kind::Switchover => "switchover",
        }
    }
}

/// One step of a failover or switchover, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// From the first failed poll to the confirmed loss (automatic only).
    Detect,
    /// Switchover: new writes held, open transactions finishing.
    Drain,
    /// Switchover: the old primary set read-only.
    Demote,
    /// Candidate chosen.
    Choose,
    /// The candidate applies what it received.
    CatchUp,
    /// Replication stopped and cleared on the candidate, read_only OFF.
    Promote,
    /// The other replicas (and a live old primary) pointed at the new primary.
    Repoint,
    /// Writes go to the new primary.
    Route,
}

impl Phase {
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Detect => "detect",
            Phase::Drain => "drain",
            Phase::Demote => "demote",
            Phase::Choose => "choose",
            Phase::CatchUp => "catch_up",
            Phase::Promote => "promote",
            Phase::Repoint => "repoint",
            Phase::Route => "route",
        }
    }
}

/// How a failover ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Still running.
    Running,
    /// A new primary takes writes.
    Succeeded,
    /// No safe candidate: nothing was promoted (reads keep running).
    Refused,
    /// Started but could not finish; see the error.
    Failed,
    /// sqlyard stopped during it; found in the journal at the next start.
    Interrupted,
    /// A switchover given up before anything changed (e.g. open transactions).
    Cancelled,
    /// Found at a restart not to match the live topology any more (the
    /// cluster was rebuilt, or its primary moved while sqlyard was down):
    /// history, never acted on.
    Superseded,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Running => "running",
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Interrupted => "interrupted",
            Outcome::Cancelled => "cancelled",
            Outcome::Superseded => "superseded",
        }
    }
}

/// One finished (or running) phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub phase: Phase,
    #[serde(with = "micros")]
    pub started_at: SystemTime,
    #[serde(with = "duration_micros")]
    pub duration: Duration,
    /// What happened, for operators (e.g. "127.0.0.1:23302 applied 0-1-57").
    pub detail: String,
}

/// Everything known about one failover or switchover.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailoverRecord {
    /// Increasing; survives restarts (taken from the journal).
    pub id: u64,
    pub kind: Kind,
    /// Why it started ("primary lost: connection refused, replicas confirmed", "SWITCHOVER by admin").
    pub trigger: String,
    #[serde(with = "micros")]
    pub started_at: SystemTime,
    #[serde(with = "opt_micros")]
    pub finished_at: Option<SystemTime>,
    pub outcome: Outcome,
    pub old_primary: Option<String>,
    pub new_primary: Option<String>,
    /// Why the candidate was chosen, or why none could be.
    pub reason: String,
    /// From the first failed poll of the old primary to the confirmed loss.
    #[serde(with = "opt_duration_micros")]
    pub detection: Option<Duration>,
    pub phases: Vec<PhaseRecord>,
    /// `address -> GTID position` as read during the failover.
    pub positions: Vec<(String, String)>,
    pub error: Option<String>,
    /// The fencing steps applied to the old primary when it answered again
    /// (after the failover finished), in order.
    #[serde(default)]
    pub fencing: Vec<FenceRecord>,
    /// The sqlyard instance that ran it (several instances); `None` when
    /// it ran alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ran_by: Option<String>,
}

/// One fencing step applied to an old primary (`failover.fence`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    pub step: FenceStep,
    pub address: String,
    #[serde(with = "micros")]
    pub at: SystemTime,
    pub ok: bool,
    /// What happened ("killed 2 sessions (ids 41, 57)", "exit status 0").
    pub outcome: String,
}

impl FenceRecord {
    /// `step: outcome` (with FAILED when it did not succeed).
    pub fn summary(&self) -> String {
        if self.ok {
            format!("{}: {}", self.step.as_str(), self.outcome)
        } else {
            format!("{}: FAILED: {}", self.step.as_str(), self.outcome)
        }
    }
}

impl FailoverRecord {
    /// From start to finish (or to now while running).
    pub fn duration(&self) -> Duration {
        let end = self.finished_at.unwrap_or_else(SystemTime::now);
        end.duration_since(self.started_at).unwrap_or_default()
    }

    /// The duration of `phase`, if it ran.
    pub fn phase(&self, phase: Phase) -> Option<&PhaseRecord> {
        self.phases.iter().find(|p| p.phase == phase)
    }
}

/// A server kept out of the topology because its data diverged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub address: String,
    pub server_id: Option<u32>,
    /// Transactions it has that the primary never got, as GTID ranges.
    pub errant: String,
    pub since: SystemTime,
}

/// A condition an operator must look at (stale candidates, unconfirmed loss,
/// semi-sync off...). Shown in SHOW SERVERS (`alert`), logged, counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The server it concerns, if any.
    pub address: Option<String>,
    pub message: String,
    pub since: SystemTime,
}

/// The detector's view of the current primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetectorState {
    #[default]
    Healthy,
    /// Failing polls, not long or definite enough yet.
    Suspect,
    /// sqlyard lost it but replicas still replicate from it: no failover.
    LostUnconfirmed,
    /// Lost and confirmed by the replicas.
    Lost,
}

impl DetectorState {
    pub fn as_str(&self) -> &'static str {
        match self {
            DetectorState::Healthy => "healthy",
            DetectorState::Suspect => "suspect",
            DetectorState::LostUnconfirmed => "lost-unconfirmed",
            DetectorState::Lost => "lost",
        }
    }
}

/// What the manager publishes after every change.
#[derive(Debug, Clone, Default)]
pub struct FailoverStatus {
    /// `SET AUTOFAILOVER` / `failover.enabled`.
    pub auto: bool,
    /// The primary the detector watches, and its state.
    pub watched: Option<String>,
    pub detector: DetectorState,
    /// The failover running now, if any.
    pub running: Option<FailoverRecord>,
    /// Most recent last; bounded.
    pub history: Vec<FailoverRecord>,
    pub quarantined: Vec<Quarantined>,
    pub alerts: Vec<Alert>,
    /// Times sqlyard lost the primary while the replicas still saw it.
    pub unconfirmed_losses: u64,
    /// Times the leader lost the primary while another sqlyard instance
    /// still reached it (several routers): no failover.
    pub leader_isolated_losses: u64,
    /// Replicas whose replication heartbeat period sqlyard shortened
    /// (`failover.tune_replica_heartbeat`).
    pub heartbeat_tunings: u64,
    /// Fencing steps applied to old primaries: (step, succeeded) -> count.
    pub fence_steps: std::collections::BTreeMap<(FenceStep, bool), u64>,
    /// End of the anti-flap window after the last automatic failover.
    pub no_auto_until: Option<SystemTime>,
    /// The primary a fence is kept ready for (`failover::standby`): a
    /// failover that replaces it while it is frozen fences it as it thaws.
    pub fence_ahead: Option<String>,
}

impl FailoverStatus {
    /// The alert concerning `address`, joined, for SHOW SERVERS.
    pub fn alert_for(&self, address: &str) -> Option<String> {
        let mut parts: Vec<&str> = self
            .alerts
            .iter()
            .filter(|a| a.address.as_deref() == Some(address))
            .map(|a| a.message.as_str())
            .collect();
        let q = self.quarantined.iter().find(|q| q.address == address);
        let quarantine;
        if let Some(q) = q {
            quarantine = format!("quarantined: errant transactions {}", q.errant);
            parts.push(&quarantine);
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// What an operator asked for.
#[derive(Debug)]
pub enum Request {
    Switchover {
        to: Option<String>,
        reply: oneshot::Sender<Result<FailoverRecord, RequestError>>,
    },
    Failover {
        to: Option<String>,
        reply: oneshot::Sender<Result<FailoverRecord, RequestError>>,
    },
}

/// Why a request could not be served. The admin layer prefixes `sqlyard:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("failover management is not running")]
    NotRunning,
    #[error("a failover is already running (id {0})")]
    Busy(u64),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

struct Shared {
    status: ArcSwap<FailoverStatus>,
    /// Serializes read-modify-write updates (the manager and SET
    /// AUTOFAILOVER); readers never take it.
    update: parking_lot::Mutex<()>,
    requests: parking_lot::Mutex<Option<mpsc::Sender<Request>>>,
}

/// Shared access to failover state and requests. Cheap to clone.
#[derive(Clone)]
pub struct FailoverHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FailoverHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.status();
        f.debug_struct("FailoverHandle")
            .field("auto", &s.auto)
            .field("detector", &s.detector)
            .field("running", &s.running.as_ref().map(|r| r.id))
            .finish()
    }
}

impl Default for FailoverHandle {
    fn default() -> Self {
        FailoverHandle::new(false)
    }
}

impl FailoverHandle {
    pub fn new(auto: bool) -> Self {
        FailoverHandle {
            shared: Arc::new(Shared {
                status: ArcSwap::from_pointee(FailoverStatus {
                    auto,
                    ..FailoverStatus::default()
                }),
                requests: parking_lot::Mutex::new(None),
                update: parking_lot::Mutex::new(()),
            }),
        }
    }

    /// The latest status (lock-free).
    pub fn status(&self) -> Arc<FailoverStatus> {
        self.shared.status.load_full()
    }

    /// Changes the status: a read-modify-write that no other update can
    /// interleave with (so `SET AUTOFAILOVER` is never undone by the
    /// manager's own updates).
    pub fn update(&self, f: impl FnOnce(&mut FailoverStatus)) {
        let _one_at_a_time = self.shared.update.lock();
        let mut next = (*self.status()).clone();
        f(&mut next);
        self.shared.status.store(Arc::new(next));
    }

    /// `SET AUTOFAILOVER = ON|OFF`.
    pub fn set_auto(&self, on: bool) {
        self.update(|s| s.auto = on);
        tracing::info!(on, "automatic failover switched by admin");
    }

    /// Connects the manager's request queue.
    pub fn attach(&self, requests: mpsc::Sender<Request>) {
        *self.shared.requests.lock() = Some(requests);
    }

    async fn request(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<FailoverRecord, RequestError>>) -> Request,
    ) -> Result<FailoverRecord, RequestError> {
        let tx = self
            .shared
            .requests
            .lock()
            .clone()
            .ok_or(RequestError::NotRunning)?;
        let (reply, rx) = oneshot::channel();
        tx.send(make(reply))
            .await
            .map_err(|_| RequestError::NotRunning)?;
        rx.await.map_err(|_| RequestError::NotRunning)?
    }

    /// `SWITCHOVER [TO 'host:port']`; returns when it finished.
    pub async fn switchover(&self, to: Option<String>) -> Result<FailoverRecord, RequestError> {
        self.request(|reply| Request::Switchover { to, reply })
            .await
    }

    /// `FAILOVER [TO 'host:port']`; returns when it finished.
    pub async fn failover(&self, to: Option<String>) -> Result<FailoverRecord, RequestError> {
        self.request(|reply| Request::Failover { to, reply }).await
    }
}

/// SystemTime as microseconds since the epoch in the journal.
mod micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let us = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64;
        s.serialize_u64(us)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let us = u64::deserialize(d)?;
        Ok(UNIX_EPOCH + Duration::from_micros(us))
    }
}

mod opt_micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(
                &(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_micros() as u64),
            ),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let us = Option::<u64>::deserialize(d)?;
        Ok(us.map(|us| UNIX_EPOCH + Duration::from_micros(us)))
    }
}

mod duration_micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(t: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(t.as_micros() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_micros(u64::deserialize(d)?))
    }
}

mod opt_duration_micros {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(t: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&(t.as_micros() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_micros))
    }
}
