//! sysbench as the tests run it: a real client load (the one people
//! measure proxies with), and the numbers of its final report.

use std::process::Command;

/// `sysbench <test>` as the app user against 127.0.0.1, on `ports` (one,
/// or several separated by commas: sysbench spreads its threads over
/// them), in schema `db`, with `tables` tables of `rows` rows. Add the
/// command (`prepare`, `run`) and options.
pub fn sysbench(test: &str, ports: &str, db: &str, tables: u32, rows: u32) -> Command {
    let mut c = Command::new("sysbench");
    c.arg(test)
        .arg("--db-driver=mysql")
        .arg("--mysql-host=127.0.0.1")
        .arg(format!("--mysql-port={ports}"))
        .arg("--mysql-user=app")
        .arg("--mysql-password=app_pw")
        .arg(format!("--mysql-db={db}"))
        .arg(format!("--tables={tables}"))
        .arg(format!("--table-size={rows}"));
    c
}

/// The number after `label` in sysbench's report (`"ignored errors:"`,
/// `"reconnects:"`, `"transactions:"`).
pub fn stat(report: &str, label: &str) -> u64 {
    let line = report
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no {label:?} in the sysbench report:\n{report}"));
    line.trim_start()[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad {label:?} line: {line}"))
}
