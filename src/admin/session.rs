//! Problem: an operator's client must log in with the admin credentials
//! (and only those), then send statements and get answers, exactly like a
//! MySQL server would answer them, so the stock `mariadb` CLI and client
//! libraries work here unchanged.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::dispatch;
use super::error::AdminError;
use super::listener::Open;
use super::reply::{encode, Reply};
use crate::control::Control;
use crate::frontend::auth::{greet, negotiated, verify};
use crate::frontend::SessionError;
use crate::protocol::auth::{new_scramble, AuthPlugin, ServerCredential};
use crate::protocol::constants::{com, status};
use crate::protocol::response::ok_payload;
use crate::protocol::PacketIo;
use crate::tls::Transport;

/// Connection ids on the admin port (distinct from application sessions'
/// only by the port; they are not KILL targets).
static NEXT_ID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);

/// Serves one operator connection until it leaves.
pub async fn serve(control: Arc<Control>, open: Open, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let mut io = PacketIo::new(Transport::Plain(stream));
    let (max, idle) = {
        let cfg = control.config();
        (
            cfg.router.admin_max_connections,
            cfg.router.admin_idle_timeout.get(),
        )
    };
    if open.now > max {
        // like a server with too many connections: an ERR instead of a greeting
        let e = AdminError::TooManyConnections(max);
        tracing::info!(client = %peer, "admin connection refused: {e}");
        let _ = io.send(0, &e.to_err_before_greeting()).await;
        return;
    }
    io.set_max_packet(crate::protocol::codec::MAX_HANDSHAKE_PACKET);
    let timeout = control.config().router.connect_timeout.get();
    let host = peer.ip().to_string();
    let caps = match tokio::time::timeout(timeout, login(&control, &mut io, &host)).await {
        Ok(Ok(caps)) => caps,
        Ok(Err(e)) => {
            tracing::info!(client = %peer, error = %e, "admin login failed");
            return;
        }
        Err(_) => {
            let e = SessionError::Malformed("handshake (timed out)");
            let _ = io.send(2, &e.to_err_payload()).await;
            return;
        }
    };
    tracing::info!(client = %peer, "admin logged in");
    io.set_max_packet(16 * 1024 * 1024);
    loop {
        let pkt = match tokio::time::timeout(idle, io.read_packet()).await {
            Ok(Ok(p)) => p,
            Ok(Err(e)) if e.is_disconnect() => return,
            Ok(Err(e)) => {
                let _ = io.send(1, &SessionError::Client(e).to_err_payload()).await;
                return;
            }
            Err(_) => {
                let e = AdminError::IdleTimeout(idle.as_secs());
                tracing::info!(client = %peer, "admin connection closed: {e}");
                let _ = io.send(1, &e.to_err_payload()).await;
                return;
            }
        };
        let Some(&cmd) = pkt.payload.first() else {
            return;
        };
        let result = match cmd {
            com::QUIT => return,
            com::PING | com::INIT_DB | com::RESET_CONNECTION => Ok(Reply::ok()),
            com::QUERY => {
                let sql = String::from_utf8_lossy(&pkt.payload[1..]);
                dispatch::run(&control, &sql).await
            }
            other => Err(AdminError::UnsupportedCommand(other)),
        };
        let sent = match result {
            Ok(reply) => {
                let mut seq = 1u8;
                for p in encode(&reply, caps) {
                    io.queue(seq, &p);
                    seq = seq.wrapping_add(1);
                }
                io.flush().await
            }
            Err(e) => {
                tracing::debug!(client = %peer, error = %e, "admin command failed");
                io.send(1, &e.to_err_payload()).await.map(|_| ())
            }
        };
        if sent.is_err() {
            return;
        }
        io.shrink();
    }
}

/// Greets, checks the admin credentials, sends OK. Returns the negotiated
/// capabilities.
async fn login(
    control: &Control,
    io: &mut PacketIo<Transport>,
    host: &str,
) -> Result<u32, SessionError> {
    let cfg = control.config();
    let scramble = new_scramble();
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tls = control.ctx.listener_tls.get();
    let (response, seq) = greet(
        io,
        &control.ctx.server_version(),
        id,
        &scramble,
        tls.as_deref(),
        None,
    )
    .await?;
    if cfg.router.admin_require_tls && !io.get_ref().is_tls() {
        let e = SessionError::InsecureTransport("router.admin_require_tls = true");
        io.send(seq, &e.to_err_payload()).await?;
        return Err(e);
    }
    let denied = |using_password: bool| SessionError::AccessDenied {
        user: response.user.clone(),
        host: host.to_string(),
        using_password,
    };
    // Another user name is checked against a random password: the
    // exchange is the same as for a wrong password, so the wire does not
    // tell which user names exist.
    let known = response.user == cfg.router.admin_user;
    let cred = if known {
        ServerCredential::plain(cfg.router.admin_password.expose().as_bytes())
    } else {
        ServerCredential::plain(new_scramble().to_vec())
    };
    let plugin = AuthPlugin::from_name(
        response
            .plugin
            .as_deref()
            .unwrap_or("mysql_native_password"),
    );
    let checked = verify(
        io,
        &cred,
        &plugin,
        &scramble,
        response.auth_response.clone(),
        seq,
    )
    .await?;
    let seq = checked.seq;
    if !checked.accepted || !known {
        let e = denied(!checked.data.is_empty());
        io.send(seq, &e.to_err_payload()).await?;
        return Err(e);
    }
    io.send(seq, &ok_payload(0, 0, status::AUTOCOMMIT, 0))
        .await?;
    Ok(negotiated(response.capabilities))
}
