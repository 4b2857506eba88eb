//! GTID positions are how sqlyard decides whether one server has everything another has
//! (read-your-writes, choosing a failover candidate). MariaDB and MySQL spell them
//! differently, so this file parses, prints and compares both:
//!
//! - MariaDB: a list of `domain-server_id-seq` entries, one per replication domain,
//!   e.g. `0-1-100,1-2-5`. Within a domain, a higher `seq` means "more applied".
//! - MySQL: a set of `source_uuid:interval[:interval...]` entries, e.g.
//!   `3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18, 2174B383-5441-11E8-B90A-C80AA9429562:1-27`.
//!   MySQL 8.3+ may tag intervals (`uuid:tag:1-5`); tags are kept as part of the key.
//!
//! Servers print these with spaces and newlines after commas; both parsers accept any
//! whitespace around elements, and the empty string is the empty set.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use super::flavor::Flavor;

/// Why a GTID string could not be parsed. The offending text is kept (shortened) so the
/// message points at the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtidError {
    #[error(
        "malformed MariaDB GTID {element:?}: expected domain-server_id-seq with decimal numbers"
    )]
    MariaMalformed { element: String },
    #[error("MariaDB GTID list names domain {domain} twice")]
    MariaDuplicateDomain { domain: u32 },
    #[error("malformed MySQL GTID set element {element:?}: expected uuid:interval[:interval...]")]
    MysqlMalformed { element: String },
    #[error("malformed source UUID {uuid:?} in MySQL GTID set")]
    MysqlBadUuid { uuid: String },
    #[error(
        "malformed interval {interval:?} in MySQL GTID set: expected N or N-M with 1 <= N <= M"
    )]
    MysqlBadInterval { interval: String },
    #[error("malformed tag {tag:?} in MySQL GTID set")]
    MysqlBadTag { tag: String },
}

/// Keeps error messages short when a server sends something huge and wrong.
fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// One MariaDB GTID: `domain-server_id-seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MariaGtid {
    pub domain: u32,
    pub server_id: u32,
    pub seq: u64,
}

impl fmt::Display for MariaGtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", self.domain, self.server_id, self.seq)
    }
}

impl FromStr for MariaGtid {
    type Err = GtidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let bad = || GtidError::MariaMalformed {
            element: excerpt(text),
        };
        let mut parts = text.split('-');
        let (Some(domain), Some(server_id), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !(digits(domain) && digits(server_id) && digits(seq)) {
            return Err(bad());
        }
        Ok(MariaGtid {
            domain: domain.parse().map_err(|_| bad())?,
            server_id: server_id.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// A MariaDB GTID position: at most one GTID per replication domain
/// (`@@gtid_current_pos`, `@@gtid_slave_pos`, `@@gtid_binlog_pos`, `Gtid_IO_Pos`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MariaGtidList {
    by_domain: BTreeMap<u32, MariaGtid>,
}

impl MariaGtidList {
    /// The empty position.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_domain.len()
    }

    /// The GTID recorded for `domain`, if any.
    pub fn get(&self, domain: u32) -> Option<&MariaGtid> {
        self.by_domain.get(&domain)
    }

    /// GTIDs in domain order.
    pub fn iter(&self) -> impl Iterator<Item = &MariaGtid> {
        self.by_domain.values()
    }

    /// Sets the GTID of its domain, replacing what was there.
    pub fn insert(&mut self, gtid: MariaGtid) {
        self.by_domain.insert(gtid.domain, gtid);
    }

    /// True if `self` has applied at least everything in `other`: for every domain in
    /// `other`, `self` has that domain with a sequence number at least as high. The
    /// server_id part does not take part in the ordering (it only says who wrote it).
    pub fn contains(&self, other: &MariaGtidList) -> bool {
        other.by_domain.iter().all(|(domain, theirs)| {
            self.by_domain
                .get(domain)
                .is_some_and(|ours| ours.seq >= theirs.seq)
        })
    }
}

impl fmt::Display for MariaGtidList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, gtid) in self.by_domain.values().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{gtid}")?;
        }
        Ok(())
    }
}

impl FromStr for MariaGtidList {
    type Err = GtidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut list = MariaGtidList::new();
        if s.trim().is_empty() {
            return Ok(list);
        }
        for element in s.split(',') {
            let gtid: MariaGtid = element.parse()?;
            if list.by_domain.insert(gtid.domain, gtid).is_some() {
                return Err(GtidError::MariaDuplicateDomain {
                    domain: gtid.domain,
                });
            }
        }
        Ok(list)
    }
}

/// An inclusive range of MySQL transaction numbers, `start..=end`, with `1 <= start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GtidInterval {
    pub start: u64,
    pub end: u64,
}

impl fmt::Display for GtidInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

impl FromStr for GtidInterval {
    type Err = GtidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let bad = || GtidError::MysqlBadInterval {
            interval: excerpt(text),
        };
        let number = |p: &str| -> Result<u64, GtidError> {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (start, end) = match text.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(text)?;
                (n, n)
            }
        };
        if start == 0 || end < start {
            return Err(bad());
        }
        Ok(GtidInterval { start, end })
    }
}

/// Identifies one stream of MySQL transactions: the source server's UUID plus the
/// optional tag of MySQL 8.3+ tagged GTIDs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GtidSource {
    pub uuid: u128,
    pub tag: Option<String>,
}

impl fmt::Display for GtidSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = format!("{:032x}", self.uuid);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &hex[0..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..32]
        )?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

fn parse_uuid(text: &str) -> Result<u128, GtidError> {
    let bad = || GtidError::MysqlBadUuid {
        uuid: excerpt(text),
    };
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    if groups.len() != lengths.len()
        || groups
            .iter()
            .zip(lengths)
            .any(|(g, len)| g.len() != len || !g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(bad());
    }
    u128::from_str_radix(&groups.concat(), 16).map_err(|_| bad())
}

/// MySQL tags: a letter or underscore, then letters, digits or underscores, at most 32.
fn parse_tag(text: &str) -> Result<String, GtidError> {
    let mut chars = text.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || text.len() > 32 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(GtidError::MysqlBadTag { tag: excerpt(text) });
    }
    Ok(text.to_ascii_lowercase())
}

/// A MySQL GTID set (`@@gtid_executed`, `Retrieved_Gtid_Set`, `Executed_Gtid_Set`).
/// Intervals are kept sorted and merged, so equal sets compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MysqlGtidSet {
    sources: BTreeMap<GtidSource, Vec<GtidInterval>>,
}

impl MysqlGtidSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The merged intervals of one source, if present.
    pub fn intervals(&self, source: &GtidSource) -> Option<&[GtidInterval]> {
        self.sources.get(source).map(Vec::as_slice)
    }

    /// Sources in order, each with its merged intervals.
    pub fn iter(&self) -> impl Iterator<Item = (&GtidSource, &[GtidInterval])> {
        self.sources.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// Adds an interval for `source`, merging with what is there.
    pub fn insert(&mut self, source: GtidSource, interval: GtidInterval) {
        let intervals = self.sources.entry(source).or_default();
        intervals.push(interval);
        normalize(intervals);
    }

    /// True if every transaction in `other` is also in `self` (superset check).
    pub fn contains(&self, other: &MysqlGtidSet) -> bool {
        other.sources.iter().all(|(source, theirs)| {
            let Some(ours) = self.sources.get(source) else {
                return false;
            };
            theirs
                .iter()
                .all(|t| ours.iter().any(|o| o.start <= t.start && t.end <= o.end))
        })
    }
}

/// Sorts and merges overlapping or adjacent intervals in place.
fn normalize(intervals: &mut Vec<GtidInterval>) {
    intervals.sort();
    let mut merged: Vec<GtidInterval> = Vec::with_capacity(intervals.len());
    for iv in intervals.drain(..) {
        match merged.last_mut() {
            Some(last) if iv.start <= last.end.saturating_add(1) => {
                last.end = last.end.max(iv.end);
            }
            _ => merged.push(iv),
        }
    }
    *intervals = merged;
}

impl fmt::Display for MysqlGtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Untagged and tagged intervals of one UUID print as one element, the way MySQL
        // prints them: uuid:1-5:tag:1-3.
        let mut previous_uuid: Option<u128> = None;
        for (source, intervals) in &self.sources {
            if previous_uuid == Some(source.uuid) {
                if let Some(tag) = &source.tag {
                    write!(f, ":{tag}")?;
                }
            } else {
                if previous_uuid.is_some() {
                    f.write_str(",\n")?;
                }
                write!(f, "{source}")?;
            }
            for iv in intervals {
                write!(f, ":{iv}")?;
            }
            previous_uuid = Some(source.uuid);
        }
        Ok(())
    }
}

impl FromStr for MysqlGtidSet {
    type Err = GtidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = MysqlGtidSet::new();
        if s.trim().is_empty() {
            return Ok(set);
        }
        for element in s.split(',') {
            let element = element.trim();
            let mut parts = element.split(':').map(str::trim);
            let uuid = parse_uuid(parts.next().unwrap_or(""))?;
            let mut source = GtidSource { uuid, tag: None };
            let mut saw_interval = false;
            let mut pending_tag = false;
            for part in parts {
                if part.starts_with(|c: char| c.is_ascii_digit()) {
                    let iv: GtidInterval = part.parse()?;
                    let intervals = set.sources.entry(source.clone()).or_default();
                    intervals.push(iv);
                    saw_interval = true;
                    pending_tag = false;
                } else {
                    if pending_tag {
                        // A tag must be followed by at least one interval.
                        return Err(GtidError::MysqlMalformed {
                            element: excerpt(element),
                        });
                    }
                    source = GtidSource {
                        uuid,
                        tag: Some(parse_tag(part)?),
                    };
                    pending_tag = true;
                }
            }
            if !saw_interval || pending_tag {
                return Err(GtidError::MysqlMalformed {
                    element: excerpt(element),
                });
            }
        }
        for intervals in set.sources.values_mut() {
            normalize(intervals);
        }
        Ok(set)
    }
}

/// A GTID position of either flavor, for code that works with both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtidSet {
    MariaDb(MariaGtidList),
    MySql(MysqlGtidSet),
}

impl GtidSet {
    /// Parses `text` in the syntax of `flavor`.
    pub fn parse(flavor: Flavor, text: &str) -> Result<GtidSet, GtidError> {
        Ok(match flavor {
            Flavor::MariaDb => GtidSet::MariaDb(text.parse()?),
            Flavor::MySql => GtidSet::MySql(text.parse()?),
        })
    }

    pub fn flavor(&self) -> Flavor {
        match self {
            GtidSet::MariaDb(_) => Flavor::MariaDb,
            GtidSet::MySql(_) => Flavor::MySql,
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            GtidSet::MariaDb(l) => l.is_empty(),
            GtidSet::MySql(s) => s.is_empty(),
        }
    }

    /// Adds everything in `other` to `self`: per MariaDB domain the higher
    /// sequence number wins; MySQL intervals are united. A set of the other
    /// flavor replaces `self` (a topology does not mix flavors).
    pub fn merge(&mut self, other: &GtidSet) {
        match (self, other) {
            (GtidSet::MariaDb(a), GtidSet::MariaDb(b)) => {
                for g in b.iter() {
                    if a.get(g.domain).is_none_or(|ours| ours.seq < g.seq) {
                        a.insert(*g);
                    }
                }
            }
            (GtidSet::MySql(a), GtidSet::MySql(b)) => {
                for (source, intervals) in b.iter() {
                    for iv in intervals {
                        a.insert(source.clone(), *iv);
                    }
                }
            }
            (this, other) => *this = other.clone(),
        }
    }

    /// Superset check. Positions of different flavors cannot be compared, so a set never
    /// contains one of the other flavor.
    pub fn contains(&self, other: &GtidSet) -> bool {
        match (self, other) {
            (GtidSet::MariaDb(a), GtidSet::MariaDb(b)) => a.contains(b),
            (GtidSet::MySql(a), GtidSet::MySql(b)) => a.contains(b),
            _ => false,
        }
    }
}

impl fmt::Display for GtidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GtidSet::MariaDb(l) => l.fmt(f),
            GtidSet::MySql(s) => s.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maria(s: &str) -> MariaGtidList {
        s.parse().unwrap()
    }

    fn mysql(s: &str) -> MysqlGtidSet {
        s.parse().unwrap()
    }

    #[test]
    fn merge_keeps_the_highest_per_domain_and_unites_intervals() {
        let mut a = GtidSet::parse(Flavor::MariaDb, "0-1-5,1-2-7").unwrap();
        a.merge(&GtidSet::parse(Flavor::MariaDb, "0-1-9,1-2-3,2-3-1").unwrap());
        assert_eq!(a.to_string(), "0-1-9,1-2-7,2-3-1");
        let uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let mut m = GtidSet::parse(Flavor::MySql, &format!("{uuid}:1-5")).unwrap();
        m.merge(&GtidSet::parse(Flavor::MySql, &format!("{uuid}:6-9")).unwrap());
        assert_eq!(m.to_string(), format!("{uuid}:1-9"));
    }

    #[test]
    fn maria_parses_and_prints() {
        let l = maria("0-1-100,1-2-5");
        assert_eq!(l.len(), 2);
        assert_eq!(
            l.get(0),
            Some(&MariaGtid {
                domain: 0,
                server_id: 1,
                seq: 100
            })
        );
        assert_eq!(l.get(1).map(|g| g.seq), Some(5));
        assert_eq!(l.to_string(), "0-1-100,1-2-5");
    }

    #[test]
    fn maria_whitespace_order_and_empty() {
        let l = maria(" 1-2-5 ,\n0-1-100\n");
        assert_eq!(l.to_string(), "0-1-100,1-2-5");
        assert!(maria("").is_empty());
        assert!(maria("  \n ").is_empty());
        assert_eq!(maria("").to_string(), "");
    }

    #[test]
    fn maria_rejects_malformed() {
        for bad in [
            "0-1",
            "0-1-2-3",
            "a-1-2",
            "0--2",
            "0-1-",
            "0-1-+2",
            "0-1-100,",
            ",0-1-100",
            "0-1-1 00",
            "4294967296-1-1",
            "0-1-99999999999999999999999",
        ] {
            assert!(
                matches!(
                    bad.parse::<MariaGtidList>(),
                    Err(GtidError::MariaMalformed { .. })
                ),
                "{bad:?} should be malformed"
            );
        }
        assert_eq!(
            "0-1-5,0-2-6".parse::<MariaGtidList>(),
            Err(GtidError::MariaDuplicateDomain { domain: 0 })
        );
    }

    #[test]
    fn maria_contains_compares_per_domain_by_seq() {
        let a = maria("0-1-100,1-2-5");
        assert!(a.contains(&maria("0-1-100")));
        assert!(a.contains(&maria("0-1-99,1-2-5")));
        // server_id differs (written by another primary after failover): seq decides.
        assert!(a.contains(&maria("0-3-50")));
        assert!(!a.contains(&maria("0-1-101")));
        assert!(!a.contains(&maria("2-1-1")));
        assert!(a.contains(&maria("")));
        assert!(maria("").contains(&maria("")));
        assert!(!maria("").contains(&maria("0-1-1")));
        assert!(!maria("0-1-100").contains(&a));
    }

    #[test]
    fn mysql_parses_doc_examples() {
        let s = mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5");
        let src = GtidSource {
            uuid: 0x3E11FA47_71CA_11E1_9E33_C80AA9429562,
            tag: None,
        };
        assert_eq!(
            s.intervals(&src),
            Some(&[GtidInterval { start: 1, end: 5 }][..])
        );
        assert_eq!(s.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5");

        let s = mysql(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18, 2174B383-5441-11E8-B90A-C80AA9429562:1-27",
        );
        assert_eq!(
            s.to_string(),
            "2174b383-5441-11e8-b90a-c80aa9429562:1-27,\n3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11-18"
        );
        // The printed form parses back to the same set.
        assert_eq!(mysql(&s.to_string()), s);
    }

    #[test]
    fn mysql_whitespace_newlines_and_empty() {
        assert!(mysql("").is_empty());
        assert!(mysql(" \n").is_empty());
        let s = mysql(" 3E11FA47-71CA-11E1-9E33-C80AA9429562 : 1-5 : 7 ,\n\t2174B383-5441-11E8-B90A-C80AA9429562:1-27\n");
        assert_eq!(
            s.to_string(),
            "2174b383-5441-11e8-b90a-c80aa9429562:1-27,\n3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:7"
        );
    }

    #[test]
    fn mysql_merges_intervals() {
        let s = mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:11-18:1-5:6-7:3-4:20");
        assert_eq!(
            s.to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7:11-18:20"
        );
        // The same UUID in two elements merges too.
        let s = mysql(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,3e11fa47-71ca-11e1-9e33-c80aa9429562:6-9",
        );
        assert_eq!(s.to_string(), "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-9");
    }

    #[test]
    fn mysql_tagged_gtids() {
        let s = mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:Domain_1:1-3:11");
        assert_eq!(
            s.to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:domain_1:1-3:11"
        );
        assert_eq!(mysql(&s.to_string()), s);
        assert!(!s.contains(&mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:domain_1:4")));
        assert!(s.contains(&mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:domain_1:2-3")));
    }

    #[test]
    fn mysql_rejects_malformed() {
        let cases = [
            "3E11FA47-71CA-11E1-9E33-C80AA9429562",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:",
            "3E11FA47-71CA-11E1-9E33:1-5",
            "24DA167-0C0C-11E8-8442-00059A3C7B00:1-19",
            "ZE11FA47-71CA-11E1-9E33-C80AA9429562:1-5",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:0-5",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:5-1",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-2-3",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:tag",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1:tag",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1:9tag:1",
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5,",
            ":1-5",
        ];
        for bad in cases {
            assert!(bad.parse::<MysqlGtidSet>().is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn mysql_contains_is_superset_check() {
        let a = mysql(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:11-18, 2174B383-5441-11E8-B90A-C80AA9429562:1-27",
        );
        assert!(a.contains(&mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:2-4:12")));
        assert!(a.contains(&mysql("2174B383-5441-11E8-B90A-C80AA9429562:27")));
        assert!(a.contains(&a));
        assert!(a.contains(&mysql("")));
        // 6-10 is a gap.
        assert!(!a.contains(&mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:5-6")));
        assert!(!a.contains(&mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:19")));
        assert!(!a.contains(&mysql("4E11FA47-71CA-11E1-9E33-C80AA9429562:1")));
        assert!(!mysql("").contains(&a));
        assert!(!mysql("3E11FA47-71CA-11E1-9E33-C80AA9429562:1-18").contains(&a));
    }

    #[test]
    fn mixed_flavors_never_contain_each_other() {
        let m = GtidSet::parse(Flavor::MariaDb, "0-1-5").unwrap();
        let y = GtidSet::parse(Flavor::MySql, "").unwrap();
        assert!(!m.contains(&y));
        assert!(!y.contains(&m));
        assert!(m.contains(&m));
        assert_eq!(m.flavor(), Flavor::MariaDb);
        assert!(y.is_empty());
        assert_eq!(m.to_string(), "0-1-5");
    }

    #[test]
    fn long_garbage_is_shortened_in_errors() {
        let garbage = "x".repeat(10_000);
        let err = garbage.parse::<MariaGtidList>().unwrap_err();
        assert!(err.to_string().len() < 200);
    }
}
