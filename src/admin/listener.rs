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
    pub async fn run(self, shutdown: watch::Receiver<bool>) {
        let control = self.control;
        crate::accept::accept_until_shutdown(&self.listener, shutdown, "admin", |stream, peer| {
            super::session::serve(control.clone(), stream, peer)
        })
        .await;
    }
}
