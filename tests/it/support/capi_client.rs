//! The libmariadb test client (tests/clients/capi.c), compiled once per
//! test binary with `cc` against Debian's libmariadb-dev, and run.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::procs;

/// The compiled client (built on first use).
pub fn binary() -> &'static PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let out = dir.join(format!("capi-client-{}", std::process::id()));
        let flags = procs::run(
            {
                let mut c = Command::new("mariadb_config");
                c.args(["--cflags", "--libs"]);
                c
            },
            Duration::from_secs(20),
        );
        flags.assert_ok("mariadb_config (Debian package libmariadb-dev)");
        let mut cc = Command::new("cc");
        cc.args(["-Wall", "-Wextra", "-Werror", "-O1", "-o"])
            .arg(&out)
            .arg(procs::client_script("capi.c"))
            .args(flags.stdout.split_whitespace());
        procs::run(cc, Duration::from_secs(120)).assert_ok("cc tests/clients/capi.c");
        out
    })
}

/// One run of a scenario: its "key<TAB>value" lines, and stderr.
pub struct Transcript {
    pub lines: Vec<(String, String)>,
    pub stderr: String,
}

/// Runs `scenario` against `port` in `db` (extra arguments after it:
/// the second user and password).
pub async fn run(port: u16, db: &str, scenario: &str, extra: &[&str]) -> Transcript {
    let mut c = Command::new(binary());
    c.args([
        "127.0.0.1",
        &port.to_string(),
        "app",
        "app_pw",
        db,
        scenario,
    ])
    .args(extra);
    let out = procs::run_async(c, Duration::from_secs(180)).await;
    out.assert_ok(&format!("capi {scenario} on port {port}"));
    let lines = out
        .stdout
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect::<Vec<_>>();
    assert_eq!(
        lines.last().map(|(k, v)| (k.as_str(), v.as_str())),
        Some(("done", "true")),
        "capi {scenario} on port {port} ran to its end:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    Transcript {
        lines,
        stderr: out.stderr,
    }
}

/// Requires two transcripts to be the same, line by line.
pub fn assert_same(scenario: &str, via: &Transcript, direct: &Transcript) {
    let show = |t: &Transcript| {
        t.lines
            .iter()
            .map(|(k, v)| format!("{k}\t{v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (i, (v, d)) in via.lines.iter().zip(direct.lines.iter()).enumerate() {
        assert_eq!(
            v,
            d,
            "{scenario}, line {i}: through sqlyard vs direct\n--- through sqlyard:\n{}\n--- stderr:\n{}\n--- direct:\n{}\n--- stderr:\n{}",
            show(via),
            via.stderr,
            show(direct),
            direct.stderr
        );
    }
    assert_eq!(
        via.lines.len(),
        direct.lines.len(),
        "{scenario}: through sqlyard vs direct\n--- through sqlyard:\n{}\n--- direct:\n{}",
        show(via),
        show(direct)
    );
}
