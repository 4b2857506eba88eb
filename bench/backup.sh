#!/usr/bin/env bash
# Backups and rebuilds (issue 17) on a sysbench dataset of about 1 GB
# (TABLES x TABLE_SIZE rows), on the sandbox:
# - a backup's duration and MB/s (the user schemas' size on disk, from
#   information_schema, divided by the duration; the compressed size too);
# - the p95 latency of oltp_read_only at a fixed rate (about half of what
#   the machine sustains through sqlyard), BEFORE a backup and DURING one
#   (ROUNDS rounds; in each, runs alternating sqlyard and haproxy; medians),
#   through sqlyard (which drains the source replica) and through haproxy
#   (round-robin over the replicas, which keeps reading the source): the
#   target is p95 during <= 1.2 x before, through sqlyard;
# - the rebuild time of a replica from that backup (REBUILD SERVER ...
#   FROM BACKUP) and from a fresh dump of the other replica, streamed into
#   it as it is read (FROM '...').
# Writes bench/results/backup.md. Not run in CI.
#
# The backup's dump and compression run at nice 10 (the proxy keeps the CPU).
# On this one machine every server shares the same 2 cores, so the drained
# source's own reading still competes with the replica that serves.
#
# MAX_RATE (e.g. 8MiB) sets backup.max_rate for the whole run: the dump
# is read at most that fast, so the source server works more slowly.
#
# Settings (environment): TABLES=4 TABLE_SIZE=1100000 RUN_SECONDS=10
#   ROUNDS=2 MAX_RATE= BASE_PORT=24100 RESULTS_DIR=bench/results SKIP_BUILD=0
set -uo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TABLES=${TABLES:-4}
TABLE_SIZE=${TABLE_SIZE:-1100000}
RUN_SECONDS=${RUN_SECONDS:-10}
ROUNDS=${ROUNDS:-2}
MAX_RATE=${MAX_RATE:-}
BASE_PORT=${BASE_PORT:-24100}
ROUTER_PORT=$((BASE_PORT + 10))
ADMIN_PORT=$((BASE_PORT + 11))
METRICS_PORT=$((BASE_PORT + 12))
HAPROXY_PORT=$((BASE_PORT + 13))
HAPROXY_SPLIT_PORT=$((BASE_PORT + 14))
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}
mkdir -p "$RESULTS_DIR"

require_tools sysbench haproxy mariadb "$PY"
install_traps
WORK_DIR=$(mktemp -d /tmp/sqlyard-bench-backup.XXXXXX)
build_release
start_sandbox "$BASE_PORT" "$ROUTER_PORT" "$ADMIN_PORT" "$METRICS_PORT"
wait_router "$ROUTER_PORT"
PRIMARY_PORT=$BASE_PORT
R1=$((BASE_PORT + 1))
R2=$((BASE_PORT + 2))
start_haproxy "$HAPROXY_PORT" "$PRIMARY_PORT" "$HAPROXY_SPLIT_PORT" "$R1" "$R2"

admin() { mariadb -h127.0.0.1 -P"$ADMIN_PORT" -uadmin -padmin_pw -N -B -e "$1"; }
admin_rows() { mariadb -h127.0.0.1 -P"$ADMIN_PORT" -uadmin -padmin_pw -B -e "$1"; }
if [[ -n $MAX_RATE ]]; then
    CONFIG=$(admin "SHOW CONFIG" | awk -F'\t' '$2 == "file" { print $3; exit }')
    [[ -f $CONFIG ]] || die "cannot find the sandbox's config file (SHOW CONFIG: file)"
    sed -i "/^\[backup\]/a max_rate = \"$MAX_RATE\"" "$CONFIG"
    admin "RELOAD CONFIG" >/dev/null || die "RELOAD CONFIG refused max_rate = $MAX_RATE"
    admin "SHOW CONFIG" | grep -q "max_rate.*per second" || die "backup.max_rate not in effect"
    log "backup.max_rate = $MAX_RATE"
fi
SB=(--mysql-host=127.0.0.1 --mysql-user=app --mysql-password=app_pw --mysql-db=sbtest
    --tables="$TABLES" --table-size="$TABLE_SIZE")

log "sysbench prepare: $TABLES tables x $TABLE_SIZE rows on the primary"
sysbench oltp_read_only "${SB[@]}" --mysql-port="$PRIMARY_PORT" cleanup >/dev/null 2>&1
sysbench oltp_read_only "${SB[@]}" --mysql-port="$PRIMARY_PORT" --threads=2 prepare \
    >"$WORK_DIR/prepare.log" 2>&1 || { tail "$WORK_DIR/prepare.log" >&2; die "prepare failed"; }
for port in "$R1" "$R2"; do
    for ((i = 0; i < 1800; i++)); do
        n=$(mariadb -h127.0.0.1 -P"$port" -uapp -papp_pw -N -B \
            -e "SELECT COUNT(*) FROM sbtest.sbtest$TABLES" 2>/dev/null)
        [[ $n == "$TABLE_SIZE" ]] && break
        sleep 1
    done
    ((i < 1800)) || die "the replica on $port did not catch up"
done
DATA_BYTES=$(mariadb -h127.0.0.1 -P"$PRIMARY_PORT" -uapp -papp_pw -N -B -e \
    "SELECT SUM(DATA_LENGTH + INDEX_LENGTH) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'sbtest'")
log "dataset: $((DATA_BYTES / 1048576)) MiB on disk"
sleep 5 # the replicas' lag settles, both take reads

# run_ro PORT SECONDS [RATE]: oltp_read_only; prints "tps p95_ms".
run_ro() {
    local port=$1 secs=$2 rate=${3:-0} out
    out=$(sysbench oltp_read_only "${SB[@]}" --mysql-port="$port" --threads=8 \
        --time="$secs" --rate="$rate" --percentile=95 --skip-trx=on --db-ps-mode=disable run 2>&1)
    printf '%s\n' "$out" >>"$WORK_DIR/sysbench.log"
    local tps p95
    tps=$(printf '%s\n' "$out" | awk '/transactions:/ { gsub(/[(]/, "", $3); print $3 }')
    p95=$(printf '%s\n' "$out" | awk '/95th percentile:/ { print $3 }')
    echo "${tps:-0} ${p95:-0}"
}

# median: the median of the numbers on stdin (separated by spaces or lines).
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# wait_row SQL KEY_COLUMN KEY FIELDS: waits until the first
# row of SQL's answer whose KEY_COLUMN is KEY has left `running`; prints
# its FIELDS (awk column numbers, space-separated, the state first).
wait_row() {
    local sql=$1 kc=$2 key=$3 fields=$4 row
    while :; do
        row=$(admin_rows "$sql" | awk -F'\t' -v k="$key" -v kc="$kc" -v f="$fields" '
            $kc == k { n = split(f, c, " "); out = ""
                       for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") $c[i]
                       print out; exit }')
        [[ -n $row && $row != running* ]] && { echo "$row"; return; }
        sleep 0.5
    done
}
# backup_wait ID: prints "state duration_ms size_bytes".
backup_wait() { wait_row "SHOW BACKUPS" 1 "$1" "2 6 5"; }
# rebuild_wait SERVER: its newest rebuild; prints "state duration_ms".
rebuild_wait() { wait_row "SHOW REBUILDS" 2 "$1" "3 11"; }

log "sustained rate through sqlyard (20 s, unthrottled)"
read -r max_tps _ < <(run_ro "$ROUTER_PORT" 20)
RATE=$(awk -v t="$max_tps" 'BEGIN { r = int(t / 2); if (r < 1) r = 1; print r }')
log "sustained $max_tps tps; fixed rate $RATE tps"

log "warm-up backup (sets the run length)"
id=$(admin "BACKUP" | cut -f1)
read -r state ms bytes < <(backup_wait "$id")
[[ $state == complete ]] || die "backup $id: $state ($(admin_rows 'SHOW BACKUPS' | grep "$id"))"
# A backup's span holds SLICES runs of the fixed-rate load, alternating
# sqlyard and haproxy (a backup under load takes longer than the warm-up,
# so every DURING slice overlaps it); the BEFORE phase runs the same
# slices with no backup. ROUNDS rounds of both: medians over the slices.
SLICES=4
secs=$(((ms / 1000 - 4) / SLICES))
((secs < RUN_SECONDS)) && secs=$RUN_SECONDS
declare -A P95
BACKUP_MS=()
slices() { # PHASE: SLICES runs, alternating the targets
    local phase=$1 i target port p
    for ((i = 0; i < SLICES; i++)); do
        target=$([[ $((i % 2)) == 0 ]] && echo sqlyard || echo haproxy_split)
        port=$([[ $target == sqlyard ]] && echo "$ROUTER_PORT" || echo "$HAPROXY_SPLIT_PORT")
        read -r _ p < <(run_ro "$port" "$secs" "$RATE")
        P95[$target,$phase]+="$p "
        log "  $phase, $target: p95 $p ms"
    done
}
for ((round = 1; round <= ROUNDS; round++)); do
    log "round $round/$ROUNDS: $SLICES slices of $secs s at $RATE tps before a backup"
    slices before
    log "round $round/$ROUNDS: the same during a backup"
    id=$(admin "BACKUP" | cut -f1)
    sleep 1
    slices during
    read -r state ms bytes < <(backup_wait "$id")
    [[ $state == complete ]] || die "backup $id: $state"
    log "  backup $id took $((ms / 1000)) s"
    BACKUP_MS+=("$ms")
    BACKUP_BYTES=$bytes
    LAST_ID=$id
    sleep 5 # the source is back in rotation and its lag settles
done

log "rebuild of the replica on $R2 from backup $LAST_ID"
admin "REBUILD SERVER '127.0.0.1:$R2' FROM BACKUP '$LAST_ID'" >/dev/null || die "REBUILD refused"
read -r rstate rms_backup < <(rebuild_wait "127.0.0.1:$R2")
[[ $rstate == succeeded ]] || die "rebuild from a backup: $rstate $(admin_rows 'SHOW REBUILDS' | head -2)"
sleep 5
log "rebuild of the replica on $R2 from a fresh dump of $R1"
admin "REBUILD SERVER '127.0.0.1:$R2' FROM '127.0.0.1:$R1'" >/dev/null || die "REBUILD refused"
read -r rstate rms_dump < <(rebuild_wait "127.0.0.1:$R2")
[[ $rstate == succeeded ]] || die "rebuild from a dump: $rstate"

median_ms=$(median <<<"${BACKUP_MS[*]}")
{
    echo "# sqlyard backups and rebuilds: latest run"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null)"
    echo "- machine: $(nproc) cores, load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- dataset: sysbench $TABLES x $TABLE_SIZE rows, $((DATA_BYTES / 1048576)) MiB on disk (data + indexes)"
    echo "- command: \`ROUNDS=$ROUNDS TABLES=$TABLES TABLE_SIZE=$TABLE_SIZE${MAX_RATE:+ MAX_RATE=$MAX_RATE} bench/backup.sh\`"
    echo
    echo "| measure | value |"
    echo "|---|---:|"
    awk -v n="${#BACKUP_MS[@]}" -v ms="$median_ms" -v b="$DATA_BYTES" -v z="$BACKUP_BYTES" 'BEGIN {
        printf "| backup duration under load (median of %d) | %.1f s |\n", n, ms / 1000
        printf "| backup throughput (on-disk size / duration) | %.1f MB/s |\n", b / 1e6 / (ms / 1000)
        printf "| backup size (zstd) | %.1f MB |\n", z / 1e6 }'
    echo "| rebuild from a backup | $(awk -v m="$rms_backup" 'BEGIN { printf "%.1f s", m / 1000 }') |"
    echo "| rebuild from a fresh dump of a replica, streamed into it | $(awk -v m="$rms_dump" 'BEGIN { printf "%.1f s", m / 1000 }') |"
    echo
    echo "oltp_read_only at a fixed $RATE tps (half of the $max_tps sustained through sqlyard): in each of"
    echo "$ROUNDS rounds, $SLICES runs of $secs s alternating sqlyard and haproxy with no backup, then the"
    echo "same while a backup runs; p95 latency, median over the runs (each run's p95 in brackets):"
    echo
    echo "| through | before a backup | during a backup | ratio | target |"
    echo "|---|---:|---:|---:|---:|"
    for target in sqlyard haproxy_split; do
        b=$(median <<<"${P95[$target,before]}")
        d=$(median <<<"${P95[$target,during]}")
        awk -v t="$target" -v b="$b" -v d="$d" -v rb="${P95[$target,before]% }" -v rd="${P95[$target,during]% }" 'BEGIN {
            goal = (t == "sqlyard") ? "<= 1.20" : "(baseline)"
            printf "| %s | %.2f ms (%s) | %.2f ms (%s) | %.2f | %s |\n", t, b, rb, d, rd, (b > 0 ? d / b : 0), goal }'
    done
} >"$RESULTS_DIR/backup.md"
cat "$RESULTS_DIR/backup.md"
