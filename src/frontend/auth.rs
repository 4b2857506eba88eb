//! Problem: a client must prove it knows its password before it gets a
//! session, with a fresh random scramble every time, using the plugin its
//! driver speaks (mysql_native_password or caching_sha2_password), and a
//! wrong password must get MySQL's usual access-denied error.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpStream;

use super::error::SessionError;
use crate::app::context::Context;
use crate::config::Config;
use crate::protocol::auth::{new_scramble, AuthPlugin, ServerCredential};
use crate::protocol::constants::status;
use crate::protocol::handshake::{
    auth_switch_request, initial_handshake, parse_handshake_response, HandshakeResponse,
    SERVER_CAPABILITIES,
};
use crate::protocol::response::ok_payload;
use crate::protocol::PacketIo;

/// A client that logged in.
#[derive(Debug)]
pub struct LoggedIn {
    pub response: HandshakeResponse,
    pub scramble: [u8; 20],
    /// Sequence id for the next packet sqlyard sends.
    pub seq: u8,
    /// The config the user was checked against; the session starts with it.
    pub config: Arc<Config>,
}

/// Greets the client, reads its response and authenticates it.
/// On failure the ERR packet has been sent already.
pub async fn handshake(
    ctx: &Context,
    io: &mut PacketIo<TcpStream>,
    conn_id: u32,
    host: &str,
) -> Result<LoggedIn, SessionError> {
    let scramble = new_scramble();
    let (response, mut seq) = greet(io, &ctx.server_version(), conn_id, &scramble).await?;
    let denied = |using_password: bool| SessionError::AccessDenied {
        user: response.user.clone(),
        host: host.to_string(),
        using_password,
    };
    let config = ctx.config.load_full();
    // after consecutive failures from this address as this user, wait
    // before answering (MySQL's connection_control)
    let delay = ctx.login_failures.delay(
        host,
        &response.user,
        config.router.auth_failures_before_delay,
        config.router.auth_max_delay.get(),
    );
    if !delay.is_zero() {
        ctx.stats.auth_delays.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
    }
    let cred = Context::login_credential(&config, &response.user);
    let client_plugin = AuthPlugin::from_name(
        response
            .plugin
            .as_deref()
            .unwrap_or("mysql_native_password"),
    );
    // An unknown user is checked against a random password: the exchange
    // (plugin switch included) is the same as for a wrong password, so the
    // wire does not tell which user names exist.
    let known = cred.is_some();
    let cred = cred.unwrap_or_else(|| ServerCredential::plain(new_scramble().to_vec()));
    let (accepted, auth_data, seq2) = verify(
        io,
        &cred,
        &client_plugin,
        &scramble,
        response.auth_response.clone(),
        seq,
    )
    .await?;
    seq = seq2;
    if !accepted || !known {
        ctx.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        ctx.login_failures.failed(host, &response.user);
        let e = denied(!auth_data.is_empty());
        io.send(seq, &e.to_err_payload()).await?;
        return Err(e);
    }
    ctx.login_failures.succeeded(host, &response.user);
    learn_sha1(ctx, &response.user, &cred, &scramble, &auth_data);
    Ok(LoggedIn {
        response,
        scramble,
        seq,
        config,
    })
}

/// Sends the greeting with `scramble` and reads the client's handshake
/// response; returns it with the next sequence id. A TLS request or a
/// malformed response gets its ERR here.
pub async fn greet(
    io: &mut PacketIo<TcpStream>,
    version: &str,
    conn_id: u32,
    scramble: &[u8; 20],
) -> Result<(HandshakeResponse, u8), SessionError> {
    let greeting = initial_handshake(
        version,
        conn_id,
        scramble,
        crate::protocol::constants::DEFAULT_COLLATION,
        status::AUTOCOMMIT,
        AuthPlugin::MysqlNativePassword.name(),
    );
    io.send(0, &greeting).await?;
    let pkt = io.read_packet().await?;
    let seq = pkt.seq.wrapping_add(1);
    match parse_handshake_response(&pkt.payload) {
        Ok(r) if r.ssl_request => {
            let e = SessionError::TlsUnsupported;
            io.send(seq, &e.to_err_payload()).await?;
            Err(e)
        }
        Ok(r) => Ok((r, seq)),
        Err(what) => {
            let e = SessionError::Malformed(what);
            let _ = io.send(seq, &e.to_err_payload()).await;
            Err(e)
        }
    }
}

/// Runs the plugin exchange; returns (accepted, the response that was
/// checked, next seq). Switches plugin or scramble when needed.
pub async fn verify(
    io: &mut PacketIo<TcpStream>,
    cred: &ServerCredential,
    client_plugin: &AuthPlugin,
    scramble: &[u8; 20],
    first_response: Vec<u8>,
    mut seq: u8,
) -> Result<(bool, Vec<u8>, u8), SessionError> {
    let plugin = cred.plugin_for(client_plugin);
    let mut data = first_response;
    // A client whose own plugin differs from the one the greeting named
    // (mariadb --default-auth=caching_sha2_password) sends an empty first
    // response and expects to be asked again: ask, with the same scramble.
    let ask_again = data.is_empty() && plugin == AuthPlugin::CachingSha2Password;
    if plugin != *client_plugin || ask_again {
        io.send(seq, &auth_switch_request(plugin.name(), scramble))
            .await?;
        let pkt = io.read_packet().await?;
        seq = pkt.seq.wrapping_add(1);
        data = pkt.payload.to_vec();
    }
    let verdict = cred
        .verify(&plugin, scramble, &data)
        .map_err(|_| SessionError::Malformed("authentication"))?;
    if let Some(more) = verdict.more_data_before_ok() {
        seq = io.send(seq, more).await?;
    }
    Ok((verdict.is_accepted(), data, seq))
}

/// For users configured by hash only: keep SHA1(password), recovered from
/// a successful native login, so sqlyard can log in to the servers.
fn learn_sha1(
    ctx: &Context,
    user: &str,
    cred: &ServerCredential,
    scramble: &[u8; 20],
    response: &[u8],
) {
    if let ServerCredential::NativeHash(stored) = cred {
        if response.len() == 20 {
            use sha1::{Digest, Sha1};
            let mut h = Sha1::new();
            h.update(scramble);
            h.update(stored);
            let x = h.finalize();
            let mut sha1 = [0u8; 20];
            for i in 0..20 {
                sha1[i] = response[i] ^ x[i];
            }
            ctx.backends.credentials.learn_sha1(user, sha1);
        }
    }
}

/// The capabilities both sides have.
pub fn negotiated(client_caps: u32) -> u32 {
    client_caps & SERVER_CAPABILITIES
}

/// OK packet sent after a successful login.
pub fn login_ok(status_flags: u16) -> Vec<u8> {
    ok_payload(0, 0, status_flags, 0)
}
