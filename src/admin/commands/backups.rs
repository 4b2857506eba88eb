//! Problem: operators must be able to take a backup now, from the server
//! they choose, and see every backup with its state, source, GTID
//! position, size, duration and error, from any admin client.
//! `BACKUP [FROM '<host:port>']` starts one in the background and answers
//! with its id; `SHOW BACKUPS` lists them (see `crate::backup`).

use crate::admin::error::AdminError;
use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::backup::{Record, Start};
use crate::control::Control;

use super::client_queries::format_time;
use super::{ready, Pending};

pub const USAGE: &[&str] = &[
    "BACKUP [FROM '<host:port>']",
    "SHOW BACKUPS",
    "VERIFY BACKUP '<id>'",
];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
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
