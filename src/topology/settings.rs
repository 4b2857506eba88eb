//! The monitor needs credentials and timing, and the config module (written separately)
//! must be able to hand them over without either depending on the other's types.
//! `MonitorSettings` is that hand-over: plain values, sane defaults, and a Debug that
//! never shows the password.

use std::fmt;
use std::time::Duration;

/// How the monitor polls servers.
#[derive(Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    /// Monitor account (needs SLAVE MONITOR on MariaDB 10.11, see MARIADB-NOTES.md).
    pub user: String,
    pub password: String,
    /// Time between polling rounds.
    pub interval: Duration,
    /// Bound on opening one connection.
    pub connect_timeout: Duration,
    /// Bound on each query of a poll.
    pub query_timeout: Duration,
    /// sqlyard's own schema on the servers (the heartbeat table lives there).
    pub schema: String,
    /// TLS of the monitor's and failover's connections.
    pub tls: super::control_tls::ControlTls,
}

impl MonitorSettings {
    pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
    pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(1);

    /// Settings with the default timing.
    pub fn new(user: impl Into<String>, password: impl Into<String>) -> Self {
        MonitorSettings {
            user: user.into(),
            password: password.into(),
            interval: Self::DEFAULT_INTERVAL,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            query_timeout: Self::DEFAULT_QUERY_TIMEOUT,
            schema: "sqlyard".to_string(),
            tls: super::control_tls::ControlTls::default(),
        }
    }

    /// `interval` kept within 10 ms ..= 1 h, so a zero never spins and a huge value never
    /// overflows the timer.
    pub fn effective_interval(&self) -> Duration {
        clamp(self.interval, Duration::from_millis(10))
    }

    /// `connect_timeout` kept within 1 ms ..= 1 h.
    pub fn effective_connect_timeout(&self) -> Duration {
        clamp(self.connect_timeout, Duration::from_millis(1))
    }

    /// Options for a control connection (monitor, failover, backup) to
    /// `host:port` with this login: TCP always (on loopback the driver would
    /// otherwise switch to @@socket), no statement cache. TLS is added by
    /// `control_tls::connect`.
    pub fn control_opts(&self, host: String, port: u16) -> mysql_async::OptsBuilder {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname(host)
            .tcp_port(port)
            .user(Some(self.user.clone()))
            .pass(Some(self.password.clone()))
            .prefer_socket(false)
            .stmt_cache_size(0)
    }

    /// `query_timeout` kept within 1 ms ..= 1 h.
    pub fn effective_query_timeout(&self) -> Duration {
        clamp(self.query_timeout, Duration::from_millis(1))
    }
}

fn clamp(value: Duration, min: Duration) -> Duration {
    value.clamp(min, Duration::from_secs(3600))
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings::new("", "")
    }
}

impl fmt::Debug for MonitorSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let password = if self.password.is_empty() { "" } else { "***" };
        f.debug_struct("MonitorSettings")
            .field("user", &self.user)
            .field("password", &password)
            .field("interval", &self.interval)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("schema", &self.schema)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_masks_password() {
        let s = MonitorSettings::new("router", "router_pw");
        let text = format!("{s:?}");
        assert!(!text.contains("router_pw"), "{text}");
        assert!(text.contains("\"***\""), "{text}");
        assert!(text.contains("router"), "{text}");
        assert!(format!("{:#?}", s).contains("***"));
    }

    #[test]
    fn defaults_and_clamping() {
        let mut s = MonitorSettings::default();
        assert_eq!(s.interval, Duration::from_millis(500));
        s.interval = Duration::ZERO;
        s.query_timeout = Duration::from_secs(u64::MAX);
        assert_eq!(s.effective_interval(), Duration::from_millis(10));
        assert_eq!(s.effective_query_timeout(), Duration::from_secs(3600));
        assert_eq!(s.effective_connect_timeout(), Duration::from_secs(1));
    }
}
