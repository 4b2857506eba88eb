//! The operations examples must work as shipped: the systemd unit passes
//! `systemd-analyze verify` (when available) and has the settings a
//! graceful reload and stop depend on; the WordPress snippet is valid PHP
//! with the router's address.
use crate::procs;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use sqlyard::config::RouterConfig;

fn example(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(path)
}

/// `key=value` lines of a unit file section.
fn section(unit: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("[{name}]");
    unit.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not key=value: {l}"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn get<'a>(keys: &'a [(String, String)], key: &str) -> &'a str {
    keys.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("{key} missing"))
}

#[test]
fn systemd_unit_has_reload_stop_and_hardening() {
    let unit = std::fs::read_to_string(example("systemd/sqlyard.service")).unwrap();
    let service = section(&unit, "Service");
    assert_eq!(get(&service, "Type"), "simple");
    assert_eq!(get(&service, "ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(get(&service, "KillSignal"), "SIGTERM");
    assert_eq!(get(&service, "User"), "sqlyard");
    assert!(get(&service, "ExecStart").contains("--config /etc/sqlyard/sqlyard.toml"));
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(get(&service, key), value, "{key}");
    }
    let rw = get(&service, "ReadWritePaths");
    assert!(
        rw.contains("/var/lib/sqlyard") && rw.contains("/etc/sqlyard"),
        "{rw}"
    );
    // The stop timeout must leave room for sqlyard's own drain.
    let stop = get(&service, "TimeoutStopSec");
    let secs: u64 = stop.trim_end_matches('s').parse().unwrap();
    let drain = RouterConfig::default().shutdown_timeout.get();
    assert!(
        Duration::from_secs(secs) > drain + Duration::from_secs(5),
        "{stop}"
    );
    assert_eq!(
        get(&section(&unit, "Install"), "WantedBy"),
        "multi-user.target"
    );
}

#[test]
fn systemd_unit_verifies() {
    if !procs::have("systemd-analyze", &["--version"]) {
        eprintln!("SKIP: systemd-analyze is not installed; the unit was only parsed");
        return;
    }
    // verify checks that the binaries exist: point them at the built one.
    let unit = std::fs::read_to_string(example("systemd/sqlyard.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/sqlyard", env!("CARGO_BIN_EXE_sqlyard"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sqlyard.service");
    std::fs::write(&path, unit).unwrap();
    let mut cmd = Command::new("systemd-analyze");
    cmd.arg("verify").arg(&path);
    let out = procs::run(cmd, Duration::from_secs(60));
    out.assert_ok("systemd-analyze verify");
    // Unknown keys are only warnings: any output is a failure here.
    assert!(
        out.stderr.trim().is_empty() && out.stdout.trim().is_empty(),
        "systemd-analyze verify complained:\n{}{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn wordpress_snippet_is_valid_php() {
    let path = example("wordpress/wp-config-sqlyard.php");
    let text = std::fs::read_to_string(&path).unwrap();
    for line in [
        "define( 'DB_HOST', '127.0.0.1:6033' );",
        "define( 'DB_USER', 'app' );",
        "define( 'DB_PASSWORD', 'app_pw' );",
        "define( 'DB_NAME', 'wordpress' );",
    ] {
        assert!(text.contains(line), "{line} missing");
    }
    assert!(example("wordpress/README.md").exists());
    if !procs::have("php", &["--version"]) {
        eprintln!("SKIP: php is not installed; php -l not run");
        return;
    }
    let mut cmd = Command::new("php");
    cmd.arg("-l").arg(&path);
    let out = procs::run(cmd, Duration::from_secs(30));
    out.assert_ok("php -l");
    assert!(out.stdout.contains("No syntax errors"), "{}", out.stdout);
    // And the defines really define what WordPress reads.
    let mut cmd = Command::new("php");
    cmd.arg("-r").arg(format!(
        "require '{}'; echo DB_HOST, ' ', DB_USER, ' ', DB_NAME;",
        path.display()
    ));
    let out = procs::run(cmd, Duration::from_secs(30));
    out.assert_ok("php -r");
    assert_eq!(out.stdout.trim(), "127.0.0.1:6033 app wordpress");
}
