//! Problem: sqlyard itself runs a few statements on backend connections
//! (state sync, tracking setup, reading user variables). Their small
//! responses are read whole here, with the same boundary tracker as the
//! relay, and never reach a client.

use super::conn::BackendConn;
use super::error::BackendError;
use crate::protocol::constants::com;
use crate::protocol::response::{parse_eof, parse_err, parse_ok, session_changes, StateChange};
use crate::protocol::stream::{PacketRole, ResponseKind, ResponseTracker};

/// A small, fully read result.
#[derive(Debug, Default)]
pub struct InternalResult {
    /// (type, charset) of each column.
    pub columns: Vec<(u8, u16)>,
    /// Text-protocol rows; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
    pub status: u16,
    pub warnings: u16,
    pub affected_rows: u64,
    /// System variables reported changed by session tracking.
    pub changed_vars: Vec<(String, String)>,
    /// Statement id of a COM_STMT_PREPARE response.
    pub prepared_id: Option<u32>,
}

/// Runs a statement and returns its result; an ERR becomes `BackendError::Server`.
pub async fn execute(conn: &mut BackendConn, sql: &str) -> Result<InternalResult, BackendError> {
    let mut payload = Vec::with_capacity(sql.len() + 1);
    payload.push(com::QUERY);
    payload.extend_from_slice(sql.as_bytes());
    command(conn, &payload, ResponseKind::Query).await
}

/// Sends one command packet and reads its whole response.
pub async fn command(
    conn: &mut BackendConn,
    payload: &[u8],
    kind: ResponseKind,
) -> Result<InternalResult, BackendError> {
    let addr = conn.addr.to_string();
    let perr = |source| BackendError::Protocol {
        addr: addr.clone(),
        source,
    };
    conn.io.send(0, payload).await.map_err(perr)?;
    let deprecate_eof = conn.deprecate_eof();
    let mut tracker = ResponseTracker::new(kind, deprecate_eof);
    let mut out = InternalResult::default();
    // 0: expecting a column count, 1: column definitions, 2: rows
    let mut phase = 0u8;
    let mut expected = 0usize;
    let mut error = None;
    while !tracker.is_done() {
        let pkt = conn.io.read_packet().await.map_err(perr)?;
        let body = &pkt.payload[..];
        let role =
            tracker
                .on_packet(body.len(), body)
                .map_err(|what| BackendError::Unexpected {
                    addr: addr.clone(),
                    what,
                })?;
        match role {
            PacketRole::Ok => {
                if let Some(ok) = parse_ok(body, true) {
                    out.status = ok.status;
                    out.warnings = ok.warnings;
                    out.affected_rows = ok.affected_rows;
                    for c in session_changes(ok.session_state) {
                        if let StateChange::SystemVariable { name, value } = c {
                            out.changed_vars.push((
                                String::from_utf8_lossy(name).to_ascii_lowercase(),
                                String::from_utf8_lossy(value).into_owned(),
                            ));
                        }
                    }
                }
                phase = 0;
            }
            PacketRole::Eof => {
                if let Some((w, s)) = parse_eof(body) {
                    out.warnings = w;
                    out.status = s;
                }
                phase = if phase == 1 { 2 } else { 0 };
            }
            PacketRole::Err => error = parse_err(body),
            PacketRole::LocalInfile => {
                // never expected from our own statements: refuse the upload
                conn.io
                    .send(pkt.seq.wrapping_add(1), &[])
                    .await
                    .map_err(perr)?;
            }
            PacketRole::PrepareOk => {
                if body.len() >= 9 {
                    out.prepared_id =
                        Some(u32::from_le_bytes([body[1], body[2], body[3], body[4]]));
                }
            }
            PacketRole::Data => match phase {
                0 => {
                    let mut b = body;
                    expected = crate::protocol::lenenc::read_int(&mut b).unwrap_or(0) as usize;
                    out.columns.clear();
                    phase = 1;
                }
                1 => {
                    out.columns.push(column_type(body));
                    if deprecate_eof && out.columns.len() >= expected {
                        phase = 2;
                    }
                }
                _ => out.rows.push(parse_text_row(body, out.columns.len())),
            },
        }
    }
    match error {
        Some(err) => Err(BackendError::Server { addr, err }),
        None => Ok(out),
    }
}

/// (type, charset) from a column definition packet.
fn column_type(def: &[u8]) -> (u8, u16) {
    let mut b = def;
    for _ in 0..6 {
        if crate::protocol::lenenc::read_bytes(&mut b).is_none() {
            return (0xfd, 0);
        }
    }
    // fixed-length block: 0x0c, charset(2), length(4), type(1)
    if b.len() >= 8 {
        (b[7], u16::from_le_bytes([b[1], b[2]]))
    } else {
        (0xfd, 0)
    }
}

fn parse_text_row(mut b: &[u8], n: usize) -> Vec<Option<Vec<u8>>> {
    let mut row = Vec::with_capacity(n);
    while !b.is_empty() {
        if b[0] == 0xfb {
            row.push(None);
            b = &b[1..];
        } else if let Some(v) = crate::protocol::lenenc::read_bytes(&mut b) {
            row.push(Some(v.to_vec()));
        } else {
            break;
        }
    }
    row
}
