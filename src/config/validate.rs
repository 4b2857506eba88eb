//! A config can parse and still be unusable: two servers with one address,
//! no users, an admin account that shadows an application user, a timeout of
//! ten years. This file holds every check made after parsing, and the table
//! of duration bounds; out-of-range durations are clamped, not refused.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::duration::{Bounds, DurationSetting};
use super::error::{AddressError, KeyPath, Problem};
use super::model::{Config, FenceStep};

/// `backup.max_rate` below 64 KiB per second would take days for a
/// small database: surely a missing unit.
const MIN_BACKUP_RATE: u64 = 64 << 10;

/// `router.max_buffered_bytes` below this could not hold one ordinary
/// packet.
const MIN_BUFFERED_BYTES: u64 = 1 << 20;
/// `router.worker_threads` above this is a typo, not a machine.
const MAX_WORKER_THREADS: usize = 1024;

/// MariaDB's own ceiling for all statements of a server
/// (`max_prepared_stmt_count` is at most 1,048,576; 16,382 by default).
const MAX_PREPARED_PER_CONNECTION: usize = 16_382;

/// A duration that was brought into its key's range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Clamp {
    pub key: KeyPath,
    pub configured: DurationSetting,
    pub clamped_to: DurationSetting,
}

/// What validation found: problems (the config is refused) and clamps
/// (already applied to the config, to be logged).
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub issues: Vec<(KeyPath, Problem)>,
    pub clamps: Vec<Clamp>,
}

impl Findings {
    fn issue(&mut self, key: KeyPath, problem: Problem) {
        self.issues.push((key, problem));
    }
}

/// Checks `config` and clamps its durations in place.
pub(crate) fn validate(config: &mut Config) -> Findings {
    let mut findings = Findings::default();
    clamp_durations(config, &mut findings);
    check_router(config, &mut findings);
    check_users(config, &mut findings);
    check_monitor(config, &mut findings);
    check_servers(config, &mut findings);
    check_pool(config, &mut findings);
    check_failover(config, &mut findings);
    check_tls(config, &mut findings);
    check_cluster(config, &mut findings);
    check_backup(config, &mut findings);
    findings
}

/// Every duration key with the range it accepts.
fn duration_keys(c: &mut Config) -> Vec<(KeyPath, &mut DurationSetting, Bounds)> {
    let key = |section: &'static str, name: &'static str| KeyPath::key(section).then(name);
    let mut keys = vec![
        (
            key("router", "connect_timeout"),
            &mut c.router.connect_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("router", "auth_max_delay"),
            &mut c.router.auth_max_delay,
            Bounds::TIMEOUT,
        ),
        (
            key("router", "admin_idle_timeout"),
            &mut c.router.admin_idle_timeout,
            Bounds::LONG,
        ),
        (
            key("router", "idle_timeout"),
            &mut c.router.idle_timeout,
            Bounds::LONG,
        ),
        (
            key("router", "primary_wait"),
            &mut c.router.primary_wait,
            Bounds::TIMEOUT,
        ),
        (
            key("router", "shutdown_timeout"),
            &mut c.router.shutdown_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("monitor", "interval"),
            &mut c.monitor.interval,
            Bounds::INTERVAL,
        ),
        (
            key("monitor", "connect_timeout"),
            &mut c.monitor.connect_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("monitor", "query_timeout"),
            &mut c.monitor.query_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("pool", "checkout_timeout"),
            &mut c.pool.checkout_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("pool", "connect_timeout"),
            &mut c.pool.connect_timeout,
            Bounds::TIMEOUT,
        ),
        (key("pool", "linger"), &mut c.pool.linger, Bounds::TIMEOUT),
        (
            key("pool", "idle_timeout"),
            &mut c.pool.idle_timeout,
            Bounds::LONG,
        ),
        (
            key("routing", "max_replication_lag"),
            &mut c.routing.max_replication_lag,
            Bounds::TIMEOUT,
        ),
        (
            key("consistency", "wait_timeout"),
            &mut c.consistency.wait_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("failover", "silence_grace"),
            &mut c.failover.silence_grace,
            Bounds::TIMEOUT,
        ),
        (
            key("failover", "hold_timeout"),
            &mut c.failover.hold_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("failover", "anti_flap_window"),
            &mut c.failover.anti_flap_window,
            Bounds::LONG,
        ),
        (
            key("failover", "max_candidate_lag"),
            &mut c.failover.max_candidate_lag,
            Bounds::TIMEOUT,
        ),
        (
            key("failover", "catch_up_timeout"),
            &mut c.failover.catch_up_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("failover", "switchover_timeout"),
            &mut c.failover.switchover_timeout,
            Bounds::TIMEOUT,
        ),
        (
            key("failover", "replica_heartbeat_period"),
            &mut c.failover.replica_heartbeat_period,
            Bounds::HEARTBEAT,
        ),
        (
            key("failover", "fence_command_timeout"),
            &mut c.failover.fence_command_timeout,
            Bounds::TIMEOUT,
        ),
    ];
    if let Some(cluster) = c.cluster.as_mut() {
        let bounds = Bounds {
            min: DurationSetting::from_secs(1),
            max: DurationSetting::from_secs(60),
        };
        keys.push((key("cluster", "lease_ttl"), &mut cluster.lease_ttl, bounds));
    }
    if let Some(b) = c.backup.as_mut() {
        let path = key("backup", "max_age_for_rebuild");
        keys.push((path, &mut b.max_age_for_rebuild, Bounds::LONG));
        if let Some(interval) = b.interval.as_mut() {
            keys.push((key("backup", "interval"), interval, Bounds::LONG));
        }
    }
    if let Some(t) = c.router.idle_transaction_timeout.as_mut() {
        keys.push((key("router", "idle_transaction_timeout"), t, Bounds::LONG));
    }
    for (i, server) in c.servers.iter_mut().enumerate() {
        if let Some(lag) = server.max_replication_lag.as_mut() {
            let path = KeyPath::key("servers").at(i).then("max_replication_lag");
            keys.push((path, lag, Bounds::TIMEOUT));
        }
    }
    keys
}

fn clamp_durations(config: &mut Config, findings: &mut Findings) {
    for (key, value, bounds) in duration_keys(config) {
        let clamped = bounds.clamp(*value);
        if clamped != *value {
            findings.clamps.push(Clamp {
                key,
                configured: *value,
                clamped_to: clamped,
            });
            *value = clamped;
        }
    }
}

fn check_router(c: &Config, f: &mut Findings) {
    let router = |name: &'static str| KeyPath::key("router").then(name);
    let mut listeners: Vec<(KeyPath, (String, u16))> = Vec::new();
    for (name, value) in [
        ("listen", &c.router.listen),
        ("admin_listen", &c.router.admin_listen),
        ("metrics_listen", &c.router.metrics_listen),
    ] {
        match check_address(value) {
            Ok(normal) => {
                if let Some((other, _)) = listeners.iter().find(|(_, n)| *n == normal) {
                    let problem = Problem::Duplicate {
                        other: other.to_string(),
                        value: value.clone(),
                    };
                    f.issue(router(name), problem);
                }
                listeners.push((router(name), normal));
            }
            Err(reason) => f.issue(router(name), bad_address(value, reason)),
        }
    }
    check_name(&c.router.admin_user, router("admin_user"), f);
    if c.router.admin_password.is_empty() {
        f.issue(router("admin_password"), Problem::Required);
    }
    if let Some(i) = c.users.iter().position(|u| u.name == c.router.admin_user) {
        let problem = Problem::AdminIsAppUser {
            name: c.router.admin_user.clone(),
            other: KeyPath::key("users").at(i).then("name").to_string(),
        };
        f.issue(router("admin_user"), problem);
    }
    if c.router.max_connections < 1 {
        f.issue(router("max_connections"), Problem::TooSmall { min: 1 });
    }
    if c.router.admin_max_connections < 1 {
        f.issue(
            router("admin_max_connections"),
            Problem::TooSmall { min: 1 },
        );
    }
    if c.router.max_buffered_bytes.get() < MIN_BUFFERED_BYTES {
        f.issue(
            router("max_buffered_bytes"),
            Problem::TooSmall {
                min: MIN_BUFFERED_BYTES,
            },
        );
    }
    if c.router.worker_threads > MAX_WORKER_THREADS {
        let max = MAX_WORKER_THREADS as u64;
        f.issue(router("worker_threads"), Problem::TooLarge { max });
    }
    if c.router.server_version.is_empty() {
        f.issue(router("server_version"), Problem::Empty);
    } else if has_control(&c.router.server_version) {
        f.issue(router("server_version"), Problem::ControlCharacters);
    }
}

fn check_users(c: &Config, f: &mut Findings) {
    if c.users.is_empty() {
        f.issue(KeyPath::key("users"), Problem::NoEntries("users"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, user) in c.users.iter().enumerate() {
        let key = KeyPath::key("users").at(i).then("name");
        check_name(&user.name, key.clone(), f);
        if let Some(first) = seen.get(user.name.as_str()) {
            let problem = Problem::Duplicate {
                other: KeyPath::key("users").at(*first).then("name").to_string(),
                value: user.name.clone(),
            };
            f.issue(key, problem);
        } else {
            seen.insert(&user.name, i);
        }
        if user.max_connections == Some(0) {
            let key = KeyPath::key("users").at(i).then("max_connections");
            f.issue(key, Problem::TooSmall { min: 1 });
        }
    }
}

/// TLS keys that need other keys. Whether the files can be used is checked
/// when the certificates are loaded (`tls::load`), with the same kind of
/// error.
fn check_tls(c: &Config, f: &mut Findings) {
    let tls = |name: &'static str| KeyPath::key("tls").then(name);
    if let Some(t) = &c.tls {
        if t.cert.trim().is_empty() {
            f.issue(tls("cert"), Problem::Empty);
        }
        if t.key.trim().is_empty() {
            f.issue(tls("key"), Problem::Empty);
        }
    }
    for (i, user) in c.users.iter().enumerate() {
        let key = |name| KeyPath::key("users").at(i).then(name);
        if user.require_tls && c.tls.is_none() {
            f.issue(key("require_tls"), Problem::Needs("a [tls] section"));
        }
        if user.require_x509 && c.tls.as_ref().is_none_or(|t| t.client_ca.is_none()) {
            f.issue(key("require_x509"), Problem::Needs("[tls] client_ca"));
        }
    }
    if c.router.admin_require_tls && c.tls.is_none() {
        f.issue(
            KeyPath::key("router").then("admin_require_tls"),
            Problem::Needs("a [tls] section"),
        );
    }
    let b = &c.backend_tls;
    let backend = |name: &'static str| KeyPath::key("backend_tls").then(name);
    let verifies = |m: super::model::BackendTlsMode| {
        matches!(
            m,
            super::model::BackendTlsMode::VerifyCa | super::model::BackendTlsMode::VerifyIdentity
        )
    };
    if b.ca.is_none() {
        if verifies(b.mode) {
            f.issue(
                backend("ca"),
                Problem::RequiredWhen("mode verifies certificates"),
            );
        }
        for (i, s) in c.servers.iter().enumerate() {
            if s.tls.is_some_and(verifies) {
                f.issue(
                    KeyPath::key("servers").at(i).then("tls"),
                    Problem::Needs("[backend_tls] ca"),
                );
            }
        }
    }
    match (&b.cert, &b.key) {
        (Some(_), None) => f.issue(backend("key"), Problem::RequiredWhen("cert is set")),
        (None, Some(_)) => f.issue(backend("cert"), Problem::RequiredWhen("key is set")),
        _ => {}
    }
}

/// `[cluster]`: endpoints are `http://` or `https://` URLs, the name can
/// be part of an etcd key, and TLS and login keys come in pairs.
fn check_cluster(c: &Config, f: &mut Findings) {
    let Some(cl) = &c.cluster else {
        return;
    };
    let key = |name: &'static str| KeyPath::key("cluster").then(name);
    if cl.etcd_endpoints.is_empty() {
        f.issue(key("etcd_endpoints"), Problem::Required);
    }
    for (i, url) in cl.etcd_endpoints.iter().enumerate() {
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        let problem = match rest {
            None => Some("must start with http:// or https://"),
            Some(r) if check_address(r.trim_end_matches('/')).is_err() => {
                Some("needs a host:port after the scheme")
            }
            Some(_) => None,
        };
        if let Some(p) = problem {
            f.issue(
                key("etcd_endpoints").at(i),
                Problem::BadUrl {
                    value: url.clone(),
                    reason: p,
                },
            );
        }
    }
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.'))
    };
    if cl.name.is_empty() {
        f.issue(key("name"), Problem::Required);
    } else if !name_ok(&cl.name) {
        f.issue(key("name"), Problem::BadKeyName(cl.name.clone()));
    }
    if let Some(instance) = &cl.instance {
        if instance.is_empty()
            || instance.len() > 128
            || has_control(instance)
            || instance.contains('/')
        {
            f.issue(key("instance"), Problem::BadKeyName(instance.clone()));
        }
    }
    match (&cl.etcd_cert, &cl.etcd_key) {
        (Some(_), None) => f.issue(key("etcd_key"), Problem::RequiredWhen("etcd_cert is set")),
        (None, Some(_)) => f.issue(key("etcd_cert"), Problem::RequiredWhen("etcd_key is set")),
        _ => {}
    }
    if cl.etcd_user.is_some() && cl.etcd_password.is_empty() {
        f.issue(
            key("etcd_password"),
            Problem::RequiredWhen("etcd_user is set"),
        );
    }
}

/// `[backup]`: a directory, one schedule at most, a valid `at` and
/// `source`, and the login keys in pairs.
fn check_backup(c: &Config, f: &mut Findings) {
    let Some(b) = &c.backup else {
        return;
    };
    let key = |name: &'static str| KeyPath::key("backup").then(name);
    if b.dir.is_empty() {
        f.issue(key("dir"), Problem::Required);
    }
    if let Some(at) = &b.at {
        if b.interval.is_some() {
            f.issue(key("at"), Problem::Conflicts("backup.interval"));
        } else if super::model::parse_time_of_day(at).is_none() {
            f.issue(key("at"), Problem::BadTimeOfDay(at.clone()));
        }
    }
    if b.keep == 0 {
        f.issue(key("keep"), Problem::TooSmall { min: 1 });
    }
    if b.source != "replica" {
        if let Err(reason) = check_address(&b.source) {
            f.issue(key("source"), bad_address(&b.source, reason));
        }
    }
    if b.user.is_some() && b.password.is_empty() {
        f.issue(key("password"), Problem::RequiredWhen("backup.user is set"));
    }
    if b.rebuild_user.is_some() && b.rebuild_password.is_empty() {
        f.issue(
            key("rebuild_password"),
            Problem::RequiredWhen("backup.rebuild_user is set"),
        );
    }
    if let Some(cmd) = &b.command_after {
        if cmd.trim().is_empty() {
            f.issue(key("command_after"), Problem::Empty);
        }
    }
    if b.max_rate.is_some_and(|r| r.get() < MIN_BACKUP_RATE) {
        let min = MIN_BACKUP_RATE;
        f.issue(key("max_rate"), Problem::TooSmall { min });
    }
}

fn check_monitor(c: &Config, f: &mut Findings) {
    let monitor = |name: &'static str| KeyPath::key("monitor").then(name);
    if c.monitor.user.is_empty() {
        f.issue(monitor("user"), Problem::Required);
    } else {
        check_name(&c.monitor.user, monitor("user"), f);
    }
    if c.monitor.password.is_empty() {
        f.issue(monitor("password"), Problem::Required);
    }
    let schema = &c.monitor.schema;
    let schema_ok = (1..=64).contains(&schema.len())
        && schema
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !schema_ok {
        f.issue(monitor("schema"), Problem::BadSchemaName(schema.clone()));
    }
}

fn check_servers(c: &Config, f: &mut Findings) {
    if c.servers.is_empty() {
        f.issue(KeyPath::key("servers"), Problem::NoEntries("servers"));
    }
    let mut seen: HashMap<(String, u16), usize> = HashMap::new();
    for (i, server) in c.servers.iter().enumerate() {
        let key = |name: &'static str| KeyPath::key("servers").at(i).then(name);
        match check_address(&server.address) {
            Ok(normal) => {
                if let Some(first) = seen.get(&normal) {
                    let problem = Problem::Duplicate {
                        other: KeyPath::key("servers")
                            .at(*first)
                            .then("address")
                            .to_string(),
                        value: server.address.clone(),
                    };
                    f.issue(key("address"), problem);
                } else {
                    seen.insert(normal, i);
                }
            }
            Err(reason) => f.issue(key("address"), bad_address(&server.address, reason)),
        }
        if server.weight < 1 {
            f.issue(key("weight"), Problem::TooSmall { min: 1 });
        }
        if server.max_connections == Some(0) {
            f.issue(key("max_connections"), Problem::TooSmall { min: 1 });
        }
    }
}

fn check_pool(c: &Config, f: &mut Findings) {
    let pool = |name: &'static str| KeyPath::key("pool").then(name);
    if c.pool.max_size < 1 {
        f.issue(pool("max_size"), Problem::TooSmall { min: 1 });
    } else if c.pool.min_idle > c.pool.max_size {
        let problem = Problem::AboveOther {
            other: pool("max_size").to_string(),
            max: c.pool.max_size as u64,
        };
        f.issue(pool("min_idle"), problem);
    }
    if c.pool.max_prepared_per_connection < 1 {
        f.issue(
            pool("max_prepared_per_connection"),
            Problem::TooSmall { min: 1 },
        );
    } else if c.pool.max_prepared_per_connection > MAX_PREPARED_PER_CONNECTION {
        let max = MAX_PREPARED_PER_CONNECTION as u64;
        f.issue(
            pool("max_prepared_per_connection"),
            Problem::TooLarge { max },
        );
    }
}

fn check_failover(c: &Config, f: &mut Findings) {
    let monitor = |name: &'static str| KeyPath::key("monitor").then(name);
    if c.failover.max_held < 1 {
        f.issue(
            KeyPath::key("failover").then("max_held"),
            Problem::TooSmall { min: 1 },
        );
    }
    if c.failover.enabled {
        if c.monitor.replication_user.is_empty() {
            f.issue(monitor("replication_user"), Problem::RequiredForFailover);
        }
        if c.monitor.replication_password.is_empty() {
            f.issue(
                monitor("replication_password"),
                Problem::RequiredForFailover,
            );
        }
    }
    if !c.monitor.replication_user.is_empty() {
        check_name(&c.monitor.replication_user, monitor("replication_user"), f);
    }
    let journal = KeyPath::key("failover").then("journal");
    if c.failover.journal.is_empty() {
        f.issue(journal, Problem::Empty);
    } else if has_control(&c.failover.journal) {
        f.issue(journal, Problem::ControlCharacters);
    }
    check_fence(c, f);
}

/// `failover.fence` starts with `read_only`, names each step once, and
/// `command` comes with `failover.fence_command`.
fn check_fence(c: &Config, f: &mut Findings) {
    let failover = |name: &'static str| KeyPath::key("failover").then(name);
    let steps = &c.failover.fence;
    if steps.first() != Some(&FenceStep::ReadOnly) {
        f.issue(
            failover("fence"),
            Problem::MustStartWith(FenceStep::ReadOnly.as_str()),
        );
    }
    for (i, step) in steps.iter().enumerate() {
        if steps[..i].contains(step) {
            f.issue(failover("fence").at(i), Problem::Repeated(step.as_str()));
        }
    }
    let command = &c.failover.fence_command;
    if steps.contains(&FenceStep::Command) && command.is_empty() {
        f.issue(
            failover("fence_command"),
            Problem::RequiredWhen("failover.fence lists \"command\""),
        );
    }
    for (i, part) in command.iter().enumerate() {
        if i == 0 && part.is_empty() {
            f.issue(failover("fence_command").at(0), Problem::Empty);
        } else if has_control(part) {
            f.issue(failover("fence_command").at(i), Problem::ControlCharacters);
        }
    }
}

/// Account names: non-empty, no control characters.
fn check_name(name: &str, key: KeyPath, f: &mut Findings) {
    if name.is_empty() {
        f.issue(key, Problem::Empty);
    } else if has_control(name) {
        f.issue(key, Problem::ControlCharacters);
    }
}

fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

fn bad_address(value: &str, reason: AddressError) -> Problem {
    Problem::BadAddress {
        value: value.to_owned(),
        reason,
    }
}

/// Checks `host:port` (`[v6]:port` for IPv6) and returns the lower-cased
/// host and the port, for duplicate detection. Host names are not resolved.
pub(crate) fn check_address(address: &str) -> Result<(String, u16), AddressError> {
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (inner, after) = rest
            .split_once(']')
            .ok_or_else(|| AddressError::BadIpv6(rest.to_owned()))?;
        let port = after.strip_prefix(':').ok_or(AddressError::MissingPort)?;
        if inner.parse::<Ipv6Addr>().is_err() {
            return Err(AddressError::BadIpv6(inner.to_owned()));
        }
        (inner, port)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or(AddressError::MissingPort)?;
        if host.contains(':') {
            return Err(AddressError::UnbracketedIpv6);
        }
        if host.is_empty() {
            return Err(AddressError::EmptyHost);
        }
        if !is_ipv4_or_hostname(host) {
            return Err(AddressError::BadHost(host.to_owned()));
        }
        (host, port)
    };
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    match port.parse::<u16>() {
        Ok(p) if port_ok && p > 0 => Ok((host.to_ascii_lowercase(), p)),
        _ => Err(AddressError::BadPort(port.to_owned())),
    }
}

fn is_ipv4_or_hostname(host: &str) -> bool {
    if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return host.parse::<Ipv4Addr>().is_ok();
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            check_address("127.0.0.1:3306"),
            Ok(("127.0.0.1".into(), 3306))
        );
        assert_eq!(
            check_address("DB-1.example:1"),
            Ok(("db-1.example".into(), 1))
        );
        assert_eq!(check_address("[::1]:65535"), Ok(("::1".into(), 65535)));
        assert_eq!(check_address("localhost"), Err(AddressError::MissingPort));
        assert_eq!(check_address(":3306"), Err(AddressError::EmptyHost));
        assert_eq!(check_address("h:0"), Err(AddressError::BadPort("0".into())));
        assert_eq!(
            check_address("h:65536"),
            Err(AddressError::BadPort("65536".into()))
        );
        assert_eq!(
            check_address("h:+1"),
            Err(AddressError::BadPort("+1".into()))
        );
        assert_eq!(check_address("h:"), Err(AddressError::BadPort("".into())));
        assert_eq!(
            check_address("::1:3306"),
            Err(AddressError::UnbracketedIpv6)
        );
        assert_eq!(
            check_address("[::g]:1"),
            Err(AddressError::BadIpv6("::g".into()))
        );
        assert_eq!(check_address("[::1]"), Err(AddressError::MissingPort));
        assert_eq!(
            check_address("127.0.0.256:1"),
            Err(AddressError::BadHost("127.0.0.256".into()))
        );
        assert_eq!(
            check_address("a b:1"),
            Err(AddressError::BadHost("a b".into()))
        );
        assert_eq!(
            check_address("-a:1"),
            Err(AddressError::BadHost("-a".into()))
        );
    }
}
