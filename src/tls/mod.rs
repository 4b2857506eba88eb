//! Problem: sqlyard must speak TLS on both sides — to clients on the app
//! and admin listeners, and to the servers from its pools — with
//! certificates that can be replaced without a restart, and with the
//! MySQL protocol's in-band upgrade (an SSLRequest, then the TLS
//! handshake on the same socket). This module holds the certificates and
//! the rustls configurations built from `[tls]` and `[backend_tls]`, and
//! the stream type that is either plain TCP or TLS.
//!
//! It sits just above `config` and `protocol`: the frontend, the admin
//! listener and the backend pools use it; it uses neither of them.

pub mod client;
pub mod error;
pub mod expiry;
pub mod pem;
pub mod server;
pub mod transport;
pub mod verify;

pub use client::{BackendTls, BackendTlsSet, ServerTlsChoice};
pub use error::TlsError;
pub use server::{ListenerTls, ServerTls};
pub use transport::{Rewind, TlsInfo, Transport};

use std::sync::Arc;

/// The crypto provider every rustls config uses (ring: aws-lc-rs needs
/// cmake and clang to build). rustls 0.23.48 marks ring's provider
/// deprecated for lack of post-quantum key exchange; it is still
/// maintained and is the one this machine can build.
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The provider of the listeners: the same algorithms, AES-128-GCM with
/// SHA-256 preferred. Clients (OpenSSL) list AES-256-GCM-SHA384 first;
/// its SHA-384 key schedule costs both sides more per handshake than
/// SHA-256, for a connection that is often one page long.
pub fn server_provider() -> Arc<rustls::crypto::CryptoProvider> {
    let mut p = (*provider()).clone();
    p.cipher_suites.sort_by_key(|s| match s.suite() {
        rustls::CipherSuite::TLS13_AES_128_GCM_SHA256 => 0,
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => 1,
        rustls::CipherSuite::TLS13_AES_256_GCM_SHA384 => 2,
        rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 3,
        _ => 4,
    });
    Arc::new(p)
}

/// The TLS versions allowed from `min`.
pub fn versions(
    min: crate::config::TlsVersion,
) -> &'static [&'static rustls::SupportedProtocolVersion] {
    static BOTH: [&rustls::SupportedProtocolVersion; 2] =
        [&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    match min {
        crate::config::TlsVersion::Tls12 => &BOTH,
        crate::config::TlsVersion::Tls13 => &TLS13,
    }
}

/// The TLS state built from one config: the listeners' acceptor and the
/// backend client configurations.
pub struct Loaded {
    pub server: Option<ServerTls>,
    pub backend: BackendTlsSet,
}

/// Builds both sides from `config`. A certificate or key that cannot be
/// used is a config error naming the key's line, the file and why. An
/// expired router certificate is only a warning (and a metric): clients
/// decide whether to accept it.
pub fn load(config: &crate::config::Config) -> Result<Loaded, crate::config::ConfigError> {
    let file = config
        .source
        .clone()
        .unwrap_or_else(|| std::path::PathBuf::from("(config)"));
    let server = ServerTls::build(config).map_err(|e| e.into_config_error(&file))?;
    let backend = BackendTlsSet::build(config).map_err(|e| e.into_config_error(&file))?;
    if config.backend_tls.allow_public_key_retrieval {
        tracing::warn!(
            "[backend_tls] allow_public_key_retrieval = true: over plaintext, sqlyard asks the servers for their RSA key, and a man in the middle could answer with his own and read the passwords; use TLS or server_public_key"
        );
    }
    if let (Some(s), Some(tls)) = (&server, &config.tls) {
        if let Some(end) = s.not_after {
            let left = end - expiry::now();
            if left <= 0 {
                tracing::warn!(
                    cert = %config.file_path(&tls.cert).display(),
                    "the router certificate ([tls] cert) has expired; clients that verify it will refuse to connect"
                );
            } else if left < 14 * 86_400 {
                tracing::warn!(
                    cert = %config.file_path(&tls.cert).display(),
                    days = left / 86_400,
                    "the router certificate ([tls] cert) expires soon"
                );
            }
        }
    }
    Ok(Loaded { server, backend })
}
