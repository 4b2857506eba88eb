//! Failover must know whether one server holds transactions another lacks: a replica
//! holding writes the lost primary never had ("errant GTIDs") must not be promoted, and
//! an old primary may rejoin the new one only if its whole history is contained in the
//! new primary's. This file answers both questions from GTID positions, for both flavors,
//! and describes the difference as human-readable GTID ranges for operators.
//!
//! MariaDB positions hold one GTID per replication domain (`domain-server_id-seq`), so
//! a difference is reconstructed per (domain, server_id): what the reference is known to
//! hold of that origin is the highest sequence number it shows for it in any of its
//! positions (`gtid_binlog_pos`, `gtid_slave_pos`, `gtid_current_pos`). The slave
//! position matters: a promoted replica keeps the last GTID it applied from its old
//! primary there, while its binlog position moves on with its own writes. When the
//! reference shows nothing of an origin, only the server's last GTID of it is known and
//! is reported as "up to" that GTID. This errs on the side of reporting (a server whose
//! history went through several failovers may be reported although it is contained);
//! it never reports a contained server as missing nothing when it is not.
//!
//! MySQL positions are full GTID sets: the difference is exact set subtraction.

use std::collections::BTreeMap;
use std::fmt;

use crate::topology::gtid::{GtidInterval, GtidSource};
use crate::topology::{Flavor, GtidPositions, GtidSet, MariaGtid, MariaGtidList, MysqlGtidSet};

/// One run of transactions that one server has and another lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrantRange {
    /// MariaDB: every GTID of origin `server_id` in `domain` from `first` to `last`
    /// (sequence numbers), printed `d-s-first..d-s-last`, or `d-s-last` for one.
    MariaRange {
        domain: u32,
        server_id: u32,
        first: u64,
        last: u64,
    },
    /// MariaDB: the reference shows nothing of this origin; the server's last GTID of it
    /// is `last`, so possibly everything of it up to `last` is missing.
    MariaUpTo { last: MariaGtid },
    /// MySQL: transactions of one source (`uuid[:tag]:intervals`).
    MySql {
        source: GtidSource,
        intervals: Vec<GtidInterval>,
    },
    /// The server's own GTID position is unknown (never read, or unreadable), so nothing
    /// can be said to be contained.
    PositionUnknown,
}

impl fmt::Display for ErrantRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrantRange::MariaRange {
                domain,
                server_id,
                first,
                last,
            } => {
                if first == last {
                    write!(f, "{domain}-{server_id}-{last}")
                } else {
                    write!(
                        f,
                        "{domain}-{server_id}-{first}..{domain}-{server_id}-{last}"
                    )
                }
            }
            ErrantRange::MariaUpTo { last } => write!(f, "up to {last}"),
            ErrantRange::MySql { source, intervals } => {
                write!(f, "{source}")?;
                for iv in intervals {
                    write!(f, ":{iv}")?;
                }
                Ok(())
            }
            ErrantRange::PositionUnknown => f.write_str("GTID position unknown"),
        }
    }
}

/// The transactions one server has and another lacks; empty means "contained".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrantGtids {
    ranges: Vec<ErrantRange>,
}

impl ErrantGtids {
    /// Nothing missing.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn ranges(&self) -> &[ErrantRange] {
        &self.ranges
    }

    /// Each range as text, e.g. `0-3-5..0-3-7`, `up to 0-3-7`,
    /// `3e11fa47-71ca-11e1-9e33-c80aa9429562:4-6`.
    pub fn to_strings(&self) -> Vec<String> {
        self.ranges.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ErrantGtids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Transactions `server` has that `reference` does not. Empty means `server`'s history
/// is contained in `reference`'s (e.g. an old primary may rejoin the new primary).
///
/// MariaDB: `server`'s `gtid_binlog_pos` (its `gtid_current_pos` when unknown) against
/// everything `reference` shows per origin. MySQL: `gtid_executed` minus `gtid_executed`.
/// An unknown `reference` position counts as empty; an unknown `server` position gives
/// [`ErrantRange::PositionUnknown`].
pub fn missing_from(
    server: &GtidPositions,
    reference: &GtidPositions,
    flavor: Flavor,
) -> ErrantGtids {
    match flavor {
        Flavor::MariaDb => maria_missing(server, reference, |_| false),
        Flavor::MySql => mysql_missing(server, reference, |_, _| false),
    }
}

/// Transactions `replica` holds that the lost primary never had. `primary` holds the
/// primary's LAST KNOWN positions: it may have written more before it was lost, and the
/// replica may have received that, so GTIDs the primary originated itself (MariaDB:
/// `server_id == primary_server_id`; MySQL: source UUID `primary_uuid`) are not errant.
/// Everything else the primary lacks is errant, e.g. a write made directly on the replica.
///
/// MySQL with `primary_uuid` unknown: a source the primary's last known set already had,
/// whose missing transactions all come after the primary's last known one of it, is
/// taken to be the primary's own stream (the primary is the only writer); anything else
/// is errant. Pass the UUID (`@@server_uuid`) whenever it is known.
pub fn errant_on_replica(
    replica: &GtidPositions,
    primary: &GtidPositions,
    primary_server_id: u32,
    primary_uuid: Option<u128>,
    flavor: Flavor,
) -> ErrantGtids {
    errant_on_replica_of(
        replica,
        primary,
        Some(primary_server_id),
        primary_uuid,
        flavor,
    )
}

/// [`errant_on_replica`] when even the primary's server_id may be unknown (then nothing is
/// exempt on MariaDB).
pub fn errant_on_replica_of(
    replica: &GtidPositions,
    primary: &GtidPositions,
    primary_server_id: Option<u32>,
    primary_uuid: Option<u128>,
    flavor: Flavor,
) -> ErrantGtids {
    match flavor {
        Flavor::MariaDb => maria_missing(replica, primary, |g| {
            primary_server_id.is_some_and(|id| g.server_id == id)
        }),
        Flavor::MySql => {
            let primary_set = mysql_set(primary);
            mysql_missing(replica, primary, |source, missing| match primary_uuid {
                Some(uuid) => source.uuid == uuid,
                None => continues_known_stream(primary_set, source, missing),
            })
        }
    }
}

/// The MariaDB list a server's own history is read from: its binlog position, or its
/// current position when the binlog position is unknown or empty (binlog off).
fn maria_history(p: &GtidPositions) -> Option<&MariaGtidList> {
    let executed = match &p.executed {
        Some(GtidSet::MariaDb(l)) => Some(l),
        _ => None,
    };
    p.binlog_pos
        .as_ref()
        .filter(|l| !l.is_empty())
        .or(executed)
        .or(p.binlog_pos.as_ref())
}

/// Per (domain, server_id), the highest sequence number `p` shows in any position.
fn maria_known(p: &GtidPositions) -> BTreeMap<(u32, u32), u64> {
    let mut known = BTreeMap::new();
    let executed = match &p.executed {
        Some(GtidSet::MariaDb(l)) => Some(l),
        _ => None,
    };
    for list in [p.binlog_pos.as_ref(), p.slave_pos.as_ref(), executed]
        .into_iter()
        .flatten()
    {
        for g in list.iter() {
            let seq = known.entry((g.domain, g.server_id)).or_insert(g.seq);
            *seq = (*seq).max(g.seq);
        }
    }
    known
}

fn maria_missing(
    server: &GtidPositions,
    reference: &GtidPositions,
    exempt: impl Fn(&MariaGtid) -> bool,
) -> ErrantGtids {
    let Some(history) = maria_history(server) else {
        return ErrantGtids {
            ranges: vec![ErrantRange::PositionUnknown],
        };
    };
    let known = maria_known(reference);
    let ranges = history
        .iter()
        .filter(|g| !exempt(g))
        .filter_map(|g| match known.get(&(g.domain, g.server_id)) {
            Some(&have) if have >= g.seq => None,
            Some(&have) => Some(ErrantRange::MariaRange {
                domain: g.domain,
                server_id: g.server_id,
                first: have + 1,
                last: g.seq,
            }),
            None => Some(ErrantRange::MariaUpTo { last: *g }),
        })
        .collect();
    ErrantGtids { ranges }
}

fn mysql_set(p: &GtidPositions) -> Option<&MysqlGtidSet> {
    match &p.executed {
        Some(GtidSet::MySql(s)) => Some(s),
        _ => None,
    }
}

fn mysql_missing(
    server: &GtidPositions,
    reference: &GtidPositions,
    exempt: impl Fn(&GtidSource, &[GtidInterval]) -> bool,
) -> ErrantGtids {
    let Some(ours) = mysql_set(server) else {
        return ErrantGtids {
            ranges: vec![ErrantRange::PositionUnknown],
        };
    };
    let theirs = mysql_set(reference);
    let ranges = ours
        .iter()
        .filter_map(|(source, intervals)| {
            let have = theirs.and_then(|t| t.intervals(source)).unwrap_or(&[]);
            let missing = subtract(intervals, have);
            (!missing.is_empty() && !exempt(source, &missing)).then(|| ErrantRange::MySql {
                source: source.clone(),
                intervals: missing,
            })
        })
        .collect();
    ErrantGtids { ranges }
}

/// `source` appears in `primary`'s set and everything missing of it comes after the
/// primary's last known transaction of it.
fn continues_known_stream(
    primary: Option<&MysqlGtidSet>,
    source: &GtidSource,
    missing: &[GtidInterval],
) -> bool {
    let Some(last) = primary
        .and_then(|p| p.intervals(source))
        .and_then(|ivs| ivs.last())
        .map(|iv| iv.end)
    else {
        return false;
    };
    missing.iter().all(|iv| iv.start > last)
}

/// `ours` minus `theirs`; both sorted and merged (as `MysqlGtidSet` keeps them).
fn subtract(ours: &[GtidInterval], theirs: &[GtidInterval]) -> Vec<GtidInterval> {
    let mut out = Vec::new();
    for iv in ours {
        // The first number of `iv` not decided yet; `None` once past u64::MAX.
        let mut next = Some(iv.start);
        for t in theirs {
            let Some(start) = next else { break };
            if t.start > iv.end {
                break;
            }
            if t.end < start {
                continue;
            }
            if t.start > start {
                out.push(GtidInterval {
                    start,
                    end: t.start - 1,
                });
            }
            next = t.end.checked_add(1);
        }
        if let Some(start) = next.filter(|s| *s <= iv.end) {
            out.push(GtidInterval { start, end: iv.end });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "3E11FA47-71CA-11E1-9E33-C80AA9429562";
    const U2: &str = "2174B383-5441-11E8-B90A-C80AA9429562";
    const U1_NUM: u128 = 0x3E11FA47_71CA_11E1_9E33_C80AA9429562;

    fn maria(binlog: Option<&str>, slave: Option<&str>, current: Option<&str>) -> GtidPositions {
        GtidPositions {
            executed: current.map(|c| GtidSet::parse(Flavor::MariaDb, c).unwrap()),
            slave_pos: slave.map(|s| s.parse().unwrap()),
            binlog_pos: binlog.map(|b| b.parse().unwrap()),
        }
    }

    fn mysql(executed: &str) -> GtidPositions {
        GtidPositions {
            executed: Some(GtidSet::parse(Flavor::MySql, executed).unwrap()),
            ..Default::default()
        }
    }

    fn iv(start: u64, end: u64) -> GtidInterval {
        GtidInterval { start, end }
    }

    #[test]
    fn subtract_intervals() {
        assert_eq!(subtract(&[iv(1, 10)], &[]), vec![iv(1, 10)]);
        assert_eq!(subtract(&[iv(1, 10)], &[iv(1, 10)]), vec![]);
        assert_eq!(subtract(&[iv(1, 10)], &[iv(1, 5)]), vec![iv(6, 10)]);
        assert_eq!(subtract(&[iv(1, 10)], &[iv(6, 20)]), vec![iv(1, 5)]);
        assert_eq!(
            subtract(&[iv(1, 10)], &[iv(3, 4), iv(7, 7)]),
            vec![iv(1, 2), iv(5, 6), iv(8, 10)]
        );
        assert_eq!(
            subtract(&[iv(1, 5), iv(11, 18)], &[iv(1, 12)]),
            vec![iv(13, 18)]
        );
        assert_eq!(subtract(&[iv(5, 6)], &[iv(1, 2), iv(9, 9)]), vec![iv(5, 6)]);
        assert_eq!(
            subtract(&[iv(1, u64::MAX)], &[iv(5, u64::MAX)]),
            vec![iv(1, 4)]
        );
        assert_eq!(subtract(&[iv(5, 9)], &[iv(1, u64::MAX)]), vec![]);
        assert_eq!(
            subtract(&[iv(1, u64::MAX)], &[iv(1, u64::MAX - 1)]),
            vec![iv(u64::MAX, u64::MAX)]
        );
    }

    #[test]
    fn maria_old_primary_contained_after_promotion() {
        // Old primary (server 1) wrote up to 0-1-50. The new primary (server 2) applied
        // 0-1-50 (kept in its gtid_slave_pos) and wrote 0-2-51..60 since.
        let old = maria(Some("0-1-50"), Some(""), Some("0-1-50"));
        let new = maria(Some("0-2-60"), Some("0-1-50"), Some("0-2-60"));
        let m = missing_from(&old, &new, Flavor::MariaDb);
        assert!(m.is_empty(), "{m}");
        assert_eq!(m.to_string(), "");
    }

    #[test]
    fn maria_old_primary_with_unreplicated_writes_is_reported_as_a_range() {
        // 0-1-51..0-1-53 were binlogged on the old primary but never reached server 2.
        let old = maria(Some("0-1-53"), None, Some("0-1-53"));
        let new = maria(Some("0-2-60"), Some("0-1-50"), Some("0-2-60"));
        let m = missing_from(&old, &new, Flavor::MariaDb);
        assert_eq!(m.to_string(), "0-1-51..0-1-53");
        assert_eq!(m.len(), 1);
        assert_eq!(
            m.ranges(),
            &[ErrantRange::MariaRange {
                domain: 0,
                server_id: 1,
                first: 51,
                last: 53
            }]
        );
        // One missing GTID prints as that GTID alone.
        let old = maria(Some("0-1-51"), None, None);
        assert_eq!(
            missing_from(&old, &new, Flavor::MariaDb).to_string(),
            "0-1-51"
        );
    }

    #[test]
    fn maria_unknown_origin_is_reported_up_to_its_last_gtid() {
        // An errant write made directly on server 3, which the reference never saw.
        let server = maria(Some("0-3-7"), Some("0-1-4"), Some("0-3-7"));
        let reference = maria(Some("0-1-9"), Some(""), Some("0-1-9"));
        let m = missing_from(&server, &reference, Flavor::MariaDb);
        assert_eq!(m.to_strings(), vec!["up to 0-3-7".to_string()]);
        // Same sequence number, different origin: divergent histories.
        let server = maria(Some("0-3-9"), None, None);
        assert_eq!(
            missing_from(&server, &reference, Flavor::MariaDb).to_string(),
            "up to 0-3-9"
        );
    }

    #[test]
    fn maria_several_domains_join_with_commas() {
        let server = maria(Some("0-1-10,1-3-7,2-1-4"), None, None);
        let reference = maria(Some("0-1-10,1-3-5"), None, None);
        let m = missing_from(&server, &reference, Flavor::MariaDb);
        assert_eq!(m.to_string(), "1-3-6..1-3-7, up to 2-1-4");
        // And the other way round, 0-1-10 and 1-3-5 are contained in server.
        assert!(missing_from(&reference, &server, Flavor::MariaDb).is_empty());
    }

    #[test]
    fn maria_falls_back_to_current_pos_and_handles_unknowns() {
        // No binlog position: the current position is the history.
        let server = maria(None, None, Some("0-1-12"));
        let reference = maria(Some("0-1-10"), None, None);
        assert_eq!(
            missing_from(&server, &reference, Flavor::MariaDb).to_string(),
            "0-1-11..0-1-12"
        );
        // Nothing known about the server: never "contained".
        let unknown = maria(None, Some("0-1-1"), None);
        let m = missing_from(&unknown, &reference, Flavor::MariaDb);
        assert!(!m.is_empty());
        assert_eq!(m.ranges(), &[ErrantRange::PositionUnknown]);
        assert_eq!(m.to_string(), "GTID position unknown");
        // Nothing known about the reference: everything is missing.
        let m = missing_from(&server, &GtidPositions::default(), Flavor::MariaDb);
        assert_eq!(m.to_string(), "up to 0-1-12");
        // An empty binlog position (binlog off) falls back too.
        let server = maria(Some(""), None, Some("0-1-12"));
        assert_eq!(
            missing_from(&server, &reference, Flavor::MariaDb).to_string(),
            "0-1-11..0-1-12"
        );
        // An empty history is contained in anything.
        let empty = maria(Some(""), Some(""), Some(""));
        assert!(missing_from(&empty, &GtidPositions::default(), Flavor::MariaDb).is_empty());
        // A MySQL-shaped position under the MariaDB flavor is unusable.
        assert_eq!(
            missing_from(&mysql(&format!("{U1}:1-5")), &reference, Flavor::MariaDb).ranges(),
            &[ErrantRange::PositionUnknown]
        );
    }

    #[test]
    fn maria_reference_knowledge_comes_from_every_position() {
        let server = maria(Some("0-1-20"), None, None);
        for reference in [
            maria(Some("0-1-20"), None, None),
            maria(None, Some("0-1-20"), None),
            maria(None, None, Some("0-1-25")),
            maria(Some("0-2-30"), Some("0-1-20"), Some("0-2-30")),
        ] {
            assert!(
                missing_from(&server, &reference, Flavor::MariaDb).is_empty(),
                "{reference:?}"
            );
        }
        // The highest of several positions counts.
        let reference = maria(Some("0-1-15"), Some("0-1-18"), Some("0-1-16"));
        assert_eq!(
            missing_from(&server, &reference, Flavor::MariaDb).to_string(),
            "0-1-19..0-1-20"
        );
    }

    #[test]
    fn mysql_missing_is_set_difference() {
        let server = mysql(&format!("{U1}:1-10, {U2}:1-27"));
        let reference = mysql(&format!("{U1}:1-3:7-10, {U2}:1-27"));
        let m = missing_from(&server, &reference, Flavor::MySql);
        assert_eq!(m.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:4-6");
        assert!(missing_from(&reference, &server, Flavor::MySql).is_empty());
        assert!(missing_from(&server, &server, Flavor::MySql).is_empty());

        // Several sources and gaps.
        let reference = mysql(&format!("{U1}:2-4"));
        let m = missing_from(&server, &reference, Flavor::MySql);
        assert_eq!(
            m.to_string(),
            "2174b383-5441-11e8-b90a-c80aa9429562:1-27, 3e11fa47-71ca-11e1-9e33-c80aa9429562:1:5-10"
        );
        assert_eq!(m.len(), 2);

        // Unknown positions.
        let unknown = GtidPositions::default();
        assert_eq!(
            missing_from(&unknown, &server, Flavor::MySql).ranges(),
            &[ErrantRange::PositionUnknown]
        );
        assert_eq!(
            missing_from(&server, &unknown, Flavor::MySql).len(),
            2,
            "an unknown reference holds nothing"
        );
    }

    #[test]
    fn mysql_tagged_sources_are_separate_streams() {
        let server = mysql(&format!("{U1}:1-5:ops:1-2"));
        let reference = mysql(&format!("{U1}:1-5"));
        assert_eq!(
            missing_from(&server, &reference, Flavor::MySql).to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:ops:1-2"
        );
    }

    #[test]
    fn maria_replica_ahead_of_the_last_known_primary_position_is_not_errant() {
        // The primary (server 1) was last seen at 0-1-55; the replica received up to 57.
        let primary = maria(Some("0-1-55"), Some(""), Some("0-1-55"));
        let replica = maria(Some("0-1-57"), Some("0-1-57"), Some("0-1-57"));
        assert!(errant_on_replica(&replica, &primary, 1, None, Flavor::MariaDb).is_empty());
        // ...but that is exactly what missing_from reports.
        assert_eq!(
            missing_from(&replica, &primary, Flavor::MariaDb).to_string(),
            "0-1-56..0-1-57"
        );
    }

    #[test]
    fn maria_write_made_on_the_replica_is_errant() {
        let primary = maria(Some("0-1-55"), Some(""), Some("0-1-55"));
        // A write on replica server 3 in its own domain 7.
        let replica = maria(Some("0-1-55,7-3-2"), Some("0-1-55"), Some("0-1-55,7-3-2"));
        let e = errant_on_replica(&replica, &primary, 1, None, Flavor::MariaDb);
        assert_eq!(e.to_string(), "up to 7-3-2");
        // ...and in domain 0, right after the primary's last transaction.
        let replica = maria(Some("0-3-56"), Some("0-1-55"), Some("0-3-56"));
        let e = errant_on_replica(&replica, &primary, 1, None, Flavor::MariaDb);
        assert_eq!(e.to_string(), "up to 0-3-56");
        // A history from an earlier primary (server 2) that the lost primary applied is fine.
        let primary = maria(Some("0-2-40"), Some("0-2-40"), Some("0-2-40"));
        let replica = maria(Some("0-2-40"), Some("0-2-40"), Some("0-2-40"));
        assert!(errant_on_replica(&replica, &primary, 1, None, Flavor::MariaDb).is_empty());
        // Server 2 writing more after the lost primary's last knowledge of it is errant.
        let replica = maria(Some("0-2-42"), Some("0-2-40"), Some("0-2-42"));
        assert_eq!(
            errant_on_replica(&replica, &primary, 1, None, Flavor::MariaDb).to_string(),
            "0-2-41..0-2-42"
        );
    }

    #[test]
    fn maria_unknown_primary_server_id_exempts_nothing() {
        let primary = maria(Some("0-1-55"), None, None);
        let replica = maria(Some("0-1-57"), None, None);
        assert_eq!(
            errant_on_replica_of(&replica, &primary, None, None, Flavor::MariaDb).to_string(),
            "0-1-56..0-1-57"
        );
        assert!(
            errant_on_replica_of(&replica, &primary, Some(1), None, Flavor::MariaDb).is_empty()
        );
    }

    #[test]
    fn mysql_primary_uuid_stream_is_not_errant() {
        let primary = mysql(&format!("{U1}:1-100, {U2}:1-27"));
        let replica = mysql(&format!("{U1}:1-105, {U2}:1-27"));
        assert!(errant_on_replica(&replica, &primary, 1, Some(U1_NUM), Flavor::MySql).is_empty());
        // Tagged transactions of the primary's UUID are its own too.
        let replica = mysql(&format!("{U1}:1-105:ops:1-3, {U2}:1-27"));
        assert!(errant_on_replica(&replica, &primary, 1, Some(U1_NUM), Flavor::MySql).is_empty());
        // A write made on the replica itself (its own UUID) is errant.
        let u3 = "7A3E5F00-0000-11EE-8000-000000000003";
        let replica = mysql(&format!("{U1}:1-105, {U2}:1-27, {u3}:1-2"));
        assert_eq!(
            errant_on_replica(&replica, &primary, 1, Some(U1_NUM), Flavor::MySql).to_string(),
            "7a3e5f00-0000-11ee-8000-000000000003:1-2"
        );
        // So are new transactions of an old primary's stream.
        let replica = mysql(&format!("{U1}:1-100, {U2}:1-28"));
        assert_eq!(
            errant_on_replica(&replica, &primary, 1, Some(U1_NUM), Flavor::MySql).to_string(),
            "2174b383-5441-11e8-b90a-c80aa9429562:28"
        );
    }

    #[test]
    fn mysql_unknown_primary_uuid_exempts_only_continuations() {
        let primary = mysql(&format!("{U1}:1-100, {U2}:1-27"));
        // Continuing a stream the primary had: taken as the primary's own writes.
        let replica = mysql(&format!("{U1}:1-105, {U2}:1-27"));
        assert!(errant_on_replica(&replica, &primary, 1, None, Flavor::MySql).is_empty());
        // A stream the primary never had: errant.
        let u3 = "7A3E5F00-0000-11EE-8000-000000000003";
        let replica = mysql(&format!("{U1}:1-100, {U2}:1-27, {u3}:1"));
        assert_eq!(
            errant_on_replica(&replica, &primary, 1, None, Flavor::MySql).to_string(),
            "7a3e5f00-0000-11ee-8000-000000000003:1"
        );
        // A hole below the primary's last known transaction: errant.
        let primary = mysql(&format!("{U1}:1-50:60-100"));
        let replica = mysql(&format!("{U1}:1-100"));
        assert_eq!(
            errant_on_replica(&replica, &primary, 1, None, Flavor::MySql).to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:51-59"
        );
        // Primary position unknown: nothing can be exempted.
        let replica = mysql(&format!("{U1}:1-5"));
        assert!(
            !errant_on_replica(&replica, &GtidPositions::default(), 1, None, Flavor::MySql)
                .is_empty()
        );
    }
}
