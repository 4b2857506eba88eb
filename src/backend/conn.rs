//! Problem: sqlyard must log in to MariaDB and MySQL servers as a client
//! (mysql_native_password or caching_sha2_password), turn on the server's
//! session-state tracking so it can follow each session's state, and
//! remember what state the connection currently holds.

use std::collections::BTreeMap;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::credentials::BackendCredential;
use super::error::BackendError;
use super::pool::PoolKey;
use super::prepared::ConnStatements;
use crate::protocol::auth;
use crate::protocol::constants::cap;
use crate::protocol::handshake::{handshake_response, parse_greeting, ssl_request};
use crate::protocol::response::parse_err;
use crate::protocol::PacketIo;
use crate::tls::{BackendTlsSet, TlsInfo, Transport};

/// Capabilities sqlyard always asks of a backend (the per-pool ones come
/// from the client, see [`PoolKey`]).
pub const BACKEND_CAPABILITIES: u32 = cap::LONG_PASSWORD
    | cap::LONG_FLAG
    | cap::PROTOCOL_41
    | cap::IGNORE_SIGPIPE
    | cap::TRANSACTIONS
    | cap::SECURE_CONNECTION
    | cap::MULTI_STATEMENTS
    | cap::MULTI_RESULTS
    | cap::PS_MULTI_RESULTS
    | cap::PLUGIN_AUTH
    | cap::PLUGIN_AUTH_LENENC_DATA
    | cap::SESSION_TRACK;

/// The statement that turns on session-state tracking on a fresh (or
/// reset) backend connection.
pub const TRACKING_SETUP: &str =
    "session_track_system_variables='*', session_track_schema=ON, session_track_state_change=ON";

/// The statement that turns on tracking on a server announcing `version`.
pub fn tracking_sql(version: &str) -> String {
    if is_mariadb(version) {
        format!("SET {TRACKING_SETUP}")
    } else {
        format!("SET {TRACKING_SETUP}, session_track_gtids=OWN_GTID")
    }
}

/// Whether a server's handshake version string is MariaDB's (else MySQL).
pub fn is_mariadb(version: &str) -> bool {
    version.contains("MariaDB")
}

/// Session state a backend connection holds, or a client session wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnState {
    /// Current database.
    pub db: Option<String>,
    /// Session system variables changed from the connection's defaults,
    /// as reported by session tracking (lower-case name -> value).
    pub vars: BTreeMap<String, String>,
    /// User variables (name -> SQL literal that recreates the value).
    pub user_vars: BTreeMap<String, String>,
    /// Whether multi-statements are enabled (COM_SET_OPTION).
    pub multi_statements: bool,
}

/// One authenticated connection to a backend server.
pub struct BackendConn {
    pub io: PacketIo<Transport>,
    pub addr: Arc<str>,
    pub thread_id: u32,
    pub server_version: String,
    pub caps: u32,
    pub key: PoolKey,
    pub state: ConnState,
    /// (session id, session state version) this connection was last synced to.
    pub synced_to: Option<(u32, u64)>,
    pub created: Instant,
    pub last_used: Instant,
    pub uses: u64,
    /// Statements prepared on this connection, by SQL text: the server's
    /// statement id and the parameter types last bound to it.
    pub prepared: ConnStatements,
    /// Its place in the server's connection limit (pool connections only).
    pub slot: Option<super::server_limit::ConnSlot>,
}

impl std::fmt::Debug for BackendConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackendConn")
            .field("addr", &self.addr)
            .field("thread_id", &self.thread_id)
            .finish()
    }
}

impl BackendConn {
    pub fn deprecate_eof(&self) -> bool {
        self.caps & cap::DEPRECATE_EOF != 0
    }

    /// Opens, authenticates and prepares a connection, with TLS as `tls`
    /// says for this server.
    pub async fn connect(
        addr: &Arc<str>,
        cred: &BackendCredential,
        key: &PoolKey,
        timeout: Duration,
        tls: &BackendTlsSet,
    ) -> Result<BackendConn, BackendError> {
        match tokio::time::timeout(timeout, Self::connect_inner(addr, cred, key, tls)).await {
            Ok(r) => r,
            Err(_) => Err(BackendError::ConnectTimeout {
                addr: addr.to_string(),
                ms: timeout.as_millis(),
            }),
        }
    }

    /// The TLS version and cipher of this connection, if encrypted.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.io.get_ref().tls_info()
    }

    async fn connect_inner(
        addr: &Arc<str>,
        cred: &BackendCredential,
        key: &PoolKey,
        tls: &BackendTlsSet,
    ) -> Result<BackendConn, BackendError> {
        let stream = TcpStream::connect(&**addr)
            .await
            .map_err(|source| BackendError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut io = PacketIo::new(Transport::Plain(stream));
        let perr = |source| BackendError::Protocol {
            addr: addr.to_string(),
            source,
        };
        let unexpected = |what| BackendError::Unexpected {
            addr: addr.to_string(),
            what,
        };
        let greet_pkt = io.read_packet().await.map_err(perr)?;
        if greet_pkt.payload.first() == Some(&0xff) {
            let e = parse_err(&greet_pkt.payload).ok_or_else(|| unexpected("bad ERR greeting"))?;
            return Err(BackendError::Server {
                addr: addr.to_string(),
                err: e,
            });
        }
        let greeting = parse_greeting(&greet_pkt.payload).map_err(unexpected)?;
        let mut caps = (BACKEND_CAPABILITIES | key.caps)
            & (greeting.capabilities | cap::PLUGIN_AUTH_LENENC_DATA);
        // MariaDB extensions the session negotiated, if this server has them
        // (the SSLRequest and the response then clear CLIENT_MYSQL)
        let ext = (greeting.capabilities & cap::LONG_PASSWORD == 0)
            .then_some(key.ext & greeting.ext_capabilities);
        let mut seq = greet_pkt.seq.wrapping_add(1);
        let choice = tls.for_server(addr);
        let offered = greeting.capabilities & cap::SSL != 0;
        if choice.mode.requires_tls() && !offered {
            return Err(BackendError::TlsUnavailable {
                addr: addr.to_string(),
                mode: choice.mode.as_str(),
            });
        }
        if choice.wants_tls() && offered {
            caps |= cap::SSL;
            seq = io
                .send(seq, &ssl_request(caps, key.collation, ext))
                .await
                .map_err(perr)?;
            let tls_err = |source| BackendError::Tls {
                addr: addr.to_string(),
                mode: choice.mode.as_str(),
                source,
            };
            if !io.rbuf().is_empty() {
                return Err(unexpected("data before the TLS handshake"));
            }
            let tcp = io.get_mut().take_plain().map_err(tls_err)?;
            *io.get_mut() = choice.connect(addr, tcp).await.map_err(tls_err)?;
        }
        let encrypted = io.get_ref().is_tls();
        let (plugin, response) = auth_response(addr, cred, &greeting.plugin, &greeting.scramble)?;
        let hs = handshake_response(
            caps,
            key.collation,
            &cred.user,
            &response,
            None,
            plugin,
            ext,
        );
        io.send(seq, &hs).await.map_err(perr)?;
        let mut nonce = greeting.scramble.clone();
        let mut current_plugin = plugin.to_string();
        let mut sha2: Option<auth::Sha2Client> = None;
        loop {
            let pkt = io.read_packet().await.map_err(perr)?;
            seq = pkt.seq.wrapping_add(1);
            let p = &pkt.payload[..];
            match p.first() {
                Some(0x00) => break,
                Some(0xff) => {
                    let e = parse_err(p).ok_or_else(|| unexpected("bad ERR packet"))?;
                    let mut message = e.message;
                    if e.code == 1045
                        && offered
                        && choice.mode == crate::config::BackendTlsMode::Off
                    {
                        message.push_str(crate::topology::error::PLAINTEXT_HINT);
                    }
                    return Err(BackendError::Auth {
                        addr: addr.to_string(),
                        user: cred.user.clone(),
                        code: e.code,
                        state: e.state,
                        message,
                    });
                }
                Some(0xfe) => {
                    // AuthSwitchRequest: plugin name NUL data
                    let rest = &p[1..];
                    let pos = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                    let name = String::from_utf8_lossy(&rest[..pos]).into_owned();
                    let data = rest.get(pos + 1..).unwrap_or(&[]);
                    let data = data.strip_suffix(&[0]).unwrap_or(data);
                    nonce = data.to_vec();
                    sha2 = None;
                    let (plugin, response) = auth_response(addr, cred, &name, &nonce)?;
                    current_plugin = plugin.to_string();
                    io.send(seq, &response).await.map_err(perr)?;
                }
                Some(0x01) if current_plugin == "caching_sha2_password" => {
                    if sha2.is_none() {
                        let pw = cred.password.as_ref().ok_or(BackendError::NoCredential {
                            addr: addr.to_string(),
                            user: cred.user.clone(),
                            reason: "caching_sha2_password needs the plain password",
                        })?;
                        sha2 = Some(
                            auth::Sha2Client::new(pw.expose().as_bytes(), &nonce, encrypted)
                                .with_key_policy(
                                    tls.server_public_key.as_deref(),
                                    tls.allow_public_key_retrieval,
                                ),
                        );
                    }
                    let Some(client) = sha2.as_mut() else {
                        continue;
                    };
                    let step = client.on_more_data(p).map_err(|source| match source {
                        auth::AuthError::InsecureFullAuth => BackendError::InsecureAuth {
                            addr: addr.to_string(),
                            user: cred.user.clone(),
                        },
                        source => BackendError::Auth2 {
                            addr: addr.to_string(),
                            source,
                        },
                    })?;
                    if let Some(data) = step.payload() {
                        io.send(seq, &data).await.map_err(perr)?;
                    }
                }
                _ => return Err(unexpected("unexpected packet during authentication")),
            }
        }
        let mut conn = BackendConn {
            io,
            addr: addr.clone(),
            thread_id: greeting.connection_id,
            server_version: greeting.version,
            caps,
            key: key.clone(),
            state: ConnState {
                multi_statements: caps & cap::MULTI_STATEMENTS != 0,
                ..Default::default()
            },
            synced_to: None,
            created: Instant::now(),
            last_used: Instant::now(),
            uses: 0,
            prepared: ConnStatements::default(),
            slot: None,
        };
        conn.setup_tracking().await?;
        Ok(conn)
    }

    /// Turns on session-state tracking (after connect or reset). MySQL
    /// also reports the GTID of each of the session's own transactions
    /// (read-your-writes); MariaDB reports it as the `last_gtid` variable.
    pub async fn setup_tracking(&mut self) -> Result<(), BackendError> {
        let sql = tracking_sql(&self.server_version);
        super::internal::execute(self, &sql).await?;
        Ok(())
    }
}

/// Computes the first auth response for `plugin`, falling back to
/// mysql_native_password for plugins sqlyard cannot answer.
fn auth_response(
    addr: &str,
    cred: &BackendCredential,
    plugin: &str,
    nonce: &[u8],
) -> Result<(&'static str, Vec<u8>), BackendError> {
    let nonce = &nonce[..nonce.len().min(20)];
    if plugin == "caching_sha2_password" {
        if let Some(pw) = &cred.password {
            return Ok((
                "caching_sha2_password",
                auth::sha2_client_response(pw.expose().as_bytes(), nonce),
            ));
        }
        return Err(BackendError::NoCredential {
            addr: addr.to_string(),
            user: cred.user.clone(),
            reason: "caching_sha2_password needs the plain password, but only a hash is configured",
        });
    }
    if let Some(pw) = &cred.password {
        return Ok((
            "mysql_native_password",
            auth::native_client_response(pw.expose().as_bytes(), nonce),
        ));
    }
    match cred.sha1 {
        Some(sha1) => Ok((
            "mysql_native_password",
            native_response_from_sha1(&sha1, nonce),
        )),
        None => Err(BackendError::NoCredential {
            addr: addr.to_string(),
            user: cred.user.clone(),
            reason: "the user is configured by hash only and no client has logged in yet",
        }),
    }
}

/// mysql_native_password response from SHA1(password):
/// SHA1(pw) XOR SHA1(nonce + SHA1(SHA1(pw))).
pub fn native_response_from_sha1(sha1_pw: &[u8; 20], nonce: &[u8]) -> Vec<u8> {
    use sha1::{Digest, Sha1};
    let stage2 = Sha1::digest(sha1_pw);
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(stage2);
    let x = h.finalize();
    sha1_pw.iter().zip(x.iter()).map(|(a, b)| a ^ b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_sql_per_flavor() {
        assert!(!tracking_sql("10.11.19-MariaDB-0+deb12u1-log").contains("session_track_gtids"));
        assert!(tracking_sql("8.0.36").ends_with("session_track_gtids=OWN_GTID"));
    }

    #[test]
    fn sha1_response_matches_plain_response() {
        use sha1::{Digest, Sha1};
        let nonce = b"0123456789abcdefghij";
        let sha1: [u8; 20] = Sha1::digest(b"secret").into();
        assert_eq!(
            native_response_from_sha1(&sha1, nonce),
            auth::native_client_response(b"secret", nonce)
        );
    }
}
