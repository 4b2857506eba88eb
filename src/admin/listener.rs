//! Problem: the admin port must accept operators' connections apart from
//! the application traffic (its own address and credentials), and stop
//! accepting on shutdown.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::control::Control;

/// The admin listener.
pub struct AdminListener {
    listener: TcpListener,
    control: Arc<Control>,
}

impl AdminListener {
    pub async fn bind(addr: &str, control: Arc<Control>) -> std::io::Result<AdminListener> {
        let listener = TcpListener::bind(addr).await?;
        Ok(AdminListener { listener, control })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Accepts until `shutdown` turns true; each operator gets a task.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                r = shutdown.changed() => {
                    // Err: the server was dropped without a shutdown
                    if r.is_err() || *shutdown.borrow() { return; }
                    continue;
                }
            };
            match accepted {
                Ok((stream, peer)) => {
                    let control = self.control.clone();
                    tokio::spawn(super::session::serve(control, stream, peer));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
