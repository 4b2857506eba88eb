//! Failover tests need network faults between sqlyard and one server only
//! (a cut link, a refused port) while the servers still see each other.
//! This is a TCP forwarder on 127.0.0.1:<free port> to one target whose
//! behaviour is switched at run time: `Pass` forwards bytes, `Blackhole`
//! keeps every TCP connection open but forwards nothing (new connections are
//! accepted and then get silence, like a cut link), `Refuse` closes the
//! listener (connection refused) and resets the open connections.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward in both directions.
    Pass,
    /// Forward nothing, close nothing; new connections are accepted and
    /// then hear nothing.
    Blackhole,
    /// No listener (connection refused); open connections are reset.
    Refuse,
}

/// A running proxy. Dropping it stops the listener and every connection.
pub struct FaultProxy {
    addr: SocketAddr,
    target: String,
    mode: watch::Sender<Mode>,
    open: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("target", &self.target)
            .field("mode", &*self.mode.borrow())
            .finish()
    }
}

impl FaultProxy {
    /// Starts a proxy in `Pass` mode on a free loopback port, forwarding to
    /// `target` ("host:port").
    pub async fn start(target: &str) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (mode, modes) = watch::channel(Mode::Pass);
        let open = Arc::new(AtomicUsize::new(0));
        let acceptor = tokio::spawn(accept_loop(
            listener,
            addr,
            target.to_string(),
            modes,
            open.clone(),
        ));
        Ok(FaultProxy {
            addr,
            target: target.to_string(),
            mode,
            open,
            acceptor,
        })
    }

    /// "127.0.0.1:PORT", the address clients use.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Switches the mode; takes effect at once for every connection.
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Client connections currently open through the proxy.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The acceptor owns the JoinSet of connections: aborting it drops them all.
        self.acceptor.abort();
    }
}

/// Waits until the mode is not `Blackhole`; `false` when it is `Refuse`
/// (or the proxy is gone).
async fn wait_flowing(modes: &mut watch::Receiver<Mode>) -> bool {
    match modes.wait_for(|m| *m != Mode::Blackhole).await {
        Ok(m) => *m == Mode::Pass,
        Err(_) => false,
    }
}

/// Waits until the mode becomes `Refuse` (or the proxy is gone).
async fn wait_refuse(mut modes: watch::Receiver<Mode>) {
    let _ = modes.wait_for(|m| *m == Mode::Refuse).await;
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    target: String,
    mut modes: watch::Receiver<Mode>,
    open: Arc<AtomicUsize>,
) {
    let mut conns = JoinSet::new();
    let mut listener = Some(listener);
    loop {
        // reap finished connection tasks
        while conns.try_join_next().is_some() {}
        let Some(l) = listener.as_ref() else {
            // Refuse: no listener until the mode changes.
            if modes.wait_for(|m| *m != Mode::Refuse).await.is_err() {
                return;
            }
            listener = rebind(addr).await;
            if listener.is_none() {
                return;
            }
            continue;
        };
        if *modes.borrow_and_update() == Mode::Refuse {
            listener = None;
            continue;
        }
        tokio::select! {
            accepted = l.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let _ = client.set_nodelay(true);
                open.fetch_add(1, Ordering::SeqCst);
                let open = open.clone();
                let target = target.clone();
                let modes = modes.clone();
                conns.spawn(async move {
                    serve(client, &target, modes).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
            changed = modes.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Binds the proxy's port again after `Refuse` (SO_REUSEADDR is set by
/// tokio, so TIME_WAIT does not block; another process taking the port does).
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..100 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Some(l),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    eprintln!("fault proxy: cannot bind {addr} again; it stays closed");
    None
}

/// Serves one client connection until either side closes or the mode
/// becomes `Refuse` (then both sides are reset).
async fn serve(client: TcpStream, target: &str, mut modes: watch::Receiver<Mode>) {
    // A connection accepted during a blackhole hears nothing until the link
    // is back.
    if !wait_flowing(&mut modes).await {
        reset(&client);
        return;
    }
    let upstream = tokio::select! {
        c = TcpStream::connect(target) => c,
        _ = wait_refuse(modes.clone()) => {
            reset(&client);
            return;
        }
    };
    let upstream = match upstream {
        Ok(u) => u,
        Err(_) => {
            // the target is down: the client sees a reset, as it would
            // connecting to the target itself
            reset(&client);
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (up_r, up_w) = upstream.into_split();
    let refused = tokio::select! {
        _ = pump(client_r, &up_w, modes.clone()) => false,
        _ = pump(up_r, &client_w, modes.clone()) => false,
        _ = wait_refuse(modes.clone()) => true,
    };
    if refused || *modes.borrow() == Mode::Refuse {
        let _ = AsRef::<TcpStream>::as_ref(&client_w).set_zero_linger();
        let _ = AsRef::<TcpStream>::as_ref(&up_w).set_zero_linger();
    }
}

fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

/// Copies `from` to `to` while the mode lets bytes flow; in `Blackhole` it
/// neither reads nor writes (bytes wait in the kernel buffers, as on a cut
/// link), and whatever was read is delivered if the link comes back.
async fn pump(mut from: OwnedReadHalf, to: &OwnedWriteHalf, mut modes: watch::Receiver<Mode>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !wait_flowing(&mut modes).await {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !wait_flowing(&mut modes).await {
            return;
        }
        if write_all(to, &buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `write_all` on a shared write half (`try_write` + `writable`).
async fn write_all(to: &OwnedWriteHalf, mut bytes: &[u8]) -> io::Result<()> {
    let stream: &TcpStream = to.as_ref();
    while !bytes.is_empty() {
        stream.writable().await?;
        match stream.try_write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
