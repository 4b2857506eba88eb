//! Problem: failover must start when the primary is really lost, and only
//! then. This file turns the stream of topology snapshots into that
//! decision: it feeds each new poll of the watched primary to the
//! [`Detector`] (positive evidence acts fast, silence only after
//! `failover.silence_grace`), and when sqlyard's own view says "lost" it
//! asks the replicas (holistic detection): the loss is confirmed only when
//! every reachable replica of that primary has lost it too.
//!
//! A replica has lost its source when its IO thread is not running, or when
//! nothing arrived from the source for `replica_silence`: neither its
//! received GTID position (sqlyard's heartbeat writes one every monitor
//! interval while the primary lives) nor its count of replication
//! heartbeats (`MASTER_HEARTBEAT_PERIOD`, sent while the binlog is idle)
//! moved. A primary that only sqlyard cannot reach keeps feeding its
//! replicas, so a partition between sqlyard and the primary never fails
//! over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::router::replicas::replicates_from;
use crate::topology::detector::{Detector, DetectorSettings, Evidence, Verdict};
use crate::topology::{ServerState, Snapshot, ThreadState};

use super::status::DetectorState;

/// The primary being watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watched {
    pub address: String,
    pub server_id: Option<u32>,
}

/// What the watch concluded from a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// No primary was ever known (startup): nothing to watch.
    NothingWatched,
    /// The watched primary answers.
    Healthy,
    /// The watched primary answers but is no longer a primary (read-only or
    /// replicating: an operator changed it). Nothing to fail over.
    Demoted,
    /// Failing polls, not long or definite enough yet.
    Suspect { since: SystemTime },
    /// sqlyard lost the primary but these replicas still receive from it.
    LostUnconfirmed { still: Vec<String> },
    /// Lost, and every reachable replica lost it too.
    Lost(Loss),
}

/// A confirmed loss of the primary.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    pub primary: Watched,
    pub by: Evidence,
    /// When the first failing poll was seen.
    pub since: SystemTime,
    /// From the first failing poll to the confirmation.
    pub detection: Duration,
    /// The replicas' view, for the journal.
    pub confirmation: String,
}

/// Movement of one replica's channel from the watched primary.
#[derive(Debug, Clone)]
struct Progress {
    key: (Option<String>, Option<u64>),
    changed_at: Instant,
}

/// Watches the primary across snapshots.
#[derive(Debug)]
pub struct Watch {
    settings: DetectorSettings,
    replica_silence: Duration,
    detector: Detector,
    watched: Option<Watched>,
    /// `polls` of the watched server already fed to the detector.
    fed_polls: u64,
    /// When the current failing run started (wall clock, for the journal).
    failing_since: Option<SystemTime>,
    progress: HashMap<String, Progress>,
    /// The last snapshot in which the watched primary was healthy.
    healthy: Option<Arc<Snapshot>>,
}

impl Watch {
    /// `replica_silence`: how long a replica may receive nothing from its
    /// source before it counts as having lost it.
    pub fn new(settings: DetectorSettings, replica_silence: Duration) -> Self {
        Watch {
            settings,
            replica_silence,
            detector: Detector::new(settings),
            watched: None,
            fed_polls: 0,
            failing_since: None,
            progress: HashMap::new(),
            healthy: None,
        }
    }

    /// New knobs (config reload); the current run keeps its history.
    pub fn set_settings(&mut self, settings: DetectorSettings, replica_silence: Duration) {
        if settings != self.settings {
            self.settings = settings;
            self.detector = Detector::new(settings);
            self.fed_polls = 0;
        }
        self.replica_silence = replica_silence;
    }

    /// The primary being watched.
    pub fn watched(&self) -> Option<&Watched> {
        self.watched.as_ref()
    }

    /// The last snapshot in which the watched primary was healthy: the
    /// replicas' state "before the loss" for candidate choice.
    pub fn healthy_snapshot(&self) -> Option<&Arc<Snapshot>> {
        self.healthy.as_ref()
    }

    /// Starts watching `primary` from scratch (after a failover).
    pub fn watch(&mut self, primary: Watched) {
        self.watched = Some(primary);
        self.detector = Detector::new(self.settings);
        self.fed_polls = 0;
        self.failing_since = None;
    }

    /// The detector state to show operators for `obs`.
    pub fn state_of(obs: &Observation) -> DetectorState {
        match obs {
            Observation::NothingWatched | Observation::Healthy | Observation::Demoted => {
                DetectorState::Healthy
            }
            Observation::Suspect { .. } => DetectorState::Suspect,
            Observation::LostUnconfirmed { .. } => DetectorState::LostUnconfirmed,
            Observation::Lost(_) => DetectorState::Lost,
        }
    }

    /// Judges a new snapshot at `now`.
    pub fn observe(&mut self, snap: &Arc<Snapshot>, now: Instant) -> Observation {
        self.track_progress(snap, now);
        if let Some(primary) = snap.primary_server() {
            let same = self
                .watched
                .as_ref()
                .is_some_and(|w| w.address == primary.address && w.server_id == primary.server_id);
            if !same {
                self.watch(Watched {
                    address: primary.address.clone(),
                    server_id: primary.server_id,
                });
            }
            self.feed(primary, now);
            self.healthy = Some(Arc::clone(snap));
            return Observation::Healthy;
        }
        if self.watched.is_none() {
            // Started while the primary was already gone: the replicas say
            // which server it was.
            if let Some(w) = lost_source(snap) {
                self.watch(w);
            }
        }
        let Some(watched) = self.watched.clone() else {
            return Observation::NothingWatched;
        };
        let Some(state) = snap.server(&watched.address) else {
            // removed from the configuration
            self.watched = None;
            return Observation::NothingWatched;
        };
        if state.reachable {
            self.feed(state, now);
            return Observation::Demoted;
        }
        let verdict = self.feed(state, now);
        let since = self.failing_since.unwrap_or_else(SystemTime::now);
        match verdict {
            Verdict::Healthy | Verdict::Suspect { .. } => Observation::Suspect { since },
            Verdict::Lost { since: started, by } => {
                let (still, lost) = self.replicas_view(snap, state, now);
                if !still.is_empty() {
                    return Observation::LostUnconfirmed { still };
                }
                let confirmation = if lost.is_empty() {
                    "no reachable replica of it".to_string()
                } else {
                    format!("replicas lost it too: {}", lost.join(", "))
                };
                Observation::Lost(Loss {
                    primary: watched,
                    by,
                    since,
                    detection: now.duration_since(started),
                    confirmation,
                })
            }
        }
    }

    /// Feeds `state`'s latest poll (once) to the detector.
    fn feed(&mut self, state: &ServerState, now: Instant) -> Verdict {
        if state.polls != self.fed_polls {
            self.fed_polls = state.polls;
            let evidence = state.evidence.unwrap_or(Evidence::Alive);
            // The silence began when the last successful poll ended (at most
            // a few seconds before this report).
            let silent_for = state
                .last_seen
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .unwrap_or_default()
                .min(Duration::from_secs(5));
            let began = now.checked_sub(silent_for).unwrap_or(now);
            if evidence == Evidence::Alive {
                self.failing_since = None;
            } else if self.failing_since.is_none() {
                self.failing_since = Some(SystemTime::now() - silent_for);
            }
            return self.detector.observe_since(evidence, now, began);
        }
        self.detector.verdict(now)
    }

    /// Remembers when each replica's channel last moved.
    fn track_progress(&mut self, snap: &Snapshot, now: Instant) {
        for s in snap.servers.iter().filter(|s| s.reachable) {
            let key = s
                .replication
                .iter()
                .find(|c| c.has_source())
                .map(|c| {
                    (
                        c.retrieved_gtid.as_ref().map(|g| g.to_string()),
                        c.received_heartbeats,
                    )
                })
                .unwrap_or((None, None));
            match self.progress.get_mut(&s.address) {
                Some(p) if p.key == key => {}
                Some(p) => {
                    p.key = key;
                    p.changed_at = now;
                }
                None => {
                    self.progress.insert(
                        s.address.clone(),
                        Progress {
                            key,
                            changed_at: now,
                        },
                    );
                }
            }
        }
    }

    /// (replicas still receiving from `primary`, replicas that lost it).
    fn replicas_view(
        &self,
        snap: &Snapshot,
        primary: &ServerState,
        now: Instant,
    ) -> (Vec<String>, Vec<String>) {
        let mut still = Vec::new();
        let mut lost = Vec::new();
        for s in snap
            .servers
            .iter()
            .filter(|s| s.reachable && s.address != primary.address)
        {
            let Some(c) = s
                .replication
                .iter()
                .find(|c| c.has_source() && replicates_from(c, primary))
            else {
                // A channel whose source is no configured server (an address
                // sqlyard cannot match): it may be this primary under another
                // name. Unknown never confirms a loss.
                let unmatched = s.replication.iter().any(|c| {
                    c.has_source()
                        && !snap
                            .servers
                            .iter()
                            .any(|o| o.address != s.address && replicates_from(c, o))
                });
                if unmatched {
                    still.push(format!("{} (source not recognized)", s.address));
                }
                continue;
            };
            let quiet = self
                .progress
                .get(&s.address)
                .map(|p| now.duration_since(p.changed_at))
                .unwrap_or_default();
            // Silence is judged only where the replica counts the replication
            // heartbeats it receives (MariaDB); elsewhere (MySQL) an idle
            // primary that only sqlyard lost would look silent too, so only
            // the IO thread's own state counts there.
            let silent = c.received_heartbeats.is_some() && quiet >= self.replica_silence;
            if c.io_running == ThreadState::Running && !silent {
                still.push(s.address.clone());
            } else {
                let why = if c.io_running != ThreadState::Running {
                    format!("io thread {}", c.io_running)
                } else {
                    format!("nothing received for {} ms", quiet.as_millis())
                };
                lost.push(format!("{} ({why})", s.address));
            }
        }
        (still, lost)
    }
}

/// The configured, unreachable server that every reachable replica
/// replicates from, if they agree on one.
fn lost_source(snap: &Snapshot) -> Option<Watched> {
    let mut found: Option<&ServerState> = None;
    for s in snap.servers.iter().filter(|s| s.reachable) {
        for c in s.replication.iter().filter(|c| c.has_source()) {
            let source = snap
                .servers
                .iter()
                .find(|o| o.address != s.address && replicates_from(c, o))?;
            if source.reachable || found.is_some_and(|f| f.address != source.address) {
                return None;
            }
            found = Some(source);
        }
    }
    found.map(|s| Watched {
        address: s.address.clone(),
        server_id: s.server_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::primary::resolve;
    use crate::topology::replica_status::ReplicationStatus;
    use crate::topology::{GtidSet, MariaGtidList};

    const P: &str = "127.0.0.1:3301";

    fn primary(reachable: bool, polls: u64, evidence: Evidence) -> ServerState {
        let mut s = ServerState::new(P);
        s.server_id = Some(1);
        s.read_only = Some(false);
        s.reachable = reachable;
        s.polls = polls;
        s.evidence = Some(evidence);
        s.last_seen = Some(SystemTime::now());
        if !reachable {
            s.last_error_at = Some(SystemTime::now());
        }
        s
    }

    fn replica(addr: &str, io: ThreadState, seq: u64, heartbeats: u64) -> ServerState {
        let mut s = ServerState::new(addr);
        s.server_id = Some(2);
        s.read_only = Some(true);
        s.reachable = true;
        s.last_seen = Some(SystemTime::now());
        let pos: MariaGtidList = format!("0-1-{seq}").parse().unwrap();
        s.replication = vec![ReplicationStatus {
            source_host: Some("127.0.0.1".into()),
            source_port: Some(3301),
            source_server_id: Some(1),
            io_running: io,
            sql_running: ThreadState::Running,
            retrieved_gtid: Some(GtidSet::MariaDb(pos)),
            received_heartbeats: Some(heartbeats),
            ..Default::default()
        }];
        s
    }

    fn snap(servers: Vec<ServerState>) -> Arc<Snapshot> {
        Arc::new(resolve(None, servers))
    }

    fn watch() -> Watch {
        Watch::new(DetectorSettings::default(), Duration::from_secs(2))
    }

    #[tokio::test(start_paused = true)]
    async fn refused_primary_with_replicas_that_lost_it_is_lost_within_a_second() {
        let mut w = watch();
        let ok = snap(vec![
            primary(true, 1, Evidence::Alive),
            replica("r:1", ThreadState::Running, 5, 0),
        ]);
        assert_eq!(w.observe(&ok, Instant::now()), Observation::Healthy);
        tokio::time::advance(Duration::from_millis(500)).await;
        let down = |polls| {
            snap(vec![
                primary(false, polls, Evidence::Positive),
                replica("r:1", ThreadState::Connecting, 5, 0),
            ])
        };
        assert!(matches!(
            w.observe(&down(2), Instant::now()),
            Observation::Suspect { .. }
        ));
        tokio::time::advance(Duration::from_millis(500)).await;
        match w.observe(&down(3), Instant::now()) {
            Observation::Lost(loss) => {
                assert_eq!(loss.by, Evidence::Positive);
                assert!(loss.detection <= Duration::from_secs(1));
                assert!(loss.confirmation.contains("r:1"), "{}", loss.confirmation);
            }
            other => panic!("{other:?}"),
        }
        // The same poll is not counted twice.
        assert!(matches!(
            w.observe(&down(3), Instant::now()),
            Observation::Lost(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn partition_between_sqlyard_and_the_primary_does_not_fail_over() {
        let mut w = watch();
        let ok = snap(vec![
            primary(true, 1, Evidence::Alive),
            replica("r:1", ThreadState::Running, 5, 0),
        ]);
        w.observe(&ok, Instant::now());
        // sqlyard's polls time out for 10 s; the replica keeps receiving
        // replication heartbeats every second.
        let mut last = Observation::Healthy;
        for i in 0..20u64 {
            tokio::time::advance(Duration::from_millis(500)).await;
            let s = snap(vec![
                primary(false, 2 + i, Evidence::Silence),
                replica("r:1", ThreadState::Running, 5, i / 2),
            ]);
            last = w.observe(&s, Instant::now());
            assert!(!matches!(last, Observation::Lost(_)), "{last:?}");
        }
        assert_eq!(
            last,
            Observation::LostUnconfirmed {
                still: vec!["r:1".into()]
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn frozen_primary_is_lost_after_the_grace_once_replicas_hear_nothing() {
        let mut w = watch();
        let ok = snap(vec![
            primary(true, 1, Evidence::Alive),
            replica("r:1", ThreadState::Running, 5, 0),
        ]);
        w.observe(&ok, Instant::now());
        let start = Instant::now();
        let mut lost_at = None;
        for i in 0..20u64 {
            tokio::time::advance(Duration::from_millis(500)).await;
            // the IO thread still says Running (slave_net_timeout not hit)
            let s = snap(vec![
                primary(false, 2 + i, Evidence::Silence),
                replica("r:1", ThreadState::Running, 5, 0),
            ]);
            if let Observation::Lost(loss) = w.observe(&s, Instant::now()) {
                assert_eq!(loss.by, Evidence::Silence);
                lost_at = Some(Instant::now().duration_since(start));
                break;
            }
        }
        let lost_at = lost_at.expect("lost");
        assert!(lost_at >= Duration::from_secs(3), "{lost_at:?}");
        assert!(lost_at <= Duration::from_secs(4), "{lost_at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_blip_shorter_than_the_grace_is_only_suspect() {
        let mut w = Watch::new(
            DetectorSettings {
                positive_after: 2,
                silence_grace: Duration::from_secs(45),
            },
            Duration::from_secs(2),
        );
        let ok = |polls| {
            snap(vec![
                primary(true, polls, Evidence::Alive),
                replica("r:1", ThreadState::Connecting, 5, 0),
            ])
        };
        w.observe(&ok(1), Instant::now());
        for i in 0..80u64 {
            tokio::time::advance(Duration::from_millis(500)).await;
            let s = snap(vec![
                primary(false, 2 + i, Evidence::Silence),
                replica("r:1", ThreadState::Connecting, 5, 0),
            ]);
            let o = w.observe(&s, Instant::now());
            assert!(matches!(o, Observation::Suspect { .. }), "{o:?}");
        }
        assert_eq!(w.observe(&ok(100), Instant::now()), Observation::Healthy);
    }

    #[tokio::test(start_paused = true)]
    async fn started_after_the_primary_died_the_replicas_name_it() {
        let mut w = watch();
        let dead = |polls| {
            let mut p = primary(false, polls, Evidence::Positive);
            p.server_id = None; // never reached by this process
            snap(vec![p, replica("r:1", ThreadState::Connecting, 5, 0)])
        };
        assert!(matches!(
            w.observe(&dead(1), Instant::now()),
            Observation::Suspect { .. }
        ));
        assert_eq!(w.watched().map(|w| w.address.as_str()), Some(P));
        tokio::time::advance(Duration::from_millis(500)).await;
        assert!(matches!(
            w.observe(&dead(2), Instant::now()),
            Observation::Lost(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn without_heartbeat_counters_only_the_io_thread_confirms() {
        // MySQL reports no received-heartbeat count: an idle primary that only
        // sqlyard lost must not look silent to its replicas.
        let mut w = watch();
        let mysql_replica = |io| {
            let mut r = replica("r:1", io, 5, 0);
            r.replication[0].received_heartbeats = None;
            r
        };
        w.observe(
            &snap(vec![
                primary(true, 1, Evidence::Alive),
                mysql_replica(ThreadState::Running),
            ]),
            Instant::now(),
        );
        let mut last = Observation::Healthy;
        for i in 0..20u64 {
            tokio::time::advance(Duration::from_millis(500)).await;
            last = w.observe(
                &snap(vec![
                    primary(false, 2 + i, Evidence::Silence),
                    mysql_replica(ThreadState::Running),
                ]),
                Instant::now(),
            );
            assert!(!matches!(last, Observation::Lost(_)), "{last:?}");
        }
        assert!(matches!(last, Observation::LostUnconfirmed { .. }));
        // once its IO thread gives up, the loss is confirmed
        let o = w.observe(
            &snap(vec![
                primary(false, 30, Evidence::Silence),
                mysql_replica(ThreadState::Connecting),
            ]),
            Instant::now(),
        );
        assert!(matches!(o, Observation::Lost(_)), "{o:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_primary_made_read_only_is_demoted_not_lost() {
        let mut w = watch();
        w.observe(
            &snap(vec![primary(true, 1, Evidence::Alive)]),
            Instant::now(),
        );
        let mut p = primary(true, 2, Evidence::Alive);
        p.read_only = Some(true);
        assert_eq!(
            w.observe(&snap(vec![p]), Instant::now()),
            Observation::Demoted
        );
    }
}
