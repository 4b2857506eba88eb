//! Problem: accept client connections, up to a configured maximum, and
//! stop accepting on shutdown. A client over the limit gets a clear ERR
//! instead of a silent close.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use super::context::Context;
use super::error::SessionError;
use crate::protocol::PacketIo;

/// The application listener.
pub struct Listener {
    listener: TcpListener,
    ctx: Arc<Context>,
}

impl Listener {
    pub async fn bind(addr: &str, ctx: Arc<Context>) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Listener { listener, ctx })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let max = self.ctx.config.load().router.max_connections;
        let limit = Arc::new(Semaphore::new(max));
        loop {
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                _ = shutdown.changed() => {
                    if *shutdown.borrow() { return; }
                    continue;
                }
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off briefly instead of spinning
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            self.ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
            let ctx = self.ctx.clone();
            match limit.clone().try_acquire_owned() {
                Ok(permit) => {
                    tokio::spawn(async move {
                        super::session::serve(ctx, stream, peer).await;
                        drop(permit);
                    });
                }
                Err(_) => {
                    ctx.stats
                        .refused_max_connections
                        .fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let mut io = PacketIo::new(stream);
                        let e = SessionError::TooManyConnections(max);
                        let _ = io.send(0, &e.to_err_payload()).await;
                    });
                }
            }
        }
    }
}
