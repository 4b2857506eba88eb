//! Problem: `read_only = ON` does not stop every writer. Accounts with
//! `READ ONLY ADMIN` (MariaDB) or SUPER ignore it, and clients that reach the
//! old primary without sqlyard keep their sessions. An old primary that
//! comes back after a failover must be fenced as hard as the operator asks,
//! and the operator must be able to see what was done.
//!
//! `failover.fence` lists the steps, applied in order to an old primary the
//! first time it answers after the failover (`read_only` again whenever it
//! answers):
//! - `read_only`: read-only, semi-sync source side off (always first);
//! - `kill_connections`: every client session is killed, except sqlyard's
//!   own (the monitor account) and replicas' binlog dump sessions (they
//!   cannot write);
//! - `shutdown`: `SHUTDOWN` through the monitor account;
//! - `command`: `failover.fence_command` runs on sqlyard's host with the old
//!   primary's `host:port` as its last argument (and in
//!   `SQLYARD_OLD_PRIMARY`), killed after `failover.fence_command_timeout`.
//!
//! Each step is logged and returned as a [`FenceRecord`] that the manager
//! journals with the failover it belongs to (`SHOW FAILOVERS` `fencing`).
//! A failed step does not stop the later ones: they are stronger.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::actions::{Actions, Fenced};
use super::error::ActionError;
use super::journal;
use super::status::FenceRecord;
use crate::config::{FailoverConfig, FenceStep};

/// Output of the command kept in the record.
const OUTPUT_KEPT: usize = 200;

/// What `failover.fence` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencePlan {
    pub steps: Vec<FenceStep>,
    pub command: Vec<String>,
    pub command_timeout: Duration,
}

impl FencePlan {
    pub fn from_config(c: &FailoverConfig) -> Self {
        FencePlan {
            steps: c.fence.clone(),
            command: c.fence_command.clone(),
            command_timeout: c.fence_command_timeout.get(),
        }
    }

    /// The steps after `read_only`.
    pub fn after_read_only(&self) -> impl Iterator<Item = FenceStep> + '_ {
        self.steps
            .iter()
            .copied()
            .filter(|s| *s != FenceStep::ReadOnly)
    }
}

fn record(step: FenceStep, address: &str, ok: bool, outcome: String) -> FenceRecord {
    if ok {
        tracing::info!(server = address, step = step.as_str(), %outcome, "old primary fenced");
    } else {
        tracing::error!(server = address, step = step.as_str(), %outcome, "fencing step failed");
    }
    FenceRecord {
        step,
        address: address.to_string(),
        at: journal::now(),
        ok,
        outcome,
    }
}

/// The `read_only` step: the fence itself and its record.
pub async fn read_only(
    actions: &Actions,
    address: &str,
) -> (Result<Fenced, ActionError>, FenceRecord) {
    let result = actions.fence(address).await;
    let rec = match &result {
        Ok(f) if f.was_writable => record(
            FenceStep::ReadOnly,
            address,
            true,
            "set (it was writable)".into(),
        ),
        Ok(_) => record(
            FenceStep::ReadOnly,
            address,
            true,
            "set (it was read-only already)".into(),
        ),
        Err(e) => record(FenceStep::ReadOnly, address, false, e.to_string()),
    };
    (result, rec)
}

/// Runs the steps after `read_only`, in order; one record each.
pub async fn after_read_only(
    plan: &FencePlan,
    actions: &Actions,
    address: &str,
) -> Vec<FenceRecord> {
    let mut out = Vec::new();
    for step in plan.after_read_only() {
        let rec = match step {
            FenceStep::ReadOnly => continue,
            FenceStep::KillConnections => match actions.kill_sessions(address).await {
                Ok(k) => {
                    let mut outcome = match k.killed.len() {
                        0 => "no session to kill".to_string(),
                        n => format!(
                            "killed {n} session{} (ids {})",
                            if n == 1 { "" } else { "s" },
                            join(k.killed.iter().map(u64::to_string))
                        ),
                    };
                    if !k.failed.is_empty() {
                        outcome.push_str(&format!(
                            "; could not kill {}",
                            join(k.failed.iter().map(|(id, e)| format!("{id} ({e})")))
                        ));
                    }
                    record(step, address, k.failed.is_empty(), outcome)
                }
                Err(e) => record(step, address, false, e.to_string()),
            },
            FenceStep::Shutdown => match actions.shutdown(address).await {
                Ok(()) => record(step, address, true, "SHUTDOWN accepted".into()),
                Err(e) => {
                    let hint = if e.server_code() == Some(1227) {
                        " (the monitor account needs the SHUTDOWN privilege)"
                    } else {
                        ""
                    };
                    record(step, address, false, format!("{e}{hint}"))
                }
            },
            FenceStep::Command => match actions.gate("fence_command", address).await {
                Ok(()) => {
                    let (ok, outcome) =
                        run_command(&plan.command, address, plan.command_timeout).await;
                    record(step, address, ok, outcome)
                }
                Err(e) => record(step, address, false, e.to_string()),
            },
        };
        out.push(rec);
    }
    out
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// Whether the records say the server was shut down.
pub fn shut_down(records: &[FenceRecord]) -> bool {
    records
        .iter()
        .any(|r| r.ok && r.step == FenceStep::Shutdown)
}

/// Runs `command` (program, arguments) with `address` appended; returns
/// whether it exited 0, and what happened.
pub async fn run_command(command: &[String], address: &str, timeout: Duration) -> (bool, String) {
    let Some((program, args)) = command.split_first() else {
        return (false, "failover.fence_command is not set".into());
    };
    let started = tokio::time::Instant::now();
    let spawned = tokio::process::Command::new(program)
        .args(args)
        .arg(address)
        .env("SQLYARD_OLD_PRIMARY", address)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return (false, format!("could not start {program}: {e}")),
    };
    let out = tokio::spawn(read_capped(child.stdout.take()));
    let err = tokio::spawn(read_capped(child.stderr.take()));
    // The exit decides, not the end of its output: a command that leaves a
    // background process holding its stdout has still finished.
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    let took = started.elapsed().as_millis();
    let status = match waited {
        Err(_) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            out.abort();
            err.abort();
            return (
                false,
                format!(
                    "{program} killed after failover.fence_command_timeout ({} ms)",
                    timeout.as_millis()
                ),
            );
        }
        Ok(Err(e)) => return (false, format!("{program}: {e}")),
        Ok(Ok(status)) => status,
    };
    let grace = Duration::from_millis(500);
    let text = match tokio::time::timeout(grace, err).await {
        Ok(Ok(bytes)) => last_line(&bytes),
        _ => None,
    };
    let text = match text {
        Some(t) => Some(t),
        None => match tokio::time::timeout(grace, out).await {
            Ok(Ok(bytes)) => last_line(&bytes),
            _ => None,
        },
    };
    let said = text.map(|t| format!(": {t}")).unwrap_or_default();
    match status.code() {
        Some(0) => (true, format!("exit status 0 in {took} ms{said}")),
        Some(code) => (false, format!("exit status {code} in {took} ms{said}")),
        None => (false, format!("ended by a signal ({status}){said}")),
    }
}

/// Reads a pipe to its end, keeping the last 64 KiB (the end says most).
async fn read_capped<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>) -> Vec<u8> {
    const KEEP: usize = 64 * 1024;
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                kept.extend_from_slice(&buf[..n]);
                if kept.len() > KEEP {
                    kept.drain(..kept.len() - KEEP);
                }
            }
        }
    }
}

/// The last non-empty line of a command's output, cut short.
fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?.trim();
    let mut cut: String = line.chars().take(OUTPUT_KEPT).collect();
    if cut.len() < line.len() {
        cut.push_str("...");
    }
    Some(cut)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), script.into(), "fence".into()]
    }

    #[tokio::test]
    async fn the_command_gets_the_address_and_its_status_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("args");
        let script = format!(
            "echo \"$1 $SQLYARD_OLD_PRIMARY\" > {}; echo moved the VIP; exit 0",
            file.display()
        );
        let (ok, outcome) =
            run_command(&sh(&script), "10.0.0.1:3306", Duration::from_secs(10)).await;
        assert!(ok, "{outcome}");
        assert!(outcome.starts_with("exit status 0"), "{outcome}");
        assert!(outcome.ends_with(": moved the VIP"), "{outcome}");
        let seen = std::fs::read_to_string(&file).unwrap();
        assert_eq!(seen.trim(), "10.0.0.1:3306 10.0.0.1:3306");

        let (ok, outcome) = run_command(
            &sh("echo no power controller >&2; exit 3"),
            "a:1",
            Duration::from_secs(10),
        )
        .await;
        assert!(!ok);
        assert!(outcome.starts_with("exit status 3"), "{outcome}");
        assert!(outcome.contains("no power controller"), "{outcome}");
    }

    #[tokio::test]
    async fn a_command_that_leaves_a_process_behind_has_still_finished() {
        let started = std::time::Instant::now();
        let (ok, outcome) = run_command(
            &sh("sleep 20 & echo started the fencer; exit 0"),
            "a:1",
            Duration::from_secs(10),
        )
        .await;
        assert!(ok, "{outcome}");
        assert!(started.elapsed() < Duration::from_secs(5), "{outcome}");
    }

    #[tokio::test]
    async fn a_hanging_command_is_killed_after_its_timeout() {
        let started = std::time::Instant::now();
        let (ok, outcome) = run_command(&sh("sleep 30"), "a:1", Duration::from_millis(300)).await;
        assert!(!ok);
        assert!(outcome.contains("killed after"), "{outcome}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_missing_program_is_a_failed_step_not_a_crash() {
        let (ok, outcome) = run_command(
            &["/nonexistent/fence-tool".to_string()],
            "a:1",
            Duration::from_secs(1),
        )
        .await;
        assert!(!ok);
        assert!(outcome.contains("could not start /nonexistent/fence-tool"));
        let (ok, outcome) = run_command(&[], "a:1", Duration::from_secs(1)).await;
        assert!(!ok, "{outcome}");
    }

    #[test]
    fn plans_and_records() {
        let plan = FencePlan::from_config(&FailoverConfig::default());
        assert_eq!(plan.steps[0], FenceStep::ReadOnly);
        assert_eq!(
            plan.after_read_only().collect::<Vec<_>>(),
            vec![FenceStep::KillConnections]
        );
        let r = record(FenceStep::Shutdown, "a:1", true, "SHUTDOWN accepted".into());
        assert!(shut_down(std::slice::from_ref(&r)));
        let failed = record(FenceStep::Shutdown, "a:1", false, "denied".into());
        assert!(!shut_down(std::slice::from_ref(&failed)));
        assert_eq!(failed.summary(), "shutdown: FAILED: denied");
        assert_eq!(last_line(b"one\ntwo\n\n").as_deref(), Some("two"));
        assert_eq!(last_line(b"  \n"), None);
        let long = "x".repeat(500);
        assert_eq!(last_line(long.as_bytes()).unwrap().len(), OUTPUT_KEPT + 3);
    }
}
