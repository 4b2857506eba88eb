//! Problem: pointing a server at a source that already replicates from it,
//! directly or through other servers, builds a replication loop: no server
//! is writable any more, every write fails, and each server waits for the
//! others forever. A journal that describes an old cluster, an operator who
//! moved the primary by hand, or a stale snapshot can all ask for exactly
//! that. So every path that points a server somewhere (rejoin, repoint,
//! failover, switchover, `FAILOVER TO`) goes through [`find_cycle`] first, on
//! the live servers: it walks the chain of sources upwards from the new
//! source and refuses if the chain reaches the server being pointed.
//!
//! The walk reads each hop's sources as that server reports them
//! (`SHOW ALL SLAVES STATUS`), over the [`Sources`] trait, so the logic is
//! tested here without servers. The new source itself must be readable
//! (pointing a server at a source that cannot be read is pointless, and
//! nothing could be checked); a hop further up that cannot be read ends
//! that branch. The walk is bounded by [`MAX_HOPS`].

use std::collections::{HashSet, VecDeque};
use std::future::Future;

use crate::router::replicas::same_address;

/// Longest chain of sources followed.
pub const MAX_HOPS: usize = 16;

/// One source a server replicates from, as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `Master_Host:Master_Port` as configured on the replica.
    pub address: String,
    /// `Master_Server_Id`, once its receiver connected.
    pub server_id: Option<u32>,
}

/// What one server reports about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub server_id: Option<u32>,
    pub sources: Vec<Upstream>,
}

/// Reads a server's own identity and sources; why not, when it cannot be
/// reached or read.
pub trait Sources {
    fn hop(&self, address: &str) -> impl Future<Output = Result<Hop, String>> + Send;
}

/// The server about to be pointed somewhere.
#[derive(Debug, Clone, Copy)]
pub struct Pointed<'a> {
    pub address: &'a str,
    pub server_id: Option<u32>,
}

impl Pointed<'_> {
    fn is(&self, address: &str, server_id: Option<u32>) -> bool {
        match (self.server_id, server_id) {
            (Some(a), Some(b)) => a == b,
            _ => same_address(self.address, address),
        }
    }
}

/// If `source` replicates from `pointed`, directly or through others: the
/// chain from `source` up to `pointed` (both included). `Ok(None)` when no
/// such chain is known; an error when `source` itself cannot be read.
pub async fn find_cycle<S: Sources + Sync>(
    sources: &S,
    pointed: Pointed<'_>,
    source: &str,
) -> Result<Option<Vec<String>>, String> {
    // (address, server_id if known from the replica's side, path so far)
    let mut queue: VecDeque<(String, Option<u32>, Vec<String>)> = VecDeque::new();
    let mut seen: HashSet<String> = HashSet::new();
    queue.push_back((source.to_string(), None, vec![source.to_string()]));
    while let Some((address, known_id, path)) = queue.pop_front() {
        if pointed.is(&address, known_id) {
            return Ok(Some(path));
        }
        if path.len() > MAX_HOPS || !seen.insert(address.clone()) {
            continue;
        }
        let hop = match sources.hop(&address).await {
            Ok(hop) => hop,
            Err(e) if path.len() == 1 => return Err(e),
            Err(_) => continue,
        };
        if hop.server_id.is_some() && pointed.is(&address, hop.server_id) {
            return Ok(Some(path));
        }
        for up in hop.sources {
            let mut next = path.clone();
            next.push(up.address.clone());
            queue.push_back((up.address, up.server_id, next));
        }
    }
    Ok(None)
}

/// "127.0.0.1:3 -> 127.0.0.1:2 -> 127.0.0.1:1" (each replicates from the next).
pub fn describe(path: &[String]) -> String {
    path.join(" replicates from ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A server's sources as (address, server_id).
    type Ups = Vec<(&'static str, Option<u32>)>;

    /// address -> (server_id, sources).
    struct Fake(HashMap<&'static str, (u32, Ups)>);

    impl Sources for Fake {
        async fn hop(&self, address: &str) -> Result<Hop, String> {
            self.0
                .get(address)
                .ok_or(format!("{address} unreachable"))
                .map(|(id, ups)| Hop {
                    server_id: Some(*id),
                    sources: ups
                        .iter()
                        .map(|(a, i)| Upstream {
                            address: a.to_string(),
                            server_id: *i,
                        })
                        .collect(),
                })
        }
    }

    fn pointed(address: &str, id: u32) -> Pointed<'_> {
        Pointed {
            address,
            server_id: Some(id),
        }
    }

    #[tokio::test]
    async fn a_source_that_replicates_from_the_pointed_server_is_a_cycle() {
        // 1 is the primary; 2 and 3 replicate from it.
        let f = Fake(HashMap::from([
            ("h:1", (1, vec![])),
            ("h:2", (2, vec![("h:1", Some(1))])),
            ("h:3", (3, vec![("h:1", Some(1))])),
        ]));
        // pointing 1 at 2: 2 replicates from 1
        assert_eq!(
            find_cycle(&f, pointed("h:1", 1), "h:2").await,
            Ok(Some(vec!["h:2".to_string(), "h:1".to_string()]))
        );
        // pointing 3 at 2 is fine (siblings), and 2 at 1 (its own source)
        assert_eq!(find_cycle(&f, pointed("h:3", 3), "h:2").await, Ok(None));
        assert_eq!(find_cycle(&f, pointed("h:2", 2), "h:1").await, Ok(None));
    }

    #[tokio::test]
    async fn chains_through_other_servers_are_followed() {
        // 1 <- 2 <- 3 (3 replicates from 2, 2 from 1)
        let f = Fake(HashMap::from([
            ("h:1", (1, vec![])),
            ("h:2", (2, vec![("h:1", Some(1))])),
            ("h:3", (3, vec![("h:2", Some(2))])),
        ]));
        let path = find_cycle(&f, pointed("h:1", 1), "h:3")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(path, vec!["h:3", "h:2", "h:1"]);
        assert_eq!(
            describe(&path),
            "h:3 replicates from h:2 replicates from h:1"
        );
        assert_eq!(find_cycle(&f, pointed("h:3", 3), "h:1").await, Ok(None));
    }

    #[tokio::test]
    async fn the_server_is_recognised_by_server_id_under_another_name() {
        // 2 replicates from 1 under the name "db1:3306"; 1 is pointed as "h:1".
        let f = Fake(HashMap::from([
            ("h:1", (1, vec![])),
            ("h:2", (2, vec![("db1:3306", Some(1))])),
        ]));
        assert!(find_cycle(&f, pointed("h:1", 1), "h:2")
            .await
            .unwrap()
            .is_some());
        // without a server_id on the replica's side, the address decides
        let f = Fake(HashMap::from([
            ("h:2", (2, vec![("localhost:1", None)])),
            ("127.0.0.1:1", (1, vec![])),
        ]));
        let p = Pointed {
            address: "127.0.0.1:1",
            server_id: None,
        };
        assert!(find_cycle(&f, p, "h:2").await.unwrap().is_some());
        // an alias of the pointed server itself as the source
        let f = Fake(HashMap::from([("alias:1", (1, vec![]))]));
        assert!(find_cycle(&f, pointed("h:1", 1), "alias:1")
            .await
            .unwrap()
            .is_some());
    }

    #[tokio::test]
    async fn unreachable_hops_and_existing_loops_end_the_walk() {
        // 2 replicates from an unreachable 9; 4 and 5 already loop.
        let f = Fake(HashMap::from([
            ("h:2", (2, vec![("h:9", Some(9))])),
            ("h:4", (4, vec![("h:5", Some(5))])),
            ("h:5", (5, vec![("h:4", Some(4))])),
        ]));
        assert_eq!(find_cycle(&f, pointed("h:1", 1), "h:2").await, Ok(None));
        assert_eq!(find_cycle(&f, pointed("h:1", 1), "h:4").await, Ok(None));
        // the new source itself unreadable: nothing can be checked
        assert_eq!(
            find_cycle(&f, pointed("h:1", 1), "h:9").await,
            Err("h:9 unreachable".to_string())
        );
        // multi-source: any branch that reaches the server is a cycle
        let f = Fake(HashMap::from([
            ("h:2", (2, vec![("h:7", Some(7)), ("h:8", Some(8))])),
            ("h:7", (7, vec![])),
            ("h:8", (8, vec![("h:1", Some(1))])),
        ]));
        assert_eq!(
            find_cycle(&f, pointed("h:1", 1), "h:2").await,
            Ok(Some(vec!["h:2".into(), "h:8".into(), "h:1".into()]))
        );
    }

    #[tokio::test]
    async fn a_long_chain_is_bounded() {
        let mut map = HashMap::new();
        let names: Vec<&'static str> = (0..40)
            .map(|i| &*Box::leak(format!("h:{}", 100 + i).into_boxed_str()))
            .collect();
        for i in 0..39 {
            map.insert(names[i], (100 + i as u32, vec![(names[i + 1], None)]));
        }
        map.insert(names[39], (139, vec![("h:1", Some(1))]));
        let f = Fake(map);
        // the pointed server is 40 hops up: beyond MAX_HOPS, not found
        assert_eq!(find_cycle(&f, pointed("h:1", 1), names[0]).await, Ok(None));
        assert!(find_cycle(&f, pointed("h:1", 1), names[30])
            .await
            .unwrap()
            .is_some());
    }
}
