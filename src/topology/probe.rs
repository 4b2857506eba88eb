//! To know the topology, sqlyard must ask each server who it is and what it replicates.
//! A `Prober` does one poll of one server over one persistent monitor connection:
//! reconnect when the connection is missing or broken, bound the connect and every query
//! by a timeout, detect the flavor once per connection, then read the server variables
//! and replication channels by column name into `ServerFacts`.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

use super::error::ProbeError;
use super::flavor::{Flavor, GtidPositions};
use super::lag::{self, HeartbeatRead, HeartbeatWrite};
use super::replica_status::ReplicationStatus;
use super::row::NamedRow;
use super::settings::MonitorSettings;
use super::snapshot::SemiSync;

/// Everything one successful poll learned about a server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerFacts {
    pub server_id: u32,
    pub read_only: bool,
    pub flavor: Flavor,
    /// `@@version`.
    pub version: String,
    pub replication: Vec<ReplicationStatus>,
    pub gtid: GtidPositions,
    /// The heartbeat row as read on this server (replicas), if present.
    pub heartbeat: Option<HeartbeatRead>,
    /// The heartbeat this poll wrote (the primary only).
    pub heartbeat_written: Option<HeartbeatWrite>,
    /// Semi-sync settings and state (MariaDB; unknown on MySQL).
    pub semi_sync: SemiSync,
    /// `@@slave_net_timeout` (seconds): how long a replica waits in silence
    /// before it reconnects to its source.
    pub slave_net_timeout: Option<u32>,
    /// `@@global.max_allowed_packet` (bytes).
    pub max_allowed_packet: Option<u64>,
    /// `@@global.max_connections`.
    pub max_connections: Option<u64>,
}

const IDENTITY_SQL: &str = "SELECT @@version AS version, @@version_comment AS version_comment";
/// Names used for the statements in error messages (the SQL itself is long).
const IDENTITY_LABEL: &str = "version query";
const VARIABLES_LABEL: &str = "server variables query";

/// Splits `host:port` (or `[v6]:port`) into its parts.
pub fn split_address(address: &str) -> Result<(String, u16), ProbeError> {
    let invalid = |reason| ProbeError::InvalidAddress {
        address: address.to_string(),
        reason,
    };
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| invalid("expected host:port"))?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(invalid("empty host"));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| invalid("port is not a number 1-65535"))?;
    if port == 0 {
        return Err(invalid("port is not a number 1-65535"));
    }
    Ok((host.to_string(), port))
}

/// An open monitor connection and what was learned when it was opened.
struct Connected {
    conn: Conn,
    flavor: Flavor,
    version: String,
    /// Credentials the connection was opened with; a change forces a reconnect.
    user: String,
    password: String,
}

/// Polls one server, keeping its connection between polls.
pub struct Prober {
    address: String,
    connected: Option<Connected>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("address", &self.address)
            .field("connected", &self.connected.is_some())
            .finish()
    }
}

impl Prober {
    pub fn new(address: impl Into<String>) -> Self {
        Prober {
            address: address.into(),
            connected: None,
        }
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// True if a connection is open (it may still turn out to be dead on next use).
    pub fn is_connected(&self) -> bool {
        self.connected.is_some()
    }

    /// One poll. On an error that leaves the connection in doubt, the connection is
    /// dropped and the next poll reconnects.
    pub async fn poll(&mut self, settings: &MonitorSettings) -> Result<ServerFacts, ProbeError> {
        self.poll_as(settings, None).await
    }

    /// One poll; when `primary_id` is the server_id the last snapshot elected
    /// as primary at this address, and the server is still writable, the
    /// poll also writes the lag heartbeat.
    pub async fn poll_as(
        &mut self,
        settings: &MonitorSettings,
        primary_id: Option<u32>,
    ) -> Result<ServerFacts, ProbeError> {
        let stale = self
            .connected
            .as_ref()
            .is_some_and(|c| c.user != settings.user || c.password != settings.password);
        if stale {
            self.close().await;
        }
        let mut connected = match self.connected.take() {
            Some(c) => c,
            None => connect(&self.address, settings).await?,
        };
        let result = read_facts(&self.address, &mut connected, settings, primary_id).await;
        match &result {
            Err(e) if e.connection_broken() => drop(connected),
            _ => self.connected = Some(connected),
        }
        result
    }

    /// Closes the connection politely (bounded by a short timeout).
    pub async fn close(&mut self) {
        if let Some(c) = self.connected.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), c.conn.disconnect()).await;
        }
    }
}

/// One poll over a fresh connection that is closed afterwards (tests, diagnostics).
pub async fn probe_once(
    address: &str,
    settings: &MonitorSettings,
) -> Result<ServerFacts, ProbeError> {
    let mut prober = Prober::new(address);
    let result = prober.poll(settings).await;
    prober.close().await;
    result
}

async fn connect(address: &str, settings: &MonitorSettings) -> Result<Connected, ProbeError> {
    let (host, port) = split_address(address)?;
    let opts = settings.control_opts(host, port);
    let after = settings.effective_connect_timeout();
    let open = super::control_tls::connect(opts, address, &settings.tls);
    let mut conn = match tokio::time::timeout(after, open).await {
        Err(_) => {
            return Err(ProbeError::ConnectTimeout {
                address: address.to_string(),
                after,
            })
        }
        Ok(Err(source)) => {
            let refused = matches!(&source, mysql_async::Error::Server(e) if e.code == 1045);
            return Err(ProbeError::Connect {
                address: address.to_string(),
                source,
                plaintext: refused
                    && settings.tls.mode_for(address) == super::control_tls::TlsMode::Off,
            });
        }
        Ok(Ok(conn)) => conn,
    };
    let rows = query(&mut conn, address, IDENTITY_LABEL, IDENTITY_SQL, settings).await?;
    let identity = rows.first().ok_or_else(|| ProbeError::MissingValue {
        address: address.to_string(),
        query: IDENTITY_LABEL,
        column: "row",
    })?;
    let version = identity.get("version").unwrap_or("").to_string();
    let comment = identity.get("version_comment").unwrap_or("");
    let flavor = Flavor::detect(&version, comment);
    tracing::debug!(address, %flavor, version = %version, "monitor connection opened");
    Ok(Connected {
        conn,
        flavor,
        version,
        user: settings.user.clone(),
        password: settings.password.clone(),
    })
}

async fn query(
    conn: &mut Conn,
    address: &str,
    label: &'static str,
    sql: &'static str,
    settings: &MonitorSettings,
) -> Result<Vec<NamedRow>, ProbeError> {
    let after = settings.effective_query_timeout();
    match tokio::time::timeout(after, conn.query::<Row, _>(sql)).await {
        Err(_) => Err(ProbeError::QueryTimeout {
            address: address.to_string(),
            query: label,
            after,
        }),
        Ok(Err(source)) => Err(ProbeError::Query {
            address: address.to_string(),
            query: label,
            source,
        }),
        Ok(Ok(rows)) => Ok(rows.iter().map(NamedRow::from_mysql).collect()),
    }
}

/// `read_only` arrives as 0/1 (or ON/OFF from some proxies and versions).
fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "0" | "off" | "false" => Some(false),
        "1" | "on" | "true" => Some(true),
        _ => None,
    }
}

/// Reads server identity, read_only and GTID positions from one row of
/// `Flavor::variables_sql`.
pub fn parse_variables(
    address: &str,
    flavor: Flavor,
    row: &NamedRow,
) -> Result<(u32, bool, GtidPositions), ProbeError> {
    let sql = VARIABLES_LABEL;
    let missing = |column| ProbeError::MissingValue {
        address: address.to_string(),
        query: sql,
        column,
    };
    let bad = |column, value: &str| ProbeError::BadValue {
        address: address.to_string(),
        query: sql,
        column,
        value: value.chars().take(80).collect(),
    };
    let id_text = row
        .get_non_empty("server_id")
        .ok_or_else(|| missing("server_id"))?;
    let server_id: u32 = id_text.parse().map_err(|_| bad("server_id", id_text))?;
    let ro_text = row
        .get_non_empty("read_only")
        .ok_or_else(|| missing("read_only"))?;
    let read_only = parse_bool(ro_text).ok_or_else(|| bad("read_only", ro_text))?;
    let (gtid, problems) = flavor.parse_gtid_positions(row);
    for problem in problems {
        tracing::debug!(address, %problem, "ignoring unreadable GTID position");
    }
    Ok((server_id, read_only, gtid))
}

async fn read_facts(
    address: &str,
    connected: &mut Connected,
    settings: &MonitorSettings,
    primary_id: Option<u32>,
) -> Result<ServerFacts, ProbeError> {
    let flavor = connected.flavor;
    let vars_sql = flavor.variables_sql();
    let rows = query(
        &mut connected.conn,
        address,
        VARIABLES_LABEL,
        vars_sql,
        settings,
    )
    .await?;
    let vars = rows.first().ok_or_else(|| ProbeError::MissingValue {
        address: address.to_string(),
        query: VARIABLES_LABEL,
        column: "row",
    })?;
    let (server_id, read_only, gtid) = parse_variables(address, flavor, vars)?;
    let semi_sync = SemiSync {
        master_enabled: vars.get("semi_sync_master_enabled").and_then(parse_bool),
        master_active: vars.get("semi_sync_master_status").and_then(parse_bool),
        slave_enabled: vars.get("semi_sync_slave_enabled").and_then(parse_bool),
    };
    let slave_net_timeout = vars
        .get("slave_net_timeout")
        .and_then(|v| v.trim().parse().ok());
    let max_allowed_packet = vars
        .get("max_allowed_packet")
        .and_then(|v| v.trim().parse().ok());
    let max_connections = vars
        .get("max_connections")
        .and_then(|v| v.trim().parse().ok());

    let status_sql = flavor.replica_status_sql(&connected.version);
    let rows = query(
        &mut connected.conn,
        address,
        status_sql,
        status_sql,
        settings,
    )
    .await?;
    let replication = rows
        .iter()
        .map(|row| {
            let status = flavor.parse_replica_row(row);
            for column in &status.unreadable {
                tracing::debug!(address, channel = %status.channel, %column, "ignoring unreadable replica status column");
            }
            status
        })
        .collect::<Vec<ReplicationStatus>>();

    let is_primary = primary_id == Some(server_id) && !read_only && replication.is_empty();
    let (heartbeat, heartbeat_written) = if is_primary {
        (
            None,
            write_heartbeat(address, &mut connected.conn, settings).await?,
        )
    } else {
        (
            read_heartbeat(address, &mut connected.conn, settings).await?,
            None,
        )
    };

    Ok(ServerFacts {
        server_id,
        read_only,
        flavor,
        version: connected.version.clone(),
        replication,
        gtid,
        heartbeat,
        heartbeat_written,
        semi_sync,
        slave_net_timeout,
        max_allowed_packet,
        max_connections,
    })
}

/// Runs a statement for the heartbeat. A server error (no table yet, no
/// privilege) is `Ok(Err(code))`; a timeout or a broken connection fails
/// the poll.
async fn heartbeat_query(
    address: &str,
    conn: &mut Conn,
    settings: &MonitorSettings,
    sql: &str,
) -> Result<Result<Vec<Row>, u16>, ProbeError> {
    let after = settings.effective_query_timeout();
    match tokio::time::timeout(after, conn.query::<Row, _>(sql)).await {
        Err(_) => Err(ProbeError::QueryTimeout {
            address: address.to_string(),
            query: "heartbeat",
            after,
        }),
        Ok(Err(mysql_async::Error::Server(e))) => Ok(Err(e.code)),
        Ok(Err(source)) => Err(ProbeError::Query {
            address: address.to_string(),
            query: "heartbeat",
            source,
        }),
        Ok(Ok(rows)) => Ok(Ok(rows)),
    }
}

/// Reads the heartbeat row; `None` when there is none (yet).
async fn read_heartbeat(
    address: &str,
    conn: &mut Conn,
    settings: &MonitorSettings,
) -> Result<Option<HeartbeatRead>, ProbeError> {
    let read_at = std::time::SystemTime::now();
    let rows =
        match heartbeat_query(address, conn, settings, &lag::read_sql(&settings.schema)).await? {
            Ok(rows) => rows,
            Err(code) => {
                tracing::trace!(address, code, "no heartbeat to read");
                return Ok(None);
            }
        };
    let ts = rows
        .first()
        .and_then(|r| r.get_opt::<i64, _>(0))
        .and_then(Result::ok);
    Ok(ts.map(|ts_us| HeartbeatRead { ts_us, read_at }))
}

/// Writes a heartbeat on the primary, creating the table on first use.
async fn write_heartbeat(
    address: &str,
    conn: &mut Conn,
    settings: &MonitorSettings,
) -> Result<Option<HeartbeatWrite>, ProbeError> {
    for attempt in 0..2 {
        let ts_us = lag::micros(std::time::SystemTime::now());
        let sql = lag::write_sql(&settings.schema, ts_us);
        match heartbeat_query(address, conn, settings, &sql).await? {
            Ok(_) => {
                return Ok(Some(HeartbeatWrite {
                    ts_us,
                    completed_at: std::time::SystemTime::now(),
                }))
            }
            // no such database / table: create them once
            Err(1049 | 1146) if attempt == 0 => {
                for create in lag::create_sql(&settings.schema) {
                    if let Err(code) = heartbeat_query(address, conn, settings, &create).await? {
                        tracing::warn!(
                            address,
                            code,
                            "cannot create the heartbeat table; replica lag is not measured"
                        );
                        return Ok(None);
                    }
                }
                tracing::info!(address, schema = %settings.schema, "heartbeat table created");
            }
            Err(code) => {
                tracing::debug!(address, code, "heartbeat write failed");
                return Ok(None);
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::gtid::GtidSet;

    #[test]
    fn addresses() {
        assert_eq!(
            split_address("127.0.0.1:3306").unwrap(),
            ("127.0.0.1".into(), 3306)
        );
        assert_eq!(
            split_address("db.example:1").unwrap(),
            ("db.example".into(), 1)
        );
        assert_eq!(split_address("[::1]:3307").unwrap(), ("::1".into(), 3307));
        for bad in [
            "",
            "host",
            "host:",
            ":3306",
            "host:0",
            "host:65536",
            "host:x",
        ] {
            assert!(
                matches!(split_address(bad), Err(ProbeError::InvalidAddress { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn variables_mariadb() {
        let row = NamedRow::from_pairs([
            ("server_id", Some("3")),
            ("read_only", Some("1")),
            ("gtid_current_pos", Some("0-1-42")),
            ("gtid_slave_pos", Some("0-1-42")),
            ("gtid_binlog_pos", Some("")),
        ]);
        let (id, ro, gtid) = parse_variables("a:1", Flavor::MariaDb, &row).unwrap();
        assert_eq!((id, ro), (3, true));
        assert_eq!(
            gtid.executed,
            Some(GtidSet::parse(Flavor::MariaDb, "0-1-42").unwrap())
        );
        assert!(gtid.binlog_pos.is_some_and(|b| b.is_empty()));
    }

    #[test]
    fn variables_mysql_on_off_and_errors() {
        let row = NamedRow::from_pairs([("server_id", Some("1")), ("read_only", Some("OFF"))]);
        let (id, ro, gtid) = parse_variables("a:1", Flavor::MySql, &row).unwrap();
        assert_eq!((id, ro), (1, false));
        assert_eq!(gtid.executed, None);

        let row = NamedRow::from_pairs([("server_id", None), ("read_only", Some("0"))]);
        assert!(matches!(
            parse_variables("a:1", Flavor::MySql, &row),
            Err(ProbeError::MissingValue {
                column: "server_id",
                ..
            })
        ));
        let row = NamedRow::from_pairs([("server_id", Some("-1")), ("read_only", Some("0"))]);
        assert!(matches!(
            parse_variables("a:1", Flavor::MySql, &row),
            Err(ProbeError::BadValue {
                column: "server_id",
                ..
            })
        ));
        let row = NamedRow::from_pairs([("server_id", Some("1")), ("read_only", Some("maybe"))]);
        let err = parse_variables("a:1", Flavor::MySql, &row).unwrap_err();
        assert!(err.to_string().contains("read_only"), "{err}");
        assert!(!err.connection_broken());
    }

    #[tokio::test]
    async fn closed_port_is_a_connect_error_and_no_password_leaks() {
        // Port 1 on loopback: nothing listens there, the connect fails at once.
        let settings = MonitorSettings::new("router", "s3cret-pw");
        let err = probe_once("127.0.0.1:1", &settings).await.unwrap_err();
        assert!(matches!(err, ProbeError::Connect { .. }), "{err:?}");
        assert!(err.connection_broken());
        assert!(!err.to_string().contains("s3cret-pw"));
        assert!(!format!("{err:?}").contains("s3cret-pw"));
    }

    #[tokio::test]
    async fn silent_server_hits_connect_timeout() {
        // A listener that accepts but never sends a greeting.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let mut settings = MonitorSettings::new("router", "pw");
        settings.connect_timeout = Duration::from_millis(150);
        let started = std::time::Instant::now();
        let mut prober = Prober::new(address.clone());
        let err = prober.poll(&settings).await.unwrap_err();
        assert!(matches!(err, ProbeError::ConnectTimeout { .. }), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(!prober.is_connected());
        hold.abort();
    }
}
