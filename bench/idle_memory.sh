#!/usr/bin/env bash
# Memory cost of idle client connections in sqlyard: RSS of the sqlyard
# process before and while CONNS idle clients (each ran one SELECT 1) are
# connected, and how many backend connections the router holds meanwhile.
# See bench/README.md.
#
# Settings (environment):
#   CONNS=2000  SETTLE=3 (seconds to wait before reading RSS)
#   BASE_PORT=23411 (servers BASE_PORT..+2)  ROUTER_PORT=6143  ADMIN_PORT=6142
#   METRICS_PORT=9143  TARGET_KIB=64  SKIP_BUILD=0
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONNS=${CONNS:-2000}
SETTLE=${SETTLE:-3}
BASE_PORT=${BASE_PORT:-23411}
ROUTER_PORT=${ROUTER_PORT:-6143}
ADMIN_PORT=${ADMIN_PORT:-6142}
METRICS_PORT=${METRICS_PORT:-9143}
TARGET_KIB=${TARGET_KIB:-64}

"$PY" -c 'import pymysql' 2>/dev/null || die "$PY has no pymysql (apt-get install python3-pymysql)"

# The router (and the holder) need a descriptor per connection.
want=$((CONNS * 2 + 1024))
if (($(ulimit -n) < want)); then
    ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" || die "cannot raise ulimit -n"
fi
log "ulimit -n = $(ulimit -n)"

install_traps
WORK_DIR=$(mktemp -d /tmp/sqlyard-idle.XXXXXX)

build_release
start_sandbox "$BASE_PORT" "$ROUTER_PORT" "$ADMIN_PORT" "$METRICS_PORT"
wait_router "$ROUTER_PORT"

# backend_conns PORT: app sessions on that server, without our own.
backend_conns() {
    mariadb -h127.0.0.1 -P"$1" -uapp -papp_pw -N -e \
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND ID <> CONNECTION_ID()" 2>/dev/null ||
        echo "?"
}
backend_summary() {
    local out="" p
    for p in "$BASE_PORT" "$((BASE_PORT + 1))" "$((BASE_PORT + 2))"; do
        out+=" :$p=$(backend_conns "$p")"
    done
    echo "${out# }"
}

sleep "$SETTLE"
rss0=$(rss_kib "$SANDBOX_PID")
back0=$(backend_summary)
log "baseline: sqlyard VmRSS ${rss0} KiB; backend app connections (primary first): $back0"

log "opening $CONNS idle client connections through the router"
ready="$WORK_DIR/ready"
"$PY" "$BENCH_DIR/idle_conns.py" 127.0.0.1 "$ROUTER_PORT" app app_pw sbtest "$CONNS" "$ready" \
    >"$WORK_DIR/holder.log" 2>&1 </dev/null &
HOLDER_PID=$!
register_child "$HOLDER_PID" TERM
until [[ -f $ready ]]; do
    alive "$HOLDER_PID" || { cat "$WORK_DIR/holder.log" >&2; die "the connection holder exited"; }
    sleep 0.5
done
holder=$(cat "$ready")
log "holder: $holder"
opened=$(sed -n 's/^opened=\([0-9]*\).*/\1/p' "$ready")
((opened > 0)) || die "no client connection could be opened"

sleep "$SETTLE"
rss1=$(rss_kib "$SANDBOX_PID")
back1=$(backend_summary)
clients_seen=$(grep -c . <(ss -Htn state established "( sport = :$ROUTER_PORT )" 2>/dev/null) || true)

stop_pid "$HOLDER_PID" TERM 30
sleep "$SETTLE"
rss2=$(rss_kib "$SANDBOX_PID")
back2=$(backend_summary)

per_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="$opened" 'BEGIN { printf "%.1f", (b - a) / n }')
verdict=$(awk -v x="$per_conn" -v t="$TARGET_KIB" 'BEGIN { print (x < t) ? "PASS" : "FAIL" }')

cat <<EOF

Idle client connections through sqlyard
  client connections held:        $opened of $CONNS (established on the router port: $clients_seen)
  sqlyard VmRSS before:           $rss0 KiB
  sqlyard VmRSS with clients:     $rss1 KiB
  sqlyard VmRSS after they quit:  $rss2 KiB
  KiB per idle client connection: $per_conn  (target < $TARGET_KIB KiB: $verdict)
  backend app connections (primary first), before: $back0
                                   with clients:   $back1
                                   after quit:     $back2
EOF
exit 0
