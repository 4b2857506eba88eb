//! The unit tests check our arithmetic against vectors we computed ourselves; only
//! real peers prove we read the protocol's byte order right. These `#[ignore]`d
//! checks talk to a real MariaDB server (as a client, with our native responses)
//! and to a real third-party client, PyMySQL (as a server, with our verifiers),
//! over loopback TCP with just enough hand-written packet code.
//!
//! Run: `SQLYARD_AUTH_LIVE_ADDR=127.0.0.1:24501 SQLYARD_AUTH_LIVE_USER=u
//! SQLYARD_AUTH_LIVE_PASSWORD=p cargo test --lib protocol::auth::live_check -- --ignored`
//! (the server check needs only `/usr/bin/python3` with python3-pymysql).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use super::caching_sha2::sha2_client_response;
use super::native::{native_client_response, native_hash};
use super::scramble::new_scramble;
use super::server::{ServerCredential, ServerVerdict};
use super::AuthPlugin;

const CLIENT_LONG_PASSWORD: u32 = 0x1;
const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
const CAPS: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_PROTOCOL_41
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH;

fn read_packet(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).unwrap();
    let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).unwrap();
    (h[3], p)
}

fn write_packet(s: &mut TcpStream, seq: u8, payload: &[u8]) {
    let len = (payload.len() as u32).to_le_bytes();
    s.write_all(&[len[0], len[1], len[2], seq]).unwrap();
    s.write_all(payload).unwrap();
}

fn nul_str(b: &[u8]) -> (&[u8], &[u8]) {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    (&b[..end], b.get(end + 1..).unwrap_or(&[]))
}

/// Parses a v10 greeting: (20-byte scramble, plugin).
fn parse_greeting(p: &[u8]) -> (Vec<u8>, AuthPlugin) {
    assert_eq!(p[0], 10, "protocol version");
    let (_version, rest) = nul_str(&p[1..]);
    let part1 = &rest[4..12];
    let rest = &rest[13..];
    let data_len = rest[7] as usize;
    let rest = &rest[8 + 10..];
    let part2_len = data_len.saturating_sub(8).max(13);
    let mut scramble = part1.to_vec();
    scramble.extend_from_slice(&rest[..part2_len]);
    let (plugin, _) = nul_str(&rest[part2_len..]);
    scramble.truncate(20);
    (scramble, AuthPlugin::from_name_bytes(plugin))
}

/// Logs in as a client; `announce` is the plugin we claim in the handshake
/// response. Returns the final packet's first byte (0x00 OK, 0xFF ERR) and
/// whether an AuthSwitchRequest was followed.
fn client_login(addr: &str, user: &str, password: &[u8], announce: &AuthPlugin) -> (u8, bool) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (_, greeting) = read_packet(&mut s);
    let (scramble, server_plugin) = parse_greeting(&greeting);
    assert_eq!(scramble.len(), 20);
    assert_eq!(server_plugin, AuthPlugin::MysqlNativePassword);

    let response = match announce {
        AuthPlugin::CachingSha2Password => sha2_client_response(password, &scramble),
        _ => native_client_response(password, &scramble),
    };
    let mut hr = Vec::new();
    hr.extend_from_slice(&(CAPS & !CLIENT_CONNECT_WITH_DB).to_le_bytes());
    hr.extend_from_slice(&(16u32 << 20).to_le_bytes());
    hr.push(45); // utf8mb4_general_ci
    hr.extend_from_slice(&[0u8; 23]);
    hr.extend_from_slice(user.as_bytes());
    hr.push(0);
    hr.push(response.len() as u8);
    hr.extend_from_slice(&response);
    hr.extend_from_slice(announce.name().as_bytes());
    hr.push(0);
    write_packet(&mut s, 1, &hr);

    let (seq, reply) = read_packet(&mut s);
    if reply[0] != 0xfe {
        return (reply[0], false);
    }
    let (plugin, data) = nul_str(&reply[1..]);
    assert_eq!(
        AuthPlugin::from_name_bytes(plugin),
        AuthPlugin::MysqlNativePassword
    );
    let (switch_scramble, _) = nul_str(data);
    write_packet(
        &mut s,
        seq + 1,
        &native_client_response(password, switch_scramble),
    );
    let (_, reply) = read_packet(&mut s);
    (reply[0], true)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[test]
#[ignore = "needs a running MariaDB (see module doc)"]
fn mariadb_accepts_our_native_response() {
    let addr = env_or("SQLYARD_AUTH_LIVE_ADDR", "127.0.0.1:24501");
    let user = env_or("SQLYARD_AUTH_LIVE_USER", "authcheck");
    let pw = env_or("SQLYARD_AUTH_LIVE_PASSWORD", "s3cret-Pw!");
    let native = AuthPlugin::MysqlNativePassword;
    let sha2 = AuthPlugin::CachingSha2Password;

    assert_eq!(
        client_login(&addr, &user, pw.as_bytes(), &native),
        (0x00, false)
    );
    // wrong password: ERR
    assert_eq!(client_login(&addr, &user, b"wrong", &native), (0xff, false));
    // claim caching_sha2: MariaDB switches us to native with a new scramble
    assert_eq!(
        client_login(&addr, &user, pw.as_bytes(), &sha2),
        (0x00, true)
    );
    assert_eq!(client_login(&addr, &user, b"wrong", &sha2), (0xff, true));
}

/// Serves one handshake to a real client and returns the verdict.
fn serve_one(
    listener: &TcpListener,
    greeting_plugin: &AuthPlugin,
    cred: &ServerCredential,
) -> ServerVerdict {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let scramble = new_scramble();
    let mut g = vec![10u8];
    g.extend_from_slice(b"10.11.0-sqlyard-test\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(&scramble[..8]);
    g.push(0);
    g.extend_from_slice(&(CAPS as u16).to_le_bytes());
    g.push(45);
    g.extend_from_slice(&0u16.to_le_bytes());
    g.extend_from_slice(&((CAPS >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0u8; 10]);
    g.extend_from_slice(&scramble[8..]);
    g.push(0);
    g.extend_from_slice(greeting_plugin.name().as_bytes());
    g.push(0);
    write_packet(&mut s, 0, &g);

    let (mut seq, hr) = read_packet(&mut s);
    let caps = u32::from_le_bytes([hr[0], hr[1], hr[2], hr[3]]);
    let (_user, rest) = nul_str(&hr[32..]);
    let resp_len = rest[0] as usize;
    let mut response = rest[1..1 + resp_len].to_vec();
    let mut rest = &rest[1 + resp_len..];
    if caps & CLIENT_CONNECT_WITH_DB != 0 {
        rest = nul_str(rest).1;
    }
    let client_plugin = AuthPlugin::from_name_bytes(nul_str(rest).0);
    let plugin = cred.plugin_for(&client_plugin);
    if plugin != client_plugin {
        let mut sw = vec![0xfe];
        sw.extend_from_slice(plugin.name().as_bytes());
        sw.push(0);
        sw.extend_from_slice(&scramble);
        sw.push(0);
        write_packet(&mut s, seq + 1, &sw);
        let (s2, r) = read_packet(&mut s);
        seq = s2;
        response = r;
    }
    let verdict = cred.verify(&plugin, &scramble, &response).unwrap();
    if let Some(more) = verdict.more_data_before_ok() {
        seq += 1;
        write_packet(&mut s, seq, more);
    }
    let reply: &[u8] = if verdict.is_accepted() {
        &[0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
    } else {
        b"\xff\x15\x04#28000Access denied"
    };
    write_packet(&mut s, seq + 1, reply);
    verdict
}

#[test]
#[ignore = "needs /usr/bin/python3 with python3-pymysql"]
fn pymysql_client_passes_our_server_checks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let plain = ServerCredential::plain("s3cret-Pw!");
    let hash = ServerCredential::NativeHash(native_hash(b"s3cret-Pw!"));
    let native = AuthPlugin::MysqlNativePassword;
    let sha2 = AuthPlugin::CachingSha2Password;
    let cases = [
        (&native, &plain, "s3cret-Pw!", ServerVerdict::Accept),
        (&native, &hash, "s3cret-Pw!", ServerVerdict::Accept),
        (
            &sha2,
            &plain,
            "s3cret-Pw!",
            ServerVerdict::AcceptAfterFastAuth,
        ),
        (&sha2, &hash, "s3cret-Pw!", ServerVerdict::Accept),
        (&native, &hash, "wrong", ServerVerdict::Reject),
        (&sha2, &plain, "wrong", ServerVerdict::Reject),
        (&sha2, &hash, "wrong", ServerVerdict::Reject),
    ];
    for (greeting_plugin, cred, pw, expected) in cases {
        let script = format!(
            "import pymysql,sys\ntry:\n pymysql.connect(host='127.0.0.1',port={port},user='u',password='{pw}',connect_timeout=5).close()\nexcept pymysql.err.OperationalError as e:\n print(e); sys.exit(3)\n"
        );
        let mut child = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .spawn()
            .unwrap();
        let verdict = serve_one(&listener, greeting_plugin, cred);
        let status = child.wait().unwrap();
        assert_eq!(verdict, expected, "{greeting_plugin} {cred:?} {pw}");
        assert_eq!(
            status.success(),
            expected.is_accepted(),
            "{greeting_plugin} {cred:?}"
        );
    }
}

#[test]
#[ignore = "needs the openssl command-line tool"]
fn openssl_decrypts_our_rsa_password() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let ct_path = dir.path().join("ct.bin");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let key_s = key.to_str().unwrap();
    openssl(&["genrsa", "-out", key_s, "2048"]);
    let pem = String::from_utf8(openssl(&["rsa", "-in", key_s, "-pubout"])).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
    let nonce = new_scramble();
    let password = b"a password longer than the twenty-byte nonce";
    let ct = super::rsa::encrypt_password_rsa(password, &nonce, &pem).unwrap();
    std::fs::write(&ct_path, &ct).unwrap();
    let plain = openssl(&[
        "pkeyutl",
        "-decrypt",
        "-inkey",
        key_s,
        "-in",
        ct_path.to_str().unwrap(),
        "-pkeyopt",
        "rsa_padding_mode:oaep",
        "-pkeyopt",
        "rsa_oaep_md:sha1",
        "-pkeyopt",
        "rsa_mgf1_md:sha1",
    ]);
    let unmasked: Vec<u8> = plain
        .iter()
        .zip(nonce.iter().cycle())
        .map(|(p, n)| p ^ n)
        .collect();
    let mut expected = password.to_vec();
    expected.push(0);
    assert_eq!(unmasked, expected);
}
