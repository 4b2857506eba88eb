//! Problem: a statement running on a primary that failover gave up on can
//! wait forever: a frozen or cut-off host keeps the TCP connection open and
//! never answers. When failover declares a server lost, every statement
//! still waiting on it must end with an error (its outcome is unknown, so it
//! is never retried). [`ServerLoss`] broadcasts "server X is lost" to the
//! sessions; each statement in flight watches it while it waits.

use std::sync::Arc;

use tokio::sync::watch;

/// The servers announced lost so far, newest last (bounded).
type Announced = Vec<Arc<str>>;

/// How many recent announcements a late watcher can still see.
const KEEP: usize = 16;

/// Broadcasts lost servers to running statements.
#[derive(Debug)]
pub struct ServerLoss {
    tx: watch::Sender<Announced>,
}

impl Default for ServerLoss {
    fn default() -> Self {
        ServerLoss {
            tx: watch::channel(Vec::new()).0,
        }
    }
}

impl ServerLoss {
    /// Tells every statement running on `addr` to give up.
    pub fn announce(&self, addr: &str) {
        self.tx.send_modify(|lost| {
            lost.push(Arc::from(addr));
            if lost.len() > KEEP {
                lost.remove(0);
            }
        });
    }

    /// A watcher for statements starting now.
    pub fn watch(&self) -> watch::Receiver<Announced> {
        self.tx.subscribe()
    }
}

/// Resolves when `addr` is announced lost after `rx` was created (every
/// announcement made since then is seen, even several in a row).
pub async fn lost(rx: &mut watch::Receiver<Announced>, addr: &str) {
    let mut seen = rx.borrow_and_update().len();
    loop {
        if rx.changed().await.is_err() {
            // the router is going away: never resolve
            std::future::pending::<()>().await;
        }
        let now = rx.borrow_and_update();
        // the list is bounded: if it rolled over, look at all of it
        let fresh = if now.len() > seen {
            &now[seen..]
        } else {
            &now[..]
        };
        if fresh.iter().any(|a| &**a == addr) {
            return;
        }
        seen = now.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn only_the_named_server_ends_its_statements() {
        let loss = ServerLoss::default();
        let mut a = loss.watch();
        let mut b = loss.watch();
        let wait_a = tokio::spawn(async move { lost(&mut a, "a:1").await });
        let wait_b = tokio::spawn(async move {
            tokio::time::timeout(Duration::from_secs(5), lost(&mut b, "b:1")).await
        });
        tokio::task::yield_now().await;
        loss.announce("c:1");
        loss.announce("a:1");
        tokio::time::timeout(Duration::from_secs(1), wait_a)
            .await
            .unwrap()
            .unwrap();
        assert!(wait_b.await.unwrap().is_err(), "b:1 was never lost");
    }
}
