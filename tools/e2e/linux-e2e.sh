#!/bin/bash
# End-to-end test with a real client: two Linux HVM guests running Debian's
# unmodified i915 on xengt's vGPUs, under real Xen 4.17 booted in QEMU
# (tests/e2e/linux/dom0-init.sh is the scenario).
#
#   linux-e2e.sh --xengtd PATH --xengt-ctl PATH --gem-test PATH --out DIR
#                [--timeout SECONDS]
#
# Builds the guests' initramfs in DIR (busybox, i915.ko and its dependencies
# from the dom0 kernel's modules, xengt-gem-test, tests/e2e/linux/init.sh as
# /init), then runs tools/e2e/xen-e2e.sh with the guests' kernel (the dom0
# kernel itself), that initramfs and the guest config. Exit 0 iff every check
# passed; logs stay in DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
XENGTD= XENGT_CTL= GEM_TEST= OUT= TIMEOUT=1200
while [ $# -gt 0 ]; do
    case $1 in
        --xengtd) XENGTD=$2; shift 2 ;;
        --gem-test) GEM_TEST=$2; shift 2 ;;
        --xengt-ctl) XENGT_CTL=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        *) echo "linux-e2e: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$XENGTD" ] || [ -z "$XENGT_CTL" ] || [ -z "$GEM_TEST" ] || [ -z "$OUT" ]; then
    echo "usage: linux-e2e.sh --xengtd PATH --xengt-ctl PATH --gem-test PATH --out DIR [--timeout S]" >&2
    exit 2
fi

"$ROOT/scripts/setup.sh" --xen

# The same kernel as dom0's.
KVER=$("$ROOT"/tools/e2e/dom0-kernel.sh) || { echo "linux-e2e: cannot pick a kernel" >&2; exit 1; }

# i915 and what it needs, in load order (tests/e2e/linux/init.sh loads them).
MODULES="i2c-algo-bit drm drm_kms_helper ttm rc-core cec drm_display_helper wmi video drm_buddy i915"
G=$OUT/guestfs
rm -rf "$G"
mkdir -p "$G"/{bin,lib/modules,proc,sys,dev,tmp}
cp /bin/busybox "$G"/bin/
cp "$GEM_TEST" "$G"/bin/xengt-gem-test
cp "$ROOT"/tests/e2e/linux/init.sh "$G"/init
chmod +x "$G"/init
for m in $MODULES; do
    f=$(modinfo -k "$KVER" -n "$m")
    case $f in
        *.ko) cp "$f" "$G"/lib/modules/ ;;
        *.ko.xz) xz -dc "$f" >"$G/lib/modules/$(basename "$f" .xz)" ;;
        *) echo "linux-e2e: module $m of $KVER is $f (unexpected)" >&2; exit 1 ;;
    esac
done
(cd "$G" && find . | cpio -o -H newc --quiet | gzip -6) >"$OUT"/linux-initrd.gz
cp "/boot/vmlinuz-$KVER" "$OUT"/vmlinuz
# xengtd's options in the scenario (XENGT_E2E_XENGTD_ARGS overrides them).
echo "${XENGT_E2E_XENGTD_ARGS---vgt_display 0}" >"$OUT"/xengtd.args
echo "linux-e2e: guest initramfs $(du -h "$OUT"/linux-initrd.gz | cut -f1), kernel $KVER"

exec "$ROOT"/tools/e2e/xen-e2e.sh --xengtd "$XENGTD" --out "$OUT" \
    --init "$ROOT"/tests/e2e/linux/dom0-init.sh \
    --file "$OUT"/vmlinuz --file "$OUT"/linux-initrd.gz --file "$ROOT"/tests/e2e/linux/guest.cfg \
    --file "$OUT"/xengtd.args \
    --tool "$XENGT_CTL" --mem 3072 --timeout "$TIMEOUT"
