#!/usr/bin/env bash
# Migration and backups (issue 6's benchmark), in one run:
#
#   bench/migration.sh [-s SIZE_MB] [-r RUNS]
#   (root; LXM_BENCH_BUILD=build dir with bin/{lxmd,lxm,lxm-monitor}; LXD 5.0 and rsync for the LXD side)
#
# Four "hosts" on this machine, each in its own network namespace on a test bridge (subnet chosen
# by reading the host's routes and addresses, never by probing): .2 and .3 run lxmd, .4 and .5 run
# a private LXD 5.0 daemon each (own LXD_DIR, core.https_address on its namespace's address, a dir
# pool, no managed network). Every daemon is started with `nsenter --net=/run/netns/<ns>`: only the
# network namespace changes (`ip netns exec` would also remount /sys, without the cgroup
# hierarchies LXD and lxm-monitor need). The clients run on the host side of the bridge: lxm's
# remotes are added with join tokens, LXD's client (LXD_CONF private to the run) adds the lxm hosts
# with tokens and the LXD daemons with core.trust_password.
#
# Part 1, copy between two hosts over TLS, RUNS rounds (default 1), each round in this order:
#   - `lxm copy h0:c h1:c`: lxm's CLI, pull mode (zstd tar over the operation websocket, TLS);
#   - `lxm copy --mode push|relay h0:c h1:c` when lxm's CLI has --mode;
#   - `lxc copy h0:c h1:c`: LXD 5.0's client driving the two lxmd hosts (pull);
#   - `lxc copy lxd0:c lxd1:c`: LXD 5.0 to LXD 5.0 (pull; a dir pool migrates with rsync over
#     the websocket, rsync.compression at its default, on), then again with rsync.compression=false
#     on both pools.
# The container is stopped and holds SIZE_MB (default 1024) of incompressible data (/dev/urandom):
# written inside the lxm container by dd, and into the stopped LXD container's rootfs under
# LXD_DIR. The copy made on the target is deleted after each copy (not timed). Measured: the wall
# time of the client command; CPU seconds of each daemon during the copy (utime+stime of the daemon
# and of the children it waited for, e.g. LXD's rsync, from /proc/PID/stat); for lxm's copies the
# phases from lxmd's log lines "sent ... in S s" (source) and "received ... in R s" (target).
# Ceilings: one loopback TLS connection moving the same bytes (OpenSSL through python's ssl), the
# machine's `openssl s_time` (new connections into the target namespace) and `openssl speed`
# (AES-256-GCM).
# Part 2, export/import: `lxm export` + `lxm import` of the same container on host 0, against LXD
# 5.0 `lxc export` + `lxc import` of the LXD container on lxd0, each with gzip (LXD's default)
# and zstd.
#
# Everything the run makes (namespaces, veths, the bridge, daemons, mounts, containers, cgroups,
# the run dir) is removed by the EXIT trap (bench/lib.sh), also when a step fails. The table goes
# to stdout, the raw samples to /var/lib/lxm-bench/migration-results-<time>.csv.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SIZE_MB=1024
RUNS=1
while getopts s:r: o; do
  case $o in
  s) SIZE_MB=$OPTARG ;;
  r) RUNS=$OPTARG ;;
  *) echo "usage: $0 [-s SIZE_MB] [-r RUNS]" >&2; exit 2 ;;
  esac
done

bench_setup
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
DATE_START=$(date -u +%Y-%m-%dT%H:%MZ)
log "load average at start: $LOAD_START"
[ -x "$LXMD" ] && [ -x "$LXM" ] || die "no $LXMD or $LXM (build them)"
build_monitor_ctl
LXD_SKIP=
command -v lxd >/dev/null || LXD_SKIP="lxd not installed"
[ -n "$LXD_SKIP" ] || command -v rsync >/dev/null || LXD_SKIP="rsync not installed (LXD migrates dir pools with it)"

# ---- four hosts on a test bridge ----------------------------------------------------------------
TAG=$$
BR=lxmb-br$((TAG % 10000))
NET=$(python3 - "$BR" <<'EOF'
import ipaddress, json, subprocess, sys, zlib
used = []
for cmd in (["ip", "-j", "route", "show", "table", "all"], ["ip", "-j", "-4", "addr"]):
    for r in json.loads(subprocess.run(cmd, capture_output=True, text=True).stdout or "[]"):
        if "dst" in r and r["dst"] not in ("default",) and ":" not in r["dst"]:
            try: used.append(ipaddress.ip_network(r["dst"] if "/" in r["dst"] else r["dst"] + "/32", strict=False))
            except ValueError: pass
        for a in r.get("addr_info", []):
            if a.get("family") == "inet":
                used.append(ipaddress.ip_network(f"{a['local']}/{a['prefixlen']}", strict=False))
start = zlib.crc32(sys.argv[1].encode()) % 65536
for k in range(65536):
    i = (start + k * 7919) % 65536
    cand = ipaddress.ip_network(f"10.{i // 256}.{i % 256}.0/24")
    if not any(cand.overlaps(u) for u in used):
        print(str(cand.network_address)[:-1]); break
EOF
)
[ -n "$NET" ] || die "no free 10.x.y.0/24"
log "test subnet ${NET}0/24 on bridge $BR"
ip link add "$BR" type bridge
on_exit "ip link del $BR"
ip addr add "${NET}1/24" dev "$BR"
ip link set "$BR" up
NS=() ADDR=()
for i in 0 1 2 3; do
  ns=lxmb-$TAG-$i veth=lxmb${TAG: -4}h$i
  ip netns add "$ns"
  on_exit "ip netns del $ns"
  ip link add "$veth" type veth peer name "${veth}p"
  on_exit "ip link del $veth"
  ip link set "$veth" master "$BR" up
  ip link set "${veth}p" netns "$ns"
  ip -n "$ns" link set "${veth}p" name eth0
  ip -n "$ns" addr add "${NET}$((2 + i))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  NS+=("$ns") ADDR+=("${NET}$((2 + i))")
done

# ---- the lxmd hosts h0 (.2) and h1 (.3) -----------------------------------------------------------
HOST_DIR=() HOST_PID=()
stop_host() {
  local i=$1 f mpid
  for f in $(find "${HOST_DIR[$i]}" -name monitor.pid 2>/dev/null); do
    mpid=$(cat "$f")
    kill -0 "$mpid" 2>/dev/null || continue
    "$MONITOR_CTL" "$(dirname "$f")/monitor.sock" '{"op":"stop","timeout":0,"force":true}' "$mpid" || kill -KILL "$mpid"
  done
  kill -TERM "${HOST_PID[$i]}" 2>/dev/null || true
  wait "${HOST_PID[$i]}" 2>/dev/null || true
  umount_below "${HOST_DIR[$i]}"
}
for i in 0 1; do
  d=$BENCH_WORK/host$i
  mkdir -p "$d"
  chmod 0711 "$d"
  HOST_DIR+=("$d")
  nsenter --net=/run/netns/"${NS[$i]}" "$LXMD" --state-dir "$d" --default-network none \
    --https-address "${ADDR[$i]}:8443" > "$BENCH_WORK/lxmd$i.log" 2>&1 &
  HOST_PID+=($!)
  on_exit "stop_host $i"
done
export LXM_CONF=$BENCH_WORK/lxm-conf LXD_CONF=$BENCH_WORK/lxd-conf
mkdir -p "$LXD_CONF"
for i in 0 1; do
  for _ in $(seq 600); do [ -S "${HOST_DIR[$i]}/unix.socket" ] && break; sleep 0.1; done
  [ -S "${HOST_DIR[$i]}/unix.socket" ] || die "lxmd $i did not start: $(tail -3 "$BENCH_WORK/lxmd$i.log")"
  token=$(LXM_DIR=${HOST_DIR[$i]} "$LXM" config trust add --name bench | tail -n 1)
  "$LXM" remote add "h$i" "$token" --accept-certificate > "$BENCH_WORK/lxm-remote-h$i.out" 2>&1 ||
    die "lxm remote add h$i: $(cat "$BENCH_WORK/lxm-remote-h$i.out")"
  # The same host as a remote of LXD's client (a token of its own: tokens are used once).
  token=$(LXM_DIR=${HOST_DIR[$i]} "$LXM" config trust add --name bench-lxc | tail -n 1)
  lxc remote add "h$i" "$token" --accept-certificate > "$BENCH_WORK/lxc-remote-h$i.out" 2>&1 ||
    die "lxc remote add h$i (an lxm host): $(cat "$BENCH_WORK/lxc-remote-h$i.out")"
done
lxm0() { LXM_DIR=${HOST_DIR[0]} "$LXM" "$@"; }
lxm1() { LXM_DIR=${HOST_DIR[1]} "$LXM" "$@"; }

# ---- the LXD hosts lxd0 (.4) and lxd1 (.5) -------------------------------------------------------
LXD_DIRS=() LXD_PIDS=()
if [ -z "$LXD_SKIP" ]; then
  # shellcheck disable=SC2034  # ROOTFS: read by lxd_import_image
  ROOTFS=$("$BENCH_SRC/scripts/build-rootfs.sh" "$BENCH_SRC/templates/recipes/busybox.yaml") ||
    die "cannot build the busybox rootfs for LXD"
  TRUST=bench-$RANDOM$RANDOM
  for i in 0 1; do
    d=$BENCH_WORK/lxd$i
    lxd_daemon_start "$d" "${NS[$((2 + i))]}"
    LXD_DIRS+=("$d") LXD_PIDS+=("$LXD_DAEMON_PID")
    lxd_preseed "$d"
    LXD_DIR=$d lxc config set local: core.https_address "${ADDR[$((2 + i))]}:8443"
    LXD_DIR=$d lxc config set local: core.trust_password "$TRUST"
    lxc remote add "lxd$i" "https://${ADDR[$((2 + i))]}:8443" --password "$TRUST" --accept-certificate \
      > "$BENCH_WORK/lxc-remote-lxd$i.out" 2>&1 || die "lxc remote add lxd$i: $(cat "$BENCH_WORK/lxc-remote-lxd$i.out")"
    LXD_DIR=$d lxc config unset local: core.trust_password
  done
  log "LXD daemons up: lxd0 pid ${LXD_PIDS[0]} on ${ADDR[2]}, lxd1 pid ${LXD_PIDS[1]} on ${ADDR[3]}"
  lxd_import_image "${LXD_DIRS[0]}"
fi

# ---- the container, on h0 and on lxd0 -----------------------------------------------------------
C=bench-mig
BYTES=$((SIZE_MB * 1024 * 1024))
lxm0 launch busybox "$C" > /dev/null
lxm0 exec "$C" -- sh -c "dd if=/dev/urandom of=/root/big bs=1M count=$SIZE_MB 2>/dev/null && sync"
lxm0 stop -f "$C"
if [ -z "$LXD_SKIP" ]; then
  LXD_DIR=${LXD_DIRS[0]} lxc init local:bench-debian "local:$C" > /dev/null
  # The same data: written into the stopped container's volume (a dir pool: a plain directory).
  head -c "$BYTES" /dev/urandom > "${LXD_DIRS[0]}/storage-pools/default/containers/$C/rootfs/root/big"
  sync
fi
log "containers ready: $SIZE_MB MB of random data in $C on h0${LXD_SKIP:+ (LXD side skipped: $LXD_SKIP)}${LXD_SKIP:- and lxd0}"

# ---- part 1: copy over TLS ------------------------------------------------------------------------
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { if (ms > 0) printf "%.0f", b / 1048576 / (ms / 1e3); else print "n/a" }'; }
# CPU seconds (x100: clock ticks) a daemon and the children it reaped have used so far.
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13 + $14 + $15}'; }
ticks_to_s() { awk -v t="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'; }
# Epoch milliseconds of an lxmd log line (its first field, local time, millisecond precision).
log_ms() { python3 -c 'import sys, datetime; print(int(datetime.datetime.strptime(sys.argv[1], "%Y-%m-%dT%H:%M:%S.%f").timestamp() * 1000))' "$1"; }
now_ms() { us_to_ms "$(now_us)"; }

HAS_MODE=
"$LXM" copy --help 2>&1 | grep -q -- '--mode' && HAS_MODE=1

# timed_copy LABEL SRCPID DSTPID CMD...: runs one copy, records its wall time (ms) and the CPU
# seconds (x100) of both daemons under LABEL.
timed_copy() {
  local label=$1 spid=$2 dpid=$3 s0 d0 t0 t1 out=$BENCH_WORK/$1.out
  shift 3
  s0=$(cpu_ticks "$spid") d0=$(cpu_ticks "$dpid")
  LOG0_OFF=$(stat -c %s "$BENCH_WORK/lxmd0.log") LOG1_OFF=$(stat -c %s "$BENCH_WORK/lxmd1.log")
  t0=$(now_us)
  "$@" > "$out" 2>&1 || die "$label: $* failed: $(tail -n 5 "$out")"
  t1=$(now_us)
  record "$label" time "$(us_to_ms $((t1 - t0)))"
  record "$label" src-cpu "$(($(cpu_ticks "$spid") - s0))"
  record "$label" dst-cpu "$(($(cpu_ticks "$dpid") - d0))"
  COPY_T0=$((t0 / 1000)) COPY_T1=$((t1 / 1000))
  log "$label: $(us_to_ms $((t1 - t0))) ms, $(mbps $BYTES "$(us_to_ms $((t1 - t0)))") MB/s"
}
# lxm_phases LABEL: the phases of the copy just made between h0 and h1, from the lxmd logs, which
# add up to the wall time: setup (client start to the source's first byte: operations, websockets
# and the source's pool snapshot, a copy of the upper dir on the overlay pool), stream (that first
# byte to the target's "received" line: walk, zstd, TLS, unpack and writes on the target), tail
# (that line to the client's return: the instance created from the unpacked tree, the
# confirmation). Also kept: the source's "sent ... in S s" (its stream plus dropping the pool
# snapshot, which it logs after) and the target's "received ... in R s" (counted from the source's
# offer, so including the source's snapshot).
lxm_phases() {
  local label=$1 sline rline s_end r_end s_secs r_secs
  sline=$(tail -c +$((LOG0_OFF + 1)) "$BENCH_WORK/lxmd0.log" | grep "migration of $C: sent" | tail -n 1 || true)
  rline=$(tail -c +$((LOG1_OFF + 1)) "$BENCH_WORK/lxmd1.log" | grep "migration into $C: received" | tail -n 1 || true)
  [ -n "$sline" ] && [ -n "$rline" ] || { log "$label: no sent/received lines in the lxmd logs"; return 0; }
  s_end=$(log_ms "${sline%% *}") r_end=$(log_ms "${rline%% *}")
  s_secs=$(sed -E 's/.* in ([0-9.]+) s.*/\1/' <<<"$sline")
  r_secs=$(sed -E 's/.* in ([0-9.]+) s.*/\1/' <<<"$rline")
  record "$label" setup "$(awk -v e="$s_end" -v s="$s_secs" -v t="$COPY_T0" 'BEGIN { printf "%.0f", e - s * 1000 - t }')"
  record "$label" sent "$(awk -v s="$s_secs" 'BEGIN { printf "%.0f", s * 1000 }')"
  record "$label" received "$(awk -v s="$r_secs" 'BEGIN { printf "%.0f", s * 1000 }')"
  record "$label" stream "$(awk -v e="$r_end" -v s_end="$s_end" -v s="$s_secs" 'BEGIN { printf "%.0f", e - (s_end - s * 1000) }')"
  record "$label" tail "$((COPY_T1 - r_end))"
  WIRE_BYTES=$(sed -E 's/.* as ([0-9]+) bytes in.*/\1/' <<<"$sline")
  FILE_BYTES=$(sed -E 's/.* snapshots, ([0-9]+) bytes of files.*/\1/' <<<"$sline")
}

for ((r = 1; r <= RUNS; r++)); do
  log "copy round $r of $RUNS"
  timed_copy lxm-copy "${HOST_PID[0]}" "${HOST_PID[1]}" "$LXM" copy "h0:$C" "h1:$C"
  lxm_phases lxm-copy
  lxm1 delete "$C" > /dev/null
  if [ -n "$HAS_MODE" ]; then
    for mode in push relay; do
      timed_copy "lxm-copy-$mode" "${HOST_PID[0]}" "${HOST_PID[1]}" "$LXM" copy --mode "$mode" "h0:$C" "h1:$C"
      lxm_phases "lxm-copy-$mode"
      lxm1 delete "$C" > /dev/null
    done
  fi
  timed_copy lxc-copy-lxm "${HOST_PID[0]}" "${HOST_PID[1]}" lxc copy "h0:$C" "h1:$C"
  lxm_phases lxc-copy-lxm
  lxm1 delete "$C" > /dev/null
  if [ -z "$LXD_SKIP" ]; then
    timed_copy lxd-copy "${LXD_PIDS[0]}" "${LXD_PIDS[1]}" lxc copy "lxd0:$C" "lxd1:$C"
    lxc delete "lxd1:$C" > /dev/null
    # The same with rsync's compression off on both pools (LXD's default is on; random data only
    # costs CPU there): what LXD's transport does without it.
    if lxc storage set lxd0:default rsync.compression false 2>/dev/null &&
      lxc storage set lxd1:default rsync.compression false 2>/dev/null; then
      timed_copy lxd-copy-nocomp "${LXD_PIDS[0]}" "${LXD_PIDS[1]}" lxc copy "lxd0:$C" "lxd1:$C"
      lxc delete "lxd1:$C" > /dev/null
    fi
    lxc storage unset lxd0:default rsync.compression 2>/dev/null || true
    lxc storage unset lxd1:default rsync.compression 2>/dev/null || true
  fi
done

# Loopback TLS ceiling: one TLS connection moving the same number of bytes on this machine
# (python's ssl = OpenSSL, AES-GCM), the server counting them.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -subj /CN=bench -days 1 \
  -keyout "$BENCH_WORK/tls.key" -out "$BENCH_WORK/tls.crt" 2>/dev/null
cat > "$BENCH_WORK/tlsceil.py" <<'PY'
import socket, ssl, sys, threading, time
n = int(sys.argv[1]) * 1048576
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sctx.load_cert_chain(sys.argv[2], sys.argv[3])
ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1); port = ls.getsockname()[1]
got = [0]
def serve():
    c, _ = ls.accept(); s = sctx.wrap_socket(c, server_side=True)
    while True:
        d = s.recv(1 << 20)
        if not d: break
        got[0] += len(d)
t = threading.Thread(target=serve); t.start()
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); cctx.check_hostname = False; cctx.verify_mode = ssl.CERT_NONE
s = cctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
buf = bytes(1 << 20); t0 = time.time(); sent = 0
while sent < n: s.sendall(buf); sent += len(buf)
s.close(); t.join()
print(int((time.time() - t0) * 1e6))
PY
TLS_MS=$(us_to_ms "$(python3 "$BENCH_WORK/tlsceil.py" "$SIZE_MB" "$BENCH_WORK/tls.crt" "$BENCH_WORK/tls.key")")
log "loopback TLS (one connection): $TLS_MS ms, $(mbps $BYTES "$TLS_MS") MB/s"
nsenter --net=/run/netns/"${NS[1]}" openssl s_server -accept 9444 -cert "$BENCH_WORK/tls.crt" \
  -key "$BENCH_WORK/tls.key" -quiet -www > /dev/null 2>&1 &
SSERVER=$!
on_exit "kill $SSERVER 2>/dev/null; wait $SSERVER; true"
sleep 1
SCONN=$(nsenter --net=/run/netns/"${NS[0]}" openssl s_time -connect "${ADDR[1]}:9444" -new -time 3 2>/dev/null |
  awk '/connections\/user sec/ {sub(/s;$/, "", $4); print $1 " connections in " $4 " s of CPU"; exit}' || true)
kill "$SSERVER" 2>/dev/null || true
# 16 KiB blocks only; the column is in 1000s of bytes per second.
AES=$(openssl speed -elapsed -seconds 2 -bytes 16384 -evp aes-256-gcm 2>/dev/null |
  awk '/^AES-256-GCM/ {v = $NF; sub(/k$/, "", v); printf "%.0f MB/s", v * 1000 / 1048576; exit}')
log "openssl s_time: ${SCONN:-n/a}; openssl speed aes-256-gcm 16 KiB blocks: ${AES:-n/a}"

# ---- part 2: export / import --------------------------------------------------------------------
declare -A R
for comp in gzip zstd; do
  f=$BENCH_WORK/$C.$comp
  t0=$(now_us); lxm0 export "$C" "$f" --compression "$comp" > /dev/null; t1=$(now_us)
  R[lxm_export_$comp]=$(us_to_ms $((t1 - t0))); R[lxm_size_$comp]=$(stat -c %s "$f")
  lxm0 delete "$C" > /dev/null
  t0=$(now_us); lxm0 import "$f" > /dev/null; t1=$(now_us)
  R[lxm_import_$comp]=$(us_to_ms $((t1 - t0)))
  rm -f "$f"
  log "lxm $comp: export ${R[lxm_export_$comp]} ms, import ${R[lxm_import_$comp]} ms, $((${R[lxm_size_$comp]} / 1048576)) MB"
done
if [ -z "$LXD_SKIP" ]; then
  lxd0() { LXD_DIR=${LXD_DIRS[0]} lxc "$@"; }
  for comp in gzip zstd; do
    f=$BENCH_WORK/lxd-$C.$comp
    t0=$(now_us); lxd0 export "local:$C" "$f" --compression "$comp" > /dev/null; t1=$(now_us)
    R[lxd_export_$comp]=$(us_to_ms $((t1 - t0))); R[lxd_size_$comp]=$(stat -c %s "$f")
    lxd0 delete "local:$C" > /dev/null
    t0=$(now_us); lxd0 import local: "$f" > /dev/null; t1=$(now_us)
    R[lxd_import_$comp]=$(us_to_ms $((t1 - t0)))
    rm -f "$f"
    log "LXD $comp: export ${R[lxd_export_$comp]} ms, import ${R[lxd_import_$comp]} ms, $((${R[lxd_size_$comp]} / 1048576)) MB"
  done
fi
for k in "${!R[@]}"; do record "${k%%_*}" "${k#*_}" "${R[$k]}"; done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the tables ---------------------------------------------------------------------------------
s1() { awk -v ms="$1" 'BEGIN { if (ms == "") print "n/a"; else printf "%.1f s", ms / 1000 }'; }
cpu_s() { local t; t=$(median_of "$1" "$2"); [ -n "$t" ] && ticks_to_s "$t" || echo n/a; }
copy_row() {  # label text
  local t l
  t=$(median_of "$1" time) l=$(median_of lxm-copy time)
  [ -n "$t" ] || return 0
  printf '| %s | %s | %s MB/s | %s | %s s | %s s |\n' "$2" "$(s1 "$t")" "$(mbps $BYTES "$t")" "$(ratio "$t" "$l")" \
    "$(cpu_s "$1" src-cpu)" "$(cpu_s "$1" dst-cpu)"
}
phase_row() {  # label text
  [ -n "$(median_of "$1" sent)" ] || return 0
  printf '| %s | %s | %s | %s | %s |\n' "$2" "$(s1 "$(median_of "$1" setup)")" "$(s1 "$(median_of "$1" stream)")" \
    "$(s1 "$(median_of "$1" tail)")" "$(s1 "$(median_of "$1" sent)")"
}
# shellcheck disable=SC2016  # markdown labels with backquotes
{
  echo
  echo "Run of $DATE_START, $SIZE_MB MB of random data, $RUNS round(s) (medians), $(nproc) cores, kernel $(uname -r);"
  echo "load average at start $LOAD_START, at the end $LOAD_END."
  echo
  echo "| copy of a stopped ${SIZE_MB} MB container | time | throughput | x lxm copy | source daemon CPU | target daemon CPU |"
  echo "|---|---:|---:|---:|---:|---:|"
  copy_row lxm-copy '`lxm copy h0:c h1:c` (lxm CLI, pull; zstd tar, websocket, TLS)'
  copy_row lxm-copy-push '`lxm copy --mode push h0:c h1:c`'
  copy_row lxm-copy-relay '`lxm copy --mode relay h0:c h1:c`'
  copy_row lxc-copy-lxm '`lxc copy h0:c h1:c` (LXD 5.0 client, lxm hosts, pull)'
  copy_row lxd-copy '`lxc copy lxd0:c lxd1:c` (LXD 5.0 both sides, dir pool: rsync over TLS websocket)'
  copy_row lxd-copy-nocomp '`lxc copy lxd0:c lxd1:c`, pools with `rsync.compression=false`'
  echo "| loopback TLS, one connection (OpenSSL via python ssl) | $(s1 "$TLS_MS") | $(mbps $BYTES "$TLS_MS") MB/s | | | |"
  echo "| \`openssl s_time -new\` into the target namespace, 3 s | ${SCONN:-n/a} | | | | |"
  echo "| \`openssl speed -evp aes-256-gcm\`, 16 KiB blocks | | ${AES:-n/a} | | | |"
  echo
  echo "lxm copy phases (lxmd logs; setup + stream + tail = the copy's time): setup = client start to the source's"
  echo "first byte (operations, websockets, the source's pool snapshot); stream = to the target's end of unpacking (walk,"
  echo "zstd, TLS, unpack, writes); tail = to the client's return (instance created from the unpacked tree). The source's"
  echo "own \"sent ... in S s\" also counts dropping its pool snapshot. Wire bytes: ${WIRE_BYTES:-n/a} for ${FILE_BYTES:-n/a}"
  echo "bytes of files."
  echo
  echo "| phase | setup | stream | tail | source's \"sent in\" |"
  echo "|---|---:|---:|---:|---:|"
  phase_row lxm-copy '`lxm copy`'
  phase_row lxm-copy-push '`lxm copy --mode push`'
  phase_row lxm-copy-relay '`lxm copy --mode relay`'
  phase_row lxc-copy-lxm '`lxc copy` to lxm hosts'
  echo
  echo "| export / import | lxm gzip | lxm zstd | LXD gzip | LXD zstd | LXD/lxm gzip | LXD/lxm zstd |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for op in export import; do
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$op" "$(s1 "${R[lxm_${op}_gzip]}")" "$(s1 "${R[lxm_${op}_zstd]}")" \
      "$(s1 "${R[lxd_${op}_gzip]:-}")" "$(s1 "${R[lxd_${op}_zstd]:-}")" \
      "$(ratio "${R[lxd_${op}_gzip]:-}" "${R[lxm_${op}_gzip]}")" "$(ratio "${R[lxd_${op}_zstd]:-}" "${R[lxm_${op}_zstd]}")"
  done
  printf '| file | %s MB | %s MB | %s MB | %s MB | | |\n' "$((R[lxm_size_gzip] / 1048576))" "$((R[lxm_size_zstd] / 1048576))" \
    "$((${R[lxd_size_gzip]:-0} / 1048576))" "$((${R[lxd_size_zstd]:-0} / 1048576))"
  [ -z "$LXD_SKIP" ] || { echo; echo "LXD columns skipped: $LXD_SKIP"; }
}
cp "$RESULTS" "$BENCH_BASE/migration-results-$(date -u +%Y%m%dT%H%M%SZ).csv"
