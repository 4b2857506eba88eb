//! Problem: backend connections are pooled per handshake collation, so a
//! client choosing among a couple of hundred collation ids could make a
//! pool per id for one user. A collation that both MariaDB and MySQL know
//! under the same id and name, of a character set a client may use, is
//! not a reason for a pool of its own: the session gets it with
//! `SET NAMES cs COLLATE coll` on whatever connection serves it, which
//! sets exactly what the handshake would have (the three character set
//! variables and `collation_connection`). Only ids outside that set (ids
//! whose names differ between the servers, or that no client may use)
//! keep a pool of their own, as the server would treat them.

use mysql_common::collations::{Collation, CollationId};

/// Ids below this are the table MariaDB and MySQL share; above it
/// (MySQL 8's gb18030 and utf8mb4_0900 families) they differ.
const SHARED_BELOW: u8 = 248;
/// Ids in the shared range whose names differ between the servers
/// (`*_croatian_ci` in MySQL, `*_croatian_mysql561_ci` in MariaDB).
const DIVERGENT: [u8; 2] = [213, 245];
/// Character sets a client cannot use (`character_set_client` refuses them).
const NOT_FOR_CLIENTS: [&str; 4] = ["ucs2", "utf16", "utf16le", "utf32"];

/// `(character set, collation)` to replay for handshake collation `id`,
/// when it can be replayed with `SET NAMES` on any connection.
pub fn replayable(id: u8) -> Option<(String, String)> {
    if id == 0 || id >= SHARED_BELOW || DIVERGENT.contains(&id) {
        return None;
    }
    let c: Collation<'static> = Collation::resolve(CollationId::from(u16::from(id)));
    if c.id() == CollationId::UNKNOWN_COLLATION_ID {
        return None;
    }
    let (cs, coll) = (c.charset(), c.collation());
    if cs.is_empty() || coll.is_empty() || NOT_FOR_CLIENTS.contains(&cs) {
        return None;
    }
    Some((cs.to_string(), coll.to_string()))
}

#[cfg(test)]
mod tests {
    use super::replayable;

    #[test]
    fn common_collations_replay_by_name() {
        let names = |id| replayable(id).map(|(a, b)| format!("{a} {b}"));
        assert_eq!(names(8).as_deref(), Some("latin1 latin1_swedish_ci"));
        assert_eq!(names(45).as_deref(), Some("utf8mb4 utf8mb4_general_ci"));
        assert_eq!(names(224).as_deref(), Some("utf8mb4 utf8mb4_unicode_ci"));
        assert_eq!(names(13).as_deref(), Some("sjis sjis_japanese_ci"));
        assert_eq!(names(63).as_deref(), Some("binary binary"));
        assert!(names(33).is_some_and(|n| n.starts_with("utf8")));
    }

    #[test]
    fn others_keep_their_own_pool() {
        assert_eq!(replayable(0), None);
        assert_eq!(replayable(35), None); // ucs2_general_ci
        assert_eq!(replayable(213), None); // croatian: named differently
        assert_eq!(replayable(255), None); // utf8mb4_0900_ai_ci: MySQL 8 only
    }
}
