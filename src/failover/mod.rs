//! Problem: when the primary is really lost, someone must promote the freshest
//! safe replica, repoint the others, fence the old primary and move the writes,
//! without scripts glued between a proxy and a failover manager. This module is
//! that someone, inside the router.
//!
//! Files: `watch` (the detector fed from snapshots, confirmed by the
//! replicas), `manager` (the one task that fails over and serves admin
//! requests), `phases` (the steps of a failover, over the
//! [`phases::ServerActions`] trait), `recover` (after a restart: the journal checked against the
//! live servers, then acted on or marked superseded), `candidate` and
//! `errant` (whom to promote, who diverged), `actions`, `sql` and `error`
//! (what is done on the servers, per flavor), `cycle` (no server is ever
//! pointed at its own replica), `heartbeat` (replicas' heartbeat periods
//! shortened so a hung primary is seen), `switchover`, `rejoin` (fencing,
//! rejoining or quarantining old primaries), `fence` (the fencing steps:
//! read-only, killed sessions, shutdown, an operator command), `standby`
//! (a fence sent ahead, waiting in a frozen old primary's socket), `hold`
//! (statements waiting for a primary), `journal` (every phase on disk),
//! `status` (shared vocabulary, [`FailoverHandle`] for admin and metrics).

pub mod actions;
pub mod candidate;
pub mod cycle;
pub mod errant;
pub mod error;
pub mod fence;
pub mod heartbeat;
pub mod hold;
pub mod hook;
pub mod journal;
pub mod leader;
pub mod manager;
pub mod phases;
#[cfg(test)]
mod phases_tests;
pub mod recover;
pub mod rejoin;
pub mod shared;
pub mod sql;
pub mod standby;
pub mod status;
pub mod switchover;
pub mod watch;

pub use status::{
    Alert, DetectorState, FailoverHandle, FailoverRecord, FailoverStatus, FenceRecord, Kind,
    Outcome, Phase, PhaseRecord, Quarantined, Request, RequestError,
};
