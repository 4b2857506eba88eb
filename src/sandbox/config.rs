//! Each sandbox mariadbd needs its own option file: its own datadir, socket,
//! port and server_id, plus the settings every test relies on (GTID strict
//! replication, read_only at boot, small memory, huge packets, many
//! connections). This file renders those option files as text.

use std::fmt::Write as _;
use std::path::Path;

/// Settings shared by the template datadir and every node. They are part of
/// the template cache key, so changing them rebuilds the template.
pub(crate) const COMMON_SETTINGS: &str = "\
innodb_buffer_pool_size = 64M
innodb_log_file_size = 8M
innodb_buffer_pool_dump_at_shutdown = OFF
innodb_buffer_pool_load_at_startup = OFF
performance_schema = OFF
character_set_server = utf8mb4
collation_server = utf8mb4_general_ci
skip_name_resolve = ON
";

/// Where one server keeps its files.
#[derive(Debug, Clone)]
pub(crate) struct ServerPaths<'a> {
    pub datadir: &'a Path,
    pub socket: &'a Path,
    pub pid_file: &'a Path,
    pub error_log: &'a Path,
}

/// Everything that makes one node's option file differ from another's.
#[derive(Debug, Clone)]
pub(crate) struct NodeConfig<'a> {
    pub paths: ServerPaths<'a>,
    pub server_id: u32,
    pub port: u16,
    /// The address it listens on and reports to its replicas.
    pub host: std::net::IpAddr,
    /// `Some(timeout_ms)` turns on semi-sync settings.
    pub semi_sync_timeout_ms: Option<u64>,
    /// Leave replication timing at MariaDB's defaults (no short
    /// `slave_net_timeout`), as users often do.
    pub mariadb_defaults: bool,
    /// Pass `user = root` (mariadbd refuses to run as root without it).
    pub run_as_root: bool,
    /// TLS with `require_secure_transport=ON`.
    pub tls: Option<&'a super::certs::TlsFiles>,
    /// The node's own temporary directory (not the shared /tmp: internal
    /// temporary tables of one server must not meet another's files).
    pub tmpdir: &'a Path,
}

fn write_paths(out: &mut String, paths: &ServerPaths<'_>, run_as_root: bool) {
    if run_as_root {
        out.push_str("user = root\n");
    }
    let _ = writeln!(out, "datadir = {}", paths.datadir.display());
    let _ = writeln!(out, "socket = {}", paths.socket.display());
    let _ = writeln!(out, "pid_file = {}", paths.pid_file.display());
    let _ = writeln!(out, "log_error = {}", paths.error_log.display());
}

/// The option file of one topology node.
///
/// Every node boots `read_only = ON`; the primary is made writable at
/// runtime, so a restarted old primary can never come back as a second writer.
/// Semi-sync: the replica side and the wait point/timeout are configured on
/// every node (a node may become a replica after a failover), while
/// `rpl_semi_sync_master_enabled` is switched on at runtime on the primary only.
pub(crate) fn render_node_cnf(cfg: &NodeConfig<'_>) -> String {
    let mut out = String::with_capacity(2048);
    let _ = writeln!(out, "# sqlyard sandbox node, server_id {}", cfg.server_id);
    out.push_str("[mariadbd]\n");
    write_paths(&mut out, &cfg.paths, cfg.run_as_root);
    let _ = writeln!(out, "port = {}", cfg.port);
    let _ = writeln!(out, "tmpdir = {}", cfg.tmpdir.display());
    let _ = writeln!(out, "bind_address = {}", cfg.host);
    let _ = writeln!(out, "report_host = {}", cfg.host);
    let _ = writeln!(out, "report_port = {}", cfg.port);
    let _ = writeln!(out, "server_id = {}", cfg.server_id);
    out.push_str(
        "\
log_bin = mysql-bin
relay_log = relay-bin
log_slave_updates = ON
binlog_format = ROW
gtid_strict_mode = ON
read_only = ON
log_bin_trust_function_creators = ON
sync_binlog = 0
innodb_flush_log_at_trx_commit = 2
max_allowed_packet = 1G
max_connections = 3000
local_infile = ON
userstat = ON
",
    );
    if !cfg.mariadb_defaults {
        out.push_str("slave_net_timeout = 4\n");
    }
    out.push_str(COMMON_SETTINGS);
    if let Some(tls) = cfg.tls {
        let _ = writeln!(out, "ssl_ca = {}", tls.ca.display());
        let _ = writeln!(out, "ssl_cert = {}", tls.server_cert.display());
        let _ = writeln!(out, "ssl_key = {}", tls.server_key.display());
        out.push_str("require_secure_transport = ON\n");
    }
    if let Some(timeout) = cfg.semi_sync_timeout_ms {
        out.push_str("rpl_semi_sync_slave_enabled = ON\n");
        out.push_str("rpl_semi_sync_master_wait_point = AFTER_SYNC\n");
        let _ = writeln!(out, "rpl_semi_sync_master_timeout = {timeout}");
    }
    // Lets a human run `mariadb --defaults-file=<this file>`.
    out.push_str("\n[client]\n");
    let _ = writeln!(out, "socket = {}", cfg.paths.socket.display());
    out
}

/// The option file used once, by mariadb-install-db, to build the template
/// datadir: no binlog (so the GTID history of every node starts empty) and no
/// networking.
pub(crate) fn render_template_cnf(paths: &ServerPaths<'_>, run_as_root: bool) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("# sqlyard sandbox template\n[mariadbd]\n");
    write_paths(&mut out, paths, run_as_root);
    out.push_str("skip_networking = ON\nskip_log_bin\nserver_id = 1\n");
    out.push_str(COMMON_SETTINGS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> ServerPaths<'static> {
        ServerPaths {
            datadir: Path::new("/tmp/x/data"),
            socket: Path::new("/tmp/x/mariadbd.sock"),
            pid_file: Path::new("/tmp/x/mariadbd.pid"),
            error_log: Path::new("/tmp/x/error.log"),
        }
    }

    #[test]
    fn node_cnf_has_the_required_settings() {
        let text = render_node_cnf(&NodeConfig {
            paths: paths(),
            server_id: 3,
            port: 23303,
            host: std::net::Ipv4Addr::LOCALHOST.into(),
            semi_sync_timeout_ms: None,
            mariadb_defaults: false,
            run_as_root: true,
            tls: None,
            tmpdir: Path::new("/x/tmp"),
        });
        for needle in [
            "user = root",
            "server_id = 3",
            "port = 23303",
            "tmpdir = /x/tmp",
            "bind_address = 127.0.0.1",
            "socket = /tmp/x/mariadbd.sock",
            "read_only = ON",
            "gtid_strict_mode = ON",
            "log_slave_updates = ON",
            "binlog_format = ROW",
            "log_bin = mysql-bin",
            "innodb_buffer_pool_size = 64M",
            "performance_schema = OFF",
            "max_allowed_packet = 1G",
            "max_connections = 3000",
            "local_infile = ON",
            "userstat = ON",
            "slave_net_timeout = 4",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
        assert!(!text.contains("semi_sync"));
    }

    #[test]
    fn semi_sync_never_enables_master_side_in_the_file() {
        let text = render_node_cnf(&NodeConfig {
            paths: paths(),
            server_id: 1,
            port: 1,
            host: "10.250.3.1".parse().unwrap(),
            semi_sync_timeout_ms: Some(750),
            mariadb_defaults: false,
            run_as_root: false,
            tls: None,
            tmpdir: Path::new("/x/tmp"),
        });
        assert!(text.contains("rpl_semi_sync_slave_enabled = ON"));
        assert!(text.contains("rpl_semi_sync_master_wait_point = AFTER_SYNC"));
        assert!(text.contains("rpl_semi_sync_master_timeout = 750"));
        assert!(!text.contains("rpl_semi_sync_master_enabled"));
        assert!(!text.contains("user = root"));
        assert!(text.contains("bind_address = 10.250.3.1"), "{text}");
        assert!(text.contains("report_host = 10.250.3.1"), "{text}");
    }

    #[test]
    fn mariadb_defaults_leave_replication_timing_alone() {
        let text = render_node_cnf(&NodeConfig {
            paths: paths(),
            server_id: 2,
            port: 2,
            host: std::net::Ipv4Addr::LOCALHOST.into(),
            semi_sync_timeout_ms: None,
            mariadb_defaults: true,
            run_as_root: false,
            tls: None,
            tmpdir: Path::new("/x/tmp"),
        });
        assert!(!text.contains("slave_net_timeout"), "{text}");
        assert!(text.contains("read_only = ON"));
        assert!(text.contains("gtid_strict_mode = ON"));
    }

    #[test]
    fn template_has_no_binlog_and_no_network() {
        let text = render_template_cnf(&paths(), true);
        assert!(text.contains("skip_log_bin"));
        assert!(text.contains("skip_networking = ON"));
        assert!(!text.contains("\nlog_bin ="));
    }
}
