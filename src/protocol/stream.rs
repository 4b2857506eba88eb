//! Problem: to stream a response without buffering it, sqlyard must know
//! where it ends, packet by packet, while looking at as few bytes as
//! possible. [`ResponseTracker`] is that state machine: it is fed packet
//! headers plus (only where needed) the packet body, and says when the
//! response is complete and which packets are terminators worth parsing.

use super::codec::MAX_PAYLOAD;
use super::constants::status;

/// Which command the response answers; the shapes differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// COM_QUERY: OK | ERR | LOCAL INFILE request | result sets, possibly several.
    Query,
    /// COM_STMT_EXECUTE: like a query but binary rows and no LOCAL INFILE.
    Execute,
    /// COM_STMT_FETCH: rows then a terminator.
    Fetch,
    /// COM_STMT_PREPARE: prepare-OK, parameter and column definitions.
    Prepare,
    /// COM_FIELD_LIST: column definitions then a terminator.
    FieldList,
    /// Exactly one packet (OK/ERR, or the COM_STATISTICS string).
    Single,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Columns(u64),
    ColumnsEof,
    Rows,
    PrepParams { params: u64, cols: u64 },
    PrepParamsEof { cols: u64 },
    PrepCols(u64),
    PrepColsEof,
    FieldDefs,
    AfterInfile,
    Done,
}

/// What a packet turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketRole {
    /// Data to pass through (rows, definitions, continuations).
    Data,
    /// An OK packet (header 0x00, or 0xFE terminator with DEPRECATE_EOF).
    Ok,
    /// A classic EOF packet.
    Eof,
    /// An ERR packet; the response is over.
    Err,
    /// The server asks for a LOCAL INFILE upload.
    LocalInfile,
    /// The COM_STMT_PREPARE OK packet (carries the statement id).
    PrepareOk,
}

/// Tracks one response to one command.
#[derive(Debug, Clone)]
pub struct ResponseTracker {
    kind: ResponseKind,
    state: State,
    deprecate_eof: bool,
    continuation: bool,
    rows: u64,
}

impl ResponseTracker {
    pub fn new(kind: ResponseKind, deprecate_eof: bool) -> Self {
        let state = match kind {
            ResponseKind::Fetch => State::Rows,
            ResponseKind::FieldList => State::FieldDefs,
            _ => State::Start,
        };
        ResponseTracker {
            kind,
            state,
            deprecate_eof,
            continuation: false,
            rows: 0,
        }
    }

    /// Rows seen so far (all result sets).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// True once the whole response has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the body of a packet with this length and first byte must be
    /// seen whole before [`ResponseTracker::on_packet`] (terminators and
    /// metadata are small; rows are not inspected beyond their first byte).
    pub fn needs_body(&self, len: usize, first: u8) -> bool {
        if self.continuation {
            return false;
        }
        match self.state {
            State::Rows => is_row_terminator(self.deprecate_eof, len, first),
            State::Columns(_) | State::PrepParams { .. } | State::PrepCols(_) => false,
            State::FieldDefs => first == 0xff || (first == 0xfe && len < 0xff_ffff),
            _ => true,
        }
    }

    /// Feeds one physical packet. `body` is the whole payload when
    /// [`needs_body`](Self::needs_body) said so, otherwise at least its first
    /// byte (or empty for an empty packet). Returns the packet's role, and a
    /// status word for terminators (OK/EOF). Unexpected input ends the
    /// response with `Err(reason)`.
    pub fn on_packet(&mut self, len: usize, body: &[u8]) -> Result<PacketRole, &'static str> {
        if self.continuation {
            self.continuation = len == MAX_PAYLOAD;
            return Ok(PacketRole::Data);
        }
        self.continuation = len == MAX_PAYLOAD;
        let first = body.first().copied();
        if is_progress(body)
            && matches!(self.state, State::Start | State::AfterInfile | State::Rows)
        {
            // A MariaDB progress report (CLIENT_PROGRESS): the statement is
            // still running; the client shows it and reads on.
            return Ok(PacketRole::Data);
        }
        match self.state {
            State::Done => Err("data after the end of a response"),
            State::Start | State::AfterInfile => match first {
                Some(0x00) if self.kind == ResponseKind::Prepare => {
                    let (cols, params) = prepare_counts(body).ok_or("short prepare-OK packet")?;
                    self.state = State::PrepParams { params, cols };
                    self.advance_prepare();
                    Ok(PacketRole::PrepareOk)
                }
                Some(0x00) if self.kind != ResponseKind::Single || len < 0xff_ffff => {
                    self.after_terminator(ok_status(body));
                    Ok(PacketRole::Ok)
                }
                Some(0xff) => {
                    self.state = State::Done;
                    Ok(PacketRole::Err)
                }
                _ if self.kind == ResponseKind::Single => {
                    self.state = State::Done;
                    Ok(PacketRole::Data)
                }
                Some(0xfb) if self.kind == ResponseKind::Query && self.state == State::Start => {
                    self.state = State::AfterInfile;
                    Ok(PacketRole::LocalInfile)
                }
                Some(_) => {
                    let mut b = body;
                    let n = super::lenenc::read_int(&mut b).ok_or("bad column count")?;
                    if n == 0 {
                        return Err("zero column count");
                    }
                    self.state = State::Columns(n);
                    Ok(PacketRole::Data)
                }
                None => Err("empty response packet"),
            },
            State::Columns(n) => {
                self.state = if n > 1 {
                    State::Columns(n - 1)
                } else if self.deprecate_eof {
                    State::Rows
                } else {
                    State::ColumnsEof
                };
                Ok(PacketRole::Data)
            }
            State::ColumnsEof => match first {
                Some(0xfe) => {
                    let st = eof_status(body);
                    // A cursor was opened: no rows follow now.
                    self.state = if st & status::CURSOR_EXISTS != 0 {
                        State::Done
                    } else {
                        State::Rows
                    };
                    Ok(PacketRole::Eof)
                }
                Some(0xff) => {
                    self.state = State::Done;
                    Ok(PacketRole::Err)
                }
                _ => Err("expected EOF after column definitions"),
            },
            State::Rows => {
                if first == Some(0xff) {
                    self.state = State::Done;
                    return Ok(PacketRole::Err);
                }
                if let Some(f) = first {
                    if is_row_terminator(self.deprecate_eof, len, f) {
                        return Ok(self.terminator(body));
                    }
                }
                self.rows += 1;
                Ok(PacketRole::Data)
            }
            State::PrepParams { params, cols } => {
                self.state = State::PrepParams {
                    params: params.saturating_sub(1),
                    cols,
                };
                if params <= 1 {
                    self.state = if self.deprecate_eof {
                        State::PrepCols(cols)
                    } else {
                        State::PrepParamsEof { cols }
                    };
                    if self.deprecate_eof && cols == 0 {
                        self.state = State::Done;
                    }
                }
                Ok(PacketRole::Data)
            }
            State::PrepParamsEof { cols } => {
                if first != Some(0xfe) {
                    return Err("expected EOF after parameter definitions");
                }
                self.state = State::PrepCols(cols);
                if cols == 0 {
                    self.state = State::Done;
                }
                Ok(PacketRole::Eof)
            }
            State::PrepCols(n) => {
                self.state = if n > 1 {
                    State::PrepCols(n - 1)
                } else if self.deprecate_eof {
                    State::Done
                } else {
                    State::PrepColsEof
                };
                Ok(PacketRole::Data)
            }
            State::PrepColsEof => {
                if first != Some(0xfe) {
                    return Err("expected EOF after column definitions");
                }
                self.state = State::Done;
                Ok(PacketRole::Eof)
            }
            State::FieldDefs => match first {
                Some(0xff) => {
                    self.state = State::Done;
                    Ok(PacketRole::Err)
                }
                Some(0xfe) if len < 0xff_ffff => {
                    self.state = State::Done;
                    Ok(if self.deprecate_eof {
                        PacketRole::Ok
                    } else {
                        PacketRole::Eof
                    })
                }
                _ => Ok(PacketRole::Data),
            },
        }
    }

    fn advance_prepare(&mut self) {
        if let State::PrepParams { params: 0, cols } = self.state {
            self.state = if cols == 0 {
                State::Done
            } else {
                State::PrepCols(cols)
            };
        }
    }

    fn terminator(&mut self, body: &[u8]) -> PacketRole {
        if self.deprecate_eof {
            self.after_terminator(ok_status(body));
            PacketRole::Ok
        } else {
            self.after_terminator(eof_status(body));
            PacketRole::Eof
        }
    }

    fn after_terminator(&mut self, st: u16) {
        let more = st & status::MORE_RESULTS_EXISTS != 0
            && matches!(self.kind, ResponseKind::Query | ResponseKind::Execute);
        self.state = if more { State::Start } else { State::Done };
    }
}

/// A row never starts with 0xFE unless it is huge; a classic EOF is shorter
/// than 9 bytes, a DEPRECATE_EOF terminator shorter than 16 MiB.
#[inline]
fn is_row_terminator(deprecate_eof: bool, len: usize, first: u8) -> bool {
    first == 0xff || (first == 0xfe && len < if deprecate_eof { 0xff_ffff } else { 9 })
}

/// A MariaDB progress report: an ERR header with error code 0xFFFF, sent
/// while a long statement (ALTER TABLE, LOAD DATA, CHECK TABLE) runs, only
/// to clients that negotiated MARIADB_CLIENT_PROGRESS.
#[inline]
fn is_progress(body: &[u8]) -> bool {
    body.len() > 3 && body[..3] == [0xff, 0xff, 0xff]
}

fn prepare_counts(body: &[u8]) -> Option<(u64, u64)> {
    if body.len() < 9 {
        return None;
    }
    let cols = u16::from_le_bytes([body[5], body[6]]) as u64;
    let params = u16::from_le_bytes([body[7], body[8]]) as u64;
    Some((cols, params))
}

/// Status word of an OK packet body (0 if unparsable).
pub fn ok_status(body: &[u8]) -> u16 {
    super::response::parse_ok(body, false).map_or(0, |o| o.status)
}

fn eof_status(body: &[u8]) -> u16 {
    super::response::parse_eof(body).map_or(0, |(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::{eof_payload, ok_payload};

    fn feed(t: &mut ResponseTracker, p: &[u8]) -> PacketRole {
        t.on_packet(p.len(), p).unwrap()
    }

    #[test]
    fn progress_reports_do_not_end_a_response() {
        // stage 1 of 2, 50.000%, "copy to tmp table"
        let mut progress = vec![0xff, 0xff, 0xff, 1, 1, 2, 0x50, 0xc3, 0x00];
        progress.push(17);
        progress.extend_from_slice(b"copy to tmp table");
        let mut t = ResponseTracker::new(ResponseKind::Query, true);
        assert_eq!(feed(&mut t, &progress), PacketRole::Data);
        assert!(!t.is_done());
        assert_eq!(feed(&mut t, &progress), PacketRole::Data);
        assert_eq!(feed(&mut t, &ok_payload(3, 0, 2, 0)), PacketRole::Ok);
        assert!(t.is_done());
        // CHECK TABLE: reports come after the column definitions
        let mut t = ResponseTracker::new(ResponseKind::Query, true);
        feed(&mut t, &[1]);
        feed(&mut t, b"column");
        assert_eq!(feed(&mut t, &progress), PacketRole::Data);
        assert_eq!(t.rows(), 0);
        assert_eq!(feed(&mut t, &[1, b'x']), PacketRole::Data);
        assert_eq!(feed(&mut t, &[0xfe, 0, 0, 2, 0, 0, 0]), PacketRole::Ok);
        assert!(t.is_done());
        // a real error still ends it
        let mut t = ResponseTracker::new(ResponseKind::Query, true);
        assert_eq!(feed(&mut t, &[0xff, 0x15, 0x04, b'#']), PacketRole::Err);
        assert!(t.is_done());
    }

    #[test]
    fn simple_ok() {
        let mut t = ResponseTracker::new(ResponseKind::Query, false);
        assert_eq!(feed(&mut t, &ok_payload(1, 0, 2, 0)), PacketRole::Ok);
        assert!(t.is_done());
    }

    #[test]
    fn result_set_classic_eof_then_more_results() {
        let mut t = ResponseTracker::new(ResponseKind::Query, false);
        feed(&mut t, &[2]);
        feed(&mut t, b"\x03defcol1");
        feed(&mut t, b"\x03defcol2");
        assert_eq!(feed(&mut t, &eof_payload(false, 2, 0)), PacketRole::Eof);
        assert!(!t.needs_body(10, 1));
        assert_eq!(feed(&mut t, &[1, b'a', 1, b'b']), PacketRole::Data);
        // row whose first column starts with 0xFE (8-byte length) but is long
        assert!(!t.needs_body(20, 0xfe));
        let more = eof_payload(false, 2 | status::MORE_RESULTS_EXISTS, 0);
        assert_eq!(feed(&mut t, &more), PacketRole::Eof);
        assert!(!t.is_done());
        // second result: OK from CALL
        assert_eq!(feed(&mut t, &ok_payload(0, 0, 2, 0)), PacketRole::Ok);
        assert!(t.is_done());
    }

    #[test]
    fn deprecate_eof_result() {
        let mut t = ResponseTracker::new(ResponseKind::Query, true);
        feed(&mut t, &[1]);
        feed(&mut t, b"\x03def");
        feed(&mut t, &[1, b'x']);
        assert_eq!(feed(&mut t, &eof_payload(true, 2, 0)), PacketRole::Ok);
        assert!(t.is_done());
    }

    #[test]
    fn error_mid_rows() {
        let mut t = ResponseTracker::new(ResponseKind::Query, true);
        feed(&mut t, &[1]);
        feed(&mut t, b"\x03def");
        assert_eq!(feed(&mut t, &[0xff, 0x1d, 0x05]), PacketRole::Err);
        assert!(t.is_done());
    }

    #[test]
    fn prepare_response() {
        // stmt id 1, 2 columns, 1 param
        let ok = [0u8, 1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0];
        let mut t = ResponseTracker::new(ResponseKind::Prepare, false);
        assert_eq!(feed(&mut t, &ok), PacketRole::PrepareOk);
        feed(&mut t, b"\x03defp");
        feed(&mut t, &eof_payload(false, 2, 0));
        feed(&mut t, b"\x03defa");
        feed(&mut t, b"\x03defb");
        assert!(!t.is_done());
        feed(&mut t, &eof_payload(false, 2, 0));
        assert!(t.is_done());
        // no params, no columns
        let ok = [0u8, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut t = ResponseTracker::new(ResponseKind::Prepare, false);
        feed(&mut t, &ok);
        assert!(t.is_done());
    }

    #[test]
    fn continuation_packets_are_not_inspected() {
        let mut t = ResponseTracker::new(ResponseKind::Query, true);
        feed(&mut t, &[1]);
        feed(&mut t, b"\x03def");
        assert_eq!(t.on_packet(MAX_PAYLOAD, &[0xfe]).unwrap(), PacketRole::Data);
        // continuation starts with 0xFE and is short: still data
        assert!(!t.needs_body(5, 0xfe));
        assert_eq!(t.on_packet(5, &[0xfe]).unwrap(), PacketRole::Data);
        assert!(t.needs_body(7, 0xfe));
    }

    #[test]
    fn local_infile() {
        let mut t = ResponseTracker::new(ResponseKind::Query, false);
        assert_eq!(feed(&mut t, b"\xfb/tmp/x"), PacketRole::LocalInfile);
        assert_eq!(feed(&mut t, &ok_payload(3, 0, 2, 0)), PacketRole::Ok);
        assert!(t.is_done());
    }
}
