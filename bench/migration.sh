#!/usr/bin/env bash
# Migration and backups (issue 6's benchmark), in one run:
#
#   bench/migration.sh [-s SIZE_MB]   (root; LXM_BENCH_BUILD=build dir with bin/{lxmd,lxm,lxm-monitor})
#
# Part 1, copy between two hosts over TLS: two lxmd "hosts" on this machine, each in its own
# network namespace on a test bridge (subnet chosen by reading the host's routes and addresses,
# never by probing), remotes added with join tokens. A stopped busybox container with SIZE_MB
# (default 1024) of incompressible data is copied from host 0 to host 1 with `lxm copy`
# (zstd tar over the operation websocket, TLS). Ceilings: one loopback TLS connection moving the
# same bytes (OpenSSL through python's ssl), the machine's `openssl s_time` (connection setup)
# and `openssl speed` (AES-GCM) for reference.
# Part 2, export/import: `lxm export` + `lxm import` of the same container on host 0, against
# LXD 5.0 `lxc export` + `lxc import` of a container holding the same data (a private LXD
# daemon on a dir pool, bench/lib.sh), each with gzip (LXD's default) and lxm's zstd.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SIZE_MB=1024
while getopts s: o; do
  case $o in
  s) SIZE_MB=$OPTARG ;;
  *) echo "usage: $0 [-s SIZE_MB]" >&2; exit 2 ;;
  esac
done

bench_setup
[ -x "$LXMD" ] && [ -x "$LXM" ] || die "no $LXMD or $LXM (build them)"
build_monitor_ctl

# ---- two hosts --------------------------------------------------------------------------------
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
HOST_NS=() HOST_ADDR=() HOST_DIR=() HOST_PID=()
for i in 0 1; do
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
  HOST_NS+=("$ns") HOST_ADDR+=("${NET}$((2 + i))")
  d=$BENCH_WORK/host$i
  mkdir -p "$d"
  chmod 0711 "$d"
  HOST_DIR+=("$d")
  # nsenter, not `ip netns exec`: that one remounts /sys in a new mount namespace (no cgroups there).
  nsenter --net=/run/netns/"$ns" "$LXMD" --state-dir "$d" --default-network none --https-address "${NET}$((2 + i)):8443" \
    > "$BENCH_WORK/lxmd$i.log" 2>&1 &
  HOST_PID+=($!)
  on_exit "stop_host $i"
done
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
export LXM_CONF=$BENCH_WORK/lxm-conf
for i in 0 1; do
  for _ in $(seq 600); do [ -S "${HOST_DIR[$i]}/unix.socket" ] && break; sleep 0.1; done
  [ -S "${HOST_DIR[$i]}/unix.socket" ] || die "lxmd $i did not start: $(tail -3 "$BENCH_WORK/lxmd$i.log")"
  token=$(LXM_DIR=${HOST_DIR[$i]} "$LXM" config trust add --name bench | tail -n 1)
  "$LXM" remote add "h$i" "$token" --accept-certificate > /dev/null
done
lxm0() { LXM_DIR=${HOST_DIR[0]} "$LXM" "$@"; }

# ---- the container ----------------------------------------------------------------------------
C=bench-mig
lxm0 launch busybox "$C" > /dev/null
lxm0 exec "$C" -- sh -c "dd if=/dev/urandom of=/root/big bs=1M count=$SIZE_MB 2>/dev/null && sync"
lxm0 stop -f "$C"
BYTES=$((SIZE_MB * 1024 * 1024))
mbps() { awk -v b="$1" -v us="$2" 'BEGIN { printf "%.0f", b / 1048576 / (us / 1e6) }'; }

# ---- part 1: copy over TLS ----------------------------------------------------------------------
t0=$(now_us)
"$LXM" copy "h0:$C" "h1:$C" > "$BENCH_WORK/copy.out" 2>&1 || die "lxm copy failed: $(cat "$BENCH_WORK/copy.out")"
t1=$(now_us)
COPY_US=$((t1 - t0))
log "lxm copy h0 -> h1: $(us_to_ms $COPY_US) ms, $(mbps $BYTES $COPY_US) MB/s"
LXM_DIR=${HOST_DIR[1]} "$LXM" delete "$C" > /dev/null

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
TLS_US=$(python3 "$BENCH_WORK/tlsceil.py" "$SIZE_MB" "$BENCH_WORK/tls.crt" "$BENCH_WORK/tls.key")
log "loopback TLS (one connection): $(us_to_ms $TLS_US) ms, $(mbps $BYTES $TLS_US) MB/s"
STIME=$(ip netns exec "${HOST_NS[1]}" sh -c "openssl s_server -accept 9444 -cert '$BENCH_WORK/tls.crt' -key '$BENCH_WORK/tls.key' -quiet -www > /dev/null 2>&1 & echo \$!")
sleep 1
SCONN=$(ip netns exec "${HOST_NS[0]}" openssl s_time -connect "${HOST_ADDR[1]}:9444" -new -time 3 2>/dev/null |
  awk '/connections\/user sec/ {print $1 " conn in " $4 "s"; exit}' || true)
ip netns exec "${HOST_NS[1]}" kill "$STIME" 2>/dev/null || kill "$STIME" 2>/dev/null || true
AES=$(openssl speed -elapsed -seconds 2 -evp aes-256-gcm 2>/dev/null | awk '/^AES-256-GCM/ {print $NF; exit}')
log "openssl s_time: ${SCONN:-n/a}; openssl speed aes-256-gcm 16 KiB blocks: ${AES:-n/a}"

# ---- part 2: export / import --------------------------------------------------------------------
declare -A R
for comp in gzip zstd; do
  f=$BENCH_WORK/$C.$comp
  t0=$(now_us); lxm0 export "$C" "$f" --compression "$comp" > /dev/null; t1=$(now_us)
  R[lxm_export_$comp]=$((t1 - t0)); R[lxm_size_$comp]=$(stat -c %s "$f")
  lxm0 delete "$C" > /dev/null
  t0=$(now_us); lxm0 import "$f" > /dev/null; t1=$(now_us)
  R[lxm_import_$comp]=$((t1 - t0))
  rm -f "$f"
  log "lxm $comp: export $(us_to_ms ${R[lxm_export_$comp]}) ms, import $(us_to_ms ${R[lxm_import_$comp]}) ms, $((R[lxm_size_$comp] / 1048576)) MB"
done

LXD_OK=1
(
  ROOTFS=$("$BENCH_SRC/scripts/build-rootfs.sh" "$BENCH_SRC/templates/recipes/busybox.yaml")
  echo "$ROOTFS" > "$BENCH_WORK/busybox.path"
) || LXD_OK=0
if [ "$LXD_OK" = 1 ] && command -v lxd >/dev/null; then
  ROOTFS=$(cat "$BENCH_WORK/busybox.path")
  lxd_setup
  lxc init bench-debian "$C" > /dev/null
  # The same data as the lxm container: the file written into the stopped container's volume.
  head -c "$BYTES" /dev/urandom > "$LXD_DIR/storage-pools/default/containers/$C/rootfs/root/big"
  for comp in gzip zstd; do
    f=$BENCH_WORK/lxd-$C.$comp
    t0=$(now_us); lxc export "$C" "$f" --compression "$comp" > /dev/null; t1=$(now_us)
    R[lxd_export_$comp]=$((t1 - t0)); R[lxd_size_$comp]=$(stat -c %s "$f")
    lxc delete "$C" > /dev/null
    t0=$(now_us); lxc import "$f" > /dev/null; t1=$(now_us)
    R[lxd_import_$comp]=$((t1 - t0))
    rm -f "$f"
    log "LXD $comp: export $(us_to_ms ${R[lxd_export_$comp]}) ms, import $(us_to_ms ${R[lxd_import_$comp]}) ms"
  done
fi

echo
echo "| ${SIZE_MB} MB container | time | throughput |"
echo "|---|---|---|"
echo "| lxm copy h0 -> h1 (TLS, zstd tar over websocket) | $(us_to_ms $COPY_US) ms | $(mbps $BYTES $COPY_US) MB/s |"
echo "| loopback TLS, one connection (OpenSSL via python ssl) | $(us_to_ms $TLS_US) ms | $(mbps $BYTES $TLS_US) MB/s |"
echo "| openssl s_time (new TLS connections, 3 s) | ${SCONN:-n/a} | |"
echo "| openssl speed aes-256-gcm (16 KiB) | | ${AES:-n/a} |"
echo
echo "| export / import | lxm gzip | lxm zstd | LXD gzip | LXD zstd |"
echo "|---|---|---|---|---|"
echo "| export (ms) | $(us_to_ms ${R[lxm_export_gzip]}) | $(us_to_ms ${R[lxm_export_zstd]}) | $(us_to_ms ${R[lxd_export_gzip]:-0}) | $(us_to_ms ${R[lxd_export_zstd]:-0}) |"
echo "| import (ms) | $(us_to_ms ${R[lxm_import_gzip]}) | $(us_to_ms ${R[lxm_import_zstd]}) | $(us_to_ms ${R[lxd_import_gzip]:-0}) | $(us_to_ms ${R[lxd_import_zstd]:-0}) |"
echo "| file (MB) | $((R[lxm_size_gzip] / 1048576)) | $((R[lxm_size_zstd] / 1048576)) | $((${R[lxd_size_gzip]:-0} / 1048576)) | $((${R[lxd_size_zstd]:-0} / 1048576)) |"
