//! The sandbox runs the machine's own MariaDB packages, whose programs live in
//! different directories on different distributions. This file finds
//! `mariadbd` and `mariadb-install-db`, reads the server version, and decides
//! which OS account the servers run as (and so which account the unix-socket
//! root login maps to).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::error::SandboxError;

const SEARCH_DIRS: [&str; 4] = ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"];

/// The MariaDB programs the sandbox needs.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub mariadbd: PathBuf,
    pub install_db: PathBuf,
    /// `mariadbd --version` output, trimmed.
    pub version: String,
}

fn find(name: &'static str) -> Result<PathBuf, SandboxError> {
    let mut searched: Vec<PathBuf> = SEARCH_DIRS.iter().map(PathBuf::from).collect();
    if let Some(path) = std::env::var_os("PATH") {
        searched.extend(std::env::split_paths(&path));
    }
    searched
        .iter()
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or(SandboxError::BinaryNotFound { name, searched })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn locate() -> Result<Binaries, SandboxError> {
    let mariadbd = find("mariadbd")?;
    let install_db = find("mariadb-install-db")?;
    let output = Command::new(&mariadbd)
        .arg("--version")
        .output()
        .map_err(|source| SandboxError::Spawn {
            program: mariadbd.clone(),
            source,
        })?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok(Binaries {
        mariadbd,
        install_db,
        version,
    })
}

/// Finds the programs once per process.
pub fn binaries() -> Result<&'static Binaries, SandboxError> {
    static FOUND: OnceLock<Binaries> = OnceLock::new();
    if let Some(found) = FOUND.get() {
        return Ok(found);
    }
    let found = locate()?;
    Ok(FOUND.get_or_init(|| found))
}

/// Extracts "10.11.19-MariaDB-0+deb12u1" from the `--version` banner, made
/// safe for a directory name.
pub(crate) fn short_version(banner: &str) -> String {
    let word = banner
        .split_whitespace()
        .skip_while(|w| *w != "Ver")
        .nth(1)
        .unwrap_or("unknown");
    word.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// True when we are root: mariadbd then needs `--user=root`.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The MariaDB account that logs in over the unix socket without a password
/// (`unix_socket` authentication): `root` when we are root, otherwise the
/// OS user, which mariadb-install-db makes a second all-powerful account.
pub fn socket_user() -> String {
    if running_as_root() {
        return "root".to_owned();
    }
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "root".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_extracted_and_sanitised() {
        let banner =
            "/usr/sbin/mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64 (Debian 12)";
        assert_eq!(short_version(banner), "10.11.19-MariaDB-0+deb12u1");
        assert_eq!(short_version("weird"), "unknown");
        assert_eq!(short_version("x Ver 1/2 y"), "1_2");
    }
}
