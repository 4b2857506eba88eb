//! Starting a topology per test is too slow on two cores, so tests that do not
//! disturb the cluster share one per test binary. This file starts it lazily,
//! once, and cleans it up when the process exits.
//!
//! Each `#[tokio::test]` runs on its own runtime. The shared topology holds
//! no runtime-bound state (no pools, no tasks): nodes hand out fresh
//! connections on the caller's runtime. Statics are never dropped, so an
//! `atexit` hook kills the servers and removes the directory; if the process
//! is killed instead, the parent-death signal kills the servers and the next
//! sandbox start sweeps the directory.

use tokio::sync::OnceCell;

use super::error::SandboxError;
use super::topology::{SandboxOptions, Topology};

static SHARED: OnceCell<Topology> = OnceCell::const_new();

extern "C" fn destroy_shared_at_exit() {
    // Never unwind across the C boundary.
    let _ = std::panic::catch_unwind(|| {
        if let Some(topology) = SHARED.get() {
            topology.destroy();
        }
    });
}

/// The process-wide shared topology (default options: 1 primary, 2
/// replicas, async replication, dynamic ports), started on first use.
///
/// Only for tests that do not disturb it: no kill/freeze/restart, no
/// `read_only` changes, no replication changes, and unique table names.
pub async fn shared() -> Result<&'static Topology, SandboxError> {
    SHARED
        .get_or_try_init(|| async {
            let topology = Topology::start(SandboxOptions::default()).await?;
            // Many routers watch it at once in the tests: none fails it over.
            topology.set_router_auto_failover(false);
            // SAFETY: registering a plain extern "C" fn with atexit is sound.
            unsafe {
                libc::atexit(destroy_shared_at_exit);
            }
            Ok(topology)
        })
        .await
}
