//! The app root.
//!
//! Problem: one running router shares its configuration, topology, pools,
//! sessions, counters, digest, read-your-writes positions and failover
//! state between the data path (`frontend`), the operator (`admin`,
//! `control`), the failover manager and the exporters (`metrics`), without
//! global statics, so tests can run many routers in one process. This
//! module owns them ([`Context`]); the parts below it (protocol, config,
//! topology, backend, router, failover) get only what they use.

pub mod context;
pub mod login_db;
pub mod login_failures;
pub mod registry;
mod sources;

pub use context::{pool_settings, Context, RywStats, Stats};
