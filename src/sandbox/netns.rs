//! Problem: a virtual IP moving between sqlyard hosts (keepalived, VRRP)
//! can only be tested with several hosts, and a test machine is one. A
//! [`Lab`] makes hosts out of Linux network namespaces:
//! - a bridge in the caller's namespace, with an address of its own on a
//!   private /24 (the sandbox's servers and etcd listen there, see
//!   `SandboxOptions::bind_address`);
//! - one namespace per host, joined to the bridge by a veth pair, with its
//!   own address on that /24 (`eth0`) and its own loopback.
//!
//! Needs root and `ip` (iproute2). Dropping a lab deletes its namespaces and
//! bridge. Names carry the owner's pid (`sqy<pid>b`, `sqy<pid>n<i>`,
//! `sqy<pid>h<i>`), and a new lab first sweeps those of dead owners, so a
//! killed test leaves nothing behind for long.

use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::process::Command;

use super::error::SandboxError;

/// Prefix of every name a lab gives (namespaces, bridge, veth ends).
const PREFIX: &str = "sqy";

/// The /24s a lab may take: 10.250.N.0/24 for N in this range.
const SUBNETS: std::ops::Range<u16> = 16..240;

/// Hosts in network namespaces on one bridge.
#[derive(Debug)]
pub struct Lab {
    bridge: String,
    subnet: [u8; 3],
    namespaces: Vec<String>,
}

/// Runs `ip args...`; its stderr becomes the error.
fn ip(args: &[&str]) -> Result<String, SandboxError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|source| SandboxError::Spawn {
            program: "ip".into(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(SandboxError::Netns {
            command: format!("ip {}", args.join(" ")),
            error: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}

/// The owner pid in a lab name (`sqy<pid>b`, `sqy<pid>n3`, `sqy<pid>h3`).
fn owner_of(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let tail = &rest[digits.len()..];
    let kind_ok = tail == "b"
        || (tail.len() > 1
            && (tail.starts_with('n') || tail.starts_with('h'))
            && tail[1..].chars().all(|c| c.is_ascii_digit()));
    if digits.is_empty() || !kind_ok {
        return None;
    }
    digits.parse().ok()
}

fn owner_is_dead(name: &str) -> bool {
    owner_of(name).is_some_and(|pid| {
        pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    })
}

/// Deletes the namespaces and bridges of labs whose owner is gone.
fn sweep_stale() {
    if let Ok(list) = ip(&["netns", "list"]) {
        for line in list.lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if owner_is_dead(name) {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
    if let Ok(links) = ip(&["-o", "link", "show"]) {
        for line in links.lines() {
            // "7: sqy123b: <BROADCAST,...": the name, up to '@' or ':'
            let Some(name) = line.split(": ").nth(1) else {
                continue;
            };
            let name = name.split('@').next().unwrap_or(name);
            if name.ends_with('b') && owner_is_dead(name) {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

/// A 10.250.N.0/24 that no interface of this namespace uses yet.
fn free_subnet() -> Result<[u8; 3], SandboxError> {
    let used = ip(&["-o", "-4", "addr", "show"])?;
    let start = SUBNETS.start + (std::process::id() % 200) as u16;
    let span = SUBNETS.end - SUBNETS.start;
    for k in 0..span {
        let n = SUBNETS.start + (start - SUBNETS.start + k) % span;
        let Ok(n) = u8::try_from(n) else { continue };
        if !used.contains(&format!(" 10.250.{n}.")) {
            return Ok([10, 250, n]);
        }
    }
    Err(SandboxError::Netns {
        command: "pick a subnet".into(),
        error: "every 10.250.N.0/24 is in use".into(),
    })
}

impl Lab {
    /// Makes a bridge and `hosts` namespaces on it (root only).
    pub fn create(hosts: usize) -> Result<Lab, SandboxError> {
        sweep_stale();
        let pid = std::process::id();
        let subnet = free_subnet()?;
        let mut lab = Lab {
            bridge: format!("{PREFIX}{pid}b"),
            subnet,
            namespaces: Vec::new(),
        };
        // From here on, Drop removes whatever was made.
        ip(&["link", "add", &lab.bridge, "type", "bridge"])?;
        let bridge_addr = format!("{}/24", lab.bridge_address());
        ip(&["addr", "add", &bridge_addr, "dev", &lab.bridge])?;
        ip(&["link", "set", &lab.bridge, "up"])?;
        for i in 0..hosts {
            let ns = format!("{PREFIX}{pid}n{i}");
            let veth = format!("{PREFIX}{pid}h{i}");
            ip(&["netns", "add", &ns])?;
            lab.namespaces.push(ns.clone());
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["link", "set", &veth, "master", &lab.bridge, "up"])?;
            let addr = format!("{}/24", lab.address(i));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    /// The bridge's address (x.y.z.1): this namespace, seen from the hosts.
    pub fn bridge_address(&self) -> Ipv4Addr {
        self.on_subnet(1)
    }

    /// Host `i`'s own address (x.y.z.11 + i).
    pub fn address(&self, host: usize) -> Ipv4Addr {
        self.on_subnet(u8::try_from(11 + host).unwrap_or(u8::MAX))
    }

    /// x.y.z.`last` on the lab's /24 (e.g. a virtual IP).
    pub fn on_subnet(&self, last: u8) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, last)
    }

    /// Host `i`'s namespace name.
    pub fn namespace(&self, host: usize) -> &str {
        self.namespaces.get(host).map(String::as_str).unwrap_or("")
    }

    /// How many hosts the lab has.
    pub fn hosts(&self) -> usize {
        self.namespaces.len()
    }

    /// `program` to run inside host `i` (`ip netns exec`, which execs it:
    /// the child's pid is the program's).
    pub fn command(&self, host: usize, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", self.namespace(host)])
            .arg(program);
        cmd
    }

    /// Sets a sysctl inside host `i` (e.g. `net.ipv4.ip_nonlocal_bind`).
    pub fn sysctl(&self, host: usize, key: &str, value: &str) -> Result<(), SandboxError> {
        let setting = format!("{key}={value}");
        ip(&[
            "netns",
            "exec",
            self.namespace(host),
            "sysctl",
            "-q",
            "-w",
            &setting,
        ])
        .map(|_| ())
    }

    /// Whether host `i` holds `addr` on any interface right now.
    pub fn holds(&self, host: usize, addr: Ipv4Addr) -> Result<bool, SandboxError> {
        let out = ip(&["-n", self.namespace(host), "-o", "-4", "addr", "show"])?;
        let needle = format!(" {addr}/");
        Ok(out.contains(&needle))
    }

    /// The hosts holding `addr` right now.
    pub fn holders(&self, addr: Ipv4Addr) -> Result<Vec<usize>, SandboxError> {
        let mut held = Vec::new();
        for host in 0..self.hosts() {
            if self.holds(host, addr)? {
                held.push(host);
            }
        }
        Ok(held)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            if let Err(e) = ip(&["netns", "del", ns]) {
                tracing::warn!(namespace = %ns, error = %e, "cannot delete a lab namespace");
            }
        }
        // Deleting a namespace destroys its veth ends, and the peers with them.
        if let Err(e) = ip(&["link", "del", &self.bridge]) {
            tracing::warn!(bridge = %self.bridge, error = %e, "cannot delete a lab bridge");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lab_names_have_an_owner() {
        assert_eq!(owner_of("sqy123b"), Some(123));
        assert_eq!(owner_of("sqy123n0"), Some(123));
        assert_eq!(owner_of("sqy42h17"), Some(42));
        for other in [
            "sqyb", "sqy123", "sqy123x1", "sqy12n", "eth0", "sqy1b2", "docker0",
        ] {
            assert_eq!(owner_of(other), None, "{other}");
        }
    }

    #[test]
    fn a_living_owner_is_never_swept() {
        let me = std::process::id();
        assert!(!owner_is_dead(&format!("sqy{me}b")));
        assert!(!owner_is_dead("eth0"));
    }
}
