#!/usr/bin/env bash
# Set up, build and run every test (unit, priv, e2e). Root is needed for priv/e2e tests.
#   scripts/run-tests.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
# Rootfs images are cached outside the repo (keyed by recipe hash): build them once up front
# so a test's timeout isn't spent in debootstrap.
for r in templates/recipes/*.yaml; do scripts/build-rootfs.sh "$r" >/dev/null; done
ctest --test-dir build --output-on-failure --timeout 600 "$@"
