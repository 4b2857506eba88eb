//! Test support: everything a client can observe about a statement's answer
//! through mysql_async (every result set with its column metadata and
//! values, then affected rows, last insert id, warnings and info), so an
//! answer through sqlyard can be compared with a direct one.

use mysql_async::prelude::*;
use mysql_async::{Conn, Params, QueryResult, Value};

/// Column metadata as mysql_async exposes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColMeta {
    pub schema: String,
    pub table: String,
    pub org_table: String,
    pub name: String,
    pub org_name: String,
    pub column_type: u8,
    pub flags: u16,
    pub charset: u16,
    pub length: u32,
    pub decimals: u8,
}

/// One result set.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<ColMeta>,
    pub rows: Vec<Vec<Option<Value>>>,
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub sets: Vec<ResultSet>,
    pub affected_rows: u64,
    pub last_insert_id: Option<u64>,
    pub warnings: u16,
    pub info: String,
}

/// A server error (code, SQLSTATE, message).
pub type ServerErr = (u16, String, String);

fn meta(c: &mysql_async::Column) -> ColMeta {
    ColMeta {
        schema: c.schema_str().into_owned(),
        table: c.table_str().into_owned(),
        org_table: c.org_table_str().into_owned(),
        name: c.name_str().into_owned(),
        org_name: c.org_name_str().into_owned(),
        column_type: c.column_type() as u8,
        flags: c.flags().bits(),
        charset: c.character_set(),
        length: c.column_length(),
        decimals: c.decimals(),
    }
}

/// The server error inside a mysql_async error, or a panic for any other.
pub fn server_err(e: mysql_async::Error) -> ServerErr {
    match e {
        mysql_async::Error::Server(s) => (s.code, s.state, s.message),
        other => panic!("expected a server error, got {other:?}"),
    }
}

async fn drain<P: mysql_async::prelude::Protocol>(
    mut r: QueryResult<'_, '_, P>,
) -> mysql_async::Result<Vec<ResultSet>> {
    let mut sets = Vec::new();
    while !r.is_empty() {
        let columns: Vec<ColMeta> = r.columns_ref().iter().map(meta).collect();
        let rows: Vec<mysql_async::Row> = r.collect().await?;
        if columns.is_empty() && rows.is_empty() {
            // an OK in the middle of a multi-result answer
            sets.push(ResultSet {
                columns,
                rows: Vec::new(),
            });
            continue;
        }
        sets.push(ResultSet {
            columns,
            rows: rows.into_iter().map(|r| r.unwrap_raw()).collect(),
        });
    }
    Ok(sets)
}

fn finish(c: &Conn, sets: Vec<ResultSet>) -> Answer {
    Answer {
        sets,
        affected_rows: c.affected_rows(),
        last_insert_id: c.last_insert_id(),
        warnings: c.get_warnings(),
        info: c.info().into_owned(),
    }
}

/// Runs `sql` with the text protocol (COM_QUERY).
pub async fn text(c: &mut Conn, sql: &str) -> Result<Answer, ServerErr> {
    let sets = async {
        let r = c.query_iter(sql).await?;
        drain(r).await
    }
    .await
    .map_err(server_err)?;
    Ok(finish(c, sets))
}

/// Runs `sql` with the binary protocol (prepare + COM_STMT_EXECUTE).
pub async fn binary(c: &mut Conn, sql: &str, params: Params) -> Result<Answer, ServerErr> {
    let sets = async {
        let r = c.exec_iter(sql, params).await?;
        drain(r).await
    }
    .await
    .map_err(server_err)?;
    Ok(finish(c, sets))
}

/// The answer without table names in its metadata (for comparing the same
/// statement run on two tables that differ only by name).
pub fn without_tables(mut r: Result<Answer, ServerErr>) -> Result<Answer, ServerErr> {
    if let Ok(a) = r.as_mut() {
        for s in &mut a.sets {
            for c in &mut s.columns {
                c.table.clear();
                c.org_table.clear();
            }
        }
    }
    r
}

fn short(v: &Option<Value>) -> String {
    let s = format!("{v:?}");
    if s.len() > 200 {
        format!("{}... ({} chars)", &s[..200], s.len())
    } else {
        s
    }
}

/// Panics with the first difference between two answers (or results).
pub fn assert_same(
    label: &str,
    via: &Result<Answer, ServerErr>,
    direct: &Result<Answer, ServerErr>,
) {
    let (a, b) = match (via, direct) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "{label}: errors differ (sqlyard vs direct)");
            return;
        }
        (a, b) => panic!(
            "{label}: sqlyard gave {}, direct gave {}",
            match a {
                Ok(_) => "a result".to_string(),
                Err(e) => format!("error {e:?}"),
            },
            match b {
                Ok(_) => "a result".to_string(),
                Err(e) => format!("error {e:?}"),
            }
        ),
    };
    assert_eq!(
        a.sets.len(),
        b.sets.len(),
        "{label}: number of result sets (sqlyard vs direct)"
    );
    for (i, (sa, sb)) in a.sets.iter().zip(&b.sets).enumerate() {
        assert_eq!(
            sa.columns, sb.columns,
            "{label}: set {i}: column metadata (sqlyard vs direct)"
        );
        assert_eq!(
            sa.rows.len(),
            sb.rows.len(),
            "{label}: set {i}: row count (sqlyard vs direct)"
        );
        for (r, (ra, rb)) in sa.rows.iter().zip(&sb.rows).enumerate() {
            for (k, (va, vb)) in ra.iter().zip(rb).enumerate() {
                if va != vb {
                    panic!(
                        "{label}: set {i} row {r} column {k} ({}): sqlyard {} vs direct {}",
                        sa.columns[k].name,
                        short(va),
                        short(vb)
                    );
                }
            }
        }
    }
    assert_eq!(
        (a.affected_rows, a.last_insert_id, a.warnings, &a.info),
        (b.affected_rows, b.last_insert_id, b.warnings, &b.info),
        "{label}: (affected_rows, last_insert_id, warnings, info) (sqlyard vs direct)"
    );
}
