//! Problem: both sides of sqlyard must open connections: it greets clients
//! with its own handshake (fresh scramble each time) and parses their
//! response, and it answers backend servers' greetings as a client. These
//! are the handshake packet builders and parsers.

use super::constants::{cap, ext_cap};
use super::lenenc;

/// Capabilities sqlyard offers to clients.
pub const SERVER_CAPABILITIES: u32 = cap::LONG_PASSWORD
    | cap::FOUND_ROWS
    | cap::LONG_FLAG
    | cap::CONNECT_WITH_DB
    | cap::NO_SCHEMA
    | cap::ODBC
    | cap::LOCAL_FILES
    | cap::IGNORE_SPACE
    | cap::PROTOCOL_41
    | cap::INTERACTIVE
    | cap::IGNORE_SIGPIPE
    | cap::TRANSACTIONS
    | cap::RESERVED
    | cap::SECURE_CONNECTION
    | cap::MULTI_STATEMENTS
    | cap::MULTI_RESULTS
    | cap::PS_MULTI_RESULTS
    | cap::PLUGIN_AUTH
    | cap::CONNECT_ATTRS
    | cap::PLUGIN_AUTH_LENENC_DATA
    | cap::SESSION_TRACK
    | cap::DEPRECATE_EOF;

/// Builds the initial handshake (protocol v10) sqlyard sends to a client,
/// offering `capabilities` ([`SERVER_CAPABILITIES`], plus `SSL` where TLS
/// is configured). With MariaDB extended capabilities (`ext`, see
/// [`ext_cap`]), the greeting is a MariaDB server's: `CLIENT_MYSQL` (the
/// `LONG_PASSWORD` bit) is cleared and the extensions fill the last four
/// reserved bytes.
#[allow(clippy::too_many_arguments)]
pub fn initial_handshake(
    server_version: &str,
    connection_id: u32,
    scramble: &[u8; 20],
    collation: u8,
    status: u16,
    plugin: &str,
    capabilities: u32,
    ext: Option<u32>,
) -> Vec<u8> {
    let capabilities = match ext {
        Some(_) => capabilities & !cap::LONG_PASSWORD,
        None => capabilities,
    };
    let mut p = Vec::with_capacity(128);
    p.push(10);
    p.extend_from_slice(server_version.as_bytes());
    p.push(0);
    p.extend_from_slice(&connection_id.to_le_bytes());
    p.extend_from_slice(&scramble[..8]);
    p.push(0);
    p.extend_from_slice(&(capabilities as u16).to_le_bytes());
    p.push(collation);
    p.extend_from_slice(&status.to_le_bytes());
    p.extend_from_slice(&((capabilities >> 16) as u16).to_le_bytes());
    p.push(21); // auth plugin data length: 20 + NUL
    p.extend_from_slice(&[0u8; 6]);
    p.extend_from_slice(&ext.unwrap_or(0).to_le_bytes());
    p.extend_from_slice(&scramble[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// A client's HandshakeResponse41.
#[derive(Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    pub capabilities: u32,
    pub max_packet: u32,
    pub collation: u8,
    pub user: String,
    pub auth_response: Vec<u8>,
    pub database: Option<String>,
    pub plugin: Option<String>,
    /// MariaDB extended capabilities the client asked for (none unless
    /// the greeting cleared `CLIENT_MYSQL`; masked by the caller).
    pub ext_capabilities: u32,
    /// True when this is an SSLRequest: the client's capabilities only,
    /// and the TLS handshake follows; the real response comes over TLS.
    pub ssl_request: bool,
}

impl std::fmt::Debug for HandshakeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandshakeResponse")
            .field("capabilities", &format_args!("{:#x}", self.capabilities))
            .field("collation", &self.collation)
            .field("user", &self.user)
            .field("auth_response", &"<hidden>")
            .field("database", &self.database)
            .field("plugin", &self.plugin)
            .finish()
    }
}

/// Parses a HandshakeResponse41. Pre-4.1 clients are refused.
pub fn parse_handshake_response(p: &[u8]) -> Result<HandshakeResponse, &'static str> {
    // An SSLRequest is the 32-byte fixed part of a response, nothing more.
    if p.len() <= 32 {
        if p.len() >= 4 {
            let caps = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
            if caps & cap::SSL != 0 {
                return Ok(HandshakeResponse {
                    capabilities: caps,
                    max_packet: 0,
                    collation: 0,
                    user: String::new(),
                    auth_response: Vec::new(),
                    database: None,
                    plugin: None,
                    ext_capabilities: 0,
                    ssl_request: true,
                });
            }
        }
        return Err("handshake response too short");
    }
    let capabilities = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
    if capabilities & cap::PROTOCOL_41 == 0 {
        return Err("client does not speak protocol 4.1");
    }
    let max_packet = u32::from_le_bytes([p[4], p[5], p[6], p[7]]);
    let collation = p[8];
    // a MariaDB client talking to a MariaDB server: extensions at 28..32
    let ext_capabilities = if capabilities & cap::LONG_PASSWORD == 0 {
        u32::from_le_bytes([p[28], p[29], p[30], p[31]])
    } else {
        0
    };
    let mut rest = &p[32..];
    let user = lenenc::read_null_terminated(&mut rest).ok_or("user name is not terminated")?;
    let auth_response = if capabilities & cap::PLUGIN_AUTH_LENENC_DATA != 0 {
        lenenc::read_bytes(&mut rest).ok_or("bad auth response")?
    } else if capabilities & cap::SECURE_CONNECTION != 0 {
        let (&n, r) = rest.split_first().ok_or("missing auth response")?;
        let n = n as usize;
        if r.len() < n {
            return Err("auth response too short");
        }
        rest = &r[n..];
        &r[..n]
    } else {
        lenenc::read_null_terminated(&mut rest).ok_or("bad auth response")?
    };
    let database = if capabilities & cap::CONNECT_WITH_DB != 0 && !rest.is_empty() {
        let db = lenenc::read_null_terminated(&mut rest).unwrap_or(&[]);
        (!db.is_empty()).then(|| String::from_utf8_lossy(db).into_owned())
    } else {
        None
    };
    let plugin = if capabilities & cap::PLUGIN_AUTH != 0 && !rest.is_empty() {
        lenenc::read_null_terminated(&mut rest)
            .or(Some(rest))
            .map(|s| String::from_utf8_lossy(s).into_owned())
    } else {
        None
    };
    Ok(HandshakeResponse {
        capabilities,
        max_packet,
        collation,
        user: String::from_utf8_lossy(user).into_owned(),
        auth_response: auth_response.to_vec(),
        database,
        plugin,
        ext_capabilities,
        ssl_request: false,
    })
}

/// The SSLRequest sqlyard sends a server before the TLS handshake: the
/// fixed 32 bytes of a HandshakeResponse41 with `SSL` set.
/// With MariaDB extended capabilities (`ext`), they are in its last four
/// bytes, as in the response that follows: a server takes the client's
/// capabilities from the SSLRequest.
pub fn ssl_request(capabilities: u32, collation: u8, ext: Option<u32>) -> Vec<u8> {
    let mut p = Vec::with_capacity(32);
    fixed_part(&mut p, capabilities | cap::SSL, collation, ext);
    p
}

/// The fixed 32 bytes that start a HandshakeResponse41 (and are the whole
/// SSLRequest): capabilities, max packet size, collation, filler, and with
/// MariaDB extended capabilities (`ext`) `CLIENT_MYSQL` cleared and the
/// extensions in the last four bytes.
fn fixed_part(p: &mut Vec<u8>, capabilities: u32, collation: u8, ext: Option<u32>) {
    let caps = match ext {
        Some(_) => capabilities & !cap::LONG_PASSWORD,
        None => capabilities,
    };
    p.extend_from_slice(&caps.to_le_bytes());
    p.extend_from_slice(&(1u32 << 30).to_le_bytes());
    p.push(collation);
    p.extend_from_slice(&[0u8; 19]);
    p.extend_from_slice(&(ext.unwrap_or(0) & ext_cap::SUPPORTED).to_le_bytes());
}

/// A server's initial handshake, as seen by sqlyard acting as a client.
#[derive(Debug, Clone)]
pub struct ServerGreeting {
    pub version: String,
    pub connection_id: u32,
    pub capabilities: u32,
    pub collation: u8,
    pub status: u16,
    pub scramble: Vec<u8>,
    pub plugin: String,
    /// MariaDB extended capabilities (zero from a MySQL server, which
    /// sets `CLIENT_MYSQL`).
    pub ext_capabilities: u32,
}

/// Parses a server's initial handshake (protocol v10).
pub fn parse_greeting(p: &[u8]) -> Result<ServerGreeting, &'static str> {
    let (&proto, mut rest) = p.split_first().ok_or("empty greeting")?;
    if proto != 10 {
        return Err("unsupported protocol version");
    }
    let version = lenenc::read_null_terminated(&mut rest).ok_or("bad server version")?;
    if rest.len() < 4 + 8 + 1 + 2 {
        return Err("greeting too short");
    }
    let connection_id = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let mut scramble = rest[4..12].to_vec();
    let mut caps = u16::from_le_bytes([rest[13], rest[14]]) as u32;
    rest = &rest[15..];
    let (mut collation, mut status, mut auth_len, mut ext) = (0u8, 0u16, 0usize, 0u32);
    if rest.len() >= 16 {
        collation = rest[0];
        status = u16::from_le_bytes([rest[1], rest[2]]);
        caps |= (u16::from_le_bytes([rest[3], rest[4]]) as u32) << 16;
        auth_len = rest[5] as usize;
        if caps & cap::LONG_PASSWORD == 0 {
            ext = u32::from_le_bytes([rest[12], rest[13], rest[14], rest[15]]);
        }
        rest = &rest[16..];
    }
    let mut plugin = String::from("mysql_native_password");
    if caps & cap::SECURE_CONNECTION != 0 {
        let n = auth_len.saturating_sub(8).max(13).min(rest.len());
        let part = &rest[..n];
        let part = part.strip_suffix(&[0]).unwrap_or(part);
        scramble.extend_from_slice(part);
        rest = &rest[n..];
    }
    if caps & cap::PLUGIN_AUTH != 0 && !rest.is_empty() {
        let name = lenenc::read_null_terminated(&mut rest).unwrap_or(rest);
        plugin = String::from_utf8_lossy(name).into_owned();
    }
    Ok(ServerGreeting {
        version: String::from_utf8_lossy(version).into_owned(),
        connection_id,
        capabilities: caps,
        collation,
        status,
        scramble,
        plugin,
        ext_capabilities: ext,
    })
}

/// Builds the HandshakeResponse41 sqlyard sends to a backend server. With
/// MariaDB extended capabilities (`ext`, for a server whose greeting had
/// them), `CLIENT_MYSQL` is cleared and they fill the last reserved bytes.
pub fn handshake_response(
    capabilities: u32,
    collation: u8,
    user: &str,
    auth_response: &[u8],
    database: Option<&str>,
    plugin: &str,
    ext: Option<u32>,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(128);
    let mut caps = capabilities | cap::PLUGIN_AUTH_LENENC_DATA;
    if database.is_some() {
        caps |= cap::CONNECT_WITH_DB;
    } else {
        caps &= !cap::CONNECT_WITH_DB;
    }
    fixed_part(&mut p, caps, collation, ext);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    lenenc::write_bytes(&mut p, auth_response);
    if let Some(db) = database {
        p.extend_from_slice(db.as_bytes());
        p.push(0);
    }
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// Builds an AuthSwitchRequest asking the client to use `plugin`.
pub fn auth_switch_request(plugin: &str, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(2 + plugin.len() + data.len());
    p.push(0xfe);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p.extend_from_slice(data);
    p.push(0);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_round_trip() {
        let scramble = *b"abcdefghijklmnopqrst";
        let g = initial_handshake(
            "8.0.35-sqlyard",
            42,
            &scramble,
            45,
            2,
            "mysql_native_password",
            SERVER_CAPABILITIES,
            None,
        );
        let parsed = parse_greeting(&g).unwrap();
        assert_eq!(parsed.version, "8.0.35-sqlyard");
        assert_eq!(parsed.connection_id, 42);
        assert_eq!(parsed.scramble, scramble.to_vec());
        assert_eq!(parsed.plugin, "mysql_native_password");
        assert_eq!(parsed.capabilities, SERVER_CAPABILITIES);
        assert_eq!(parsed.ext_capabilities, 0);
    }

    #[test]
    fn mariadb_extended_capabilities_round_trip() {
        let scramble = *b"abcdefghijklmnopqrst";
        let ext = ext_cap::PROGRESS | ext_cap::STMT_BULK_OPERATIONS;
        let g = initial_handshake(
            "5.5.5-10.11.6-MariaDB-sqlyard",
            7,
            &scramble,
            45,
            2,
            "mysql_native_password",
            SERVER_CAPABILITIES,
            Some(ext),
        );
        let parsed = parse_greeting(&g).unwrap();
        assert_eq!(
            parsed.capabilities & cap::LONG_PASSWORD,
            0,
            "CLIENT_MYSQL is cleared"
        );
        assert_eq!(parsed.ext_capabilities, ext);
        assert_eq!(parsed.scramble, scramble.to_vec());
        // a MariaDB client answers with its extensions at bytes 28..32
        let r = handshake_response(
            SERVER_CAPABILITIES,
            45,
            "app",
            &[1; 20],
            None,
            "mysql_native_password",
            Some(ext_cap::STMT_BULK_OPERATIONS | 1 << 3),
        );
        let parsed = parse_handshake_response(&r).unwrap();
        assert_eq!(parsed.capabilities & cap::LONG_PASSWORD, 0);
        assert_eq!(parsed.ext_capabilities, ext_cap::STMT_BULK_OPERATIONS);
        // the SSLRequest carries them too
        let p = ssl_request(SERVER_CAPABILITIES, 45, Some(ext_cap::PROGRESS));
        assert_eq!(p.len(), 32);
        assert_eq!(p[0] & cap::LONG_PASSWORD as u8, 0);
        assert_eq!(&p[28..32], &ext_cap::PROGRESS.to_le_bytes());
        // a MySQL-style response (CLIENT_MYSQL set) has none
        let r = handshake_response(SERVER_CAPABILITIES, 45, "app", &[], None, "x", None);
        assert_eq!(parse_handshake_response(&r).unwrap().ext_capabilities, 0);
    }

    #[test]
    fn response_round_trip() {
        let caps = SERVER_CAPABILITIES;
        let r = handshake_response(
            caps,
            45,
            "app",
            &[1, 2, 3],
            Some("db1"),
            "mysql_native_password",
            None,
        );
        let parsed = parse_handshake_response(&r).unwrap();
        assert_eq!(parsed.user, "app");
        assert_eq!(parsed.auth_response, vec![1, 2, 3]);
        assert_eq!(parsed.database.as_deref(), Some("db1"));
        assert_eq!(parsed.plugin.as_deref(), Some("mysql_native_password"));
        assert!(!format!("{parsed:?}").contains("[1, 2, 3]"));
    }

    #[test]
    fn a_32_byte_ssl_request_is_recognized() {
        // libmariadb and libmysqlclient send exactly the fixed 32 bytes
        let p = ssl_request(SERVER_CAPABILITIES, 45, None);
        assert_eq!(p.len(), 32);
        let parsed = parse_handshake_response(&p).unwrap();
        assert!(parsed.ssl_request);
        // without the SSL flag, 32 bytes are a truncated response
        let mut q = p.clone();
        q[1] &= !((cap::SSL >> 8) as u8);
        assert!(parse_handshake_response(&q).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for n in 0..64 {
            let p: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
            let _ = parse_handshake_response(&p);
            let _ = parse_greeting(&p);
        }
    }
}
