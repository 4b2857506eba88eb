//! Problem: every instance must agree on where each piece of shared state
//! lives in etcd. [`Keys`] names them all under `/sqlyard/<name>/`:
//!
//! | key | what | lifetime |
//! |---|---|---|
//! | `leader` | the leader's instance name | its lease |
//! | `routers/<instance>` | an instance's record, its view of the primary, the servers its backups drain | its lease |
//! | `primary` | the primary the leader last promoted | kept |
//! | `journal/<id>` | one failover record (JSON, zero-padded id) | kept |
//! | `step` | the leader's last action on a server | kept |
//! | `hold` | writes held on every instance during a switchover, until a time | kept |
//! | `replacing` | the primary a running failover replaces (every instance stops using it) | kept |
//! | `runtime/server/<address>` | `SET SERVER` states | kept |
//! | `runtime/autofailover` | `SET AUTOFAILOVER` | kept |
//! | `runtime/quarantine` | the quarantined servers (JSON list), written by the leader | kept |
//! | `runtime/added/<address>`, `runtime/removed/<address>` | `ADD`/`REMOVE SERVER` | kept |
//! | `requests/<id>`, `replies/<id>` | forwarded SWITCHOVER/FAILOVER/REBUILD SERVER | until answered |
//! | `rebuilds/<instance>/<id>` | a `REBUILD SERVER` record (JSON), rewritten after each step by the instance running it | kept |

/// The keys of one topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    root: String,
}

impl Keys {
    pub fn new(name: &str) -> Keys {
        Keys {
            root: format!("/sqlyard/{name}/"),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn leader(&self) -> String {
        format!("{}leader", self.root)
    }

    pub fn routers(&self) -> String {
        format!("{}routers/", self.root)
    }

    pub fn router(&self, instance: &str) -> String {
        format!("{}routers/{instance}", self.root)
    }

    pub fn primary(&self) -> String {
        format!("{}primary", self.root)
    }

    pub fn journal(&self) -> String {
        format!("{}journal/", self.root)
    }

    pub fn journal_entry(&self, id: u64) -> String {
        format!("{}journal/{id:020}", self.root)
    }

    pub fn replacing(&self) -> String {
        format!("{}replacing", self.root)
    }

    pub fn hold(&self) -> String {
        format!("{}hold", self.root)
    }

    pub fn step(&self) -> String {
        format!("{}step", self.root)
    }

    pub fn runtime(&self) -> String {
        format!("{}runtime/", self.root)
    }

    pub fn server_state(&self, address: &str) -> String {
        format!("{}runtime/server/{address}", self.root)
    }

    pub fn quarantine(&self) -> String {
        format!("{}runtime/quarantine", self.root)
    }

    pub fn autofailover(&self) -> String {
        format!("{}runtime/autofailover", self.root)
    }

    pub fn added(&self, address: &str) -> String {
        format!("{}runtime/added/{address}", self.root)
    }

    pub fn removed(&self, address: &str) -> String {
        format!("{}runtime/removed/{address}", self.root)
    }

    pub fn requests(&self) -> String {
        format!("{}requests/", self.root)
    }

    pub fn request(&self, id: &str) -> String {
        format!("{}requests/{id}", self.root)
    }

    pub fn replies(&self) -> String {
        format!("{}replies/", self.root)
    }

    pub fn reply(&self, id: &str) -> String {
        format!("{}replies/{id}", self.root)
    }

    pub fn rebuilds(&self) -> String {
        format!("{}rebuilds/", self.root)
    }

    pub fn rebuild(&self, instance: &str, id: &str) -> String {
        format!("{}rebuilds/{instance}/{id}", self.root)
    }

    /// The last part of `key` below `prefix` (`None` when it is not below).
    pub fn tail<'a>(key: &'a str, prefix: &str) -> Option<&'a str> {
        key.strip_prefix(prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_keys_sort_by_id() {
        let k = Keys::new("prod");
        assert_eq!(k.leader(), "/sqlyard/prod/leader");
        assert!(k.journal_entry(9) < k.journal_entry(10));
        assert!(k.journal_entry(10).starts_with(&k.journal()));
        assert_eq!(
            Keys::tail(
                &k.server_state("127.0.0.1:3306"),
                &format!("{}runtime/server/", k.root())
            ),
            Some("127.0.0.1:3306")
        );
    }
}
