//! Problem: operators must be able to take a backup now, from the server
//! they choose, and see every backup with its state, source, GTID
//! position, size, duration and error, from any admin client.
//! `BACKUP [FROM '<host:port>']` starts one in the background and answers
//! with its id; `SHOW BACKUPS` lists them (see `crate::backup`).
//! `REBUILD SERVER` makes a server a replica again from a backup, in the
//! background, and `SHOW REBUILDS` shows each one's steps.

use crate::admin::error::AdminError;
use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::backup::rebuild::Source;
use crate::backup::rebuilds::RebuildRecord;
use crate::backup::{Record, Start};
use crate::control::Control;

use super::client_queries::format_time;
use super::{ready, Pending};

pub const USAGE: &[&str] = &[
    "BACKUP [FROM '<host:port>']",
    "SHOW BACKUPS",
    "VERIFY BACKUP '<id>'",
    "REBUILD SERVER '<host:port>' [FROM BACKUP '<id>' | FROM '<replica host:port>']",
    "SHOW REBUILDS",
];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["SHOW", "REBUILDS"]) {
        let config = control.config();
        let list = crate::backup::backup_dir(&config)
            .map(|d| crate::backup::rebuilds::list(&d))
            .unwrap_or_default();
        return match control.ctx.cluster.get() {
            None => ready(Ok(Reply::Rows(show_rebuilds(&list)))),
            Some(cluster) => Some(Box::pin(async move {
                Ok(Reply::Rows(show_rebuilds(
                    &every_rebuild(cluster, list).await,
                )))
            })),
        };
    }
    if stmt.starts_with(&["REBUILD", "SERVER"]) {
        let usage = || AdminError::Usage {
            command: "REBUILD SERVER",
            usage: USAGE[3],
        };
        let Some(target) = stmt.value(2) else {
            return ready(Err(usage()));
        };
        let source = match stmt.tokens.len() {
            3 => Source::Auto,
            5 if stmt.word(3) == Some("FROM") => match stmt.value(4) {
                Some(from) => Source::Replica(from.to_string()),
                None => return ready(Err(usage())),
            },
            6 if stmt.word(3) == Some("FROM") && stmt.word(4) == Some("BACKUP") => {
                match stmt.value(5).or(stmt.original(5)) {
                    Some(id) => Source::Backup(id.to_string()),
                    None => return ready(Err(usage())),
                }
            }
            _ => return ready(Err(usage())),
        };
        if let Some(cluster) = control.ctx.cluster.get().filter(|c| !c.is_leader()) {
            return Some(Box::pin(forward_rebuild(cluster, target, source)));
        }
        return ready(rebuild(control, target, source));
    }
    if stmt.is(&["SHOW", "BACKUPS"]) {
        let config = control.config();
        let records = control.ctx.backups.list(&config);
        return ready(Ok(Reply::Rows(show_backups(&records))));
    }
    if stmt.starts_with(&["VERIFY", "BACKUP"]) {
        let Some(id) = (stmt.tokens.len() == 3).then(|| stmt.value(2)).flatten() else {
            return ready(Err(AdminError::Usage {
                command: "VERIFY BACKUP",
                usage: USAGE[2],
            }));
        };
        return Some(Box::pin(async move {
            let config = control.config();
            let v = control.ctx.backups.verify(&config, id).await?;
            let mut rs = ResultSet::new(&[
                ("id", Column::Text),
                ("ok", Column::Text),
                ("tables", Column::Int),
                ("mismatches", Column::Text),
                ("duration_ms", Column::Int),
            ]);
            rs.push(vec![
                cell(&v.id),
                cell(if v.ok { "yes" } else { "no" }),
                cell(v.tables),
                (!v.mismatches.is_empty()).then(|| v.mismatches.join("; ")),
                cell(v.duration_ms),
            ]);
            Ok(Reply::Rows(rs))
        }));
    }
    if stmt.word(0) == Some("BACKUP") {
        let from = match stmt.tokens.len() {
            1 => None,
            3 if stmt.word(1) == Some("FROM") => stmt.value(2),
            _ => None,
        };
        if stmt.tokens.len() != 1 && from.is_none() {
            return ready(Err(AdminError::Usage {
                command: "BACKUP",
                usage: USAGE[0],
            }));
        }
        return ready(backup(control, from));
    }
    None
}

fn backup(control: &Control, from: Option<&str>) -> Result<Reply, AdminError> {
    let config = control.config();
    let snapshot = control.ctx.topology.load();
    let record = control.ctx.backups.start(Start {
        config: &config,
        snapshot: &snapshot,
        monitor: control.monitor.clone(),
        settings: crate::config::monitor_settings(&config),
        from,
    })?;
    let mut rs = ResultSet::new(&[
        ("id", Column::Text),
        ("state", Column::Text),
        ("source", Column::Text),
    ]);
    rs.push(vec![
        cell(&record.id),
        cell(record.state.as_str()),
        cell(&record.source),
    ]);
    Ok(Reply::Rows(rs))
}

fn rebuild(control: &Control, target: &str, source: Source) -> Result<Reply, AdminError> {
    let record =
        crate::control::start_rebuild(&control.ctx, &control.monitor, target, source, false)?;
    let here = control.ctx.cluster.get().map(|c| c.instance().to_string());
    Ok(started_rebuild(&record, here.as_deref()))
}

/// How long a follower waits for the leader to start a forwarded rebuild
/// (its checks only; the rebuild itself runs in the background).
const FORWARD_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// `REBUILD SERVER` typed on an instance that does not lead: the leader
/// runs it (it alone may fence servers and release a quarantine), and its
/// answer is this one's.
async fn forward_rebuild(
    cluster: &crate::cluster::ClusterHandle,
    target: &str,
    source: Source,
) -> Result<Reply, AdminError> {
    let refused = |reason: String| {
        AdminError::Backup(crate::backup::BackupError::RebuildRefused {
            address: target.to_string(),
            reason,
        })
    };
    let req = crate::cluster::records::ForwardedRequest {
        kind: "rebuild".into(),
        to: Some(target.to_string()),
        source: source.to_spec(),
        from_instance: cluster.instance().to_string(),
    };
    let leader = cluster
        .view()
        .leader
        .clone()
        .unwrap_or_else(|| "none now".into());
    let answer = crate::failover::leader::forward_request(cluster, req, FORWARD_WAIT)
        .await
        .map_err(|e| refused(format!("{e} (forwarded to the leader, {leader})")))?;
    let record: RebuildRecord = serde_json::from_value(answer)
        .map_err(|e| refused(format!("unreadable answer from the leader {leader}: {e}")))?;
    Ok(started_rebuild(&record, Some(&leader)))
}

/// The answer to `REBUILD SERVER`: the started rebuild, and the instance
/// running it (`SHOW REBUILDS` there follows it).
fn started_rebuild(record: &RebuildRecord, ran_by: Option<&str>) -> Reply {
    let mut rs = ResultSet::new(&[
        ("id", Column::Text),
        ("server", Column::Text),
        ("state", Column::Text),
        ("from", Column::Text),
        ("ran_by", Column::Text),
    ]);
    rs.push(vec![
        cell(&record.id),
        cell(&record.target),
        cell(&record.state),
        cell(&record.from),
        ran_by.and_then(cell),
    ]);
    Reply::Rows(rs)
}

pub const REBUILD_COLUMNS: &[(&str, Column)] = &[
    ("id", Column::Text),
    ("server", Column::Text),
    ("state", Column::Text),
    ("from", Column::Text),
    ("step", Column::Text),
    ("steps", Column::Text),
    ("backup", Column::Text),
    ("gtid", Column::Text),
    ("errant", Column::Text),
    ("errant_saved", Column::Text),
    ("duration_ms", Column::Int),
    ("started", Column::Text),
    ("auto", Column::Text),
    ("error", Column::Text),
    ("ran_by", Column::Text),
];

/// Several instances: this instance's rebuilds (its files) and the ones
/// every instance copied to etcd, newest first. One left `running` by an
/// instance that is gone is shown `interrupted`.
async fn every_rebuild(
    cluster: &crate::cluster::ClusterHandle,
    local: Vec<RebuildRecord>,
) -> Vec<RebuildRecord> {
    let me = cluster.instance().to_string();
    let mut out: Vec<RebuildRecord> = local
        .into_iter()
        .map(|mut r| {
            r.ran_by.get_or_insert_with(|| me.clone());
            r
        })
        .collect();
    let live: Vec<String> = cluster
        .view()
        .routers
        .iter()
        .map(|r| r.instance.clone())
        .collect();
    match cluster.read_prefix(cluster.keys().rebuilds()).await {
        Ok(values) => {
            for value in values {
                let Ok(mut r) = serde_json::from_slice::<RebuildRecord>(&value) else {
                    continue;
                };
                // a file here is the journal itself
                if out.iter().any(|o| o.id == r.id && o.ran_by == r.ran_by) {
                    continue;
                }
                let by = r.ran_by.clone().unwrap_or_default();
                if r.state == "running" && !live.contains(&by) {
                    r.state = "interrupted".into();
                    r.error = Some(format!(
                        "its sqlyard instance ({by}) is gone; REBUILD SERVER '{}' again resumes it",
                        r.target
                    ));
                }
                out.push(r);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "SHOW REBUILDS: the other instances' rebuilds cannot be read from etcd")
        }
    }
    out.sort_by(|a, b| {
        b.started_unix_ms
            .cmp(&a.started_unix_ms)
            .then_with(|| b.id.cmp(&a.id))
    });
    out
}

/// `SHOW REBUILDS` for these records, newest first.
pub fn show_rebuilds(records: &[RebuildRecord]) -> ResultSet {
    let mut rs = ResultSet::new(REBUILD_COLUMNS);
    for r in records {
        let started = std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.started_unix_ms);
        let steps: Vec<String> = r
            .steps
            .iter()
            .map(|s| format!("{}: {}", s.step, s.detail))
            .collect();
        rs.push(vec![
            cell(&r.id),
            cell(&r.target),
            cell(&r.state),
            cell(&r.from),
            r.last_step().map(str::to_string),
            (!steps.is_empty()).then(|| steps.join("; ")),
            r.backup.clone(),
            r.gtid.clone(),
            r.errant.clone(),
            r.errant_saved.clone(),
            r.duration_ms().map(|d| d.to_string()),
            Some(format_time(started)),
            cell(if r.auto { "yes" } else { "no" }),
            r.error.clone(),
            r.ran_by.clone(),
        ]);
    }
    rs
}

pub const COLUMNS: &[(&str, Column)] = &[
    ("id", Column::Text),
    ("state", Column::Text),
    ("source", Column::Text),
    ("gtid", Column::Text),
    ("size_bytes", Column::Int),
    ("duration_ms", Column::Int),
    ("started", Column::Text),
    ("error", Column::Text),
    ("command_after", Column::Text),
    ("verified", Column::Text),
];

/// `SHOW BACKUPS` for these records.
pub fn show_backups(records: &[Record]) -> ResultSet {
    let mut rs = ResultSet::new(COLUMNS);
    for r in records {
        let started = std::time::UNIX_EPOCH + std::time::Duration::from_millis(r.started_unix_ms);
        rs.push(vec![
            cell(&r.id),
            cell(r.state.as_str()),
            cell(&r.source),
            r.gtid.clone(),
            r.size_bytes.map(|b| b.to_string()),
            r.duration_ms().map(|d| d.to_string()),
            Some(format_time(started)),
            r.error.clone(),
            r.command_after.clone(),
            r.verified.clone(),
        ]);
    }
    rs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, state: &str, started: u64, by: Option<&str>) -> RebuildRecord {
        RebuildRecord {
            id: id.into(),
            target: "127.0.0.1:3307".into(),
            state: state.into(),
            started_unix_ms: started,
            ran_by: by.map(str::to_string),
            ..RebuildRecord::default()
        }
    }

    /// SHOW REBUILDS on one instance: its own journal files, plus the
    /// records other instances copied to etcd; one left running by an
    /// instance that is gone is shown interrupted.
    #[tokio::test]
    async fn every_instance_lists_every_rebuild() {
        let store = crate::cluster::memory::MemStore::new();
        let cluster = crate::cluster::tests::instance(&store, "r1");
        let keys = cluster.keys().clone();
        let put = |by: &str, r: &RebuildRecord| {
            (
                keys.rebuild(by, &r.id),
                serde_json::to_vec(r).expect("json"),
            )
        };
        let mine = record("20261207-100000-3307", "succeeded", 100, None);
        let copy_of_mine = record("20261207-100000-3307", "running", 100, Some("r1"));
        let theirs = record("20261207-120000-3307", "succeeded", 300, Some("r0"));
        let left = record("20261207-110000-3307", "running", 200, Some("r2"));
        for (by, r) in [("r1", &copy_of_mine), ("r0", &theirs), ("r2", &left)] {
            let (k, v) = put(by, r);
            cluster.put(k, v).await.unwrap();
        }
        let listed = every_rebuild(&cluster, vec![mine]).await;
        let ids: Vec<(&str, &str, Option<&str>)> = listed
            .iter()
            .map(|r| (r.id.as_str(), r.state.as_str(), r.ran_by.as_deref()))
            .collect();
        assert_eq!(
            ids,
            [
                ("20261207-120000-3307", "succeeded", Some("r0")),
                ("20261207-110000-3307", "interrupted", Some("r2")),
                // this instance's file wins over its copy in etcd
                ("20261207-100000-3307", "succeeded", Some("r1")),
            ]
        );
        assert!(listed[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("(r2) is gone")));
        let rs = show_rebuilds(&listed);
        assert_eq!(rs.rows.len(), 3);
    }
}
