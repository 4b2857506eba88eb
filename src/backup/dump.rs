//! Problem: a logical dump must reach the disk compressed, hashed and
//! whole, without the password ever showing on a command line, and with
//! the GTID position that mariadb-dump reads inside its snapshot
//! (`--single-transaction --gtid --master-data=2` prints it as a comment).
//! [`run_dump`] drives the dump program (Debian's `mariadb-dump`) with an
//! option file for the login, streams its output through zstd into a
//! file while hashing it, and returns what it saw.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::BackupError;

/// The zstd level. Level 1 is the fastest of the ordinary levels, and on a
/// busy host the compression is most of what a backup costs the router's
/// own process (level 3 took 2.3x the CPU on a sysbench dump, and its
/// output was 11% larger). Still 2-5x smaller than plain SQL.
const LEVEL: i32 = 1;

/// Where the dump program is looked for, in order.
const PROGRAMS: [&str; 4] = [
    "/usr/bin/mariadb-dump",
    "/usr/local/bin/mariadb-dump",
    "/usr/bin/mysqldump",
    "/usr/local/bin/mysqldump",
];

/// The dump program: `configured`, or the first of [`PROGRAMS`] present.
pub fn find_program(configured: Option<&str>) -> Result<PathBuf, BackupError> {
    if let Some(p) = configured {
        return Ok(PathBuf::from(p));
    }
    PROGRAMS
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| BackupError::NoDumpProgram(PROGRAMS.join(", ")))
}

/// The login of a dump: written to an option file (mode 0600), never
/// passed on the command line.
#[derive(Clone)]
pub struct Login {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// TLS options for the client (`--ssl`, `--ssl-ca=...`).
    pub tls_args: Vec<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// An option file value: quoted, with `\` and `"` escaped.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for ch in value.chars() {
        if matches!(ch, '\\' | '"') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

impl Login {
    /// Writes the `[client]` option file at `path` (mode 0600).
    pub fn write_option_file(&self, path: &Path) -> Result<(), BackupError> {
        use std::os::unix::fs::OpenOptionsExt;
        let text = format!(
            "[client]\nhost={}\nport={}\nuser={}\npassword={}\nprotocol=TCP\n",
            quoted(&self.host),
            self.port,
            quoted(&self.user),
            quoted(&self.password)
        );
        let io = |source| BackupError::Io {
            action: "write",
            path: path.to_path_buf(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        f.write_all(text.as_bytes()).map_err(io)
    }
}

/// What one dump produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dumped {
    /// Compressed bytes written.
    pub bytes: u64,
    /// sha256 (hex) of the compressed file.
    pub sha256: String,
    /// Uncompressed bytes the program printed.
    pub raw_bytes: u64,
    /// `gtid_slave_pos` from the dump's `SET GLOBAL gtid_slave_pos='...'`.
    pub gtid: Option<String>,
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Finds `SET GLOBAL gtid_slave_pos='...'` in a stream read in chunks
/// (the pattern may straddle two chunks). The first one counts: the dump
/// prints its position in the header, and text further on (a routine's
/// body, say) may hold the same words. Once it is found the rest of the
/// stream is not looked at, which keeps a large dump's scan cheap.
#[derive(Default)]
struct GtidScan {
    tail: Vec<u8>,
    found: Option<String>,
}

const GTID_MARK: &[u8] = b"SET GLOBAL gtid_slave_pos='";
/// A GTID list is short; the window kept between chunks covers it.
const WINDOW: usize = 4096;

impl GtidScan {
    fn feed(&mut self, chunk: &[u8]) {
        if self.found.is_some() {
            return;
        }
        self.tail.extend_from_slice(chunk);
        if let Some(at) = memchr::memmem::find(&self.tail, GTID_MARK) {
            let start = at + GTID_MARK.len();
            match self.tail[start..].iter().position(|&b| b == b'\'') {
                Some(end) => {
                    let gtid = String::from_utf8_lossy(&self.tail[start..start + end]);
                    self.found = Some(gtid.into_owned());
                    self.tail = Vec::new();
                }
                // the closing quote is in the next chunk: keep the mark
                None => {
                    self.tail.drain(..at);
                }
            }
            return;
        }
        if self.tail.len() > WINDOW {
            let cut = self.tail.len() - WINDOW;
            self.tail.drain(..cut);
        }
    }
}

/// How much lower than the proxy a backup's work runs (`nice`).
const BACKGROUND_NICE: libc::c_int = 10;

/// Runs `work` on a thread of its own at a lower CPU priority (nice 10),
/// which the programs it starts inherit: a backup's dump and compression
/// yield the CPU to the sessions sqlyard serves on a busy host, and take
/// longer instead.
pub async fn in_background<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("sqlyard-backup".into())
        .spawn(move || {
            // SAFETY: plain system calls on the calling thread, no pointers.
            let lowered = unsafe {
                let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, tid, BACKGROUND_NICE)
            };
            if lowered != 0 {
                tracing::debug!("backup: could not lower the dump thread's priority");
            }
            let _ = tx.send(work());
        })
        .map_err(|e| format!("cannot start the dump thread: {e}"))?;
    rx.await
        .map_err(|_| "the dump thread ended abnormally".to_string())
}

/// How long to pause after reading `bytes` in `elapsed` to stay within
/// `rate` bytes per second; `None` when within it.
fn rate_wait(bytes: u64, rate: u64, elapsed: Duration) -> Option<Duration> {
    let due = Duration::from_secs_f64(bytes as f64 / rate.max(1) as f64);
    due.checked_sub(elapsed).filter(|w| !w.is_zero())
}

/// Runs `program --defaults-extra-file=<options> args...`, compresses its
/// output into `out` and returns what it wrote. With `into` (a `mariadb`
/// client's connection arguments, see `load::Loader`), the output is also
/// executed on that server as it is read: a dump streamed into a server
/// being rebuilt. Blocking: call it from [`in_background`]. On failure
/// `out` may be left; the caller removes its partial directory.
pub fn run_dump(
    program: &Path,
    options: &Path,
    args: &[String],
    out: &Path,
    max_rate: Option<u64>,
    into: Option<&[String]>,
) -> Result<Dumped, BackupError> {
    let name = program.display().to_string();
    let mut loader = into.map(super::load::Loader::spawn).transpose()?;
    let spawned = Command::new(program)
        .arg(format!("--defaults-extra-file={}", options.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(source) => {
            // the client reads an empty input and ends: waited for, not
            // left behind
            if let Some(loader) = loader {
                let _ = loader.finish("nothing");
            }
            return Err(BackupError::Io {
                action: "run",
                path: program.to_path_buf(),
                source,
            });
        }
    };
    let stderr = collect_stderr(&mut child);
    let written = copy_compressed(
        child.stdout.take(),
        out,
        max_rate,
        loader.as_mut().and_then(|l| l.input()),
    );
    let status = child.wait().map_err(|source| BackupError::Io {
        action: "wait for",
        path: program.to_path_buf(),
        source,
    })?;
    let stderr = stderr();
    // The server it streams into refused something: that is the cause,
    // the dump only saw its pipe close.
    if let Some(loader) = loader {
        loader.finish(&format!("{name} (streamed)"))?;
    }
    // A write that failed (a full disk) is the cause; the program only
    // saw its pipe close.
    let written = written?;
    if !status.success() {
        return Err(BackupError::Dump {
            program: name,
            status: status.to_string(),
            stderr: last_lines(&stderr, 5),
        });
    }
    Ok(written)
}

/// Reads `child`'s stderr on a thread (so a full pipe never blocks it);
/// the returned function waits for it and gives the text, trimmed.
pub fn collect_stderr(child: &mut std::process::Child) -> impl FnOnce() -> String {
    let reader = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = e.read_to_string(&mut text);
            text
        })
    });
    move || {
        reader
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

/// The last `n` lines of `text`, joined with " / ".
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

fn copy_compressed(
    stdout: Option<std::process::ChildStdout>,
    out: &Path,
    max_rate: Option<u64>,
    mut tee: Option<&mut std::process::ChildStdin>,
) -> Result<Dumped, BackupError> {
    let io = |source| BackupError::Io {
        action: "write",
        path: out.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(out).map_err(io)?;
    let hashing = Hashing {
        inner: std::io::BufWriter::new(file),
        hasher: Sha256::new(),
        bytes: 0,
    };
    let mut encoder = zstd::stream::write::Encoder::new(hashing, LEVEL).map_err(io)?;
    let mut scan = GtidScan::default();
    let mut raw = 0u64;
    let started = std::time::Instant::now();
    if let Some(mut stdout) = stdout {
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            };
            raw += n as u64;
            scan.feed(&buf[..n]);
            encoder.write_all(&buf[..n]).map_err(io)?;
            if let Some(tee) = tee.as_mut() {
                tee.write_all(&buf[..n]).map_err(|source| BackupError::Io {
                    action: "stream the dump into",
                    path: "the mariadb client".into(),
                    source,
                })?;
            }
            if let Some(wait) = max_rate.and_then(|r| rate_wait(raw, r, started.elapsed())) {
                // the program blocks on its full pipe, and the server on it
                std::thread::sleep(wait);
            }
        }
    }
    let mut hashing = encoder.finish().map_err(io)?;
    hashing.flush().map_err(io)?;
    let file = hashing.inner.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(Dumped {
        bytes: hashing.bytes,
        sha256: hex::encode(hashing.hasher.finalize()),
        raw_bytes: raw,
        gtid: scan.found,
    })
}

/// The program's version line (`mariadb-dump --version`).
pub fn program_version(program: &Path) -> String {
    Command::new(program)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| program.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gtid_is_found_across_chunk_boundaries() {
        let text =
            b"-- header\nINSERT INTO t VALUES (1);\n-- SET GLOBAL gtid_slave_pos='0-1-42,1-2-7';\n";
        for split in 0..text.len() {
            let mut scan = GtidScan::default();
            scan.feed(&text[..split]);
            scan.feed(&text[split..]);
            assert_eq!(scan.found.as_deref(), Some("0-1-42,1-2-7"), "split {split}");
        }
        let mut scan = GtidScan::default();
        scan.feed(b"no position here");
        assert_eq!(scan.found, None);
        // found after a long stretch without it
        let mut scan = GtidScan::default();
        scan.feed(&vec![b'x'; 10_000]);
        scan.feed(b"SET GLOBAL gtid_slave_pos='';");
        assert_eq!(scan.found.as_deref(), Some(""));
        // the first one counts: the header's, not a routine's further on
        let mut scan = GtidScan::default();
        scan.feed(b"-- SET GLOBAL gtid_slave_pos='0-1-5';\nCREATE TABLE t (a int);\n");
        scan.feed(b"CREATE PROCEDURE p() SET GLOBAL gtid_slave_pos='9-9-9';\n");
        assert_eq!(scan.found.as_deref(), Some("0-1-5"));
    }

    #[test]
    fn option_file_values_are_quoted_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let login = Login {
            host: "127.0.0.1".into(),
            port: 3306,
            user: "backup".into(),
            password: r#"p"a\ss"#.into(),
            tls_args: vec![],
        };
        let path = dir.path().join("client.cnf");
        login.write_option_file(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#"password="p\"a\\ss""#), "{text}");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!format!("{login:?}").contains("ss"));
    }

    /// An executable shell script `name` in `dir` that runs `body`: a
    /// stand-in for the dump program (no server involved). A child `sh`
    /// writes it: a file this process held open for writing could be
    /// inherited by a child another test thread forks meanwhile, and running
    /// it would fail with "Text file busy" (ETXTBSY) until that child execs.
    fn fake_program(dir: &Path, name: &str, body: &str) -> PathBuf {
        let path = dir.join(name);
        let status = Command::new("/bin/sh")
            .arg("-c")
            .arg(r#"printf '#!/bin/sh\n%s\n' "$2" > "$1" && chmod 755 "$1""#)
            .arg("sh")
            .arg(&path)
            .arg(body)
            .status()
            .unwrap();
        assert!(status.success(), "writing {}", path.display());
        path
    }

    #[test]
    fn a_dump_is_compressed_hashed_and_scanned() {
        let dir = tempfile::tempdir().unwrap();
        // the dump program's output format
        let script = fake_program(
            dir.path(),
            "fake-dump",
            "printf 'CREATE TABLE t (id INT);\\n-- SET GLOBAL gtid_slave_pos='\\''0-1-9'\\'';\\n'",
        );
        let out = dir.path().join("data.sql.zst");
        let d = run_dump(&script, &dir.path().join("none.cnf"), &[], &out, None, None).unwrap();
        assert_eq!(d.gtid.as_deref(), Some("0-1-9"));
        let (sha, bytes) = super::super::manifest::file_sum(&out).unwrap();
        assert_eq!((sha, bytes), (d.sha256.clone(), d.bytes));
        let plain = zstd::decode_all(std::fs::File::open(&out).unwrap()).unwrap();
        assert!(String::from_utf8(plain)
            .unwrap()
            .starts_with("CREATE TABLE t"));

        let failing = fake_program(
            dir.path(),
            "failing-dump",
            "echo 'Got error: 1044: Access denied' >&2\nexit 2",
        );
        let err = run_dump(
            &failing,
            &dir.path().join("none.cnf"),
            &[],
            &out,
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Access denied"), "{err}");
    }

    #[test]
    fn the_rate_limit_pauses_only_when_ahead() {
        let mib = 1 << 20;
        // 2 MiB read in 1 s at 1 MiB/s: 1 s ahead
        let w = rate_wait(2 * mib, mib, Duration::from_secs(1)).unwrap();
        assert_eq!(w.as_millis(), 1000);
        assert_eq!(rate_wait(mib, mib, Duration::from_secs(2)), None);
        assert_eq!(rate_wait(mib, mib, Duration::from_secs(1)), None);
    }

    #[test]
    fn a_rate_limited_dump_takes_its_time() {
        let dir = tempfile::tempdir().unwrap();
        // 1 MiB of output, read at 2 MiB per second: at least 0.5 s
        let script = fake_program(dir.path(), "fake-dump", "head -c 1048576 /dev/zero");
        let out = dir.path().join("data.sql.zst");
        let t0 = std::time::Instant::now();
        let d = run_dump(
            &script,
            &dir.path().join("none.cnf"),
            &[],
            &out,
            Some(2 << 20),
            None,
        )
        .unwrap();
        assert_eq!(d.raw_bytes, 1 << 20);
        assert!(
            t0.elapsed() >= Duration::from_millis(450),
            "{:?}",
            t0.elapsed()
        );
    }
}
