//! Problem: the admin port must accept operators' connections apart from
//! the application traffic (its own address and credentials), within its
//! own connection cap, and stop accepting on shutdown.

use std::sync::atomic::{AtomicUsize, Ordering};
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
        let open = Arc::new(AtomicUsize::new(0));
        crate::accept::accept_until_shutdown(&self.listener, shutdown, "admin", |stream, peer| {
            super::session::serve(control.clone(), Open::count(&open), stream, peer)
        })
        .await;
    }
}

/// One open operator connection, counted until dropped
/// (`router.admin_max_connections`).
pub struct Open {
    open: Arc<AtomicUsize>,
    /// Connections open with this one.
    pub now: usize,
}

impl Open {
    fn count(open: &Arc<AtomicUsize>) -> Open {
        let now = open.fetch_add(1, Ordering::AcqRel) + 1;
        Open {
            open: open.clone(),
            now,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }
}
