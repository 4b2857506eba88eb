//! Problem: a response must reach the client as it arrives, without
//! buffering whole result sets, while sqlyard still learns what it needs
//! from it (end of response, status flags, session-state changes, errors).
//! The relay scans packet headers in the backend's read buffer, inspects
//! only metadata and terminator packets, and forwards everything else in
//! large chunks. A slow client slows the backend read (backpressure).

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::BackendConn;
use super::error::BackendError;
use crate::protocol::codec::header;
use crate::protocol::constants::status;
use crate::protocol::response::{
    parse_eof, parse_err, parse_ok, session_changes, strip_session_state, ErrInfo, OkInfo,
    StateChange,
};
use crate::protocol::stream::{PacketRole, ResponseKind, ResponseTracker};
use crate::protocol::{PacketIo, ProtocolError};

/// Information from a COM_STMT_PREPARE response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepareInfo {
    pub stmt_id: u32,
    pub columns: u16,
    pub params: u16,
}

/// What a relayed response told sqlyard.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Status flags of the last OK/EOF (None if the response ended in ERR).
    pub status: Option<u16>,
    pub warnings: u16,
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub error: Option<ErrInfo>,
    pub result_sets: u32,
    /// Rows sent to the client (all result sets).
    pub rows: u64,
    pub sysvars: Vec<(String, String)>,
    pub schema: Option<String>,
    pub state_changed: bool,
    pub gtids: Option<String>,
    pub prepare: Option<PrepareInfo>,
    pub bytes: u64,
}

impl Summary {
    /// Records what an OK packet says; returns it parsed (for the relay,
    /// which may strip its session-state block without parsing it again).
    pub fn absorb_ok<'a>(&mut self, body: &'a [u8]) -> Option<OkInfo<'a>> {
        let ok = parse_ok(body, true)?;
        self.status = Some(ok.status);
        self.warnings = ok.warnings;
        self.affected_rows = ok.affected_rows;
        if ok.last_insert_id != 0 {
            self.last_insert_id = ok.last_insert_id;
        }
        for c in session_changes(ok.session_state) {
            match c {
                StateChange::SystemVariable { name, value } => self.sysvars.push((
                    String::from_utf8_lossy(name).to_ascii_lowercase(),
                    String::from_utf8_lossy(value).into_owned(),
                )),
                StateChange::Schema(s) => {
                    self.schema = Some(String::from_utf8_lossy(s).into_owned())
                }
                StateChange::StateChanged => self.state_changed = true,
                StateChange::Gtids(g) => self.gtids = Some(String::from_utf8_lossy(g).into_owned()),
                _ => {}
            }
        }
        Some(ok)
    }

    /// The response ended in a committed result set that reported no
    /// GTID: a write that returns rows (`... RETURNING`, a procedure)
    /// answered a client without CLIENT_DEPRECATE_EOF, whose EOF packet
    /// has no room for session tracking.
    fn committed_rows_without_gtid(&self) -> bool {
        self.result_sets > 0
            && self.error.is_none()
            && self.status.is_some_and(|st| st & status::IN_TRANS == 0)
            && self.gtids.is_none()
            && !self.sysvars.iter().any(|(k, _)| k == "last_gtid")
    }
}

/// Asks the server for the GTID of the write it just committed on `conn`
/// (MariaDB `@@last_gtid`; MySQL has no per-session variable, so its whole
/// `gtid_executed`, which contains the write) and adds it to `summary` as
/// session tracking would have. Neither statement uses a table, so the
/// connection's warnings stay for a `SHOW WARNINGS` that follows.
async fn ask_gtid(conn: &mut BackendConn, summary: &mut Summary) -> Result<(), BackendError> {
    let maria = super::conn::is_mariadb(&conn.server_version);
    let sql = if maria {
        "SELECT @@last_gtid"
    } else {
        "SELECT @@global.gtid_executed"
    };
    let answer = super::internal::execute(conn, sql).await?;
    let value = answer
        .rows
        .first()
        .and_then(|row| row.first())
        .and_then(|v| v.as_deref())
        .map(|v| String::from_utf8_lossy(v).into_owned());
    match value {
        Some(v) if maria => summary.sysvars.push(("last_gtid".to_string(), v)),
        Some(v) => summary.gtids = Some(v),
        None => {}
    }
    Ok(())
}

/// Why a relay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The backend failed; the connection must be discarded.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The client went away or sent garbage; the backend connection must
    /// be discarded because its response was not fully read.
    #[error("client: {0}")]
    Client(ProtocolError),
}

enum Scan {
    NeedMore(usize),
    Done,
    Rewrite {
        start: usize,
        end: usize,
        seq: u8,
        payload: Vec<u8>,
    },
    LocalInfile {
        end: usize,
    },
}

/// How the relay adapts a response for the client.
#[derive(Debug, Clone, Copy, Default)]
pub struct RelayOpts {
    /// The client did not negotiate CLIENT_SESSION_TRACK: drop state blocks.
    pub strip_state: bool,
    /// The statement id the client sees, put into a prepare-OK packet in
    /// place of the server's.
    pub client_stmt_id: Option<u32>,
    /// The statement may write: if it returns rows and commits without
    /// reporting a GTID, ask the server for it before the client has its
    /// answer (read-your-writes).
    pub may_write: bool,
}

/// Relays the response to the command just sent on `conn` to `client`.
/// `on_done` sees the whole response's summary before its last packet
/// leaves for the client: what the client may act on once it has its
/// answer (the GTID of its write, for its next reads on any connection)
/// is recorded by then.
pub async fn relay<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BackendConn,
    client: &mut PacketIo<S>,
    kind: ResponseKind,
    opts: RelayOpts,
    on_done: impl FnOnce(&Summary),
) -> Result<Summary, RelayError> {
    let mut on_done = Some(on_done);
    let mut tracker = ResponseTracker::new(kind, conn.deprecate_eof());
    let mut summary = Summary::default();
    let mut pos = 0usize;
    let mut skip = 0usize;
    let addr = conn.addr.clone();
    let berr = |source| {
        RelayError::Backend(BackendError::Protocol {
            addr: addr.to_string(),
            source,
        })
    };
    loop {
        let scan = scan(
            conn.io.rbuf(),
            &mut pos,
            &mut skip,
            &mut tracker,
            &mut summary,
            opts,
        )
        .map_err(|what| {
            RelayError::Backend(BackendError::Unexpected {
                addr: addr.to_string(),
                what,
            })
        })?;
        match scan {
            Scan::Done => {
                forward(conn, client, pos, &mut summary);
                summary.rows = tracker.rows();
                if opts.may_write && summary.committed_rows_without_gtid() {
                    ask_gtid(conn, &mut summary).await?;
                }
                if let Some(f) = on_done.take() {
                    f(&summary);
                }
                client.flush().await.map_err(RelayError::Client)?;
                return Ok(summary);
            }
            Scan::Rewrite {
                start,
                end,
                seq,
                payload,
            } => {
                forward(conn, client, start, &mut summary);
                client.queue(seq, &payload);
                conn.io.rbuf().advance(end - start);
                pos = 0;
            }
            Scan::LocalInfile { end } => {
                forward(conn, client, end, &mut summary);
                pos = 0;
                client.flush().await.map_err(RelayError::Client)?;
                upload_local_file(conn, client).await?;
            }
            Scan::NeedMore(want) => {
                forward(conn, client, pos, &mut summary);
                pos = 0;
                client.flush().await.map_err(RelayError::Client)?;
                let rbuf = conn.io.rbuf();
                if want > rbuf.capacity() - rbuf.len() {
                    rbuf.reserve(want);
                }
                if conn.io.fill().await.map_err(berr)? == 0 {
                    return Err(RelayError::Backend(BackendError::Protocol {
                        addr: addr.to_string(),
                        source: ProtocolError::Closed,
                    }));
                }
            }
        }
    }
}

/// What [`relay_buffer`] found in a response held whole in memory.
#[derive(Debug)]
pub struct BufferedRelay {
    pub summary: Summary,
    /// The bytes the client would be sent.
    pub sent: Vec<u8>,
    /// The response stopped before its end (more bytes were needed), or at
    /// a LOCAL INFILE request.
    pub incomplete: bool,
}

/// Relays a response already held whole in `buf`, through the same scanner
/// as [`relay`] but without sockets. The fuzz target and unit tests use it
/// to drive the scanner with any bytes a server could send.
pub fn relay_buffer(
    buf: &[u8],
    kind: ResponseKind,
    deprecate_eof: bool,
    opts: RelayOpts,
) -> Result<BufferedRelay, &'static str> {
    let mut tracker = ResponseTracker::new(kind, deprecate_eof);
    let mut summary = Summary::default();
    let mut sent = Vec::new();
    let mut rest = buf;
    let mut pos = 0usize;
    let mut skip = 0usize;
    loop {
        match scan(rest, &mut pos, &mut skip, &mut tracker, &mut summary, opts)? {
            Scan::Done => {
                sent.extend_from_slice(&rest[..pos]);
                summary.rows = tracker.rows();
                summary.bytes = sent.len() as u64;
                return Ok(BufferedRelay {
                    summary,
                    sent,
                    incomplete: false,
                });
            }
            Scan::Rewrite {
                start,
                end,
                seq,
                payload,
            } => {
                sent.extend_from_slice(&rest[..start]);
                crate::protocol::codec::frame_into(&mut sent, seq, &payload);
                rest = &rest[end..];
                pos = 0;
            }
            Scan::LocalInfile { end } => {
                sent.extend_from_slice(&rest[..end]);
                summary.rows = tracker.rows();
                return Ok(BufferedRelay {
                    summary,
                    sent,
                    incomplete: true,
                });
            }
            Scan::NeedMore(_) => {
                sent.extend_from_slice(&rest[..pos]);
                summary.rows = tracker.rows();
                return Ok(BufferedRelay {
                    summary,
                    sent,
                    incomplete: true,
                });
            }
        }
    }
}

/// Moves the first `n` bytes of the backend buffer to the client's queue.
fn forward<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BackendConn,
    client: &mut PacketIo<S>,
    n: usize,
    summary: &mut Summary,
) {
    if n > 0 {
        let rbuf = conn.io.rbuf();
        client.queue_raw(&rbuf[..n]);
        rbuf.advance(n);
        summary.bytes += n as u64;
    }
}

fn scan(
    buf: &[u8],
    pos: &mut usize,
    skip: &mut usize,
    tracker: &mut ResponseTracker,
    summary: &mut Summary,
    opts: RelayOpts,
) -> Result<Scan, &'static str> {
    loop {
        if *skip > 0 {
            let n = (*skip).min(buf.len() - *pos);
            *pos += n;
            *skip -= n;
            if *skip > 0 {
                return Ok(Scan::NeedMore(0));
            }
        }
        if tracker.is_done() {
            return Ok(Scan::Done);
        }
        let avail = buf.len() - *pos;
        let Some((len, seq)) = header(&buf[*pos..]) else {
            return Ok(Scan::NeedMore(4));
        };
        if len == 0 {
            tracker.on_packet(0, &[])?;
            *pos += 4;
            continue;
        }
        if avail < 5 {
            return Ok(Scan::NeedMore(5));
        }
        let first = buf[*pos + 4];
        if !tracker.needs_body(len, first) {
            let role = tracker.on_packet(len, &buf[*pos + 4..*pos + 5])?;
            if role == PacketRole::Data && first != 0 && summary.result_sets == 0 {
                summary.result_sets = 1;
            }
            *pos += 4;
            *skip = len;
            continue;
        }
        if avail < 4 + len {
            return Ok(Scan::NeedMore(4 + len));
        }
        let start = *pos;
        let body = &buf[start + 4..start + 4 + len];
        let role = tracker.on_packet(len, body)?;
        *pos += 4 + len;
        match role {
            PacketRole::Ok => {
                let ok = summary.absorb_ok(body);
                if opts.strip_state {
                    if let Some(ok) = ok {
                        if ok.status & status::SESSION_STATE_CHANGED != 0 {
                            return Ok(Scan::Rewrite {
                                start,
                                end: *pos,
                                seq,
                                payload: strip_session_state(&ok, body[0]),
                            });
                        }
                    }
                }
            }
            PacketRole::Eof => {
                if let Some((w, s)) = parse_eof(body) {
                    summary.warnings = w;
                    summary.status = Some(s);
                }
            }
            PacketRole::Err => {
                summary.error = parse_err(body);
                summary.status = None;
            }
            PacketRole::LocalInfile => return Ok(Scan::LocalInfile { end: *pos }),
            PacketRole::PrepareOk => {
                if body.len() >= 12 {
                    summary.prepare = Some(PrepareInfo {
                        stmt_id: u32::from_le_bytes([body[1], body[2], body[3], body[4]]),
                        columns: u16::from_le_bytes([body[5], body[6]]),
                        params: u16::from_le_bytes([body[7], body[8]]),
                    });
                    summary.warnings = u16::from_le_bytes([body[10], body[11]]);
                    if let Some(id) = opts.client_stmt_id {
                        let mut payload = body.to_vec();
                        payload[1..5].copy_from_slice(&id.to_le_bytes());
                        return Ok(Scan::Rewrite {
                            start,
                            end: *pos,
                            seq,
                            payload,
                        });
                    }
                }
            }
            PacketRole::Data => {
                summary.result_sets = summary.result_sets.max(1);
            }
        }
    }
}

/// LOCAL INFILE: pass the client's file packets to the server until the
/// empty packet that ends the file.
async fn upload_local_file<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut BackendConn,
    client: &mut PacketIo<S>,
) -> Result<(), RelayError> {
    let addr = conn.addr.clone();
    loop {
        let pkt = client.read_packet().await.map_err(RelayError::Client)?;
        let frags = pkt.payload.len() / crate::protocol::codec::MAX_PAYLOAD;
        let first_seq = pkt.seq.wrapping_sub(frags as u8);
        conn.io.queue(first_seq, &pkt.payload);
        conn.io.flush().await.map_err(|source| {
            RelayError::Backend(BackendError::Protocol {
                addr: addr.to_string(),
                source,
            })
        })?;
        if pkt.payload.is_empty() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::codec::frame_into;

    fn framed(packets: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            frame_into(&mut out, i as u8 + 1, p);
        }
        out
    }

    #[test]
    fn a_buffered_result_set_is_passed_as_it_is() {
        let col =
            b"\x03def\x00\x00\x00\x011\x00\x0c\x3f\x00\x01\x00\x00\x00\x08\x81\x00\x00\x00\x00";
        let eof = b"\xfe\x00\x00\x02\x00";
        let bytes = framed(&[b"\x01", col, eof, b"\x011", b"\x012", eof]);
        let r = relay_buffer(&bytes, ResponseKind::Query, false, RelayOpts::default()).unwrap();
        assert!(!r.incomplete);
        assert_eq!(r.sent, bytes);
        assert_eq!((r.summary.result_sets, r.summary.rows), (1, 2));
        assert_eq!(r.summary.status, Some(2));
        // cut short: incomplete, and only whole packets were passed on
        let r = relay_buffer(
            &bytes[..bytes.len() - 3],
            ResponseKind::Query,
            false,
            RelayOpts::default(),
        )
        .unwrap();
        assert!(r.incomplete);
        assert!(bytes.starts_with(&r.sent));
    }

    #[test]
    fn a_prepare_answer_gets_the_client_statement_id() {
        let ok = b"\x00\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00";
        let bytes = framed(&[ok]);
        let opts = RelayOpts {
            strip_state: false,
            client_stmt_id: Some(9),
            may_write: false,
        };
        let r = relay_buffer(&bytes, ResponseKind::Prepare, false, opts).unwrap();
        assert_eq!(r.summary.prepare.map(|p| p.stmt_id), Some(5));
        assert_eq!(&r.sent[5..9], &9u32.to_le_bytes());
        assert_eq!(r.sent.len(), bytes.len());
    }
}
