//! The config loader: any text gives a config or an error that names the
//! file, never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sqlyard::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = Config::from_toml_str(text, Path::new("fuzz.toml")) {
        assert!(e.to_string().contains("fuzz.toml"), "{e}");
    }
});
