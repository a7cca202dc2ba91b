#!/bin/sh
# Build xengt and run the whole test suite: unit, simulator and integration
# tests, plus the libFuzzer targets for XENGT_FUZZ_SECONDS (default 60) each.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/setup.sh" --xen
"$here/scripts/build.sh" -DXENGT_FUZZ_SECONDS="${XENGT_FUZZ_SECONDS:-60}"
cd "$here/build"
ctest --output-on-failure --timeout 600 -j"$(nproc)"
