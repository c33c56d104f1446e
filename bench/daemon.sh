#!/usr/bin/env bash
# The daemon and CLI side by side with LXD 5.0 (issue 3's benchmark), in one run:
#   - `lxm exec c1 -- true` latency vs `lxc exec c1 -- true` (hyperfine, medians)
#   - `lxm list` vs `lxc list` with 1000 instances defined (c1 + 999 created empty through each REST API)
#   - GET /1.0/instances?recursion=1 and ?recursion=2 with the same 1000 (curl, hyperfine medians)
#   - daemon idle RSS (lxmd vs lxd) with one running Debian container
#   - per-container monitor RSS and PSS (lxm-monitor vs liblxc's "[lxc monitor]": the parent of init)
#
#   bench/daemon.sh [-n INSTANCES]     (root; LXM_BENCH_BUILD=build dir with bin/{lxmd,lxm,lxm-monitor})
#
# lxmd runs with LXM_DIR under the run dir. When lxmd or lxm do not work yet the script says so and
# leaves the lxm column empty (the LXD column is still measured).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

INSTANCES=1000
while getopts n: o; do
  case $o in
  n) INSTANCES=$OPTARG ;;
  *) echo "usage: $0 [-n INSTANCES]" >&2; exit 2 ;;
  esac
done

declare -A R  # results: R[metric,runtime]
pss_kb() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }

bench_setup
bench_rootfs

# No bridge: exec, list and RSS need no network, and a default lxmbr0 would outlive the run.
LXMD_ARGS="--default-network none"
lxmd_setup
lxd_setup
LXD_SOCK=$LXD_DIR/unix.socket
log "LXD ready, image imported"

# ---- one running container each --------------------------------------------------------------
if [ -z "$LXM_SKIP" ]; then
  LXM_NAMES+=(lxmbench-c1)
  if ! out=$("$LXM" launch debian/12 lxmbench-c1 2>&1); then
    LXM_SKIP="lxm launch debian/12 failed: $out"
  elif ! out=$("$LXM" exec lxmbench-c1 -- sh -c \
      'for i in $(seq 3000); do [ -S /run/systemd/private ] && break; sleep 0.01; done; systemctl is-system-running --wait' 2>&1); then
    LXM_SKIP="lxm exec failed: $out"
  fi
fi
lxc launch bench-debian lxmbench-c1 > /dev/null 2>&1 || die "lxc launch bench-debian failed"
wait_running "$(lxd_init_pid lxmbench-c1)" > /dev/null || true
log "containers running; idling 10 s before reading RSS"
sleep 10
R[rss_daemon,lxd]=$(rss_kb "$LXD_PID")
mon=$(ppid_of "$(lxd_init_pid lxmbench-c1)")
R[rss_monitor,lxd]=$(rss_kb "$mon")
R[pss_monitor,lxd]=$(pss_kb "$mon")
log "LXD: daemon pid $LXD_PID, container monitor: $(tr '\0' ' ' < "/proc/$mon/cmdline")"
if [ -z "$LXM_SKIP" ]; then
  R[rss_daemon,lxm]=$(rss_kb "$LXMD_PID")
  mon=$(ppid_of "$(init_pid_api "$LXM_DIR/unix.socket" lxmbench-c1)")
  R[rss_monitor,lxm]=$(rss_kb "$mon")
  R[pss_monitor,lxm]=$(pss_kb "$mon")
  log "lxm: daemon pid $LXMD_PID, container monitor: $(tr '\0' ' ' < "/proc/$mon/cmdline")"
fi

# ---- exec latency ----------------------------------------------------------------------------
R[exec,lxd]=$(hf_median 30 'lxc exec lxmbench-c1 -- true') || R[exec,lxd]=
if [ -z "$LXM_SKIP" ]; then
  R[exec,lxm]=$(hf_median 30 "$LXM exec lxmbench-c1 -- true") || LXM_SKIP="lxm exec lxmbench-c1 -- true failed"
fi
# The monitors again after serving those execs (lxm-monitor drops its start-up pages once; the exec
# path faults some back in).
R[rss_monitor_exec,lxd]=$(rss_kb "$(ppid_of "$(lxd_init_pid lxmbench-c1)")")
if [ -z "$LXM_SKIP" ]; then
  R[rss_monitor_exec,lxm]=$(rss_kb "$(ppid_of "$(init_pid_api "$LXM_DIR/unix.socket" lxmbench-c1)")")
fi

# ---- list with INSTANCES defined --------------------------------------------------------------
# c1 counts: INSTANCES - 1 empty ones beside it.
log "defining $((INSTANCES - 1)) empty instances in each daemon"
LIST_SKIP=$LXM_SKIP
for ((i = 1; i < INSTANCES; i++)); do
  api_create_empty "$LXD_SOCK" "lxmbench-e$i" || die "LXD: cannot create instance $i"
  if [ -z "$LIST_SKIP" ]; then
    api_create_empty "$LXM_DIR/unix.socket" "lxmbench-e$i" || LIST_SKIP="lxmd: cannot create empty instance $i"
  fi
done
R[list,lxd]=$(hf_median 10 'lxc list') || R[list,lxd]=
for rec in 1 2; do
  R[get$rec,lxd]=$(hf_median 10 "curl -sf -o /dev/null --unix-socket $LXD_SOCK http://local/1.0/instances?recursion=$rec") ||
    R[get$rec,lxd]=
done
if [ -z "$LIST_SKIP" ]; then
  R[list,lxm]=$(hf_median 10 "$LXM list") || LIST_SKIP="lxm list failed"
  for rec in 1 2; do
    R[get$rec,lxm]=$(hf_median 10 "curl -sf -o /dev/null --unix-socket $LXM_DIR/unix.socket http://local/1.0/instances?recursion=$rec") ||
      R[get$rec,lxm]=
  done
fi
[ -z "$LIST_SKIP" ] || [ -n "$LXM_SKIP" ] || LXM_SKIP="list: $LIST_SKIP"

# ---- report ---------------------------------------------------------------------------------
row() {  # label metric unit target
  local a=${R[$2,lxm]:-} b=${R[$2,lxd]:-}
  printf '| %s | %s | %s | %s | %s |\n' "$1" "${a:-n/a} $3" "${b:-n/a} $3" "$(ratio "$a" "$b")" "$4"
}
{
  echo
  echo "Medians, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo '| | lxm | LXD 5.0 | lxm/LXD | target |'
  echo '|---|---:|---:|---:|---|'
  row '`exec c1 -- true` (30 runs)' exec ms 'lxm/LXD <= 0.25x'
  row "\`list\`, $INSTANCES instances (c1 + $((INSTANCES - 1)) empty; 10 runs)" list ms 'lxm < 50 ms'
  row "\`GET /1.0/instances?recursion=1\`, $INSTANCES instances (curl)" get1 ms ''
  row "\`GET /1.0/instances?recursion=2\`, $INSTANCES instances (curl)" get2 ms ''
  row 'daemon idle RSS (one running container)' rss_daemon kB 'lxm < 15 MB'
  row 'per-container monitor RSS' rss_monitor kB 'lxm < 2 MB'
  row 'per-container monitor PSS' pss_monitor kB ''
  row 'per-container monitor RSS after the execs' rss_monitor_exec kB 'lxm < 2 MB'
  if [ -n "$LXM_SKIP" ]; then echo; echo "lxm values missing (n/a): $LXM_SKIP"; fi
}
