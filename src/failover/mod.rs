//! Problem: when the primary is really lost, someone must promote the freshest
//! safe replica, repoint the others, fence the old primary and move the writes,
//! without scripts glued between a proxy and a failover manager. This module is
//! that someone, inside the router.
//!
//! Files: `status` (shared vocabulary, [`FailoverHandle`] for admin and
//! metrics).

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
