//! MariaDB and MySQL answer the same monitoring questions with different SQL and different
//! column names. `Flavor` is the one place that knows which server speaks which dialect:
//! how to detect it, which statements to send, and which parser reads the answers.
//! Everything MySQL-specific in the monitor goes through here.

use std::fmt;

use super::gtid::{GtidError, GtidSet, MariaGtidList};
use super::replica_status::{self, ReplicationStatus};
use super::row::NamedRow;

/// Which server family a backend is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::MariaDb => "MariaDB",
            Flavor::MySql => "MySQL",
        })
    }
}

/// `major.minor.patch` from the start of a version string like `10.11.19-MariaDB-0+deb12u1`
/// or `8.0.36-28`. Missing parts read as 0; `None` if it does not start with a number.
pub fn version_triple(version: &str) -> Option<(u32, u32, u32)> {
    let numeric_end = version
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(version.len());
    let mut parts = version[..numeric_end].split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// GTID positions read from the server variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPositions {
    /// Everything this server has applied or written: MariaDB `@@gtid_current_pos`,
    /// MySQL `@@gtid_executed`.
    pub executed: Option<GtidSet>,
    /// MariaDB `@@gtid_slave_pos`: the last GTID applied by replication, per domain.
    pub slave_pos: Option<MariaGtidList>,
    /// MariaDB `@@gtid_binlog_pos`: the last GTID written to this server's binlog, per domain.
    pub binlog_pos: Option<MariaGtidList>,
}

/// A column whose value was present but could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {source}")]
pub struct GtidColumnError {
    pub column: &'static str,
    #[source]
    pub source: GtidError,
}

impl Flavor {
    /// MariaDB names itself in `@@version` (`10.11.19-MariaDB-...`) and usually in
    /// `@@version_comment`; anything else that speaks the protocol is treated as MySQL
    /// (Oracle MySQL, Percona Server).
    pub fn detect(version: &str, version_comment: &str) -> Flavor {
        let mentions = |s: &str| s.to_ascii_lowercase().contains("mariadb");
        if mentions(version) || mentions(version_comment) {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// Selects the server variables one poll needs, aliased so they are read by name.
    pub fn variables_sql(self) -> &'static str {
        match self {
            Flavor::MariaDb => {
                "SELECT @@server_id AS server_id, @@read_only AS read_only, \
                 @@gtid_current_pos AS gtid_current_pos, @@gtid_slave_pos AS gtid_slave_pos, \
                 @@gtid_binlog_pos AS gtid_binlog_pos, @@slave_net_timeout AS slave_net_timeout, \
                 @@global.max_allowed_packet AS max_allowed_packet, \
                 @@global.max_connections AS max_connections, \
                 @@rpl_semi_sync_master_enabled AS semi_sync_master_enabled, \
                 @@rpl_semi_sync_slave_enabled AS semi_sync_slave_enabled, \
                 (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS \
                  WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS') AS semi_sync_master_status"
            }
            Flavor::MySql => {
                "SELECT @@server_id AS server_id, @@read_only AS read_only, \
                 @@gtid_executed AS gtid_executed, @@slave_net_timeout AS slave_net_timeout, \
                 @@global.max_allowed_packet AS max_allowed_packet, \
                 @@global.max_connections AS max_connections"
            }
        }
    }

    /// The statement listing every replication channel. MySQL renamed it in 8.0.22.
    pub fn replica_status_sql(self, version: &str) -> &'static str {
        match self {
            Flavor::MariaDb => "SHOW ALL SLAVES STATUS",
            Flavor::MySql => match version_triple(version) {
                Some(v) if v < (8, 0, 22) => "SHOW SLAVE STATUS",
                _ => "SHOW REPLICA STATUS",
            },
        }
    }

    /// Reads one row of [`Flavor::replica_status_sql`].
    pub fn parse_replica_row(self, row: &NamedRow) -> ReplicationStatus {
        match self {
            Flavor::MariaDb => replica_status::parse_mariadb(row),
            Flavor::MySql => replica_status::parse_mysql(row),
        }
    }

    /// Reads the GTID columns of [`Flavor::variables_sql`]. A missing or NULL column
    /// leaves that position `None`; a malformed one is reported and also left `None`, so
    /// one odd value does not hide the rest of the server's state.
    pub fn parse_gtid_positions(self, row: &NamedRow) -> (GtidPositions, Vec<GtidColumnError>) {
        let mut problems = Vec::new();
        let mut positions = GtidPositions::default();
        match self {
            Flavor::MariaDb => {
                let mut list = |column: &'static str| -> Option<MariaGtidList> {
                    let text = row.get(column)?;
                    text.parse()
                        .map_err(|source| problems.push(GtidColumnError { column, source }))
                        .ok()
                };
                positions.executed = list("gtid_current_pos").map(GtidSet::MariaDb);
                positions.slave_pos = list("gtid_slave_pos");
                positions.binlog_pos = list("gtid_binlog_pos");
            }
            Flavor::MySql => {
                if let Some(text) = row.get("gtid_executed") {
                    match GtidSet::parse(self, text) {
                        Ok(set) => positions.executed = Some(set),
                        Err(source) => problems.push(GtidColumnError {
                            column: "gtid_executed",
                            source,
                        }),
                    }
                }
            }
        }
        (positions, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_flavor_from_version_strings() {
        assert_eq!(
            Flavor::detect("10.11.19-MariaDB-0+deb12u1", "Debian 12"),
            Flavor::MariaDb
        );
        assert_eq!(
            Flavor::detect("11.4.2-MariaDB", "mariadb.org binary distribution"),
            Flavor::MariaDb
        );
        // MariaDB built with a version string that hides the name still says so in the comment.
        assert_eq!(Flavor::detect("10.6.0", "MariaDB Server"), Flavor::MariaDb);
        assert_eq!(
            Flavor::detect("8.0.36", "MySQL Community Server - GPL"),
            Flavor::MySql
        );
        assert_eq!(
            Flavor::detect("8.0.36-28", "Percona Server (GPL), Release 28"),
            Flavor::MySql
        );
        assert_eq!(Flavor::detect("", ""), Flavor::MySql);
    }

    #[test]
    fn version_triples() {
        assert_eq!(
            version_triple("10.11.19-MariaDB-0+deb12u1"),
            Some((10, 11, 19))
        );
        assert_eq!(version_triple("8.0.22"), Some((8, 0, 22)));
        assert_eq!(version_triple("8.4"), Some((8, 4, 0)));
        assert_eq!(version_triple("garbage"), None);
        assert_eq!(version_triple(""), None);
    }

    #[test]
    fn replica_status_statement_depends_on_version() {
        assert_eq!(
            Flavor::MariaDb.replica_status_sql("10.11.19-MariaDB"),
            "SHOW ALL SLAVES STATUS"
        );
        assert_eq!(
            Flavor::MySql.replica_status_sql("8.0.21"),
            "SHOW SLAVE STATUS"
        );
        assert_eq!(
            Flavor::MySql.replica_status_sql("5.7.44-log"),
            "SHOW SLAVE STATUS"
        );
        assert_eq!(
            Flavor::MySql.replica_status_sql("8.0.22"),
            "SHOW REPLICA STATUS"
        );
        assert_eq!(
            Flavor::MySql.replica_status_sql("8.4.3"),
            "SHOW REPLICA STATUS"
        );
        assert_eq!(Flavor::MySql.replica_status_sql("?"), "SHOW REPLICA STATUS");
    }

    #[test]
    fn mysql_gtid_variables() {
        let row = NamedRow::from_pairs([
            ("server_id", Some("1")),
            ("read_only", Some("0")),
            (
                "gtid_executed",
                Some("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n2174B383-5441-11E8-B90A-C80AA9429562:1-27"),
            ),
        ]);
        let (pos, problems) = Flavor::MySql.parse_gtid_positions(&row);
        assert!(problems.is_empty());
        let executed = pos.executed.unwrap();
        assert_eq!(executed.flavor(), Flavor::MySql);
        assert!(executed.contains(
            &GtidSet::parse(Flavor::MySql, "2174B383-5441-11E8-B90A-C80AA9429562:27").unwrap()
        ));
        assert_eq!(pos.slave_pos, None);
        assert_eq!(pos.binlog_pos, None);
    }

    #[test]
    fn mariadb_gtid_variables_tolerate_null_and_report_garbage() {
        let row = NamedRow::from_pairs([
            ("gtid_current_pos", Some("0-1-100,1-2-5")),
            ("gtid_slave_pos", None),
            ("gtid_binlog_pos", Some("not a gtid")),
        ]);
        let (pos, problems) = Flavor::MariaDb.parse_gtid_positions(&row);
        assert_eq!(
            pos.executed.map(|e| e.to_string()).as_deref(),
            Some("0-1-100,1-2-5")
        );
        assert_eq!(pos.slave_pos, None);
        assert_eq!(pos.binlog_pos, None);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].column, "gtid_binlog_pos");

        let (pos, problems) = Flavor::MariaDb.parse_gtid_positions(&NamedRow::default());
        assert_eq!(pos, GtidPositions::default());
        assert!(problems.is_empty());
    }
}
