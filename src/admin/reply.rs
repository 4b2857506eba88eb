//! Problem: every admin command answers with either a table or an OK, and
//! each must reach the client as a well-formed MySQL text result set that
//! any client library reads (column definitions, rows, EOF or OK
//! terminators as the client negotiated). Commands build a [`Reply`]; this
//! file encodes it.

use crate::protocol::constants::{cap, status};
use crate::protocol::lenenc::{write_bytes, write_int};
use crate::protocol::response::eof_payload;

/// How a column's values are typed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// A string column (VAR_STRING).
    Text,
    /// An integer column (LONGLONG); values are sent as decimal text.
    Int,
    /// A floating-point column (DOUBLE).
    Float,
}

/// A table answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<(String, Column)>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl ResultSet {
    /// A result set with these columns and no rows yet.
    pub fn new(columns: &[(&str, Column)]) -> Self {
        ResultSet {
            columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells become NULL, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<Option<String>>) {
        row.resize(self.columns.len(), None);
        self.rows.push(row);
    }

    /// The index of a column by name (for tests and callers).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|(n, _)| n == name)
    }
}

/// A command's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// OK with an affected-row count and an info message.
    Ok {
        affected: u64,
        info: String,
    },
    Rows(ResultSet),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Ok {
            affected: 0,
            info: String::new(),
        }
    }

    pub fn ok_info(info: impl Into<String>) -> Reply {
        Reply::Ok {
            affected: 0,
            info: info.into(),
        }
    }
}

/// A cell from anything displayable.
pub fn cell(v: impl ToString) -> Option<String> {
    Some(v.to_string())
}

const UTF8MB4_GENERAL_CI: u16 = 45;
const BINARY: u16 = 63;
const TYPE_DOUBLE: u8 = 0x05;
const TYPE_LONGLONG: u8 = 0x08;
const TYPE_VAR_STRING: u8 = 0xfd;
const NUM_FLAG: u16 = 0x8000;

fn column_definition(name: &str, kind: Column) -> Vec<u8> {
    let mut p = Vec::with_capacity(32 + name.len() * 2);
    write_bytes(&mut p, b"def");
    write_bytes(&mut p, b"");
    write_bytes(&mut p, b"");
    write_bytes(&mut p, b"");
    write_bytes(&mut p, name.as_bytes());
    write_bytes(&mut p, name.as_bytes());
    p.push(0x0c);
    let (charset, length, ty, flags, decimals) = match kind {
        Column::Text => (UTF8MB4_GENERAL_CI, 1024u32 * 4, TYPE_VAR_STRING, 0u16, 0u8),
        Column::Int => (BINARY, 21, TYPE_LONGLONG, NUM_FLAG, 0),
        Column::Float => (BINARY, 22, TYPE_DOUBLE, NUM_FLAG, 31),
    };
    p.extend_from_slice(&charset.to_le_bytes());
    p.extend_from_slice(&length.to_le_bytes());
    p.push(ty);
    p.extend_from_slice(&flags.to_le_bytes());
    p.push(decimals);
    p.extend_from_slice(&[0, 0]);
    p
}

/// The OK payload for an admin reply (status: autocommit). The info is a
/// length-encoded string, with or without CLIENT_SESSION_TRACK: that is
/// what MariaDB and MySQL servers send (`net_store_data`), and what
/// libmariadb and mysql_common read, whatever the protocol documentation
/// says about `string<EOF>`.
pub fn ok_with_info(affected: u64, info: &str, _caps: u32) -> Vec<u8> {
    let mut p = vec![0x00];
    write_int(&mut p, affected);
    write_int(&mut p, 0);
    p.extend_from_slice(&status::AUTOCOMMIT.to_le_bytes());
    p.extend_from_slice(&0u16.to_le_bytes());
    if !info.is_empty() {
        write_bytes(&mut p, info.as_bytes());
    }
    p
}

/// The payloads of the packets that carry `reply` to a client with
/// capabilities `caps`, in order (sequence ids are the caller's).
pub fn encode(reply: &Reply, caps: u32) -> Vec<Vec<u8>> {
    match reply {
        Reply::Ok { affected, info } => vec![ok_with_info(*affected, info, caps)],
        Reply::Rows(rs) => {
            let deprecate_eof = caps & cap::DEPRECATE_EOF != 0;
            let mut out = Vec::with_capacity(rs.rows.len() + rs.columns.len() + 3);
            let mut count = Vec::new();
            write_int(&mut count, rs.columns.len() as u64);
            out.push(count);
            for (name, kind) in &rs.columns {
                out.push(column_definition(name, *kind));
            }
            if !deprecate_eof {
                out.push(eof_payload(false, status::AUTOCOMMIT, 0));
            }
            for row in &rs.rows {
                let mut p = Vec::new();
                for v in row {
                    match v {
                        Some(v) => write_bytes(&mut p, v.as_bytes()),
                        None => p.push(0xfb),
                    }
                }
                out.push(p);
            }
            out.push(eof_payload(deprecate_eof, status::AUTOCOMMIT, 0));
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_set_has_count_columns_eof_rows_eof() {
        let mut rs = ResultSet::new(&[("a", Column::Text), ("n", Column::Int)]);
        rs.push(vec![cell("x"), None]);
        rs.push(vec![cell("y")]);
        let pkts = encode(&Reply::Rows(rs.clone()), 0);
        assert_eq!(pkts.len(), 1 + 2 + 1 + 2 + 1);
        assert_eq!(pkts[0], vec![2]);
        assert_eq!(pkts[3][0], 0xfe);
        assert_eq!(pkts[4], vec![1, b'x', 0xfb]);
        assert_eq!(pkts[5], vec![1, b'y', 0xfb], "missing cells are NULL");
        // with DEPRECATE_EOF: no EOF after the columns, OK-style terminator
        let pkts = encode(&Reply::Rows(rs), cap::DEPRECATE_EOF);
        assert_eq!(pkts.len(), 1 + 2 + 2 + 1);
        assert_eq!(pkts.last().map(|p| p[0]), Some(0xfe));
        assert!(pkts.last().is_some_and(|p| p.len() > 5));
    }

    #[test]
    fn ok_carries_info() {
        let p = ok_with_info(3, "done", 0);
        assert_eq!(p[0], 0);
        assert_eq!(p[1], 3);
        assert!(
            p.ends_with(b"\0\0\x04done"),
            "length-encoded, as servers send it"
        );
        let parsed = crate::protocol::response::parse_ok(&p, false);
        assert_eq!(parsed.map(|o| o.affected_rows), Some(3));
        let p = ok_with_info(3, "done", cap::SESSION_TRACK);
        assert!(
            p.ends_with(b"\x04done"),
            "length-encoded with session tracking"
        );
        let parsed = crate::protocol::response::parse_ok(&p, true);
        assert_eq!(parsed.map(|o| o.affected_rows), Some(3));
    }
}
