//! Tests, the example config and the sandbox must agree on account names and
//! passwords; this file is the single place that names them.
//!
//! These are throw-away credentials of a local test sandbox, identical to the
//! ones in `examples/sqlyard.toml`.

/// The application account (everything but administrative privileges).
pub const APP_USER: &str = "app";
/// Password of [`APP_USER`].
pub const APP_PASSWORD: &str = "app_pw";
/// The router's monitor/failover account.
pub const ROUTER_USER: &str = "router";
/// Password of [`ROUTER_USER`].
pub const ROUTER_PASSWORD: &str = "router_pw";
/// The replication account (REPLICATION SLAVE only).
pub const REPL_USER: &str = "repl";
/// Password of [`REPL_USER`].
pub const REPL_PASSWORD: &str = "repl_pw";
/// The backup account (`[backup] user`): reads everything, stops a
/// replica's SQL thread.
pub const BACKUP_USER: &str = "backup";
/// Password of [`BACKUP_USER`].
pub const BACKUP_PASSWORD: &str = "backup_pw";
/// The rebuild account (`[backup] rebuild_user`): `REBUILD SERVER` drops
/// and loads schemas and accounts on the rebuilt server.
pub const REBUILD_USER: &str = "rebuild";
/// Password of [`REBUILD_USER`].
pub const REBUILD_PASSWORD: &str = "rebuild_pw";
/// The router's admin interface account (not a MariaDB account).
pub const ADMIN_USER: &str = "admin";
/// Password of [`ADMIN_USER`].
pub const ADMIN_PASSWORD: &str = "admin_pw";
/// Databases that exist on every sandbox node.
pub const SANDBOX_DATABASES: [&str; 3] = ["sqlyard", "sbtest", "test"];
