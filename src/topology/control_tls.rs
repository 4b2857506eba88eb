//! Problem: the monitor's and failover's own connections (mysql_async)
//! must follow `[backend_tls]` like the pools do: a server with
//! `require_secure_transport=ON` refuses them otherwise, and the monitor
//! password must not cross the network in a readable exchange where TLS
//! is available. This turns the plain TLS settings into mysql_async's
//! options, including `prefer` (TLS when the server offers it), which
//! mysql_async does not have.

use std::path::PathBuf;

use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts};

/// TLS towards a server, as MySQL's `--ssl-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plaintext.
    Off,
    /// TLS when the server offers it; its certificate is not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by `[backend_tls] ca`.
    VerifyCa,
    /// As `verify-ca`, and the certificate names the server's host.
    VerifyIdentity,
}

impl TlsMode {
    pub fn as_str(&self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyIdentity => "verify-identity",
        }
    }

    /// Whether a connection without TLS is refused.
    pub fn requires_tls(&self) -> bool {
        !matches!(self, TlsMode::Off | TlsMode::Prefer)
    }
}

/// TLS settings of the control connections.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlTls {
    pub mode: TlsMode,
    /// Servers with a mode of their own.
    pub per_server: Vec<(String, TlsMode)>,
    /// CA certificates (PEM) for the verifying modes.
    pub ca: Option<PathBuf>,
    /// Client certificate chain and key (PEM).
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl ControlTls {
    /// The mode for `address`.
    pub fn mode_for(&self, address: &str) -> TlsMode {
        self.per_server
            .iter()
            .find(|(a, _)| a == address)
            .map_or(self.mode, |(_, m)| *m)
    }

    /// The mysql_async TLS options for `mode` (none: plaintext).
    pub fn ssl_opts(&self, mode: TlsMode) -> Option<SslOpts> {
        if mode == TlsMode::Off {
            return None;
        }
        let mut ssl = SslOpts::default();
        if let Some(ca) = &self.ca {
            // only this CA: mysql_async would otherwise also trust the
            // public web CAs it ships
            ssl = ssl
                .with_root_certs(vec![ca.clone().into()])
                .with_disable_built_in_roots(true);
        }
        if let Some((cert, key)) = &self.identity {
            ssl = ssl.with_client_identity(Some(ClientIdentity::new(
                cert.clone().into(),
                key.clone().into(),
            )));
        }
        Some(match mode {
            TlsMode::Prefer | TlsMode::Require => ssl.with_danger_accept_invalid_certs(true),
            TlsMode::VerifyCa => ssl.with_danger_skip_domain_validation(true),
            TlsMode::VerifyIdentity | TlsMode::Off => ssl,
        })
    }
}

/// Servers found without TLS under `prefer`, and when: they are reached
/// in plaintext straight away for a while, instead of with a refused TLS
/// attempt (an aborted connection on the server) every time.
static WITHOUT_TLS: std::sync::LazyLock<dashmap::DashMap<String, std::time::Instant>> =
    std::sync::LazyLock::new(dashmap::DashMap::new);

/// How long a server is remembered as offering no TLS.
const REMEMBER_NO_TLS: std::time::Duration = std::time::Duration::from_secs(300);

/// Opens a control connection to `address` with `opts` and the TLS its
/// mode asks for. With `prefer`, a server that offers no TLS is reached
/// in plaintext.
pub async fn connect(
    opts: OptsBuilder,
    address: &str,
    tls: &ControlTls,
) -> Result<Conn, mysql_async::Error> {
    let mode = tls.mode_for(address);
    let Some(ssl) = tls.ssl_opts(mode) else {
        return Conn::new(opts).await;
    };
    if mode == TlsMode::Prefer {
        let known_plain = WITHOUT_TLS
            .get(address)
            .is_some_and(|seen| seen.elapsed() < REMEMBER_NO_TLS);
        if known_plain {
            return Conn::new(opts).await;
        }
    }
    match Conn::new(opts.clone().ssl_opts(ssl)).await {
        Err(mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer))
            if mode == TlsMode::Prefer =>
        {
            WITHOUT_TLS.insert(address.to_string(), std::time::Instant::now());
            Conn::new(opts).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_server_mode_overrides_the_default() {
        let tls = ControlTls {
            mode: TlsMode::Require,
            per_server: vec![("127.0.0.1:1".into(), TlsMode::Off)],
            ..Default::default()
        };
        assert_eq!(tls.mode_for("127.0.0.1:1"), TlsMode::Off);
        assert_eq!(tls.mode_for("127.0.0.1:2"), TlsMode::Require);
        assert!(tls.ssl_opts(TlsMode::Off).is_none());
        let require = tls.ssl_opts(TlsMode::Require).unwrap();
        assert!(require.accept_invalid_certs());
        let ca = tls.ssl_opts(TlsMode::VerifyCa).unwrap();
        assert!(!ca.accept_invalid_certs());
        assert!(ca.skip_domain_validation());
        let full = tls.ssl_opts(TlsMode::VerifyIdentity).unwrap();
        assert!(!full.skip_domain_validation());
    }
}
