#!/bin/sh
# Build xengt and run only the end-to-end test on real Xen 4.17 booted under
# QEMU (also part of scripts/test.sh). Logs: build/e2e/serial.log.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/setup.sh" --xen
"$here/scripts/build.sh"
cd "$here/build"
ctest -L e2e --verbose   # show every check and the timeline, pass or fail
