//! Problem: a backup is only worth something once it is back in a server.
//! [`load`] feeds one of its zstd-compressed SQL files to the `mariadb`
//! command-line client, which understands everything the dump program
//! writes (delimiters, routines, `/*!...*/` comments), reading the file
//! and decompressing it on the way; its connection arguments say where
//! (the scratch server of `VERIFY BACKUP`, a server being rebuilt).

use std::path::Path;
use std::process::{Command, Stdio};

use super::error::BackupError;

const CLIENTS: [&str; 3] = [
    "/usr/bin/mariadb",
    "/usr/local/bin/mariadb",
    "/usr/bin/mysql",
];

/// Feeds `file` (zstd-compressed SQL) to the mariadb client run with
/// `connect` first (`--no-defaults` or `--defaults-extra-file=...` must
/// come first), then `--binary-mode`.
pub fn load(file: &Path, connect: &[String]) -> Result<(), BackupError> {
    let client = CLIENTS
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| BackupError::NoClient(CLIENTS.join(", ")))?;
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
    let mut child = Command::new(client)
        .args(connect)
        .arg("--binary-mode")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("load"))?;
    let stderr = super::dump::collect_stderr(&mut child);
    let copied = match child.stdin.take() {
        Some(mut stdin) => std::io::copy(&mut decoder, &mut stdin).map(|_| ()),
        None => Ok(()),
    };
    let status = child.wait().map_err(io("load"))?;
    let stderr = stderr();
    if !status.success() || copied.is_err() {
        let reason = match (&copied, stderr.lines().last()) {
            (_, Some(line)) => line.to_string(),
            (Err(e), None) => e.to_string(),
            (Ok(()), None) => String::new(),
        };
        return Err(BackupError::Dump {
            program: format!("{client} < {}", file.display()),
            status: status.to_string(),
            stderr: reason,
        });
    }
    Ok(())
}
