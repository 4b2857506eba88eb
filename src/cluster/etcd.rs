//! Problem: etcd is several members, any of which may be down; a request
//! sent to a dead member must go to another one at once, not fail, and a
//! hung member must not hang the router's control loop. [`EtcdStore`] keeps
//! one client per endpoint, bounds every attempt, and moves on to the next
//! member after a failure, remembering the one that answered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse,
    WatchOptions,
};
use tokio::sync::{mpsc, Mutex};

use super::error::StoreError;
use super::store::{Kv, Range, Store, StoreFuture};

/// How long one attempt on one member may take.
const ATTEMPT: Duration = Duration::from_millis(1500);

/// etcd through `etcd-client`, one client per endpoint.
pub struct EtcdStore {
    endpoints: Vec<String>,
    options: ConnectOptions,
    clients: Vec<Mutex<Option<Client>>>,
    /// The member that answered last: tried first.
    current: AtomicUsize,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

fn etcd_error(e: etcd_client::Error) -> StoreError {
    StoreError::Etcd(e.to_string())
}

fn to_kv(kv: &etcd_client::KeyValue) -> Kv {
    Kv {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: kv.value().to_vec(),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
        lease: kv.lease(),
    }
}

fn get_options(r: &Range) -> Option<GetOptions> {
    let mut o = GetOptions::new();
    if !r.exact {
        o = o.with_prefix();
    }
    if r.keys_only {
        o = o.with_keys_only();
    }
    Some(o)
}

impl EtcdStore {
    /// A store for `endpoints`; nothing is connected until the first call.
    pub fn new(endpoints: Vec<String>, options: ConnectOptions) -> Arc<EtcdStore> {
        let clients = endpoints.iter().map(|_| Mutex::new(None)).collect();
        Arc::new(EtcdStore {
            endpoints,
            options: options
                .with_connect_timeout(ATTEMPT)
                .with_timeout(ATTEMPT)
                .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2)),
            clients,
            current: AtomicUsize::new(0),
        })
    }

    async fn client(&self, i: usize) -> Result<Client, StoreError> {
        let Some(slot) = self.clients.get(i) else {
            return Err(StoreError::NotConnected);
        };
        let mut slot = slot.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let endpoint = [self.endpoints[i].clone()];
        let c = tokio::time::timeout(
            ATTEMPT,
            Client::connect(endpoint, Some(self.options.clone())),
        )
        .await
        .map_err(|_| StoreError::Timeout(ATTEMPT))?
        .map_err(etcd_error)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs `op` on one member after another until one answers.
    async fn attempt<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, StoreError>>,
    {
        let n = self.endpoints.len();
        if n == 0 {
            return Err(StoreError::NotConnected);
        }
        let start = self.current.load(Ordering::Relaxed);
        let mut last = StoreError::NotConnected;
        for k in 0..n {
            let i = (start + k) % n;
            let client = match self.client(i).await {
                Ok(c) => c,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            match tokio::time::timeout(ATTEMPT, op(client)).await {
                Ok(Ok(v)) => {
                    self.current.store(i, Ordering::Relaxed);
                    return Ok(v);
                }
                // a lease that expired is an answer, not a dead member
                Ok(Err(StoreError::LeaseExpired)) => return Err(StoreError::LeaseExpired),
                Ok(Err(e)) => last = e,
                Err(_) => last = StoreError::Timeout(ATTEMPT),
            }
        }
        Err(last)
    }
}

impl Store for EtcdStore {
    fn grant(&self, ttl: Duration) -> StoreFuture<'_, i64> {
        let secs = ttl.as_secs().max(1) as i64;
        Box::pin(self.attempt(move |mut c| async move {
            let r = c.lease_grant(secs, None).await.map_err(etcd_error)?;
            Ok(r.id())
        }))
    }

    fn keep_alive(&self, lease: i64) -> StoreFuture<'_, Duration> {
        Box::pin(self.attempt(move |mut c| async move {
            let (mut keeper, mut stream) = c.lease_keep_alive(lease).await.map_err(etcd_error)?;
            keeper.keep_alive().await.map_err(etcd_error)?;
            match stream.message().await.map_err(etcd_error)? {
                Some(r) => Ok(Duration::from_secs(r.ttl().max(0) as u64)),
                None => Err(StoreError::Etcd("the keep-alive stream ended".into())),
            }
        }))
    }

    fn revoke(&self, lease: i64) -> StoreFuture<'_, ()> {
        Box::pin(self.attempt(move |mut c| async move {
            match c.lease_revoke(lease).await {
                Ok(_) => Ok(()),
                // already gone
                Err(e) if e.to_string().contains("lease not found") => Ok(()),
                Err(e) => Err(etcd_error(e)),
            }
        }))
    }

    fn read(&self, ranges: Vec<Range>) -> StoreFuture<'_, Vec<Vec<Kv>>> {
        Box::pin(self.attempt(move |mut c| {
            let ranges = ranges.clone();
            async move {
                let ops: Vec<TxnOp> = ranges
                    .iter()
                    .map(|r| TxnOp::get(r.prefix.clone(), get_options(r)))
                    .collect();
                let r = c.txn(Txn::new().and_then(ops)).await.map_err(etcd_error)?;
                Ok(r.op_responses()
                    .iter()
                    .map(|op| match op {
                        TxnOpResponse::Get(g) => g.kvs().iter().map(to_kv).collect(),
                        _ => Vec::new(),
                    })
                    .collect())
            }
        }))
    }

    fn put(&self, key: String, value: Vec<u8>, lease: Option<i64>) -> StoreFuture<'_, ()> {
        Box::pin(self.attempt(move |mut c| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                let options = lease.map(|l| PutOptions::new().with_lease(l));
                match c.put(key, value, options).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.to_string().contains("lease not found") => {
                        Err(StoreError::LeaseExpired)
                    }
                    Err(e) => Err(etcd_error(e)),
                }
            }
        }))
    }

    fn delete(&self, key: String) -> StoreFuture<'_, ()> {
        Box::pin(self.attempt(move |mut c| {
            let key = key.clone();
            async move {
                c.delete(key, None).await.map_err(etcd_error)?;
                Ok(())
            }
        }))
    }

    fn create(&self, key: String, value: Vec<u8>, lease: i64) -> StoreFuture<'_, bool> {
        Box::pin(self.attempt(move |mut c| {
            let (key, value) = (key.clone(), value.clone());
            async move {
                let txn = Txn::new()
                    .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(
                        key,
                        value,
                        Some(PutOptions::new().with_lease(lease)),
                    )]);
                match c.txn(txn).await {
                    Ok(r) => Ok(r.succeeded()),
                    Err(e) if e.to_string().contains("lease not found") => {
                        Err(StoreError::LeaseExpired)
                    }
                    Err(e) => Err(etcd_error(e)),
                }
            }
        }))
    }

    fn put_guarded(
        &self,
        guard: String,
        revision: i64,
        puts: Vec<(String, Vec<u8>)>,
        deletes: Vec<String>,
    ) -> StoreFuture<'_, bool> {
        Box::pin(self.attempt(move |mut c| {
            let (guard, puts, deletes) = (guard.clone(), puts.clone(), deletes.clone());
            async move {
                let mut ops: Vec<TxnOp> = puts
                    .into_iter()
                    .map(|(k, v)| TxnOp::put(k, v, None))
                    .collect();
                ops.extend(deletes.into_iter().map(|k| TxnOp::delete(k, None)));
                let txn = Txn::new()
                    .when([Compare::create_revision(guard, CompareOp::Equal, revision)])
                    .and_then(ops);
                let r = c.txn(txn).await.map_err(etcd_error)?;
                Ok(r.succeeded())
            }
        }))
    }

    fn watch(&self, prefix: String) -> StoreFuture<'_, mpsc::Receiver<()>> {
        Box::pin(self.attempt(move |mut c| {
            let prefix = prefix.clone();
            async move {
                let (watcher, mut stream) = c
                    .watch(prefix, Some(WatchOptions::new().with_prefix()))
                    .await
                    .map_err(etcd_error)?;
                let (tx, rx) = mpsc::channel(1);
                tokio::spawn(async move {
                    // the watcher cancels the watch when dropped
                    let _watcher = watcher;
                    while let Ok(Some(_)) = stream.message().await {
                        if tx.is_closed() {
                            break;
                        }
                        let _ = tx.try_send(());
                    }
                });
                Ok(rx)
            }
        }))
    }
}
