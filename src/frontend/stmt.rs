//! Problem: a prepared statement lives on one server connection, but a
//! multiplexed session runs each statement on whichever connection is
//! free. The client sees stable statement ids of sqlyard's own; each
//! backend connection keeps its own statements by SQL text, and sqlyard
//! prepares a statement there transparently the first time it runs there,
//! rewriting the statement id (and re-sending parameter types when that
//! connection has not seen them) in each COM_STMT_EXECUTE. What the
//! servers keep is bounded by `backend::prepared`: each client handle
//! counts, and a connection holds at most `pool.max_prepared_per_connection`.
//!
//! A server-side cursor (COM_STMT_EXECUTE with a cursor flag, then
//! COM_STMT_FETCH) belongs to one server statement, and executing that
//! statement again closes it. Client handles that share a text share the
//! server statement, so while one handle's cursor is open there, another
//! handle of the text (executed, or sent long data) runs on a private
//! server statement of its own, closed when it is done; a shared statement
//! pushed out while its cursor is open is closed when the cursor ends. The
//! session stays pinned while any cursor is open ([`OpenCursor`], one per
//! client statement).

use std::collections::HashMap;
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

/// What a client statement holds on the session's connection besides the
/// connection's shared statement for its text: a server statement of its
/// own, and/or an open cursor.
#[derive(Debug, Clone)]
pub struct OpenCursor {
    /// The server statement's id on the held connection.
    pub backend_id: u32,
    /// A server statement of this client statement's own (closed when its
    /// cursor ends), not the connection's shared statement for the text:
    /// made when the shared one holds another client statement's cursor,
    /// or when the shared one was pushed out while this cursor was open.
    pub private: bool,
    /// A cursor is open on it.
    pub cursor_open: bool,
    /// Parameter types bound on a private statement.
    pub bound_types: Option<Vec<u8>>,
}

/// Whether the server statement `backend_id` holds an open cursor of a
/// client statement other than `id`.
fn busy(cursors: &HashMap<u32, OpenCursor>, backend_id: u32, id: u32) -> bool {
    cursors
        .iter()
        .any(|(k, c)| *k != id && c.cursor_open && c.backend_id == backend_id)
}

/// Closes server statement `old` (pushed out of the connection's shared
/// statements) with the next command, unless an open cursor lives on it:
/// that one becomes its cursor's own, closed when the cursor ends.
fn close_unless_cursor(conn: &mut PooledConn, cursors: &mut HashMap<u32, OpenCursor>, old: u32) {
    match cursors
        .values_mut()
        .find(|c| c.cursor_open && !c.private && c.backend_id == old)
    {
        Some(c) => c.private = true,
        None => {
            conn.io.queue(0, &close_packet(old));
        }
    }
}

/// COM_STMT_EXECUTE flags that open a cursor (CURSOR_TYPE_READ_ONLY,
/// CURSOR_TYPE_FOR_UPDATE, CURSOR_TYPE_SCROLLABLE).
const CURSOR_FLAGS: u8 = 0x01 | 0x02 | 0x04;

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
    let id = match (id, s.last_prepared) {
        (u32::MAX, Some(last)) => last,
        _ => id,
    };
    match cmd {
        com::STMT_CLOSE => {
            // no response; the server-side statement stays cached on its
            // connections, but a cursor of this handle is closed there
            s.stmts.remove(&id);
            end_cursor(s, id).await;
            Ok(Next::Continue)
        }
        com::STMT_SEND_LONG_DATA => {
            send_long_data(s, id, &pkt.payload).await?;
            Ok(Next::Continue)
        }
        com::STMT_RESET => reset(s, id).await,
        com::STMT_FETCH => fetch(s, id, &pkt.payload).await,
        com::STMT_BULK_EXECUTE => execute(s, id, &pkt.payload, true).await,
        _ => execute(s, id, &pkt.payload, false).await,
    }
}

async fn prepare(s: &mut Session, pkt: Packet) -> Result<Next, SessionError> {
    let client_id = s.next_stmt_id;
    // an execute-direct behind a prepare that fails must not run the one before
    s.last_prepared = None;
    let Some((summary, mut conn)) = s
        .execute_with(&pkt.payload, ResponseKind::Prepare, Some(client_id))
        .await?
    else {
        return Ok(Next::Continue);
    };
    if let Some(p) = summary.prepare {
        // 0xFFFFFFFF means "the last prepared": never a statement's own id
        s.next_stmt_id = match s.next_stmt_id.wrapping_add(1) {
            0 | u32::MAX => 1,
            n => n,
        };
        s.last_prepared = Some(client_id);
        let sql = pkt.payload.slice(1..);
        record_prepared(&mut conn, &mut s.cursors, &sql, p.stmt_id);
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
/// `pool.max_prepared_per_connection`) is closed with the next command
/// (see [`close_unless_cursor`]).
fn record_prepared(
    conn: &mut PooledConn,
    cursors: &mut HashMap<u32, OpenCursor>,
    sql: &Bytes,
    id: u32,
) {
    let cap = conn.pool().settings().max_prepared;
    for old in conn.prepared.insert(sql.clone(), id, cap) {
        close_unless_cursor(conn, cursors, old);
    }
}

/// Closes what must go for one more statement on `conn` (with the prepare
/// that follows), so the server never holds more than the bound.
pub fn make_room(conn: &mut PooledConn, cursors: &mut HashMap<u32, OpenCursor>) {
    let cap = conn.pool().settings().max_prepared;
    for old in conn.prepared.make_room(cap) {
        close_unless_cursor(conn, cursors, old);
    }
}

/// Makes sure `sql` is prepared on `conn`; returns the server's id there.
async fn ensure_prepared(
    conn: &mut PooledConn,
    cursors: &mut HashMap<u32, OpenCursor>,
    sql: &Bytes,
) -> Result<u32, BackendError> {
    if let Some(id) = conn.prepared.lookup(sql) {
        return Ok(id);
    }
    make_room(conn, cursors);
    let id = prepare_private(conn, sql).await?;
    record_prepared(conn, cursors, sql, id);
    Ok(id)
}

/// The server statement a client statement's command goes to: its own
/// (a private one it has, or a new one when the shared statement holds
/// another client statement's cursor), else the shared one.
async fn statement_for(
    conn: &mut PooledConn,
    cursors: &mut HashMap<u32, OpenCursor>,
    id: u32,
    sql: &Bytes,
) -> Result<(u32, Option<OpenCursor>), BackendError> {
    let shared = ensure_prepared(conn, cursors, sql).await?;
    match cursors.remove(&id) {
        Some(own) if own.private => return Ok((shared, Some(own))),
        // executing or resetting the shared statement closes its cursor
        _ => {}
    }
    if busy(cursors, shared, id) {
        let pid = prepare_private(conn, sql).await?;
        let own = OpenCursor {
            backend_id: pid,
            private: true,
            cursor_open: false,
            bound_types: None,
        };
        return Ok((shared, Some(own)));
    }
    Ok((shared, None))
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
    let params = params as usize;
    let types = if params == 0 {
        None
    } else {
        let flag_pos = 10 + params.div_ceil(8);
        let flag = *pkt.get(flag_pos).ok_or("COM_STMT_EXECUTE")?;
        let sent = match flag {
            1 => Some(
                pkt.get(flag_pos + 1..flag_pos + 1 + 2 * params)
                    .ok_or("COM_STMT_EXECUTE")?,
            ),
            _ => None,
        };
        Some(Types {
            sent,
            flag_at: flag_pos,
            marked: &[1],
        })
    };
    Ok(bind_types(
        pkt,
        backend_id,
        types,
        client_types,
        bound_on_conn,
        head,
    ))
}

/// COM_STMT_BULK_EXECUTE flag: parameter types follow the flags.
const BULK_SEND_TYPES: u16 = 128;

/// [`rewrite_execute`] for MariaDB's COM_STMT_BULK_EXECUTE: statement id,
/// 2 bytes of flags, the parameter types when `BULK_SEND_TYPES` is set,
/// then the rows. Types the backend statement lacks are inserted.
pub fn rewrite_bulk(
    pkt: &[u8],
    backend_id: u32,
    params: u16,
    client_types: &mut Option<Vec<u8>>,
    bound_on_conn: &mut Option<Vec<u8>>,
    head: &mut Vec<u8>,
) -> Result<usize, &'static str> {
    let flags = pkt
        .get(5..7)
        .map(|f| u16::from_le_bytes([f[0], f[1]]))
        .ok_or("COM_STMT_BULK_EXECUTE")?;
    let sent = match flags & BULK_SEND_TYPES {
        0 => None,
        _ => Some(
            pkt.get(7..7 + 2 * params as usize)
                .ok_or("COM_STMT_BULK_EXECUTE")?,
        ),
    };
    let marked = (flags | BULK_SEND_TYPES).to_le_bytes();
    let types = Types {
        sent,
        flag_at: 5,
        marked: &marked,
    };
    Ok(bind_types(
        pkt,
        backend_id,
        Some(types),
        client_types,
        bound_on_conn,
        head,
    ))
}

/// Where a request to rewrite carries parameter types.
struct Types<'a> {
    /// The types the request carries, if it does.
    sent: Option<&'a [u8]>,
    /// Where its flag field saying whether types follow starts.
    flag_at: usize,
    /// That field saying they do.
    marked: &'a [u8],
}

/// What [`rewrite_execute`] and [`rewrite_bulk`] share: the head gets the
/// backend's statement id, and, when the request carries no types but the
/// backend statement lacks the client's last ones, `pkt[..flag_at]`, the
/// marked flag field and those types. Returns where the rest of `pkt`
/// starts. Records what the client and the connection have bound.
fn bind_types(
    pkt: &[u8],
    backend_id: u32,
    types: Option<Types>,
    client_types: &mut Option<Vec<u8>>,
    bound_on_conn: &mut Option<Vec<u8>>,
    head: &mut Vec<u8>,
) -> usize {
    head.clear();
    let mut tail = 5;
    match types {
        Some(Types {
            sent: Some(sent), ..
        }) => {
            set_bytes(client_types, sent);
            set_bytes(bound_on_conn, sent);
        }
        Some(Types {
            sent: None,
            flag_at,
            marked,
        }) => {
            if let Some(t) = client_types
                .as_deref()
                .filter(|t| bound_on_conn.as_deref() != Some(*t))
            {
                head.reserve(flag_at + marked.len() + t.len());
                head.extend_from_slice(&pkt[..flag_at]);
                head.extend_from_slice(marked);
                head.extend_from_slice(t);
                set_bytes(bound_on_conn, t);
                tail = flag_at + marked.len();
            }
        }
        None => {}
    }
    if head.is_empty() {
        head.extend_from_slice(&pkt[..5]);
    }
    head[1..5].copy_from_slice(&backend_id.to_le_bytes());
    tail
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

/// COM_STMT_EXECUTE, or COM_STMT_BULK_EXECUTE when `bulk`.
async fn execute(
    s: &mut Session,
    id: u32,
    payload: &[u8],
    bulk: bool,
) -> Result<Next, SessionError> {
    let Some(info) = s.stmts.get(&id) else {
        s.send_error(
            1,
            &SessionError::UnknownStatement(
                id,
                if bulk {
                    "mysqld_stmt_bulk_execute"
                } else {
                    "mysqld_stmt_execute"
                },
            ),
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
    // a private statement of its own (kept: re-executing it closes its
    // cursor), or the shared one (which closes a cursor of its own there)
    let (backend_id, mut private) = match statement_for(&mut conn, &mut s.cursors, id, &sql).await {
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
            repin(s);
            s.send_error(1, &SessionError::Backend(e)).await?;
            return Ok(Next::Continue);
        }
    };
    let wants_cursor = !bulk && payload.get(5).is_some_and(|f| f & CURSOR_FLAGS != 0);
    // the request's head is built in the session's reused buffer; the
    // parameters are sent from the client's packet as they are
    let mut request = std::mem::take(&mut s.scratch);
    let rewrite = if bulk { rewrite_bulk } else { rewrite_execute };
    let rewritten = match (
        s.stmts.get_mut(&id),
        conn.prepared.get_mut(&sql),
        &mut private,
    ) {
        (Some(info), _, Some(p)) => rewrite(
            payload,
            p.backend_id,
            info.params,
            &mut info.types,
            &mut p.bound_types,
            &mut request,
        ),
        (Some(info), Some(on_conn), None) => rewrite(
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
            if let Some(p) = private {
                // nothing ran on it: it stays the statement's own
                s.cursors.insert(id, p);
            }
            s.check_in(conn);
            s.send_error(1, &SessionError::Malformed(what)).await?;
            return Ok(Next::Continue);
        }
    };
    s.ctx.stats.queries.fetch_add(1, Ordering::Relaxed);
    let parts: [&[u8]; 2] = [&request, &payload[tail..]];
    let done = s
        .execute_on(
            conn,
            was_held,
            &parts,
            ResponseKind::Execute,
            None,
            class.kind.may_write(),
        )
        .await;
    s.scratch = request;
    let Some((summary, mut conn)) = done? else {
        return Ok(Next::Continue);
    };
    let cursor_open = wants_cursor
        && summary
            .status
            .is_some_and(|st| st & status::CURSOR_EXISTS != 0);
    match (cursor_open, private) {
        (true, Some(mut p)) => {
            p.cursor_open = true;
            s.cursors.insert(id, p);
        }
        (true, None) => {
            s.cursors.insert(
                id,
                OpenCursor {
                    backend_id,
                    private: false,
                    cursor_open: true,
                    bound_types: None,
                },
            );
        }
        (false, Some(p)) => {
            conn.io.queue(0, &close_packet(p.backend_id));
        }
        (false, None) => {}
    }
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
    repin(s);
    after_statement(s, conn, &summary, &class.effects).await;
    Ok(Next::Continue)
}

async fn fetch(s: &mut Session, id: u32, payload: &[u8]) -> Result<Next, SessionError> {
    let backend_id = s
        .cursors
        .get(&id)
        .filter(|c| c.cursor_open)
        .map(|c| c.backend_id);
    let (Some(backend_id), true, true) = (backend_id, s.binding.is_held(), payload.len() >= 9)
    else {
        s.send_error(1, &SessionError::UnknownStatement(id, "mysqld_stmt_fetch"))
            .await?;
        return Ok(Next::Continue);
    };
    let mut request = payload.to_vec();
    request[1..5].copy_from_slice(&backend_id.to_le_bytes());
    let Some((summary, mut conn)) = s.execute_with(&request, ResponseKind::Fetch, None).await?
    else {
        return Ok(Next::Continue);
    };
    if summary.error.is_some()
        || summary
            .status
            .is_some_and(|st| st & status::LAST_ROW_SENT != 0)
    {
        // the server closed the cursor
        if let Some(c) = s.cursors.remove(&id).filter(|c| c.private) {
            conn.io.queue(0, &close_packet(c.backend_id));
        }
        repin(s);
    }
    after_statement(s, conn, &summary, &Effects::default()).await;
    Ok(Next::Continue)
}

/// The session stays on its connection while any cursor is open.
fn repin(s: &mut Session) {
    let any_cursor = s.cursors.values().any(|c| c.cursor_open);
    s.pin(Pin::Cursor, any_cursor);
}

/// What client statement `id` held goes with it (the client closed the
/// statement): a private server statement is closed, a cursor on the
/// shared one is closed by a reset, which keeps the statement prepared.
async fn end_cursor(s: &mut Session, id: u32) {
    let Some(c) = s.cursors.remove(&id) else {
        return;
    };
    repin(s);
    let Some(mut conn) = s.binding.take() else {
        return;
    };
    if c.private {
        conn.io.queue(0, &close_packet(c.backend_id));
    } else {
        let mut request = vec![com::STMT_RESET];
        request.extend_from_slice(&c.backend_id.to_le_bytes());
        if internal::command(&mut conn, &request, ResponseKind::Single)
            .await
            .is_err()
        {
            drop(conn);
            s.lose_backend();
            return;
        }
    }
    s.check_in(conn);
}

/// Prepares `sql` on `conn` as a statement of one cursor's own, outside
/// the connection's statements by text; returns its id there.
async fn prepare_private(conn: &mut PooledConn, sql: &Bytes) -> Result<u32, BackendError> {
    let mut payload = Vec::with_capacity(sql.len() + 1);
    payload.push(com::STMT_PREPARE);
    payload.extend_from_slice(sql);
    let res = internal::command(conn, &payload, ResponseKind::Prepare).await?;
    res.prepared_id.ok_or_else(|| BackendError::Unexpected {
        addr: conn.addr.to_string(),
        what: "prepare answered without a statement id",
    })
}

async fn send_long_data(s: &mut Session, id: u32, payload: &[u8]) -> Result<(), SessionError> {
    let Some(info) = s.stmts.get(&id).cloned() else {
        return Ok(()); // no response to this command, errors surface at execute
    };
    // where the execute will run (a write goes to the primary even when
    // the session lingers on a replica after a read)
    let Ok(Placed { mut conn, .. }) = s.place(&info.class, true).await else {
        return Ok(());
    };
    let Ok(shared) = ensure_prepared(&mut conn, &mut s.cursors, &info.sql).await else {
        s.check_in(conn);
        return Ok(());
    };
    // the statement the execute will use: the statement's own, or a new
    // one of its own when the shared one holds another statement's cursor
    let own = s
        .cursors
        .get(&id)
        .filter(|c| c.private)
        .map(|c| c.backend_id);
    let backend_id = match own {
        Some(b) => b,
        None if busy(&s.cursors, shared, id) => {
            let Ok(pid) = prepare_private(&mut conn, &info.sql).await else {
                s.check_in(conn);
                return Ok(());
            };
            let cursor_open = s.cursors.remove(&id).is_some_and(|c| c.cursor_open);
            s.cursors.insert(
                id,
                OpenCursor {
                    backend_id: pid,
                    private: true,
                    cursor_open,
                    bound_types: None,
                },
            );
            pid
        }
        None => shared,
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
    // the statement that holds something for this one: its own, the one
    // of its cursor, or the shared one when long data was sent there (not
    // when that one holds another statement's cursor)
    let own = s.cursors.remove(&id);
    let backend_id = match &own {
        Some(c) => Some(c.backend_id),
        None if s.binding.has(Pin::LongData) => s
            .binding
            .held()
            .and_then(|c| c.prepared.id_of(&info.sql))
            .filter(|b| !busy(&s.cursors, *b, id)),
        None => None,
    };
    match backend_id {
        Some(bid) => {
            let mut request = vec![com::STMT_RESET];
            request.extend_from_slice(&bid.to_le_bytes());
            let done = s.execute_with(&request, ResponseKind::Single, None).await;
            repin(s);
            let Some((summary, mut conn)) = done? else {
                return Ok(Next::Continue);
            };
            if let Some(c) = own.filter(|c| c.private) {
                conn.io.queue(0, &close_packet(c.backend_id));
            }
            s.pin(Pin::LongData, false);
            after_statement(s, conn, &summary, &Effects::default()).await;
        }
        None => {
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
    fn bulk_rewrite_sets_id_and_replays_types() {
        // bulk execute of stmt 7: flags SEND_TYPES, 1 param LONG, 2 rows
        let first = [0xfa, 7, 0, 0, 0, 128, 0, 3, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0];
        let mut i = info(1);
        let mut bound = None;
        let mut head = Vec::new();
        let tail = rewrite_bulk(&first, 42, 1, &mut i.types, &mut bound, &mut head).unwrap();
        let out = [&head[..], &first[tail..]].concat();
        assert_eq!(&out[1..5], &42u32.to_le_bytes());
        assert_eq!(&out[5..], &first[5..]);
        assert_eq!(i.types.as_deref(), Some(&[3u8, 0][..]));
        // without types, on a connection that has not got them: inserted
        let second = [0xfa, 7, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0];
        let mut other = None;
        let tail = rewrite_bulk(&second, 5, 1, &mut i.types, &mut other, &mut head).unwrap();
        let out = [&head[..], &second[tail..]].concat();
        assert_eq!(&out[1..5], &5u32.to_le_bytes());
        assert_eq!(u16::from_le_bytes([out[5], out[6]]), BULK_SEND_TYPES);
        assert_eq!(&out[7..9], &[3, 0]);
        assert_eq!(&out[9..], &second[7..]);
        assert_eq!(other.as_deref(), Some(&[3u8, 0][..]));
        // the same connection again: only the id changes
        let tail = rewrite_bulk(&second, 5, 1, &mut i.types, &mut other, &mut head).unwrap();
        assert_eq!([&head[..], &second[tail..]].concat().len(), second.len());
        // truncated packets are refused
        assert!(rewrite_bulk(
            &[0xfa, 7, 0, 0, 0],
            1,
            1,
            &mut i.types,
            &mut None,
            &mut head
        )
        .is_err());
        assert!(rewrite_bulk(
            &[0xfa, 7, 0, 0, 0, 128, 0, 3],
            1,
            1,
            &mut None,
            &mut None,
            &mut head
        )
        .is_err());
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
