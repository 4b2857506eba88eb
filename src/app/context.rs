//! Problem: every session needs the same shared things (the running
//! config, the topology snapshot, the pools, the session registry, the
//! users and the counters) without global statics, so tests can run many
//! routers in one process. This is that shared context.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::registry::Registry;
use crate::backend::{BackendCredential, Backends, Credentials, PoolSettings};
use crate::config::{Config, Password};
use crate::protocol::auth::ServerCredential;
use crate::topology::TopologyHandle;

pub use crate::metrics::stats::{RywStats, Stats};

/// The shared state of one running router.
pub struct Context {
    pub config: Arc<ArcSwap<Config>>,
    pub topology: TopologyHandle,
    pub backends: Arc<Backends>,
    pub registry: Registry,
    pub stats: Stats,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// Normalized statements and their counters (`SHOW QUERY DIGEST`).
    pub digest: crate::router::digest::Digest,
    /// Write positions for read-your-writes.
    pub consistency: crate::router::consistency::Consistency,
    /// Failover state and requests (the manager task publishes here).
    pub failover: crate::failover::FailoverHandle,
    /// Statements waiting for a primary (bounded by `failover.max_held`).
    pub held: crate::failover::hold::Held,
    /// Databases a login recently named and the primary accepted, per user.
    pub login_dbs: super::login_db::LoginDbs,
    /// Consecutive failed logins per (address, user), which slow the next.
    pub login_failures: super::login_failures::LoginFailures,
    /// Client packet bytes all sessions may hold (`router.max_buffered_bytes`).
    pub buffers: crate::protocol::budget::BufferBudget,
    /// The listeners' TLS (`[tls]`), replaced on reload.
    pub listener_tls: crate::tls::ListenerTls,
    /// Backups (`[backup]`): the one running, the failures, the counters.
    pub backups: crate::backup::Backups,
    /// Several instances (`[cluster]`): set once the listeners are bound.
    pub cluster: std::sync::OnceLock<crate::cluster::ClusterHandle>,
}

/// Pool settings from the config.
pub fn pool_settings(c: &Config) -> PoolSettings {
    PoolSettings {
        max_size: c.pool.max_size,
        checkout_timeout: c.pool.checkout_timeout.get(),
        connect_timeout: c.pool.connect_timeout.get(),
        idle_timeout: c.pool.idle_timeout.get(),
        min_idle: c.pool.min_idle,
        linger: c.pool.linger.get(),
        max_prepared: c.pool.max_prepared_per_connection,
    }
}

impl Context {
    /// The shared state for `config`; fails when its TLS files cannot be
    /// used.
    pub fn new(
        config: Config,
        topology: TopologyHandle,
    ) -> Result<Arc<Context>, crate::config::ConfigError> {
        let tls = crate::tls::load(&config)?;
        let credentials = Credentials::default();
        let backends = Backends::new(
            pool_settings(&config),
            credentials,
            crate::tls::BackendTls::new(tls.backend),
        );
        let ctx = Arc::new(Context {
            config: Arc::new(ArcSwap::from_pointee(config.clone())),
            topology,
            backends,
            registry: Registry::new(),
            stats: Stats::default(),
            metrics: crate::metrics::Metrics::new(),
            digest: crate::router::digest::Digest::default(),
            consistency: crate::router::consistency::Consistency::default(),
            failover: crate::failover::FailoverHandle::new(config.failover.enabled),
            held: crate::failover::hold::Held::default(),
            login_dbs: super::login_db::LoginDbs::default(),
            login_failures: Default::default(),
            buffers: crate::protocol::budget::BufferBudget::new(
                usize::try_from(config.router.max_buffered_bytes.get()).unwrap_or(usize::MAX),
                config.pool.checkout_timeout.get(),
            ),
            listener_tls: crate::tls::ListenerTls::new(tls.server),
            backups: crate::backup::Backups::new(),
            cluster: std::sync::OnceLock::new(),
        });
        ctx.apply_backend_credentials(&config, &[]);
        Ok(ctx)
    }

    /// Installs TLS state built from a reloaded config: new connections
    /// use it, open ones keep theirs.
    pub fn apply_tls(&self, tls: crate::tls::Loaded) {
        self.listener_tls.set(tls.server);
        self.backends.tls.set(tls.backend);
    }

    /// How a client logging in as `user` is checked, from the running
    /// config: the same snapshot the session then runs with, so a reload
    /// never pairs new users with old settings or the reverse.
    pub fn login_credential(config: &Config, user: &str) -> Option<ServerCredential> {
        config.user(user).map(|u| match &u.password {
            Password::Plain(pw) => ServerCredential::plain(pw.expose().as_bytes()),
            Password::NativeHash(h) => ServerCredential::NativeHash(*h),
        })
    }

    /// Installs the credentials sqlyard logs in to the servers with, for
    /// the users of `config` (at start and after a reload's swap). Those of
    /// `also_keep` (removed users whose sessions still run) stay.
    pub fn apply_backend_credentials(&self, config: &Config, also_keep: &[String]) {
        let creds = &self.backends.credentials;
        for u in &config.users {
            match &u.password {
                Password::Plain(pw) => {
                    creds.set(BackendCredential::plain(&u.name, pw.clone()));
                }
                Password::NativeHash(_) => {
                    if creds.get(&u.name).is_none() {
                        creds.set(BackendCredential {
                            user: u.name.clone(),
                            password: None,
                            sha1: None,
                        });
                    }
                }
            }
        }
        let mut names: Vec<String> = config.users.iter().map(|u| u.name.clone()).collect();
        names.extend(also_keep.iter().cloned());
        creds.remove_missing(&names);
    }

    /// The version string announced to clients.
    pub fn server_version(&self) -> String {
        let cfg = self.config.load();
        if cfg.router.server_version != "auto" {
            return cfg.router.server_version.clone();
        }
        let snap = self.topology.load();
        let v = snap
            .primary_server()
            .and_then(|s| s.version.clone())
            .or_else(|| snap.servers.iter().find_map(|s| s.version.clone()));
        match v {
            Some(v) if v.contains("MariaDB") => format!("5.5.5-{v}-sqlyard"),
            Some(v) => format!("{v}-sqlyard"),
            None => "5.5.5-10.11.0-MariaDB-sqlyard".to_string(),
        }
    }

    /// The MariaDB extended capabilities to offer clients: the ones
    /// sqlyard passes through (progress reports, bulk execution) when every
    /// server of the topology whose flavor the monitor knows is MariaDB
    /// (10.2 and later have both), none otherwise. Pool connections ask
    /// their server for what the session negotiated, and only what that
    /// server's greeting offers.
    pub fn mariadb_extensions(&self) -> Option<u32> {
        let snap = self.topology.load();
        extensions_for(
            snap.servers
                .iter()
                .filter_map(|s| s.flavor.map(|f| (f, s.version.as_deref()))),
        )
    }

    /// A credential for sqlyard's own control connections (KILL).
    pub fn monitor_credential(&self) -> BackendCredential {
        let cfg = self.config.load();
        BackendCredential::plain(&cfg.monitor.user, cfg.monitor.password.clone())
    }
}

/// [`Context::mariadb_extensions`] for the servers whose flavor (and
/// version) the monitor knows.
fn extensions_for<'a>(
    known: impl Iterator<Item = (crate::topology::flavor::Flavor, Option<&'a str>)>,
) -> Option<u32> {
    use crate::topology::flavor::{version_triple, Flavor};
    let mut known = known.peekable();
    known.peek()?;
    let all_mariadb = known.all(|(f, v)| {
        f == Flavor::MariaDb && v.and_then(version_triple).is_some_and(|t| t >= (10, 2, 0))
    });
    all_mariadb.then_some(crate::protocol::constants::ext_cap::SUPPORTED)
}

#[cfg(test)]
mod extension_tests {
    use super::extensions_for;
    use crate::protocol::constants::ext_cap;
    use crate::topology::flavor::Flavor;

    #[test]
    fn extensions_are_offered_only_when_every_known_server_has_them() {
        let maria = (Flavor::MariaDb, Some("10.11.6-MariaDB-0+deb12u1"));
        let old_maria = (Flavor::MariaDb, Some("10.1.48-MariaDB"));
        let mysql = (Flavor::MySql, Some("8.0.36"));
        assert_eq!(
            extensions_for([maria, maria].into_iter()),
            Some(ext_cap::SUPPORTED)
        );
        assert_eq!(extensions_for([maria, mysql].into_iter()), None);
        assert_eq!(extensions_for([maria, old_maria].into_iter()), None);
        assert_eq!(extensions_for([(Flavor::MariaDb, None)].into_iter()), None);
        // nothing known yet: nothing offered
        assert_eq!(extensions_for(std::iter::empty()), None);
    }
}
