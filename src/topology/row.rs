//! Column order in monitoring output changes between server versions (MariaDB documents
//! this for `SHOW SLAVE STATUS`), and columns come and go. `NamedRow` turns a result row
//! into name/value pairs so every reader looks values up by column NAME, tolerates missing
//! columns and NULLs, and never indexes by position. Tests build rows from literal pairs.

use mysql_async::{Row, Value};

/// One result row as (column name, value as text) pairs; `None` is SQL NULL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedRow {
    columns: Vec<(String, Option<String>)>,
}

impl NamedRow {
    /// Builds a row from literal pairs (tests, documentation samples).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) -> Self {
        NamedRow {
            columns: pairs
                .into_iter()
                .map(|(name, value)| (name.to_string(), value.map(str::to_string)))
                .collect(),
        }
    }

    /// Converts a row from the server. Text-protocol values arrive as bytes; other value
    /// kinds are printed the way the server would print them.
    pub fn from_mysql(row: &Row) -> Self {
        let columns = row
            .columns_ref()
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let value = row.as_ref(i).and_then(value_text);
                (column.name_str().into_owned(), value)
            })
            .collect();
        NamedRow { columns }
    }

    /// The value of `name` (ASCII case-insensitive), or `None` if the column is missing
    /// or NULL.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.columns
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_deref())
    }

    /// Like [`NamedRow::get`], but an empty or all-blank value also reads as `None`.
    pub fn get_non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// True if the row has a column of that name (even if it is NULL).
    pub fn has(&self, name: &str) -> bool {
        self.columns
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The first of `names` that the row has a non-NULL value for, with its column name.
    pub fn first_of<'n>(&self, names: &[&'n str]) -> Option<(&'n str, &str)> {
        names
            .iter()
            .find_map(|name| self.get(name).map(|value| (*name, value)))
    }

    /// Parses a non-empty value; `Err(text)` if present but unparseable.
    pub fn parse<T: std::str::FromStr>(&self, name: &str) -> Option<Result<T, String>> {
        self.get_non_empty(name)
            .map(|text| text.parse::<T>().map_err(|_| text.to_string()))
    }
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::NULL => None,
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        // Dates and times never appear in the monitoring queries; print them anyway.
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_name() {
        let row = NamedRow::from_pairs([
            ("Master_Host", Some("127.0.0.1")),
            ("Master_Port", Some("3306")),
            ("Last_IO_Error", Some("")),
            ("Seconds_Behind_Master", None),
            ("Bad_Port", Some("x")),
        ]);
        assert_eq!(row.get("master_host"), Some("127.0.0.1"));
        assert_eq!(row.get("Last_IO_Error"), Some(""));
        assert_eq!(row.get_non_empty("Last_IO_Error"), None);
        assert_eq!(row.get("Seconds_Behind_Master"), None);
        assert!(row.has("Seconds_Behind_Master"));
        assert!(!row.has("Nope"));
        assert_eq!(row.parse::<u16>("Master_Port"), Some(Ok(3306)));
        assert_eq!(row.parse::<u16>("Bad_Port"), Some(Err("x".to_string())));
        assert_eq!(row.parse::<u16>("Missing"), None);
        assert_eq!(
            row.first_of(&["Source_Host", "Master_Host"]),
            Some(("Master_Host", "127.0.0.1"))
        );
    }

    #[test]
    fn value_kinds_print_as_text() {
        assert_eq!(value_text(&Value::NULL), None);
        assert_eq!(
            value_text(&Value::Bytes(b"abc".to_vec())),
            Some("abc".into())
        );
        assert_eq!(value_text(&Value::Int(-3)), Some("-3".into()));
        assert_eq!(value_text(&Value::UInt(7)), Some("7".into()));
        // Invalid UTF-8 does not panic.
        assert_eq!(
            value_text(&Value::Bytes(vec![0xff, b'a'])),
            Some("\u{fffd}a".into())
        );
    }
}
