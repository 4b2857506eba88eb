//! Problem: the topology monitor takes plain settings that know nothing of
//! the config file (see `topology::settings`), and several parts start or
//! re-tune it: the server at start and on reload, the failover manager for
//! its actions. This turns the config into those settings, in one place.

use super::Config;
use crate::topology::MonitorSettings;

/// How many threads run sessions: `router.worker_threads`, or when it is
/// 0, half the cores this process may use, at least one. sqlyard's work
/// per statement is mostly waking on sockets; a second thread that shares
/// the cores with the servers or the application pays a cross-thread
/// wake-up and a context switch for work the first one would have done.
/// On 2 shared cores, one thread used about a fifth less CPU per query
/// and served more queries than two (README, Performance).
pub fn worker_threads(configured: usize, cores: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        (cores / 2).max(1)
    }
}

/// Monitor settings from the config.
pub fn monitor_settings(c: &Config) -> MonitorSettings {
    MonitorSettings {
        user: c.monitor.user.clone(),
        password: c.monitor.password.expose().to_string(),
        interval: c.monitor.interval.get(),
        connect_timeout: c.monitor.connect_timeout.get(),
        query_timeout: c.monitor.query_timeout.get(),
        schema: c.monitor.schema.clone(),
        tls: control_tls(c),
    }
}

/// `[backend_tls]` for the control connections.
fn control_tls(c: &Config) -> crate::topology::ControlTls {
    let b = &c.backend_tls;
    crate::topology::ControlTls {
        mode: b.mode,
        per_server: c
            .servers
            .iter()
            .filter_map(|s| s.tls.map(|m| (s.address.clone(), m)))
            .collect(),
        ca: b.ca.as_deref().map(|p| c.file_path(p)),
        identity: match (&b.cert, &b.key) {
            (Some(cert), Some(key)) => Some((c.file_path(cert), c.file_path(key))),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::worker_threads;

    #[test]
    fn worker_threads_default_to_half_the_cores() {
        assert_eq!(worker_threads(0, 1), 1);
        assert_eq!(worker_threads(0, 2), 1);
        assert_eq!(worker_threads(0, 3), 1);
        assert_eq!(worker_threads(0, 16), 8);
        assert_eq!(worker_threads(3, 2), 3);
    }
}
