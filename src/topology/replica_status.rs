//! A server's replication channels decide its role (a server replicating from someone is
//! not the primary) and feed failover (errors, received GTIDs). MariaDB's
//! `SHOW ALL SLAVES STATUS` and MySQL's `SHOW REPLICA STATUS` (`SHOW SLAVE STATUS` before
//! 8.0.22) report this with different column names; this file reads either into one
//! `ReplicationStatus`. Missing columns and NULLs become `None`, never a failure.

use std::fmt;

use super::flavor::Flavor;
use super::gtid::GtidSet;
use super::row::NamedRow;

/// State of the IO (receiver) or SQL (applier) thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ThreadState {
    Running,
    Stopped,
    /// The IO thread is trying to reach its source (`Connecting`, MariaDB `Preparing`).
    Connecting,
    /// Column missing, NULL or a value this version does not know.
    #[default]
    Unknown,
}

impl ThreadState {
    fn parse(text: Option<&str>) -> ThreadState {
        match text.map(str::trim) {
            Some(t) if t.eq_ignore_ascii_case("yes") => ThreadState::Running,
            Some(t) if t.eq_ignore_ascii_case("no") => ThreadState::Stopped,
            Some(t)
                if t.eq_ignore_ascii_case("connecting") || t.eq_ignore_ascii_case("preparing") =>
            {
                ThreadState::Connecting
            }
            _ => ThreadState::Unknown,
        }
    }
}

impl fmt::Display for ThreadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ThreadState::Running => "running",
            ThreadState::Stopped => "stopped",
            ThreadState::Connecting => "connecting",
            ThreadState::Unknown => "unknown",
        })
    }
}

/// How a channel positions itself in the source's binlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GtidMode {
    /// File/position replication (MariaDB `Using_Gtid: No`, MySQL `Auto_Position: 0`).
    Off,
    /// MariaDB `MASTER_USE_GTID=slave_pos`.
    SlavePos,
    /// MariaDB `MASTER_USE_GTID=current_pos`.
    CurrentPos,
    /// MySQL `SOURCE_AUTO_POSITION=1`.
    AutoPosition,
}

/// A column that was present but held a value that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableColumn {
    pub column: &'static str,
    pub value: String,
}

impl fmt::Display for UnreadableColumn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unreadable {}: {:?}", self.column, self.value)
    }
}

/// One replication channel of one server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicationStatus {
    /// MariaDB `Connection_name` / MySQL `Channel_Name`; empty for the default channel.
    pub channel: String,
    /// `Master_Host` / `Source_Host`; `None` when empty (the channel points nowhere).
    pub source_host: Option<String>,
    pub source_port: Option<u16>,
    pub io_running: ThreadState,
    pub sql_running: ThreadState,
    /// `Last_IO_Errno`; `None` when 0 or missing.
    pub last_io_errno: Option<u32>,
    /// `Last_IO_Error`; `None` when empty.
    pub last_io_error: Option<String>,
    pub last_sql_errno: Option<u32>,
    pub last_sql_error: Option<String>,
    /// `Seconds_Behind_Master` / `Seconds_Behind_Source`; NULL while stopped. Not a lag
    /// measurement to trust (see MARIADB-NOTES.md).
    pub seconds_behind_source: Option<u64>,
    pub gtid_mode: Option<GtidMode>,
    /// What the IO thread has received: MariaDB `Gtid_IO_Pos`, MySQL `Retrieved_Gtid_Set`.
    pub retrieved_gtid: Option<GtidSet>,
    /// What has been applied: MariaDB `Gtid_Slave_Pos`, MySQL `Executed_Gtid_Set`.
    pub executed_gtid: Option<GtidSet>,
    /// The source's `@@server_id` (`Master_Server_Id` / `Source_Server_Id`),
    /// known once the IO thread connected; matches a source whatever name or
    /// address the replica uses for it.
    pub source_server_id: Option<u32>,
    /// MariaDB `Slave_heartbeat_period`: the source sends a heartbeat
    /// event when its binlog is idle this long.
    pub heartbeat_period: Option<std::time::Duration>,
    /// MariaDB `Slave_received_heartbeats`: grows while the source is alive
    /// and idle (holistic failure detection watches it).
    pub received_heartbeats: Option<u64>,
    /// Columns present with values that could not be read (left as `None` above).
    pub unreadable: Vec<UnreadableColumn>,
}

impl ReplicationStatus {
    /// True if the channel names a source host; a channel with an empty host (after
    /// `RESET SLAVE` without `ALL`) replicates from no one.
    pub fn has_source(&self) -> bool {
        self.source_host.is_some()
    }

    /// The source as `host:port` (port 3306 if unknown), when the channel has one.
    pub fn source_address(&self) -> Option<String> {
        self.source_host
            .as_ref()
            .map(|h| format!("{}:{}", h, self.source_port.unwrap_or(3306)))
    }
}

/// Shared by both flavors: the first present column among `names` wins.
struct Reader<'r> {
    row: &'r NamedRow,
    flavor: Flavor,
    unreadable: Vec<UnreadableColumn>,
}

impl<'r> Reader<'r> {
    fn text(&self, names: &[&'static str]) -> Option<String> {
        names
            .iter()
            .find_map(|n| self.row.get_non_empty(n))
            .map(str::to_string)
    }

    fn raw(&self, names: &[&'static str]) -> Option<&'r str> {
        names.iter().find_map(|n| self.row.get(n))
    }

    fn number<T: std::str::FromStr>(&mut self, names: &[&'static str]) -> Option<T> {
        let (column, value) = names
            .iter()
            .find_map(|n| self.row.get_non_empty(n).map(|v| (*n, v)))?;
        match value.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.unreadable.push(UnreadableColumn {
                    column,
                    value: value.chars().take(80).collect(),
                });
                None
            }
        }
    }

    /// Error numbers: 0 means "no error".
    fn errno(&mut self, names: &[&'static str]) -> Option<u32> {
        self.number::<u32>(names).filter(|n| *n != 0)
    }

    fn gtid(&mut self, names: &[&'static str]) -> Option<GtidSet> {
        let (column, value) = names
            .iter()
            .find_map(|n| self.row.get(n).map(|v| (*n, v)))?;
        match GtidSet::parse(self.flavor, value) {
            Ok(set) => Some(set),
            Err(_) => {
                self.unreadable.push(UnreadableColumn {
                    column,
                    value: value.chars().take(80).collect(),
                });
                None
            }
        }
    }
}

/// Reads one row of MariaDB's `SHOW ALL SLAVES STATUS`.
pub fn parse_mariadb(row: &NamedRow) -> ReplicationStatus {
    let mut r = Reader {
        row,
        flavor: Flavor::MariaDb,
        unreadable: Vec::new(),
    };
    let gtid_mode = r.raw(&["Using_Gtid"]).and_then(|v| {
        let v = v.trim();
        if v.eq_ignore_ascii_case("no") {
            Some(GtidMode::Off)
        } else if v.eq_ignore_ascii_case("slave_pos") {
            Some(GtidMode::SlavePos)
        } else if v.eq_ignore_ascii_case("current_pos") {
            Some(GtidMode::CurrentPos)
        } else {
            None
        }
    });
    let mut status = ReplicationStatus {
        channel: r.raw(&["Connection_name"]).unwrap_or("").to_string(),
        source_host: r.text(&["Master_Host"]),
        source_port: r.number(&["Master_Port"]),
        io_running: ThreadState::parse(r.raw(&["Slave_IO_Running"])),
        sql_running: ThreadState::parse(r.raw(&["Slave_SQL_Running"])),
        last_io_errno: r.errno(&["Last_IO_Errno"]),
        last_io_error: r.text(&["Last_IO_Error"]),
        last_sql_errno: r.errno(&["Last_SQL_Errno"]),
        last_sql_error: r.text(&["Last_SQL_Error"]),
        seconds_behind_source: r.number(&["Seconds_Behind_Master"]),
        gtid_mode,
        retrieved_gtid: r.gtid(&["Gtid_IO_Pos"]),
        executed_gtid: r.gtid(&["Gtid_Slave_Pos"]),
        source_server_id: r.number::<u32>(&["Master_Server_Id"]).filter(|id| *id != 0),
        heartbeat_period: r
            .number::<f64>(&["Slave_heartbeat_period"])
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e9)
            .map(std::time::Duration::from_secs_f64),
        received_heartbeats: r.number(&["Slave_received_heartbeats"]),
        unreadable: Vec::new(),
    };
    status.unreadable = r.unreadable;
    status
}

/// Reads one row of MySQL's `SHOW REPLICA STATUS`, or of `SHOW SLAVE STATUS` on servers
/// older than 8.0.22 (which use the Master/Slave column names).
pub fn parse_mysql(row: &NamedRow) -> ReplicationStatus {
    let mut r = Reader {
        row,
        flavor: Flavor::MySql,
        unreadable: Vec::new(),
    };
    let gtid_mode = r.raw(&["Auto_Position"]).and_then(|v| match v.trim() {
        "1" => Some(GtidMode::AutoPosition),
        "0" => Some(GtidMode::Off),
        _ => None,
    });
    let mut status = ReplicationStatus {
        channel: r.raw(&["Channel_Name"]).unwrap_or("").to_string(),
        source_host: r.text(&["Source_Host", "Master_Host"]),
        source_port: r.number(&["Source_Port", "Master_Port"]),
        io_running: ThreadState::parse(r.raw(&["Replica_IO_Running", "Slave_IO_Running"])),
        sql_running: ThreadState::parse(r.raw(&["Replica_SQL_Running", "Slave_SQL_Running"])),
        last_io_errno: r.errno(&["Last_IO_Errno"]),
        last_io_error: r.text(&["Last_IO_Error"]),
        last_sql_errno: r.errno(&["Last_SQL_Errno"]),
        last_sql_error: r.text(&["Last_SQL_Error"]),
        seconds_behind_source: r.number(&["Seconds_Behind_Source", "Seconds_Behind_Master"]),
        gtid_mode,
        retrieved_gtid: r.gtid(&["Retrieved_Gtid_Set"]),
        executed_gtid: r.gtid(&["Executed_Gtid_Set"]),
        source_server_id: r
            .number::<u32>(&["Source_Server_Id", "Master_Server_Id"])
            .filter(|id| *id != 0),
        heartbeat_period: None,
        received_heartbeats: None,
        unreadable: Vec::new(),
    };
    status.unreadable = r.unreadable;
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped after the `SHOW REPLICA STATUS\G` sample in the MySQL 8.0/8.4 reference
    /// manual (a replica of 127.0.0.1:13000), trimmed to the columns sqlyard reads plus a
    /// few it ignores.
    fn mysql_doc_row() -> NamedRow {
        NamedRow::from_pairs([
            ("Replica_IO_State", Some("Waiting for source to send event")),
            ("Source_Host", Some("127.0.0.1")),
            ("Source_User", Some("root")),
            ("Source_Port", Some("13000")),
            ("Connect_Retry", Some("1")),
            ("Source_Log_File", Some("master-bin.000001")),
            ("Read_Source_Log_Pos", Some("927")),
            ("Replica_IO_Running", Some("Yes")),
            ("Replica_SQL_Running", Some("Yes")),
            ("Last_Errno", Some("0")),
            ("Last_Error", Some("")),
            ("Seconds_Behind_Source", Some("0")),
            ("Last_IO_Errno", Some("0")),
            ("Last_IO_Error", Some("")),
            ("Last_SQL_Errno", Some("0")),
            ("Last_SQL_Error", Some("")),
            ("Source_Server_Id", Some("1")),
            ("SQL_Remaining_Delay", None),
            (
                "Retrieved_Gtid_Set",
                Some("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"),
            ),
            (
                "Executed_Gtid_Set",
                Some("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,\n2174B383-5441-11E8-B90A-C80AA9429562:1-27"),
            ),
            ("Auto_Position", Some("1")),
            ("Channel_Name", Some("")),
        ])
    }

    #[test]
    fn mysql_doc_sample() {
        let s = Flavor::MySql.parse_replica_row(&mysql_doc_row());
        assert_eq!(s.channel, "");
        assert_eq!(s.source_host.as_deref(), Some("127.0.0.1"));
        assert_eq!(s.source_port, Some(13000));
        assert_eq!(s.source_address().as_deref(), Some("127.0.0.1:13000"));
        assert_eq!(s.io_running, ThreadState::Running);
        assert_eq!(s.sql_running, ThreadState::Running);
        assert_eq!(s.last_io_errno, None);
        assert_eq!(s.last_io_error, None);
        assert_eq!(s.last_sql_error, None);
        assert_eq!(s.seconds_behind_source, Some(0));
        assert_eq!(s.gtid_mode, Some(GtidMode::AutoPosition));
        let retrieved = s.retrieved_gtid.clone().unwrap();
        let executed = s.executed_gtid.clone().unwrap();
        assert!(executed.contains(&retrieved));
        assert!(!retrieved.contains(&executed));
        assert!(s.unreadable.is_empty());
        assert!(s.has_source());
    }

    #[test]
    fn mysql_old_column_names_and_errors() {
        // SHOW SLAVE STATUS before 8.0.22, with a broken IO thread.
        let row = NamedRow::from_pairs([
            ("Master_Host", Some("db1.example")),
            ("Master_Port", Some("3306")),
            ("Slave_IO_Running", Some("Connecting")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Last_IO_Errno", Some("2003")),
            (
                "Last_IO_Error",
                Some("error connecting to master 'repl@db1.example:3306' - retry-time: 60 retries: 1"),
            ),
            ("Seconds_Behind_Master", None),
            ("Retrieved_Gtid_Set", Some("")),
            ("Executed_Gtid_Set", Some("")),
            ("Auto_Position", Some("0")),
            ("Channel_Name", Some("")),
        ]);
        let s = parse_mysql(&row);
        assert_eq!(s.source_address().as_deref(), Some("db1.example:3306"));
        assert_eq!(s.io_running, ThreadState::Connecting);
        assert_eq!(s.last_io_errno, Some(2003));
        assert!(s
            .last_io_error
            .as_deref()
            .unwrap_or("")
            .starts_with("error connecting"));
        assert_eq!(s.seconds_behind_source, None);
        assert_eq!(s.gtid_mode, Some(GtidMode::Off));
        assert!(s.retrieved_gtid.is_some_and(|g| g.is_empty()));
    }

    #[test]
    fn mariadb_row() {
        let row = NamedRow::from_pairs([
            ("Connection_name", Some("")),
            (
                "Slave_SQL_State",
                Some("Slave has read all relay log; waiting for more updates"),
            ),
            ("Slave_IO_State", Some("Waiting for master to send event")),
            ("Master_Host", Some("127.0.0.1")),
            ("Master_User", Some("repl")),
            ("Master_Port", Some("24401")),
            ("Slave_IO_Running", Some("Yes")),
            ("Slave_SQL_Running", Some("Yes")),
            ("Last_IO_Errno", Some("0")),
            ("Last_IO_Error", Some("")),
            ("Last_SQL_Errno", Some("0")),
            ("Last_SQL_Error", Some("")),
            ("Seconds_Behind_Master", Some("0")),
            ("Using_Gtid", Some("Slave_Pos")),
            ("Gtid_IO_Pos", Some("0-1-12")),
            ("Gtid_Slave_Pos", Some("0-1-12")),
        ]);
        let s = Flavor::MariaDb.parse_replica_row(&row);
        assert_eq!(s.source_address().as_deref(), Some("127.0.0.1:24401"));
        assert_eq!(s.io_running, ThreadState::Running);
        assert_eq!(s.gtid_mode, Some(GtidMode::SlavePos));
        assert_eq!(
            s.retrieved_gtid.map(|g| g.to_string()).as_deref(),
            Some("0-1-12")
        );
        assert_eq!(s.executed_gtid.map(|g| g.flavor()), Some(Flavor::MariaDb));
    }

    #[test]
    fn mariadb_stopped_with_errors_and_reset_channel() {
        let row = NamedRow::from_pairs([
            ("Connection_name", Some("east")),
            ("Master_Host", Some("")),
            ("Master_Port", Some("3306")),
            ("Slave_IO_Running", Some("No")),
            ("Slave_SQL_Running", Some("No")),
            ("Last_IO_Errno", Some("1236")),
            ("Last_IO_Error", Some("Got fatal error 1236 from master")),
            ("Last_SQL_Errno", Some("oops")),
            ("Seconds_Behind_Master", None),
            ("Using_Gtid", Some("Current_Pos")),
            ("Gtid_IO_Pos", Some("garbage")),
        ]);
        let s = parse_mariadb(&row);
        assert_eq!(s.channel, "east");
        assert!(!s.has_source());
        assert_eq!(s.source_address(), None);
        assert_eq!(s.io_running, ThreadState::Stopped);
        assert_eq!(s.last_io_errno, Some(1236));
        assert_eq!(s.last_sql_errno, None);
        assert_eq!(s.seconds_behind_source, None);
        assert_eq!(s.gtid_mode, Some(GtidMode::CurrentPos));
        assert_eq!(s.retrieved_gtid, None);
        let cols: Vec<_> = s.unreadable.iter().map(|u| u.column).collect();
        assert_eq!(cols, ["Last_SQL_Errno", "Gtid_IO_Pos"]);
    }

    #[test]
    fn empty_row_is_all_unknown() {
        for s in [
            parse_mariadb(&NamedRow::default()),
            parse_mysql(&NamedRow::default()),
        ] {
            assert_eq!(s, ReplicationStatus::default());
            assert_eq!(s.io_running, ThreadState::Unknown);
            assert!(!s.has_source());
        }
    }
}
