//! Testing a MySQL router needs real, disposable MariaDB clusters on one
//! machine: this module starts local mariadbd topologies (one primary, N GTID
//! replicas on 127.0.0.1) for `sqlyard sandbox` and for every integration test.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sqlyard::sandbox::SandboxError> {
//! use sqlyard::sandbox::{SandboxOptions, Topology};
//! let topo = Topology::start(SandboxOptions::default()).await?;
//! topo.primary().exec_root("CREATE TABLE test.t (id INT PRIMARY KEY)").await?;
//! topo.wait_replicas_caught_up(std::time::Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! How it runs:
//! - Programs: the machine's `mariadbd` and `mariadb-install-db` (found in
//!   /usr/sbin, /usr/bin, ... and PATH).
//! - Each node lives in `<base>/sqlyard-sandbox-<pid>-<n>-<rand>/node<i>/`
//!   (datadir, my.cnf, error.log, unix socket), listens on 127.0.0.1.
//! - As root, mariadbd runs with `user = root` (no uid change, so the
//!   parent-death signal survives); root logs in over the socket via
//!   `unix_socket` auth. As another user, mariadbd runs as that user.
//! - A template datadir is made once per MariaDB version and setup, cached
//!   at `$TMPDIR/sqlyard-template-<version>-<hash>`, and copied per node.
//! - Accounts: see [`users`]; databases `sqlyard`, `sbtest`, `test`.
//!
//! Other hosts: `SandboxOptions::bind_address` puts the servers on another
//! address of this host, and [`netns`] makes hosts out of network namespaces
//! (the virtual-IP tests, with [`vip`] rendering `examples/keepalived/`).
//!
//! Cleanup: dropping a [`Topology`] kills its servers and deletes its
//! directory; servers also die with the process (PR_SET_PDEATHSIG) and stale
//! directories of dead owners are swept at the next start.

mod binaries;
pub mod certs;
pub mod cleanup;
mod config;
mod error;
pub mod etcd;
pub mod netns;
mod node;
mod ports;
pub mod process;
mod replication;
mod router_config;
mod shared;
mod template;
mod topology;
pub mod users;
pub mod vip;

pub use binaries::{binaries, socket_user, Binaries};
pub use certs::TlsFiles;
pub use error::{SandboxError, StartFailure, WaitTarget};
pub use etcd::EtcdProcess;
pub use node::{Node, NodeState};
pub use ports::{pick_free_port, port_is_free};
pub use replication::ReplicaStatus;
pub use router_config::{render_router_config, RouterPorts};
pub use shared::shared;
pub use template::template_datadir;
pub use topology::{SandboxOptions, Topology};
pub use users::*;
