//! Sandbox servers must never outlive the process that started them, even if
//! that process is killed, and "is it still alive?" must not be fooled by
//! zombies. This file holds the process plumbing: a process-wide spawner
//! thread, signals, and liveness read from `/proc/PID/stat`.
//!
//! Every mariadbd is spawned with `prctl(PR_SET_PDEATHSIG, SIGKILL)`, so the
//! kernel kills it when its parent dies. The kernel ties that signal to the
//! *thread* that forked the child, and tokio tests create and drop threads all
//! the time, so all spawning goes through one dedicated, never-ending std
//! thread that receives requests over a channel.
//!
//! mariadbd runs under the caller's own uid (`--user=root` when root): a uid
//! change inside mariadbd (`--user=mysql`) would clear the parent-death signal.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use super::error::SandboxError;

struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<io::Result<Child>>,
}

static SPAWNER: OnceLock<mpsc::Sender<SpawnRequest>> = OnceLock::new();

fn start_spawner() -> mpsc::Sender<SpawnRequest> {
    let (tx, rx) = mpsc::channel::<SpawnRequest>();
    let spawned = std::thread::Builder::new()
        .name("sqlyard-sandbox-spawner".into())
        .spawn(move || {
            // Lives as long as the process: the Sender sits in a static.
            while let Ok(SpawnRequest { mut command, reply }) = rx.recv() {
                tie_to_this_thread(&mut command);
                // If the requester vanished, the child is reaped by nobody, but
                // it still dies with this process thanks to PDEATHSIG.
                let _ = reply.send(command.spawn());
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the sandbox spawner thread");
    }
    tx
}

fn tie_to_this_thread(command: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    command.process_group(0);
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (prctl, getppid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// Spawns `command` from the process-wide spawner thread, with a parent-death
/// SIGKILL and in its own process group (so a terminal's Ctrl-C reaches only us).
pub fn spawn_tied(command: Command) -> Result<Child, SandboxError> {
    let program = std::path::PathBuf::from(command.get_program());
    let tx = SPAWNER.get_or_init(start_spawner);
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.send(SpawnRequest {
        command,
        reply: reply_tx,
    })
    .map_err(|_| SandboxError::SpawnerGone)?;
    match reply_rx.recv() {
        Ok(Ok(child)) => Ok(child),
        Ok(Err(source)) => Err(SandboxError::Spawn { program, source }),
        Err(_) => Err(SandboxError::SpawnerGone),
    }
}

/// Sends `signal` to `pid`.
pub fn send_signal(pid: u32, signal: libc::c_int) -> Result<(), SandboxError> {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return Err(SandboxError::Signal {
            pid,
            signal: signal_name(signal),
            source: io::Error::from_raw_os_error(libc::ESRCH),
        });
    };
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(raw, signal) } == 0 {
        Ok(())
    } else {
        Err(SandboxError::Signal {
            pid,
            signal: signal_name(signal),
            source: io::Error::last_os_error(),
        })
    }
}

fn signal_name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGCONT => "SIGCONT",
        _ => "signal",
    }
}

/// The fields of `/proc/PID/stat` after the `(comm)` field, which may itself
/// contain spaces and parentheses.
fn stat_fields_after_comm(stat: &str) -> Option<Vec<&str>> {
    let close = stat.rfind(')')?;
    Some(stat.get(close + 1..)?.split_whitespace().collect())
}

/// Parses the one-letter state (R, S, D, T, t, Z, X, ...) out of a stat line.
pub(crate) fn parse_state(stat: &str) -> Option<char> {
    stat_fields_after_comm(stat)?.first()?.chars().next()
}

/// Parses the start time (clock ticks since boot, field 22) out of a stat line.
pub(crate) fn parse_start_time(stat: &str) -> Option<u64> {
    // Fields after comm start with field 3 (state); field 22 is index 19.
    stat_fields_after_comm(stat)?.get(19)?.parse().ok()
}

fn read_stat(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// The process state letter of `pid`, or `None` if there is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    read_stat(pid).as_deref().and_then(parse_state)
}

/// The start time of `pid` in clock ticks since boot (tells a reused pid apart).
pub fn process_start_time(pid: u32) -> Option<u64> {
    read_stat(pid).as_deref().and_then(parse_start_time)
}

/// True if `pid` exists and is neither a zombie (Z) nor dead (X).
/// (`kill -0` succeeds on a zombie; this does not.)
pub fn pid_alive(pid: u32) -> bool {
    !matches!(process_state(pid), None | Some('Z') | Some('X'))
}

/// True if `pid` is stopped by a signal (state T).
pub fn pid_stopped(pid: u32) -> bool {
    matches!(process_state(pid), Some('T'))
}

/// The command line of `pid`, with NULs turned into spaces.
pub fn process_cmdline(pid: u32) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        String::from_utf8_lossy(&raw)
            .split('\0')
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// How a wait for a child process ended.
#[derive(Debug)]
pub(crate) enum ChildWait {
    /// It exited (and is now reaped).
    Exited,
    /// It cannot be waited for any more (already reaped elsewhere) and is dead.
    Gone,
    /// It is still running after the timeout.
    StillRunning,
}

/// Polls `child` until it exits (and is reaped) or `timeout` passes.
pub(crate) fn wait_child_blocking(child: &mut Child, timeout: Duration) -> ChildWait {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return ChildWait::Exited,
            Ok(None) => {}
            Err(_) if !pid_alive(child.id()) => return ChildWait::Gone,
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            return ChildWait::StillRunning;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls until `pid` is gone or a zombie, or `timeout` passes.
pub fn wait_pid_dead(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while pid_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let line =
            "1234 (my (odd) name) Z 1 1234 1234 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
        assert_eq!(parse_state(line), Some('Z'));
        assert_eq!(parse_start_time(line), Some(98765));
        assert_eq!(parse_state("garbage"), None);
        assert_eq!(parse_start_time("1 (x) S"), None);
    }

    #[test]
    fn own_process_is_alive_and_nonexistent_is_not() {
        assert!(pid_alive(std::process::id()));
        assert!(process_start_time(std::process::id()).is_some());
        // Larger than any pid_max.
        assert!(!pid_alive(u32::MAX - 1));
    }

    #[test]
    fn zombie_counts_as_dead_and_tied_child_is_spawned() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let mut child = spawn_tied(cmd).unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        send_signal(pid, libc::SIGSTOP).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !pid_stopped(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(pid_stopped(pid));
        send_signal(pid, libc::SIGKILL).unwrap();
        // Not reaped yet: a zombie, which kill -0 would still report.
        assert!(wait_pid_dead(pid, Duration::from_secs(5)));
        assert!(matches!(
            wait_child_blocking(&mut child, Duration::from_secs(5)),
            ChildWait::Exited
        ));
        assert_eq!(process_state(pid), None);
    }
}
