#!/usr/bin/env bash
# Soak of several sqlyard instances (issue 15): SOAK_MINUTES (30) of random
# kill -9 / SIGSTOP of the primary and of sqlyard instances (the leader
# half of the time), with writers on every instance; nodes that sqlyard
# quarantines are rebuilt. Counts acknowledged writes lost, samples with two
# writable servers (every 100 ms) and replication loops: all must be 0.
# Writes bench/results/soak.md. Not run in CI.
#
# Settings (environment): SOAK_MINUTES=30 ROUTERS=3 WORKERS=2 SEED=<random>
#   RESULTS_DIR=bench/results SKIP_BUILD=0
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
mkdir -p "$RESULTS_DIR"
install_traps
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "building sqlyard and the soak driver (release)"
    (cd "$REPO_DIR" && cargo build --release --bin sqlyard --example soak) >&2 || die "cargo build failed"
fi
DRIVER="$REPO_DIR/target/release/examples/soak"
[[ -x $DRIVER ]] || die "$DRIVER not found"
log "soaking for ${SOAK_MINUTES:-30} minutes"
started=$(date +%s)
SQLYARD_BIN="$REPO_DIR/target/release/sqlyard" RESULTS="$RESULTS_DIR/soak.md.tmp" \
    setsid "$DRIVER" </dev/null &
CURRENT_PID=$!
wait "$CURRENT_PID"
rc=$?
CURRENT_PID=""
{
    echo "# sqlyard soak: latest run"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(($(date +%s) - started)) s"
    echo "- commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- machine: $(nproc) cores, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    ((rc == 0)) || echo "- FAILED (exit $rc): see the problems below"
    echo
    cat "$RESULTS_DIR/soak.md.tmp" 2>/dev/null
} >"$RESULTS_DIR/soak.md"
rm -f "$RESULTS_DIR/soak.md.tmp"
log "wrote $RESULTS_DIR/soak.md"
exit "$rc"
