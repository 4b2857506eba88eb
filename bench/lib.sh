# shellcheck shell=bash
# Shared helpers for the bench scripts: start/stop the sqlyard sandbox and
# other children by pid, wait for ports, read /proc counters.
# Sourced by run.sh and idle_memory.sh; not meant to be run on its own.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
SQLYARD_BIN="$REPO_DIR/target/release/sqlyard"
# shellcheck disable=SC2034  # used by the scripts that source this file
PY=/usr/bin/python3

# pids we started, stopped in reverse order by cleanup().
# CURRENT_PID: a short-lived child (one sysbench run), stopped first.
CURRENT_PID=""
CHILD_PIDS=()
CHILD_SIGS=()
WORK_DIR=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 2; }

# require_tools TOOL...: dies naming the first one not on PATH.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool is not installed"
    done
}

# alive PID: true if the process exists and is not a zombie.
alive() {
    local pid=$1 state
    [[ -r /proc/$pid/stat ]] || return 1
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# register_child PID SIGNAL: remember a child to stop with SIGNAL on exit.
register_child() { CHILD_PIDS+=("$1"); CHILD_SIGS+=("$2"); }

# stop_pid PID SIGNAL [GRACE_SECONDS]: signal, wait, then SIGKILL.
stop_pid() {
    local pid=$1 sig=$2 grace=${3:-30} i
    alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$sig" "$pid" 2>/dev/null
    for ((i = 0; i < grace * 10; i++)); do
        alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.1
    done
    log "pid $pid did not stop on SIG$sig within ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM HUP
    if [[ -n $CURRENT_PID ]]; then
        stop_pid "$CURRENT_PID" TERM 5
    fi
    for ((i = ${#CHILD_PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${CHILD_PIDS[$i]}" "${CHILD_SIGS[$i]}" 60
    done
    if [[ -n $WORK_DIR && -d $WORK_DIR ]]; then
        rm -rf "$WORK_DIR"
    fi
    exit "$rc"
}

on_signal() {
    log "interrupted; stopping everything we started"
    exit 130
}

install_traps() {
    trap cleanup EXIT
    trap on_signal INT TERM HUP
}

# port_free PORT: true if nothing listens on 127.0.0.1:PORT.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

require_ports_free() {
    local p
    for p in "$@"; do
        port_free "$p" || die "port $p is already in use (another sandbox?); set other ports via env"
    done
}

build_release() {
    if [[ ${SKIP_BUILD:-0} == 1 ]]; then
        log "SKIP_BUILD=1: using existing $SQLYARD_BIN"
    else
        log "building sqlyard (release)"
        (cd "$REPO_DIR" && cargo build --release --bin sqlyard) >&2 || die "cargo build failed"
    fi
    [[ -x $SQLYARD_BIN ]] || die "$SQLYARD_BIN not found"
}

# start_sandbox BASE_PORT ROUTER_PORT ADMIN_PORT METRICS_PORT
# SANDBOX_EXTRA adds arguments (e.g. "--tls"). Sets SANDBOX_PID. Output goes to $WORK_DIR/sandbox.{out,err}.
# setsid: a terminal Ctrl-C reaches only this script, whose trap then stops
# the sandbox in order (the sandbox stops its mariadbd children itself).
start_sandbox() {
    local base=$1 port=$2 admin=$3 metrics=$4
    require_ports_free "$base" "$((base + 1))" "$((base + 2))" "$port" "$admin" "$metrics"
    # shellcheck disable=SC2086 # SANDBOX_EXTRA is a list of words
    setsid "$SQLYARD_BIN" sandbox --base-port "$base" --port "$port" \
        --admin-port "$admin" --metrics-port "$metrics" ${SANDBOX_EXTRA:-} \
        >"$WORK_DIR/sandbox.out" 2>"$WORK_DIR/sandbox.err" </dev/null &
    SANDBOX_PID=$!
    register_child "$SANDBOX_PID" INT
    log "sandbox started (pid $SANDBOX_PID); waiting for the router on port $port"
}

# wait_router PORT [TIMEOUT]: until `SELECT 1` through the router works.
wait_router() {
    local port=$1 timeout=${2:-180} i
    for ((i = 0; i < timeout * 2; i++)); do
        alive "$SANDBOX_PID" || {
            cat "$WORK_DIR/sandbox.err" >&2
            die "the sandbox exited during start-up"
        }
        if mariadb -h127.0.0.1 -P"$port" -uapp -papp_pw -N -e 'SELECT 1' sbtest >/dev/null 2>&1; then
            grep -m1 'config:' "$WORK_DIR/sandbox.out" >&2 || true
            log "router answers on port $port"
            return 0
        fi
        sleep 0.5
    done
    tail -20 "$WORK_DIR/sandbox.err" >&2
    die "the router did not answer within ${timeout}s"
}

# cpu_ticks PID: utime+stime of the whole process (all threads), clock ticks.
cpu_ticks() {
    # Fields after the "(comm)" field: state is 1st, utime 12th, stime 13th.
    sed -e 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# rss_kib PID: VmRSS in KiB.
rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# start_haproxy PORT PRIMARY_PORT [SPLIT_PORT REPLICA_PORT...]: haproxy in
# `mode tcp` (a plain forwarder) from 127.0.0.1:PORT to the primary, and
# from SPLIT_PORT round-robin (per connection) over the replicas, in the
# foreground (-db) as our child; waits until it forwards. Sets HAPROXY_PID.
start_haproxy() {
    local port=$1 primary=$2 i r split_port=${3:-} replicas=("${@:4}")
    require_ports_free "$port" ${split_port:+"$split_port"}
    cat >"$WORK_DIR/haproxy.cfg" <<HAP
global
    maxconn 4096

defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h

listen mysql_primary
    bind 127.0.0.1:$port
    server primary 127.0.0.1:$primary
HAP
    if [[ -n $split_port ]]; then
        printf '\nlisten mysql_replicas\n    bind 127.0.0.1:%s\n    balance roundrobin\n' "$split_port" \
            >>"$WORK_DIR/haproxy.cfg"
        for r in "${replicas[@]}"; do
            printf '    server replica_%s 127.0.0.1:%s\n' "$r" "$r" >>"$WORK_DIR/haproxy.cfg"
        done
    fi
    haproxy -c -q -f "$WORK_DIR/haproxy.cfg" || die "haproxy rejected its config"
    setsid haproxy -db -f "$WORK_DIR/haproxy.cfg" \
        >"$WORK_DIR/haproxy.log" 2>&1 </dev/null &
    HAPROXY_PID=$!
    register_child "$HAPROXY_PID" TERM
    for ((i = 0; i < 50; i++)); do
        alive "$HAPROXY_PID" || { cat "$WORK_DIR/haproxy.log" >&2; die "haproxy exited"; }
        mariadb -h127.0.0.1 -P"$port" -uapp -papp_pw -N -e 'SELECT 1' sbtest >/dev/null 2>&1 && break
        sleep 0.2
    done
    ((i < 50)) || die "haproxy does not forward to the primary"
    log "haproxy (pid $HAPROXY_PID) forwards 127.0.0.1:$port -> primary :$primary"
}

# port_of TARGET: the port of direct (the primary), haproxy, haproxy_split
# or sqlyard; uses PRIMARY_PORT, HAPROXY_PORT, HAPROXY_SPLIT_PORT and
# ROUTER_PORT.
port_of() {
    case $1 in
    direct) echo "$PRIMARY_PORT" ;;
    haproxy) echo "$HAPROXY_PORT" ;;
    haproxy_split) echo "$HAPROXY_SPLIT_PORT" ;;
    sqlyard) echo "$ROUTER_PORT" ;;
    esac
}

# sb_args TESTSPEC: "name:opt1,opt2" -> "name --opt1=on --opt2=on".
sb_args() {
    local name=${1%%:*} opts opt
    printf '%s\n' "$name"
    if [[ $1 == *:* ]]; then
        IFS=, read -ra opts <<<"${1#*:}"
        for opt in "${opts[@]}"; do
            printf -- '--%s=on\n' "$opt"
        done
    fi
}
