//! Problem: accept client connections, up to a configured maximum, and
//! stop accepting on shutdown. A client over the limit gets a clear ERR
//! instead of a silent close. On shutdown the listening socket is closed at
//! once (new clients are refused), then the sessions are given
//! `router.shutdown_timeout` to finish their running statement; whatever is
//! left after that is cut.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::error::SessionError;
use crate::app::context::Context;
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

    /// Accepts until `shutdown` turns true, then drains the sessions.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let Listener { listener, ctx } = self;
        let max = ctx.config.load().router.max_connections;
        let limit = Arc::new(Semaphore::new(max));
        let mut sessions = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                r = listener.accept() => r,
                Some(_) = sessions.join_next(), if !sessions.is_empty() => continue,
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        // The server was dropped without a shutdown: stop
                        // accepting, leave the sessions be.
                        sessions.detach_all();
                        return;
                    }
                    if *shutdown.borrow() { break; }
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
            ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
            let ctx = ctx.clone();
            match limit.clone().try_acquire_owned() {
                Ok(permit) => {
                    let shutdown = shutdown.clone();
                    // A session's future is about 10 KB: boxed, it is
                    // written once to the heap instead of being copied
                    // into the task as well.
                    sessions.spawn(Box::pin(async move {
                        super::session::serve(ctx, stream, peer, shutdown).await;
                        drop(permit);
                    }));
                }
                Err(_) => {
                    ctx.stats
                        .refused_max_connections
                        .fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(async move {
                        let mut io = PacketIo::new(stream);
                        let e = SessionError::TooManyConnections(max);
                        let _ = io.send(0, &e.to_err_before_greeting()).await;
                    });
                }
            }
        }
        // New clients are refused from here on.
        drop(listener);
        drain(&ctx, sessions).await;
    }
}

/// Waits for the sessions to end (each closes once its running statement,
/// if any, is done), for at most `router.shutdown_timeout`; then cuts the
/// rest.
async fn drain(ctx: &Context, mut sessions: JoinSet<()>) {
    let timeout = ctx.config.load().router.shutdown_timeout.get();
    if !sessions.is_empty() {
        tracing::info!(
            sessions = sessions.len(),
            "waiting for client sessions to finish their statements"
        );
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, sessions.join_next()).await {
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(_) => break,
        }
    }
    tracing::warn!(
        sessions = sessions.len(),
        timeout_ms = timeout.as_millis() as u64,
        "shutdown timeout reached: cutting the remaining sessions"
    );
    sessions.abort_all();
    while sessions.join_next().await.is_some() {}
}
