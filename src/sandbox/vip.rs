//! Problem: the virtual-IP example files (`examples/keepalived/`) are what
//! users copy, so they must be what the tests run, or they drift. This file
//! renders them for a host of a [`Lab`](super::netns::Lab): the examples are
//! embedded in the binary, and only their sample addresses and names are
//! replaced (each must be found exactly where expected, or rendering fails).

use std::net::Ipv4Addr;

use toml_edit::{value, Array, DocumentMut, Item};

use super::error::SandboxError;

/// `examples/keepalived/keepalived.conf` (host A's).
pub const KEEPALIVED_EXAMPLE: &str = include_str!("../../examples/keepalived/keepalived.conf");
/// `examples/keepalived/sqlyard-vip.toml` (what differs on a VIP host).
pub const SQLYARD_VIP_EXAMPLE: &str = include_str!("../../examples/keepalived/sqlyard-vip.toml");

/// The example's own sample values.
const SAMPLE_OWN: &str = "192.0.2.11";
const SAMPLE_PEER: &str = "192.0.2.12";
const SAMPLE_VIP: &str = "192.0.2.100";

/// One sqlyard host behind the virtual IP.
#[derive(Debug, Clone)]
pub struct VipHost {
    /// keepalived's `router_id` and sqlyard's `[cluster] instance`.
    pub name: String,
    /// The host's own address.
    pub own: Ipv4Addr,
    /// The other sqlyard hosts.
    pub peers: Vec<Ipv4Addr>,
    /// The virtual IP (a /24 on `eth0`).
    pub vip: Ipv4Addr,
    /// etcd's client URLs.
    pub etcd_endpoints: Vec<String>,
    /// `[cluster] name`.
    pub cluster: String,
}

/// Replaces the one occurrence of `needle` in `text`.
fn replace_once(
    file: &'static str,
    text: &str,
    needle: &str,
    with: &str,
) -> Result<String, SandboxError> {
    if text.matches(needle).count() != 1 {
        return Err(SandboxError::ExampleChanged {
            file,
            needle: needle.to_owned(),
        });
    }
    Ok(text.replacen(needle, with, 1))
}

/// keepalived.conf for `host`, from the example.
pub fn keepalived_conf(host: &VipHost) -> Result<String, SandboxError> {
    const FILE: &str = "keepalived/keepalived.conf";
    let mut text = KEEPALIVED_EXAMPLE.to_owned();
    text = replace_once(
        FILE,
        &text,
        "router_id sqlyard_a",
        &format!("router_id {}", host.name),
    )?;
    text = replace_once(
        FILE,
        &text,
        &format!("unicast_src_ip {SAMPLE_OWN}"),
        &format!("unicast_src_ip {}", host.own),
    )?;
    let peers: String = host
        .peers
        .iter()
        .map(|p| format!("        {p}\n"))
        .collect();
    text = replace_once(FILE, &text, &format!("        {SAMPLE_PEER}\n"), &peers)?;
    text = replace_once(
        FILE,
        &text,
        &format!("{SAMPLE_VIP}/24"),
        &format!("{}/24", host.vip),
    )?;
    Ok(text)
}

/// `config` (a whole sqlyard.toml) with the example's `[router]` listeners
/// and `[cluster]` for `host`.
pub fn sqlyard_vip_config(config: &str, host: &VipHost) -> Result<String, SandboxError> {
    const FILE: &str = "keepalived/sqlyard-vip.toml";
    let changed = |needle: &str| SandboxError::ExampleChanged {
        file: FILE,
        needle: needle.to_owned(),
    };
    let overlay: DocumentMut = SQLYARD_VIP_EXAMPLE.parse().map_err(|_| changed("TOML"))?;
    let mut doc: DocumentMut = config.parse().map_err(|_| changed("a config to add to"))?;
    let own = host.own.to_string();
    let vip = host.vip.to_string();
    let router = overlay
        .get("router")
        .and_then(Item::as_table)
        .ok_or_else(|| changed("[router]"))?;
    for key in ["listen", "admin_listen", "metrics_listen"] {
        let sample = router
            .get(key)
            .and_then(Item::as_str)
            .ok_or_else(|| changed(key))?;
        let text = sample.replace(SAMPLE_VIP, &vip).replace(SAMPLE_OWN, &own);
        doc["router"][key] = value(text);
    }
    let cluster = overlay
        .get("cluster")
        .and_then(Item::as_table)
        .ok_or_else(|| changed("[cluster]"))?;
    let mut table = cluster.clone();
    let mut endpoints = Array::new();
    for e in &host.etcd_endpoints {
        endpoints.push(e.as_str());
    }
    table["etcd_endpoints"] = value(endpoints);
    table["name"] = value(host.cluster.as_str());
    table["instance"] = value(host.name.as_str());
    doc["cluster"] = Item::Table(table);
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The port of the example's `metrics_listen` (keepalived's check URL
    /// must name the same one).
    fn example_metrics_port() -> Option<u16> {
        let overlay: DocumentMut = SQLYARD_VIP_EXAMPLE.parse().ok()?;
        let listen = overlay.get("router")?.get("metrics_listen")?.as_str()?;
        listen.rsplit(':').next()?.parse().ok()
    }

    fn host() -> VipHost {
        VipHost {
            name: "b".into(),
            own: Ipv4Addr::new(10, 250, 9, 12),
            peers: vec![Ipv4Addr::new(10, 250, 9, 11), Ipv4Addr::new(10, 250, 9, 13)],
            vip: Ipv4Addr::new(10, 250, 9, 100),
            etcd_endpoints: vec!["http://10.250.9.1:2379".into()],
            cluster: "vip".into(),
        }
    }

    #[test]
    fn keepalived_conf_keeps_the_example_but_its_addresses() {
        let text = keepalived_conf(&host()).unwrap();
        let active: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect();
        // no sample address left where keepalived reads (comments keep theirs)
        assert!(!active.contains("192.0.2."), "{active}");
        assert!(text.contains("unicast_src_ip 10.250.9.12"));
        assert!(text.contains("        10.250.9.11\n        10.250.9.13\n"));
        assert!(text.contains("10.250.9.100/24 dev eth0"));
        assert!(text.contains("router_id b"));
        // the check is /healthz on the example's metrics port, never /readyz
        let port = example_metrics_port().unwrap();
        assert!(text.contains(&format!("http://127.0.0.1:{port}/healthz")));
        assert!(!active.contains("readyz"));
        assert!(active.contains("nopreempt"));
    }

    #[test]
    fn the_sqlyard_overlay_listens_on_the_vip_and_joins_the_cluster() {
        let base = crate::config::example_toml();
        let text = sqlyard_vip_config(base, &host()).unwrap();
        let doc: DocumentMut = text.parse().unwrap();
        assert_eq!(doc["router"]["listen"].as_str(), Some("10.250.9.100:6033"));
        assert_eq!(
            doc["router"]["admin_listen"].as_str(),
            Some("10.250.9.12:6032")
        );
        assert_eq!(
            doc["router"]["metrics_listen"].as_str(),
            Some("127.0.0.1:9033")
        );
        assert_eq!(doc["cluster"]["instance"].as_str(), Some("b"));
        assert_eq!(doc["cluster"]["name"].as_str(), Some("vip"));
        // the rest of the config is untouched
        assert!(doc.get("users").is_some());
        assert!(!text.contains("192.0.2."));
    }
}
