#!/usr/bin/env bash
# Installs every Debian package lxm needs to build, test and run. Idempotent, non-interactive.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

build=(build-essential cmake pkg-config git
       libsqlite3-dev sqlite3 libboost1.81-dev nlohmann-json3-dev libseccomp-dev libcap-dev
       libapparmor-dev libssl-dev libgtest-dev libgmock-dev libarchive-dev libnl-3-dev
       libnl-route-3-dev libnftables-dev libcli11-dev libspdlog-dev libfmt-dev libyaml-cpp-dev)
runtime=(dnsmasq-base debootstrap criu apparmor busybox-static iproute2 nftables uidmap
         ca-certificates openssl btrfs-progs zstd)
# Compatibility tests and benchmarks run the real LXD/LXC clients side by side.
compat=(lxc lxd lxd-client python3-pylxd iperf3 hyperfine)

missing=()
for p in "${build[@]}" "${runtime[@]}" "${compat[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: run as root (missing: ${missing[*]})" >&2; exit 1; fi
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
