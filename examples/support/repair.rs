//! Shared by the bench drivers: a replica that sqlyard quarantined (it
//! holds transactions the primary never had) is rebuilt by hand, so the
//! next event has all its replicas again.
//!
//! A rebuild copies the data: pointing the node at the primary's current
//! GTID position without a copy would skip every transaction it missed
//! while it was quarantined, and a later promotion of it would lose them
//! (a 30-minute soak showed exactly that). So the node gets a consistent
//! dump of the primary's databases (`mariadb-dump --single-transaction
//! --gtid`), loaded without binlogging, and replicates from the GTID
//! position the dump was taken at.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use sqlyard::sandbox::Topology;

/// Databases a rebuild leaves alone (the server's own).
const SYSTEM: [&str; 4] = ["mysql", "information_schema", "performance_schema", "sys"];

/// Rebuilds `node` as a replica of `primary` from a copy of the primary's
/// data. Returns the errant position it had.
pub async fn rebuild_replica(
    topo: &Topology,
    node: usize,
    primary: usize,
) -> Result<String, String> {
    let n = topo.node(node).map_err(|e| e.to_string())?;
    let p = topo.node(primary).map_err(|e| e.to_string())?;
    let errant = n.gtid_binlog_pos().await.unwrap_or_default();
    for sql in [
        "SET GLOBAL read_only = ON",
        "STOP SLAVE",
        "RESET SLAVE ALL",
        "RESET MASTER",
    ] {
        n.exec_root(sql)
            .await
            .map_err(|e| format!("repair node {node}: {e}"))?;
    }
    let databases: Vec<String> = p
        .query_root::<String>("SHOW DATABASES")
        .await
        .map_err(|e| format!("repair node {node}: databases of the primary: {e}"))?
        .into_iter()
        .filter(|d| !SYSTEM.contains(&d.as_str()))
        .collect();
    // the node's option file logs in as root (first argument)
    let dump = tokio::process::Command::new("mariadb-dump")
        .arg(format!("--defaults-file={}", p.config_path().display()))
        .args([
            "--single-transaction",
            "--gtid",
            "--master-data=2",
            "--databases",
        ])
        .args(&databases)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("repair node {node}: mariadb-dump: {e}"))?;
    if !dump.status.success() {
        return Err(format!(
            "repair node {node}: mariadb-dump failed: {}",
            String::from_utf8_lossy(&dump.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&dump.stdout);
    let position = gtid_of_dump(&text)
        .ok_or_else(|| format!("repair node {node}: no gtid_slave_pos in the dump"))?;
    load(n.config_path(), &dump.stdout)
        .await
        .map_err(|e| format!("repair node {node}: loading the dump: {e}"))?;
    n.exec_root(&format!("SET GLOBAL gtid_slave_pos = '{position}'"))
        .await
        .map_err(|e| format!("repair node {node}: {e}"))?;
    n.replicate_from(p).await.map_err(|e| e.to_string())?;
    n.wait_replica_running(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    Ok(errant)
}

/// The GTID position a `--gtid --master-data=2` dump was taken at.
fn gtid_of_dump(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.contains("gtid_slave_pos="))?;
    let start = line.find("gtid_slave_pos='")? + "gtid_slave_pos='".len();
    let len = line[start..].find('\'')?;
    Some(line[start..start + len].to_string())
}

/// Loads `dump` into the server whose option file is `defaults`, without
/// binlogging it (the rows come with the primary's GTID position, not as
/// new transactions).
async fn load(defaults: &Path, dump: &[u8]) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("mariadb")
        .arg(format!("--defaults-file={}", defaults.display()))
        .arg("--init-command=SET SESSION sql_log_bin = 0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("mariadb: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("mariadb: no stdin")?;
    stdin.write_all(dump).await.map_err(|e| e.to_string())?;
    drop(stdin);
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}
