# Shared helpers of the benchmarks in bench/ (sourced, not run).
#
# Everything a run creates lives under $BENCH_WORK (/var/lib/lxm-bench/run-<pid>, mode 0711) and is
# registered with on_exit, so the EXIT trap undoes it in reverse order even when a step fails:
# containers, the LXD daemon (stopped by its pid), mounts, cgroups and directories.
# shellcheck shell=bash

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_BUILD=${LXM_BENCH_BUILD:-$BENCH_SRC/build-bench}
BENCH_BASE=${LXM_BENCH_DIR:-/var/lib/lxm-bench}
BENCH_RUNS=${LXM_BENCH_RUNS:-5}
# Host id ranges (65536 each) for lxm and LXC containers: a range no test allocates from.
BENCH_IDBASE=${LXM_BENCH_IDBASE:-3000000}

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- cleanup registry -------------------------------------------------------------------------
_cleanups=()
on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
    eval "${_cleanups[i]}" >/dev/null 2>&1 || log "cleanup step failed: ${_cleanups[i]}"
  done
  exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

# Unmounts everything at or below a directory (deepest first).
umount_below() {
  local dir=$1 m
  awk -v d="$dir" '$5 == d || index($5, d "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
# Removes one cgroup (relative path) with all its children in every mounted hierarchy.
rm_cgroup() {
  local rel=$1 h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$rel" ] || continue
    find "$h$rel" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

bench_setup() {
  [ "$(id -u)" -eq 0 ] || die "run as root"
  mkdir -p "$BENCH_BASE"
  chmod 0711 "$BENCH_BASE"
  BENCH_WORK=$(mktemp -d "$BENCH_BASE/run-XXXXXX")
  chmod 0711 "$BENCH_WORK"
  on_exit "umount_below '$BENCH_WORK'; rm -rf --one-file-system '$BENCH_WORK'"
  # liblxc parks its monitor in <hierarchy>/lxc.pivot when a container stops: remove it afterwards
  # when this run made it (rmdir fails while anything else uses it).
  [ -n "$(ls -d /sys/fs/cgroup/*/lxc.pivot 2>/dev/null)" ] || on_exit "rmdir /sys/fs/cgroup/*/lxc.pivot 2>/dev/null || true"
  # lxm's monitors make the parent cgroup <hierarchy>/lxm and leave it for the next container: the
  # same rule (this runs after lxmd_teardown, cleanups go in reverse order; a monitor that is
  # leaving may still sit in it for a moment).
  [ -n "$(ls -d /sys/fs/cgroup/*/lxm 2>/dev/null)" ] ||
    on_exit "for _ in 1 2 3 4 5; do rmdir /sys/fs/cgroup/*/lxm 2>/dev/null && break; sleep 0.5; done; true"
  RESULTS=$BENCH_WORK/results.csv
  : > "$RESULTS"
}

# ---- timing -----------------------------------------------------------------------------------
# Microseconds since the epoch, without forking.
now_us() { local t=${EPOCHREALTIME/./}; printf '%s' "$((10#$t))"; }
# record RUNTIME METRIC MILLISECONDS [NOTE]
record() { printf '%s,%s,%s,%s\n' "$1" "$2" "$3" "${4:-}" >> "$RESULTS"; }
us_to_ms() { awk -v u="$1" 'BEGIN { printf "%.0f", u / 1000 }'; }
# Median of the recorded values of RUNTIME METRIC (empty when none).
median_of() {
  awk -F, -v r="$1" -v m="$2" '$1 == r && $2 == m {print $3}' "$RESULTS" | sort -n |
    awk '{a[NR] = $1} END { if (NR == 0) exit; if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
count_of() { awk -F, -v r="$1" -v m="$2" '$1 == r && $2 == m' "$RESULTS" | wc -l; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }' || echo "n/a"; }

# ---- inside a running container ---------------------------------------------------------------
# Runs in the container of init PID (all its namespaces, entered the same way for every runtime):
# waits for systemd's private socket (systemctl says "offline" before it exists), then
# `systemctl is-system-running --wait`. Prints the final state.
wait_running() {
  local pid=$1
  nsenter -t "$pid" -a sh -c \
    'for i in $(seq 6000); do [ -S /run/systemd/private ] && break; sleep 0.01; done; systemctl is-system-running --wait' \
    2>/dev/null
}

# ---- the rootfs -------------------------------------------------------------------------------
bench_rootfs() {
  ROOTFS=$("$BENCH_SRC/scripts/build-rootfs.sh" "$BENCH_SRC/templates/recipes/debian-12.yaml") ||
    die "cannot build the Debian 12 rootfs"
  log "rootfs: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1), $(find "$ROOTFS" | wc -l) entries)"
}

# ---- lxm (lxm-monitor directly) ---------------------------------------------------------------
LXM_MONITOR=$BENCH_BUILD/bin/lxm-monitor
LXM_CGROUP_PARENT=lxm-bench-$$

MONITOR_CTL=
# Builds bench/monitor_ctl.cpp into the run dir (a plain g++ call, no project libraries).
build_monitor_ctl() {
  [ -n "$MONITOR_CTL" ] && return 0
  MONITOR_CTL=$BENCH_WORK/monitor_ctl
  g++ -std=c++17 -O2 -o "$MONITOR_CTL" "$BENCH_SRC/bench/monitor_ctl.cpp" || die "cannot build monitor_ctl"
}
lxm_setup() {
  [ -x "$LXM_MONITOR" ] || die "no $LXM_MONITOR (build it: cmake --build $BENCH_BUILD --target lxm-monitor)"
  build_monitor_ctl
  mkdir -p "$BENCH_WORK/lxm"
  on_exit "rm_cgroup '$LXM_CGROUP_PARENT'"
}
# lxm_create NAME IDBASE: writes the spec of a new container (fresh overlay upper dir).
lxm_create() {
  local name=$1 base=$2 d=$BENCH_WORK/lxm/$1
  mkdir -p "$d/upper" "$d/work" "$d/run" "$d/log"
  chmod 0711 "$d" "$d/run"
  jq -n --arg name "$name" --arg rootfs "$ROOTFS" --arg d "$d" --argjson base "$base" \
    --arg cg "$LXM_CGROUP_PARENT" '{
      name: $name, rootfs: $rootfs, upper_dir: ($d + "/upper"), work_dir: ($d + "/work"),
      run_dir: ($d + "/run"), log_dir: ($d + "/log"), hostname: $name,
      idmap: {uid: [[0, $base, 65536]], gid: [[0, $base, 65536]]}, cgroup_parent: $cg}' > "$d/spec.json"
  on_exit "lxm_kill '$name'"
}
# lxm_start NAME: starts it; sets LXM_INIT_PID. Returns when init runs (the monitor reported ready).
lxm_start() {
  local d=$BENCH_WORK/lxm/$1 ready
  # The monitor detaches (its stdio become /dev/null): readiness comes on fd 3, a pipe that closes
  # once init runs.
  ready=$("$LXM_MONITOR" --spec "$d/spec.json" --ready-fd 3 3>&1 >/dev/null 2>>"$d/monitor.err") ||
    { log "lxm-monitor: $ready"; return 1; }
  LXM_INIT_PID=$(jq -r '.pid // empty' <<<"$ready")
  [ -n "$LXM_INIT_PID" ] || { log "lxm-monitor: $ready"; return 1; }
}
lxm_monitor_pid() { cat "$BENCH_WORK/lxm/$1/run/monitor.pid" 2>/dev/null; }
# lxm_request NAME JSON [PID]: one request on the monitor socket, prints the reply; with PID, then
# waits until that process exited (see bench/monitor_ctl.cpp).
lxm_request() { "$MONITOR_CTL" "$BENCH_WORK/lxm/$1/run/monitor.sock" "$2" ${3:+"$3"}; }
# lxm_stop NAME: graceful stop (the spec's stop signal), returns once the monitor has exited
# (init gone, payload cgroup removed).
lxm_stop() {
  local reply
  reply=$(lxm_request "$1" '{"op":"stop","timeout":60,"force":false}' "$(lxm_monitor_pid "$1")") ||
    { log "lxm stop: $reply"; return 1; }
}
lxm_kill() {
  local mpid
  mpid=$(lxm_monitor_pid "$1")
  [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null || return 0
  lxm_request "$1" '{"op":"stop","timeout":0,"force":true}' "$mpid" >/dev/null 2>&1 || kill -KILL "$mpid"
}

# ---- LXC 5.0 (lxc-start) ----------------------------------------------------------------------
lxc_setup() {
  command -v lxc-start >/dev/null || die "lxc-start not installed (Debian package lxc)"
  LXC_PATH=$BENCH_WORK/lxc
  mkdir -p "$LXC_PATH"
  chmod 0711 "$LXC_PATH"
}
# Copies a tree, shifting every owner by BASE (what unprivileged LXC expects on disk; done once per
# container, outside any timing).
shifted_copy() {
  local src=$1 dst=$2 base=$3
  cp -a "$src" "$dst"
  python3 - "$dst" "$base" <<'PY'
import os, stat, sys
root, base = sys.argv[1], int(sys.argv[2])
def shift(p):
    st = os.lstat(p)
    os.lchown(p, st.st_uid + base, st.st_gid + base)
    if not stat.S_ISLNK(st.st_mode) and st.st_mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(p, stat.S_IMODE(st.st_mode))  # chown clears setuid/setgid
shift(root)
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        shift(os.path.join(d, n))
PY
}
# lxc_create NAME IDBASE
lxc_create() {
  local name=$1 base=$2 d=$LXC_PATH/$1
  mkdir -p "$d"
  chmod 0711 "$d"
  on_exit "lxc_kill '$name'"
  shifted_copy "$ROOTFS" "$d/rootfs" "$base"
  cat > "$d/config" <<EOF
lxc.include = /usr/share/lxc/config/common.conf
lxc.include = /usr/share/lxc/config/userns.conf
lxc.arch = linux64
lxc.uts.name = $name
lxc.rootfs.path = dir:$d/rootfs
lxc.idmap = u 0 $base 65536
lxc.idmap = g 0 $base 65536
lxc.net.0.type = empty
lxc.console.logfile = $d/console.log
EOF
}
lxc_start() {
  lxc-start -n "$1" -P "$LXC_PATH" -d -o "$LXC_PATH/$1/lxc.log" -l ERROR || return 1
}
lxc_init_pid() { lxc-info -n "$1" -P "$LXC_PATH" -p -H; }
lxc_stop() { lxc-stop -n "$1" -P "$LXC_PATH" -t 60; }
lxc_kill() {
  lxc-info -n "$1" -P "$LXC_PATH" -s 2>/dev/null | grep -q RUNNING || return 0
  lxc-stop -n "$1" -P "$LXC_PATH" -k
}

# ---- LXD 5.0 (lxc start), its own daemon ------------------------------------------------------
# lxd_daemon_start DIR [NETNS]: starts a private LXD daemon with LXD_DIR=DIR (log DIR.log), inside
# network namespace NETNS when given (entered with `nsenter --net`, so the daemon keeps the host's
# mount namespace and /sys; `ip netns exec` would remount /sys without the cgroup hierarchies),
# registers its teardown and waits until it is ready. Sets LXD_DAEMON_PID (lxd itself: nsenter
# execs it).
lxd_daemon_start() {
  local dir=$1 ns=${2:-}
  command -v lxd >/dev/null || die "lxd not installed (apt-get install -y lxd)"
  mkdir -p "$dir"
  chmod 0711 "$dir"
  if [ -n "$ns" ]; then
    LXD_DIR=$dir nsenter --net="/run/netns/$ns" lxd --group root --logfile "$dir.log" > "$dir.out" 2>&1 &
  else
    LXD_DIR=$dir lxd --group root --logfile "$dir.log" > "$dir.out" 2>&1 &
  fi
  LXD_DAEMON_PID=$!
  on_exit "lxd_daemon_stop '$dir' $LXD_DAEMON_PID"
  LXD_DIR=$dir timeout 120 lxd waitready || die "LXD did not get ready (see $dir.log)"
}
# lxd_daemon_stop DIR PID: force-stops the daemon's running instances (they hold mounts and cgroups;
# stopped ones are just files in DIR), ends the daemon by its pid, unmounts what it left under DIR
# (shmounts, devlxd, pools) and detaches the loop device of a btrfs pool it made.
lxd_daemon_stop() {
  local dir=$1 pid=$2 n loop
  if kill -0 "$pid" 2>/dev/null; then
    for n in $(LXD_DIR=$dir timeout 60 lxc list local: --format csv -c ns 2>/dev/null | awk -F, '$2 != "STOPPED" {print $1}'); do
      LXD_DIR=$dir timeout 60 lxc stop -f "local:$n"
    done
    kill -TERM "$pid"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  wait "$pid" 2>/dev/null
  umount_below "$dir"
  for loop in $(losetup -j "$dir/disks/btrfs.img" -O NAME -n 2>/dev/null); do losetup -d "$loop"; done
  return 0
}
# lxd_preseed DIR [btrfs]: a dir pool "default" (and a btrfs pool "btrfs" on a loop file with
# "btrfs"), no managed network, the default profile's root disk on "default".
lxd_preseed() {
  local dir=$1 pools="
- name: default
  driver: dir"
  if [ "${2:-}" = btrfs ]; then
    command -v mkfs.btrfs >/dev/null || die "btrfs-progs not installed"
    # No source: LXD makes the loop file itself, $LXD_DIR/disks/btrfs.img.
    pools+="
- name: btrfs
  driver: btrfs
  config:
    size: 8GiB"
  fi
  LXD_DIR=$dir lxd init --preseed > "$dir-init.log" 2>&1 <<EOF || die "lxd init --preseed failed: $(cat "$dir-init.log")"
config: {}
networks: []
storage_pools:$pools
profiles:
- name: default
  devices:
    root:
      path: /
      pool: default
      type: disk
EOF
}
# lxd_import_image DIR: imports $ROOTFS into that daemon as image "bench-debian" (metadata.yaml +
# rootfs tarball; the alias is the same whatever the rootfs).
lxd_import_image() {
  local dir=$1 img=$BENCH_WORK/image
  mkdir -p "$img"
  printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: debian\n  release: bookworm\n  description: lxm bench Debian 12\n' \
    "$(date +%s)" > "$img/metadata.yaml"
  tar -C "$img" -cf - metadata.yaml | xz -1 > "$img/meta.tar.xz"
  tar -C "$ROOTFS" --numeric-owner --xattrs -cf - . | zstd -q -T2 -3 > "$img/rootfs.tar.zst"
  LXD_DIR=$dir lxc image import "$img/meta.tar.xz" "$img/rootfs.tar.zst" local: --alias bench-debian >/dev/null ||
    die "lxc image import failed"
  rm -f "$img/rootfs.tar.zst"
}
# lxd_setup [btrfs]: the one private LXD daemon of start.sh, daemon.sh, storage.sh and network.sh:
# LXD_DIR=$BENCH_WORK/lxd (exported, with a private LXD_CONF), preseeded (lxd_preseed), the rootfs
# imported as image "bench-debian". Sets LXD_PID.
lxd_setup() {
  export LXD_DIR=$BENCH_WORK/lxd LXD_CONF=$BENCH_WORK/lxd-conf
  mkdir -p "$LXD_CONF"
  lxd_daemon_start "$LXD_DIR"
  LXD_PID=$LXD_DAEMON_PID
  lxc list > /dev/null 2>&1 || true  # the client's first-use greeting goes here
  lxd_preseed "$LXD_DIR" "${1:-}"
  lxd_import_image "$LXD_DIR"
}
# Stops the daemon of lxd_setup now (the EXIT trap would otherwise do it).
lxd_teardown() {
  [ -n "${LXD_PID:-}" ] || return 0
  lxd_daemon_stop "$LXD_DIR" "$LXD_PID"
  LXD_PID=
}
lxd_init_pid() { lxc query "/1.0/instances/$1/state" | jq -r .pid; }

# ---- lxmd + lxm CLI ---------------------------------------------------------------------------
LXMD=$BENCH_BUILD/bin/lxmd
LXM=$BENCH_BUILD/bin/lxm
LXM_SKIP=      # why the lxm column is skipped (empty: lxmd works)
LXM_NAMES=()   # instances this run made in lxmd (their cgroups are removed at exit)

# Starts lxmd in the foreground of a background job with LXM_DIR under the run dir. Sets LXM_SKIP
# (and returns 0) when lxmd or lxm are missing or lxmd does not come up.
lxmd_setup() {
  export LXM_DIR=$BENCH_WORK/lxm-state
  mkdir -p "$LXM_DIR"
  chmod 0711 "$LXM_DIR"
  if [ ! -x "$LXMD" ] || [ ! -x "$LXM" ]; then LXM_SKIP="no $LXMD or $LXM"; return 0; fi
  build_monitor_ctl
  # shellcheck disable=SC2086  # LXMD_ARGS: extra lxmd flags of a benchmark (word-split on purpose)
  "$LXMD" ${LXMD_ARGS:-} > "$BENCH_WORK/lxmd.log" 2>&1 &
  LXMD_PID=$!
  on_exit lxmd_teardown
  for _ in $(seq 600); do
    [ -S "$LXM_DIR/unix.socket" ] && { log "lxmd up (pid $LXMD_PID, LXM_DIR=$LXM_DIR)"; return 0; }
    kill -0 "$LXMD_PID" 2>/dev/null || break
    sleep 0.1
  done
  LXM_SKIP="lxmd did not come up: $(tail -n 3 "$BENCH_WORK/lxmd.log" | tr '\n' ' ')"
  log "$LXM_SKIP"
}
lxmd_teardown() {
  [ -n "${LXMD_PID:-}" ] || return 0
  local n mpid f
  if kill -0 "$LXMD_PID" 2>/dev/null; then
    for n in "${LXM_NAMES[@]}"; do timeout 60 "$LXM" delete --force "$n"; done
    kill -TERM "$LXMD_PID"
    for _ in $(seq 300); do kill -0 "$LXMD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$LXMD_PID" 2>/dev/null && kill -KILL "$LXMD_PID"
  fi
  wait "$LXMD_PID" 2>/dev/null
  # Monitors outlive lxmd by design: stop every one this run's state dir still has.
  for f in $(find "$LXM_DIR" -name monitor.pid 2>/dev/null); do
    mpid=$(cat "$f")
    kill -0 "$mpid" 2>/dev/null || continue
    "$MONITOR_CTL" "$(dirname "$f")/monitor.sock" '{"op":"stop","timeout":0,"force":true}' "$mpid" ||
      kill -KILL "$mpid"
  done
  for n in "${LXM_NAMES[@]}"; do rm_cgroup "lxm/$n"; rm_cgroup "lxm/$n.monitor"; done
  umount_below "$LXM_DIR"
  LXMD_PID=
}

# ---- the REST API (same calls against lxmd and LXD) -------------------------------------------
# api SOCKET METHOD PATH [BODY]: prints the JSON envelope.
api() {
  curl -sS --max-time 120 --unix-socket "$1" -X "$2" ${4:+-H 'Content-Type: application/json' -d "$4"} "http://local$3"
}
# Creates an empty instance (no image) and waits for its operation.
api_create_empty() {
  local sock=$1 name=$2 reply op
  reply=$(api "$sock" POST /1.0/instances "{\"name\":\"$name\",\"type\":\"container\",\"source\":{\"type\":\"none\"}}")
  op=$(jq -r '.operation // empty' <<<"$reply")
  [ -n "$op" ] || { log "create $name: $reply"; return 1; }
  reply=$(api "$sock" GET "$op/wait?timeout=120")
  [ "$(jq -r '.metadata.status // empty' <<<"$reply")" = Success ] || { log "create $name: $reply"; return 1; }
}
init_pid_api() { api "$1" GET "/1.0/instances/$2/state" | jq -r '.metadata.pid'; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
ppid_of() { awk '/^PPid:/ {print $2}' "/proc/$1/status"; }
# hf_median RUNS COMMAND: hyperfine median in ms (no shell, 3 warmup runs).
hf_median() {
  local runs=$1 out=$BENCH_WORK/hf.json
  shift
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$out" "$@" > /dev/null 2>&1 || return 1
  jq -r '.results[0].median * 1000 | round' "$out"
}
