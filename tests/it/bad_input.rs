//! A router on the network meets clients that lie, stall, vanish or speak
//! another protocol. These tests speak the MySQL protocol by hand over a raw
//! TCP stream (plus mysql_async for the ordinary cases) against a router in
//! front of real MariaDB, and check that every bad client gets a proper
//! error or a closed socket while the router keeps serving everyone else.
use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sha1::{Digest, Sha1};
use sqlyard::config::Config;
use sqlyard::sandbox::{pick_free_port, Topology};
use sqlyard::server::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Upper bound for any single read from the router.
const READ_LIMIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// A router with custom [router] keys
// ---------------------------------------------------------------------------

struct TestRouter {
    server: Server,
    port: u16,
}

/// Starts a router in front of `topo`, with `router_keys` added to the
/// `[router]` table and `extra` appended (for other tables).
async fn start_router(topo: &Topology, router_keys: &str, extra: &str) -> TestRouter {
    let port = pick_free_port().unwrap();
    let admin = pick_free_port().unwrap();
    let metrics = pick_free_port().unwrap();
    let base = topo.router_config_toml(port, admin, metrics);
    assert!(base.contains("[router]\n"), "config has a [router] table");
    let mut text = base.replacen("[router]\n", &format!("[router]\n{router_keys}\n"), 1);
    text.push('\n');
    text.push_str(extra);
    let config = Config::from_toml_str(&text, Path::new("bad-input.toml")).unwrap();
    let server = Server::start(config).await.unwrap();
    assert!(server.wait_ready(Duration::from_secs(30)).await);
    TestRouter { server, port }
}

/// The router still answers an ordinary client, quickly.
async fn assert_serves(port: u16) {
    let work = async {
        let mut c = mysql_async::Conn::new(common::app_opts(port)).await?;
        let v: Option<(u32, String)> = c.query_first("SELECT 41 + 1, 'still here'").await?;
        c.disconnect().await?;
        Ok::<_, mysql_async::Error>(v)
    };
    let got = timeout(Duration::from_secs(10), work)
        .await
        .expect("router answers within 10 s")
        .expect("query through the router");
    assert_eq!(got, Some((42, "still here".to_string())));
}

// ---------------------------------------------------------------------------
// A hand-written MySQL protocol client
// ---------------------------------------------------------------------------

const CAP_LONG_PASSWORD: u32 = 1;
const CAP_CONNECT_WITH_DB: u32 = 1 << 3;
const CAP_PROTOCOL_41: u32 = 1 << 9;
const CAP_TRANSACTIONS: u32 = 1 << 13;
const CAP_SECURE_CONNECTION: u32 = 1 << 15;
const CAP_MULTI_RESULTS: u32 = 1 << 17;
const CAP_PLUGIN_AUTH: u32 = 1 << 19;
const RAW_CAPS: u32 = CAP_LONG_PASSWORD
    | CAP_PROTOCOL_41
    | CAP_TRANSACTIONS
    | CAP_SECURE_CONNECTION
    | CAP_MULTI_RESULTS
    | CAP_PLUGIN_AUTH;

/// An ERR packet.
#[derive(Debug, Clone, PartialEq)]
struct ErrPacket {
    code: u16,
    state: String,
    message: String,
}

fn parse_err(p: &[u8]) -> ErrPacket {
    assert_eq!(p.first(), Some(&0xff), "an ERR packet: {p:?}");
    assert!(p.len() >= 9, "ERR packet too short: {p:?}");
    let code = u16::from_le_bytes([p[1], p[2]]);
    assert_eq!(p[3], b'#', "ERR packet has a SQLSTATE marker: {p:?}");
    ErrPacket {
        code,
        state: String::from_utf8_lossy(&p[4..9]).into_owned(),
        message: String::from_utf8_lossy(&p[9..]).into_owned(),
    }
}

async fn read_pkt(s: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let work = async {
        let mut h = [0u8; 4];
        s.read_exact(&mut h).await?;
        let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await?;
        Ok((h[3], body))
    };
    match timeout(READ_LIMIT, work).await {
        Ok(r) => r,
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no packet from the router within the read limit",
        )),
    }
}

fn frame(seq: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = len.to_le_bytes()[..3].to_vec();
    v.push(seq);
    v.extend_from_slice(payload);
    v
}

async fn write_pkt(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    s.write_all(&frame(seq, payload)).await.unwrap();
}

/// What the router's greeting says.
struct Greeting {
    conn_id: u32,
    scramble: Vec<u8>,
}

fn parse_greeting(p: &[u8]) -> Greeting {
    assert_eq!(p[0], 10, "protocol v10 greeting");
    let nul = p[1..].iter().position(|&b| b == 0).unwrap() + 1;
    let mut i = nul + 1;
    let conn_id = u32::from_le_bytes(p[i..i + 4].try_into().unwrap());
    i += 4;
    let mut scramble = p[i..i + 8].to_vec();
    i += 8 + 1; // filler
    i += 2 + 1 + 2 + 2; // caps low, charset, status, caps high
    let data_len = p[i] as usize;
    i += 1 + 10;
    let part2 = data_len.saturating_sub(8).max(13) - 1; // without its NUL
    scramble.extend_from_slice(&p[i..i + part2]);
    Greeting { conn_id, scramble }
}

/// mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))).
fn native_auth(password: &str, scramble: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let h1 = Sha1::digest(password.as_bytes());
    let h2 = Sha1::digest(h1);
    let mut h = Sha1::new();
    h.update(scramble);
    h.update(h2);
    let h3 = h.finalize();
    h1.iter().zip(h3.iter()).map(|(a, b)| a ^ b).collect()
}

fn handshake_response(user: &str, auth: &[u8], db: Option<&str>) -> Vec<u8> {
    let caps = RAW_CAPS | if db.is_some() { CAP_CONNECT_WITH_DB } else { 0 };
    let mut p = caps.to_le_bytes().to_vec();
    p.extend_from_slice(&(16u32 << 20).to_le_bytes());
    p.push(45); // utf8mb4_general_ci
    p.extend_from_slice(&[0u8; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(auth.len() as u8);
    p.extend_from_slice(auth);
    if let Some(db) = db {
        p.extend_from_slice(db.as_bytes());
        p.push(0);
    }
    p.extend_from_slice(b"mysql_native_password\0");
    p
}

/// Connects and reads the greeting.
async fn greet(port: u16) -> (TcpStream, Greeting) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (seq, p) = read_pkt(&mut s).await.unwrap();
    assert_eq!(seq, 0);
    (s, parse_greeting(&p))
}

/// A logged-in raw connection.
struct Raw {
    s: TcpStream,
    conn_id: u32,
}

/// A text result: rows of nullable strings.
type Rows = Vec<Vec<Option<String>>>;

fn lenenc(p: &[u8], i: &mut usize) -> Option<u64> {
    let b = p[*i];
    *i += 1;
    let n = |k: usize, i: &mut usize| {
        let mut v = 0u64;
        for j in 0..k {
            v |= (p[*i + j] as u64) << (8 * j);
        }
        *i += k;
        v
    };
    match b {
        0xfb => None,
        0xfc => Some(n(2, i)),
        0xfd => Some(n(3, i)),
        0xfe => Some(n(8, i)),
        x => Some(x as u64),
    }
}

fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xfe) && p.len() < 9
}

impl Raw {
    /// Logs in; the ERR packet if the router refuses.
    async fn login(port: u16, user: &str, password: &str) -> Result<Raw, ErrPacket> {
        let (mut s, g) = greet(port).await;
        let auth = native_auth(password, &g.scramble);
        write_pkt(&mut s, 1, &handshake_response(user, &auth, None)).await;
        let (mut seq, mut p) = read_pkt(&mut s).await.unwrap();
        if p.first() == Some(&0xfe) {
            // Auth switch: plugin name NUL, then the new scramble.
            let nul = p[1..].iter().position(|&b| b == 0).unwrap() + 1;
            let plugin = String::from_utf8_lossy(&p[1..nul]).into_owned();
            assert_eq!(plugin, "mysql_native_password");
            let mut scramble = p[nul + 1..].to_vec();
            if scramble.last() == Some(&0) {
                scramble.pop();
            }
            write_pkt(
                &mut s,
                seq.wrapping_add(1),
                &native_auth(password, &scramble),
            )
            .await;
            (seq, p) = read_pkt(&mut s).await.unwrap();
        }
        let _ = seq;
        match p.first() {
            Some(0x00) => Ok(Raw {
                s,
                conn_id: g.conn_id,
            }),
            Some(0xff) => Err(parse_err(&p)),
            _ => panic!("unexpected login reply {p:?}"),
        }
    }

    async fn send_command(&mut self, payload: &[u8]) {
        write_pkt(&mut self.s, 0, payload).await;
    }

    /// Reads a COM_QUERY response (text protocol, EOF-terminated).
    async fn read_result(&mut self) -> Result<Rows, ErrPacket> {
        let (_, first) = read_pkt(&mut self.s).await.unwrap();
        match first.first() {
            Some(0x00) => return Ok(Vec::new()),
            Some(0xff) => return Err(parse_err(&first)),
            _ => {}
        }
        let mut i = 0;
        let columns = lenenc(&first, &mut i).unwrap();
        for _ in 0..columns {
            read_pkt(&mut self.s).await.unwrap();
        }
        let (_, eof) = read_pkt(&mut self.s).await.unwrap();
        assert!(is_eof(&eof), "EOF after column definitions: {eof:?}");
        let mut rows = Vec::new();
        loop {
            let (_, p) = read_pkt(&mut self.s).await.unwrap();
            if is_eof(&p) {
                return Ok(rows);
            }
            if p.first() == Some(&0xff) {
                return Err(parse_err(&p));
            }
            let mut i = 0;
            let mut row = Vec::new();
            for _ in 0..columns {
                match lenenc(&p, &mut i) {
                    None => row.push(None),
                    Some(n) => {
                        let n = n as usize;
                        row.push(Some(String::from_utf8_lossy(&p[i..i + n]).into_owned()));
                        i += n;
                    }
                }
            }
            rows.push(row);
        }
    }

    async fn query(&mut self, sql: &str) -> Result<Rows, ErrPacket> {
        let mut p = vec![0x03];
        p.extend_from_slice(sql.as_bytes());
        self.send_command(&p).await;
        self.read_result().await
    }
}

fn one(v: &str) -> Rows {
    vec![vec![Some(v.to_string())]]
}

/// Reads until the router closes the socket; fails if it stays open past `limit`.
/// Returns every byte received before the close.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let work = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    timeout(limit, work)
        .await
        .expect("router closes the connection in time");
    got
}

/// The first complete packet in `bytes`, if any.
fn first_packet(bytes: &[u8]) -> Option<(u8, &[u8])> {
    if bytes.len() < 4 {
        return None;
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], 0]) as usize;
    bytes.get(4..4 + len).map(|p| (bytes[3], p))
}

// ---------------------------------------------------------------------------
// Authentication failures
// ---------------------------------------------------------------------------

fn assert_access_denied(e: &ErrPacket, user: &str) {
    assert_eq!(e.code, 1045, "{e:?}");
    assert_eq!(e.state, "28000", "{e:?}");
    assert!(e.message.starts_with("sqlyard:"), "{e:?}");
    assert!(
        e.message
            .contains(&format!("Access denied for user '{user}'@")),
        "{e:?}"
    );
    assert!(e.message.contains("(using password: YES)"), "{e:?}");
}

#[tokio::test]
async fn wrong_password_raw_gets_1045_28000() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let e = Raw::login(router.port, "app", "not_the_password")
        .await
        .err()
        .expect("login refused");
    assert_access_denied(&e, "app");
    // The right password still works on the next connection.
    let mut ok = Raw::login(router.port, "app", "app_pw").await.unwrap();
    assert_eq!(ok.query("SELECT 7").await.unwrap(), one("7"));
    router.stop().await;
}

#[tokio::test]
async fn wrong_password_and_unknown_user_with_mysql_async() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    for (user, pw) in [("app", "wrong_pw"), ("nobody_here", "app_pw")] {
        let opts = common::app_opts(router.port)
            .user(Some(user))
            .pass(Some(pw));
        let err = mysql_async::Conn::new(opts).await.expect_err("refused");
        match err {
            mysql_async::Error::Server(e) => {
                assert_eq!(e.code, 1045, "{user}: {e:?}");
                assert_eq!(e.state, "28000", "{user}: {e:?}");
                assert!(e.message.starts_with("sqlyard:"), "{user}: {e:?}");
                assert!(e.message.contains(user), "{user}: {e:?}");
            }
            other => panic!("{user}: expected a server error, got {other:?}"),
        }
    }
    assert_serves(router.port).await;
    router.stop().await;
}

#[tokio::test]
async fn unknown_user_raw_gets_1045_like_a_wrong_password() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let unknown = Raw::login(router.port, "ghost", "app_pw")
        .await
        .err()
        .expect("login refused");
    assert_access_denied(&unknown, "ghost");
    let wrong = Raw::login(router.port, "app", "nope")
        .await
        .err()
        .expect("login refused");
    // Same shape: an unknown user is not told apart from a wrong password.
    assert_eq!(
        unknown.message.replace("'ghost'", "'X'"),
        wrong.message.replace("'app'", "'X'")
    );
    router.stop().await;
}

// ---------------------------------------------------------------------------
// Truncated, stalled and garbage packets
// ---------------------------------------------------------------------------

#[tokio::test]
async fn truncated_packet_then_close_leaves_router_serving() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    // Before login: header says 100 bytes, 10 arrive, then the socket closes.
    for _ in 0..5 {
        let (mut s, _) = greet(router.port).await;
        let mut bytes = vec![100, 0, 0, 1];
        bytes.extend_from_slice(&[0x0d; 10]);
        s.write_all(&bytes).await.unwrap();
        drop(s);
    }
    // After login: a COM_QUERY cut short.
    for _ in 0..5 {
        let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
        let mut bytes = vec![100, 0, 0, 0, 0x03];
        bytes.extend_from_slice(b"SELECT 1 ");
        raw.s.write_all(&bytes).await.unwrap();
        raw.s.shutdown().await.unwrap();
        drop(raw);
    }
    assert_serves(router.port).await;
    let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
    assert_eq!(raw.query("SELECT 'ok'").await.unwrap(), one("ok"));
    router.stop().await;
}

#[tokio::test]
async fn stalled_partial_packets_do_not_block_other_clients() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    // Twenty clients stall before login with a half-sent handshake response,
    let mut stalled = Vec::new();
    for _ in 0..20 {
        let (mut s, _) = greet(router.port).await;
        s.write_all(&[0xe8, 0x03, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
            .await
            .unwrap();
        stalled.push(s);
    }
    // and one logged-in client stalls in the middle of a COM_QUERY.
    let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
    let sql = format!("SELECT '{}'", "y".repeat(990));
    let mut payload = vec![0x03];
    payload.extend_from_slice(sql.as_bytes());
    let framed = frame(0, &payload);
    raw.s.write_all(&framed[..14]).await.unwrap();

    // Others are served meanwhile.
    let started = Instant::now();
    for _ in 0..5 {
        assert_serves(router.port).await;
    }
    assert!(started.elapsed() < Duration::from_secs(10));

    // The stalled client finishes its packet late and gets a right answer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    raw.s.write_all(&framed[14..]).await.unwrap();
    assert_eq!(raw.read_result().await.unwrap(), one(&"y".repeat(990)));
    assert_eq!(raw.query("SELECT 2").await.unwrap(), one("2"));
    drop(stalled);
    assert_serves(router.port).await;
    router.stop().await;
}

#[tokio::test]
async fn stalled_login_is_closed_after_connect_timeout() {
    let topo = common::topology().await;
    let router = start_router(topo, "connect_timeout = \"2s\"", "").await;
    let (mut s, _) = greet(router.port).await;
    // A header that promises 1000 bytes, then nothing more.
    s.write_all(&[0xe8, 0x03, 0x00, 0x01, 0x85, 0xa6])
        .await
        .unwrap();
    let started = Instant::now();
    let got = read_until_closed(&mut s, Duration::from_secs(8)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500),
        "closed after the timeout, not before: {waited:?}"
    );
    // The router says why before it closes (an ERR packet).
    if let Some((_, p)) = first_packet(&got) {
        let e = parse_err(p);
        assert!(e.message.starts_with("sqlyard:"), "{e:?}");
    } else {
        panic!("expected an ERR packet before the close, got {got:?}");
    }
    assert_serves(router.port).await;
    router.server.shutdown().await;
}

#[tokio::test]
async fn garbage_instead_of_handshake_response() {
    let topo = common::topology().await;
    let router = start_router(topo, "connect_timeout = \"2s\"", "").await;

    // 1. A well-framed packet too short to be a handshake response.
    let (mut s, _) = greet(router.port).await;
    write_pkt(&mut s, 1, &[0x01, 0x02]).await;
    let got = read_until_closed(&mut s, Duration::from_secs(5)).await;
    let (_, p) = first_packet(&got).expect("an ERR packet before the close");
    let e = parse_err(p);
    assert!(e.message.starts_with("sqlyard:"), "{e:?}");

    // 2. A well-framed packet of junk bytes (no NUL after the user name).
    let (mut s, _) = greet(router.port).await;
    let mut junk = RAW_CAPS.to_le_bytes().to_vec();
    junk.extend_from_slice(&[0xab; 60]);
    write_pkt(&mut s, 1, &junk).await;
    let got = read_until_closed(&mut s, Duration::from_secs(5)).await;
    if let Some((_, p)) = first_packet(&got) {
        let e = parse_err(p);
        assert!(e.message.starts_with("sqlyard:"), "{e:?}");
    }

    // 3. Another protocol altogether: an HTTP request. Its first bytes read
    //    as a ~5 MiB packet header, so the router waits, then gives up.
    let (mut s, _) = greet(router.port).await;
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    read_until_closed(&mut s, Duration::from_secs(8)).await;

    // 4. Pseudo-random bytes, sent without reading the greeting.
    let mut s = TcpStream::connect(("127.0.0.1", router.port))
        .await
        .unwrap();
    let mut x: u32 = 0x1234_5678;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let _ = s.write_all(&noise).await;
    read_until_closed(&mut s, Duration::from_secs(8)).await;

    assert_serves(router.port).await;
    router.server.shutdown().await;
}

// ---------------------------------------------------------------------------
// Bad commands after login
// ---------------------------------------------------------------------------

#[tokio::test]
async fn unknown_command_gets_err_and_connection_stays_usable() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
    for cmd in [0x99u8, 0xfe, 0x20] {
        raw.send_command(&[cmd, 1, 2, 3]).await;
        let (seq, p) = read_pkt(&mut raw.s).await.unwrap();
        assert_eq!(seq, 1);
        let e = parse_err(&p);
        assert_eq!(e.code, 1047, "ER_UNKNOWN_COM_ERROR for 0x{cmd:02x}: {e:?}");
        assert!(e.message.starts_with("sqlyard:"), "{e:?}");
        // The connection still works.
        assert_eq!(
            raw.query("SELECT CONCAT('after ', 'unknown')")
                .await
                .unwrap(),
            one("after unknown")
        );
    }
    // COM_PING is fine too.
    raw.send_command(&[0x0e]).await;
    let (_, p) = read_pkt(&mut raw.s).await.unwrap();
    assert_eq!(p.first(), Some(&0x00), "OK to COM_PING: {p:?}");
    router.stop().await;
}

#[tokio::test]
async fn malformed_known_commands_get_errors_not_crashes() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();

    // COM_STMT_EXECUTE for a statement that was never prepared.
    raw.send_command(&[0x17, 0xef, 0xbe, 0xad, 0xde, 0, 1, 0, 0, 0])
        .await;
    let (_, p) = read_pkt(&mut raw.s).await.unwrap();
    let e = parse_err(&p);
    assert_eq!(e.code, 1243, "{e:?}");
    assert_eq!(raw.query("SELECT 3").await.unwrap(), one("3"));

    // COM_STMT_EXECUTE with no statement id at all.
    raw.send_command(&[0x17]).await;
    let (_, p) = read_pkt(&mut raw.s).await.unwrap();
    assert_eq!(p.first(), Some(&0xff), "ERR for a 1-byte COM_STMT_EXECUTE");

    // COM_PROCESS_KILL without an id.
    let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
    raw.send_command(&[0x0c, 1]).await;
    let (_, p) = read_pkt(&mut raw.s).await.unwrap();
    assert_eq!(p.first(), Some(&0xff), "ERR for a short COM_PROCESS_KILL");
    assert_eq!(raw.query("SELECT 4").await.unwrap(), one("4"));

    // COM_SET_OPTION with an unknown option.
    raw.send_command(&[0x1b, 7, 0]).await;
    let (_, p) = read_pkt(&mut raw.s).await.unwrap();
    assert_eq!(p.first(), Some(&0xff), "ERR for COM_SET_OPTION 7");
    assert_eq!(raw.query("SELECT 5").await.unwrap(), one("5"));

    // COM_INIT_DB of a database that does not exist: the server's error.
    raw.send_command(b"\x02no_such_db_here").await;
    let (_, p) = read_pkt(&mut raw.s).await.unwrap();
    let e = parse_err(&p);
    assert_eq!(e.code, 1049, "{e:?}");
    assert_eq!(raw.query("SELECT 6").await.unwrap(), one("6"));

    // An empty packet: an error (the connection may close), never a hang.
    raw.send_command(&[]).await;
    let got = read_until_closed(&mut raw.s, Duration::from_secs(5))
        .await
        .to_vec();
    let (_, p) = first_packet(&got).expect("an ERR for an empty command");
    assert!(parse_err(p).message.starts_with("sqlyard:"));

    assert_serves(router.port).await;
    router.stop().await;
}

// ---------------------------------------------------------------------------
// A client that leaves in the middle of a large result
// ---------------------------------------------------------------------------

/// Statements still running on the primary whose text contains `marker`.
async fn running_on_primary(topo: &Topology, marker: &str) -> u64 {
    let mut c = topo.primary().root_conn().await.unwrap();
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE CONCAT('%', ?, '%') AND ID <> CONNECTION_ID()",
            (marker,),
        )
        .await
        .unwrap();
    c.disconnect().await.unwrap();
    n.unwrap_or(0)
}

#[tokio::test]
async fn client_dropping_mid_result_leaks_no_backend() {
    let topo = common::topology().await;
    // Two backend connections per pool and a short checkout wait: a single
    // leaked connection per round would exhaust the pool within two rounds.
    let router =
        common::Router::start(topo, "[pool]\nmax_size = 2\ncheckout_timeout = \"2s\"\n").await;
    let marker = "midresult_drop_marker";
    let sql = format!("SELECT /* {marker} */ REPEAT('x', 1000000) FROM test.seq_1_to_200");
    let started = Instant::now();
    for round in 0..8 {
        let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
        let mut p = vec![0x03];
        p.extend_from_slice(sql.as_bytes());
        raw.send_command(&p).await;
        // Read a bit of the result (a few hundred KiB), then vanish.
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < 300 * 1024 {
            let n = timeout(READ_LIMIT, raw.s.read(&mut buf))
                .await
                .expect("result bytes arrive")
                .unwrap();
            assert!(n > 0, "round {round}: router closed early");
            got += n;
        }
        drop(raw);
        // Same capabilities, so the same pool: it must still have room.
        let mut next = Raw::login(router.port, "app", "app_pw").await.unwrap();
        let r = next.query("SELECT 'pool ok'").await;
        assert_eq!(r, Ok(one("pool ok")), "round {round}");
    }
    // Two clients at once, both with the same pool key, still work.
    let mut a = Raw::login(router.port, "app", "app_pw").await.unwrap();
    let mut b = Raw::login(router.port, "app", "app_pw").await.unwrap();
    let (ra, rb) = tokio::join!(a.query("SELECT SLEEP(0.2), 'a'"), b.query("SELECT 'b'"));
    assert_eq!(ra.unwrap()[0][1].as_deref(), Some("a"));
    assert_eq!(rb.unwrap(), one("b"));
    // The aborted statements do not keep running on the server.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n = running_on_primary(topo, marker).await;
        if n == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{n} aborted statements still run on the primary"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_serves(router.port).await;
    assert!(started.elapsed() < Duration::from_secs(45));
    router.stop().await;
}

#[tokio::test]
async fn kill_of_foreign_or_unknown_id_is_an_error() {
    let topo = common::topology().await;
    let router = common::Router::start(topo, "").await;
    let mut raw = Raw::login(router.port, "app", "app_pw").await.unwrap();
    let e = raw.query("KILL QUERY 4000000000").await.unwrap_err();
    assert_eq!(e.code, 1094, "ER_NO_SUCH_THREAD: {e:?}");
    // KILL QUERY of one's own id: fine, the connection stays.
    let own = raw.conn_id;
    raw.query(&format!("KILL QUERY {own}")).await.unwrap();
    assert_eq!(raw.query("SELECT 8").await.unwrap(), one("8"));
    router.stop().await;
}
