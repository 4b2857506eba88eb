//! Problem: a prepared statement lives on one server connection, but a
//! multiplexed session runs each statement on whichever connection is
//! free. The client sees stable statement ids of sqlyard's own; each
//! backend connection keeps its own statements by SQL text, and sqlyard
//! prepares a statement there transparently the first time it runs there,
//! rewriting the statement id (and re-sending parameter types when that
//! connection has not seen them) in each COM_STMT_EXECUTE. What the
//! servers keep is bounded by `backend::prepared`: each client handle
//! counts, and a connection holds at most `pool.max_prepared_per_connection`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::error::SessionError;
use super::placement::Placed;
use super::query::after_statement;
use super::session::{Next, Session};
use super::state::Pin;
use crate::backend::prepared::{close_packet, StmtHandle};
use crate::backend::{internal, BackendError, PooledConn};
use crate::protocol::constants::{com, status};
use crate::protocol::response::ok_payload;
use crate::protocol::stream::ResponseKind;
use crate::protocol::Packet;
use crate::router::classify::{Class, Effects};
use crate::router::digest::DigestEntry;

/// A statement the client prepared.
#[derive(Debug, Clone)]
pub struct StmtInfo {
    pub sql: Bytes,
    pub params: u16,
    pub columns: u16,
    /// Parameter types the client last bound (2 bytes per parameter).
    pub types: Option<Vec<u8>>,
    /// How the statement's text routes (classified once, at prepare).
    pub class: Arc<Class>,
    /// Its digest entry (normalized once, at the first execution).
    pub digest: Option<Arc<DigestEntry>>,
    /// Counts this handle among the text's open ones (closing releases it).
    pub handle: StmtHandle,
}

/// Handles the COM_STMT_* commands.
pub async fn handle(s: &mut Session, pkt: Packet, cmd: u8) -> Result<Next, SessionError> {
    if cmd == com::STMT_PREPARE {
        return prepare(s, pkt).await;
    }
    let Some(id) = pkt
        .payload
        .get(1..5)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    else {
        if cmd == com::STMT_CLOSE || cmd == com::STMT_SEND_LONG_DATA {
            return Ok(Next::Continue);
        }
        s.send_error(1, &SessionError::Malformed("statement command"))
            .await?;
        return Ok(Next::Continue);
    };
    match cmd {
        com::STMT_CLOSE => {
            // no response; the server-side statement stays cached on its connections
            s.stmts.remove(&id);
            Ok(Next::Continue)
        }
        com::STMT_SEND_LONG_DATA => {
            send_long_data(s, id, &pkt.payload).await?;
            Ok(Next::Continue)
        }
        com::STMT_RESET => reset(s, id).await,
        com::STMT_FETCH => fetch(s, id, &pkt.payload).await,
        _ => execute(s, id, &pkt.payload).await,
    }
}

async fn prepare(s: &mut Session, pkt: Packet) -> Result<Next, SessionError> {
    let client_id = s.next_stmt_id;
    let Some((summary, mut conn)) = s
        .execute_with(&pkt.payload, ResponseKind::Prepare, Some(client_id))
        .await?
    else {
        return Ok(Next::Continue);
    };
    if let Some(p) = summary.prepare {
        s.next_stmt_id = s.next_stmt_id.wrapping_add(1).max(1);
        let sql = pkt.payload.slice(1..);
        record_prepared(&mut conn, &sql, p.stmt_id);
        let handle = s.ctx.backends.stmt_handles.open(sql.clone());
        s.stmts.insert(
            client_id,
            StmtInfo {
                class: Arc::new(s.classify(&sql, s.lexing())),
                sql,
                params: p.params,
                columns: p.columns,
                types: None,
                digest: None,
                handle,
            },
        );
    }
    after_statement(s, conn, &summary, &Effects::default()).await;
    Ok(Next::Continue)
}

/// Records `sql` as prepared on `conn` under server id `id`; what that
/// pushes out (an older id of the text, the least recently used beyond
/// `pool.max_prepared_per_connection`) is closed with the next command.
fn record_prepared(conn: &mut PooledConn, sql: &Bytes, id: u32) {
    let cap = conn.pool().settings().max_prepared;
    for old in conn.prepared.insert(sql.clone(), id, cap) {
        conn.io.queue(0, &close_packet(old));
    }
}

/// Closes what must go for one more statement on `conn` (with the prepare
/// that follows), so the server never holds more than the bound.
pub fn make_room(conn: &mut PooledConn) {
    let cap = conn.pool().settings().max_prepared;
    for old in conn.prepared.make_room(cap) {
        conn.io.queue(0, &close_packet(old));
    }
}

/// Makes sure `sql` is prepared on `conn`; returns the server's id there.
async fn ensure_prepared(conn: &mut PooledConn, sql: &Bytes) -> Result<u32, BackendError> {
    if let Some(id) = conn.prepared.lookup(sql) {
        return Ok(id);
    }
    make_room(conn);
    let mut payload = Vec::with_capacity(sql.len() + 1);
    payload.push(com::STMT_PREPARE);
    payload.extend_from_slice(sql);
    let res = internal::command(conn, &payload, ResponseKind::Prepare).await?;
    let id = res.prepared_id.ok_or_else(|| BackendError::Unexpected {
        addr: conn.addr.to_string(),
        what: "prepare answered without a statement id",
    })?;
    record_prepared(conn, sql, id);
    Ok(id)
}

/// Rewrites a COM_STMT_EXECUTE for the backend: the request to send is
/// `head` followed by `pkt[tail..]`, where `tail` is returned, so a large
/// packet's parameters are never copied. `head` carries the backend's
/// statement id, and the parameter types when the backend statement has
/// not got the ones the client bound. Updates what the client and the
/// connection have bound.
pub fn rewrite_execute(
    pkt: &[u8],
    backend_id: u32,
    params: u16,
    client_types: &mut Option<Vec<u8>>,
    bound_on_conn: &mut Option<Vec<u8>>,
    head: &mut Vec<u8>,
) -> Result<usize, &'static str> {
    if pkt.len() < 10 {
        return Err("COM_STMT_EXECUTE");
    }
    head.clear();
    let params = params as usize;
    let mut tail = 5;
    if params > 0 {
        let flag_pos = 10 + params.div_ceil(8);
        let flag = *pkt.get(flag_pos).ok_or("COM_STMT_EXECUTE")?;
        if flag == 1 {
            let types = pkt
                .get(flag_pos + 1..flag_pos + 1 + 2 * params)
                .ok_or("COM_STMT_EXECUTE")?;
            set_bytes(client_types, types);
            set_bytes(bound_on_conn, types);
        } else if let Some(t) = client_types
            .as_deref()
            .filter(|t| bound_on_conn.as_deref() != Some(*t))
        {
            head.reserve(flag_pos + 1 + t.len());
            head.extend_from_slice(&pkt[..flag_pos]);
            head.push(1);
            head.extend_from_slice(t);
            set_bytes(bound_on_conn, t);
            tail = flag_pos + 1;
        }
    }
    if head.is_empty() {
        head.extend_from_slice(&pkt[..5]);
    }
    head[1..5].copy_from_slice(&backend_id.to_le_bytes());
    Ok(tail)
}

/// Sets `slot` to `bytes`, reusing its allocation.
fn set_bytes(slot: &mut Option<Vec<u8>>, bytes: &[u8]) {
    match slot {
        Some(v) => {
            v.clear();
            v.extend_from_slice(bytes);
        }
        None => *slot = Some(bytes.to_vec()),
    }
}

async fn execute(s: &mut Session, id: u32, payload: &[u8]) -> Result<Next, SessionError> {
    let Some(info) = s.stmts.get(&id) else {
        s.send_error(
            1,
            &SessionError::UnknownStatement(id, "mysqld_stmt_execute"),
        )
        .await?;
        return Ok(Next::Continue);
    };
    let sql = info.sql.clone();
    let class = info.class.clone();
    let started = std::time::Instant::now();
    let _current = s.info.begin_statement(sql.clone());
    let Placed {
        mut conn,
        was_held,
        reason,
        role,
    } = match s.place(&class, true).await {
        Ok(p) => p,
        Err(e) => {
            s.send_error(1, &e).await?;
            return Ok(Next::Continue);
        }
    };
    let backend_id = match ensure_prepared(&mut conn, &sql).await {
        Ok(b) => b,
        Err(e) => {
            let fatal = e.is_fatal_for_connection();
            if fatal {
                drop(conn);
                if was_held {
                    s.lose_backend();
                }
            } else {
                s.check_in(conn);
            }
            s.send_error(1, &SessionError::Backend(e)).await?;
            return Ok(Next::Continue);
        }
    };
    // the request's head is built in the session's reused buffer; the
    // parameters are sent from the client's packet as they are
    let mut request = std::mem::take(&mut s.scratch);
    let rewritten = match (s.stmts.get_mut(&id), conn.prepared.get_mut(&sql)) {
        (Some(info), Some(on_conn)) => rewrite_execute(
            payload,
            backend_id,
            info.params,
            &mut info.types,
            &mut on_conn.bound_types,
            &mut request,
        ),
        _ => Err("COM_STMT_EXECUTE"),
    };
    let tail = match rewritten {
        Ok(tail) => tail,
        Err(what) => {
            s.scratch = request;
            s.check_in(conn);
            s.send_error(1, &SessionError::Malformed(what)).await?;
            return Ok(Next::Continue);
        }
    };
    s.ctx.stats.queries.fetch_add(1, Ordering::Relaxed);
    let parts: [&[u8]; 2] = [&request, &payload[tail..]];
    let done = s
        .execute_on(conn, was_held, &parts, ResponseKind::Execute, None)
        .await;
    s.scratch = request;
    let Some((summary, conn)) = done? else {
        return Ok(Next::Continue);
    };
    let mut digest = s.stmts.get_mut(&id).and_then(|i| i.digest.take());
    super::observe::observe(
        &s.ctx,
        &crate::router::QueryRecord {
            sql: &sql,
            lexing: s.lexing(),
            server: &conn.addr,
            role,
            reason,
            duration: started.elapsed(),
            rows: summary.rows.max(summary.affected_rows),
            error: summary.error.is_some(),
        },
        &conn.pool().server,
        &mut digest,
    );
    if let Some(info) = s.stmts.get_mut(&id) {
        info.digest = digest;
    }
    s.pin(Pin::LongData, false);
    let cursor = summary
        .status
        .is_some_and(|st| st & status::CURSOR_EXISTS != 0);
    s.pin(Pin::Cursor, cursor);
    after_statement(s, conn, &summary, &class.effects).await;
    Ok(Next::Continue)
}

async fn fetch(s: &mut Session, id: u32, payload: &[u8]) -> Result<Next, SessionError> {
    let backend_id = s
        .stmts
        .get(&id)
        .and_then(|info| s.binding.held().and_then(|c| c.prepared.id_of(&info.sql)));
    let (Some(backend_id), true) = (backend_id, s.binding.has(Pin::Cursor)) else {
        s.send_error(1, &SessionError::UnknownStatement(id, "mysqld_stmt_fetch"))
            .await?;
        return Ok(Next::Continue);
    };
    let mut request = payload.to_vec();
    request[1..5].copy_from_slice(&backend_id.to_le_bytes());
    let Some((summary, conn)) = s.execute_with(&request, ResponseKind::Fetch, None).await? else {
        return Ok(Next::Continue);
    };
    if summary.error.is_some()
        || summary
            .status
            .is_some_and(|st| st & status::LAST_ROW_SENT != 0)
    {
        s.pin(Pin::Cursor, false);
    }
    after_statement(s, conn, &summary, &Effects::default()).await;
    Ok(Next::Continue)
}

async fn send_long_data(s: &mut Session, id: u32, payload: &[u8]) -> Result<(), SessionError> {
    let Some(info) = s.stmts.get(&id).cloned() else {
        return Ok(()); // no response to this command, errors surface at execute
    };
    let Ok((mut conn, _)) = s.acquire().await else {
        return Ok(());
    };
    let Ok(backend_id) = ensure_prepared(&mut conn, &info.sql).await else {
        s.check_in(conn);
        return Ok(());
    };
    // the chunk goes from the client's packet as it is; only the id changes
    let id_bytes = backend_id.to_le_bytes();
    let parts: [&[u8]; 3] = [&payload[..1], &id_bytes, payload.get(5..).unwrap_or(&[])];
    if conn.io.send_parts(0, &parts).await.is_err() {
        drop(conn);
        s.lose_backend();
        return Ok(());
    }
    s.pin(Pin::LongData, true);
    s.check_in(conn);
    Ok(())
}

async fn reset(s: &mut Session, id: u32) -> Result<Next, SessionError> {
    let Some(info) = s.stmts.get(&id).cloned() else {
        s.send_error(1, &SessionError::UnknownStatement(id, "mysqld_stmt_reset"))
            .await?;
        return Ok(Next::Continue);
    };
    let backend_id = s.binding.held().and_then(|c| c.prepared.id_of(&info.sql));
    match backend_id {
        Some(bid) if s.binding.has(Pin::Cursor) || s.binding.has(Pin::LongData) => {
            let mut request = vec![com::STMT_RESET];
            request.extend_from_slice(&bid.to_le_bytes());
            let Some((summary, conn)) =
                s.execute_with(&request, ResponseKind::Single, None).await?
            else {
                return Ok(Next::Continue);
            };
            s.pin(Pin::Cursor, false);
            s.pin(Pin::LongData, false);
            after_statement(s, conn, &summary, &Effects::default()).await;
        }
        _ => {
            // nothing is held for it on any connection
            let st = s.state.status & (status::AUTOCOMMIT | status::IN_TRANS);
            s.io.send(1, &ok_payload(0, 0, st, 0)).await?;
        }
    }
    Ok(Next::Continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(params: u16) -> StmtInfo {
        StmtInfo {
            sql: Bytes::from_static(b"SELECT ?"),
            params,
            columns: 1,
            types: None,
            class: Arc::new(crate::router::classify::classify(b"SELECT ?")),
            digest: None,
            handle: Arc::new(crate::backend::prepared::StmtHandles::default())
                .open(Bytes::from_static(b"SELECT ?")),
        }
    }

    #[test]
    fn execute_rewrite_sets_id_and_replays_types() {
        fn sent(head: &[u8], pkt: &[u8], tail: usize) -> Vec<u8> {
            [head, &pkt[tail..]].concat()
        }
        // execute stmt 7, no cursor, iteration 1, 1 param: null bitmap 0, bound=1, type LONGLONG, value 5
        let first = [
            0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 8, 0, 5, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut i = info(1);
        let mut bound = None;
        let mut head = Vec::new();
        let tail =
            rewrite_execute(&first, 42, i.params, &mut i.types, &mut bound, &mut head).unwrap();
        let out = sent(&head, &first, tail);
        assert_eq!(&out[1..5], &42u32.to_le_bytes());
        assert_eq!((&out[..1], &out[5..]), (&first[..1], &first[5..]));
        assert_eq!(i.types.as_deref(), Some(&[8u8, 0][..]));
        assert_eq!(bound.as_deref(), Some(&[8u8, 0][..]));
        // second execute without types on a connection that never saw them
        let second = [
            0x17, 7, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0,
        ];
        let mut other_conn = None;
        let tail = rewrite_execute(
            &second,
            9,
            i.params,
            &mut i.types,
            &mut other_conn,
            &mut head,
        )
        .unwrap();
        let out = sent(&head, &second, tail);
        assert_eq!(&out[1..5], &9u32.to_le_bytes());
        assert_eq!(out[11], 1);
        assert_eq!(&out[12..14], &[8, 0]);
        assert_eq!(&out[14..], &second[12..]);
        // same connection again: untouched apart from the id
        let tail =
            rewrite_execute(&second, 9, 1, &mut i.types, &mut other_conn, &mut head).unwrap();
        let out = sent(&head, &second, tail);
        assert_eq!(out.len(), second.len());
        assert_eq!(&out[5..], &second[5..]);
        assert!(
            rewrite_execute(&[0x17, 1], 1, i.params, &mut i.types, &mut None, &mut head).is_err()
        );
        let short = [0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0];
        assert!(rewrite_execute(&short, 1, i.params, &mut i.types, &mut None, &mut head).is_err());
    }
}
