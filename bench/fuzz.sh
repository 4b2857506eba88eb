#!/usr/bin/env bash
# Runs each cargo-fuzz target for SECONDS seconds (default 600), one after
# another, with the corpus kept under fuzz/corpus/<target> and anything
# found under fuzz/artifacts/<target>. Writes a table of runs, corpus size,
# and crashes / hangs (> TIMEOUT s) / out-of-memory (> RSS_MB) per target
# to bench/results/fuzz-<date>.md and exits non-zero if any target failed.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Settings (environment): SECONDS_PER_TARGET=600 TIMEOUT=10 RSS_MB=2048
#   TARGETS="client_packets stmt_execute classify relay config"
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-${1:-600}}
TIMEOUT=${TIMEOUT:-10}
RSS_MB=${RSS_MB:-2048}
read -r -a TARGETS <<<"${TARGETS:-client_packets stmt_execute classify relay config}"
RESULTS="$ROOT/bench/results/fuzz-$(date -u +%Y%m%d-%H%M).md"

cd "$ROOT/fuzz" || exit 1
cargo +nightly fuzz build -O >/dev/null || { echo "fuzz build failed" >&2; exit 1; }

{
  echo "# cargo fuzz, ${SECONDS_PER_TARGET} s per target ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" rev-parse --short HEAD))"
  echo
  echo "| target | runs | runs/s | corpus files | crashes | hangs (>${TIMEOUT}s) | OOM (>${RSS_MB} MB) |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
} >"$RESULTS"

failed=0
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t" "seeds/$t" "artifacts/$t"
  log=$(mktemp)
  echo "fuzzing $t for ${SECONDS_PER_TARGET}s" >&2
  cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECONDS_PER_TARGET" -timeout="$TIMEOUT" \
    -rss_limit_mb="$RSS_MB" -print_final_stats=1 >"$log" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  secs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(grep -c 'ERROR: libFuzzer: deadly signal\|panicked at' "$log")
  hangs=$(grep -c 'ERROR: libFuzzer: timeout' "$log")
  ooms=$(grep -c 'ERROR: libFuzzer: out-of-memory' "$log")
  files=$(find "corpus/$t" -type f | wc -l)
  if [ "$status" -ne 0 ]; then
    failed=1
    cp "$log" "artifacts/$t/last-run.log"
    echo "$t failed (exit $status): see fuzz/artifacts/$t/" >&2
    tail -30 "$log" >&2
  fi
  echo "| $t | ${runs:-?} | ${secs:-?} | $files | $crashes | $hangs | $ooms |" >>"$RESULTS"
  rm -f "$log"
done
cat "$RESULTS"
exit "$failed"
