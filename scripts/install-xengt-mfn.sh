#!/bin/sh
# Install the xengt-mfn kernel module (kernel/xengt-mfn) with DKMS, so that
# it is rebuilt for every kernel the dom0 installs, and load it.
#
#   install-xengt-mfn.sh [--kernel KVER] [--no-load]
#       as root in a PV dom0: DKMS add/build/install for KVER (default: the
#       running kernel), the group xengt and its udev rule (/dev/xengt-mfn
#       0660 root:xengt), load at boot (modules-load.d), modprobe now.
#   install-xengt-mfn.sh --build-only DIR [--kernel KVER]
#       build with DKMS in private trees under DIR (nothing system-wide is
#       touched) and print the path of the built module; used by the e2e.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=$(sed -n 's/^project(xengt VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
KVER=$(uname -r)
BUILD_ONLY=''
LOAD=1
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KVER=$2; shift 2 ;;
        --build-only) BUILD_ONLY=$2; shift 2 ;;
        --no-load) LOAD=; shift ;;
        *) echo "install-xengt-mfn: unknown argument $1" >&2; exit 2 ;;
    esac
done
die() { echo "install-xengt-mfn: $*" >&2; exit 1; }
[ -n "$VERSION" ] || die "cannot read the project version from $ROOT/CMakeLists.txt"

# The DKMS source directory: the module's sources and dkms.conf with the version.
stage_source() {  # stage_source DIR
    rm -rf "$1"
    mkdir -p "$1"
    cp "$ROOT"/kernel/xengt-mfn/Kbuild "$ROOT"/kernel/xengt-mfn/xengt_mfn.c \
        "$ROOT"/kernel/xengt-mfn/xengt_mfn_uapi.h "$1"/
    sed "s/@VERSION@/$VERSION/" "$ROOT"/kernel/xengt-mfn/dkms.conf >"$1"/dkms.conf
}

if [ -n "$BUILD_ONLY" ]; then
    command -v dkms >/dev/null || die "dkms is not installed (Debian package dkms; scripts/setup.sh --xen)"
    [ -d "/lib/modules/$KVER/build" ] || die "no headers for $KVER (Debian package linux-headers-$KVER)"
    TREES="--dkmstree $BUILD_ONLY/dkms --sourcetree $BUILD_ONLY/src --installtree $BUILD_ONLY/install"
    rm -rf "$BUILD_ONLY"
    stage_source "$BUILD_ONLY/src/xengt-mfn-$VERSION"
    mkdir -p "$BUILD_ONLY/dkms" "$BUILD_ONLY/install"
    # shellcheck disable=SC2086
    if ! { dkms add -m xengt-mfn -v "$VERSION" $TREES &&
        dkms build -m xengt-mfn -v "$VERSION" -k "$KVER" $TREES; } >"$BUILD_ONLY/dkms.log" 2>&1; then
        cat "$BUILD_ONLY/dkms.log" >&2
        find "$BUILD_ONLY/dkms" -name make.log -exec cat {} + >&2 2>/dev/null || true
        die "DKMS could not build xengt-mfn $VERSION for $KVER"
    fi
    KO=$(find "$BUILD_ONLY/dkms/xengt-mfn/$VERSION/$KVER" -name 'xengt_mfn.ko*' | head -n 1)
    [ -n "$KO" ] || die "DKMS built no xengt_mfn.ko (see $BUILD_ONLY/dkms.log)"
    echo "$KO"
    exit 0
fi

[ "$(id -u)" -eq 0 ] || die "run as root: it installs a kernel module"
[ -e /proc/xen/capabilities ] || [ -e /sys/hypervisor/type ] ||
    echo "install-xengt-mfn: warning: this does not look like a Xen dom0; the module only works in a PV dom0" >&2
missing=
for p in dkms "linux-headers-$KVER"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-xengt-mfn: installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

SRC=/usr/src/xengt-mfn-$VERSION
if dkms status -m xengt-mfn -v "$VERSION" | grep -q .; then
    dkms remove -m xengt-mfn -v "$VERSION" --all
fi
stage_source "$SRC"
dkms add -m xengt-mfn -v "$VERSION"
dkms build -m xengt-mfn -v "$VERSION" -k "$KVER"
dkms install -m xengt-mfn -v "$VERSION" -k "$KVER"

getent group xengt >/dev/null || groupadd --system xengt
install -m 0644 "$ROOT"/kernel/xengt-mfn/60-xengt-mfn.rules /etc/udev/rules.d/60-xengt-mfn.rules
echo xengt_mfn >/etc/modules-load.d/xengt-mfn.conf
if [ -n "$LOAD" ] && [ "$KVER" = "$(uname -r)" ]; then
    if command -v udevadm >/dev/null; then
        udevadm control --reload || true
    fi
    modprobe xengt_mfn
    echo "install-xengt-mfn: loaded; $(ls -l /dev/xengt-mfn)"
else
    echo "install-xengt-mfn: installed for $KVER; it loads at the next boot of that kernel"
fi
