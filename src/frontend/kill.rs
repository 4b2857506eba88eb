//! Problem: `KILL [QUERY] <id>` names sqlyard's own connection ids (the ones
//! clients saw in their handshake), and Ctrl-C in the mariadb CLI sends
//! exactly that on a new connection. The command is translated to the
//! backend connection running the target session's statement.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::error::SessionError;
use super::session::{Next, Session};
use crate::backend::{internal, BackendConn, PoolKey};
use crate::protocol::constants::{cap, status};
use crate::protocol::Packet;

/// COM_PROCESS_KILL (deprecated binary form of KILL CONNECTION).
pub async fn com_process_kill(s: &mut Session, pkt: Packet) -> Result<Next, SessionError> {
    let id = pkt
        .payload
        .get(1..5)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64);
    match id {
        Some(id) => kill(s, id, false).await,
        None => {
            s.send_error(1, &SessionError::Malformed("COM_PROCESS_KILL"))
                .await?;
            Ok(Next::Continue)
        }
    }
}

/// Kills a session's running statement, or the session itself.
pub async fn kill(s: &mut Session, id: u64, query_only: bool) -> Result<Next, SessionError> {
    let target = u32::try_from(id).ok().and_then(|i| {
        // sqlyard's own id (the handshake id), or else the server thread id
        // that CONNECTION_ID() showed, while that session's statement runs
        s.ctx
            .registry
            .get(i)
            .or_else(|| s.ctx.registry.running_on_thread(i, &s.user))
    });
    let Some(target) = target else {
        s.send_error(1, &SessionError::NoSuchThread(id)).await?;
        return Ok(Next::Continue);
    };
    if *target.user.lock() != s.user {
        s.send_error(1, &SessionError::NotOwner(id)).await?;
        return Ok(Next::Continue);
    }
    if target.id == s.id {
        if query_only {
            s.send_ok().await?;
            return Ok(Next::Continue);
        }
        s.send_error(1, &SessionError::Killed).await?;
        return Ok(Next::Quit);
    }
    if !query_only {
        target.killed.store(true, Ordering::Relaxed);
        target.kill_notify.notify_one();
    }
    let running = target.running.lock().clone();
    if let Some((addr, thread)) = running {
        let verb = if query_only { "KILL QUERY" } else { "KILL" };
        if let Err(e) = kill_on_server(s, &addr, thread, verb).await {
            tracing::warn!(server = %addr, error = %e, "could not forward KILL");
            s.send_error(1, &SessionError::Backend(e)).await?;
            return Ok(Next::Continue);
        }
    }
    let st = s.state.status & (status::AUTOCOMMIT | status::IN_TRANS);
    s.io.send(1, &crate::protocol::response::ok_payload(0, 0, st, 0))
        .await?;
    Ok(Next::Continue)
}

/// Opens a short control connection with the monitor account and kills
/// the backend thread there.
async fn kill_on_server(
    s: &Session,
    addr: &Arc<str>,
    thread: u32,
    verb: &str,
) -> Result<(), crate::backend::BackendError> {
    let cred = s.ctx.monitor_credential();
    let key = PoolKey::new(
        Arc::from(cred.user.as_str()),
        cap::DEPRECATE_EOF,
        crate::protocol::constants::DEFAULT_COLLATION,
    );
    let timeout = s.ctx.config.load().pool.connect_timeout.get();
    let tls = s.ctx.backends.tls.get();
    let mut conn = BackendConn::connect(addr, &cred, &key, timeout, &tls).await?;
    match internal::execute(&mut conn, &format!("{verb} {thread}")).await {
        Ok(_) => Ok(()),
        // it finished meanwhile
        Err(crate::backend::BackendError::Server { err, .. }) if err.code == 1094 => Ok(()),
        Err(e) => Err(e),
    }
}
