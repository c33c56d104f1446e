#!/usr/bin/env bash
# Networking (issue 5's benchmark): lxmd side by side with LXD 5.0 on its own bridge, in one run.
#
#   bench/network.sh [-n RUNS]     (root; LXM_BENCH_BUILD = build dir with bin/lxmd, bin/lxm, bin/lxm-monitor)
#
# 1. Network setup per container start, Debian 12 from the same rootfs, each runtime on a managed
#    bridge of its own (lxmd: a network named lxmbn<pid> made by lxmd --default-network, nft table
#    lxmbench; LXD: lxdbn<pid>, ipv4.address on a /24 chosen by reading the host's routes and
#    addresses, ipv6 none, NAT on). Per round and runtime, one container with a nic and one whose
#    nic is masked (type none), each created outside the timing, then:
#      start-cmd   the REST start request until its operation ended (lxmd: veth pair, bridge port,
#                  static host entry for dnsmasq, move into the netns; LXD: the same work of its own)
#      lease       the start request until the instance state shows an IPv4 on eth0 (the container's
#                  systemd-networkd got its DHCP lease from the runtime's dnsmasq), polled every 50 ms
#    and start-cmd of the nic-less twin, so start-cmd(nic) - start-cmd(none) is the nic's share.
# 2. TCP throughput container -> container over the bridge with iperf3 (Debian's, copied from the
#    host into the two containers of each runtime: the host is Debian 12 as well, and the default
#    image stays lean), against iperf3 over the host's loopback as the ceiling. -t 5 per sample.
# Traffic stays on the machine (host, its bridges, containers). Prints Markdown tables of medians.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

while getopts n: o; do
  case $o in
  n) BENCH_RUNS=$OPTARG ;;
  *) echo "usage: $0 [-n RUNS]" >&2; exit 2 ;;
  esac
done
IPERF_RUNS=$((BENCH_RUNS < 3 ? BENCH_RUNS : 3))
command -v iperf3 >/dev/null || die "iperf3 not installed (apt-get install -y iperf3)"
command -v jq >/dev/null || die "jq not installed"

bench_setup
bench_rootfs
LXM_NET=lxmbn$(($$ % 100000))
LXD_NET=lxdbn$(($$ % 100000))
LXMD_ARGS="--default-network $LXM_NET --nft-table lxmbench"
lxmd_setup
[ -z "$LXM_SKIP" ] || die "$LXM_SKIP"
LXM_SOCK=$LXM_DIR/unix.socket
# Undo in reverse: instances, the default profile's nic, the network; a last resort by name.
on_exit "ip link del '$LXM_NET' 2>/dev/null; nft delete table inet lxmbench 2>/dev/null; \
  p=\$(cat '$LXM_DIR/networks/$LXM_NET/dnsmasq.pid' 2>/dev/null) && grep -q '$LXM_NET' /proc/\$p/cmdline 2>/dev/null && kill \$p; true"
on_exit "api '$LXM_SOCK' DELETE /1.0/networks/$LXM_NET"
on_exit "api '$LXM_SOCK' PUT /1.0/profiles/default '{\"config\":{},\"devices\":{}}'"
# LXD leaves its (then empty) nft table behind when its last network goes: remove it unless it
# was there before this run.
nft list table inet lxd >/dev/null 2>&1 || on_exit "nft delete table inet lxd"
log "starting a private LXD daemon (LXD_DIR=$BENCH_WORK/lxd)"
lxd_setup
LXD_SOCK=$LXD_DIR/unix.socket

# A free /24 for LXD's bridge: 10.<a>.<b>.0/24 that contains no address or route of the host and
# of lxm's bridge (read from the kernel's tables, nothing probed).
pick_subnet() {
  python3 - "$(ip -4 -o addr show; ip -4 route show table all)" <<'PY'
import ipaddress, re, sys, zlib
used = []
for tok in re.findall(r'\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)\b', sys.argv[1]):
    try:
        used.append(ipaddress.ip_network(tok, strict=False))
    except ValueError:
        pass
start = zlib.crc32(b"lxd-bench") % 60000
for i in range(65536):
    n = (start + i) % 65536
    net = ipaddress.ip_network(f"10.{n >> 8}.{n & 255}.0/24")
    if n >> 8 == 0 or any(net.overlaps(u) for u in used if u.prefixlen > 0):
        continue
    print(f"{net.network_address + 1}/24")
    break
PY
}
LXD_CIDR=$(pick_subnet)
[ -n "$LXD_CIDR" ] || die "no free /24 for LXD's bridge"
lxc network create "$LXD_NET" ipv4.address="$LXD_CIDR" ipv4.nat=true ipv6.address=none >/dev/null ||
  die "lxc network create failed"
on_exit "lxc network delete '$LXD_NET'"
log "bridges: lxm $LXM_NET ($(api "$LXM_SOCK" GET /1.0/networks/$LXM_NET | jq -r '.metadata.config["ipv4.address"]')), LXD $LXD_NET ($LXD_CIDR)"

# ---- helpers over the REST API (the same calls for both) --------------------------------------
sock_of() { [ "$1" = lxm ] && echo "$LXM_SOCK" || echo "$LXD_SOCK"; }
wait_op() {
  local sock=$1 reply=$2 op
  op=$(jq -r '.operation // empty' <<<"$reply")
  [ -n "$op" ] || { log "no operation: $reply"; return 1; }
  reply=$(api "$sock" GET "$op/wait?timeout=120")
  [ "$(jq -r '.metadata.status // empty' <<<"$reply")" = Success ] || { log "operation failed: $reply"; return 1; }
}
# create RT NAME nic|none
create() {
  local rt=$1 name=$2 kind=$3 sock alias dev
  sock=$(sock_of "$rt")
  alias=$([ "$rt" = lxm ] && echo debian/12 || echo bench-debian)
  if [ "$kind" = none ]; then
    dev='{"eth0":{"type":"none"}}'
  elif [ "$rt" = lxm ]; then
    dev='{}'  # the default profile's eth0 on lxmd's network
  else
    dev="{\"eth0\":{\"type\":\"nic\",\"network\":\"$LXD_NET\",\"name\":\"eth0\"}}"
  fi
  # LXD mounts /sys read-write in unprivileged containers; systemd-networkd then waits for a udev
  # that this image (like the lean lxm one) does not have, and never configures eth0. lxm mounts
  # /sys read-only (systemd's container interface): give LXD's containers the same.
  local cfg='{}'
  [ "$rt" = lxd ] && cfg='{"raw.lxc":"lxc.mount.auto = sys:ro"}'

  wait_op "$sock" "$(api "$sock" POST /1.0/instances \
    "{\"name\":\"$name\",\"source\":{\"type\":\"image\",\"alias\":\"$alias\"},\"devices\":$dev,\"config\":$cfg}")"
  if [ "$rt" = lxd ]; then
    on_exit "timeout 60 lxc delete -f '$name' 2>/dev/null || true"
  else
    LXM_NAMES+=("$name")
    on_exit "api '$sock' DELETE /1.0/instances/$name"
    on_exit "api '$sock' PUT /1.0/instances/$name/state '{\"action\":\"stop\",\"force\":true}'; sleep 1"
  fi
}
state_ipv4() {
  api "$(sock_of "$1")" GET "/1.0/instances/$2/state" |
    jq -r '[.metadata.network.eth0.addresses[]? | select(.family == "inet") | .address][0] // empty'
}
# start RT NAME nic|none: records start-cmd (and lease for a nic)
measure_start() {
  local rt=$1 name=$2 kind=$3 sock t0 t1 t2 ip=
  sock=$(sock_of "$rt")
  t0=$(now_us)
  wait_op "$sock" "$(api "$sock" PUT "/1.0/instances/$name/state" '{"action":"start","timeout":60}')" || return 1
  t1=$(now_us)
  [ "$RECORD_STARTS" = 1 ] && record "$rt" "start-cmd-$kind" "$(us_to_ms $((t1 - t0)))"
  if [ "$kind" = nic ]; then
    while [ $(($(now_us) - t0)) -lt 60000000 ]; do
      ip=$(state_ipv4 "$rt" "$name")
      [ -n "$ip" ] && break
      sleep 0.05
    done
    t2=$(now_us)
    [ -n "$ip" ] || { log "$rt $name: no IPv4 after 60 s"; return 1; }
    [ "$RECORD_STARTS" = 1 ] && record "$rt" lease "$(us_to_ms $((t2 - t0)))" "$ip"
    log "$rt $name: start-cmd $(us_to_ms $((t1 - t0))) ms, lease $ip after $(us_to_ms $((t2 - t0))) ms"
  else
    log "$rt $name (no nic): start-cmd $(us_to_ms $((t1 - t0))) ms"
  fi
}
stop_delete() {
  local rt=$1 name=$2 sock
  sock=$(sock_of "$rt")
  wait_op "$sock" "$(api "$sock" PUT "/1.0/instances/$name/state" '{"action":"stop","force":true}')" || true
  wait_op "$sock" "$(api "$sock" DELETE "/1.0/instances/$name")" || true
}

# ---- 1. network setup per start -----------------------------------------------------------------
RECORD_STARTS=1
for ((r = 1; r <= BENCH_RUNS; r++)); do
  for rt in lxm lxd; do
    for kind in nic none; do
      n=nb$r-$rt-$kind
      create "$rt" "$n" "$kind"
      measure_start "$rt" "$n" "$kind"
      stop_delete "$rt" "$n"
    done
  done
done

# ---- 2. iperf3 container -> container -----------------------------------------------------------
RECORD_STARTS=0  # these starts are not part of the table above
IPERF_LIBS=()
for l in $(ldd "$(command -v iperf3)" | awk '/=>/ {print $3}'); do
  case $(basename "$l") in libiperf*|libsctp*) IPERF_LIBS+=("$l") ;; esac
done
# push_iperf RT NAME: iperf3 and the two libraries the image lacks, into /usr/local.
push_iperf() {
  local rt=$1 name=$2 f
  if [ "$rt" = lxm ]; then
    "$LXM" file push "$(command -v iperf3)" "$name/usr/local/bin/iperf3"
    for f in "${IPERF_LIBS[@]}"; do "$LXM" file push "$f" "$name/usr/local/lib/$(basename "$f")"; done
    "$LXM" exec "$name" -- sh -c 'chmod 0755 /usr/local/bin/iperf3 && ldconfig'
  else
    lxc file push -q "$(command -v iperf3)" "$name/usr/local/bin/iperf3"
    for f in "${IPERF_LIBS[@]}"; do lxc file push -q "$f" "$name/usr/local/lib/$(basename "$f")"; done
    lxc exec "$name" -- sh -c 'chmod 0755 /usr/local/bin/iperf3 && ldconfig'
  fi
}
in_ct() { local rt=$1 name=$2; shift 2; if [ "$rt" = lxm ]; then "$LXM" exec "$name" -- "$@"; else lxc exec "$name" -- "$@"; fi; }
gbits() { jq -r '.end.sum_received.bits_per_second / 1e6 | round'; }  # Mbit/s

for rt in lxm lxd; do
  for n in ipa ipb; do
    create "$rt" "$rt-$n" nic
    measure_start "$rt" "$rt-$n" nic
    push_iperf "$rt" "$rt-$n"
  done
  server_ip=$(state_ipv4 "$rt" "$rt-ipb")
  for ((r = 1; r <= IPERF_RUNS; r++)); do
    in_ct "$rt" "$rt-ipb" iperf3 -s -1 -D
    sleep 0.5
    mbps=$(in_ct "$rt" "$rt-ipa" iperf3 -c "$server_ip" -t 5 -J | gbits)
    record "$rt" iperf-mbps "$mbps"
    log "$rt: container -> container $mbps Mbit/s"
  done
  stop_delete "$rt" "$rt-ipa"
  stop_delete "$rt" "$rt-ipb"
done
port=$((40000 + $$ % 20000))
for ((r = 1; r <= IPERF_RUNS; r++)); do
  iperf3 -s -1 -B 127.0.0.1 -p "$port" -D
  sleep 0.5
  mbps=$(iperf3 -c 127.0.0.1 -p "$port" -t 5 -J | gbits)
  record host iperf-mbps "$mbps"
  log "host loopback: $mbps Mbit/s"
done

# ---- report ---------------------------------------------------------------------------------
SAVED=$BENCH_BASE/network-results-$(date -u +%Y%m%dT%H%M%SZ).csv
cp "$RESULTS" "$SAVED"
med() { median_of "$1" "$2"; }
diff_ms() { [ -n "$1" ] && [ -n "$2" ] && echo $(($1 - $2)) || echo n/a; }
cat <<EOT

Network setup per container start (median of $BENCH_RUNS, ms; Debian 12, each runtime on its own managed bridge)

| metric | lxm (lxmd) | LXD 5.0 | lxm / LXD |
|---|---:|---:|---:|
| start request, nic on the bridge | $(med lxm start-cmd-nic) | $(med lxd start-cmd-nic) | $(ratio "$(med lxm start-cmd-nic)" "$(med lxd start-cmd-nic)") |
| start request, nic masked (none) | $(med lxm start-cmd-none) | $(med lxd start-cmd-none) | $(ratio "$(med lxm start-cmd-none)" "$(med lxd start-cmd-none)") |
| nic's share of the start request | $(diff_ms "$(med lxm start-cmd-nic)" "$(med lxm start-cmd-none)") | $(diff_ms "$(med lxd start-cmd-nic)" "$(med lxd start-cmd-none)") | |
| start request to DHCP lease on eth0 | $(med lxm lease) | $(med lxd lease) | $(ratio "$(med lxm lease)" "$(med lxd lease)") |

TCP throughput, iperf3 -t 5 (median of $IPERF_RUNS, Mbit/s)

| path | Mbit/s | share of loopback |
|---|---:|---:|
| host loopback (ceiling) | $(med host iperf-mbps) | 1.00x |
| lxm: container -> container over its bridge | $(med lxm iperf-mbps) | $(ratio "$(med lxm iperf-mbps)" "$(med host iperf-mbps)") |
| LXD: container -> container over its bridge | $(med lxd iperf-mbps) | $(ratio "$(med lxd iperf-mbps)" "$(med host iperf-mbps)") |

raw samples: $SAVED
EOT
