//! Tests that drive real external clients (the mariadb CLI, php, python)
//! need to run child processes that can never outlive the test, never hang
//! it, and whose output can be read while they still run. This module does
//! that on top of `sqlyard::sandbox::process::spawn_tied`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sqlyard::sandbox::process::spawn_tied;

/// What a finished child printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit (read in the Debug output of failures).
    #[allow(dead_code)]
    pub elapsed: Duration,
}

impl Output {
    /// Panics with everything printed unless the child exited with 0.
    pub fn assert_ok(&self, what: &str) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "{what} failed\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A running child with its stdout readable line by line.
pub struct Running {
    child: Option<Child>,
    pid: u32,
    started: Instant,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

fn pump<R: Read + Send + 'static>(
    from: R,
    into: Arc<Mutex<String>>,
    lines: Option<mpsc::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut r = BufReader::new(from);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).into_owned();
                    into.lock().unwrap().push_str(&line);
                    if let Some(tx) = &lines {
                        let _ = tx.send(line.trim_end_matches(['\r', '\n']).to_string());
                    }
                }
            }
        }
    })
}

impl Running {
    /// Spawns `cmd` (tied to this process, in its own process group) with
    /// piped stdin, stdout and stderr.
    pub fn spawn(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let program = format!("{:?}", cmd.get_program());
        let mut child = spawn_tied(cmd).unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            pump(child.stdout.take().unwrap(), stdout.clone(), Some(tx)),
            pump(child.stderr.take().unwrap(), stderr.clone(), None),
        ];
        Running {
            stdin: child.stdin.take(),
            child: Some(child),
            pid,
            started: Instant::now(),
            lines: rx,
            stdout,
            stderr,
            readers,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The first stdout line for which `f` returns Some, waiting at most `limit`.
    pub fn find_line<T>(&self, limit: Duration, mut f: impl FnMut(&str) -> Option<T>) -> Option<T> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(v) = f(&line) {
                return Some(v);
            }
        }
    }

    /// Writes to the child's stdin.
    pub fn write_stdin(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    /// What the child printed so far (stdout, stderr).
    pub fn printed(&self) -> (String, String) {
        (
            self.stdout.lock().unwrap().clone(),
            self.stderr.lock().unwrap().clone(),
        )
    }

    /// Whether the child has exited.
    pub fn exited(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    /// Waits for the child to exit; panics (after killing it) if it runs
    /// longer than `limit`.
    pub fn wait(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let mut child = self.child.take().expect("child");
        drop(self.stdin.take());
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() >= deadline {
                kill_group(self.pid);
                let _ = child.wait();
                let (out, err) = self.printed();
                panic!(
                    "child {} still running after {limit:?}; killed\n--- stdout:\n{out}\n--- stderr:\n{err}",
                    self.pid
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        // A grandchild could keep the pipes open: do not wait forever.
        kill_group(self.pid);
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let (stdout, stderr) = self.printed();
        Output {
            code: status.code(),
            stdout,
            stderr,
            elapsed,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(self.pid);
            let _ = c.wait();
        }
    }
}

/// SIGKILL to the process group led by `pid` (spawn_tied makes one per child).
fn kill_group(pid: u32) {
    if let Ok(p) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(-p, libc::SIGKILL);
        }
    }
}

/// Runs `cmd` to completion with no stdin; panics if it takes longer than `limit`.
pub fn run(cmd: Command, limit: Duration) -> Output {
    let mut r = Running::spawn(cmd);
    drop(r.stdin.take());
    r.wait(limit)
}

/// Runs `cmd` with `input` on its stdin (then closed); panics if it takes
/// longer than `limit`.
pub fn run_with_stdin(cmd: Command, input: &[u8], limit: Duration) -> Output {
    let mut r = Running::spawn(cmd);
    r.write_stdin(input);
    drop(r.stdin.take());
    r.wait(limit)
}

/// [`run_with_stdin`] on a blocking thread, for use inside async tests.
pub async fn run_with_stdin_async(cmd: Command, input: Vec<u8>, limit: Duration) -> Output {
    tokio::task::spawn_blocking(move || run_with_stdin(cmd, &input, limit))
        .await
        .unwrap()
}

/// [`run`] on a blocking thread, for use inside async tests.
pub async fn run_async(cmd: Command, limit: Duration) -> Output {
    tokio::task::spawn_blocking(move || run(cmd, limit))
        .await
        .unwrap()
}

/// A path under tests/clients/.
pub fn client_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
}

/// `mariadb` CLI as the app user on `port`, ignoring option files.
pub fn mariadb(port: u16) -> Command {
    mariadb_as(port, "app", "app_pw")
}

/// `mariadb` CLI as `user` on `port`, ignoring option files.
pub fn mariadb_as(port: u16, user: &str, password: &str) -> Command {
    let mut c = Command::new("mariadb");
    c.arg("--no-defaults")
        .arg("--protocol=TCP")
        .arg("-h127.0.0.1")
        .arg(format!("-P{port}"))
        .arg(format!("-u{user}"))
        .arg(format!("-p{password}"))
        .env("TERM", "dumb");
    c
}

/// Runs `sql` with the CLI `cmd` in batch mode (it must succeed within
/// `limit`); returns the header and the rows, split on tabs.
pub async fn batch(
    mut cmd: Command,
    sql: &str,
    limit: Duration,
) -> (Vec<String>, Vec<Vec<String>>) {
    cmd.args(["--batch", "--raw", "-e", sql]);
    let out = run_async(cmd, limit).await;
    out.assert_ok(&format!("mariadb -e {sql:?}"));
    let mut lines = out.stdout.lines();
    let header = lines
        .next()
        .unwrap_or_else(|| panic!("{sql}: no header in {:?}", out.stdout))
        .split('\t')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// Whether `program --version` (or the given probe args) runs.
pub fn have(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
