//! Wiring a replica to its primary with GTID replication, and knowing when a
//! replica is running and has applied everything, are needed by topology
//! start-up and by every test that writes on the primary and reads on a
//! replica. This file holds those steps, in terms of a single node.

use std::time::{Duration, Instant};

use mysql_async::Row;

use super::error::{SandboxError, WaitTarget};
use super::node::Node;
use super::users::{REPL_PASSWORD, REPL_USER};

/// The interesting part of `SHOW SLAVE STATUS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaStatus {
    /// "Yes", "No" or "Connecting".
    pub io_running: String,
    /// "Yes" or "No".
    pub sql_running: String,
    pub master_host: String,
    pub master_port: u16,
    pub last_io_error: String,
    pub last_sql_error: String,
    /// `Gtid_IO_Pos`: what the IO thread has received.
    pub gtid_io_pos: String,
    /// `Seconds_Behind_Master` (NULL while stopped).
    pub seconds_behind_master: Option<u64>,
}

impl ReplicaStatus {
    /// Both replication threads run.
    pub fn is_running(&self) -> bool {
        self.io_running == "Yes" && self.sql_running == "Yes"
    }
}

fn text(row: &Row, column: &str) -> String {
    match row.get_opt::<Option<String>, _>(column) {
        Some(Ok(Some(value))) => value,
        _ => String::new(),
    }
}

fn parse_status(row: &Row) -> ReplicaStatus {
    ReplicaStatus {
        io_running: text(row, "Slave_IO_Running"),
        sql_running: text(row, "Slave_SQL_Running"),
        master_host: text(row, "Master_Host"),
        master_port: text(row, "Master_Port").parse().unwrap_or(0),
        last_io_error: text(row, "Last_IO_Error"),
        last_sql_error: text(row, "Last_SQL_Error"),
        gtid_io_pos: text(row, "Gtid_IO_Pos"),
        seconds_behind_master: text(row, "Seconds_Behind_Master").parse().ok(),
    }
}

/// A GTID position is digits, dashes and commas only; anything else would
/// not be safe to put into SQL text.
fn is_gtid_list(gtid: &str) -> bool {
    gtid.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ',' | ' '))
}

impl Node {
    /// `SHOW SLAVE STATUS`, or `None` if this node is not a replica.
    pub async fn replica_status(&self) -> Result<Option<ReplicaStatus>, SandboxError> {
        let rows: Vec<Row> = self.query_root("SHOW SLAVE STATUS").await?;
        Ok(rows.first().map(parse_status))
    }

    /// Points this node at `primary` (GTID `slave_pos`, 1 s heartbeat and
    /// reconnect; with MariaDB's defaults when the node was started so)
    /// and starts replication.
    pub async fn replicate_from(&self, primary: &Node) -> Result<(), SandboxError> {
        let timing = if self.mariadb_defaults() {
            ""
        } else {
            ", MASTER_HEARTBEAT_PERIOD=1, MASTER_CONNECT_RETRY=1"
        };
        let ssl = match self.tls_files() {
            Some(tls) => format!(
                ", MASTER_SSL=1, MASTER_SSL_CA='{}', MASTER_SSL_VERIFY_SERVER_CERT=1",
                tls.ca.display()
            ),
            None => String::new(),
        };
        let sql = format!(
            "CHANGE MASTER TO MASTER_HOST='{}', MASTER_PORT={}, \
             MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', \
             MASTER_USE_GTID=slave_pos{timing}{ssl}",
            primary.host(),
            primary.port()
        );
        self.exec_root(&sql).await?;
        self.exec_root("START SLAVE").await
    }

    /// Waits until both replication threads run. Fails at once on an SQL
    /// thread error, and with the last IO error on timeout.
    pub async fn wait_replica_running(&self, timeout: Duration) -> Result<(), SandboxError> {
        let started = Instant::now();
        loop {
            let status = self.replica_status().await?;
            if let Some(status) = &status {
                if status.is_running() {
                    return Ok(());
                }
                if !status.last_sql_error.is_empty() {
                    return Err(self.broken(status));
                }
            }
            if started.elapsed() >= timeout {
                return Err(match status {
                    Some(status) if !status.last_io_error.is_empty() => self.broken(&status),
                    _ => SandboxError::Timeout {
                        target: WaitTarget::ReplicaRunning { node: self.index() },
                        after: timeout,
                    },
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn broken(&self, status: &ReplicaStatus) -> SandboxError {
        SandboxError::ReplicationBroken {
            node: self.index(),
            io_error: status.last_io_error.clone(),
            sql_error: status.last_sql_error.clone(),
        }
    }

    /// Waits (`MASTER_GTID_WAIT`) until this replica has applied `gtid`.
    pub async fn wait_gtid_applied(
        &self,
        gtid: &str,
        timeout: Duration,
    ) -> Result<(), SandboxError> {
        if !is_gtid_list(gtid) {
            return Err(SandboxError::UnexpectedResult {
                node: self.index(),
                sql: format!("GTID position '{gtid}'"),
            });
        }
        let sql = format!(
            "SELECT MASTER_GTID_WAIT('{gtid}', {:.3})",
            timeout.as_secs_f64()
        );
        // The server enforces the timeout; the outer one catches a frozen node.
        let outer = timeout + Duration::from_secs(5);
        let waited = tokio::time::timeout(outer, self.scalar_root::<i64>(&sql)).await;
        match waited {
            Ok(Ok(0)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Ok(Ok(_)) | Err(_) => {
                if let Ok(Some(status)) = self.replica_status().await {
                    if !status.last_io_error.is_empty() || !status.last_sql_error.is_empty() {
                        return Err(self.broken(&status));
                    }
                }
                Err(SandboxError::Timeout {
                    target: WaitTarget::CatchUp {
                        node: self.index(),
                        gtid: gtid.to_owned(),
                    },
                    after: timeout,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtid_lists_are_checked() {
        assert!(is_gtid_list(""));
        assert!(is_gtid_list("0-1-5,1-2-7"));
        assert!(!is_gtid_list("0-1-5'; DROP"));
    }
}
