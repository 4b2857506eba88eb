#!/usr/bin/env bash
# TLS cost (issue 13), in one run against a `sqlyard sandbox --tls`
# (require_secure_transport is turned off on its servers for the run, so
# that plaintext baselines can reach them too). `MODE=tls bench/run.sh`
# runs this script.
#
# Persistent connections: sysbench (THREADS threads) through
#   direct        the primary, plaintext
#   haproxy       haproxy mode tcp to the primary, plaintext
#   sqlyard       sqlyard, plaintext client, plaintext backend
#   sqlyard_tls   the same sqlyard, TLS client (sysbench --mysql-ssl=on)
#   sqlyard_btls  a second sqlyard, plaintext client, [backend_tls] mode = "require"
# alternated round by round; medians of ROUNDS rounds, sqlyard CPU per query
# from /proc, sysbench's own CPU per query from /usr/bin/time.
# Targets: sqlyard_tls qps >= 0.90x sqlyard, CPU/query <= 1.3x.
#
# New connections (one per page, the PHP pattern): CLIENTS PHP mysqli
# workers connect, SELECT 1, close, through sqlyard in plaintext and over
# TLS (server certificate verified against the sandbox CA; the router's
# certificate is ECDSA P-256). Target: >= 1,000 TLS connections per second.
#
# Settings (environment): ROUNDS=5 DURATION=10 THREADS=16 CLIENTS=16
#   TESTS="oltp_point_select oltp_read_only:skip-trx" TABLES=4 TABLE_SIZE=10000
#   BASE_PORT=23421 PORT=6153 (sandbox router 6153, admin 6152, metrics 9153;
#   sqlyard 6155/6156/9155; sqlyard_btls 6157/6158/9157; haproxy 6154)
#   SKIP_BUILD=0 RESULTS_DIR=bench/results
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
THREADS=${THREADS:-16}
CLIENTS=${CLIENTS:-16}
TESTS=${TESTS:-"oltp_point_select oltp_read_only:skip-trx"}
TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-10000}
BASE_PORT=${BASE_PORT:-23421}
PORT=${PORT:-6153}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
HAPROXY_PORT=$((PORT + 1))
PLAIN_PORT=$((PORT + 2))
BTLS_PORT=$((PORT + 4))
CLK_TCK=$(getconf CLK_TCK)

require_tools sysbench haproxy mariadb php "$PY" /usr/bin/time

install_traps
WORK_DIR=$(mktemp -d /tmp/sqlyard-bench-tls.XXXXXX)
mkdir -p "$RESULTS_DIR"
RAW_CSV="$RESULTS_DIR/tls.csv"
MD_OUT="$RESULTS_DIR/tls.md"

build_release
SANDBOX_EXTRA=--tls start_sandbox "$BASE_PORT" "$PORT" $((PORT - 1)) $((PORT + 3000))
wait_router "$PORT"
PRIMARY_PORT=$BASE_PORT
CONFIG=$(awk '/config:/ { print $2; exit }' "$WORK_DIR/sandbox.out")
TLS_DIR=$(dirname "$CONFIG")/tls
[[ -f $TLS_DIR/ca.pem ]] || die "no sandbox CA in $TLS_DIR"

# sysbench --mysql-ssl=on reads these from its working directory.
cp "$TLS_DIR/ca.pem" "$WORK_DIR/cacert.pem"
cp "$TLS_DIR/client-cert.pem" "$WORK_DIR/client-cert.pem"
cp "$TLS_DIR/client-key.pem" "$WORK_DIR/client-key.pem"

# Plaintext baselines need the servers to accept plaintext.
for port in "$BASE_PORT" $((BASE_PORT + 1)) $((BASE_PORT + 2)); do
    mariadb -h127.0.0.1 -P"$port" -urouter -prouter_pw --ssl-ca="$TLS_DIR/ca.pem" \
        -e 'SET GLOBAL require_secure_transport = OFF' || die "cannot relax port $port"
done

# start_router NAME PORT BACKEND_MODE: a sqlyard process with the sandbox's
# config, its own ports, failover off, and [backend_tls] mode BACKEND_MODE.
start_router() {
    local name=$1 port=$2 mode=$3 cfg="$WORK_DIR/$1.toml"
    "$PY" - "$CONFIG" "$cfg" "$port" "$mode" "$WORK_DIR/$name.journal" <<'PYEOF'
import re, sys
src, dst, port, mode, journal = sys.argv[1:]
text = open(src).read()
port = int(port)
text = re.sub(r'^listen = ".*"$', f'listen = "127.0.0.1:{port}"', text, count=1, flags=re.M)
text = re.sub(r'^admin_listen = ".*"$', f'admin_listen = "127.0.0.1:{port + 1}"', text, count=1, flags=re.M)
text = re.sub(r'^metrics_listen = ".*"$', f'metrics_listen = "127.0.0.1:{port + 3000}"', text, count=1, flags=re.M)
text = re.sub(r'^mode = "verify-ca"$', f'mode = "{mode}"', text, count=1, flags=re.M)
text = re.sub(r'^enabled = .*$', 'enabled = false', text, count=1, flags=re.M)
text = re.sub(r'^journal = ".*"$', f'journal = "{journal}"', text, count=1, flags=re.M)
open(dst, "w").write(text)
PYEOF
    grep -q "mode = \"$mode\"" "$cfg" || die "could not set the backend TLS mode in $cfg"
    setsid "$SQLYARD_BIN" --config "$cfg" >"$WORK_DIR/$name.out" 2>"$WORK_DIR/$name.err" </dev/null &
    local pid=$!
    register_child "$pid" TERM
    for ((i = 0; i < 120; i++)); do
        mariadb -h127.0.0.1 -P"$port" -uapp -papp_pw -N -e 'SELECT 1' sbtest >/dev/null 2>&1 && break
        alive "$pid" || { cat "$WORK_DIR/$name.err" >&2; die "$name exited"; }
        sleep 0.5
    done
    ((i < 120)) || die "$name does not answer on port $port"
    log "$name (pid $pid) on port $port, backend TLS mode $mode"
    eval "${name}_PID=$pid"
}
start_router plain "$PLAIN_PORT" off
start_router btls "$BTLS_PORT" require
start_haproxy "$HAPROXY_PORT" "$PRIMARY_PORT"

SB_COMMON=(--mysql-host=127.0.0.1 --mysql-user=app --mysql-password=app_pw
    --mysql-db=sbtest --tables="$TABLES" --table-size="$TABLE_SIZE")
log "sysbench prepare: $TABLES tables x $TABLE_SIZE rows on the primary"
sysbench oltp_read_write "${SB_COMMON[@]}" --mysql-port="$PRIMARY_PORT" cleanup >/dev/null 2>&1
sysbench oltp_read_write "${SB_COMMON[@]}" --mysql-port="$PRIMARY_PORT" prepare \
    >"$WORK_DIR/prepare.log" 2>&1 || { cat "$WORK_DIR/prepare.log" >&2; die "sysbench prepare failed"; }
sleep 3

# target -> port, sysbench TLS, process measured
tport() { case $1 in direct) echo "$PRIMARY_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;;
    sqlyard | sqlyard_tls) echo "$PLAIN_PORT" ;; sqlyard_btls) echo "$BTLS_PORT" ;; esac }
tssl() { [[ $1 == sqlyard_tls ]] && echo on || echo off; }
tpid() { case $1 in haproxy) echo "$HAPROXY_PID" ;; sqlyard | sqlyard_tls) echo "$plain_PID" ;;
    sqlyard_btls) echo "$btls_PID" ;; *) echo "" ;; esac }

TARGETS=(direct haproxy sqlyard sqlyard_tls sqlyard_btls)
echo "kind,test,round,target,qps_or_cps,cpu_us,count,client_cpu_us" >"$RAW_CSV"
for test in $TESTS; do
    mapfile -t args < <(sb_args "$test")
    for target in "${TARGETS[@]}"; do # warm-up
        (cd "$WORK_DIR" && sysbench "${args[@]}" "${SB_COMMON[@]}" --mysql-port="$(tport "$target")" \
            --mysql-ssl="$(tssl "$target")" --threads=4 --time=3 run >/dev/null 2>&1)
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for ((k = 0; k < ${#TARGETS[@]}; k++)); do
            target=${TARGETS[$(((k + round - 1) % ${#TARGETS[@]}))]}
            pid=$(tpid "$target")
            c0=0; [[ -n $pid ]] && c0=$(cpu_ticks "$pid")
            # the client's own CPU too: with TLS, sysbench encrypts and
            # decrypts every query on the same two cores
            (cd "$WORK_DIR" && /usr/bin/time -f '%U %S' -o "$WORK_DIR/client.time" \
                sysbench "${args[@]}" "${SB_COMMON[@]}" --mysql-port="$(tport "$target")" \
                --mysql-ssl="$(tssl "$target")" --threads="$THREADS" --time="$DURATION" \
                --report-interval=0 run >"$WORK_DIR/run.log" 2>&1 </dev/null)
            c1=0; [[ -n $pid ]] && c1=$(cpu_ticks "$pid")
            read -r queries qps _ < <("$PY" "$BENCH_DIR/summarize.py" parse "$WORK_DIR/run.log" || echo "0 0 0")
            cpu_us=$(((c1 - c0) * 1000000 / CLK_TCK))
            client_us=$(awk 'END { printf "%d", ($1 + $2) * 1000000 }' "$WORK_DIR/client.time")
            echo "sysbench,$test,$round,$target,$qps,$cpu_us,$queries,$client_us" >>"$RAW_CSV"
            printf '%-24s round %d %-13s %10.1f qps  %8.1f cpu_us/q\n' "$test" "$round" "$target" "$qps" \
                "$(awk -v c="$cpu_us" -v q="$queries" 'BEGIN { print (q > 0 ? c / q : 0) }')" >&2
        done
    done
done

# New connections: CLIENTS PHP workers, plaintext and TLS (verified).
run_clients() { # PORT SECONDS [CA]
    local k pids=()
    for ((k = 0; k < CLIENTS; k++)); do
        php "$BENCH_DIR/connect_loop.php" 127.0.0.1 "$1" app app_pw sbtest "$2" ${3:+"$3"} \
            >"$WORK_DIR/client.$k" 2>&1 </dev/null &
        pids+=($!)
    done
    for k in "${pids[@]}"; do wait "$k"; done
    awk -F'\t' '/^sessions/ { s += $2; e += $4; c += $6 } END { print s + 0, e + 0, c + 0 }' "$WORK_DIR"/client.*
}
run_clients "$PLAIN_PORT" 3 >/dev/null
run_clients "$PLAIN_PORT" 3 "$TLS_DIR/ca.pem" >/dev/null
for ((round = 1; round <= ROUNDS; round++)); do
    for target in connect connect_tls; do
        ca=""; [[ $target == connect_tls ]] && ca="$TLS_DIR/ca.pem"
        c0=$(cpu_ticks "$plain_PID")
        t0=$(date +%s.%N)
        read -r sessions errors client_us < <(run_clients "$PLAIN_PORT" "$DURATION" $ca)
        t1=$(date +%s.%N)
        c1=$(cpu_ticks "$plain_PID")
        cps=$(awk -v s="$sessions" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", s / (b - a) }')
        cpu_us=$(((c1 - c0) * 1000000 / CLK_TCK))
        echo "connect,php,$round,$target,$cps,$cpu_us,$sessions,$client_us" >>"$RAW_CSV"
        log "round $round $target: $cps connections/s, $errors errors, $((sessions > 0 ? cpu_us / sessions : 0)) cpu_us/connection (PHP clients: $((sessions > 0 ? client_us / sessions : 0)))"
        ((errors == 0)) || log "WARNING: $errors failed connections"
    done
done

"$PY" - "$RAW_CSV" "$MD_OUT" "$(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null)" \
    "ROUNDS=$ROUNDS DURATION=${DURATION}s THREADS=$THREADS CLIENTS=$CLIENTS" <<'PYEOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
out = open(sys.argv[2], "w")
med = lambda xs: statistics.median(xs) if xs else 0.0
def group(kind, test, target):
    g = [r for r in rows if r["kind"] == kind and r["test"] == test and r["target"] == target]
    rate = med([float(r["qps_or_cps"]) for r in g])
    cpu = med([float(r["cpu_us"]) / float(r["count"]) for r in g if float(r["count"]) > 0])
    return rate, cpu

def client_cpu(target, kind="connect", test=None):
    g = [r for r in rows if r["kind"] == kind and r["target"] == target and float(r["count"]) > 0
         and (test is None or r["test"] == test)]
    return med([float(r["client_cpu_us"]) / float(r["count"]) for r in g if r.get("client_cpu_us")])
out.write(f"# sqlyard TLS benchmark\n\ncommit {sys.argv[3]}; {sys.argv[4]}; medians over rounds.\n\n")
out.write("| test | direct qps | haproxy qps | sqlyard qps | sqlyard TLS-client qps | TLS/plain qps | CPU µs/q plain | CPU µs/q TLS | TLS/plain CPU | sysbench CPU µs/q plain | sysbench CPU µs/q TLS | sqlyard TLS-backend qps | backend TLS/plain qps | CPU µs/q TLS-backend |\n")
out.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
ok = True
for test in dict.fromkeys(r["test"] for r in rows if r["kind"] == "sysbench"):
    d, _ = group("sysbench", test, "direct")
    h, _ = group("sysbench", test, "haproxy")
    p, pc = group("sysbench", test, "sqlyard")
    t, tc = group("sysbench", test, "sqlyard_tls")
    b, bc = group("sysbench", test, "sqlyard_btls")
    qr, cr = (t / p if p else 0), (tc / pc if pc else 0)
    ok = ok and qr >= 0.90 and cr <= 1.3
    sp, st = client_cpu("sqlyard", "sysbench", test), client_cpu("sqlyard_tls", "sysbench", test)
    out.write(f"| {test} | {d:.0f} | {h:.0f} | {p:.0f} | {t:.0f} | {qr:.2f} | {pc:.1f} | {tc:.1f} | {cr:.2f} | {sp:.1f} | {st:.1f} | {b:.0f} | {(b / p if p else 0):.2f} | {bc:.1f} |\n")
pc_, pcpu = group("connect", "php", "connect")
tc_, tcpu = group("connect", "php", "connect_tls")
pcl, tcl = client_cpu("connect"), client_cpu("connect_tls")
out.write("\n| new connections (PHP mysqli) | connections/s | sqlyard CPU µs/connection | PHP clients CPU µs/connection |\n|---|---|---|---|\n")
out.write(f"| plaintext | {pc_:.0f} | {pcpu:.0f} | {pcl:.0f} |\n| TLS (verified, ECDSA P-256) | {tc_:.0f} | {tcpu:.0f} | {tcl:.0f} |\n")
# The machine's two cores bound the rate whatever sqlyard does: the
# clients' own CPU per connection alone allows at most this many.
cores = __import__("os").cpu_count() or 1
if tcl:
    out.write(f"\nPHP clients alone, at {tcl:.0f} µs per TLS connection on {cores} cores, allow at most {cores * 1e6 / tcl:.0f} TLS connections/s with a free proxy; {cores * 1e6 / (tcl + tcpu):.0f} with sqlyard's {tcpu:.0f} µs.\n")
ok = ok and tc_ >= 1000
out.write(f"\nTargets (TLS qps >= 0.90x plaintext, CPU/query <= 1.3x, >= 1,000 TLS connections/s): {'PASS' if ok else 'FAIL'}\n")
out.close()
print(open(sys.argv[2]).read())
PYEOF
log "wrote $MD_OUT and $RAW_CSV"
exit 0
