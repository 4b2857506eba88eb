#!/usr/bin/env bash
# Virtual IP failover time (issue 16): runs the namespace test
# (tests/it/vip.rs: two sqlyard hosts with keepalived, from
# examples/keepalived/, a PyMySQL client writing through the VIP) with
# ROUNDS kills of the sqlyard holding the VIP, then one kill of the primary.
# Reports, per round and as median / max: the time from the kill until the
# other host holds the VIP, and the write gap the client saw (its last
# acknowledged write before the kill to its first after). Writes
# bench/results/vip.md. Needs root and keepalived. Not run in CI (the test
# itself, with one round, is).
#
# There is no direct or haproxy baseline here: nothing else moves the VIP.
# What bounds the move is keepalived's check (interval 1 s, fall 2).
#
# Settings (environment): ROUNDS=10 RESULTS_DIR=bench/results
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
ROUNDS=${ROUNDS:-10}
mkdir -p "$RESULTS_DIR"
[[ $(id -u) == 0 ]] || die "network namespaces need root"
[[ -x /usr/sbin/keepalived ]] || die "keepalived is missing (bash .ci/setup-system.sh)"
log "running tests/it/vip.rs with $ROUNDS rounds"
started=$(date +%s)
out=$(cd "$REPO_DIR" && SQLYARD_VIP_ROUNDS=$ROUNDS cargo test --release --test it vip:: -- --nocapture 2>&1)
rc=$?
{
    echo "# sqlyard virtual IP: latest run"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(($(date +%s) - started)) s"
    echo "- commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- machine: $(nproc) cores, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- command: \`ROUNDS=$ROUNDS bench/vip.sh\`"
    ((rc == 0)) || echo "- FAILED (exit $rc): the test's output is below"
    echo
    printf '%s\n' "$out" | /usr/bin/python3 -c '
import re, statistics, sys
moves, gaps, lines = [], [], []
for line in sys.stdin:
    m = re.match(r"vip round (\d+): VIP moved in (\d+) ms; client write gap (\d+) ms", line)
    if m:
        moves.append(int(m.group(2))); gaps.append(int(m.group(3)))
    if line.startswith("vip "):
        lines.append(line.rstrip())
if moves:
    print("| kill -9 of the sqlyard holding the VIP | n | median | max |")
    print("|---|---:|---:|---:|")
    print("| kill to the VIP on the other host | %d | %.2f s | %.2f s |" % (len(moves), statistics.median(moves) / 1000, max(moves) / 1000))
    print("| write gap seen by the client | %d | %.2f s | %.2f s |" % (len(gaps), statistics.median(gaps) / 1000, max(gaps) / 1000))
    print()
print("```")
print("\n".join(lines))
print("```")
'
    ((rc == 0)) || { echo; echo '```'; printf '%s\n' "$out" | tail -80; echo '```'; }
} >"$RESULTS_DIR/vip.md"
log "wrote $RESULTS_DIR/vip.md"
cat "$RESULTS_DIR/vip.md"
exit "$rc"
