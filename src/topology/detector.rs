//! Problem: sqlyard must decide when the primary is really lost, and never
//! fail over because of a network blip (a spanning-tree reconvergence can
//! silence a link for about 45 s). Two kinds of evidence differ:
//!
//! - **Positive evidence**: the connection was refused or reset, or the
//!   server said it is shutting down. Something definite happened; it may
//!   act fast: after `positive_after` consecutive such polls (two polls at
//!   the default 500 ms interval: about a second).
//! - **Silence**: polls time out while nothing says the server is gone (a
//!   hung host, a cut link). It acts only after the silence lasted
//!   `silence_grace` (`failover.silence_grace`, default 3 s; about 45 s on
//!   slow-converging networks).
//!
//! Any successful poll resets the detector. This file only judges sqlyard's
//! own view; `failover::watch` adds the replicas' view (holistic
//! detection): the primary counts as dead only when the replicas have lost
//! it too. Pure logic; tested with paused time.

use std::time::Duration;

use tokio::time::Instant;

use super::error::ProbeError;

/// What one poll of the primary showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// The poll succeeded.
    Alive,
    /// Refused, reset, or "shutting down": the server is gone.
    Positive,
    /// A timeout: the server may be gone, or only unreachable for a while.
    Silence,
}

impl Evidence {
    /// The evidence a failed poll gives.
    pub fn of(error: &ProbeError) -> Evidence {
        match error {
            ProbeError::ConnectTimeout { .. } | ProbeError::QueryTimeout { .. } => {
                Evidence::Silence
            }
            ProbeError::Connect { source, .. } | ProbeError::Query { source, .. } => {
                if is_positive(source) {
                    Evidence::Positive
                } else if matches!(source, mysql_async::Error::Server(_)) {
                    // The server answered (too many connections, access
                    // denied, a refused query): it is there. A refusal is
                    // its answer, not a loss.
                    Evidence::Alive
                } else {
                    Evidence::Silence
                }
            }
            // an answer, however odd, is a sign of life
            ProbeError::MissingValue { .. } | ProbeError::BadValue { .. } => Evidence::Alive,
            ProbeError::InvalidAddress { .. } => Evidence::Positive,
        }
    }
}

/// Refused / reset connections and the server's own shutdown errors.
fn is_positive(e: &mysql_async::Error) -> bool {
    use std::io::ErrorKind;
    match e {
        mysql_async::Error::Io(mysql_async::IoError::Io(io)) => matches!(
            io.kind(),
            ErrorKind::ConnectionRefused
                | ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        ),
        // ER_SERVER_SHUTDOWN, ER_NORMAL_SHUTDOWN, ER_SHUTDOWN_COMPLETE
        mysql_async::Error::Server(s) => matches!(s.code, 1053 | 1077 | 1079),
        _ => false,
    }
}

/// The detector's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorSettings {
    /// Consecutive positive polls that make the primary lost.
    pub positive_after: u32,
    /// How long silence must last before the primary counts as lost.
    pub silence_grace: Duration,
}

impl Default for DetectorSettings {
    fn default() -> Self {
        DetectorSettings {
            positive_after: 2,
            silence_grace: Duration::from_secs(3),
        }
    }
}

/// sqlyard's own view of the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// Failing since `since`, not long or definite enough yet.
    Suspect {
        since: Instant,
    },
    /// Lost, by this kind of evidence, failing since `since`.
    Lost {
        since: Instant,
        by: Evidence,
    },
}

/// Judges one primary from successive polls.
#[derive(Debug, Clone)]
pub struct Detector {
    settings: DetectorSettings,
    failing_since: Option<Instant>,
    positive_streak: u32,
}

impl Detector {
    pub fn new(settings: DetectorSettings) -> Self {
        Detector {
            settings,
            failing_since: None,
            positive_streak: 0,
        }
    }

    /// Records a poll's evidence, seen at `now`, and returns the verdict.
    pub fn observe(&mut self, evidence: Evidence, now: Instant) -> Verdict {
        self.observe_since(evidence, now, now)
    }

    /// Like [`Detector::observe`], for a failure whose silence began at
    /// `began` (the end of the last successful poll): a poll that timed out
    /// is only reported once its timeout expired, but the server was silent
    /// from the start of it.
    pub fn observe_since(&mut self, evidence: Evidence, now: Instant, began: Instant) -> Verdict {
        let now_or_began = began.min(now);
        match evidence {
            Evidence::Alive => {
                self.failing_since = None;
                self.positive_streak = 0;
            }
            Evidence::Positive => {
                self.failing_since.get_or_insert(now_or_began);
                self.positive_streak += 1;
            }
            Evidence::Silence => {
                self.failing_since.get_or_insert(now_or_began);
                // silence interrupts a run of definite answers
                self.positive_streak = 0;
            }
        }
        self.verdict(now)
    }

    /// The verdict at `now` (silence keeps counting between polls).
    pub fn verdict(&self, now: Instant) -> Verdict {
        let Some(since) = self.failing_since else {
            return Verdict::Healthy;
        };
        if self.positive_streak >= self.settings.positive_after.max(1) {
            return Verdict::Lost {
                since,
                by: Evidence::Positive,
            };
        }
        if now.duration_since(since) >= self.settings.silence_grace {
            return Verdict::Lost {
                since,
                by: Evidence::Silence,
            };
        }
        Verdict::Suspect { since }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector(grace_s: u64) -> Detector {
        Detector::new(DetectorSettings {
            positive_after: 2,
            silence_grace: Duration::from_secs(grace_s),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn positive_evidence_acts_within_a_second() {
        let mut d = detector(3);
        let t0 = Instant::now();
        assert_eq!(d.observe(Evidence::Alive, t0), Verdict::Healthy);
        tokio::time::advance(Duration::from_millis(500)).await;
        let t1 = Instant::now();
        assert_eq!(
            d.observe(Evidence::Positive, t1),
            Verdict::Suspect { since: t1 }
        );
        tokio::time::advance(Duration::from_millis(500)).await;
        let v = d.observe(Evidence::Positive, Instant::now());
        assert_eq!(
            v,
            Verdict::Lost {
                since: t1,
                by: Evidence::Positive
            }
        );
        assert!(Instant::now().duration_since(t1) <= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_waits_for_the_grace_period() {
        let mut d = detector(3);
        let t0 = Instant::now();
        for _ in 0..5 {
            // polls time out every 500 ms for 2.5 s: still only suspect
            assert!(matches!(
                d.observe(Evidence::Silence, Instant::now()),
                Verdict::Suspect { .. }
            ));
            tokio::time::advance(Duration::from_millis(500)).await;
        }
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(
            d.verdict(Instant::now()),
            Verdict::Lost {
                since: t0,
                by: Evidence::Silence
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_45_second_blip_does_not_fail_over_with_a_long_grace() {
        // spanning-tree reconvergence: 45 s of silence, then the link is back
        let mut d = detector(60);
        for _ in 0..90 {
            let v = d.observe(Evidence::Silence, Instant::now());
            assert!(matches!(v, Verdict::Suspect { .. }), "{v:?}");
            tokio::time::advance(Duration::from_millis(500)).await;
        }
        assert_eq!(d.observe(Evidence::Alive, Instant::now()), Verdict::Healthy);
        // and the next failure starts counting from scratch
        let t = Instant::now();
        assert_eq!(
            d.observe(Evidence::Silence, t),
            Verdict::Suspect { since: t }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn silence_counts_from_the_last_answer_not_the_timeout() {
        let mut d = detector(3);
        let last_answer = Instant::now();
        // the first timed-out poll is reported 1 s later
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(
            d.observe_since(Evidence::Silence, Instant::now(), last_answer),
            Verdict::Suspect { since } if since == last_answer
        ));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(matches!(
            d.observe_since(Evidence::Silence, Instant::now(), last_answer),
            Verdict::Lost { .. }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_between_refusals_resets_the_streak() {
        let mut d = detector(3);
        d.observe(Evidence::Positive, Instant::now());
        d.observe(Evidence::Silence, Instant::now());
        assert!(matches!(
            d.observe(Evidence::Positive, Instant::now()),
            Verdict::Suspect { .. }
        ));
    }

    #[test]
    fn evidence_from_probe_errors() {
        let timeout = ProbeError::ConnectTimeout {
            address: "a:1".into(),
            after: Duration::from_secs(1),
        };
        assert_eq!(Evidence::of(&timeout), Evidence::Silence);
        let refused = ProbeError::Connect {
            address: "a:1".into(),
            source: mysql_async::Error::Io(mysql_async::IoError::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused,
            ))),
            plaintext: false,
        };
        assert_eq!(Evidence::of(&refused), Evidence::Positive);
        let server = |code: u16| ProbeError::Connect {
            address: "a:1".into(),
            source: mysql_async::Error::Server(mysql_async::ServerError {
                code,
                message: String::new(),
                state: "08004".into(),
            }),
            plaintext: false,
        };
        // too many connections, access denied: answers, not losses
        assert_eq!(Evidence::of(&server(1040)), Evidence::Alive);
        assert_eq!(Evidence::of(&server(1045)), Evidence::Alive);
        // the server's own shutdown is positive evidence
        assert_eq!(Evidence::of(&server(1053)), Evidence::Positive);
    }
}
