//! Problem: a backup is only worth something once it is back in a server.
//! [`load`] feeds one of its zstd-compressed SQL files to the `mariadb`
//! command-line client, which understands everything the dump program
//! writes (delimiters, routines, `/*!...*/` comments), reading the file
//! and decompressing it on the way; its connection arguments say where
//! (the scratch server of `VERIFY BACKUP`, a server being rebuilt).
//! [`Loader`] is that client on its own, for a dump streamed straight into
//! a server (`dump::run_dump` writes to it as it reads).

use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use super::error::BackupError;

const CLIENTS: [&str; 3] = [
    "/usr/bin/mariadb",
    "/usr/local/bin/mariadb",
    "/usr/bin/mysql",
];

/// A `mariadb` client run with `connect` first (`--no-defaults` or
/// `--defaults-extra-file=...` must come first), then `--binary-mode`,
/// executing what is written to [`Loader::input`].
pub struct Loader {
    client: &'static str,
    child: Child,
    input: Option<ChildStdin>,
    stderr: Box<dyn FnOnce() -> String + Send>,
}

impl Loader {
    pub fn spawn(connect: &[String]) -> Result<Loader, BackupError> {
        let client = CLIENTS
            .iter()
            .copied()
            .find(|p| Path::new(p).exists())
            .ok_or_else(|| BackupError::NoClient(CLIENTS.join(", ")))?;
        let mut child = Command::new(client)
            .args(connect)
            .arg("--binary-mode")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BackupError::Io {
                action: "run",
                path: client.into(),
                source,
            })?;
        let stderr = Box::new(super::dump::collect_stderr(&mut child));
        Ok(Loader {
            client,
            input: child.stdin.take(),
            child,
            stderr,
        })
    }

    /// Where the SQL goes.
    pub fn input(&mut self) -> Option<&mut ChildStdin> {
        self.input.as_mut()
    }

    /// Ends the input and waits for the client: an error unless it ran
    /// everything. `what` names the input in the error.
    pub fn finish(mut self, what: &str) -> Result<(), BackupError> {
        drop(self.input.take());
        let status = self.child.wait().map_err(|source| BackupError::Io {
            action: "wait for",
            path: self.client.into(),
            source,
        })?;
        let stderr = (self.stderr)();
        if !status.success() {
            return Err(BackupError::Dump {
                program: format!("{} < {what}", self.client),
                status: status.to_string(),
                stderr: stderr.lines().last().unwrap_or_default().to_string(),
            });
        }
        Ok(())
    }
}

/// Feeds `file` (zstd-compressed SQL) to a [`Loader`] run with `connect`.
pub fn load(file: &Path, connect: &[String]) -> Result<(), BackupError> {
    let io = |action: &'static str| {
        let path = file.to_path_buf();
        move |source| BackupError::Io {
            action,
            path,
            source,
        }
    };
    let input = std::fs::File::open(file).map_err(io("read"))?;
    let mut decoder = zstd::stream::read::Decoder::new(input).map_err(io("decompress"))?;
    let mut loader = Loader::spawn(connect)?;
    let copied = match loader.input() {
        Some(stdin) => std::io::copy(&mut decoder, stdin).map(|_| ()),
        None => Ok(()),
    };
    // the client's own error first: a failed copy is its consequence
    loader.finish(&file.display().to_string())?;
    copied.map_err(io("load"))
}
