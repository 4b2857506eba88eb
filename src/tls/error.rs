//! Problem: a certificate or key that cannot be used must be reported
//! with the config key that names it, the file, and why — at startup and
//! on reload (where the running certificates are kept).

use std::path::PathBuf;

use crate::config::KeyPath;

/// Errors of the TLS layer.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file named by a config key cannot be used.
    #[error("{key}: {}: {reason}", path.display())]
    File {
        key: KeyPath,
        path: PathBuf,
        reason: String,
    },
    /// The certificates and key do not make a usable configuration (a key
    /// that does not match its certificate, say).
    #[error("{key}: {reason}")]
    Config { key: KeyPath, reason: String },
}

/// Reads the file that config key `section.name` names (`path`, as
/// written; relative to the config file) with `read`; a failure names
/// the key, the file and why.
pub(crate) fn read_file<T>(
    config: &crate::config::Config,
    section: &'static str,
    name: &'static str,
    path: &str,
    read: fn(&std::path::Path) -> Result<T, String>,
) -> Result<T, TlsError> {
    let path = config.file_path(path);
    read(&path).map_err(|reason| TlsError::File {
        key: KeyPath::key(section).then(name),
        path,
        reason,
    })
}

impl TlsError {
    /// The config key concerned.
    pub fn key(&self) -> &KeyPath {
        match self {
            TlsError::File { key, .. } | TlsError::Config { key, .. } => key,
        }
    }

    /// As a config error pointing at the key's line in `config_file`.
    pub fn into_config_error(self, config_file: &std::path::Path) -> crate::config::ConfigError {
        let key = self.key().clone();
        let reason = match &self {
            TlsError::File { path, reason, .. } => format!("{}: {reason}", path.display()),
            TlsError::Config { reason, .. } => reason.clone(),
        };
        crate::config::ConfigError::at_key(
            config_file,
            key,
            crate::config::Problem::Unusable(reason),
        )
    }
}
