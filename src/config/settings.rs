//! Problem: the topology monitor takes plain settings that know nothing of
//! the config file (see `topology::settings`), and several parts start or
//! re-tune it: the server at start and on reload, the failover manager for
//! its actions. This turns the config into those settings, in one place.

use super::Config;
use crate::topology::MonitorSettings;

/// Monitor settings from the config.
pub fn monitor_settings(c: &Config) -> MonitorSettings {
    MonitorSettings {
        user: c.monitor.user.clone(),
        password: c.monitor.password.expose().to_string(),
        interval: c.monitor.interval.get(),
        connect_timeout: c.monitor.connect_timeout.get(),
        query_timeout: c.monitor.query_timeout.get(),
        schema: c.monitor.schema.clone(),
    }
}
