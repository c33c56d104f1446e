#!/usr/bin/env bash
# Start-to-running of the Debian 12 rootfs: lxm (lxm-monitor) side by side with LXC 5.0 (lxc-start)
# and LXD 5.0 (lxc start), in one run, on the same rootfs (issue 2's benchmark).
#
#   bench/start.sh [-n RUNS]        (root; LXM_BENCH_BUILD=build dir with bin/lxm-monitor)
#
# Per round (RUNS rounds, runtimes interleaved so machine noise spreads evenly), per runtime:
# create a fresh container, first start, wait until running, graceful stop, later start, wait,
# graceful stop, delete. Start-to-running is measured from the start command until
# `systemctl is-system-running --wait` inside returns (after systemd's private socket exists),
# entered with the same `nsenter -a` for all three; the time spent asking each tool for init's pid
# is left out. Stop is the graceful stop command until it returns (lxm: until the monitor exited).
# Prints a Markdown table of medians and ratios; raw samples stay in results.csv (printed path).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

while getopts n: o; do
  case $o in
  n) BENCH_RUNS=$OPTARG ;;
  *) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
  esac
done

bench_setup
bench_rootfs
lxm_setup
lxc_setup
log "starting a private LXD daemon (LXD_DIR=$BENCH_WORK/lxd)"
lxd_setup
log "LXD ready, image imported"

# One measured start: runtime, start phase (first|later), name, start command..., then how to get
# init's pid. Records start (command returned) and running.
measure_start() {
  local rt=$1 phase=$2 name=$3 t0 t1 t2 t3 pid state
  t0=$(now_us)
  case $rt in
  lxm) lxm_start "$name" ;;
  lxc) lxc_start "$name" ;;
  lxd) lxc start "$name" > /dev/null ;;
  esac
  t1=$(now_us)
  case $rt in
  lxm) pid=$LXM_INIT_PID ;;
  lxc) pid=$(lxc_init_pid "$name") ;;
  lxd) pid=$(lxd_init_pid "$name") ;;
  esac
  t2=$(now_us)
  state=$(wait_running "$pid" || true)
  t3=$(now_us)
  record "$rt" "$phase-cmd" "$(us_to_ms $((t1 - t0)))"
  record "$rt" "$phase-running" "$(us_to_ms $((t1 - t0 + t3 - t2)))" "$state"
  [ "$state" = running ] || log "$rt $name ($phase): systemd state '$state'"
  log "$rt $name $phase start: command $(us_to_ms $((t1 - t0))) ms, running $(us_to_ms $((t1 - t0 + t3 - t2))) ms ($state)"
}
measure_stop() {
  local rt=$1 name=$2 t0 t1
  t0=$(now_us)
  case $rt in
  lxm) lxm_stop "$name" ;;
  lxc) lxc_stop "$name" ;;
  lxd) lxc stop "$name" ;;
  esac
  t1=$(now_us)
  record "$rt" stop "$(us_to_ms $((t1 - t0)))"
  log "$rt $name stop: $(us_to_ms $((t1 - t0))) ms"
}

for ((i = 1; i <= BENCH_RUNS; i++)); do
  base=$((BENCH_IDBASE + i * 65536))
  for rt in lxm lxc lxd; do
    name=bench-$rt-$i
    case $rt in
    lxm) lxm_create "$name" "$base" ;;
    lxc) lxc_create "$name" "$((base + 32 * 65536))" ;;
    lxd) lxc init bench-debian "$name" -s default >/dev/null ;;
    esac
    sync
    measure_start "$rt" first "$name"
    measure_stop "$rt" "$name"
    measure_start "$rt" later "$name"
    measure_stop "$rt" "$name"
    case $rt in
    lxm) rm -rf --one-file-system "$BENCH_WORK/lxm/$name" ;;
    lxc) lxc-destroy -n "$name" -P "$LXC_PATH" >/dev/null ;;
    lxd) lxc delete "$name" ;;
    esac
  done
done

row() {  # label metric
  local m=$2 a b c
  a=$(median_of lxm "$m"); b=$(median_of lxc "$m"); c=$(median_of lxd "$m")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "${a:-n/a}" "${b:-n/a}" "${c:-n/a}" "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
}
not_running=$(awk -F, '$2 ~ /-running$/ && $4 != "running" {n++} END {print n + 0}' "$RESULTS")
{
  echo
  echo "Medians of $BENCH_RUNS runs, milliseconds ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r))"
  echo
  echo '| | lxm | LXC 5.0 | LXD 5.0 | lxm/LXC | lxm/LXD |'
  echo '|---|---:|---:|---:|---:|---:|'
  row 'first start to running' first-running
  row 'later start to running' later-running
  row 'first start command returns' first-cmd
  row 'later start command returns' later-cmd
  row 'graceful stop' stop
  echo
  for rt in lxm lxc lxd; do
    printf '%s first/later start-to-running: %s\n' "$rt" "$(ratio "$(median_of "$rt" first-running)" "$(median_of "$rt" later-running)")"
  done
  echo "starts that did not end in 'running': $not_running"
}
cp "$RESULTS" "$BENCH_BASE/start-results-$(date -u +%Y%m%dT%H%M%SZ).csv"
log "raw samples: $BENCH_BASE/start-results-*.csv"
