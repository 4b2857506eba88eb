//! Problem: when the primary is really lost, someone must promote the freshest
//! safe replica, repoint the others, fence the old primary and move the writes,
//! without scripts glued between a proxy and a failover manager. This module is
//! that someone, inside the router.
//!
//! Files: `watch` (the detector fed from snapshots, confirmed by the
//! replicas), `manager` (the one task that fails over, recovers after a
//! restart, serves admin requests), `candidate` and `errant` (whom to
//! promote, who diverged), `actions`, `sql` and `error` (what is done on the
//! servers, per flavor), `switchover`, `rejoin` (fencing, rejoining or
//! quarantining old primaries), `hold` (statements waiting for a primary),
//! `journal` (every phase on disk), `status` (shared vocabulary,
//! [`FailoverHandle`] for admin and metrics).

pub mod actions;
pub mod candidate;
pub mod errant;
pub mod error;
pub mod hold;
pub mod journal;
pub mod manager;
pub mod rejoin;
pub mod sql;
pub mod status;
pub mod switchover;
pub mod watch;

pub use status::{
    Alert, DetectorState, FailoverHandle, FailoverRecord, FailoverStatus, Kind, Outcome, Phase,
    PhaseRecord, Quarantined, Request, RequestError,
};
