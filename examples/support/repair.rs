//! Shared by the bench drivers: a replica that sqlyard quarantined (it
//! holds transactions the primary never had) is rebuilt by hand, so the
//! next event has all its replicas again.

use std::time::Duration;

use sqlyard::sandbox::Topology;

/// Drops `node`'s own binlog history and points it at `primary` from the
/// primary's position. Returns the errant position it had.
pub async fn rebuild_replica(
    topo: &Topology,
    node: usize,
    primary: usize,
) -> Result<String, String> {
    let n = topo.node(node).map_err(|e| e.to_string())?;
    let p = topo.node(primary).map_err(|e| e.to_string())?;
    let pos = p.gtid_binlog_pos().await.map_err(|e| e.to_string())?;
    let errant = n.gtid_binlog_pos().await.unwrap_or_default();
    for sql in [
        "SET GLOBAL read_only = ON".to_string(),
        "STOP SLAVE".to_string(),
        "RESET SLAVE ALL".to_string(),
        "RESET MASTER".to_string(),
        format!("SET GLOBAL gtid_slave_pos = '{pos}'"),
    ] {
        n.exec_root(&sql)
            .await
            .map_err(|e| format!("repair node {node}: {e}"))?;
    }
    n.replicate_from(p).await.map_err(|e| e.to_string())?;
    n.wait_replica_running(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    Ok(errant)
}
