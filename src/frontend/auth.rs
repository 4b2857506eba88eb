//! Problem: a client must prove it knows its password before it gets a
//! session, with a fresh random scramble every time, using the plugin its
//! driver speaks (mysql_native_password or caching_sha2_password), and a
//! wrong password must get MySQL's usual access-denied error.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::error::SessionError;
use crate::app::context::Context;
use crate::config::Config;
use crate::protocol::auth::{new_scramble, AuthPlugin, ServerCredential};
use crate::protocol::constants::cap;
use crate::protocol::constants::status;
use crate::protocol::handshake::{
    auth_switch_request, initial_handshake, parse_handshake_response, HandshakeResponse,
    SERVER_CAPABILITIES,
};
use crate::protocol::response::ok_payload;
use crate::protocol::PacketIo;
use crate::tls::{ServerTls, Transport};

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
    io: &mut PacketIo<Transport>,
    conn_id: u32,
    host: &str,
) -> Result<LoggedIn, SessionError> {
    let scramble = new_scramble();
    let tls = ctx.listener_tls.get();
    let (response, mut seq) = greet(
        io,
        &ctx.server_version(),
        conn_id,
        &scramble,
        tls.as_deref(),
        ctx.mariadb_extensions(),
    )
    .await?;
    if tls.as_ref().is_some_and(|t| t.require) && !io.get_ref().is_tls() {
        let e = SessionError::InsecureTransport("[tls] require = true");
        io.send(seq, &e.to_err_payload()).await?;
        return Err(e);
    }
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
    let checked = verify(
        io,
        &cred,
        &client_plugin,
        &scramble,
        response.auth_response.clone(),
        seq,
    )
    .await?;
    seq = checked.seq;
    if !checked.accepted || !known {
        ctx.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
        ctx.login_failures.failed(host, &response.user);
        let e = denied(!checked.data.is_empty());
        io.send(seq, &e.to_err_payload()).await?;
        return Err(e);
    }
    // The password was right: now the transport the user must use.
    if let Some(user) = config.user(&response.user) {
        if let Some(why) = transport_refusal(user, io.get_ref()) {
            ctx.stats.auth_failures.fetch_add(1, Ordering::Relaxed);
            let e = SessionError::TransportDenied {
                user: response.user.clone(),
                host: host.to_string(),
                why,
            };
            io.send(seq, &e.to_err_payload()).await?;
            return Err(e);
        }
    }
    ctx.login_failures.succeeded(host, &response.user);
    learn(ctx, &response.user, &cred, &scramble, checked);
    Ok(LoggedIn {
        response,
        scramble,
        seq,
        config,
    })
}

/// Why `user` may not use this connection's transport, if it may not.
pub fn transport_refusal(
    user: &crate::config::UserConfig,
    transport: &Transport,
) -> Option<&'static str> {
    if user.require_tls && !transport.is_tls() {
        Some("this user must connect over TLS ([[users]] require_tls)")
    } else if user.require_x509 && !transport.peer_has_certificate() {
        Some("this user must present a client certificate signed by [tls] client_ca ([[users]] require_x509)")
    } else {
        None
    }
}

/// Sends the greeting with `scramble` (offering TLS when `tls` is set,
/// and MariaDB's extended capabilities `ext` when given) and reads the client's handshake response; returns it with the next
/// sequence id. After an SSLRequest the TLS handshake runs on the same
/// socket and the response is read over TLS. A TLS request on a listener
/// without TLS, or a malformed response, gets its ERR here.
pub async fn greet(
    io: &mut PacketIo<Transport>,
    version: &str,
    conn_id: u32,
    scramble: &[u8; 20],
    tls: Option<&ServerTls>,
    ext: Option<u32>,
) -> Result<(HandshakeResponse, u8), SessionError> {
    let caps = match tls {
        Some(_) => SERVER_CAPABILITIES | cap::SSL,
        None => SERVER_CAPABILITIES,
    };
    let greeting = initial_handshake(
        version,
        conn_id,
        scramble,
        crate::protocol::constants::DEFAULT_COLLATION,
        status::AUTOCOMMIT,
        AuthPlugin::MysqlNativePassword.name(),
        caps,
        ext,
    );
    io.send(0, &greeting).await?;
    let mut pkt = io.read_packet().await?;
    let mut parsed = parse_handshake_response(&pkt.payload);
    if parsed.as_ref().is_ok_and(|r| r.ssl_request) {
        let Some(tls) = tls else {
            let e = SessionError::TlsNotConfigured;
            io.send(pkt.seq.wrapping_add(1), &e.to_err_payload())
                .await?;
            return Err(e);
        };
        // The client may have sent its ClientHello right behind the
        // SSLRequest, into the read buffer: the handshake starts there.
        let pre = io.rbuf().split().freeze();
        let tcp = io
            .get_mut()
            .take_plain()
            .map_err(SessionError::TlsHandshake)?;
        *io.get_mut() = tls
            .accept(pre, tcp)
            .await
            .map_err(SessionError::TlsHandshake)?;
        pkt = io.read_packet().await?;
        parsed = parse_handshake_response(&pkt.payload);
        if parsed.as_ref().is_ok_and(|r| r.ssl_request) {
            parsed = Err("a second SSLRequest");
        }
    }
    let seq = pkt.seq.wrapping_add(1);
    match parsed {
        Ok(mut r) => {
            // only what was offered
            r.ext_capabilities &= ext.unwrap_or(0);
            Ok((r, seq))
        }
        Err(what) => {
            let e = SessionError::Malformed(what);
            let _ = io.send(seq, &e.to_err_payload()).await;
            Err(e)
        }
    }
}

/// What the plugin exchange found.
pub struct Checked {
    pub accepted: bool,
    /// The response that was checked.
    pub data: Vec<u8>,
    /// Sequence id of the next packet to send.
    pub seq: u8,
    /// The password, when the client sent it in clear over TLS
    /// (caching_sha2_password full authentication) and it was right.
    pub clear_password: Option<crate::config::Secret>,
}

/// Runs the plugin exchange. Switches plugin or scramble when needed.
/// Over TLS, a caching_sha2_password client whose user is configured by
/// hash only goes through full authentication: it sends its password in
/// clear (as to MySQL over TLS), which is checked against the hash. Over
/// plaintext that is never asked; such a client is switched to
/// mysql_native_password instead.
pub async fn verify(
    io: &mut PacketIo<Transport>,
    cred: &ServerCredential,
    client_plugin: &AuthPlugin,
    scramble: &[u8; 20],
    first_response: Vec<u8>,
    mut seq: u8,
) -> Result<Checked, SessionError> {
    let sha2_over_tls = *client_plugin == AuthPlugin::CachingSha2Password && io.get_ref().is_tls();
    if let (ServerCredential::NativeHash(_), true) = (cred, sha2_over_tls) {
        return full_auth_over_tls(io, cred, scramble, first_response, seq).await;
    }
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
    if !verdict.is_accepted() && sha2_over_tls && plugin == AuthPlugin::CachingSha2Password {
        // As MySQL on a cache miss: the password in clear, inside TLS. So
        // a wrong scramble, a user configured by hash and an unknown user
        // all get the same exchange, and the wire tells no names apart.
        return full_auth_over_tls(io, cred, scramble, data, seq).await;
    }
    if let Some(more) = verdict.more_data_before_ok() {
        seq = io.send(seq, more).await?;
    }
    Ok(Checked {
        accepted: verdict.is_accepted(),
        data,
        seq,
        clear_password: None,
    })
}

/// caching_sha2_password full authentication over TLS (see [`verify`]):
/// the clear password is checked against `cred` (its hash, or the plain
/// password in constant time).
async fn full_auth_over_tls(
    io: &mut PacketIo<Transport>,
    cred: &ServerCredential,
    scramble: &[u8; 20],
    first_response: Vec<u8>,
    mut seq: u8,
) -> Result<Checked, SessionError> {
    use crate::protocol::auth::caching_sha2::PERFORM_FULL_AUTH;
    if first_response.is_empty() {
        // the client named another plugin first: ask for caching_sha2
        io.send(
            seq,
            &auth_switch_request(AuthPlugin::CachingSha2Password.name(), scramble),
        )
        .await?;
        seq = io.read_packet().await?.seq.wrapping_add(1);
    }
    io.send(seq, &PERFORM_FULL_AUTH).await?;
    let pkt = io.read_packet().await?;
    seq = pkt.seq.wrapping_add(1);
    let clear = pkt.payload.strip_suffix(&[0]).unwrap_or(&pkt.payload);
    let accepted = cred.matches_clear(clear);
    let clear_password = match (accepted, std::str::from_utf8(clear)) {
        (true, Ok(pw)) => Some(crate::config::Secret::new(pw)),
        _ => None,
    };
    Ok(Checked {
        accepted,
        // the scramble response was not what was checked; a non-empty
        // value says a password was used
        data: vec![1],
        seq,
        clear_password,
    })
}

/// After a successful login (or COM_CHANGE_USER) of a user configured by
/// hash only: keep what it revealed, so sqlyard can log in to the
/// servers as that user: the password itself when the client sent it in
/// clear over TLS (caching_sha2_password full authentication), else
/// SHA1(password) recovered from a native response.
pub fn learn(
    ctx: &Context,
    user: &str,
    cred: &ServerCredential,
    scramble: &[u8; 20],
    checked: Checked,
) {
    if let Some(password) = checked.clear_password {
        ctx.backends.credentials.learn_password(user, password);
    }
    learn_sha1(ctx, user, cred, scramble, &checked.data);
}

/// SHA1(password) from a successful native login.
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
