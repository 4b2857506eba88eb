//! Problem: the cluster logic (leases, the election, the fenced journal)
//! must be testable in paused tokio time without an etcd process, and must
//! not depend on one client library's types. [`Store`] is the handful of
//! etcd operations sqlyard uses, with a real implementation (`etcd`) and an
//! in-memory one (`memory`) that keeps etcd's rules: leases that expire,
//! keys that go with their lease, create revisions, compare-and-put.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::error::StoreError;

/// What every store call returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One key and its value, as etcd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision that created the key (0: it does not exist).
    pub create_revision: i64,
    pub mod_revision: i64,
    /// The lease the key goes with (0: none).
    pub lease: i64,
}

/// One range of a batched read: every key starting with `prefix` (or the
/// key itself when `exact`), values left out when `keys_only`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub prefix: String,
    pub exact: bool,
    pub keys_only: bool,
}

impl Range {
    pub fn key(key: impl Into<String>) -> Range {
        Range {
            prefix: key.into(),
            exact: true,
            keys_only: false,
        }
    }

    pub fn prefix(prefix: impl Into<String>) -> Range {
        Range {
            prefix: prefix.into(),
            exact: false,
            keys_only: false,
        }
    }

    pub fn keys_only(mut self) -> Range {
        self.keys_only = true;
        self
    }

    /// Whether `key` falls in this range.
    pub fn contains(&self, key: &str) -> bool {
        if self.exact {
            key == self.prefix
        } else {
            key.starts_with(&self.prefix)
        }
    }
}

/// The etcd operations sqlyard needs.
pub trait Store: Send + Sync + 'static {
    /// A new lease of `ttl` (whole seconds, at least 1).
    fn grant(&self, ttl: Duration) -> StoreFuture<'_, i64>;
    /// Renews `lease`; returns its new time to live (zero: it had expired).
    fn keep_alive(&self, lease: i64) -> StoreFuture<'_, Duration>;
    /// Ends `lease` and deletes its keys.
    fn revoke(&self, lease: i64) -> StoreFuture<'_, ()>;
    /// Reads several ranges at one revision.
    fn read(&self, ranges: Vec<Range>) -> StoreFuture<'_, Vec<Vec<Kv>>>;
    /// Writes `key` (attached to `lease` when given).
    fn put(&self, key: String, value: Vec<u8>, lease: Option<i64>) -> StoreFuture<'_, ()>;
    fn delete(&self, key: String) -> StoreFuture<'_, ()>;
    /// Creates `key` with `lease` unless it exists; true when created.
    fn create(&self, key: String, value: Vec<u8>, lease: i64) -> StoreFuture<'_, bool>;
    /// Writes every pair, and deletes every key of `deletes`, in one
    /// transaction, only if `guard` exists with create revision `revision`
    /// (the writer is still the leader it was elected as). True when done.
    fn put_guarded(
        &self,
        guard: String,
        revision: i64,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> StoreFuture<'_, bool>;
    /// A stream of "something under `prefix` changed" notices. It ends
    /// when the watch breaks (the caller watches again).
    fn watch(&self, prefix: String) -> StoreFuture<'_, tokio::sync::mpsc::Receiver<()>>;
}
