//! Problem: `ADD SERVER` and `REMOVE SERVER` change the topology list, and
//! the config file must stay the single source of truth: the change is
//! written back to the file, atomically (a reader never sees half a file)
//! and keeping the operator's comments and layout, before it is applied.
//!
//! The edit is made with `toml_edit`, so everything outside the server list
//! keeps its bytes. Both spellings of the list are handled: an array of
//! tables (`[[servers]]`) and an inline array (`servers = [{ address = ...
//! }]`). The new text is parsed and validated as a whole config before it
//! is written: an edit never leaves an invalid file behind. The write goes
//! to a temporary file in the same directory (same mode), is synced, and
//! renamed over the original.

use std::io::Write;
use std::path::{Path, PathBuf};

use toml_edit::{value, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use super::model::Config;
use super::validate::check_address;
use super::ConfigError;

/// Errors of operator actions (`control::ControlError`). Defined here,
/// where the config file edits fail, so that the config module imports
/// nothing above it.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The new config is invalid; the running one stays.
    #[error("config not applied, the running config stays: {0}")]
    Config(#[from] ConfigError),
    #[error("no config file to {0}: this router was started without one")]
    NoConfigFile(&'static str),
    #[error("no server '{0}' is configured")]
    UnknownServer(String),
    #[error("server '{0}' is configured already")]
    ServerExists(String),
    #[error("'{address}' is not a valid server address: {reason}")]
    BadAddress {
        address: String,
        reason: super::AddressError,
    },
    #[error(
        "'{0}' is the current primary; it cannot be removed (switch over first, or set it OFFLINE)"
    )]
    RemovePrimary(String),
    #[error("cannot write the config file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot edit the config file {path}: {reason}")]
    Edit { path: PathBuf, reason: String },
}

/// Appends a `[[servers]]` entry for `address` to the config file.
pub fn add_server(path: &Path, address: &str) -> Result<(), ControlError> {
    let text = read(path)?;
    let new = add_server_to_text(&text, path, address)?;
    write_atomically(path, &new)
}

/// Removes the `[[servers]]` entry for `address` from the config file.
pub fn remove_server(path: &Path, address: &str) -> Result<(), ControlError> {
    let text = read(path)?;
    let new = remove_server_from_text(&text, path, address)?;
    write_atomically(path, &new)
}

/// `text` with a server entry for `address` appended; `origin` names the
/// file in errors. The result is a valid config or an error.
pub fn add_server_to_text(
    text: &str,
    origin: &Path,
    address: &str,
) -> Result<String, ControlError> {
    check(address)?;
    let mut doc = parse(text, origin)?;
    if find(&doc, address, origin)?.is_some() {
        return Err(ControlError::ServerExists(address.to_string()));
    }
    match doc.get_mut("servers") {
        None => {
            let mut list = ArrayOfTables::new();
            list.push(server_table(address));
            doc.insert("servers", Item::ArrayOfTables(list));
        }
        Some(Item::ArrayOfTables(list)) => list.push(server_table(address)),
        Some(Item::Value(Value::Array(list))) => {
            let mut entry = InlineTable::new();
            entry.insert("address", address.into());
            // Follow the layout of the entries before it (one per line or not).
            let decor = list
                .iter()
                .last()
                .map(|last| last.decor().prefix().cloned());
            list.push(entry);
            if let (Some(Some(prefix)), Some(new)) = (decor, list.iter_mut().last()) {
                new.decor_mut().set_prefix(prefix);
            }
        }
        Some(_) => return Err(unsupported(origin)),
    }
    validated(doc.to_string(), origin)
}

/// `text` without the server entry for `address`.
pub fn remove_server_from_text(
    text: &str,
    origin: &Path,
    address: &str,
) -> Result<String, ControlError> {
    let mut doc = parse(text, origin)?;
    let Some(index) = find(&doc, address, origin)? else {
        return Err(ControlError::UnknownServer(address.to_string()));
    };
    match doc.get_mut("servers") {
        Some(Item::ArrayOfTables(list)) => list.remove(index),
        Some(Item::Value(Value::Array(list))) => {
            list.remove(index);
        }
        _ => return Err(unsupported(origin)),
    }
    validated(doc.to_string(), origin)
}

fn check(address: &str) -> Result<(), ControlError> {
    check_address(address)
        .map(|_| ())
        .map_err(|reason| ControlError::BadAddress {
            address: address.to_string(),
            reason,
        })
}

fn read(path: &Path) -> Result<String, ControlError> {
    std::fs::read_to_string(path).map_err(|source| {
        ControlError::Config(super::ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

fn parse(text: &str, origin: &Path) -> Result<DocumentMut, ControlError> {
    // Reports a syntax error with its line, the same way loading does.
    Config::from_toml_str(text, origin)?;
    text.parse::<DocumentMut>()
        .map_err(|e| edit_error(origin, e.message().to_string()))
}

fn validated(text: String, origin: &Path) -> Result<String, ControlError> {
    Config::from_toml_str(&text, origin)?;
    Ok(text)
}

fn server_table(address: &str) -> Table {
    let mut t = Table::new();
    t.insert("address", value(address));
    t
}

/// Whether two addresses name the same server (host case ignored).
fn same_address(a: &str, b: &str) -> bool {
    match (check_address(a), check_address(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The index of `address` in the server list, in either spelling.
fn find(doc: &DocumentMut, address: &str, origin: &Path) -> Result<Option<usize>, ControlError> {
    let matches = |a: Option<&str>| a.is_some_and(|a| same_address(a, address));
    match doc.get("servers") {
        None => Ok(None),
        Some(Item::ArrayOfTables(list)) => Ok(list
            .iter()
            .position(|t| matches(t.get("address").and_then(Item::as_str)))),
        Some(Item::Value(Value::Array(list))) => Ok(list.iter().position(|v| {
            matches(
                v.as_inline_table()
                    .and_then(|t| t.get("address"))
                    .and_then(Value::as_str),
            )
        })),
        Some(_) => Err(unsupported(origin)),
    }
}

fn unsupported(origin: &Path) -> ControlError {
    edit_error(
        origin,
        "`servers` is neither [[servers]] tables nor an array of inline tables; edit the file by hand"
            .to_string(),
    )
}

fn edit_error(path: &Path, reason: String) -> ControlError {
    ControlError::Edit {
        path: path.to_path_buf(),
        reason,
    }
}

/// Replaces the file at `path` (through a symlink, its target) with `text`:
/// temporary file in the same directory, same permissions, fsync, rename,
/// then fsync of the directory so the rename itself is durable.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), ControlError> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let io_err = |source| ControlError::Write {
        path: target.clone(),
        source,
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".to_string());
    let permissions = std::fs::metadata(&target).ok().map(|m| m.permissions());
    let tmp = dir.join(format!(
        ".{name}.sqlyard-{}-{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        if let Some(p) = permissions {
            file.set_permissions(p)?;
        }
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, &target)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"# sqlyard config, hand-written
[router]
admin_password = "admin_pw"   # keep me

[[users]]
name = "app"
password = "app_pw"

[monitor]
user = "router"
password = "router_pw"
replication_user = "repl"
replication_password = "repl_pw"

# the primary
[[servers]]
address = "127.0.0.1:3306"
weight = 2   # a heavy one

# a replica
[[servers]]
address = "127.0.0.1:3307"

[pool]
max_size = 10   # trailing table stays put
"#;

    fn origin() -> &'static Path {
        Path::new("t.toml")
    }

    fn addresses(text: &str) -> Vec<String> {
        let c = Config::from_toml_str(text, origin()).unwrap();
        c.servers.into_iter().map(|s| s.address).collect()
    }

    #[test]
    fn add_appends_a_table_and_keeps_comments() {
        let out = add_server_to_text(BASE, origin(), "127.0.0.1:3308").unwrap();
        assert_eq!(
            addresses(&out),
            ["127.0.0.1:3306", "127.0.0.1:3307", "127.0.0.1:3308"]
        );
        for kept in [
            "# sqlyard config, hand-written",
            "# keep me",
            "# the primary",
            "# a heavy one",
            "# a replica",
            "# trailing table stays put",
        ] {
            assert!(out.contains(kept), "{kept} lost in:\n{out}");
        }
        // The new entry follows the last one; every other byte is kept.
        let expected = BASE.replace(
            "[pool]",
            "[[servers]]\naddress = \"127.0.0.1:3308\"\n\n[pool]",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn remove_drops_only_that_table() {
        let out = remove_server_from_text(BASE, origin(), "127.0.0.1:3306").unwrap();
        assert_eq!(addresses(&out), ["127.0.0.1:3307"]);
        assert!(out.contains("# keep me"));
        assert!(out.contains("# a replica"));
        assert!(out.contains("# trailing table stays put"));
        assert!(!out.contains("weight = 2"));
        // Host names compare without case.
        let out = remove_server_from_text(BASE, origin(), "127.0.0.1:3307").unwrap();
        assert_eq!(addresses(&out), ["127.0.0.1:3306"]);
    }

    #[test]
    fn inline_array_form_is_edited_in_place() {
        let base = BASE.replace(
            "# the primary\n[[servers]]\naddress = \"127.0.0.1:3306\"\nweight = 2   # a heavy one\n\n# a replica\n[[servers]]\naddress = \"127.0.0.1:3307\"\n",
            "",
        );
        let base = base.replace(
            "[router]",
            "servers = [\n  { address = \"db1.local:3306\" },  # first\n  { address = \"db2.local:3306\" },\n]\n\n[router]",
        );
        assert_eq!(addresses(&base), ["db1.local:3306", "db2.local:3306"]);
        let out = add_server_to_text(&base, origin(), "db3.local:3306").unwrap();
        assert_eq!(
            addresses(&out),
            ["db1.local:3306", "db2.local:3306", "db3.local:3306"]
        );
        assert!(out.contains("# first"));
        let out = remove_server_from_text(&out, origin(), "DB1.local:3306").unwrap();
        assert_eq!(addresses(&out), ["db2.local:3306", "db3.local:3306"]);
        assert!(!out.contains("[[servers]]"));
    }

    #[test]
    fn refusals() {
        assert!(matches!(
            add_server_to_text(BASE, origin(), "no-port"),
            Err(ControlError::BadAddress { .. })
        ));
        assert!(matches!(
            add_server_to_text(BASE, origin(), "127.0.0.1:3307"),
            Err(ControlError::ServerExists(_))
        ));
        assert!(matches!(
            remove_server_from_text(BASE, origin(), "127.0.0.1:9999"),
            Err(ControlError::UnknownServer(_))
        ));
        // Removing the last server would leave an invalid config.
        let one = remove_server_from_text(BASE, origin(), "127.0.0.1:3306").unwrap();
        assert!(matches!(
            remove_server_from_text(&one, origin(), "127.0.0.1:3307"),
            Err(ControlError::Config(_))
        ));
        // An invalid file is not edited, and the error has its line.
        let broken = BASE.replace("max_size = 10", "max_size = ");
        match add_server_to_text(&broken, origin(), "127.0.0.1:3308") {
            Err(ControlError::Config(e)) => assert!(e.to_string().starts_with("t.toml:"), "{e}"),
            other => panic!("{other:?}"),
        }
        // A shape that is not a server list is refused with a reason.
        let odd = BASE.replace("[router]", "servers = 3\n[router]");
        assert!(add_server_to_text(&odd, origin(), "127.0.0.1:3308").is_err());
    }

    #[test]
    fn missing_list_gets_created() {
        // Only validity stops this from being written: no list means no
        // servers, which the config refuses, so the check is on the text.
        let base = "a = 1\n";
        let mut doc: DocumentMut = base.parse().unwrap();
        assert!(find(&doc, "h:1", origin()).unwrap().is_none());
        let mut list = ArrayOfTables::new();
        list.push(server_table("h:1"));
        doc.insert("servers", Item::ArrayOfTables(list));
        assert_eq!(find(&doc, "h:1", origin()).unwrap(), Some(0));
    }

    #[cfg(unix)]
    #[test]
    fn files_are_replaced_atomically_keeping_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlyard.toml");
        std::fs::write(&path, BASE).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        add_server(&path, "127.0.0.1:3308").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(addresses(&text).len(), 3);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        remove_server(&path, "127.0.0.1:3306").unwrap();
        assert_eq!(
            addresses(&std::fs::read_to_string(&path).unwrap()),
            ["127.0.0.1:3307", "127.0.0.1:3308"]
        );
        // No temporary files left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        // A refused edit leaves the file as it was.
        let before = std::fs::read(&path).unwrap();
        assert!(add_server(&path, "bad address:1").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // Through a symlink, the target is replaced and the link kept.
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        add_server(&link, "127.0.0.1:3309").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(addresses(&std::fs::read_to_string(&path).unwrap()).len(), 3);
    }
}
