//! Problem: the handover tests must stop a leader at an exact point of a
//! failover (between choose and promote) from outside its process, to kill
//! it (`kill -9`) or freeze it (SIGSTOP) there. `cfg(test)` code is not in
//! the binary the integration tests run, so the hook is an environment
//! variable: `SQLYARD_TEST_PAUSE_BEFORE=<phase>` (e.g. `promote`) makes a
//! failover log `test hook: pausing before <phase>` and wait there for
//! `SQLYARD_TEST_PAUSE_SECS` seconds (default 30). Without the variable
//! nothing happens.

use std::time::Duration;

use super::status::Phase;

/// Pauses before `phase` when the environment asks for it (see the module doc).
pub async fn pause_before(phase: Phase) {
    let Ok(wanted) = std::env::var("SQLYARD_TEST_PAUSE_BEFORE") else {
        return;
    };
    if wanted != phase.as_str() {
        return;
    }
    let secs = std::env::var("SQLYARD_TEST_PAUSE_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    tracing::warn!(
        phase = phase.as_str(),
        secs,
        "test hook: pausing before {}",
        phase.as_str()
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    tracing::warn!(phase = phase.as_str(), "test hook: resuming");
}
