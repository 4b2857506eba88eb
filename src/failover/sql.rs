//! Failover and switchover change replication on live servers: stop and clear a
//! candidate's channel and make it writable, point the other servers at it, fence an
//! old primary, wait until a server has applied a GTID position. MariaDB and MySQL
//! (and MySQL releases among themselves) spell each of these differently. This file
//! builds the exact statement text per [`Flavor`] and version, with every value quoted,
//! as pure functions that are unit-tested against the documented syntax; and it
//! renders statements for logs with passwords masked ([`redact`]).
//!
//! MySQL spellings follow the MySQL 8.x manual: `STOP/START/RESET REPLICA` from 8.0.22,
//! `CHANGE REPLICATION SOURCE TO ... SOURCE_*` from 8.0.23, the semi-sync source
//! variable `rpl_semi_sync_source_enabled` from 8.0.26 (the `semisync_source` plugin),
//! `super_read_only` for fencing, `WAIT_FOR_EXECUTED_GTID_SET` for waiting. An
//! unparseable version is treated as a current release.
//!
//! Quoting assumes backslash escapes are active (no `NO_BACKSLASH_ESCAPES` in the
//! session's `sql_mode`); `actions` makes sure of that on its connections.

use std::fmt;
use std::time::Duration;

use crate::topology::flavor::{version_triple, Flavor};

/// Where a MariaDB replica starts reading its new source's binlog
/// (`MASTER_USE_GTID`). MySQL has one mode, `SOURCE_AUTO_POSITION=1`, for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GtidStart {
    /// `slave_pos`: from what replication applied. For replicas that only ever
    /// applied replicated transactions.
    SlavePos,
    /// `current_pos`: from everything the server has, its own binlogged writes
    /// included. For an old primary rejoining as a replica.
    CurrentPos,
}

impl GtidStart {
    /// The `MASTER_USE_GTID` value.
    pub fn as_sql(self) -> &'static str {
        match self {
            GtidStart::SlavePos => "slave_pos",
            GtidStart::CurrentPos => "current_pos",
        }
    }
}

impl fmt::Display for GtidStart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_sql())
    }
}

/// Whether replication to a source is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationSsl<'a> {
    /// The source has no TLS: plaintext (on MySQL the replica then fetches
    /// the source's RSA key for caching_sha2_password).
    Off,
    /// `MASTER_SSL=1`, and with a CA, the source's certificate checked
    /// against it (`MASTER_SSL_CA`, `MASTER_SSL_VERIFY_SERVER_CERT=1`).
    On { ca: Option<&'a str> },
}

/// The source a replica is pointed at, with the replication account.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceSpec<'a> {
    /// TLS for the replication connection.
    pub ssl: ReplicationSsl<'a>,
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub password: &'a str,
    /// MariaDB only; MySQL always auto-positions.
    pub start: GtidStart,
    /// `MASTER_HEARTBEAT_PERIOD` / `SOURCE_HEARTBEAT_PERIOD`, millisecond resolution;
    /// zero turns the heartbeat off.
    pub heartbeat_period: Duration,
}

impl fmt::Debug for SourceSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceSpec")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"***")
            .field("start", &self.start)
            .field("heartbeat_period", &self.heartbeat_period)
            .finish()
    }
}

/// What a GTID wait function returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The position was reached.
    Reached,
    /// The server-side timeout expired first.
    TimedOut,
    /// NULL or a value the function does not document (e.g. MySQL's 2 when killed).
    Unexpected(Option<i64>),
}

/// The largest heartbeat both servers accept (MariaDB documents 4294967 seconds).
const MAX_HEARTBEAT: Duration = Duration::from_secs(4_294_967);

fn mysql_at_least(version: &str, at_least: (u32, u32, u32)) -> bool {
    version_triple(version).is_none_or(|v| v >= at_least)
}

/// MySQL 8.0.22 renamed STOP/START/RESET SLAVE to ...REPLICA.
fn mysql_replica_keyword(version: &str) -> &'static str {
    if mysql_at_least(version, (8, 0, 22)) {
        "REPLICA"
    } else {
        "SLAVE"
    }
}

/// A string literal: single quotes, with `'` doubled and `\`, NUL, CR, LF and
/// Ctrl-Z escaped, so any value (passwords included) survives intact.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Seconds with millisecond precision, e.g. `1.500`.
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// The statement that stops every replication channel.
pub fn stop_replication_sql(flavor: Flavor, version: &str) -> &'static str {
    match flavor {
        Flavor::MariaDb => "STOP ALL SLAVES",
        Flavor::MySql if mysql_at_least(version, (8, 0, 22)) => "STOP REPLICA",
        Flavor::MySql => "STOP SLAVE",
    }
}

/// Starts replication again (after a failover that stopped receivers and
/// then could not complete).
pub fn start_replication_sql(flavor: Flavor, version: &str) -> &'static str {
    match flavor {
        Flavor::MariaDb => "START ALL SLAVES",
        Flavor::MySql if mysql_at_least(version, (8, 0, 22)) => "START REPLICA",
        Flavor::MySql => "START SLAVE",
    }
}

/// Stops only the receiver (IO thread): the applier keeps applying what was
/// received. Run on every replica as soon as a failover has a candidate: a
/// semi-sync replica's receiver takes about 2 s to stop when its source is
/// frozen (it first tries to reach the source), so these stops run in
/// parallel with the catch-up instead of one after the other later.
pub fn stop_receiver_sql(flavor: Flavor, version: &str) -> &'static str {
    match flavor {
        Flavor::MariaDb => "STOP SLAVE IO_THREAD",
        Flavor::MySql if mysql_at_least(version, (8, 0, 22)) => "STOP REPLICA IO_THREAD",
        Flavor::MySql => "STOP SLAVE IO_THREAD",
    }
}

/// Forgets one named replication channel entirely (MariaDB multi-source
/// connection name / MySQL channel). `RESET ... ALL` without a name only covers
/// MariaDB's default connection, so a promotion clears named ones with this.
pub fn reset_channel_sql(flavor: Flavor, version: &str, channel: &str) -> String {
    match flavor {
        Flavor::MariaDb => format!("RESET SLAVE {} ALL", quote(channel)),
        Flavor::MySql => format!(
            "RESET {} ALL FOR CHANNEL {}",
            mysql_replica_keyword(version),
            quote(channel)
        ),
    }
}

/// The semi-sync source-side switch, preferred name first. MySQL 8.0.26 renamed
/// it with the new `semisync_source` plugin; a server that still loads the old
/// plugin keeps the old name, so callers fall back to the next name on error 1193
/// (unknown system variable).
pub fn semi_sync_source_variables(flavor: Flavor, version: &str) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDb => &["rpl_semi_sync_master_enabled"],
        Flavor::MySql if mysql_at_least(version, (8, 0, 26)) => &[
            "rpl_semi_sync_source_enabled",
            "rpl_semi_sync_master_enabled",
        ],
        Flavor::MySql => &[
            "rpl_semi_sync_master_enabled",
            "rpl_semi_sync_source_enabled",
        ],
    }
}

/// `SET GLOBAL <semi-sync source switch> = ON|OFF` with the preferred variable name.
pub fn semi_sync_source_sql(flavor: Flavor, version: &str, on: bool) -> String {
    let name = semi_sync_source_variables(flavor, version)[0];
    set_global(name, on)
}

fn set_global(name: &str, on: bool) -> String {
    format!("SET GLOBAL {name} = {}", if on { "ON" } else { "OFF" })
}

/// If `sql` sets a semi-sync source variable, the same statement with the other
/// spelling of the variable (for the error-1193 fallback).
pub fn alternate_semi_sync_sql(sql: &str) -> Option<String> {
    const SOURCE: &str = "rpl_semi_sync_source_enabled";
    const MASTER: &str = "rpl_semi_sync_master_enabled";
    if sql.contains(SOURCE) {
        Some(sql.replace(SOURCE, MASTER))
    } else if sql.contains(MASTER) {
        Some(sql.replace(MASTER, SOURCE))
    } else {
        None
    }
}

/// Turns a caught-up replica into the primary: stop and forget its replication,
/// switch the semi-sync source side on (if the topology uses semi-sync), then
/// make it writable. Semi-sync comes before `read_only=OFF` so that no write on
/// the new primary is ever acknowledged without a replica having it.
pub fn promote_sql(flavor: Flavor, version: &str, semi_sync: bool) -> Vec<String> {
    promote_sql_with_channels(flavor, version, semi_sync, &[])
}

/// [`promote_sql`] that also clears the named channels `channels` (MariaDB
/// multi-source; on MySQL `RESET REPLICA ALL` already clears every channel, so
/// they are ignored).
pub fn promote_sql_with_channels(
    flavor: Flavor,
    version: &str,
    semi_sync: bool,
    channels: &[&str],
) -> Vec<String> {
    let mut sql = vec![stop_replication_sql(flavor, version).to_string()];
    match flavor {
        Flavor::MariaDb => {
            sql.push("RESET SLAVE ALL".to_string());
            for channel in channels.iter().filter(|c| !c.is_empty()) {
                sql.push(reset_channel_sql(flavor, version, channel));
            }
        }
        Flavor::MySql => sql.push(format!("RESET {} ALL", mysql_replica_keyword(version))),
    }
    if semi_sync {
        sql.push(semi_sync_source_sql(flavor, version, true));
    }
    if flavor == Flavor::MySql {
        sql.push("SET GLOBAL super_read_only = OFF".to_string());
    }
    sql.push("SET GLOBAL read_only = OFF".to_string());
    sql
}

/// Fences a server that must not take writes (an old primary): read-only
/// first, so no new write starts, then the semi-sync source side off, so that a
/// demoted server neither waits for acks nor counts as a semi-sync primary. On
/// MySQL `super_read_only` also stops accounts with administrative privileges.
pub fn fence_sql(flavor: Flavor, version: &str) -> Vec<String> {
    // Semi-sync off first: commits waiting for an acknowledgement that will
    // never come (their replicas follow the new primary) would otherwise
    // block `read_only = ON` until the semi-sync timeout. sqlyard already
    // cut the clients of those commits (outcome unknown, never acknowledged).
    let mut sql = vec![semi_sync_source_sql(flavor, version, false)];
    sql.push("SET GLOBAL read_only = ON".to_string());
    if flavor == Flavor::MySql {
        sql.push("SET GLOBAL super_read_only = ON".to_string());
    }
    sql
}

/// [`fence_sql`] as one statement, for a fence sent ahead to a server that
/// may be frozen (`failover::standby`): it runs whole the moment the server
/// reads it, with no round trip between the steps. `semi_sync` is the
/// semi-sync source switch this server knows (`None`: it has none).
pub fn armed_fence_sql(flavor: Flavor, semi_sync: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(name) = semi_sync {
        parts.push(format!("GLOBAL {name} = OFF"));
    }
    parts.push("GLOBAL read_only = ON".to_string());
    if flavor == Flavor::MySql {
        parts.push("GLOBAL super_read_only = ON".to_string());
    }
    format!("SET {}", parts.join(", "))
}

/// Points a server at a new source with GTID positioning, a short heartbeat and
/// a 1 s reconnect interval, and starts replication.
pub fn repoint_sql(flavor: Flavor, version: &str, source: &SourceSpec<'_>) -> Vec<String> {
    let heartbeat = seconds(source.heartbeat_period.min(MAX_HEARTBEAT));
    let host = quote(source.host);
    let user = quote(source.user);
    let password = quote(source.password);
    let port = source.port;
    // `prefix` is MASTER or SOURCE
    let ssl = |prefix: &str| match source.ssl {
        ReplicationSsl::Off => format!(", {prefix}_SSL=0"),
        ReplicationSsl::On { ca: None } => format!(", {prefix}_SSL=1"),
        ReplicationSsl::On { ca: Some(ca) } => format!(
            ", {prefix}_SSL=1, {prefix}_SSL_CA={}, {prefix}_SSL_VERIFY_SERVER_CERT=1",
            quote(ca)
        ),
    };
    // Over TLS the password travels encrypted; the source's RSA key is
    // only needed (and only fetched) over plaintext.
    let plaintext = source.ssl == ReplicationSsl::Off;
    match flavor {
        Flavor::MariaDb => vec![
            "STOP SLAVE".to_string(),
            format!(
                "CHANGE MASTER TO MASTER_HOST={host}, MASTER_PORT={port}, MASTER_USER={user}, \
                 MASTER_PASSWORD={password}, MASTER_USE_GTID={}, \
                 MASTER_HEARTBEAT_PERIOD={heartbeat}, MASTER_CONNECT_RETRY=1{}",
                source.start.as_sql(),
                ssl("MASTER")
            ),
            "START SLAVE".to_string(),
        ],
        Flavor::MySql => {
            let keyword = mysql_replica_keyword(version);
            // Without TLS, a replication account using caching_sha2_password (the
            // MySQL 8 default) can only log in if the replica may fetch the key.
            let change = if mysql_at_least(version, (8, 0, 23)) {
                let public_key = if plaintext {
                    ", GET_SOURCE_PUBLIC_KEY=1"
                } else {
                    ""
                };
                format!(
                    "CHANGE REPLICATION SOURCE TO SOURCE_HOST={host}, SOURCE_PORT={port}, \
                     SOURCE_USER={user}, SOURCE_PASSWORD={password}, SOURCE_AUTO_POSITION=1, \
                     SOURCE_HEARTBEAT_PERIOD={heartbeat}, SOURCE_CONNECT_RETRY=1{}{public_key}",
                    ssl("SOURCE")
                )
            } else {
                let public_key = if plaintext && mysql_at_least(version, (8, 0, 4)) {
                    ", GET_MASTER_PUBLIC_KEY=1"
                } else {
                    ""
                };
                format!(
                    "CHANGE MASTER TO MASTER_HOST={host}, MASTER_PORT={port}, \
                     MASTER_USER={user}, MASTER_PASSWORD={password}, MASTER_AUTO_POSITION=1, \
                     MASTER_HEARTBEAT_PERIOD={heartbeat}, MASTER_CONNECT_RETRY=1{}{public_key}",
                    ssl("MASTER")
                )
            };
            vec![
                format!("STOP {keyword}"),
                change,
                format!("START {keyword}"),
            ]
        }
    }
}

/// Changes only the replication heartbeat period of one channel (`""` is the
/// default one): stop that channel, change the period, start it again. Nothing
/// else of the channel changes: a GTID channel resumes from its GTID position.
/// MariaDB names a multi-source connection after the verb
/// (`STOP SLAVE 'east'`, `CHANGE MASTER 'east' TO`); MySQL appends
/// `FOR CHANNEL 'east'`.
pub fn heartbeat_sql(
    flavor: Flavor,
    version: &str,
    channel: &str,
    period: Duration,
) -> Vec<String> {
    let period = seconds(period.min(MAX_HEARTBEAT));
    match flavor {
        Flavor::MariaDb => {
            let name = if channel.is_empty() {
                String::new()
            } else {
                format!(" {}", quote(channel))
            };
            vec![
                format!("STOP SLAVE{name}"),
                format!("CHANGE MASTER{name} TO MASTER_HEARTBEAT_PERIOD={period}"),
                format!("START SLAVE{name}"),
            ]
        }
        Flavor::MySql => {
            let keyword = mysql_replica_keyword(version);
            let for_channel = if channel.is_empty() {
                String::new()
            } else {
                format!(" FOR CHANNEL {}", quote(channel))
            };
            let change = if mysql_at_least(version, (8, 0, 23)) {
                format!(
                    "CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD={period}{for_channel}"
                )
            } else {
                format!("CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD={period}{for_channel}")
            };
            vec![
                format!("STOP {keyword}{for_channel}"),
                change,
                format!("START {keyword}{for_channel}"),
            ]
        }
    }
}

/// Every session of the server but the asking one, with its account and
/// command (both flavors have `information_schema.PROCESSLIST`).
pub const PROCESSLIST_SQL: &str = "SELECT ID AS id, USER AS user, COMMAND AS command \
     FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID()";

/// Ends a session (its running statement and its connection).
pub fn kill_sql(id: u64) -> String {
    format!("KILL CONNECTION {id}")
}

/// Shuts the server down (MariaDB 10.0.4+, MySQL 5.7.9+; SHUTDOWN privilege).
pub const SHUTDOWN_SQL: &str = "SHUTDOWN";

/// Threads fencing never kills because they cannot write: the server's own
/// work (its replication threads, the event scheduler, background threads)
/// and the binlog dump sessions of replicas reading from it.
pub fn is_server_thread(user: &str, command: &str) -> bool {
    let user = user.trim();
    let command = command.trim();
    user.eq_ignore_ascii_case("system user")
        || user.eq_ignore_ascii_case("event_scheduler")
        || [
            "Daemon",
            "Slave_IO",
            "Slave_SQL",
            "Slave_worker",
            "Binlog Dump",
            "Binlog Dump GTID",
        ]
        .iter()
        .any(|c| command.eq_ignore_ascii_case(c))
}

/// Waits on the server, up to `timeout`, until it has applied `gtid`. MariaDB's
/// `MASTER_GTID_WAIT` takes fractional seconds (never 0 here: a zero or negative
/// timeout means "forever" to some versions); MySQL's
/// `WAIT_FOR_EXECUTED_GTID_SET` is given whole seconds, rounded up, because
/// releases before 8.0.18 only take integers. Read the answer with
/// [`wait_outcome`].
pub fn wait_gtid_sql(flavor: Flavor, gtid: &str, timeout: Duration) -> String {
    match flavor {
        Flavor::MariaDb => {
            let timeout = timeout.max(Duration::from_millis(1));
            format!(
                "SELECT MASTER_GTID_WAIT({}, {}) AS waited",
                quote(gtid),
                seconds(timeout)
            )
        }
        Flavor::MySql => {
            let whole = timeout.as_secs() + u64::from(timeout.subsec_nanos() > 0);
            format!(
                "SELECT WAIT_FOR_EXECUTED_GTID_SET({}, {}) AS waited",
                quote(gtid),
                whole.max(1)
            )
        }
    }
}

/// Reads the value returned by [`wait_gtid_sql`]: MariaDB answers 0 or -1
/// (timeout), MySQL 0 or 1 (timeout).
pub fn wait_outcome(flavor: Flavor, value: Option<i64>) -> WaitOutcome {
    match (flavor, value) {
        (_, Some(0)) => WaitOutcome::Reached,
        (Flavor::MariaDb, Some(-1)) | (Flavor::MySql, Some(1)) => WaitOutcome::TimedOut,
        (_, other) => WaitOutcome::Unexpected(other),
    }
}

/// Reads the GTID positions and `read_only`, aliased so they are read by name:
/// MariaDB `gtid_current_pos`, `gtid_binlog_pos`; MySQL `gtid_executed`.
pub fn positions_sql(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::MariaDb => {
            "SELECT @@global.gtid_current_pos AS gtid_current_pos, \
             @@global.gtid_binlog_pos AS gtid_binlog_pos, \
             @@global.gtid_slave_pos AS gtid_slave_pos, @@global.read_only AS read_only"
        }
        Flavor::MySql => {
            "SELECT @@global.gtid_executed AS gtid_executed, @@global.read_only AS read_only"
        }
    }
}

/// `sql` for logs and error messages: the value after `PASSWORD` (`= '...'`,
/// `'...'`, `('...')`) or `IDENTIFIED ... BY` is replaced by `'***'`.
pub fn redact(sql: &str) -> String {
    let upper = sql.to_ascii_uppercase();
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut cursor = 0;
    loop {
        let next = [("PASSWORD", false), ("IDENTIFIED", true)]
            .iter()
            .filter_map(|(keyword, needs_by)| {
                upper[cursor..]
                    .find(keyword)
                    .map(|at| (cursor + at, keyword.len(), *needs_by))
            })
            .min_by_key(|(at, _, _)| *at);
        let Some((at, len, needs_by)) = next else {
            break;
        };
        let keyword_end = at + len;
        let mut value = skip_spaces(bytes, keyword_end);
        if needs_by {
            // IDENTIFIED [VIA|WITH plugin] BY 'secret' / USING 'hash'
            let clause_end = upper[value..].find(';').map_or(sql.len(), |e| value + e);
            let by = [" BY ", " USING "]
                .iter()
                .filter_map(|w| upper[keyword_end..clause_end].find(w).map(|p| (p, w.len())))
                .min();
            if let Some((p, w)) = by {
                value = skip_spaces(bytes, keyword_end + p + w);
            }
        } else {
            if bytes.get(value) == Some(&b'=') {
                value = skip_spaces(bytes, value + 1);
            }
            if bytes.get(value) == Some(&b'(') {
                value = skip_spaces(bytes, value + 1);
            }
        }
        match bytes.get(value) {
            Some(&q @ (b'\'' | b'"')) => {
                out.push_str(&sql[cursor..value]);
                out.push_str("'***'");
                cursor = literal_end(bytes, value, q);
            }
            _ => {
                out.push_str(&sql[cursor..keyword_end]);
                cursor = keyword_end;
            }
        }
    }
    out.push_str(&sql[cursor..]);
    out
}

fn skip_spaces(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
        i += 1;
    }
    i
}

/// Index just past the literal opened by `quote` at `start` (or the end of the
/// text if it never closes). Always an ASCII position, hence a char boundary.
fn literal_end(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => {
                if bytes.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i + 1;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Removes `secret` (as given and as quoted) from a text that may echo a
/// statement, such as a server's syntax error message.
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let quoted = quote(secret);
    let inner = &quoted[1..quoted.len() - 1];
    let text = redact(text);
    let text = if inner != secret {
        text.replace(inner, "***")
    } else {
        text
    };
    text.replace(secret, "***")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARIA: &str = "10.11.19-MariaDB-0+deb12u1";

    fn source(start: GtidStart) -> SourceSpec<'static> {
        SourceSpec {
            ssl: ReplicationSsl::Off,
            host: "10.0.0.7",
            port: 3307,
            user: "repl",
            password: "s3cr'et\\pw",
            start,
            heartbeat_period: Duration::from_millis(1500),
        }
    }

    #[test]
    fn quoting_escapes_everything_that_could_end_or_bend_a_literal() {
        assert_eq!(quote("plain"), "'plain'");
        assert_eq!(quote("it's"), "'it''s'");
        assert_eq!(quote("a\\b"), "'a\\\\b'");
        assert_eq!(quote("x\0y\nz\r\u{1a}"), "'x\\0y\\nz\\r\\Z'");
        assert_eq!(quote("é'"), "'é'''");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn mariadb_promotion() {
        assert_eq!(
            promote_sql(Flavor::MariaDb, MARIA, true),
            [
                "STOP ALL SLAVES",
                "RESET SLAVE ALL",
                "SET GLOBAL rpl_semi_sync_master_enabled = ON",
                "SET GLOBAL read_only = OFF",
            ]
        );
        assert_eq!(
            promote_sql(Flavor::MariaDb, MARIA, false),
            [
                "STOP ALL SLAVES",
                "RESET SLAVE ALL",
                "SET GLOBAL read_only = OFF"
            ]
        );
        assert_eq!(
            promote_sql_with_channels(Flavor::MariaDb, MARIA, false, &["", "east"]),
            [
                "STOP ALL SLAVES",
                "RESET SLAVE ALL",
                "RESET SLAVE 'east' ALL",
                "SET GLOBAL read_only = OFF"
            ]
        );
    }

    #[test]
    fn mysql_promotion_by_version() {
        assert_eq!(
            promote_sql(Flavor::MySql, "8.0.36", true),
            [
                "STOP REPLICA",
                "RESET REPLICA ALL",
                "SET GLOBAL rpl_semi_sync_source_enabled = ON",
                "SET GLOBAL super_read_only = OFF",
                "SET GLOBAL read_only = OFF",
            ]
        );
        assert_eq!(
            promote_sql(Flavor::MySql, "8.0.25", true),
            [
                "STOP REPLICA",
                "RESET REPLICA ALL",
                "SET GLOBAL rpl_semi_sync_master_enabled = ON",
                "SET GLOBAL super_read_only = OFF",
                "SET GLOBAL read_only = OFF",
            ]
        );
        assert_eq!(
            promote_sql(Flavor::MySql, "8.0.21", false),
            [
                "STOP SLAVE",
                "RESET SLAVE ALL",
                "SET GLOBAL super_read_only = OFF",
                "SET GLOBAL read_only = OFF",
            ]
        );
        // channels are covered by RESET REPLICA ALL on MySQL
        assert_eq!(
            promote_sql_with_channels(Flavor::MySql, "8.4.3", false, &["east"]),
            promote_sql(Flavor::MySql, "8.4.3", false)
        );
        assert_eq!(
            reset_channel_sql(Flavor::MySql, "8.4.3", "east"),
            "RESET REPLICA ALL FOR CHANNEL 'east'"
        );
    }

    #[test]
    fn semi_sync_names_and_fallback() {
        assert_eq!(
            semi_sync_source_variables(Flavor::MySql, "8.0.26"),
            [
                "rpl_semi_sync_source_enabled",
                "rpl_semi_sync_master_enabled"
            ]
        );
        assert_eq!(
            semi_sync_source_variables(Flavor::MySql, "5.7.44-log")[0],
            "rpl_semi_sync_master_enabled"
        );
        assert_eq!(
            semi_sync_source_variables(Flavor::MySql, "unknown")[0],
            "rpl_semi_sync_source_enabled"
        );
        assert_eq!(
            semi_sync_source_variables(Flavor::MariaDb, MARIA),
            ["rpl_semi_sync_master_enabled"]
        );
        assert_eq!(
            alternate_semi_sync_sql("SET GLOBAL rpl_semi_sync_source_enabled = OFF").as_deref(),
            Some("SET GLOBAL rpl_semi_sync_master_enabled = OFF")
        );
        assert_eq!(
            alternate_semi_sync_sql("SET GLOBAL rpl_semi_sync_master_enabled = ON").as_deref(),
            Some("SET GLOBAL rpl_semi_sync_source_enabled = ON")
        );
        assert_eq!(alternate_semi_sync_sql("SET GLOBAL read_only = ON"), None);
    }

    #[test]
    fn fencing() {
        assert_eq!(
            fence_sql(Flavor::MariaDb, MARIA),
            [
                "SET GLOBAL rpl_semi_sync_master_enabled = OFF",
                "SET GLOBAL read_only = ON"
            ]
        );
        assert_eq!(
            fence_sql(Flavor::MySql, "8.0.40"),
            [
                "SET GLOBAL rpl_semi_sync_source_enabled = OFF",
                "SET GLOBAL read_only = ON",
                "SET GLOBAL super_read_only = ON"
            ]
        );
    }

    #[test]
    fn armed_fencing_is_one_statement_in_the_same_order() {
        assert_eq!(
            armed_fence_sql(Flavor::MariaDb, Some("rpl_semi_sync_master_enabled")),
            "SET GLOBAL rpl_semi_sync_master_enabled = OFF, GLOBAL read_only = ON"
        );
        // MySQL 8.0.26+ spelling; super_read_only as in `fence_sql`
        assert_eq!(
            armed_fence_sql(Flavor::MySql, Some("rpl_semi_sync_source_enabled")),
            "SET GLOBAL rpl_semi_sync_source_enabled = OFF, GLOBAL read_only = ON, \
             GLOBAL super_read_only = ON"
        );
        // no semi-sync plugin loaded: nothing to switch off
        assert_eq!(
            armed_fence_sql(Flavor::MySql, None),
            "SET GLOBAL read_only = ON, GLOBAL super_read_only = ON"
        );
    }

    #[test]
    fn mariadb_repoint() {
        let sql = repoint_sql(Flavor::MariaDb, MARIA, &source(GtidStart::SlavePos));
        assert_eq!(
            sql,
            [
                "STOP SLAVE",
                "CHANGE MASTER TO MASTER_HOST='10.0.0.7', MASTER_PORT=3307, MASTER_USER='repl', \
                 MASTER_PASSWORD='s3cr''et\\\\pw', MASTER_USE_GTID=slave_pos, \
                 MASTER_HEARTBEAT_PERIOD=1.500, MASTER_CONNECT_RETRY=1, MASTER_SSL=0",
                "START SLAVE",
            ]
        );
        let sql = repoint_sql(Flavor::MariaDb, MARIA, &source(GtidStart::CurrentPos));
        assert!(sql[1].contains("MASTER_USE_GTID=current_pos"), "{}", sql[1]);
    }

    #[test]
    fn repoint_over_tls() {
        let mut s = source(GtidStart::SlavePos);
        s.ssl = ReplicationSsl::On { ca: None };
        assert!(repoint_sql(Flavor::MariaDb, MARIA, &s)[1].ends_with(", MASTER_SSL=1"));
        s.ssl = ReplicationSsl::On {
            ca: Some("/etc/mysql/ca.pem"),
        };
        assert!(repoint_sql(Flavor::MariaDb, MARIA, &s)[1].ends_with(
            ", MASTER_SSL=1, MASTER_SSL_CA='/etc/mysql/ca.pem', MASTER_SSL_VERIFY_SERVER_CERT=1"
        ));
        // MySQL over TLS: no RSA key is fetched (the password is encrypted
        // by TLS); the syntax follows the version
        let new = repoint_sql(Flavor::MySql, "8.0.36", &s);
        assert!(new[1].ends_with(
            ", SOURCE_SSL=1, SOURCE_SSL_CA='/etc/mysql/ca.pem', SOURCE_SSL_VERIFY_SERVER_CERT=1"
        ));
        let v22 = repoint_sql(Flavor::MySql, "8.0.22", &s);
        assert!(v22[1].contains("MASTER_SSL=1, MASTER_SSL_CA="));
        assert!(!v22[1].contains("PUBLIC_KEY"));
    }

    #[test]
    fn mysql_repoint_by_version() {
        let new = repoint_sql(Flavor::MySql, "8.0.36", &source(GtidStart::SlavePos));
        assert_eq!(
            new,
            [
                "STOP REPLICA",
                "CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.7', SOURCE_PORT=3307, \
                 SOURCE_USER='repl', SOURCE_PASSWORD='s3cr''et\\\\pw', SOURCE_AUTO_POSITION=1, \
                 SOURCE_HEARTBEAT_PERIOD=1.500, SOURCE_CONNECT_RETRY=1, SOURCE_SSL=0, \
                 GET_SOURCE_PUBLIC_KEY=1",
                "START REPLICA",
            ]
        );
        // GtidStart is a MariaDB notion
        assert_eq!(
            new,
            repoint_sql(Flavor::MySql, "8.0.36", &source(GtidStart::CurrentPos))
        );
        let v22 = repoint_sql(Flavor::MySql, "8.0.22", &source(GtidStart::SlavePos));
        assert_eq!(v22[0], "STOP REPLICA");
        assert!(v22[1].starts_with("CHANGE MASTER TO MASTER_HOST='10.0.0.7'"));
        assert!(v22[1].contains("MASTER_AUTO_POSITION=1"));
        assert!(v22[1].ends_with("GET_MASTER_PUBLIC_KEY=1"));
        let v57 = repoint_sql(Flavor::MySql, "5.7.44", &source(GtidStart::SlavePos));
        assert_eq!(v57[0], "STOP SLAVE");
        assert_eq!(v57[2], "START SLAVE");
        assert!(!v57[1].contains("PUBLIC_KEY"));
    }

    #[test]
    fn heartbeat_formatting_and_bounds() {
        let mut s = source(GtidStart::SlavePos);
        s.heartbeat_period = Duration::ZERO;
        assert!(
            repoint_sql(Flavor::MariaDb, MARIA, &s)[1].contains("MASTER_HEARTBEAT_PERIOD=0.000")
        );
        s.heartbeat_period = Duration::from_secs(u64::MAX);
        assert!(repoint_sql(Flavor::MariaDb, MARIA, &s)[1]
            .contains("MASTER_HEARTBEAT_PERIOD=4294967.000"));
        s.heartbeat_period = Duration::from_micros(2_345_678);
        assert!(
            repoint_sql(Flavor::MySql, "8.4.0", &s)[1].contains("SOURCE_HEARTBEAT_PERIOD=2.345")
        );
    }

    #[test]
    fn heartbeat_changes_only_the_period_of_one_channel() {
        let one = Duration::from_secs(1);
        assert_eq!(
            heartbeat_sql(Flavor::MariaDb, MARIA, "", one),
            [
                "STOP SLAVE",
                "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1.000",
                "START SLAVE"
            ]
        );
        assert_eq!(
            heartbeat_sql(Flavor::MariaDb, MARIA, "east", Duration::from_millis(500)),
            [
                "STOP SLAVE 'east'",
                "CHANGE MASTER 'east' TO MASTER_HEARTBEAT_PERIOD=0.500",
                "START SLAVE 'east'"
            ]
        );
        // MySQL 8.0.23+ (CHANGE REPLICATION SOURCE TO ... FOR CHANNEL, as in the manual)
        assert_eq!(
            heartbeat_sql(Flavor::MySql, "8.0.36", "source_2", one),
            [
                "STOP REPLICA FOR CHANNEL 'source_2'",
                "CHANGE REPLICATION SOURCE TO SOURCE_HEARTBEAT_PERIOD=1.000 FOR CHANNEL 'source_2'",
                "START REPLICA FOR CHANNEL 'source_2'"
            ]
        );
        assert_eq!(
            heartbeat_sql(Flavor::MySql, "8.0.22", "", one),
            [
                "STOP REPLICA",
                "CHANGE MASTER TO MASTER_HEARTBEAT_PERIOD=1.000",
                "START REPLICA"
            ]
        );
        assert_eq!(
            heartbeat_sql(Flavor::MySql, "5.7.44", "", one)[0],
            "STOP SLAVE"
        );
        // a channel name cannot break out of its literal
        let odd = heartbeat_sql(Flavor::MariaDb, MARIA, "a'; DROP", one);
        assert_eq!(odd[0], "STOP SLAVE 'a''; DROP'");
    }

    #[test]
    fn fencing_kills_sessions_not_server_threads() {
        assert_eq!(kill_sql(42), "KILL CONNECTION 42");
        assert!(PROCESSLIST_SQL.contains("ID <> CONNECTION_ID()"));
        for (user, command) in [
            ("system user", "Slave_SQL"),
            ("system user", ""),
            ("event_scheduler", "Daemon"),
            ("", "Daemon"),
            ("repl", "Slave_IO"),
            ("repl", "Binlog Dump"),
            ("repl", "Binlog Dump GTID"),
        ] {
            assert!(is_server_thread(user, command), "{user} {command}");
        }
        for (user, command) in [
            ("app", "Query"),
            ("dba", "Sleep"),
            ("unauthenticated user", "Connect "),
        ] {
            assert!(!is_server_thread(user, command), "{user} {command}");
        }
    }

    #[test]
    fn gtid_waits() {
        assert_eq!(
            wait_gtid_sql(Flavor::MariaDb, "0-1-42,1-2-5", Duration::from_millis(2500)),
            "SELECT MASTER_GTID_WAIT('0-1-42,1-2-5', 2.500) AS waited"
        );
        // never 0 (some versions read 0 as "no wait", negative as "forever")
        assert_eq!(
            wait_gtid_sql(Flavor::MariaDb, "0-1-1", Duration::ZERO),
            "SELECT MASTER_GTID_WAIT('0-1-1', 0.001) AS waited"
        );
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5";
        assert_eq!(
            wait_gtid_sql(Flavor::MySql, uuid, Duration::from_millis(2500)),
            format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{uuid}', 3) AS waited")
        );
        assert_eq!(
            wait_gtid_sql(Flavor::MySql, uuid, Duration::ZERO),
            format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{uuid}', 1) AS waited")
        );
        assert!(wait_gtid_sql(Flavor::MariaDb, "x'); DROP", Duration::ZERO)
            .starts_with("SELECT MASTER_GTID_WAIT('x''); DROP'"));

        assert_eq!(wait_outcome(Flavor::MariaDb, Some(0)), WaitOutcome::Reached);
        assert_eq!(
            wait_outcome(Flavor::MariaDb, Some(-1)),
            WaitOutcome::TimedOut
        );
        assert_eq!(wait_outcome(Flavor::MySql, Some(1)), WaitOutcome::TimedOut);
        assert_eq!(
            wait_outcome(Flavor::MariaDb, Some(1)),
            WaitOutcome::Unexpected(Some(1))
        );
        assert_eq!(
            wait_outcome(Flavor::MySql, Some(2)),
            WaitOutcome::Unexpected(Some(2))
        );
        assert_eq!(
            wait_outcome(Flavor::MySql, None),
            WaitOutcome::Unexpected(None)
        );
    }

    #[test]
    fn positions_statements() {
        assert!(positions_sql(Flavor::MariaDb).contains("AS gtid_current_pos"));
        assert!(positions_sql(Flavor::MariaDb).contains("AS gtid_binlog_pos"));
        assert!(positions_sql(Flavor::MariaDb).contains("AS gtid_slave_pos"));
        assert!(positions_sql(Flavor::MySql).contains("AS gtid_executed"));
        assert!(positions_sql(Flavor::MySql).contains("AS read_only"));
    }

    #[test]
    fn redaction_masks_passwords_only() {
        for (flavor, version) in [
            (Flavor::MariaDb, MARIA),
            (Flavor::MySql, "8.0.36"),
            (Flavor::MySql, "8.0.20"),
        ] {
            let sql = &repoint_sql(flavor, version, &source(GtidStart::SlavePos))[1];
            let shown = redact(sql);
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(!shown.contains("pw"), "{shown}");
            assert!(shown.contains("PASSWORD='***'"), "{shown}");
            // everything after the password survives
            assert!(shown.contains("HEARTBEAT_PERIOD=1.500"), "{shown}");
            assert!(shown.contains("USER='repl'"), "{shown}");
        }
        assert_eq!(
            redact("CREATE USER x IDENTIFIED BY 'secret'"),
            "CREATE USER x IDENTIFIED BY '***'"
        );
        assert_eq!(
            redact("create user x identified via mysql_native_password using PASSWORD('p')"),
            "create user x identified via mysql_native_password using PASSWORD('***')"
        );
        assert_eq!(
            redact("SET PASSWORD = \"a\"\"b\", x=1"),
            "SET PASSWORD = '***', x=1"
        );
        // unterminated literal: masked to the end
        assert_eq!(redact("MASTER_PASSWORD='abc"), "MASTER_PASSWORD='***'");
        // statements without credentials are unchanged, also with non-ASCII text
        for plain in [
            "STOP SLAVE",
            "SELECT 'é' AS password_column",
            "PASSWORD",
            "",
        ] {
            assert_eq!(redact(plain), plain);
        }
        assert_eq!(
            redact("PASSWORD='a', PASSWORD='b'"),
            "PASSWORD='***', PASSWORD='***'"
        );
    }

    #[test]
    fn redaction_never_panics_on_odd_text() {
        for text in [
            "PASSWORD='é",
            "PASSWORD",
            "PASSWORD=",
            "PASSWORD = (",
            "password(\"",
            "IDENTIFIED",
            "IDENTIFIED BY",
            "IDENTIFIED BY 'x\\",
            "é PASSWORD ='x\\'' ü",
            "identified via é using 'h'; PASSWORD='z'",
            "'\\",
            "ééé PASSWORD 'ü' é",
        ] {
            let shown = redact(text);
            assert!(
                !shown.contains("'x") && !shown.contains("'ü'"),
                "{text} -> {shown}"
            );
        }
        let mut rng = rand::thread_rng();
        let alphabet = [
            'P', 'A', 'S', 'W', 'O', 'R', 'D', '=', '\'', '"', '\\', ' ', 'é', '(', ';',
        ];
        for _ in 0..2000 {
            let len = rand::Rng::gen_range(&mut rng, 0..24);
            let text: String = (0..len)
                .map(|_| alphabet[rand::Rng::gen_range(&mut rng, 0..alphabet.len())])
                .collect();
            let _ = redact(&text);
        }
    }

    #[test]
    fn scrubbing_server_messages() {
        let msg = "You have an error in your SQL syntax near 's3cr''et\\\\pw', MASTER_USE_GTID' at line 1";
        let clean = scrub(msg, "s3cr'et\\pw");
        assert!(!clean.contains("s3cr"), "{clean}");
        assert_eq!(scrub("no secret here", "pw1"), "no secret here");
        assert_eq!(scrub("anything", ""), "anything");
    }

    #[test]
    fn source_spec_debug_masks_the_password() {
        let text = format!("{:?}", source(GtidStart::SlavePos));
        assert!(!text.contains("s3cr"), "{text}");
        assert!(text.contains("***"));
    }
}
