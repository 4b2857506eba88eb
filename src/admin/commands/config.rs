//! Problem: operators need to see the configuration the router is running
//! with (which may differ from the file if it was edited since), without
//! ever seeing a password, and to re-read the file without a restart.
//! `SHOW CONFIG` lists every key of every section, secrets masked, and the
//! file it came from; `RELOAD CONFIG` re-reads that file (an invalid file
//! is refused with file, line and reason, and the running config stays).

use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::config::{
    BackendTlsConfig, Config, ConsistencyConfig, FailoverConfig, MonitorConfig, Password,
    PoolConfig, RouterConfig, RoutingConfig, ServerConfig, TlsConfig, UserConfig,
};
use crate::control::Control;

use super::servers::reload_reply;
use super::{ready, Pending};

pub const USAGE: &[&str] = &["SHOW CONFIG", "RELOAD CONFIG"];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "CONFIG"]) {
        let mut rs = show_config(&control.config(), control.config_path.as_deref());
        if let Some(c) = control.cluster() {
            shared_rows(&mut rs, &c.view());
        }
        return ready(Ok(Reply::Rows(rs)));
    }
    if stmt.is(&["RELOAD", "CONFIG"]) {
        return Some(Box::pin(async move {
            let report = control.reload().await?;
            Ok(reload_reply(&report, ""))
        }));
    }
    None
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("section", Column::Text),
    ("key", Column::Text),
    ("value", Column::Text),
];

/// What a password shows as.
fn masked(p: &Password) -> String {
    match p {
        Password::Plain(_) => "*** (plain, masked)".to_string(),
        Password::NativeHash(_) => "*** (mysql_native_password hash, masked)".to_string(),
    }
}

fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_ascii_lowercase()
}

/// The runtime values shared by the instances of a cluster (section
/// `cluster (shared)`): they apply on top of the file.
pub fn shared_rows(rs: &mut ResultSet, view: &crate::cluster::ClusterView) {
    let s = "cluster (shared)";
    let mut put = |key: String, value: String| rs.push(vec![cell(s), cell(key), Some(value)]);
    if let Some(on) = view.autofailover {
        put("autofailover".into(), if on { "ON" } else { "OFF" }.into());
    }
    for (address, state) in &view.server_states {
        put(format!("state of {address}"), state.to_uppercase());
    }
    for address in view.added.keys() {
        put(format!("server {address}"), "added (ADD SERVER)".into());
    }
    for address in &view.removed {
        put(
            format!("server {address}"),
            "removed (REMOVE SERVER)".into(),
        );
    }
}

/// `SHOW CONFIG` for a config (and the path the router was started with).
pub fn show_config(cfg: &Config, started_from: Option<&std::path::Path>) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    let mut put = |section: &str, key: &str, value: String| {
        rs.push(vec![cell(section), cell(key), Some(value)]);
    };
    // Every struct is destructured without `..`: a new key cannot be
    // forgotten here, and no secret is printed by accident.
    let Config {
        router,
        users,
        monitor,
        servers,
        pool,
        routing,
        consistency,
        failover,
        tls,
        backend_tls,
        cluster,
        backup,
        source,
    } = cfg;
    let file = source
        .as_deref()
        .or(started_from)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none: built in memory)".to_string());
    put("", "file", file);

    let RouterConfig {
        listen,
        admin_listen,
        admin_user,
        admin_password: _,
        metrics_listen,
        max_connections,
        auth_failures_before_delay,
        auth_max_delay,
        admin_max_connections,
        admin_idle_timeout,
        worker_threads,
        max_buffered_bytes,
        connect_timeout,
        idle_timeout,
        idle_transaction_timeout,
        primary_wait,
        shutdown_timeout,
        server_version,
        admin_require_tls,
    } = router;
    let s = "router";
    put(s, "listen", listen.clone());
    put(s, "admin_listen", admin_listen.clone());
    put(s, "admin_user", admin_user.clone());
    put(s, "admin_password", "*** (masked)".into());
    put(s, "metrics_listen", metrics_listen.clone());
    put(s, "max_connections", max_connections.to_string());
    put(
        s,
        "auth_failures_before_delay",
        auth_failures_before_delay.to_string(),
    );
    put(s, "auth_max_delay", auth_max_delay.to_string());
    put(
        s,
        "admin_max_connections",
        admin_max_connections.to_string(),
    );
    put(s, "admin_idle_timeout", admin_idle_timeout.to_string());
    put(s, "worker_threads", worker_threads.to_string());
    put(s, "max_buffered_bytes", max_buffered_bytes.to_string());
    put(s, "connect_timeout", connect_timeout.to_string());
    put(s, "idle_timeout", idle_timeout.to_string());
    let idle_trx = idle_transaction_timeout.map_or_else(|| "off".to_string(), |d| d.to_string());
    put(s, "idle_transaction_timeout", idle_trx);
    put(s, "primary_wait", primary_wait.to_string());
    put(s, "shutdown_timeout", shutdown_timeout.to_string());
    put(s, "server_version", server_version.clone());
    put(s, "admin_require_tls", admin_require_tls.to_string());

    for (i, u) in users.iter().enumerate() {
        let UserConfig {
            name,
            password,
            max_connections,
            require_tls,
            require_x509,
        } = u;
        let s = format!("users[{i}]");
        put(&s, "name", name.clone());
        put(&s, "password", masked(password));
        let limit = max_connections.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        put(&s, "max_connections", limit);
        put(&s, "require_tls", require_tls.to_string());
        put(&s, "require_x509", require_x509.to_string());
    }

    let MonitorConfig {
        user,
        password: _,
        replication_user,
        replication_password: _,
        schema,
        interval,
        connect_timeout,
        query_timeout,
    } = monitor;
    let s = "monitor";
    put(s, "user", user.clone());
    put(s, "password", "*** (masked)".into());
    put(s, "replication_user", replication_user.clone());
    put(s, "replication_password", "*** (masked)".into());
    put(s, "schema", schema.clone());
    put(s, "interval", interval.to_string());
    put(s, "connect_timeout", connect_timeout.to_string());
    put(s, "query_timeout", query_timeout.to_string());

    for (i, sv) in servers.iter().enumerate() {
        let ServerConfig {
            address,
            weight,
            promotion,
            max_replication_lag,
            max_connections,
            tls,
        } = sv;
        let s = format!("servers[{i}]");
        put(&s, "address", address.clone());
        put(&s, "weight", weight.to_string());
        put(&s, "promotion", lower(promotion));
        put(
            &s,
            "max_replication_lag",
            max_replication_lag
                .map(|d| d.to_string())
                .unwrap_or_else(|| "(routing.max_replication_lag)".into()),
        );
        let limit =
            max_connections.map_or_else(|| "(80% of the server's)".to_string(), |n| n.to_string());
        put(&s, "max_connections", limit);
        let mode = tls.map_or_else(|| "(backend_tls.mode)".to_string(), |m| m.as_str().into());
        put(&s, "tls", mode);
    }

    let PoolConfig {
        max_size,
        checkout_timeout,
        connect_timeout,
        idle_timeout,
        min_idle,
        linger,
        max_prepared_per_connection,
    } = pool;
    let s = "pool";
    put(s, "max_size", max_size.to_string());
    put(s, "checkout_timeout", checkout_timeout.to_string());
    put(s, "connect_timeout", connect_timeout.to_string());
    put(s, "idle_timeout", idle_timeout.to_string());
    put(s, "min_idle", min_idle.to_string());
    put(s, "linger", linger.to_string());
    put(
        s,
        "max_prepared_per_connection",
        max_prepared_per_connection.to_string(),
    );

    let RoutingConfig {
        read_write_split,
        max_replication_lag,
        primary_reads,
    } = routing;
    let s = "routing";
    put(s, "read_write_split", read_write_split.to_string());
    put(s, "max_replication_lag", max_replication_lag.to_string());
    put(s, "primary_reads", lower(primary_reads));

    let ConsistencyConfig {
        read_your_writes,
        wait_timeout,
    } = consistency;
    let s = "consistency";
    put(s, "read_your_writes", lower(read_your_writes));
    put(s, "wait_timeout", wait_timeout.to_string());

    let FailoverConfig {
        enabled,
        silence_grace,
        hold_timeout,
        anti_flap_window,
        max_candidate_lag,
        journal,
        catch_up_timeout,
        switchover_timeout,
        max_held,
        replica_heartbeat_period,
        tune_replica_heartbeat,
        fence,
        fence_command,
        fence_command_timeout,
        replication_ssl_ca,
        auto_rebuild,
    } = failover;
    let s = "failover";
    put(s, "enabled", enabled.to_string());
    put(s, "silence_grace", silence_grace.to_string());
    put(s, "hold_timeout", hold_timeout.to_string());
    put(s, "anti_flap_window", anti_flap_window.to_string());
    put(s, "max_candidate_lag", max_candidate_lag.to_string());
    put(s, "journal", journal.clone());
    put(s, "catch_up_timeout", catch_up_timeout.to_string());
    put(s, "switchover_timeout", switchover_timeout.to_string());
    put(s, "max_held", max_held.to_string());
    put(
        s,
        "replica_heartbeat_period",
        replica_heartbeat_period.to_string(),
    );
    put(
        s,
        "tune_replica_heartbeat",
        tune_replica_heartbeat.to_string(),
    );
    let steps: Vec<&str> = fence.iter().map(|f| f.as_str()).collect();
    put(s, "fence", steps.join(", "));
    put(s, "fence_command", fence_command.join(" "));
    put(
        s,
        "fence_command_timeout",
        fence_command_timeout.to_string(),
    );
    put(
        s,
        "replication_ssl_ca",
        replication_ssl_ca
            .clone()
            .unwrap_or_else(|| "(none)".into()),
    );
    put(s, "auto_rebuild", auto_rebuild.to_string());

    let none = || "(none)".to_string();
    let s = "tls";
    match tls {
        None => put(s, "", "(not configured: plaintext only)".into()),
        Some(TlsConfig {
            cert,
            key,
            client_ca,
            require,
            min_version,
        }) => {
            put(s, "cert", cert.clone());
            put(s, "key", key.clone());
            put(s, "client_ca", client_ca.clone().unwrap_or_else(none));
            put(s, "require", require.to_string());
            let v = match min_version {
                crate::config::TlsVersion::Tls12 => "1.2",
                crate::config::TlsVersion::Tls13 => "1.3",
            };
            put(s, "min_version", v.into());
        }
    }
    let BackendTlsConfig {
        mode,
        ca,
        cert,
        key,
        server_public_key,
        allow_public_key_retrieval,
    } = backend_tls;
    let s = "backend_tls";
    put(s, "mode", mode.as_str().into());
    put(s, "ca", ca.clone().unwrap_or_else(none));
    put(s, "cert", cert.clone().unwrap_or_else(none));
    put(s, "key", key.clone().unwrap_or_else(none));
    put(
        s,
        "server_public_key",
        server_public_key.clone().unwrap_or_else(none),
    );
    put(
        s,
        "allow_public_key_retrieval",
        allow_public_key_retrieval.to_string(),
    );
    let s = "cluster";
    match cluster {
        None => put(s, "", "(not configured: this instance runs alone)".into()),
        Some(crate::config::ClusterConfig {
            etcd_endpoints,
            name,
            instance,
            lease_ttl,
            etcd_ca,
            etcd_cert,
            etcd_key,
            etcd_user,
            etcd_password: _,
        }) => {
            put(s, "etcd_endpoints", etcd_endpoints.join(", "));
            put(s, "name", name.clone());
            put(
                s,
                "instance",
                instance
                    .clone()
                    .unwrap_or_else(|| "(host name and application port)".into()),
            );
            put(s, "lease_ttl", lease_ttl.to_string());
            put(s, "etcd_ca", etcd_ca.clone().unwrap_or_else(none));
            put(s, "etcd_cert", etcd_cert.clone().unwrap_or_else(none));
            put(s, "etcd_key", etcd_key.clone().unwrap_or_else(none));
            put(s, "etcd_user", etcd_user.clone().unwrap_or_else(none));
            put(s, "etcd_password", "*** (masked)".into());
        }
    }
    let s = "backup";
    match backup {
        None => put(s, "", "(not configured: no backups)".into()),
        Some(crate::config::BackupConfig {
            dir,
            interval,
            at,
            keep,
            source,
            allow_primary,
            drain,
            max_age_for_rebuild,
            command_after,
            user,
            password: _,
            dump_program,
            rebuild_user,
            rebuild_password: _,
            max_rate,
        }) => {
            put(s, "dir", dir.clone());
            let off = || "off".to_string();
            put(s, "interval", interval.map_or_else(off, |d| d.to_string()));
            put(s, "at", at.clone().map_or_else(off, |a| format!("{a} UTC")));
            put(s, "keep", keep.to_string());
            put(s, "source", source.clone());
            put(s, "allow_primary", allow_primary.to_string());
            put(s, "drain", drain.to_string());
            put(s, "max_age_for_rebuild", max_age_for_rebuild.to_string());
            put(
                s,
                "command_after",
                command_after.clone().unwrap_or_else(none),
            );
            let who = user.clone().unwrap_or_else(|| "(the monitor's)".into());
            put(s, "user", who);
            put(s, "password", "*** (masked)".into());
            let program = dump_program.clone();
            put(
                s,
                "dump_program",
                program.unwrap_or_else(|| "mariadb-dump".into()),
            );
            let who = rebuild_user
                .clone()
                .unwrap_or_else(|| "(none: REBUILD SERVER refused)".into());
            put(s, "rebuild_user", who);
            put(s, "rebuild_password", "*** (masked)".into());
            let rate = max_rate.map_or_else(|| "off".to_string(), |r| format!("{r} per second"));
            put(s, "max_rate", rate);
        }
    }
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn secrets_never_shown() {
        let text = r#"
[router]
admin_password = "admin-secret-1"
[monitor]
user = "mon"
password = "mon-secret-2"
replication_user = "repl"
replication_password = "repl-secret-3"
[[users]]
name = "app"
password = "app-secret-4"
[[users]]
name = "hashed"
password = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
[[servers]]
address = "127.0.0.1:3306"
"#;
        let cfg = Config::from_toml_str(text, Path::new("x.toml")).unwrap();
        let rs = show_config(&cfg, None);
        let all = format!("{:?}", rs.rows);
        for secret in [
            "admin-secret-1",
            "mon-secret-2",
            "repl-secret-3",
            "app-secret-4",
            "2470C0C06DEE",
        ] {
            assert!(!all.contains(secret), "{secret} leaked: {all}");
        }
        let find = |sec: &str, key: &str| {
            rs.rows
                .iter()
                .find(|r| r[0].as_deref() == Some(sec) && r[1].as_deref() == Some(key))
                .and_then(|r| r[2].clone())
        };
        assert_eq!(find("users[1]", "name").as_deref(), Some("hashed"));
        assert!(find("users[1]", "password").is_some_and(|p| p.contains("hash")));
        assert_eq!(
            find("servers[0]", "address").as_deref(),
            Some("127.0.0.1:3306")
        );
        assert_eq!(find("monitor", "user").as_deref(), Some("mon"));
        assert_eq!(find("pool", "linger").as_deref(), Some("5ms"));
        assert_eq!(find("", "file").as_deref(), Some("x.toml"));
    }
}
