//! Tests and `sqlyard sandbox` need a router config that points at the
//! sandbox's servers on their (dynamic) ports but is otherwise identical to
//! `examples/sqlyard.toml`. This file produces it from the example, which is
//! embedded in the binary (so the two cannot drift).

use std::path::{Path, PathBuf};

use toml_edit::{value, ArrayOfTables, DocumentMut, Item, Table};

/// The ports of the router's three listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterPorts {
    pub listen: u16,
    pub admin: u16,
    pub metrics: u16,
}

/// Where a sandbox router keeps its failover journal, whether it fails
/// over automatically, and the certificates of a `--tls` sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSetup {
    pub journal: PathBuf,
    /// `[backup] dir` (with the sandbox's backup account).
    pub backups: Option<PathBuf>,
    pub automatic: bool,
    pub tls: Option<super::certs::TlsFiles>,
}

/// Rewrites listen addresses and the server list of `example`.
/// Returns `None` if `example` is not TOML with a `[router]` table.
fn rewrite(example: &str, servers: &[String], ports: RouterPorts) -> Option<String> {
    rewrite_with(example, servers, ports, None)
}

fn rewrite_with(
    example: &str,
    servers: &[String],
    ports: RouterPorts,
    failover: Option<&RouterSetup>,
) -> Option<String> {
    let mut doc: DocumentMut = example.parse().ok()?;
    if let Some(f) = failover {
        let table = doc
            .entry("failover")
            .or_insert(Item::Table(Table::new()))
            .as_table_mut()?;
        table["journal"] = value(f.journal.to_string_lossy().into_owned());
        if !f.automatic {
            table["enabled"] = value(false);
        }
        if let Some(tls) = &f.tls {
            let path = |p: &Path| value(p.to_string_lossy().into_owned());
            table["replication_ssl_ca"] = path(&tls.ca);
            let mut t = Table::new();
            t["cert"] = path(&tls.router_cert);
            t["key"] = path(&tls.router_key);
            t["client_ca"] = path(&tls.ca);
            doc["tls"] = Item::Table(t);
            let mut b = Table::new();
            b["mode"] = value("verify-ca");
            b["ca"] = path(&tls.ca);
            doc["backend_tls"] = Item::Table(b);
        }
        if let Some(dir) = &f.backups {
            let mut b = Table::new();
            b["dir"] = value(dir.to_string_lossy().into_owned());
            b["user"] = value(super::users::BACKUP_USER);
            b["password"] = value(super::users::BACKUP_PASSWORD);
            b["rebuild_user"] = value(super::users::REBUILD_USER);
            b["rebuild_password"] = value(super::users::REBUILD_PASSWORD);
            doc["backup"] = Item::Table(b);
        }
    }
    let router = doc.get_mut("router")?.as_table_mut()?;
    router["listen"] = value(format!("127.0.0.1:{}", ports.listen));
    router["admin_listen"] = value(format!("127.0.0.1:{}", ports.admin));
    router["metrics_listen"] = value(format!("127.0.0.1:{}", ports.metrics));
    let mut list = ArrayOfTables::new();
    for address in servers {
        let mut server = Table::new();
        server["address"] = value(address.as_str());
        list.push(server);
    }
    doc["servers"] = Item::ArrayOfTables(list);
    Some(doc.to_string())
}

/// The router config text for `servers` (in order) and `ports`.
pub fn render_router_config(servers: &[String], ports: RouterPorts) -> String {
    // The example is embedded in the binary, so this works wherever it runs.
    rewrite(crate::config::example_toml(), servers, ports).unwrap_or_default()
}

/// The router config text with the failover journal (and mode) set.
pub fn render_router_config_with(
    servers: &[String],
    ports: RouterPorts,
    failover: &RouterSetup,
) -> String {
    rewrite_with(
        crate::config::example_toml(),
        servers,
        ports,
        Some(failover),
    )
    .unwrap_or_default()
}

/// Writes the config (failover journal and mode set) to `path` (or to
/// `path/sqlyard.toml` if `path` is an existing directory) and returns the
/// file written.
pub fn write_router_config_with(
    path: &Path,
    servers: &[String],
    ports: RouterPorts,
    failover: &RouterSetup,
) -> std::io::Result<PathBuf> {
    let file = if path.is_dir() {
        path.join("sqlyard.toml")
    } else {
        path.to_path_buf()
    };
    std::fs::write(&file, render_router_config_with(servers, ports, failover))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_example_is_rewritten() {
        let servers = vec!["127.0.0.1:1".to_owned(), "127.0.0.1:2".to_owned()];
        let ports = RouterPorts {
            listen: 7001,
            admin: 7002,
            metrics: 7003,
        };
        let text = rewrite(crate::config::example_toml(), &servers, ports).unwrap();
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(parsed["router"]["listen"].as_str(), Some("127.0.0.1:7001"));
        assert_eq!(
            parsed["router"]["admin_listen"].as_str(),
            Some("127.0.0.1:7002")
        );
        assert_eq!(
            parsed["router"]["metrics_listen"].as_str(),
            Some("127.0.0.1:7003")
        );
        assert_eq!(parsed["router"]["admin_user"].as_str(), Some("admin"));
        assert_eq!(parsed["users"][0]["password"].as_str(), Some("app_pw"));
        assert_eq!(parsed["monitor"]["user"].as_str(), Some("router"));
        assert_eq!(
            parsed["monitor"]["replication_password"].as_str(),
            Some("repl_pw")
        );
        let list = parsed["servers"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[1]["address"].as_str(), Some("127.0.0.1:2"));
    }

    #[test]
    fn rendered_config_uses_given_servers_and_is_written() {
        let servers = vec!["127.0.0.1:5".to_owned()];
        let ports = RouterPorts {
            listen: 1,
            admin: 2,
            metrics: 3,
        };
        let dir = tempfile::tempdir().unwrap();
        let setup = RouterSetup {
            journal: dir.path().join("j.journal"),
            backups: Some(dir.path().join("backups")),
            automatic: false,
            tls: None,
        };
        let file = write_router_config_with(dir.path(), &servers, ports, &setup).unwrap();
        assert_eq!(file, dir.path().join("sqlyard.toml"));
        let parsed: toml::Value = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(parsed["servers"].as_array().unwrap().len(), 1);
        assert_eq!(parsed["router"]["listen"].as_str(), Some("127.0.0.1:1"));
        assert_eq!(parsed["failover"]["enabled"].as_bool(), Some(false));
        assert_eq!(
            parsed["failover"]["journal"].as_str(),
            Some(setup.journal.to_str().unwrap())
        );
        assert!(rewrite("not toml [", &servers, ports).is_none());
        assert!(rewrite("x = 1", &servers, ports).is_none());
    }
}
