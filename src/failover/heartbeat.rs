//! Problem: a hung primary (a frozen host, a cut link) closes no connection,
//! so its replicas notice it only when replication heartbeats stop coming.
//! MariaDB's default `slave_net_timeout` is 60 s and the heartbeat period
//! defaults to half of it, so on a topology left at its defaults the
//! replicas hear from an idle primary every 30 s, and confirming its loss
//! takes a minute. Writers wait all that time.
//!
//! While automatic failover is on and `failover.tune_replica_heartbeat` is
//! set, [`Tuner`] gives every replication channel whose period is longer
//! than `failover.replica_heartbeat_period` that period: `STOP SLAVE`,
//! `CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD = ...`, `START SLAVE` on that
//! channel alone, which keeps its source and its GTID position. It touches
//! only channels whose threads both run (one an operator stopped stays
//! stopped), runs each change as a background task so the manager never
//! waits on a replica, and does it once per replica channel per source: if
//! an operator sets a long period again, sqlyard does not fight it (the
//! manager raises an alert instead). Each change is logged and counted.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use std::sync::Arc;

use super::actions::Actions;
use super::error::ActionError;
use super::manager::{push_alert, Manager};
use crate::topology::{Snapshot, ThreadState};

/// How long to wait before trying a channel again when nothing was changed
/// (the replica did not answer, or its replication was not running).
const RETRY: Duration = Duration::from_secs(10);
/// After a change, polls this much younger may still show the old period.
const SETTLED: Duration = Duration::from_secs(3);

/// A replica channel: (server address, channel name).
type ChannelKey = (String, String);

/// The source a channel was tuned for: (`Master_Server_Id`, `host:port`).
type SourceKey = (Option<u32>, Option<String>);

/// One channel to tune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    pub address: String,
    pub channel: String,
    pub source: SourceKey,
    pub period: Option<Duration>,
}

/// What became of one change.
#[derive(Debug)]
pub enum Tuned {
    /// The channel runs with the configured period now.
    Changed {
        address: String,
        channel: String,
        before: Option<Duration>,
        period: Duration,
    },
    /// Not changed; the error says why.
    Failed { address: String, error: ActionError },
}

type Outcome = Result<Result<Option<Duration>, ActionError>, tokio::task::JoinError>;

#[derive(Debug)]
struct Running {
    key: ChannelKey,
    source: SourceKey,
    task: tokio::task::JoinHandle<Result<Option<Duration>, ActionError>>,
    /// Its outcome, once `settle` waited for it.
    outcome: Option<Outcome>,
    period: Duration,
}

/// A channel tuned (or given up on) for a source, and when.
#[derive(Debug, Clone)]
struct Done {
    source: SourceKey,
    at: Instant,
}

/// Tracks which replica channels were tuned, for which source.
#[derive(Debug, Default)]
pub struct Tuner {
    /// Tuned (or given up on) for this source: not again until it changes.
    done: HashMap<ChannelKey, Done>,
    /// Nothing changed last time: not before this instant.
    retry_after: HashMap<ChannelKey, Instant>,
    running: Vec<Running>,
}

/// Whether a channel's heartbeat `current` is longer than `wanted`; 0
/// means no heartbeat at all, the longest there is.
pub fn longer(current: Duration, wanted: Duration) -> bool {
    current.is_zero() || current.as_millis() > wanted.as_millis()
}

/// The channels of `snap` that run with a period longer than `period`,
/// except those already tuned for their current source. Pure.
fn due(snap: &Snapshot, period: Duration, done: &HashMap<ChannelKey, Done>) -> Vec<Due> {
    let mut out = Vec::new();
    for s in snap.servers.iter().filter(|s| s.reachable) {
        for c in s.replication.iter().filter(|c| c.has_source()) {
            let Some(current) = c.heartbeat_period else {
                continue; // not reported (MySQL): nothing to compare
            };
            if !longer(current, period) {
                continue;
            }
            if c.io_running != ThreadState::Running || c.sql_running != ThreadState::Running {
                continue;
            }
            let key = (s.address.clone(), c.channel.clone());
            let source = (c.source_server_id, c.source_address());
            if done.get(&key).is_some_and(|d| d.source == source) {
                continue;
            }
            out.push(Due {
                address: s.address.clone(),
                channel: c.channel.clone(),
                source,
                period: Some(current),
            });
        }
    }
    out
}

impl Tuner {
    /// When the channel was tuned (or tried) for the source it has now: a
    /// long period seen after that is the operator's choice.
    pub fn tried(&self, address: &str, channel: &str, source: &SourceKey) -> Option<Instant> {
        self.done
            .get(&(address.to_string(), channel.to_string()))
            .filter(|d| d.source == *source)
            .map(|d| d.at)
    }

    /// Forgets channels whose source changed, or that a reachable server
    /// no longer has: the next source gets its own tuning (a replica that
    /// was primary for a while and follows its old source again included).
    fn forget_moved(&mut self, snap: &Snapshot) {
        self.done.retain(|(address, channel), d| {
            let Some(s) = snap.server(address).filter(|s| s.reachable) else {
                return true; // nothing known now
            };
            s.replication
                .iter()
                .find(|c| c.channel == *channel && c.has_source())
                .is_some_and(|c| (c.source_server_id, c.source_address()) == d.source)
        });
    }

    /// Waits (bounded) for a change in flight, so that a failover or a
    /// switchover never runs next to a stopped channel being started.
    pub async fn settle(&mut self, limit: Duration) {
        for r in self.running.iter_mut().filter(|r| r.outcome.is_none()) {
            match tokio::time::timeout(limit, &mut r.task).await {
                Ok(outcome) => r.outcome = Some(outcome),
                Err(_) => tracing::warn!(server = %r.key.0, "heartbeat change still running"),
            }
        }
    }

    /// Collects finished changes and, when `start` is set, starts a change
    /// for one channel that is due (one at a time: replicas are stopped
    /// and started one by one). Never waits on a server.
    pub async fn tend(
        &mut self,
        snap: &Snapshot,
        actions: &Actions,
        period: Duration,
        start: bool,
    ) -> Vec<Tuned> {
        let mut out = Vec::new();
        let mut still = Vec::new();
        for mut r in std::mem::take(&mut self.running) {
            let outcome = match r.outcome.take() {
                Some(outcome) => outcome,
                None if r.task.is_finished() => (&mut r.task).await,
                None => {
                    still.push(r);
                    continue;
                }
            };
            let (address, channel) = r.key.clone();
            let done = Done {
                source: r.source.clone(),
                at: Instant::now(),
            };
            match outcome {
                Ok(Ok(before)) => {
                    self.done.insert(r.key, done);
                    out.push(Tuned::Changed {
                        address,
                        channel,
                        before,
                        period: r.period,
                    });
                }
                Ok(Err(error)) => {
                    let nothing_changed = error.is_unreachable()
                        || matches!(
                            error,
                            ActionError::Refused { .. } | ActionError::NotReplica { .. }
                        );
                    if nothing_changed {
                        self.retry_after.insert(r.key, Instant::now() + RETRY);
                    } else {
                        self.done.insert(r.key, done);
                    }
                    out.push(Tuned::Failed { address, error });
                }
                Err(e) => {
                    tracing::warn!(server = %address, error = %e, "heartbeat tuning task ended abnormally");
                    self.retry_after.insert(r.key, Instant::now() + RETRY);
                }
            }
        }
        self.running = still;
        self.forget_moved(snap);
        let now = Instant::now();
        self.retry_after.retain(|_, at| *at > now);
        if !start || !self.running.is_empty() {
            return out;
        }
        for d in due(snap, period, &self.done) {
            let key = (d.address.clone(), d.channel.clone());
            if self.retry_after.contains_key(&key) {
                continue;
            }
            let actions = actions.clone();
            let (address, channel) = key.clone();
            let task = tokio::spawn(async move {
                actions
                    .set_heartbeat_period(&address, &channel, period)
                    .await
            });
            self.running.push(Running {
                key,
                source: d.source,
                task,
                outcome: None,
                period,
            });
            break;
        }
        out
    }
}

impl Manager {
    /// Gives replicas with a long replication heartbeat period the
    /// configured one (`failover.tune_replica_heartbeat`, while automatic
    /// failover is on), then raises an alert for each replica whose period
    /// stays long.
    pub(super) async fn tune_replica_heartbeats(&mut self, snap: &Arc<Snapshot>, healthy: bool) {
        let config = self.config();
        let period = config.failover.replica_heartbeat_period.get();
        let tuning = config.failover.tune_replica_heartbeat && self.handle.status().auto;
        if tuning {
            let actions = self.actions();
            // A replica is stopped and started only while the primary is
            // healthy (never next to a detection or a failover).
            for t in self.tuner.tend(snap, &actions, period, healthy).await {
                match t {
                    Tuned::Changed {
                        address,
                        channel,
                        before,
                        period,
                    } => {
                        tracing::info!(
                            server = %address,
                            channel = %channel,
                            was_ms = before.map(|b| b.as_millis() as u64),
                            now_ms = period.as_millis() as u64,
                            "replication heartbeat period shortened, so that a hung primary is noticed within seconds (failover.tune_replica_heartbeat)"
                        );
                        self.handle.update(|s| s.heartbeat_tunings += 1);
                    }
                    Tuned::Failed { address, error } => {
                        tracing::warn!(server = %address, error = %error, "could not shorten the replication heartbeat period");
                    }
                }
            }
        }
        self.check_replication_heartbeats(snap, period, tuning);
    }

    /// Replicas notice a silent primary only through replication
    /// heartbeats; a long period delays (never hastens) the confirmation of
    /// a loss. Raises an alert naming the setting for each replica whose
    /// period stays longer than both 2 s and the configured one (tuning
    /// off, refused, or undone by an operator), and clears it once fixed.
    fn check_replication_heartbeats(&self, snap: &Snapshot, period: Duration, tuning: bool) {
        const PREFIX: &str = "replication heartbeat period is ";
        let limit = period.max(Duration::from_secs(2));
        let mut long: Vec<(String, String)> = Vec::new();
        for s in snap.servers.iter().filter(|s| s.reachable) {
            for c in s.replication.iter().filter(|c| c.has_source()) {
                let Some(p) = c.heartbeat_period else {
                    continue;
                };
                if !longer(p, limit) {
                    continue;
                }
                let source = (c.source_server_id, c.source_address());
                let tried = self.tuner.tried(&s.address, &c.channel, &source);
                // Being tuned, or tuned so recently that this poll may
                // predate the change.
                if tuning && tried.is_none_or(|at| at.elapsed() < SETTLED) {
                    continue;
                }
                let why = if tuning {
                    "it was set back after sqlyard shortened it, or could not be changed"
                } else {
                    "failover.tune_replica_heartbeat is off or automatic failover is off"
                };
                let confirmed = if p.is_zero() {
                    "only when its IO thread gives up (slave_net_timeout)".to_string()
                } else {
                    format!("only after {} s of silence", (p * 2).as_secs_f64())
                };
                long.push((
                    s.address.clone(),
                    format!(
                        "{PREFIX}{} s: a hung primary is confirmed {confirmed} ({why}); set MASTER_HEARTBEAT_PERIOD = {} on it",
                        p.as_secs_f64(),
                        period.as_secs_f64()
                    ),
                ));
            }
        }
        let status = self.handle.status();
        let stale = status.alerts.iter().any(|a| {
            a.message.starts_with(PREFIX)
                && !long
                    .iter()
                    .any(|(addr, m)| a.address.as_deref() == Some(addr.as_str()) && *m == a.message)
        });
        let missing: Vec<&(String, String)> = long
            .iter()
            .filter(|(addr, m)| {
                !status
                    .alerts
                    .iter()
                    .any(|a| a.address.as_deref() == Some(addr.as_str()) && a.message == *m)
            })
            .collect();
        if !stale && missing.is_empty() {
            return;
        }
        for (addr, m) in &missing {
            tracing::warn!(server = %addr, "{m}");
        }
        self.handle.update(|st| {
            st.alerts.retain(|a| {
                !a.message.starts_with(PREFIX)
                    || long.iter().any(|(addr, m)| {
                        a.address.as_deref() == Some(addr.as_str()) && *m == a.message
                    })
            });
            for (addr, m) in &missing {
                push_alert(st, Some(addr.clone()), m.clone());
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::primary::resolve;
    use crate::topology::replica_status::ReplicationStatus;
    use crate::topology::ServerState;

    fn replica(addr: &str, period_ms: Option<u64>, io: ThreadState, source_id: u32) -> ServerState {
        let mut s = ServerState::new(addr);
        s.server_id = Some(9);
        s.read_only = Some(true);
        s.reachable = true;
        s.replication = vec![ReplicationStatus {
            source_host: Some("127.0.0.1".into()),
            source_port: Some(3300 + source_id as u16),
            source_server_id: Some(source_id),
            io_running: io,
            sql_running: ThreadState::Running,
            heartbeat_period: period_ms.map(Duration::from_millis),
            ..Default::default()
        }];
        s
    }

    fn snap(servers: Vec<ServerState>) -> Snapshot {
        resolve(None, servers)
    }

    #[test]
    fn only_running_channels_with_a_longer_period_are_due() {
        let one = Duration::from_secs(1);
        let s = snap(vec![
            replica("a:1", Some(30_000), ThreadState::Running, 1), // MariaDB default
            replica("b:1", Some(1_000), ThreadState::Running, 1),  // tuned already
            replica("c:1", Some(30_000), ThreadState::Stopped, 1), // stopped by someone
            replica("d:1", None, ThreadState::Running, 1),         // not reported
            replica("e:1", Some(500), ThreadState::Running, 1),    // shorter: left alone
        ]);
        let due = due(&s, one, &HashMap::new());
        assert_eq!(due.len(), 1, "{due:?}");
        assert_eq!(due[0].address, "a:1");
        assert_eq!(due[0].channel, "");
        assert_eq!(due[0].period, Some(Duration::from_secs(30)));
        assert_eq!(due[0].source, (Some(1), Some("127.0.0.1:3301".into())));
    }

    #[test]
    fn once_per_channel_per_source() {
        let one = Duration::from_secs(1);
        let mut done = HashMap::new();
        done.insert(
            ("a:1".to_string(), String::new()),
            Done {
                source: (Some(1), Some("127.0.0.1:3301".to_string())),
                at: Instant::now(),
            },
        );
        // tuned for source 1; an operator set 30 s again: not fought
        let s = snap(vec![replica("a:1", Some(30_000), ThreadState::Running, 1)]);
        assert!(due(&s, one, &done).is_empty());
        // repointed to source 2: tuned again
        let s = snap(vec![replica("a:1", Some(30_000), ThreadState::Running, 2)]);
        let d = due(&s, one, &done);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].source.0, Some(2));
        let mut t = Tuner {
            done,
            ..Tuner::default()
        };
        let one = (Some(1), Some("127.0.0.1:3301".to_string()));
        assert!(t.tried("a:1", "", &one).is_some());
        assert!(t
            .tried("a:1", "", &(Some(2), Some("127.0.0.1:3302".into())))
            .is_none());
        // still on source 1: remembered
        t.forget_moved(&snap(vec![replica(
            "a:1",
            Some(30_000),
            ThreadState::Running,
            1,
        )]));
        assert!(t.tried("a:1", "", &one).is_some());
        // a:1 became a primary for a while (no channel): forgotten, so that
        // following source 1 again gets tuned again
        let mut primary = replica("a:1", Some(30_000), ThreadState::Running, 1);
        primary.replication.clear();
        t.forget_moved(&snap(vec![primary]));
        assert!(t.tried("a:1", "", &one).is_none());
    }

    #[test]
    fn no_heartbeat_at_all_is_the_longest_period() {
        assert!(longer(Duration::ZERO, Duration::from_secs(1)));
        assert!(longer(Duration::from_millis(1001), Duration::from_secs(1)));
        assert!(!longer(Duration::from_secs(1), Duration::from_secs(1)));
        let s = snap(vec![replica("a:1", Some(0), ThreadState::Running, 1)]);
        assert_eq!(due(&s, Duration::from_secs(1), &HashMap::new()).len(), 1);
    }

    #[test]
    fn unreachable_servers_are_not_due() {
        let mut r = replica("a:1", Some(30_000), ThreadState::Running, 1);
        r.reachable = false;
        assert!(due(&snap(vec![r]), Duration::from_secs(1), &HashMap::new()).is_empty());
    }
}
