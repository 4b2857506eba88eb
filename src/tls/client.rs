//! Problem: sqlyard's own connections to the servers must follow
//! `[backend_tls]` (and each server's `tls`): plaintext, TLS when offered,
//! TLS required, or TLS with the certificate checked against a CA (and the
//! server's name). [`BackendTls`] holds the rustls client configurations
//! for those modes, replaced on reload.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;

use super::error::{read_file, TlsError};
use super::transport::Transport;
use super::verify::{AnyCertificate, CaOnly};
use crate::config::{BackendTlsMode, Config, KeyPath, TlsVersion};

/// The client configurations built from one config.
pub struct BackendTlsSet {
    default: BackendTlsMode,
    per_server: HashMap<String, BackendTlsMode>,
    any_cert: Arc<ClientConfig>,
    verify_ca: Option<Arc<ClientConfig>>,
    verify_identity: Option<Arc<ClientConfig>>,
    /// `[backend_tls] server_public_key`, read (PEM).
    pub server_public_key: Option<String>,
    pub allow_public_key_retrieval: bool,
}

/// How to connect to one server.
#[derive(Clone)]
pub struct ServerTlsChoice {
    pub mode: BackendTlsMode,
    config: Option<Arc<ClientConfig>>,
}

impl ServerTlsChoice {
    /// Whether TLS is to be used when the server offers it.
    pub fn wants_tls(&self) -> bool {
        self.config.is_some()
    }

    /// Runs the TLS handshake towards the server at `address`.
    pub async fn connect(&self, address: &str, tcp: TcpStream) -> std::io::Result<Transport> {
        let Some(config) = &self.config else {
            return Ok(Transport::Plain(tcp));
        };
        let name = server_name(address)?;
        let stream = tokio_rustls::TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await?;
        Ok(Transport::Connected(Box::new(stream)))
    }
}

/// The host of `host:port` (brackets removed) as a TLS server name.
pub fn server_name(address: &str) -> std::io::Result<ServerName<'static>> {
    let host = match address.rsplit_once(':') {
        Some((h, _)) => h,
        None => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{host}` is not a valid TLS server name: {e}"),
        )
    })
}

impl BackendTlsSet {
    /// Builds every configuration `config` needs.
    pub fn build(config: &Config) -> Result<BackendTlsSet, TlsError> {
        let b = &config.backend_tls;
        let key = |name: &'static str| KeyPath::key("backend_tls").then(name);
        let provider = super::provider();
        let identity = match (&b.cert, &b.key) {
            (Some(c), Some(k)) => Some((
                read_file(config, "backend_tls", "cert", c, super::pem::certs)?,
                read_file(config, "backend_tls", "key", k, super::pem::key)?,
            )),
            _ => None,
        };
        let finish = |builder: rustls::ConfigBuilder<
            ClientConfig,
            rustls::client::WantsClientCert,
        >|
         -> Result<Arc<ClientConfig>, TlsError> {
            let c = match &identity {
                None => builder.with_no_client_auth(),
                Some((certs, private)) => builder
                    .with_client_auth_cert(certs.clone(), private.clone_key())
                    .map_err(|e| TlsError::Config {
                        key: key("key"),
                        reason: format!("the key cannot be used with the certificate: {e}"),
                    })?,
            };
            Ok(Arc::new(c))
        };
        let start = || {
            ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(super::versions(TlsVersion::Tls12))
                .map_err(|e| TlsError::Config {
                    key: key("mode"),
                    reason: e.to_string(),
                })
        };
        let any_cert = finish(
            start()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate::new(provider.clone()))),
        )?;
        let (verify_ca, verify_identity) = match &b.ca {
            None => (None, None),
            Some(ca) => {
                let roots = read_file(config, "backend_tls", "ca", ca, super::pem::roots)?;
                let webpki =
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| TlsError::Config {
                            key: key("ca"),
                            reason: e.to_string(),
                        })?;
                let ca_only = finish(
                    start()?
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(CaOnly::new(webpki.clone()))),
                )?;
                let full = finish(start()?.with_webpki_verifier(webpki))?;
                (Some(ca_only), Some(full))
            }
        };
        let server_public_key = match &b.server_public_key {
            None => None,
            Some(p) => Some(read_file(
                config,
                "backend_tls",
                "server_public_key",
                p,
                super::pem::public_key,
            )?),
        };
        let per_server = config
            .servers
            .iter()
            .filter_map(|s| s.tls.map(|m| (s.address.clone(), m)))
            .collect();
        Ok(BackendTlsSet {
            default: b.mode,
            per_server,
            any_cert,
            verify_ca,
            verify_identity,
            server_public_key,
            allow_public_key_retrieval: b.allow_public_key_retrieval,
        })
    }

    /// How to connect to `address`.
    pub fn for_server(&self, address: &str) -> ServerTlsChoice {
        let mode = self
            .per_server
            .get(address)
            .copied()
            .unwrap_or(self.default);
        let config = match mode {
            BackendTlsMode::Off => None,
            BackendTlsMode::Prefer | BackendTlsMode::Require => Some(self.any_cert.clone()),
            BackendTlsMode::VerifyCa => self.verify_ca.clone(),
            BackendTlsMode::VerifyIdentity => self.verify_identity.clone(),
        };
        ServerTlsChoice { mode, config }
    }
}

/// The backend TLS configurations in use; replaced on reload.
pub struct BackendTls {
    current: ArcSwap<BackendTlsSet>,
}

impl BackendTls {
    pub fn new(set: BackendTlsSet) -> Self {
        BackendTls {
            current: ArcSwap::from_pointee(set),
        }
    }

    /// Plaintext towards every server (tests of lower layers).
    #[cfg(test)]
    pub fn plaintext() -> Self {
        let mut config = Config::default();
        config.backend_tls.mode = BackendTlsMode::Off;
        // Building without files cannot fail.
        match BackendTlsSet::build(&config) {
            Ok(set) => Self::new(set),
            Err(e) => unreachable!("plaintext TLS settings: {e}"),
        }
    }

    pub fn get(&self) -> arc_swap::Guard<Arc<BackendTlsSet>> {
        self.current.load()
    }

    pub fn set(&self, set: BackendTlsSet) {
        self.current.store(Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(matches!(
            server_name("127.0.0.1:3306").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]:3306").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("db1.example.com:3306").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("bad host:3306").is_err());
    }

    #[test]
    fn modes_pick_their_configuration() {
        let mut config = Config::default();
        config
            .servers
            .push(crate::config::ServerConfig::new("127.0.0.1:1"));
        config.servers[0].tls = Some(BackendTlsMode::Off);
        let set = BackendTlsSet::build(&config).unwrap();
        assert_eq!(set.for_server("127.0.0.1:2").mode, BackendTlsMode::Prefer);
        assert!(set.for_server("127.0.0.1:2").wants_tls());
        assert!(!set.for_server("127.0.0.1:1").wants_tls());
    }
}
