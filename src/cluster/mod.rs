//! Problem: a router that runs alone is itself the outage, but several
//! routers that each decide about the primary on their own will one day
//! promote two servers. This module lets several sqlyard instances in
//! front of one topology share one decision through etcd: a lease per
//! instance, a leader elected on it, the failover journal and every
//! action on a server fenced by the leader's election revision, the
//! promoted primary published for all, each instance's view of the
//! primary, and runtime changes made on any instance.
//!
//! Files: `store` (the etcd operations used, as a trait), `etcd` (the
//! real one, member by member), `memory` (an in-memory etcd for unit
//! tests), `keys` (where everything lives), `records` (the JSON stored),
//! `handle` (the shared view and the fenced write), `agent` (the loop that
//! keeps the lease, campaigns, publishes and reads).
//!
//! Without `[cluster]` none of this runs and sqlyard works alone.

pub mod agent;
pub mod error;
pub mod etcd;
pub mod handle;
pub mod keys;
pub mod memory;
pub mod records;
pub mod store;

use std::sync::Arc;

pub use agent::Agent;
pub use error::{ClusterError, StoreError};
pub use handle::{ClusterHandle, ClusterView, Identity, Leadership};
pub use records::{PrimaryView, PublishedPrimary, RouterRecord};

use crate::config::ClusterConfig;

/// Errors setting up the etcd client from `[cluster]`.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("[cluster] {key}: cannot read {path}: {source}")]
    File {
        key: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The etcd store for `[cluster]` (`read` reads a file the config names).
pub fn etcd_store(
    c: &ClusterConfig,
    read: impl Fn(&str) -> std::path::PathBuf,
) -> Result<Arc<dyn store::Store>, SetupError> {
    let mut options = etcd_client::ConnectOptions::new();
    if let (Some(user), false) = (&c.etcd_user, c.etcd_password.is_empty()) {
        options = options.with_user(user.clone(), c.etcd_password.expose().to_string());
    }
    let file = |key: &'static str, path: &str| {
        std::fs::read(read(path)).map_err(|source| SetupError::File {
            key,
            path: path.to_string(),
            source,
        })
    };
    if c.etcd_ca.is_some() || c.etcd_cert.is_some() {
        let mut tls = etcd_client::TlsOptions::new();
        if let Some(ca) = &c.etcd_ca {
            tls = tls.ca_certificate(etcd_client::Certificate::from_pem(file("etcd_ca", ca)?));
        }
        if let (Some(cert), Some(key)) = (&c.etcd_cert, &c.etcd_key) {
            tls = tls.identity(etcd_client::Identity::from_pem(
                file("etcd_cert", cert)?,
                file("etcd_key", key)?,
            ));
        }
        options = options.with_tls(tls);
    }
    Ok(etcd::EtcdStore::new(c.etcd_endpoints.clone(), options))
}

/// The instance name when `[cluster] instance` is not set: the host name
/// and the application port.
pub fn default_instance(listen_port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{listen_port}")
}

#[cfg(test)]
pub(crate) mod tests;
