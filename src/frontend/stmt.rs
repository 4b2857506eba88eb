//! Problem: prepared statements live on one server connection. Until
//! sqlyard re-prepares them transparently on whichever connection serves
//! an execution, a session that prepares statements stays pinned to the
//! connection that holds them, so the ids the client sees stay valid.

use super::error::SessionError;
use super::query::after_statement;
use super::session::{Next, Session};
use super::state::Pin;
use crate::protocol::constants::com;
use crate::protocol::stream::ResponseKind;
use crate::protocol::Packet;
use crate::router::classify::{effects, Effects};

/// Handles the COM_STMT_* commands.
pub async fn handle(s: &mut Session, pkt: Packet, cmd: u8) -> Result<Next, SessionError> {
    let stmt_id = pkt
        .payload
        .get(1..5)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0);
    match cmd {
        com::STMT_PREPARE => {
            let fx = effects(&pkt.payload[1..]);
            let Some((summary, conn)) = s.execute(&pkt.payload, ResponseKind::Prepare).await?
            else {
                return Ok(Next::Continue);
            };
            if summary.prepare.is_some() {
                s.state.prepared += 1;
                s.pin(Pin::PreparedStatements, true);
            }
            let _ = fx;
            after_statement(s, conn, &summary, &Effects::default()).await;
            Ok(Next::Continue)
        }
        com::STMT_CLOSE | com::STMT_SEND_LONG_DATA => {
            // no response to either
            if pkt.payload.len() < 5 {
                return Ok(Next::Continue);
            }
            if let Some(conn) = s.pinned.as_mut() {
                conn.io.queue(0, &pkt.payload);
                if conn.io.flush().await.is_err() {
                    s.lose_backend();
                    return Ok(Next::Continue);
                }
                if cmd == com::STMT_CLOSE {
                    s.state.prepared = s.state.prepared.saturating_sub(1);
                    if s.state.prepared == 0 {
                        s.pin(Pin::PreparedStatements, false);
                        if let Some(conn) = s.pinned.take() {
                            s.check_in(conn);
                        }
                    }
                }
            }
            Ok(Next::Continue)
        }
        _ => {
            if s.pinned.is_none() || !s.state.pins.has(Pin::PreparedStatements) {
                let name = match cmd {
                    com::STMT_EXECUTE => "mysqld_stmt_execute",
                    com::STMT_FETCH => "mysqld_stmt_fetch",
                    _ => "mysqld_stmt_reset",
                };
                s.send_error(1, &SessionError::UnknownStatement(stmt_id, name))
                    .await?;
                return Ok(Next::Continue);
            }
            let kind = match cmd {
                com::STMT_EXECUTE => ResponseKind::Execute,
                com::STMT_FETCH => ResponseKind::Fetch,
                _ => ResponseKind::Single,
            };
            let Some((summary, conn)) = s.execute(&pkt.payload, kind).await? else {
                return Ok(Next::Continue);
            };
            after_statement(s, conn, &summary, &Effects::default()).await;
            Ok(Next::Continue)
        }
    }
}
