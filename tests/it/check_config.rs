//! `sqlyard check-config FILE` exits 0 for a valid config and 1 with
//! file:line:column and the reason for a broken one; `sqlyard --config`
//! refuses to start on a broken config the same way.

use std::process::Command;

fn sqlyard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sqlyard"))
        .args(args)
        .output()
        .expect("run sqlyard")
}

#[test]
fn the_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sqlyard.toml");
    let out = sqlyard(&["check-config", example]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn broken_configs_name_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[router]\nadmin_password = \"x\"\nlistne = \"127.0.0.1:1\"\n",
            ":3:1: unknown field `listne`",
        ),
        ("[monitor]\ninterval = 500\n", ":2:"),
        (
            "[router]\nadmin_password = \"x\"\n[[servers]]\naddress = \"nohost\"\n",
            ":4:",
        ),
        ("this is not toml", ":1:"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("broken{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let p = path.to_str().unwrap();
        for args in [vec!["check-config", p], vec!["--config", p]] {
            let out = sqlyard(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(
                err.contains(&format!("broken{i}.toml{want}")),
                "{args:?}: {err}"
            );
        }
    }
    let out = sqlyard(&["check-config", "/nonexistent/sqlyard.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/sqlyard.toml"));
}
