//! Problem: operators must see what failover did (each phase and how long
//! it took, the candidate and why, the GTID positions), start a planned
//! switchover or force a failover, and switch automatic failover off for
//! maintenance, from the admin port, without scripts.
//!
//! `SHOW FAILOVERS`, `SHOW AUTOFAILOVER`, `SWITCHOVER [TO 'host:port']`,
//! `FAILOVER [TO 'host:port']`, `SET AUTOFAILOVER = ON | OFF`.

use std::time::{Duration, SystemTime};

use crate::admin::error::AdminError;
use crate::admin::parse::{Statement, Token};
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::control::Control;
use crate::failover::{FailoverHandle, FailoverRecord, FailoverStatus, Kind, Outcome, Phase};

use super::{ready, Pending};

pub const USAGE: &[&str] = &[
    "SHOW FAILOVERS",
    "SHOW AUTOFAILOVER",
    "SWITCHOVER [TO '<host:port>']",
    "FAILOVER [TO '<host:port>']",
    "SET AUTOFAILOVER = ON | OFF",
];

pub fn handle<'a>(control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    let handle = &control.ctx.failover;
    if stmt.is(&["SHOW", "FAILOVERS"]) {
        return ready(Ok(Reply::Rows(show_failovers(&handle.status()))));
    }
    if stmt.is(&["SHOW", "AUTOFAILOVER"]) {
        return ready(Ok(Reply::Rows(show_autofailover(
            &handle.status(),
            SystemTime::now(),
        ))));
    }
    if stmt.starts_with(&["SET", "AUTOFAILOVER"]) {
        return Some(Box::pin(async move {
            let on = set_auto(handle, stmt)?;
            let shared = control.share_autofailover(on).await;
            Ok(Reply::ok_info(format!(
                "automatic failover is now {} (runtime only; failover.enabled in the config file is unchanged){shared}",
                if on { "ON" } else { "OFF" }
            )))
        }));
    }
    for (word, kind, usage) in [
        ("SWITCHOVER", Kind::Switchover, USAGE[2]),
        ("FAILOVER", Kind::Manual, USAGE[3]),
    ] {
        if stmt.starts_with(&[word]) {
            let Some(to) = target(stmt) else {
                return ready(Err(AdminError::Usage {
                    command: word,
                    usage,
                }));
            };
            let to = to.map(str::to_string);
            return Some(Box::pin(async move {
                let rec = match kind {
                    Kind::Switchover => handle.switchover(to).await?,
                    _ => handle.failover(to).await?,
                };
                request_reply(&rec)
            }));
        }
    }
    None
}

/// `<VERB>` or `<VERB> TO 'addr'`: `Some(None)`, `Some(Some(addr))`, or
/// `None` when malformed.
fn target(stmt: &Statement) -> Option<Option<&str>> {
    match stmt.tokens.len() {
        1 => Some(None),
        3 if stmt.word(1) == Some("TO") => stmt.value(2).map(Some),
        _ => None,
    }
}

/// `SET AUTOFAILOVER [=] ON | OFF | 1 | 0 | TRUE | FALSE`; returns the
/// new mode.
fn set_auto(handle: &FailoverHandle, stmt: &Statement) -> Result<bool, AdminError> {
    let bad = || AdminError::Usage {
        command: "SET AUTOFAILOVER",
        usage: USAGE[4],
    };
    let value = match stmt.tokens.as_slice() {
        [_, _, Token::Punct('='), v] | [_, _, v] => v,
        _ => return Err(bad()),
    };
    let on = match value {
        Token::Word(w) | Token::Str(w) | Token::Number(w) => {
            match w.to_ascii_uppercase().as_str() {
                "ON" | "1" | "TRUE" => true,
                "OFF" | "0" | "FALSE" => false,
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    handle.set_auto(on);
    Ok(on)
}

/// The OK answer of a finished SWITCHOVER / FAILOVER, or the error when it
/// did not succeed.
fn request_reply(rec: &FailoverRecord) -> Result<Reply, AdminError> {
    if rec.outcome != Outcome::Succeeded {
        let detail = rec
            .error
            .clone()
            .filter(|e| !e.is_empty())
            .or_else(|| (!rec.reason.is_empty()).then(|| rec.reason.clone()))
            .unwrap_or_else(|| "no detail".into());
        return Err(AdminError::FailoverEnded {
            kind: rec.kind.as_str(),
            id: rec.id,
            outcome: rec.outcome.as_str(),
            detail,
        });
    }
    Ok(Reply::ok_info(summary(rec)))
}

/// "switchover 4 succeeded: new primary 127.0.0.1:23302 (write pause 310 ms)".
pub fn summary(rec: &FailoverRecord) -> String {
    let new_primary = rec.new_primary.as_deref().unwrap_or("unknown");
    let name = match rec.kind {
        Kind::Switchover => "switchover",
        Kind::Manual | Kind::Automatic => "failover",
    };
    let timing = match rec.kind {
        Kind::Switchover => format!("write pause {} ms", ms(write_pause(rec))),
        _ => match rec.detection {
            Some(d) => format!("detection {} ms, failover {} ms", ms(d), ms(rec.duration())),
            None => format!("took {} ms", ms(rec.duration())),
        },
    };
    format!(
        "{name} {} {}: new primary {new_primary} ({timing})",
        rec.id,
        rec.outcome.as_str()
    )
}

/// How long writes were held in a switchover: from the start of the first
/// phase that holds them (drain) to the end of the route phase; the whole
/// duration when those phases are missing.
pub fn write_pause(rec: &FailoverRecord) -> Duration {
    let start = rec
        .phase(Phase::Drain)
        .or_else(|| rec.phase(Phase::Demote))
        .map(|p| p.started_at);
    let end = rec
        .phase(Phase::Route)
        .map(|p| p.started_at + p.duration)
        .or(rec.finished_at);
    match (start, end) {
        (Some(s), Some(e)) => e.duration_since(s).unwrap_or_default(),
        _ => rec.duration(),
    }
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// UTC `YYYY-MM-DD HH:MM:SS.mmm`.
pub fn format_time_ms(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t)
        .to_string()
        .trim_end_matches('Z')
        .replace('T', " ")
}

/// "detect 1012ms, choose 2ms, catch_up 15ms".
pub fn format_phases(rec: &FailoverRecord) -> String {
    rec.phases
        .iter()
        .map(|p| format!("{} {}ms", p.phase.as_str(), ms(p.duration)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "addr=gtid; addr=gtid".
pub fn format_positions(rec: &FailoverRecord) -> String {
    rec.positions
        .iter()
        .map(|(addr, pos)| format!("{addr}={pos}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "127.0.0.1:23301 read_only: ok (was writable); kill_connections: ...".
pub fn format_fencing(rec: &FailoverRecord) -> String {
    rec.fencing
        .iter()
        .map(|f| format!("{} {}", f.address, f.summary()))
        .collect::<Vec<_>>()
        .join("; ")
}

pub const FAILOVERS: &[(&str, Column)] = &[
    ("id", Column::Int),
    ("kind", Column::Text),
    ("outcome", Column::Text),
    ("started_at", Column::Text),
    ("old_primary", Column::Text),
    ("new_primary", Column::Text),
    ("detection_ms", Column::Int),
    ("duration_ms", Column::Int),
    ("phases", Column::Text),
    ("reason", Column::Text),
    ("positions", Column::Text),
    ("trigger", Column::Text),
    ("error", Column::Text),
    ("fencing", Column::Text),
    ("ran_by", Column::Text),
];

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `SHOW FAILOVERS`: the history, oldest first, then the running one.
pub fn show_failovers(status: &FailoverStatus) -> ResultSet {
    let mut rs = ResultSet::new(FAILOVERS);
    let running = status.running.as_ref();
    let history = status
        .history
        .iter()
        .filter(|r| running.is_none_or(|run| run.id != r.id));
    for rec in history.chain(running) {
        rs.push(vec![
            cell(rec.id),
            cell(rec.kind.as_str()),
            cell(rec.outcome.as_str()),
            cell(format_time_ms(rec.started_at)),
            rec.old_primary.clone(),
            rec.new_primary.clone(),
            rec.detection.map(|d| ms(d).to_string()),
            cell(ms(rec.duration())),
            non_empty(&format_phases(rec)),
            non_empty(&rec.reason),
            non_empty(&format_positions(rec)),
            non_empty(&rec.trigger),
            rec.error.clone(),
            non_empty(&format_fencing(rec)),
            rec.ran_by.clone(),
        ]);
    }
    rs
}

pub const AUTOFAILOVER: &[(&str, Column)] = &[
    ("autofailover", Column::Text),
    ("watched_primary", Column::Text),
    ("detector", Column::Text),
    ("running", Column::Int),
    ("no_auto_until", Column::Text),
    ("unconfirmed_losses", Column::Int),
    ("heartbeat_tunings", Column::Int),
    ("alerts", Column::Text),
    ("quarantined", Column::Text),
    ("leader_only_losses", Column::Int),
    ("fence_ahead", Column::Text),
];

/// `SHOW AUTOFAILOVER`: one row, the failover manager's state now.
pub fn show_autofailover(status: &FailoverStatus, now: SystemTime) -> ResultSet {
    let mut rs = ResultSet::new(AUTOFAILOVER);
    let alerts = status
        .alerts
        .iter()
        .map(|a| match &a.address {
            Some(addr) => format!("{addr}: {}", a.message),
            None => a.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let quarantined = status
        .quarantined
        .iter()
        .map(|q| format!("{} (errant {})", q.address, q.errant))
        .collect::<Vec<_>>()
        .join("; ");
    rs.push(vec![
        cell(if status.auto { "ON" } else { "OFF" }),
        status.watched.clone(),
        cell(status.detector.as_str()),
        status.running.as_ref().map(|r| r.id.to_string()),
        status
            .no_auto_until
            .filter(|t| *t > now)
            .map(format_time_ms),
        cell(status.unconfirmed_losses),
        cell(status.heartbeat_tunings),
        non_empty(&alerts),
        non_empty(&quarantined),
        cell(status.leader_isolated_losses),
        status.fence_ahead.clone(),
    ]);
    rs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::{Alert, DetectorState, PhaseRecord, Quarantined};
    use std::time::UNIX_EPOCH;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_000_000_000 + ms)
    }

    fn phase(phase: Phase, start: u64, dur: u64) -> PhaseRecord {
        PhaseRecord {
            phase,
            started_at: at(start),
            duration: Duration::from_millis(dur),
            detail: String::new(),
        }
    }

    fn automatic() -> FailoverRecord {
        FailoverRecord {
            id: 3,
            kind: Kind::Automatic,
            trigger: "primary lost: connection refused, replicas confirmed".into(),
            started_at: at(123),
            finished_at: Some(at(123 + 1180)),
            outcome: Outcome::Succeeded,
            old_primary: Some("127.0.0.1:23301".into()),
            new_primary: Some("127.0.0.1:23302".into()),
            reason: "most advanced received position (0-1-57)".into(),
            detection: Some(Duration::from_millis(1012)),
            phases: vec![
                phase(Phase::Detect, 123, 1012),
                phase(Phase::Choose, 1135, 2),
                phase(Phase::CatchUp, 1137, 15),
                phase(Phase::Promote, 1152, 30),
                phase(Phase::Repoint, 1182, 120),
                phase(Phase::Route, 1302, 1),
            ],
            positions: vec![
                ("127.0.0.1:23302".into(), "0-1-57".into()),
                ("127.0.0.1:23303".into(), "0-1-55".into()),
            ],
            error: None,
            ran_by: None,
            fencing: vec![
                crate::failover::FenceRecord {
                    step: crate::config::FenceStep::ReadOnly,
                    address: "127.0.0.1:23301".into(),
                    at: at(5000),
                    ok: true,
                    outcome: "set (it was writable)".into(),
                },
                crate::failover::FenceRecord {
                    step: crate::config::FenceStep::Command,
                    address: "127.0.0.1:23301".into(),
                    at: at(5010),
                    ok: false,
                    outcome: "exit status 3".into(),
                },
            ],
        }
    }

    fn switchover() -> FailoverRecord {
        FailoverRecord {
            id: 4,
            kind: Kind::Switchover,
            trigger: "SWITCHOVER by admin".into(),
            started_at: at(10_000),
            finished_at: Some(at(10_400)),
            outcome: Outcome::Succeeded,
            old_primary: Some("127.0.0.1:23302".into()),
            new_primary: Some("127.0.0.1:23301".into()),
            reason: "named by the operator".into(),
            detection: None,
            phases: vec![
                phase(Phase::Drain, 10_050, 100),
                phase(Phase::Demote, 10_150, 10),
                phase(Phase::CatchUp, 10_160, 50),
                phase(Phase::Promote, 10_210, 30),
                phase(Phase::Repoint, 10_240, 110),
                phase(Phase::Route, 10_350, 10),
            ],
            positions: Vec::new(),
            error: None,
            fencing: Vec::new(),
            ran_by: None,
        }
    }

    fn column(rs: &ResultSet, row: usize, name: &str) -> Option<String> {
        rs.rows[row][rs.column(name).unwrap()].clone()
    }

    #[test]
    fn failovers_table_formats_each_field() {
        let mut running = switchover();
        running.id = 5;
        running.outcome = Outcome::Running;
        running.finished_at = None;
        let status = FailoverStatus {
            history: vec![automatic(), switchover(), running.clone()],
            running: Some(running),
            ..FailoverStatus::default()
        };
        let rs = show_failovers(&status);
        assert_eq!(rs.rows.len(), 3, "the running record is listed once");
        assert!(rs.rows.iter().all(|r| r.len() == FAILOVERS.len()));
        let c = |row, name| column(&rs, row, name);
        assert_eq!(c(0, "id").as_deref(), Some("3"));
        assert_eq!(c(0, "kind").as_deref(), Some("automatic"));
        assert_eq!(c(0, "outcome").as_deref(), Some("succeeded"));
        assert_eq!(
            c(0, "started_at").as_deref(),
            Some("2026-11-18 11:06:40.123")
        );
        assert_eq!(c(0, "detection_ms").as_deref(), Some("1012"));
        assert_eq!(c(0, "duration_ms").as_deref(), Some("1180"));
        assert_eq!(
            c(0, "phases").as_deref(),
            Some(
                "detect 1012ms, choose 2ms, catch_up 15ms, promote 30ms, repoint 120ms, route 1ms"
            )
        );
        assert_eq!(
            c(0, "positions").as_deref(),
            Some("127.0.0.1:23302=0-1-57; 127.0.0.1:23303=0-1-55")
        );
        assert_eq!(c(0, "new_primary").as_deref(), Some("127.0.0.1:23302"));
        assert_eq!(c(0, "error"), None);
        assert_eq!(
            c(0, "fencing").as_deref(),
            Some("127.0.0.1:23301 read_only: set (it was writable); 127.0.0.1:23301 command: FAILED: exit status 3")
        );
        assert_eq!(c(1, "fencing"), None);
        assert_eq!(c(1, "detection_ms"), None, "a switchover detects nothing");
        assert_eq!(c(1, "positions"), None);
        assert_eq!(c(2, "id").as_deref(), Some("5"));
        assert_eq!(c(2, "outcome").as_deref(), Some("running"));
    }

    #[test]
    fn empty_history_is_an_empty_table() {
        let rs = show_failovers(&FailoverStatus::default());
        assert!(rs.rows.is_empty());
        assert_eq!(rs.columns.len(), FAILOVERS.len());
    }

    #[test]
    fn summaries_name_the_new_primary_and_the_pause() {
        assert_eq!(
            summary(&switchover()),
            "switchover 4 succeeded: new primary 127.0.0.1:23301 (write pause 310 ms)"
        );
        assert_eq!(
            summary(&automatic()),
            "failover 3 succeeded: new primary 127.0.0.1:23302 (detection 1012 ms, failover 1180 ms)"
        );
        let mut manual = automatic();
        manual.kind = Kind::Manual;
        manual.detection = None;
        manual.phases.clear();
        assert_eq!(
            summary(&manual),
            "failover 3 succeeded: new primary 127.0.0.1:23302 (took 1180 ms)"
        );
        let mut no_phases = switchover();
        no_phases.phases.clear();
        assert_eq!(write_pause(&no_phases), Duration::from_millis(400));
    }

    #[test]
    fn an_unsuccessful_request_is_an_error() {
        let mut rec = switchover();
        rec.outcome = Outcome::Cancelled;
        rec.error = Some("2 transactions still open after 2 s".into());
        let e = request_reply(&rec).unwrap_err().to_string();
        assert_eq!(
            e,
            "switchover 4 cancelled: 2 transactions still open after 2 s"
        );
        rec.outcome = Outcome::Refused;
        rec.error = None;
        rec.reason = "no candidate: 127.0.0.1:23303 replication stopped".into();
        let e = request_reply(&rec).unwrap_err().to_string();
        assert!(e.contains("refused: no candidate"), "{e}");
        assert!(request_reply(&switchover()).is_ok());
    }

    #[test]
    fn set_autofailover_spellings() {
        let h = FailoverHandle::new(true);
        let run = |sql: &str| set_auto(&h, &Statement::parse(sql).unwrap());
        for (sql, on) in [
            ("SET AUTOFAILOVER = OFF", false),
            ("set autofailover=on", true),
            ("SET AUTOFAILOVER = 0", false),
            ("SET AUTOFAILOVER 1", true),
            ("SET AUTOFAILOVER = 'off'", false),
            ("SET AUTOFAILOVER = true", true),
        ] {
            let reply = run(sql).unwrap();
            assert_eq!(h.status().auto, on, "{sql}");
            assert_eq!(reply, on, "{sql}");
        }
        for bad in [
            "SET AUTOFAILOVER",
            "SET AUTOFAILOVER = maybe",
            "SET AUTOFAILOVER = 2",
            "SET AUTOFAILOVER = ON OFF",
        ] {
            assert!(
                matches!(run(bad), Err(AdminError::Usage { .. })),
                "{bad} accepted"
            );
        }
        assert!(h.status().auto, "unchanged by bad statements");
    }

    #[test]
    fn switchover_targets() {
        let t = |sql: &str| target(&Statement::parse(sql).unwrap()).map(|o| o.map(str::to_string));
        assert_eq!(t("SWITCHOVER"), Some(None));
        assert_eq!(
            t("switchover to '127.0.0.1:23302'"),
            Some(Some("127.0.0.1:23302".into()))
        );
        assert_eq!(t("FAILOVER TO `h:1`"), Some(Some("h:1".into())));
        assert_eq!(t("SWITCHOVER TO"), None);
        assert_eq!(t("SWITCHOVER FROM 'a:1'"), None);
        assert_eq!(t("SWITCHOVER TO h"), None, "the address must be quoted");
    }

    #[test]
    fn autofailover_row() {
        let now = at(0);
        let status = FailoverStatus {
            auto: false,
            watched: Some("127.0.0.1:23301".into()),
            detector: DetectorState::LostUnconfirmed,
            unconfirmed_losses: 2,
            no_auto_until: Some(at(60_000)),
            fence_ahead: Some("127.0.0.1:23302".into()),
            alerts: vec![Alert {
                address: Some("127.0.0.1:23303".into()),
                message: "replication stopped".into(),
                since: now,
            }],
            quarantined: vec![Quarantined {
                address: "127.0.0.1:23301".into(),
                server_id: Some(1),
                errant: "0-1-58".into(),
                since: now,
            }],
            ..FailoverStatus::default()
        };
        let rs = show_autofailover(&status, now);
        let c = |name| column(&rs, 0, name);
        assert_eq!(c("autofailover").as_deref(), Some("OFF"));
        assert_eq!(c("detector").as_deref(), Some("lost-unconfirmed"));
        assert_eq!(c("running"), None);
        assert_eq!(
            c("no_auto_until").as_deref(),
            Some("2026-11-18 11:07:40.000")
        );
        assert_eq!(c("unconfirmed_losses").as_deref(), Some("2"));
        assert_eq!(c("fence_ahead").as_deref(), Some("127.0.0.1:23302"));
        assert_eq!(
            c("alerts").as_deref(),
            Some("127.0.0.1:23303: replication stopped")
        );
        assert_eq!(
            c("quarantined").as_deref(),
            Some("127.0.0.1:23301 (errant 0-1-58)")
        );
        let rs = show_autofailover(&status, at(61_000));
        assert_eq!(column(&rs, 0, "no_auto_until"), None, "window over");
    }
}
