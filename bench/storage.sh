#!/usr/bin/env bash
# Instance storage operations side by side (issue 4's benchmark), in one run: lxm (lxmd, its default
# pool) against LXD 5.0 on a dir pool and on a btrfs pool (loop file), for the Debian 12 image:
#   launch-to-running, snapshot, restore, copy, delete.
#
#   bench/storage.sh [-n RUNS] [-s]   (root; LXM_BENCH_BUILD=build dir with bin/{lxmd,lxm,lxm-monitor})
#
# Part 1 (lxm only, skipped with -s): create from a cached image, snapshot, restore and copy with a
# 256 MB and a 2 GB image (busybox plus an incompressible filler file, imported with `lxm image
# import`) on lxmd's default pool: each should take < 100 ms whatever the image size.
# Part 2 (side by side):
#
# Per round and runtime: launch c (timed until `systemctl is-system-running --wait` inside returns,
# entered with nsenter as in start.sh, pid lookup left out), stop it (not timed), snapshot c s1,
# restore c s1, copy c c-copy, delete c-copy, delete c (with its snapshot). Each pool first makes and
# deletes one instance, so that images are unpacked where a pool caches them (LXD's btrfs image
# volume, lxm's image layer): the rounds measure steady-state launches. When lxmd or lxm do not work
# yet the script says so and leaves the lxm column empty.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SIZES=(256 2048)
while getopts n:s o; do
  case $o in
  n) BENCH_RUNS=$OPTARG ;;
  s) SIZES=() ;;
  *) echo "usage: $0 [-n RUNS] [-s]" >&2; exit 2 ;;
  esac
done

bench_setup
bench_rootfs
# No bridge: the containers need no network here (LXD's preseed has none either).
LXMD_ARGS="--default-network none"
lxmd_setup

# cli RUNTIME ARGS...: the runtime's CLI (lxm or LXD's lxc); its output is shown only on failure.
cli() {
  local rt=$1 out
  shift
  if ! out=$(if [ "$rt" = lxm ]; then "$LXM" "$@"; else lxc "$@"; fi 2>&1); then
    log "$rt: $* failed: $out"
    return 1
  fi
}
launch() {  # runtime name
  case $1 in
  lxm) LXM_NAMES+=("$2"); cli lxm launch debian/12 "$2" ;;
  lxd-dir) cli lxd launch bench-debian "$2" -s default ;;
  lxd-btrfs) cli lxd launch bench-debian "$2" -s btrfs ;;
  esac
}
init_pid() {
  case $1 in
  lxm) init_pid_api "$LXM_DIR/unix.socket" "$2" ;;
  *) lxd_init_pid "$2" ;;
  esac
}
# timed RUNTIME METRIC COMMAND...: records the command's wall time; returns its status.
timed() {
  local rt=$1 m=$2 t0 t1 rc=0
  shift 2
  t0=$(now_us)
  "$@" || rc=$?
  t1=$(now_us)
  [ "$rc" -eq 0 ] && record "$rt" "$m" "$(us_to_ms $((t1 - t0)))"
  log "$rt $m: $(us_to_ms $((t1 - t0))) ms (exit $rc)"
  return "$rc"
}
round() {  # runtime index
  local rt=$1 c=bench-$1-$2 t0 t1 t2 t3 pid state
  t0=$(now_us)
  launch "$rt" "$c"
  t1=$(now_us)
  pid=$(init_pid "$rt" "$c")
  t2=$(now_us)
  state=$(wait_running "$pid" || true)
  t3=$(now_us)
  record "$rt" launch-running "$(us_to_ms $((t1 - t0 + t3 - t2)))" "$state"
  log "$rt launch to running: $(us_to_ms $((t1 - t0 + t3 - t2))) ms ($state)"
  cli "$rt" stop "$c"
  timed "$rt" snapshot cli "$rt" snapshot "$c" s1
  timed "$rt" restore cli "$rt" restore "$c" s1
  [ "$rt" = lxm ] && LXM_NAMES+=("$c-copy")
  timed "$rt" copy cli "$rt" copy "$c" "$c-copy"
  timed "$rt" delete-copy cli "$rt" delete "$c-copy"
  timed "$rt" delete cli "$rt" delete "$c"
}

# ---- part 1: size independence on lxm's default pool -------------------------------------------
# make_image MB: a unified image tarball (metadata.yaml + rootfs/) of busybox plus MB of random data.
make_image() {
  local mb=$1 dir=$BENCH_WORK/img-$1 busybox
  busybox=$("$BENCH_SRC/scripts/build-rootfs.sh" "$BENCH_SRC/templates/recipes/busybox.yaml") || return 1
  mkdir -p "$dir/rootfs"
  cp -a "$busybox/." "$dir/rootfs/"
  head -c "${mb}M" /dev/urandom > "$dir/rootfs/filler"
  printf 'architecture: x86_64\ncreation_date: %s\nproperties:\n  os: busybox\n  description: bench %s MB\n' \
    "$(date +%s)" "$mb" > "$dir/metadata.yaml"
  tar -C "$dir" --numeric-owner -cf "$dir.tar" metadata.yaml rootfs && rm -rf "$dir"
  printf '%s' "$dir.tar"
}
size_round() {  # MB index
  local rt=lxm-$1m img=bench-$1m c=sz$1-$2
  LXM_NAMES+=("$c" "$c-copy")
  timed "$rt" create cli lxm init "$img" "$c"
  timed "$rt" snapshot cli lxm snapshot "$c" s1
  timed "$rt" restore cli lxm restore "$c" s1
  timed "$rt" copy cli lxm copy "$c" "$c-copy"
  cli lxm delete "$c-copy"
  cli lxm delete "$c"
}
if [ -z "$LXM_SKIP" ]; then
  for mb in "${SIZES[@]}"; do
    tarball=$(make_image "$mb") || die "cannot make the $mb MB image"
    cli lxm image import "$tarball" --alias "bench-${mb}m" || die "lxm image import of the $mb MB image failed"
    rm -f "$tarball"
    log "imported the $mb MB image; warm-up instance unpacks it into the pool"
    LXM_NAMES+=("sz$mb-warm")
    cli lxm init "bench-${mb}m" "sz$mb-warm" && cli lxm delete "sz$mb-warm"
    for ((i = 1; i <= BENCH_RUNS; i++)); do size_round "$mb" "$i"; done
  done
fi

# ---- part 2: side by side with LXD ---------------------------------------------------------------
lxd_setup btrfs
log "LXD ready (pools default=dir, btrfs), image imported"

runtimes=(lxd-dir lxd-btrfs)
[ -z "$LXM_SKIP" ] && runtimes=(lxm "${runtimes[@]}")
for rt in "${runtimes[@]}"; do
  if ! { launch "$rt" "bench-$rt-warm" && cli "$rt" delete --force "bench-$rt-warm"; }; then
    [ "$rt" = lxm ] || die "$rt: warm-up launch failed"
    LXM_SKIP="lxm launch debian/12 failed (see $BENCH_WORK/lxmd.log)"
  fi
done
[ -z "$LXM_SKIP" ] || runtimes=(lxd-dir lxd-btrfs)
for ((i = 1; i <= BENCH_RUNS; i++)); do
  for rt in "${runtimes[@]}"; do
    if ! round "$rt" "$i"; then
      [ "$rt" = lxm ] || die "$rt: round $i failed"
      LXM_SKIP="lxm failed in round $i (see $BENCH_WORK/lxmd.log)"
      runtimes=(lxd-dir lxd-btrfs)
    fi
  done
done

row() {  # label metric
  local a b c
  a=$(median_of lxm "$2"); b=$(median_of lxd-dir "$2"); c=$(median_of lxd-btrfs "$2")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "${a:-n/a}" "${b:-n/a}" "${c:-n/a}" "$(ratio "$b" "$a")" "$(ratio "$c" "$a")"
}
{
  echo
  echo "Medians of $BENCH_RUNS runs, milliseconds ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ "${#SIZES[@]}" -gt 0 ]; then
    echo
    echo '| lxm default pool | create | snapshot | restore | copy |'
    echo '|---|---:|---:|---:|---:|'
    for mb in "${SIZES[@]}"; do
      printf '| %s MB image | %s | %s | %s | %s |\n' "$mb" "$(median_of "lxm-${mb}m" create)" \
        "$(median_of "lxm-${mb}m" snapshot)" "$(median_of "lxm-${mb}m" restore)" "$(median_of "lxm-${mb}m" copy)"
    done
  fi
  echo
  echo
  echo '| | lxm | LXD dir | LXD btrfs | LXD dir/lxm | LXD btrfs/lxm |'
  echo '|---|---:|---:|---:|---:|---:|'
  row 'launch to running' launch-running
  row 'snapshot (stopped)' snapshot
  row 'restore (stopped)' restore
  row 'copy (stopped)' copy
  row 'delete the copy' delete-copy
  row 'delete (with snapshot)' delete
  if [ -n "$LXM_SKIP" ]; then echo; echo "lxm column skipped: $LXM_SKIP"; fi
}
cp "$RESULTS" "$BENCH_BASE/storage-results-$(date -u +%Y%m%dT%H%M%SZ).csv"
