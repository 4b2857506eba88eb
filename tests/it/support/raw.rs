//! Test support: a deliberately small MySQL-protocol client written for the
//! tests, for the commands mysql_async never sends (COM_INIT_DB, cursor
//! COM_STMT_FETCH, COM_STMT_EXECUTE of an arbitrary id) and for comparing
//! raw response packets byte for byte. It speaks mysql_native_password
//! only and negotiates no CLIENT_DEPRECATE_EOF unless asked, so the classic
//! EOF-terminated framing is exercised too.

use std::time::Duration;

use sha1::{Digest, Sha1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const LONG_PASSWORD: u32 = 1;
pub const CONNECT_WITH_DB: u32 = 1 << 3;
pub const PROTOCOL_41: u32 = 1 << 9;
pub const TRANSACTIONS: u32 = 1 << 13;
pub const SECURE_CONNECTION: u32 = 1 << 15;
pub const MULTI_STATEMENTS: u32 = 1 << 16;
pub const MULTI_RESULTS: u32 = 1 << 17;
pub const PS_MULTI_RESULTS: u32 = 1 << 18;
pub const PLUGIN_AUTH: u32 = 1 << 19;
pub const DEPRECATE_EOF: u32 = 1 << 24;

pub const STATUS_CURSOR_EXISTS: u16 = 64;
pub const STATUS_LAST_ROW_SENT: u16 = 128;

pub const COM_INIT_DB: u8 = 0x02;
pub const COM_QUERY: u8 = 0x03;
pub const COM_STMT_PREPARE: u8 = 0x16;
pub const COM_STMT_EXECUTE: u8 = 0x17;
pub const COM_STMT_CLOSE: u8 = 0x19;
pub const COM_STMT_RESET: u8 = 0x1a;
pub const COM_STMT_FETCH: u8 = 0x1c;

const MAX_PAYLOAD: usize = 0xff_ffff;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A server error as sent in an ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawErr {
    pub code: u16,
    pub state: String,
    pub message: String,
}

/// One response to a command that answers with OK, ERR or one result set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Ok {
        affected_rows: u64,
        status: u16,
        warnings: u16,
    },
    Err(RawErr),
    /// A result set: column definition payloads, row payloads, and the
    /// status flags of the terminating EOF.
    Rows {
        columns: Vec<Vec<u8>>,
        rows: Vec<Vec<u8>>,
        status: u16,
    },
}

/// A raw protocol connection.
pub struct RawConn {
    stream: TcpStream,
    seq: u8,
    pub caps: u32,
    pub connection_id: u32,
    pub server_version: String,
}

fn native_token(password: &[u8], scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password);
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(h2);
    let h3 = h.finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

/// Reads a length-encoded integer.
pub fn lenenc_int(p: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = p.split_first()?;
    let width = match first {
        0xfb => {
            *p = rest;
            return None;
        }
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        v => {
            *p = rest;
            return Some(v as u64);
        }
    };
    if rest.len() < width {
        return None;
    }
    let mut v = 0u64;
    for (i, b) in rest[..width].iter().enumerate() {
        v |= (*b as u64) << (8 * i);
    }
    *p = &rest[width..];
    Some(v)
}

/// Reads a length-encoded string (None for SQL NULL, 0xfb).
pub fn lenenc_str<'a>(p: &mut &'a [u8]) -> Option<&'a [u8]> {
    if p.first() == Some(&0xfb) {
        *p = &p[1..];
        return None;
    }
    let n = lenenc_int(p)? as usize;
    let s = &p[..n.min(p.len())];
    *p = &p[n.min(p.len())..];
    Some(s)
}

/// Decodes a text-protocol row.
pub fn text_row(payload: &[u8], columns: usize) -> Vec<Option<Vec<u8>>> {
    let mut p = payload;
    (0..columns)
        .map(|_| lenenc_str(&mut p).map(|s| s.to_vec()))
        .collect()
}

/// The column name of a column definition packet.
pub fn column_name(def: &[u8]) -> String {
    let mut p = def;
    for _ in 0..4 {
        lenenc_str(&mut p); // catalog, schema, table, org_table
    }
    String::from_utf8_lossy(lenenc_str(&mut p).unwrap_or_default()).into_owned()
}

pub fn parse_err(p: &[u8]) -> RawErr {
    let code = u16::from_le_bytes([p[1], p[2]]);
    let (state, msg) = if p.get(3) == Some(&b'#') {
        (&p[4..9], &p[9..])
    } else {
        (&b""[..], &p[3..])
    };
    RawErr {
        code,
        state: String::from_utf8_lossy(state).into_owned(),
        message: String::from_utf8_lossy(msg).into_owned(),
    }
}

fn parse_ok(p: &[u8]) -> Response {
    let mut rest = &p[1..];
    let affected_rows = lenenc_int(&mut rest).unwrap_or(0);
    let _last_id = lenenc_int(&mut rest);
    let status = u16::from_le_bytes([rest[0], rest[1]]);
    let warnings = u16::from_le_bytes([rest[2], rest[3]]);
    Response::Ok {
        affected_rows,
        status,
        warnings,
    }
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

fn eof_status(p: &[u8]) -> u16 {
    // 0xfe, warnings(2), status(2) - or an OK-shaped EOF with DEPRECATE_EOF
    if p.len() >= 5 && p.len() < 9 {
        u16::from_le_bytes([p[3], p[4]])
    } else {
        let mut rest = &p[1..];
        let _ = lenenc_int(&mut rest);
        let _ = lenenc_int(&mut rest);
        u16::from_le_bytes([rest[0], rest[1]])
    }
}

impl RawConn {
    /// Connects and reads the greeting: the connection, the scramble and
    /// the server's capabilities.
    async fn open(port: u16) -> (RawConn, Vec<u8>, u32) {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("tcp connect");
        stream.set_nodelay(true).unwrap();
        let mut c = RawConn {
            stream,
            seq: 0,
            caps: 0,
            connection_id: 0,
            server_version: String::new(),
        };
        let greeting = c.read_packet().await;
        assert_eq!(greeting[0], 10, "protocol version 10 greeting");
        let mut p = &greeting[1..];
        let nul = p.iter().position(|&b| b == 0).unwrap();
        c.server_version = String::from_utf8_lossy(&p[..nul]).into_owned();
        p = &p[nul + 1..];
        c.connection_id = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
        p = &p[4..];
        let mut scramble = p[..8].to_vec();
        p = &p[9..]; // 8 bytes + filler
        let cap_lo = u16::from_le_bytes([p[0], p[1]]) as u32;
        p = &p[2..];
        p = &p[1..]; // charset
        p = &p[2..]; // status
        let cap_hi = u16::from_le_bytes([p[0], p[1]]) as u32;
        p = &p[2..];
        let server_caps = cap_lo | (cap_hi << 16);
        let auth_len = p[0] as usize;
        p = &p[1..];
        p = &p[10..]; // reserved
        let part2 = (auth_len.saturating_sub(8)).max(13);
        let part2 = &p[..part2.min(p.len())];
        scramble.extend_from_slice(&part2[..part2.len().saturating_sub(1).min(12)]);
        (c, scramble, server_caps)
    }

    /// Logs in as `user` announcing client plugin `plugin` with a made-up
    /// answer, answers any plugin switch with another made-up answer, and
    /// returns what came back until the ERR: (first byte, length) of each
    /// packet, and (0xff, error code) for the ERR.
    pub async fn login_transcript(port: u16, user: &str, plugin: &str) -> Vec<(u8, usize)> {
        let (mut c, _scramble, server_caps) = RawConn::open(port).await;
        let caps = (LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH) & server_caps;
        let mut resp = Vec::new();
        resp.extend_from_slice(&caps.to_le_bytes());
        resp.extend_from_slice(&(1u32 << 30).to_le_bytes());
        resp.push(45);
        resp.extend_from_slice(&[0u8; 23]);
        resp.extend_from_slice(user.as_bytes());
        resp.push(0);
        resp.push(20);
        resp.extend_from_slice(&[0x5a; 20]);
        resp.extend_from_slice(plugin.as_bytes());
        resp.push(0);
        c.write_packet(&resp).await;
        let mut out = Vec::new();
        for _ in 0..4 {
            let pkt = c.read_packet().await;
            if pkt[0] == 0xff {
                out.push((0xff, parse_err(&pkt).code as usize));
                return out;
            }
            out.push((pkt[0], pkt.len()));
            c.write_packet(&[0x5b; 20]).await;
        }
        out
    }

    /// Connects and logs in with mysql_native_password.
    pub async fn connect(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        extra_caps: u32,
    ) -> Result<RawConn, RawErr> {
        Self::connect_with_collation(port, user, password, db, extra_caps, 45).await
    }

    /// [`RawConn::connect`] announcing handshake collation `collation`.
    pub async fn connect_with_collation(
        port: u16,
        user: &str,
        password: &str,
        db: Option<&str>,
        extra_caps: u32,
        collation: u8,
    ) -> Result<RawConn, RawErr> {
        let (mut c, scramble, server_caps) = RawConn::open(port).await;
        let caps = (LONG_PASSWORD
            | PROTOCOL_41
            | TRANSACTIONS
            | SECURE_CONNECTION
            | MULTI_STATEMENTS
            | MULTI_RESULTS
            | PS_MULTI_RESULTS
            | PLUGIN_AUTH
            | extra_caps
            | if db.is_some() { CONNECT_WITH_DB } else { 0 })
            & server_caps;
        c.caps = caps;
        let token = native_token(password.as_bytes(), &scramble);
        let mut resp = Vec::new();
        resp.extend_from_slice(&caps.to_le_bytes());
        resp.extend_from_slice(&(1u32 << 30).to_le_bytes());
        resp.push(collation);
        resp.extend_from_slice(&[0u8; 23]);
        resp.extend_from_slice(user.as_bytes());
        resp.push(0);
        resp.push(token.len() as u8);
        resp.extend_from_slice(&token);
        if let Some(db) = db {
            resp.extend_from_slice(db.as_bytes());
            resp.push(0);
        }
        resp.extend_from_slice(b"mysql_native_password\0");
        c.write_packet(&resp).await;
        loop {
            let pkt = c.read_packet().await;
            match pkt[0] {
                0x00 => return Ok(c),
                0xff => return Err(parse_err(&pkt)),
                0xfe => {
                    // auth switch: plugin name, then the new scramble
                    let rest = &pkt[1..];
                    let nul = rest.iter().position(|&b| b == 0).unwrap();
                    let plugin = String::from_utf8_lossy(&rest[..nul]).into_owned();
                    assert_eq!(plugin, "mysql_native_password", "auth switch plugin");
                    let mut data = rest[nul + 1..].to_vec();
                    if data.last() == Some(&0) {
                        data.pop();
                    }
                    let token = native_token(password.as_bytes(), &data);
                    c.write_packet(&token).await;
                }
                other => panic!("unexpected packet 0x{other:02x} during login"),
            }
        }
    }

    /// Reads one logical packet (joining >16 MiB continuations).
    pub async fn read_packet(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let mut hdr = [0u8; 4];
            tokio::time::timeout(IO_TIMEOUT, self.stream.read_exact(&mut hdr))
                .await
                .expect("packet header in time")
                .expect("read header");
            let len = hdr[0] as usize | (hdr[1] as usize) << 8 | (hdr[2] as usize) << 16;
            assert_eq!(hdr[3], self.seq, "packet sequence id");
            self.seq = self.seq.wrapping_add(1);
            let start = out.len();
            out.resize(start + len, 0);
            tokio::time::timeout(IO_TIMEOUT, self.stream.read_exact(&mut out[start..]))
                .await
                .expect("packet body in time")
                .expect("read body");
            if len < MAX_PAYLOAD {
                return out;
            }
        }
    }

    /// Writes one logical packet (split at 16 MiB).
    pub async fn write_packet(&mut self, payload: &[u8]) {
        let mut buf = Vec::with_capacity(payload.len() + 8);
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_PAYLOAD);
            buf.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            buf.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_PAYLOAD {
                break;
            }
        }
        self.stream.write_all(&buf).await.expect("write packet");
    }

    /// Sends a command (sequence restarts at 0).
    pub async fn send_command(&mut self, payload: &[u8]) {
        self.seq = 0;
        self.write_packet(payload).await;
    }

    /// Reads a response that is OK, ERR or a single result set (EOF
    /// terminated column list and rows).
    pub async fn read_response(&mut self) -> Response {
        let first = self.read_packet().await;
        match first[0] {
            0x00 if first.len() >= 7 => return parse_ok(&first),
            0xff => return Response::Err(parse_err(&first)),
            _ => {}
        }
        let mut p = &first[..];
        let ncols = lenenc_int(&mut p).expect("column count") as usize;
        self.read_result_body(ncols, false).await
    }

    /// Reads column definitions (+EOF unless DEPRECATE_EOF) and, unless
    /// `cursor` says the server opened a cursor, the rows.
    pub async fn read_result_body(&mut self, ncols: usize, expect_cursor: bool) -> Response {
        let mut columns = Vec::with_capacity(ncols);
        for _ in 0..ncols {
            columns.push(self.read_packet().await);
        }
        if self.caps & DEPRECATE_EOF == 0 {
            let eof = self.read_packet().await;
            assert!(is_eof(&eof), "EOF after column definitions");
            let status = eof_status(&eof);
            if expect_cursor || status & STATUS_CURSOR_EXISTS != 0 {
                return Response::Rows {
                    columns,
                    rows: Vec::new(),
                    status,
                };
            }
        }
        let mut rows = Vec::new();
        loop {
            let pkt = self.read_packet().await;
            if pkt[0] == 0xff {
                return Response::Err(parse_err(&pkt));
            }
            if is_eof(&pkt) || (pkt[0] == 0xfe && self.caps & DEPRECATE_EOF != 0) {
                return Response::Rows {
                    columns,
                    rows,
                    status: eof_status(&pkt),
                };
            }
            rows.push(pkt);
        }
    }

    /// COM_QUERY with a single answer.
    pub async fn query(&mut self, sql: &str) -> Response {
        let mut p = vec![COM_QUERY];
        p.extend_from_slice(sql.as_bytes());
        self.send_command(&p).await;
        self.read_response().await
    }

    /// COM_QUERY returning the text rows of its single result set.
    pub async fn query_rows(&mut self, sql: &str) -> Vec<Vec<Option<Vec<u8>>>> {
        match self.query(sql).await {
            Response::Rows { columns, rows, .. } => {
                rows.iter().map(|r| text_row(r, columns.len())).collect()
            }
            other => panic!("{sql}: expected rows, got {other:?}"),
        }
    }

    /// COM_INIT_DB.
    pub async fn init_db(&mut self, db: &str) -> Response {
        let mut p = vec![COM_INIT_DB];
        p.extend_from_slice(db.as_bytes());
        self.send_command(&p).await;
        self.read_response().await
    }

    /// COM_STMT_PREPARE: (statement id, columns, params) or the error.
    pub async fn prepare(&mut self, sql: &str) -> Result<(u32, u16, u16), RawErr> {
        let mut p = vec![COM_STMT_PREPARE];
        p.extend_from_slice(sql.as_bytes());
        self.send_command(&p).await;
        let first = self.read_packet().await;
        if first[0] == 0xff {
            return Err(parse_err(&first));
        }
        assert_eq!(first[0], 0, "prepare OK");
        let id = u32::from_le_bytes([first[1], first[2], first[3], first[4]]);
        let cols = u16::from_le_bytes([first[5], first[6]]);
        let params = u16::from_le_bytes([first[7], first[8]]);
        let eof = self.caps & DEPRECATE_EOF == 0;
        for n in [params, cols] {
            for _ in 0..n {
                self.read_packet().await;
            }
            if n > 0 && eof {
                let e = self.read_packet().await;
                assert!(is_eof(&e), "EOF after prepare definitions");
            }
        }
        Ok((id, cols, params))
    }

    /// COM_STMT_EXECUTE of a statement without parameters.
    /// `cursor`: ask for a read-only cursor (flags = 1).
    pub async fn execute_no_params(&mut self, stmt_id: u32, cursor: bool) {
        let mut p = vec![COM_STMT_EXECUTE];
        p.extend_from_slice(&stmt_id.to_le_bytes());
        p.push(if cursor { 1 } else { 0 });
        p.extend_from_slice(&1u32.to_le_bytes());
        self.send_command(&p).await;
    }

    /// Reads an execute response: OK, ERR, or a result set (column
    /// definitions only when a cursor was opened).
    pub async fn read_execute_response(&mut self) -> Response {
        let first = self.read_packet().await;
        match first[0] {
            0x00 if first.len() >= 7 => return parse_ok(&first),
            0xff => return Response::Err(parse_err(&first)),
            _ => {}
        }
        let mut p = &first[..];
        let ncols = lenenc_int(&mut p).expect("column count") as usize;
        self.read_result_body(ncols, false).await
    }

    /// COM_STMT_FETCH: rows (binary) and the status of the closing EOF.
    pub async fn fetch(&mut self, stmt_id: u32, rows: u32) -> Result<(Vec<Vec<u8>>, u16), RawErr> {
        let mut p = vec![COM_STMT_FETCH];
        p.extend_from_slice(&stmt_id.to_le_bytes());
        p.extend_from_slice(&rows.to_le_bytes());
        self.send_command(&p).await;
        let mut out = Vec::new();
        loop {
            let pkt = self.read_packet().await;
            if pkt[0] == 0xff {
                return Err(parse_err(&pkt));
            }
            if is_eof(&pkt) {
                return Ok((out, eof_status(&pkt)));
            }
            out.push(pkt);
        }
    }

    /// COM_STMT_CLOSE (no response).
    pub async fn close_stmt(&mut self, stmt_id: u32) {
        let mut p = vec![COM_STMT_CLOSE];
        p.extend_from_slice(&stmt_id.to_le_bytes());
        self.send_command(&p).await;
    }
}

/// The first column of a binary-protocol row holding one BIGINT (or INT)
/// NOT NULL value: header 0x00, NULL bitmap (1 byte for <= 6 columns).
pub fn binary_first_int(row: &[u8], width: usize) -> i64 {
    assert_eq!(row[0], 0, "binary row header");
    let v = &row[2..2 + width];
    let mut out = 0i64;
    for (i, b) in v.iter().enumerate() {
        out |= (*b as i64) << (8 * i);
    }
    out
}
