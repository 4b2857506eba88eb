//! Problem: a failed etcd call, a lost leadership and a lease about to end
//! must be told apart, because each leads to a different decision (retry,
//! stand down, skip the action); and none may carry a password.

use std::time::Duration;

/// Errors of one store call.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("etcd: {0}")]
    Etcd(String),
    #[error("etcd did not answer within {0:?}")]
    Timeout(Duration),
    #[error("etcd: the lease has expired")]
    LeaseExpired,
    #[error("etcd is not connected yet")]
    NotConnected,
}

/// Errors of the cluster layer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("this sqlyard instance is not the leader")]
    NotLeader,
    #[error("this sqlyard instance is no longer the leader (the election key changed)")]
    Deposed,
    #[error("the leader's lease has {left:?} left, less than the {need:?} the action may take")]
    LeaseShort { left: Duration, need: Duration },
    #[error("cannot encode {what}: {reason}")]
    Encode { what: &'static str, reason: String },
}
