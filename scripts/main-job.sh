#!/usr/bin/env bash
# The main job: launch a Debian 12 container that boots systemd, and show it running.
# Starts lxmd itself when no lxmd answers on $LXM_DIR/unix.socket (this machine has no
# service manager); a daemon it started keeps running afterwards, like a service would
# (stop it with: kill "$(cat "$LXM_DIR/lxmd.pid")").
#   scripts/main-job.sh [NAME]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "main-job: run as root" >&2; exit 1; }

name=${1:-c1}
export LXM_DIR=${LXM_DIR:-/var/lib/lxm}
bin=${LXM_BIN:-$PWD/build/bin}
lxm="$bin/lxm"
mkdir -p "$LXM_DIR"

if ! "$lxm" list >/dev/null 2>&1; then
  echo "main-job: starting lxmd (state in $LXM_DIR, log in $LXM_DIR/lxmd.log)"
  setsid "$bin/lxmd" >>"$LXM_DIR/lxmd.log" 2>&1 < /dev/null &
  echo $! > "$LXM_DIR/lxmd.pid"
  for _ in $(seq 100); do "$lxm" list >/dev/null 2>&1 && break; sleep 0.1; done
  "$lxm" list >/dev/null || { echo "main-job: lxmd did not come up; see $LXM_DIR/lxmd.log" >&2; exit 1; }
fi

if "$lxm" info "$name" >/dev/null 2>&1; then
  echo "main-job: instance $name exists already; starting it if needed"
  "$lxm" start "$name" 2>/dev/null || true
else
  # Builds the debian/12 image on first use (debootstrap, about a minute), then launches.
  "$lxm" launch debian/12 "$name"
fi
echo "main-job: waiting for systemd inside $name"
"$lxm" exec "$name" -- sh -c 'for i in $(seq 300); do [ -S /run/systemd/private ] && break; sleep 0.1; done'
state=$("$lxm" exec "$name" -- systemctl is-system-running --wait || true)
"$lxm" list
echo "systemctl is-system-running in $name: $state"
[ "$state" = running ]
