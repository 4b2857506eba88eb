//! Backend connections and their pools.
//!
//! Problem: sqlyard multiplexes many client sessions over few server
//! connections. This module opens and authenticates connections to the
//! servers ([`conn`]), keeps them in per-server pools keyed by what changes
//! results ([`pool`]), brings a pooled connection's session state in line
//! with the client session that borrows it ([`sync`]) and streams responses
//! back to clients ([`relay`]), and bounds the statements prepared on
//! the servers ([`prepared`]).

pub mod conn;
pub mod credentials;
pub mod error;
pub mod internal;
pub mod lost;
pub mod pins;
pub mod pool;
pub mod prepared;
pub mod relay;
pub mod server_limit;
pub mod server_stats;
pub mod sync;

pub use conn::{BackendConn, ConnState};
pub use credentials::{BackendCredential, Credentials};
pub use error::BackendError;
pub use pool::{Backends, PoolKey, PoolSettings, PooledConn};
pub use server_stats::{Outstanding, ServerStats, ServerStatsMap};
