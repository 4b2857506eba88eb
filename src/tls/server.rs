//! Problem: clients that send an SSLRequest must get a TLS handshake with
//! the router's certificate, optionally checked client certificates, and
//! certificates replaced on reload for new connections only (running
//! sessions keep theirs). [`ListenerTls`] holds the current acceptor.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpStream;

use super::error::{read_file, TlsError};
use super::transport::{Rewind, Transport};
use crate::config::{Config, KeyPath};

/// One loaded `[tls]` section.
pub struct ServerTls {
    acceptor: tokio_rustls::TlsAcceptor,
    /// The router certificate's end of validity (Unix seconds).
    pub not_after: Option<i64>,
    /// Plaintext clients of the app listener are refused.
    pub require: bool,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("not_after", &self.not_after)
            .finish()
    }
}

impl ServerTls {
    /// Builds the acceptor from `[tls]`; `Ok(None)` when there is none.
    pub fn build(config: &Config) -> Result<Option<ServerTls>, TlsError> {
        let Some(tls) = &config.tls else {
            return Ok(None);
        };
        let key = |name: &'static str| KeyPath::key("tls").then(name);
        let certs = read_file(config, "tls", "cert", &tls.cert, super::pem::certs)?;
        let private = read_file(config, "tls", "key", &tls.key, super::pem::key)?;
        let not_after = certs.first().and_then(super::expiry::not_after);
        let provider = super::server_provider();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(super::versions(tls.min_version))
            .map_err(|e| TlsError::Config {
                key: key("min_version"),
                reason: e.to_string(),
            })?;
        let builder = match &tls.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let roots = read_file(config, "tls", "client_ca", ca, super::pem::roots)?;
                // A certificate is asked for, not required: users with
                // `require_x509` are refused without one at login.
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| TlsError::Config {
                            key: key("client_ca"),
                            reason: e.to_string(),
                        })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut server =
            builder
                .with_single_cert(certs, private)
                .map_err(|e| TlsError::Config {
                    key: key("key"),
                    reason: format!("the key cannot be used with the certificate: {e}"),
                })?;
        // TLS 1.2 clients that keep their session resume it from this
        // cache. No TLS 1.3 tickets are sent: MySQL drivers (libmariadb,
        // mysqlnd, PyMySQL) open a new TLS session per connection, so
        // tickets would cost every connection two records and their
        // encryption for nothing.
        server.session_storage = rustls::server::ServerSessionMemoryCache::new(4096);
        server.send_tls13_tickets = 0;
        // sqlyard's order of cipher suites (see `server_provider`)
        server.ignore_client_order = true;
        Ok(Some(ServerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            not_after,
            require: tls.require,
        }))
    }

    /// Runs the TLS handshake on `tcp`, whose first bytes may already be
    /// in `pre`.
    pub async fn accept(&self, pre: bytes::Bytes, tcp: TcpStream) -> std::io::Result<Transport> {
        let stream = self.acceptor.accept(Rewind::new(pre, tcp)).await?;
        Ok(Transport::Accepted(Box::new(stream)))
    }
}

/// The listeners' current TLS configuration; replaced on reload.
#[derive(Default)]
pub struct ListenerTls {
    current: ArcSwapOption<ServerTls>,
}

impl ListenerTls {
    pub fn new(tls: Option<ServerTls>) -> Self {
        ListenerTls {
            current: ArcSwapOption::from(tls.map(Arc::new)),
        }
    }

    /// The acceptor new connections use (none: plaintext only).
    pub fn get(&self) -> Option<Arc<ServerTls>> {
        self.current.load_full()
    }

    pub fn set(&self, tls: Option<ServerTls>) {
        self.current.store(tls.map(Arc::new));
    }
}
