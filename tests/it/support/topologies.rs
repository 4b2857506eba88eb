//! Sandbox topologies for the tests, and how many may run at once.
//!
//! libtest runs this binary's tests on one thread per core (or
//! `RUST_TEST_THREADS`), and each topology is up to three mariadbd. So:
//!
//! - Tests that touch only databases, tables and accounts of their own use
//!   the one shared topology ([`topology`]): started on first use, for the
//!   whole binary, removed at exit (see `sqlyard::sandbox::shared`). Such a
//!   test changes no server setting, stops no replication, kills or freezes
//!   no server, and asserts on nothing server-wide that a neighbour's
//!   statements could move (counters, thread counts, the general log).
//! - Any other test starts a topology of its own ([`start_topology`],
//!   [`own_topology`]), which takes a slot from a process-wide limit first
//!   and gives it back when the topology is dropped (its servers killed and
//!   its directory removed). At most `SQLYARD_TEST_TOPOLOGIES` (default 2)
//!   such topologies exist at once, next to the shared one; a test waits
//!   for a slot (first come, first served) before it starts one.
//!
//! A test that needs two topologies at once takes its slots in one step
//! ([`TopologySlots::take`] with 2), never one after the other, so that two
//! such tests cannot each hold one slot and wait for the other's.

use std::ops::Deref;
use std::sync::OnceLock;

use sqlyard::sandbox::{SandboxError, SandboxOptions, Topology};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Topologies of their own that tests may run at once, unless
/// `SQLYARD_TEST_TOPOLOGIES` says otherwise.
const DEFAULT_LIMIT: u32 = 2;

fn limit() -> u32 {
    match std::env::var("SQLYARD_TEST_TOPOLOGIES") {
        Ok(v) => match v.trim().parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => panic!("SQLYARD_TEST_TOPOLOGIES={v:?}: want a whole number >= 1"),
        },
        Err(_) => DEFAULT_LIMIT,
    }
}

fn slots() -> &'static (Semaphore, u32) {
    static SLOTS: OnceLock<(Semaphore, u32)> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = limit();
        (Semaphore::new(n as usize), n)
    })
}

/// Slots of the topology limit, held until dropped.
#[derive(Debug)]
pub struct TopologySlots {
    _permit: SemaphorePermit<'static>,
}

impl TopologySlots {
    /// Waits for `n` slots, taken together (at most the whole limit: a test
    /// that needs more than the limit runs alone).
    pub async fn take(n: u32) -> TopologySlots {
        let (semaphore, limit) = slots();
        let permit = semaphore
            .acquire_many(n.clamp(1, *limit))
            .await
            .expect("the topology limit is never closed");
        TopologySlots { _permit: permit }
    }

    /// [`TopologySlots::take`] for a test outside any runtime.
    pub fn take_blocking(n: u32) -> TopologySlots {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime to wait in")
            .block_on(Self::take(n))
    }
}

/// A topology of one test's own, with its slot. Dropping it kills the
/// servers and removes the directory, then frees the slot.
#[derive(Debug)]
pub struct OwnTopology {
    // Fields drop in order: the servers are gone before the slot is free.
    topology: Topology,
    _slots: TopologySlots,
}

impl Deref for OwnTopology {
    type Target = Topology;

    fn deref(&self) -> &Topology {
        &self.topology
    }
}

/// Starts a topology of the test's own once a slot is free.
pub async fn start_topology(options: SandboxOptions) -> Result<OwnTopology, SandboxError> {
    let slots = TopologySlots::take(1).await;
    let topology = Topology::start(options).await?;
    Ok(OwnTopology {
        topology,
        _slots: slots,
    })
}

/// A topology of the test's own set up like the shared one (default
/// options, no automatic failover in the routers' configs), for a test
/// that disturbs its servers or counts what runs on them.
pub async fn own_topology() -> OwnTopology {
    let topology = start_topology(SandboxOptions::default())
        .await
        .expect("sandbox topology starts");
    topology.set_router_auto_failover(false);
    topology
}

/// The shared topology of this test binary (see the module doc for who may
/// use it). It takes no slot: it is started once and idles between tests.
pub async fn topology() -> &'static Topology {
    sqlyard::sandbox::shared()
        .await
        .expect("sandbox topology starts")
}
