//! Shared by the bench drivers: one admin statement on a sqlyard admin
//! port, the rows as column name (lower case) -> text.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;

pub type Row = BTreeMap<String, String>;

/// Runs `sql` on the admin listener at `port` (account admin/admin_pw).
pub async fn admin(port: u16, sql: &str) -> Result<Vec<Row>, String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some("admin"))
        .pass(Some("admin_pw"))
        .prefer_socket(false);
    let mut c = tokio::time::timeout(Duration::from_secs(5), mysql_async::Conn::new(opts))
        .await
        .map_err(|_| "admin login timed out".to_string())?
        .map_err(|e| format!("admin login: {e}"))?;
    let rows: Result<Vec<mysql_async::Row>, _> = c.query(sql).await;
    let _ = c.disconnect().await;
    let rows = rows.map_err(|e| format!("{sql}: {e}"))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let names: Vec<String> = row
                .columns_ref()
                .iter()
                .map(|c| c.name_str().to_lowercase())
                .collect();
            names
                .into_iter()
                .enumerate()
                .map(|(i, n)| {
                    let v = row
                        .get_opt::<Option<String>, usize>(i)
                        .and_then(Result::ok)
                        .flatten();
                    (n, v.unwrap_or_default())
                })
                .collect()
        })
        .collect())
}
