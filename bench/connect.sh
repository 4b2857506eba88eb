#!/usr/bin/env bash
# The PHP pattern (WordPress): every page connects with a database, runs one
# SELECT and disconnects. CLIENTS concurrent PHP (mysqli) workers do that in
# a loop, directly against the primary, through haproxy (mode tcp, a plain
# forwarder) and through sqlyard (the sandbox's default config: the split
# on), the three alternated round by round. Reports per target the median
# connections per second, the proxy's CPU per connection, and how many
# server connections the servers' own `Connections` counters grew by per
# client session (all servers summed; sqlyard's pools should make that ~0).
#
# Settings (environment): ROUNDS=5 DURATION=10 CLIENTS=16 WARMUP=3
#   BASE_PORT=23411 ROUTER_PORT=6143 ADMIN_PORT=6142 METRICS_PORT=9143
#   HAPROXY_PORT=6144 SKIP_BUILD=0 RESULTS_DIR=bench/results
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CLIENTS=${CLIENTS:-16}
WARMUP=${WARMUP:-3}
BASE_PORT=${BASE_PORT:-23411}
ROUTER_PORT=${ROUTER_PORT:-6143}
ADMIN_PORT=${ADMIN_PORT:-6142}
METRICS_PORT=${METRICS_PORT:-9143}
HAPROXY_PORT=${HAPROXY_PORT:-6144}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
TARGETS=(direct haproxy sqlyard)
CLK_TCK=$(getconf CLK_TCK)

require_tools php haproxy mariadb "$PY"
php -r 'exit(class_exists("mysqli") ? 0 : 1);' || die "php-mysql (mysqli) is not installed"

install_traps
WORK_DIR=$(mktemp -d /tmp/sqlyard-bench-connect.XXXXXX)
mkdir -p "$RESULTS_DIR"
RAW_CSV="$RESULTS_DIR/connect.csv"
MD_OUT="$RESULTS_DIR/connect.md"

build_release
start_sandbox "$BASE_PORT" "$ROUTER_PORT" "$ADMIN_PORT" "$METRICS_PORT"
wait_router "$ROUTER_PORT"
PRIMARY_PORT=$BASE_PORT

start_haproxy "$HAPROXY_PORT" "$PRIMARY_PORT"

# connections: the sum of the servers' Connections counters, minus the one
# connection each reading costs.
connections() {
    local port total=0 n
    for port in "$BASE_PORT" $((BASE_PORT + 1)) $((BASE_PORT + 2)); do
        n=$(mariadb -h127.0.0.1 -P"$port" -urouter -prouter_pw -N -B \
            -e "SHOW GLOBAL STATUS LIKE 'Connections'" 2>/dev/null | awk '{ print $2 + 0 }')
        total=$((total + ${n:-0} - 1))
    done
    echo "$total"
}

# run_clients PORT SECONDS: CLIENTS workers in parallel; prints "sessions errors".
run_clients() {
    local port=$1 secs=$2 k pids=()
    for ((k = 0; k < CLIENTS; k++)); do
        php "$BENCH_DIR/connect_loop.php" 127.0.0.1 "$port" app app_pw sbtest "$secs" \
            >"$WORK_DIR/client.$k" 2>&1 </dev/null &
        pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k"; done
    awk -F'\t' '/^sessions/ { s += $2; e += $4 } END { print s + 0, e + 0 }' "$WORK_DIR"/client.*
}

mariadb -h127.0.0.1 -P"$ROUTER_PORT" -uapp -papp_pw -e 'SELECT 1' sbtest >/dev/null ||
    die "database sbtest is not reachable"

for target in "${TARGETS[@]}"; do
    log "warm-up via $target for ${WARMUP}s"
    run_clients "$(port_of "$target")" "$WARMUP" >/dev/null
done

echo "target,round,sessions,errors,seconds,conn_per_s,server_connections,sqlyard_cpu_us,haproxy_cpu_us" >"$RAW_CSV"
printf '%-8s %5s %9s %7s %11s %12s %14s %14s\n' target round sessions errors "conn/s" "srv conn/sess" "sy cpu us/conn" "hap cpu us/conn"
for ((round = 1; round <= ROUNDS; round++)); do
    for ((k = 0; k < 3; k++)); do
        target=${TARGETS[$(((k + round - 1) % 3))]}
        alive "$SANDBOX_PID" || die "the sandbox died"
        alive "$HAPROXY_PID" || die "haproxy died"
        c0=$(connections)
        sy0=$(cpu_ticks "$SANDBOX_PID")
        hp0=$(cpu_ticks "$HAPROXY_PID")
        t0=$(date +%s.%N)
        read -r sessions errors < <(run_clients "$(port_of "$target")" "$DURATION")
        t1=$(date +%s.%N)
        sy1=$(cpu_ticks "$SANDBOX_PID")
        hp1=$(cpu_ticks "$HAPROXY_PID")
        c1=$(connections)
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
        srv=$((c1 - c0))
        sy_us=$(((sy1 - sy0) * 1000000 / CLK_TCK))
        hp_us=$(((hp1 - hp0) * 1000000 / CLK_TCK))
        echo "$target,$round,$sessions,$errors,$secs,$(awk -v s="$sessions" -v d="$DURATION" 'BEGIN { printf "%.1f", s / d }'),$srv,$sy_us,$hp_us" >>"$RAW_CSV"
        awk -v t="$target" -v r="$round" -v s="$sessions" -v e="$errors" -v d="$DURATION" \
            -v c="$srv" -v sy="$sy_us" -v hp="$hp_us" 'BEGIN {
            printf "%-8s %5d %9d %7d %11.0f %12.4f %14.1f %14.1f\n", t, r, s, e, s / d,
                (s > 0 ? c / s : 0), (s > 0 ? sy / s : 0), (s > 0 ? hp / s : 0) }'
    done
done

"$PY" - "$RAW_CSV" "$MD_OUT" "$ROUNDS" "$DURATION" "$CLIENTS" \
    "$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)" <<'PYEOF' || die "summary failed"
import csv, statistics, sys, datetime
raw, out, rounds, duration, clients, commit = sys.argv[1:7]
rows = list(csv.DictReader(open(raw)))
def med(target, f):
    vals = [f(r) for r in rows if r["target"] == target and int(r["sessions"]) > 0]
    return statistics.median(vals) if vals else 0.0
cps = {t: med(t, lambda r: float(r["conn_per_s"])) for t in ("direct", "haproxy", "sqlyard")}
srv = {t: med(t, lambda r: int(r["server_connections"]) / int(r["sessions"])) for t in cps}
sy = med("sqlyard", lambda r: int(r["sqlyard_cpu_us"]) / int(r["sessions"]))
hp = med("haproxy", lambda r: int(r["haproxy_cpu_us"]) / int(r["sessions"]))
errors = {t: sum(int(r["errors"]) for r in rows if r["target"] == t) for t in cps}
lines = [
    "# New connections: the PHP pattern (connect with a database, one SELECT, close)",
    "",
    f"- date: {datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')}, commit {commit}",
    f"- settings: ROUNDS={rounds} DURATION={duration}s CLIENTS={clients} (PHP mysqli workers), medians over rounds",
    "",
    "| target | connections/s | server connections opened per client session | proxy CPU µs per connection | errors |",
    "|---|---|---|---|---|",
    f"| direct | {cps['direct']:,.0f} | {srv['direct']:.4f} | – | {errors['direct']} |",
    f"| haproxy | {cps['haproxy']:,.0f} | {srv['haproxy']:.4f} | {hp:.1f} | {errors['haproxy']} |",
    f"| sqlyard | {cps['sqlyard']:,.0f} | {srv['sqlyard']:.4f} | {sy:.1f} | {errors['sqlyard']} |",
    "",
    f"- sqlyard/direct: {cps['sqlyard'] / cps['direct'] if cps['direct'] else 0:.2f} (target ≥ 1.0)",
    f"- sqlyard/haproxy: {cps['sqlyard'] / cps['haproxy'] if cps['haproxy'] else 0:.2f} (target ≥ 1.5)",
    f"- sqlyard server connections per client session: {srv['sqlyard'] * 100:.2f}% (target ≤ 1%)",
    f"- CPU per connection sqlyard/haproxy: {sy / hp if hp else 0:.2f} (target ≤ 1.0)",
    "",
]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PYEOF
log "wrote $MD_OUT and $RAW_CSV"
exit 0
