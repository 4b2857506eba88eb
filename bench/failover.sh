#!/usr/bin/env bash
# Failover timing: on one sandbox topology (1 primary + 2 replicas, semi-sync
# with a 60 s timeout) with a small write load through sqlyard, KILLS kill -9s
# and FREEZES SIGSTOPs of the primary and SWITCHOVERS planned switchovers.
# Per event: detection and promotion time (sqlyard's SHOW FAILOVERS
# detection_ms / duration_ms), the time from the fault to the first
# acknowledged write through sqlyard (measured by the client), the write
# pause of a switchover, client errors, and acknowledged writes missing on
# the new primary (must be 0). Prints p50 and max per kind against the
# issue-5 targets and published figures of other tools, and writes
# bench/results/failover.md. See bench/README.md.
#
# The driver is examples/failover_bench.rs (sandbox and router in one
# process; its sandbox nodes die with it).
#
# Settings (environment):
#   KILLS=10  FREEZES=5  SWITCHOVERS=5  WORKERS=4  SILENCE_GRACE=3s
#   MARIADB_DEFAULTS=0 (1: replicas at MariaDB's default replication timing,
#     asynchronous; results in failover-defaults.md)
#   TUNE_REPLICA_HEARTBEAT=1 (0: sqlyard leaves their heartbeat period alone;
#     results in failover-defaults-untuned.md)
#   ROUTERS=1 (more: that many sqlyard instances in cluster mode on an etcd,
#     writers on each; fault to first write per instance and the spread
#     between them; results in failover-routers<N>.md)
#   RESULTS_DIR=bench/results  SKIP_BUILD=0  RUST_LOG=warn
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KILLS=${KILLS:-10}
FREEZES=${FREEZES:-5}
SWITCHOVERS=${SWITCHOVERS:-5}
WORKERS=${WORKERS:-4}
SILENCE_GRACE=${SILENCE_GRACE:-3s}
MARIADB_DEFAULTS=${MARIADB_DEFAULTS:-0}
TUNE_REPLICA_HEARTBEAT=${TUNE_REPLICA_HEARTBEAT:-1}
ROUTERS=${ROUTERS:-1}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
DRIVER="$REPO_DIR/target/release/examples/failover_bench"

PATH=$PATH:/usr/sbin command -v mariadbd >/dev/null || die "mariadbd is not installed"

install_traps
WORK_DIR=$(mktemp -d /tmp/sqlyard-failover-bench.XXXXXX)
mkdir -p "$RESULTS_DIR"
if ((ROUTERS > 1)); then
    MD_OUT="$RESULTS_DIR/failover-routers$ROUTERS.md"
elif [[ $MARIADB_DEFAULTS == 1 && $TUNE_REPLICA_HEARTBEAT == 1 ]]; then
    MD_OUT="$RESULTS_DIR/failover-defaults.md"
elif [[ $MARIADB_DEFAULTS == 1 ]]; then
    MD_OUT="$RESULTS_DIR/failover-defaults-untuned.md"
else
    MD_OUT="$RESULTS_DIR/failover.md"
fi

if [[ ${SKIP_BUILD:-0} == 1 ]]; then
    log "SKIP_BUILD=1: using existing $DRIVER"
else
    log "building the failover bench driver (release)"
    (cd "$REPO_DIR" && cargo build --release --example failover_bench) >&2 || die "cargo build failed"
fi
[[ -x $DRIVER ]] || die "$DRIVER not found"

log "running $KILLS kills, $FREEZES freezes, $SWITCHOVERS switchovers ($WORKERS workers, silence_grace $SILENCE_GRACE)"
started=$(date +%s)
# setsid: a terminal Ctrl-C reaches only this script, whose trap stops the
# driver with SIGINT (it then drops its sandbox).
KILLS=$KILLS FREEZES=$FREEZES SWITCHOVERS=$SWITCHOVERS WORKERS=$WORKERS \
    SILENCE_GRACE=$SILENCE_GRACE MARIADB_DEFAULTS=$MARIADB_DEFAULTS \
    TUNE_REPLICA_HEARTBEAT=$TUNE_REPLICA_HEARTBEAT ROUTERS=$ROUTERS RESULTS="$WORK_DIR/summary.md" RUST_LOG=${RUST_LOG:-warn} \
    setsid "$DRIVER" </dev/null 2>"$WORK_DIR/driver.err" &
CURRENT_PID=$!
wait "$CURRENT_PID"
rc=$?
CURRENT_PID=""
log "driver finished in $(($(date +%s) - started)) s (exit $rc)"
if ((rc != 0)); then
    tail -30 "$WORK_DIR/driver.err" >&2
fi
[[ -s $WORK_DIR/summary.md ]] || die "the driver wrote no summary"

{
    echo "# sqlyard failover benchmark: latest run"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- settings: KILLS=$KILLS FREEZES=$FREEZES SWITCHOVERS=$SWITCHOVERS WORKERS=$WORKERS SILENCE_GRACE=$SILENCE_GRACE MARIADB_DEFAULTS=$MARIADB_DEFAULTS TUNE_REPLICA_HEARTBEAT=$TUNE_REPLICA_HEARTBEAT ROUTERS=$ROUTERS"
    echo "- machine: $(nproc) cores, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- versions: $(PATH=$PATH:/usr/sbin mariadbd --version 2>/dev/null | head -1)"
    ((rc == 0)) || echo "- incomplete: the driver stopped early (exit $rc); see its messages above"
    echo
    sed -e '1{/^## /d}' "$WORK_DIR/summary.md"
} >"$MD_OUT"
log "wrote $MD_OUT"
exit "$rc"
