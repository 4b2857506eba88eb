//! Problem: an operator who does not remember a command's syntax should be
//! able to ask the admin port itself. `HELP` and `SHOW COMMANDS` list every
//! accepted command, from the same table dispatch uses, so the list cannot
//! go stale.

use crate::admin::dispatch::FAMILIES;
use crate::admin::parse::Statement;
use crate::admin::reply::{cell, Column, Reply, ResultSet};
use crate::control::Control;

use super::{ready, Pending};

pub const USAGE: &[&str] = &["HELP", "SHOW COMMANDS"];

pub fn handle<'a>(_control: &'a Control, stmt: &'a Statement) -> Option<Pending<'a>> {
    if stmt.is(&["HELP"]) || stmt.is(&["SHOW", "COMMANDS"]) {
        let mut rs = ResultSet::new(&[("command", Column::Text)]);
        for usage in FAMILIES.iter().flat_map(|(_, u)| u.iter()) {
            rs.push(vec![cell(usage)]);
        }
        return ready(Ok(Reply::Rows(rs)));
    }
    None
}
