//! Problem: the admin and metrics listeners must each accept connections
//! until the router shuts down (or is dropped), and must not spin when
//! accepting fails (out of file descriptors): they back off briefly. This
//! is that loop, once. (The application listener has its own: it also
//! counts connections against a limit and drains sessions on shutdown.)

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Accepts on `listener` until `shutdown` turns true or its sender is
/// dropped; each connection is handed to `serve` on its own task.
pub async fn accept_until_shutdown<F, Fut>(
    listener: &TcpListener,
    mut shutdown: watch::Receiver<bool>,
    what: &'static str,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            r = shutdown.changed() => {
                if r.is_err() || *shutdown.borrow() { return; }
                continue;
            }
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(serve(stream, peer));
            }
            Err(e) => {
                tracing::warn!(listener = what, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
