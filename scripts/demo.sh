#!/bin/sh
# Build xengt and run the demo: a simulated Xen host with two HVM guests that
# probe their virtual GPUs concurrently through the shipping Xen backend.
set -eu
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/build.sh"
exec "$here/build/tools/demo/xengt-demo" "$@"
