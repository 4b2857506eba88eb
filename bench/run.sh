#!/usr/bin/env bash
# sqlyard throughput/CPU benchmark: sysbench against the primary directly,
# through haproxy (mode tcp, a plain forwarder) and through sqlyard, with the
# three targets alternated round by round so that machine noise hits all of
# them alike. See bench/README.md.
#
# The default (MODE=split) is what users run: sqlyard with the read/write
# split as the sandbox configures it, against direct and haproxy to the
# primary; oltp_read_only runs with --skip-trx=on so its reads may leave the
# primary. Tests that only read also run through haproxy_split: haproxy
# balancing connections round-robin over the replicas, which shows what
# spreading reads over the replicas costs or gains on this machine by
# itself, with no statement routing. It reports the share of the sysbench user's SELECTs that the
# replicas served, counted by the servers (information_schema.USER_STATISTICS).
# MODE=primary runs the plain tests (read_only inside transactions, which
# stay on the primary).
#
# Settings (environment):
#   MODE=split|primary|tls  ROUNDS=5  DURATION=10  THREADS="1 4 16"
#   TESTS="oltp_point_select oltp_read_only:skip-trx oltp_read_write"
#     (MODE=primary: "oltp_point_select oltp_read_only oltp_read_write";
#     "name:opt1,opt2" passes --opt1=on --opt2=on to sysbench)
#   TABLES=4  TABLE_SIZE=10000  WARMUP=5 (seconds per target, not recorded)
#   BASE_PORT=23401 (servers BASE_PORT..+2)  ROUTER_PORT=6133  ADMIN_PORT=6132
#   METRICS_PORT=9133  HAPROXY_PORT=6134  HAPROXY_SPLIT_PORT=6135
#   GATE_THREADS=16  SKIP_BUILD=0
#   RESULTS_DIR=bench/results
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${MODE:-split}
# MODE=tls: the TLS costs (client and backend TLS, new TLS connections).
[[ $MODE == tls ]] && exec "$BENCH_DIR/tls.sh"
case $MODE in
split) DEFAULT_TESTS="oltp_point_select oltp_read_only:skip-trx oltp_read_write" RESULTS_NAME=latest WARMUP_TEST=oltp_read_only:skip-trx ;;
primary) DEFAULT_TESTS="oltp_point_select oltp_read_only oltp_read_write" RESULTS_NAME=latest-primary WARMUP_TEST=oltp_read_only ;;
*) echo "MODE must be split or primary, not '$MODE'" >&2 && exit 2 ;;
esac
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
THREADS=${THREADS:-"1 4 16"}
TESTS=${TESTS:-$DEFAULT_TESTS}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-10000}
WARMUP=${WARMUP:-5}
BASE_PORT=${BASE_PORT:-23401}
ROUTER_PORT=${ROUTER_PORT:-6133}
ADMIN_PORT=${ADMIN_PORT:-6132}
METRICS_PORT=${METRICS_PORT:-9133}
HAPROXY_PORT=${HAPROXY_PORT:-6134}
HAPROXY_SPLIT_PORT=${HAPROXY_SPLIT_PORT:-6135}
GATE_THREADS=${GATE_THREADS:-16}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

TARGETS=(direct haproxy sqlyard)
CLK_TCK=$(getconf CLK_TCK)

require_tools sysbench haproxy mariadb "$PY"

install_traps
WORK_DIR=$(mktemp -d /tmp/sqlyard-bench.XXXXXX)
mkdir -p "$RESULTS_DIR"
RAW_CSV="$RESULTS_DIR/$RESULTS_NAME.csv"
MD_OUT="$RESULTS_DIR/$RESULTS_NAME.md"

build_release
start_sandbox "$BASE_PORT" "$ROUTER_PORT" "$ADMIN_PORT" "$METRICS_PORT"
wait_router "$ROUTER_PORT"
PRIMARY_PORT=$BASE_PORT

# --- haproxy: plain TCP forwarder to the primary (and, on its own port,
# round-robin over the replicas), in the foreground (-db).
start_haproxy "$HAPROXY_PORT" "$PRIMARY_PORT" "$HAPROXY_SPLIT_PORT" $((BASE_PORT + 1)) $((BASE_PORT + 2))

SB_COMMON=(--mysql-host=127.0.0.1 --mysql-user=app --mysql-password=app_pw
    --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE")

# --- prepare once, directly on the primary.
log "sysbench prepare: $TABLES tables x $TABLE_SIZE rows on the primary"
sysbench oltp_read_write "${SB_COMMON[@]}" --mysql-port="$PRIMARY_PORT" cleanup >/dev/null 2>&1
sysbench oltp_read_write "${SB_COMMON[@]}" --mysql-port="$PRIMARY_PORT" prepare \
    >"$WORK_DIR/prepare.log" 2>&1 || { cat "$WORK_DIR/prepare.log" >&2; die "sysbench prepare failed"; }

# The replicas must hold the tables before reads may go there.
for port in $((BASE_PORT + 1)) $((BASE_PORT + 2)); do
    for ((i = 0; i < 300; i++)); do
        n=$(mariadb -h127.0.0.1 -P"$port" -uapp -papp_pw -N -B \
            -e "SELECT COUNT(*) FROM sbtest.sbtest$TABLES" 2>/dev/null)
        [[ $n == "$TABLE_SIZE" ]] && break
        sleep 0.2
    done
    ((i < 300)) || die "the replica on port $port did not catch up with the prepared tables"
done

# questions PORT: the server's Questions counter (statements from all clients).
questions() {
    mariadb -h127.0.0.1 -P"$1" -uapp -papp_pw -N -B -e "SHOW GLOBAL STATUS LIKE 'Questions'" 2>/dev/null |
        awk '{ print $2 + 0 }' | grep . || echo 0
}
# server_questions: "primary replicas" Questions counters (replicas summed).
server_questions() {
    echo "$(questions "$PRIMARY_PORT") $(($(questions "$((BASE_PORT + 1))") + $(questions "$((BASE_PORT + 2))")))"
}

# selects PORT: Select_commands of the sysbench user (app) in the server's
# USER_STATISTICS (userstat=ON in the sandbox). Unlike Com_select it leaves
# out sqlyard's monitor and heartbeat, which run as user router; read as
# router, because app may only see its own row.
selects() {
    mariadb -h127.0.0.1 -P"$1" -urouter -prouter_pw -N -B -e \
        "SELECT COALESCE(SUM(SELECT_COMMANDS), 0) FROM information_schema.USER_STATISTICS WHERE USER = 'app'" \
        2>/dev/null | grep . || echo 0
}
# server_selects: "primary replicas" app SELECT counters (replicas summed).
server_selects() {
    echo "$(selects "$PRIMARY_PORT") $(($(selects "$((BASE_PORT + 1))") + $(selects "$((BASE_PORT + 2))")))"
}

# sb_run TEST THREADS SECONDS PORT OUTFILE: one sysbench run, interruptible.
sb_run() {
    local args
    mapfile -t args < <(sb_args "$1")
    sysbench "${args[@]}" "${SB_COMMON[@]}" --mysql-port="$4" --threads="$2" --time="$3" \
        --report-interval=0 --percentile=95 run >"$5" 2>&1 </dev/null &
    CURRENT_PID=$!
    wait "$CURRENT_PID"
    local rc=$?
    CURRENT_PID=""
    return $rc
}

if ((WARMUP > 0)); then
    for target in "${TARGETS[@]}" haproxy_split; do
        log "warm-up: $WARMUP_TEST via $target for ${WARMUP}s"
        if ! sb_run "$WARMUP_TEST" 4 "$WARMUP" "$(port_of "$target")" "$WORK_DIR/warmup.log"; then
            log "warm-up via $target failed:"
            tail -5 "$WORK_DIR/warmup.log" >&2
        fi
    done
fi

"$PY" "$BENCH_DIR/summarize.py" header >"$RAW_CSV"
read -ra TEST_LIST <<<"$TESTS"
read -ra THREAD_LIST <<<"$THREADS"
# targets_of TEST: the targets a test runs through; haproxy_split only
# where every statement reads (the replicas are read-only).
targets_of() {
    case $1 in
    *write* | *insert* | *delete* | *update*) echo "${TARGETS[*]}" ;;
    *) echo "${TARGETS[*]} haproxy_split" ;;
    esac
}
total=0
for test in $TESTS; do
    read -ra tt <<<"$(targets_of "$test")"
    total=$((total + ${#THREAD_LIST[@]} * ROUNDS * ${#tt[@]}))
done
n=0
started=$(date +%s)
log "measuring: ${#TEST_LIST[@]} tests x ${#THREAD_LIST[@]} thread counts x $ROUNDS rounds x 3-4 targets x ${DURATION}s ($total runs)"
printf '%-24s %4s %5s %-13s %10s %8s %12s %12s %9s\n' test thr round target qps p95_ms "sy_cpu_us/q" "hap_cpu_us/q" "sel_repl"
for test in "${TEST_LIST[@]}"; do
    read -ra test_targets <<<"$(targets_of "$test")"
    nt=${#test_targets[@]}
    for threads in "${THREAD_LIST[@]}"; do
        for ((round = 1; round <= ROUNDS; round++)); do
            # Rotate the order each round so no target always runs first.
            for ((k = 0; k < nt; k++)); do
                target=${test_targets[$(((k + round - 1) % nt))]}
                n=$((n + 1))
                alive "$SANDBOX_PID" || die "the sandbox died"
                alive "$HAPROXY_PID" || die "haproxy died"
                out="$WORK_DIR/run.log"
                # Where sqlyard sent the statements (for read/write split).
                [[ $target == sqlyard ]] && read -r qp0 qr0 < <(server_questions)
                read -r sp0 sr0 < <(server_selects)
                sy0=$(cpu_ticks "$SANDBOX_PID")
                hp0=$(cpu_ticks "$HAPROXY_PID")
                t0=$(date +%s.%N)
                sb_run "$test" "$threads" "$DURATION" "$(port_of "$target")" "$out"
                rc=$?
                t1=$(date +%s.%N)
                sy1=$(cpu_ticks "$SANDBOX_PID")
                hp1=$(cpu_ticks "$HAPROXY_PID")
                read -r sp1 sr1 < <(server_selects)
                s_primary=$((sp1 - sp0)) s_replicas=$((sr1 - sr0))
                q_primary="" q_replicas=""
                if [[ $target == sqlyard ]]; then
                    read -r qp1 qr1 < <(server_questions)
                    q_primary=$((qp1 - qp0)) q_replicas=$((qr1 - qr0))
                fi
                sy_us=$(((sy1 - sy0) * 1000000 / CLK_TCK))
                hp_us=$(((hp1 - hp0) * 1000000 / CLK_TCK))
                secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
                if parsed=$("$PY" "$BENCH_DIR/summarize.py" parse "$out") && ((rc == 0)); then
                    read -r queries qps p95 <<<"$parsed"
                    status=ok
                else
                    queries=0 qps=0 p95=0 status=fail
                    log "sysbench $test via $target failed (rc $rc):"
                    tail -5 "$out" >&2
                fi
                echo "$test,$threads,$round,$target,$status,$queries,$qps,$p95,$secs,$sy_us,$hp_us,$q_primary,$q_replicas,$s_primary,$s_replicas" >>"$RAW_CSV"
                read -r sy_q hp_q < <(awk -v q="$queries" -v s="$sy_us" -v h="$hp_us" \
                    'BEGIN { if (q > 0) printf "%.1f %.1f", s / q, h / q; else print "- -" }')
                sel_repl=$(awk -v p="$s_primary" -v r="$s_replicas" \
                    'BEGIN { if (p + r > 0) printf "%.0f%%", 100 * r / (p + r); else print "-" }')
                printf '%-24s %4s %5s %-13s %10.1f %8.2f %12s %12s %9s  [%d/%d]\n' \
                    "$test" "$threads" "$round" "$target" "$qps" "$p95" "$sy_q" "$hp_q" "$sel_repl" "$n" "$total"
            done
        done
    done
done
log "measurements done in $(($(date +%s) - started)) s"

"$PY" "$BENCH_DIR/summarize.py" summary "$RAW_CSV" "$MD_OUT" --gate-threads "$GATE_THREADS" \
    --meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --meta "commit=$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    --meta "settings=MODE=$MODE ROUNDS=$ROUNDS DURATION=${DURATION}s THREADS=\"$THREADS\" TESTS=\"$TESTS\" TABLES=$TABLES TABLE_SIZE=$TABLE_SIZE" \
    --meta "machine=$(nproc) cores, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" \
    --meta "versions=$(sysbench --version), $(haproxy -v | head -1 | cut -d' ' -f1-3), $(mariadb --version | grep -o 'Distrib [^,]*')" ||
    die "summarize.py failed"
log "wrote $MD_OUT and $RAW_CSV"
exit 0
