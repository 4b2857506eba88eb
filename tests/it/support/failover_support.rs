//! Helpers shared by the failover test modules: topologies and routers
//! with failover on, admin SQL (`SHOW FAILOVERS`, `SHOW SERVERS`), and the
//! servers' own view of the topology (who is writable, who replicates from
//! whom), which is what the tests assert on.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use sqlyard::sandbox::{SandboxOptions, Topology};
use toml_edit::{value, DocumentMut};

use crate::common::{self, OwnTopology};
use crate::load::{create_table, Load, LoadOptions, LoadReport};

/// The table the load writes.
pub const TABLE: &str = "failover_test.writes";
/// `failover.silence_grace` in these tests (the default).
pub const SILENCE_GRACE: Duration = Duration::from_secs(3);
/// How long a failover may take from the fault to its journal entry.
pub const FAILOVER_LIMIT: Duration = Duration::from_secs(60);

pub type AdminRow = BTreeMap<String, Option<String>>;

// ---------------------------------------------------------------- setup

pub async fn start_topology() -> OwnTopology {
    common::start_topology(SandboxOptions {
        semi_sync: true,
        semi_sync_timeout_ms: 60_000,
        ..Default::default()
    })
    .await
    .expect("semi-sync sandbox topology starts")
}

/// Edits the router config text as TOML.
pub fn edit_toml(text: &mut String, f: impl FnOnce(&mut DocumentMut)) {
    let mut doc: DocumentMut = text.parse().expect("router config is TOML");
    f(&mut doc);
    *text = doc.to_string();
}

/// `[failover]` for tests: on, short anti-flap window, journal in `journal`,
/// plus `overrides` (duration keys).
pub fn set_failover(doc: &mut DocumentMut, journal: &Path, overrides: &[(&str, &str)]) {
    let t = doc
        .entry("failover")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .expect("[failover] is a table");
    t["enabled"] = value(true);
    t["silence_grace"] = value(format!("{}s", SILENCE_GRACE.as_secs()));
    t["anti_flap_window"] = value("1s");
    t["journal"] = value(journal.to_string_lossy().into_owned());
    for (k, v) in overrides {
        t[*k] = value(*v);
    }
}

/// Sets `key = val` on the `[[servers]]` entry whose address is `address`.
pub fn set_server(doc: &mut DocumentMut, address: &str, key: &str, val: &str) {
    let servers = doc["servers"]
        .as_array_of_tables_mut()
        .expect("[[servers]]");
    let entry = servers
        .iter_mut()
        .find(|t| t.get("address").and_then(|a| a.as_str()) == Some(address))
        .unwrap_or_else(|| panic!("no [[servers]] entry {address}"));
    entry[key] = value(val);
}

/// A router with failover on in front of `topo`; the journal goes to
/// `journal_dir`.
pub async fn start_router(
    topo: &Topology,
    journal_dir: &Path,
    edit: impl FnOnce(&mut DocumentMut),
) -> common::Router {
    let journal = journal_dir.join("failover.journal");
    common::Router::start_with(topo, true, |text| {
        edit_toml(text, |doc| {
            set_failover(doc, &journal, &[]);
            edit(doc);
        })
    })
    .await
}

pub fn admin_port(router: &common::Router) -> u16 {
    router.server.admin_addr().port()
}

/// Creates the load's table on the primary and waits for the replicas.
pub async fn prepare_table(topo: &Topology) {
    let mut c = topo.primary().root_conn().await.unwrap();
    create_table(&mut c, TABLE).await.unwrap();
    c.disconnect().await.unwrap();
    topo.wait_replicas_caught_up(Duration::from_secs(30))
        .await
        .unwrap();
}

pub fn load_options(router: &common::Router, first_id: u64) -> LoadOptions {
    let mut o = LoadOptions::new(router.opts(), TABLE);
    o.workers = 4;
    o.max_duration = Duration::from_secs(120);
    o.max_writes_per_worker = 20_000;
    o.first_id = first_id;
    o.op_timeout = Duration::from_secs(20);
    o
}

/// Starts a load and waits until it has written something.
pub async fn running_load(options: LoadOptions) -> Load {
    let load = Load::start(options);
    assert!(
        load.wait_acknowledged(40, Duration::from_secs(30)).await,
        "the load writes through sqlyard before the fault ({} errors)",
        load.errors()
    );
    load
}

// ---------------------------------------------------------------- admin

pub fn admin_opts(port: u16) -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("admin"))
        .pass(Some("admin_pw"))
        .prefer_socket(false)
}

pub fn to_admin_rows(rows: Vec<mysql_async::Row>) -> Vec<AdminRow> {
    rows.into_iter()
        .map(|row| {
            let names: Vec<String> = row
                .columns_ref()
                .iter()
                .map(|c| c.name_str().to_lowercase())
                .collect();
            names
                .into_iter()
                .enumerate()
                .map(|(i, name)| {
                    let v = row.get_opt::<Option<String>, usize>(i).and_then(Result::ok);
                    (name, v.flatten())
                })
                .collect()
        })
        .collect()
}

/// Runs an admin statement; rows on success, the error text otherwise.
pub async fn admin_sql(port: u16, sql: &str) -> Result<Vec<AdminRow>, String> {
    let mut c = mysql_async::Conn::new(admin_opts(port))
        .await
        .map_err(|e| format!("admin login: {e}"))?;
    let rows: Result<Vec<mysql_async::Row>, _> = c.query(sql).await;
    let _ = c.disconnect().await;
    rows.map(to_admin_rows).map_err(|e| e.to_string())
}

pub fn cell<'a>(row: &'a AdminRow, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_deref()).unwrap_or("")
}

/// One `SHOW FAILOVERS` row.
#[derive(Debug, Clone)]
pub struct FailoverRecord {
    pub id: String,
    pub kind: String,
    pub outcome: String,
    pub old_primary: String,
    pub new_primary: String,
    pub detection_ms: Option<f64>,
    pub duration_ms: Option<f64>,
    /// Every column, for failure messages.
    #[allow(dead_code)]
    pub row: AdminRow,
}

impl FailoverRecord {
    pub fn from_row(row: AdminRow) -> Self {
        let num = |c: &str| cell(&row, c).trim().parse::<f64>().ok();
        FailoverRecord {
            id: cell(&row, "id").to_string(),
            kind: cell(&row, "kind").to_lowercase(),
            outcome: cell(&row, "outcome").to_lowercase(),
            old_primary: cell(&row, "old_primary").to_string(),
            new_primary: cell(&row, "new_primary").to_string(),
            detection_ms: num("detection_ms"),
            duration_ms: num("duration_ms"),
            row,
        }
    }

    pub fn running(&self) -> bool {
        self.outcome == "running"
    }
}

/// `SHOW FAILOVERS`, oldest first; `None` while the router has no such
/// command (before the failover manager lands), so that the no-failover
/// scenarios can run on the servers' state alone.
pub async fn failovers(port: u16) -> Option<Vec<FailoverRecord>> {
    match admin_sql(port, "SHOW FAILOVERS").await {
        Ok(rows) => {
            let mut list: Vec<FailoverRecord> =
                rows.into_iter().map(FailoverRecord::from_row).collect();
            list.sort_by_key(|r| r.id.parse::<u64>().unwrap_or(u64::MAX));
            Some(list)
        }
        Err(e) if e.contains("unknown admin command") => {
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                eprintln!("note: this router has no SHOW FAILOVERS yet; checking the servers only")
            });
            None
        }
        Err(e) => panic!("SHOW FAILOVERS: {e}"),
    }
}

pub async fn failover_count(port: u16) -> usize {
    failovers(port).await.map_or(0, |l| l.len())
}

/// Waits for a failover entry newer than the first `before` ones that is
/// not running any more.
pub async fn wait_failover_done(port: u16, before: usize, limit: Duration) -> FailoverRecord {
    let deadline = Instant::now() + limit;
    loop {
        let list = failovers(port)
            .await
            .expect("SHOW FAILOVERS (the failover manager) is needed here");
        if list.len() > before {
            let newest = list[list.len() - 1].clone();
            if !newest.running() {
                return newest;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no finished failover within {limit:?}; SHOW FAILOVERS: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts the router recorded no failover at all.
pub async fn assert_no_failover(port: u16, what: &str) {
    if let Some(list) = failovers(port).await {
        assert!(list.is_empty(), "{what}: unexpected failover(s): {list:#?}");
    }
}

pub async fn show_servers(port: u16) -> Vec<AdminRow> {
    admin_sql(port, "SHOW SERVERS").await.expect("SHOW SERVERS")
}

pub fn server_row<'a>(rows: &'a [AdminRow], address: &str) -> &'a AdminRow {
    rows.iter()
        .find(|r| cell(r, "address") == address)
        .unwrap_or_else(|| panic!("no SHOW SERVERS row for {address}: {rows:#?}"))
}

/// Waits until SHOW SERVERS says reads may go to each of `addresses`.
pub async fn wait_reads_eligible(port: u16, addresses: &[String], limit: Duration) {
    wait_until(limit, "the replicas are eligible for reads", || async {
        let rows = show_servers(port).await;
        addresses
            .iter()
            .all(|a| cell(server_row(&rows, a), "reads") == "eligible")
    })
    .await;
}

/// Waits until SHOW SERVERS says reads may go to every replica of `topo`
/// (sqlyard has measured their lag, as in production).
pub async fn wait_replicas_eligible(topo: &Topology, admin: u16) {
    let configured = topo.addresses();
    let replicas: Vec<String> = topo
        .replica_indexes()
        .iter()
        .map(|&r| configured[r].clone())
        .collect();
    wait_reads_eligible(admin, &replicas, Duration::from_secs(20)).await;
}

/// The node whose configured address (in `configured`, node order) is
/// `address`.
pub fn node_of(configured: &[String], address: &str) -> usize {
    configured
        .iter()
        .position(|a| a == address)
        .unwrap_or_else(|| panic!("{address} is not one of {configured:?}"))
}

// ---------------------------------------------------------------- servers

/// Whether `node` runs replication from `primary` with both threads.
pub async fn replicates_from(topo: &Topology, node: usize, primary: usize) -> Result<(), String> {
    let n = topo.node(node).unwrap();
    let st = n
        .replica_status()
        .await
        .map_err(|e| format!("node {node}: {e}"))?
        .ok_or_else(|| format!("node {node} is not a replica"))?;
    let want = topo.node(primary).unwrap().port();
    if st.master_port != want {
        return Err(format!(
            "node {node} replicates from port {}, not from node {primary} (port {want})",
            st.master_port
        ));
    }
    if !st.is_running() {
        return Err(format!(
            "node {node}: IO {} SQL {} ({} {})",
            st.io_running, st.sql_running, st.last_io_error, st.last_sql_error
        ));
    }
    Ok(())
}

pub async fn global_status(node: &sqlyard::sandbox::Node, name: &str) -> String {
    let row: Option<(String, String)> = node
        .query_root_first(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .await
        .unwrap();
    row.map(|(_, v)| v).unwrap_or_default()
}

/// One check of the topology: exactly one writable running server, every
/// other running server (except `skip`) is read-only and replicates from
/// it, semi-sync is on on it when the topology uses semi-sync (and its
/// source side off elsewhere). Returns the primary's index.
pub async fn check_consistent(topo: &Topology, skip: &[usize]) -> Result<usize, String> {
    let writable = topo.writable_nodes().await.map_err(|e| e.to_string())?;
    let [primary] = writable[..] else {
        return Err(format!("writable nodes: {writable:?} (want exactly one)"));
    };
    for node in topo.nodes() {
        let i = node.index();
        if i == primary || skip.contains(&i) || !node.is_alive() {
            continue;
        }
        if node.state() != sqlyard::sandbox::NodeState::Running {
            continue; // frozen: cannot answer
        }
        replicates_from(topo, i, primary).await?;
        let master_side: i64 = node
            .query_root_first::<(i64,)>("SELECT @@global.rpl_semi_sync_master_enabled")
            .await
            .map_err(|e| e.to_string())?
            .map_or(-1, |r| r.0);
        if master_side != 0 {
            return Err(format!(
                "node {i} is a replica with semi-sync source side on"
            ));
        }
    }
    let p = topo.node(primary).unwrap();
    if let Some(st) = p.replica_status().await.map_err(|e| e.to_string())? {
        if st.is_running() {
            return Err(format!(
                "the primary (node {primary}) still replicates: {st:?}"
            ));
        }
    }
    if !topo.options().semi_sync {
        return Ok(primary);
    }
    let enabled: i64 = p
        .query_root_first::<(i64,)>("SELECT @@global.rpl_semi_sync_master_enabled")
        .await
        .map_err(|e| e.to_string())?
        .map_or(-1, |r| r.0);
    let status = global_status(p, "Rpl_semi_sync_master_status").await;
    if enabled != 1 || !status.eq_ignore_ascii_case("ON") {
        return Err(format!(
            "semi-sync on the primary (node {primary}): enabled={enabled}, status={status}"
        ));
    }
    Ok(primary)
}

/// Waits (replicas may still be starting their threads) until the topology
/// is consistent; returns the primary.
pub async fn assert_consistent(topo: &Topology, skip: &[usize], limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        match check_consistent(topo, skip).await {
            Ok(p) => return p,
            Err(e) => assert!(
                Instant::now() < deadline,
                "topology not consistent after {limit:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How a restarted old primary ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// Read-only and replicating from the new primary.
    Rejoined,
    /// It holds a transaction the new primary lacks (a kill raced a write
    /// or a heartbeat that was in its binlog but never acknowledged), and
    /// sqlyard quarantined it instead of rejoining it.
    Quarantined,
}

/// The (domain, server id) -> sequence entries of a GTID state.
fn gtid_state(text: &str) -> BTreeMap<(u32, u32), u64> {
    text.split(',')
        .filter_map(|g| {
            let mut p = g.trim().split('-');
            let d = p.next()?.parse().ok()?;
            let s = p.next()?.parse().ok()?;
            let n = p.next()?.parse().ok()?;
            Some(((d, s), n))
        })
        .collect()
}

/// What the servers say: does `node` hold a transaction `primary` lacks?
async fn holds_errant(topo: &Topology, node: usize, primary: usize) -> Result<bool, String> {
    let state = |i: usize| async move {
        topo.node(i)
            .unwrap()
            .query_root_first::<String>("SELECT @@gtid_binlog_state")
            .await
            .map_err(|e| e.to_string())
            .map(|v| gtid_state(&v.unwrap_or_default()))
    };
    let (mine, theirs) = (state(node).await?, state(primary).await?);
    Ok(mine
        .iter()
        .any(|(k, n)| theirs.get(k).is_none_or(|t| t < n)))
}

/// Waits until `node` is read-only and replicates from `primary`, or, when
/// the servers show that `node` holds a transaction `primary` lacks, until
/// sqlyard shows it quarantined. Anything else within `limit` fails.
pub async fn wait_rejoined(
    topo: &Topology,
    admin: u16,
    node: usize,
    primary: usize,
    limit: Duration,
) -> Returned {
    let deadline = Instant::now() + limit;
    let address = topo.node(node).unwrap().address();
    loop {
        let ro = topo.node(node).unwrap().is_read_only().await;
        let last = match (ro, replicates_from(topo, node, primary).await) {
            (Ok(true), Ok(())) => return Returned::Rejoined,
            (ro, r) => format!("read_only={ro:?}, replication: {r:?}"),
        };
        if holds_errant(topo, node, primary).await == Ok(true) {
            let rows = show_servers(admin).await;
            let row = server_row(&rows, &address);
            if !cell(row, "alert").is_empty() || cell(row, "role").contains("quarantin") {
                assert_eq!(
                    topo.node(node).unwrap().is_read_only().await.ok(),
                    Some(true),
                    "a quarantined old primary stays read-only"
                );
                println!(
                    "node {node} holds a transaction node {primary} lacks: quarantined: {row:?}"
                );
                return Returned::Quarantined;
            }
        }
        if Instant::now() >= deadline {
            // what the servers hold, to tell a slow rejoin from a refused one
            let mut held = Vec::new();
            for i in [node, primary] {
                let pos: Result<Option<(String, String)>, _> = topo
                    .node(i)
                    .unwrap()
                    .query_root_first("SELECT @@gtid_binlog_state, @@gtid_current_pos")
                    .await;
                held.push(format!("node {i}: binlog state/current pos {pos:?}"));
            }
            let servers = admin_sql(admin, "SHOW SERVERS").await;
            let failovers = admin_sql(admin, "SHOW FAILOVERS").await;
            panic!(
                "node {node} neither rejoined under node {primary} nor quarantined with a \
                 transaction node {primary} lacks, within {limit:?}: {last}; {}; \
                 SHOW SERVERS: {servers:#?}; SHOW FAILOVERS: {failovers:#?}",
                held.join("; ")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A write through the router on a new connection.
pub async fn write_through(router_port: u16, sql: &str) -> Result<(), String> {
    let mut c = mysql_async::Conn::new(common::app_opts(router_port))
        .await
        .map_err(|e| e.to_string())?;
    let r = c.query_drop(sql).await.map_err(|e| e.to_string());
    let _ = c.disconnect().await;
    r
}

/// `@@server_id` of `n` reads through one router connection.
pub async fn read_server_ids(router_port: u16, n: usize) -> Result<Vec<u32>, String> {
    let mut c = mysql_async::Conn::new(common::app_opts(router_port))
        .await
        .map_err(|e| e.to_string())?;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id: Option<u32> = c
            .query_first("SELECT @@server_id")
            .await
            .map_err(|e| e.to_string())?;
        ids.push(id.ok_or("no row")?);
    }
    let _ = c.disconnect().await;
    Ok(ids)
}

pub fn print_unavailability(what: &str, report: &LoadReport, fault: Instant) {
    let u = report.unavailability(fault);
    println!(
        "{what}: writes unavailable {:?} (fault -> first acknowledged write {:?}); {}",
        u.window(),
        u.since(fault),
        report.summary()
    );
}

/// `SHOW FAILOVERS`' newest entry, whatever its state.
pub async fn newest_failover(admin: u16) -> FailoverRecord {
    let list = failovers(admin).await.expect("SHOW FAILOVERS");
    list.last().cloned().expect("a failover entry")
}
