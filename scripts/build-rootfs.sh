#!/usr/bin/env bash
# Builds the rootfs of one recipe in templates/recipes/ and caches it outside the repo,
# keyed by the hash of the recipe and of this script, so reruns are instant and a recipe
# change rebuilds. Prints the cached rootfs path on stdout (logs go to stderr).
#
#   scripts/build-rootfs.sh templates/recipes/debian-12.yaml
#
# Cache: ${LXM_IMAGE_CACHE:-/var/cache/lxm/images}/<name>-<hash>/{rootfs,recipe.yaml}
set -euo pipefail

recipe=${1:?usage: build-rootfs.sh RECIPE.yaml}
[ -f "$recipe" ] || { echo "build-rootfs: no recipe $recipe" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "build-rootfs: must run as root (debootstrap, device nodes)" >&2; exit 2; }

key() { sed -n "s/^$1:[[:space:]]*//p" "$recipe" | head -n1; }
name=$(key name); distro=$(key distro)
[ -n "$name" ] && [ -n "$distro" ] || { echo "build-rootfs: recipe needs name and distro" >&2; exit 2; }

hash=$(cat "$recipe" "$0" | sha256sum | cut -c1-16)
cache=${LXM_IMAGE_CACHE:-/var/cache/lxm/images}
dest="$cache/$name-$hash"
if [ -f "$dest/.complete" ]; then echo "$dest/rootfs"; exit 0; fi

mkdir -p "$cache"
# One builder at a time per cache (tests may ask in parallel).
exec 9>"$cache/.lock"
flock 9
if [ -f "$dest/.complete" ]; then echo "$dest/rootfs"; exit 0; fi

tmp=$(mktemp -d "$cache/.build-$name-XXXXXX")
cleanup() {
  # debootstrap mounts proc/sys inside the target; a failed run can leave them.
  grep -F " $tmp/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" || true; done
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
root="$tmp/rootfs"
mkdir -p "$root"

case "$distro" in
debian)
  release=$(key release); variant=$(key variant); mirror=$(key mirror)
  packages=$(key packages | tr ' ' ',')
  echo "build-rootfs: debootstrap $release ($variant) into $root" >&2
  debootstrap --variant="${variant:-minbase}" --include="$packages" "$release" "$root" "$mirror" >&2
  # A container gets its machine id on first boot; an empty file tells systemd to make one.
  : > "$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  echo "$name" > "$root/etc/hostname"
  # eth0 by DHCP through the distro's own stack: systemd-networkd, names through systemd-resolved.
  # (networkd waits for eth0 without failing when a container has no NIC.)
  mkdir -p "$root/etc/systemd/network" "$root/etc/systemd/system/multi-user.target.wants" \
           "$root/etc/systemd/system/sockets.target.wants" "$root/etc/systemd/system/network-online.target.wants"
  printf '[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nUseDomains=true\n' \
    > "$root/etc/systemd/network/eth0.network"
  ln -sf /lib/systemd/system/systemd-networkd.service "$root/etc/systemd/system/multi-user.target.wants/"
  ln -sf /lib/systemd/system/systemd-networkd.socket "$root/etc/systemd/system/sockets.target.wants/"
  ln -sf /lib/systemd/system/systemd-resolved.service "$root/etc/systemd/system/multi-user.target.wants/"
  ln -sf /run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
  # Units that make no sense in a container.
  for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
           systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount \
           sys-kernel-debug.mount sys-kernel-tracing.mount sys-fs-fuse-connections.mount \
           systemd-remount-fs.service getty-static.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
  done
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  ;;
busybox)
  bb=$(command -v busybox) || { echo "build-rootfs: busybox not installed (busybox-static)" >&2; exit 2; }
  file -L "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' || {
    echo "build-rootfs: $bb is not static; install busybox-static" >&2; exit 2; }
  mkdir -p "$root"/{bin,sbin,etc,proc,sys,dev,tmp,root,run,var/log,usr/bin,usr/sbin}
  cp "$bb" "$root/bin/busybox"
  for app in $("$root/bin/busybox" --list-full); do
    [ -e "$root/$app" ] || ln -s /bin/busybox "$root/$app"
  done
  ln -sf /bin/busybox "$root/sbin/init"
  cat > "$root/etc/inittab" <<'TAB'
::sysinit:/bin/hostname -F /etc/hostname
::sysinit:/bin/touch /run/booted
::respawn:/bin/sleep 2147483647
::shutdown:/bin/sync
TAB
  echo "$name" > "$root/etc/hostname"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  chmod 1777 "$root/tmp"
  ;;
*) echo "build-rootfs: unknown distro '$distro'" >&2; exit 2 ;;
esac

cp "$recipe" "$tmp/recipe.yaml"
touch "$tmp/.complete"
rm -rf --one-file-system "$dest"
mv "$tmp" "$dest"
trap - EXIT
echo "build-rootfs: cached $dest" >&2
echo "$dest/rootfs"
