#!/bin/sh
# Install, from Debian's archive only, whatever xengt needs to build and test.
# Idempotent: installs nothing when everything is already there.
#   setup.sh          build, unit/integration tests, fuzzing
#   setup.sh --xen    also what the real-Xen e2e test needs: the Xen 4.17
#                     hypervisor and tools, QEMU, a Debian kernel for dom0,
#                     busybox. (On a machine that boots with GRUB, installing
#                     the hypervisor package adds Xen boot entries.)
set -eu

PACKAGES="
    g++ cmake ninja-build pkg-config make
    libxen-dev
    libboost-dev libboost-program-options-dev libpng-dev
    catch2
    clang libclang-rt-14-dev
    clang-format
"
XEN_PACKAGES="
    xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
    qemu-system-x86 qemu-system-xen seabios
    linux-image-amd64 linux-headers-amd64 dkms busybox-static cpio libdrm-dev
"
if [ "${1:-}" = "--xen" ]; then
    PACKAGES="$PACKAGES $XEN_PACKAGES"
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "setup: all build dependencies are installed"
    exit 0
fi

echo "setup: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "setup: these Debian packages are missing and installing them needs root:" >&2
    echo "    apt-get install$missing" >&2
    echo "setup: run this script as root (or install them yourself) and try again." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
