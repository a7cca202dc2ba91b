#!/bin/bash
# End-to-end test on real Xen: boot Debian's Xen 4.17 with a Debian PV dom0
# under QEMU's software emulation, and run tests/e2e/dom0-init.sh in that dom0
# (or the scenario given by --init) with the freshly built xengtd and the
# guests' files.
#
#   xen-e2e.sh --xengtd PATH --out DIR [--init SCRIPT] [--file PATH ...]
#              [--tool PATH ...] [--timeout SECONDS] [--smp N] [--mem MiB]
#
# --init is the dom0 /init (default tests/e2e/dom0-init.sh); each --file is
# copied into the dom0's /guest, each --tool into its /usr/bin (with its
# shared libraries). --guest PATH is --file PATH plus tests/e2e/guest.cfg.
#
# Installs the Debian packages it needs (scripts/setup.sh --xen), assembles a
# dom0 initramfs in DIR from this host's binaries, boots under `timeout`, and
# turns the serial console (Xen's, dom0's and the guests' port-0xE9 lines)
# into a verdict. Exit 0 iff every check passed. Logs stay in DIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
XENGTD= OUT= TIMEOUT=600 SMP=2 MEM=2048
INIT=$ROOT/tests/e2e/dom0-init.sh
FILES=() TOOLS=()
while [ $# -gt 0 ]; do
    case $1 in
        --xengtd) XENGTD=$2; shift 2 ;;
        --guest) FILES+=("$2" "$ROOT/tests/e2e/guest.cfg"); shift 2 ;;
        --file) FILES+=("$2"); shift 2 ;;
        --tool) TOOLS+=("$2"); shift 2 ;;
        --init) INIT=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --smp) SMP=$2; shift 2 ;;
        --mem) MEM=$2; shift 2 ;;
        *) echo "xen-e2e: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ -z "$XENGTD" ] || [ -z "$OUT" ] || [ ${#FILES[@]} = 0 ]; then
    echo "usage: xen-e2e.sh --xengtd PATH --out DIR [--init SCRIPT] --file PATH... [--tool PATH...]" >&2
    echo "                  [--timeout S] [--smp N] [--mem MiB]" >&2
    exit 2
fi
case $OUT in *,*) echo "xen-e2e: --out must not contain a comma (QEMU module syntax)" >&2; exit 2 ;; esac

T0=$(date +%s.%N)
elapsed() { awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $T0 }"; }
say() { echo "xen-e2e: [+$(elapsed)s] $*"; }

"$ROOT/scripts/setup.sh" --xen

# The dom0 kernel: the newest installed Debian kernel that has Xen's modules.
KVER=$("$ROOT"/tools/e2e/dom0-kernel.sh) || { echo "xen-e2e: cannot pick a dom0 kernel" >&2; exit 1; }

# kernel/xengt-mfn, built against the dom0 kernel's own headers by DKMS, as
# scripts/install-xengt-mfn.sh installs it (private trees: nothing
# system-wide is touched).
MODULE=$("$ROOT"/scripts/install-xengt-mfn.sh --build-only "$OUT/xengt-mfn" --kernel "$KVER") || {
    echo "xen-e2e: building kernel/xengt-mfn for $KVER failed" >&2
    exit 1
}
say "xengt-mfn built by DKMS for $KVER"

XENBIN=/usr/lib/xen-4.17/bin
R=$OUT/rootfs
rm -rf "$R"
mkdir -p "$OUT" "$R"/{bin,sbin,usr/bin,lib/modules,guest,etc/xen,proc,sys,dev,run,tmp,var}
mkdir -p "$R"/usr/lib/xen-4.17/{bin,boot} "$R"/usr/share/{seabios,qemu} "$R"/usr/libexec
ln -s ../run "$R"/var/run
ln -s ../run/lock "$R"/var/lock

# Userland: busybox, the Xen toolstack, xenstore-read, qemu-xen + firmware for
# HVM guests, xengtd; their shared libraries follow below.
cp /bin/busybox "$R"/bin/
for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper; do cp "$XENBIN/$b" "$R$XENBIN/"; done
cp /usr/bin/xenstore-read "$R"/usr/bin/
cp /etc/xen/xl.conf "$R"/etc/xen/
cp /usr/lib/xen-4.17/boot/hvmloader "$R"/usr/lib/xen-4.17/boot/
cp /usr/share/seabios/bios-256k.bin "$R"/usr/share/seabios/
cp /usr/libexec/xen-qemu-system-i386 "$R"/usr/libexec/
cp -rL /usr/share/qemu/keymaps "$R"/usr/share/qemu/  # qemu-xen needs them even with no display
for f in pvh.bin linuxboot.bin linuxboot_dma.bin kvmvapic.bin; do cp -L "/usr/share/qemu/$f" "$R"/usr/share/qemu/; done
cp "$XENGTD" "$R"/usr/bin/xengtd
for t in "${TOOLS[@]}"; do cp "$t" "$R"/usr/bin/; done
for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do
    cp "$(modinfo -k "$KVER" -n $m)" "$R"/lib/modules/$m.ko
done
cp "$MODULE" "$R"/lib/modules/xengt_mfn.ko
for f in "${FILES[@]}"; do cp "$f" "$R"/guest/; done
cp "$INIT" "$R"/init
cp "$ROOT"/tests/e2e/dom0-lib.sh "$R"/e2e-lib.sh
chmod +x "$R"/init

for f in "$R$XENBIN"/* "$R"/usr/bin/* "$R"/usr/libexec/*; do ldd "$f" 2>/dev/null || true; done |
    awk '/=>/ { print $3 } /^[ \t]*\// { print $1 }' | sort -u |
    while read -r lib; do
        [ -f "$lib" ] || continue
        mkdir -p "$R$(dirname "$lib")"
        cp -L "$lib" "$R$lib"
    done
mkdir -p "$R"/lib64 "$R"/lib/x86_64-linux-gnu
cp -L /lib64/ld-linux-x86-64.so.2 "$R"/lib64/
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$R"/lib/x86_64-linux-gnu/  # glibc dlopens it (xl aborts without)
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT"/dom0.cpio.gz
# QEMU boots Xen as a multiboot ELF: it needs the uncompressed image.
gunzip -c /boot/xen-4.17-amd64.gz >"$OUT"/xen
cp "/boot/vmlinuz-$KVER" "$OUT"/vmlinuz
say "dom0 image ready ($(du -h "$OUT"/dom0.cpio.gz | cut -f1), kernel $KVER); booting Xen under QEMU (timeout ${TIMEOUT}s)"

# qemu64 with SVM and nested paging is what Xen's own CI uses under TCG; with
# QEMU's edu device a real bus master (the DMA proof's stand-in GPU; with the
# full DMA mask it reaches every machine address, and there is no IOMMU); with
# -no-reboot a Xen panic ends the run at once. Only the -initrd module string
# needs doubled commas; Xen's own -append must not have them.
# One boot of the whole scenario; the verdict is read from its serial log.
boot() {  # boot LOG
    rm -f "$1"
    set +e
    timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
        -accel tcg,thread=multi -machine pc -cpu qemu64,+svm,+npt -m "$MEM" -smp "$SMP" \
        -display none -monitor none -serial "file:$1" -no-reboot \
        -device edu,dma_mask=0xffffffffffffffff \
        -kernel "$OUT"/xen \
        -append "console=com1 com1=115200,8n1 console_timestamps=boot conring_size=4m loglvl=all guest_loglvl=all dom0_mem=1024M,max:1024M dom0_max_vcpus=2" \
        -initrd "$OUT/vmlinuz console=hvc0 earlyprintk=xen rdinit=/init loglevel=4,$OUT/dom0.cpio.gz"
    QEMU_RC=$?
    set -e
    say "QEMU exited ($QEMU_RC) after the run"
}
passed() { grep -aq "E2E-RESULT: PASS" "$1" && ! grep -aq "E2E-CHECK: FAIL" "$1"; }

LOG=$OUT/serial.log
boot "$LOG"
# Guests under this emulation (QEMU TCG running Xen's nested paging) are
# sometimes seen to triple-fault where they have not touched the vGPU
# beyond config space: inside hvmloader, or while a Linux kernel boots.
# Only that signature earns another boot, at most two more; anything else
# fails at once. Every attempt's log is kept.
attempt=1
while ! passed "$LOG" && grep -aq "Triple fault" "$LOG" && [ $attempt -lt 3 ]; do
    mv "$LOG" "$OUT/serial-attempt$attempt.log"
    echo "xen-e2e: RETRY: a guest triple-faulted in boot $attempt (log kept in $OUT/serial-attempt$attempt.log):"
    grep -a "Triple fault" "$OUT/serial-attempt$attempt.log" | head -3
    attempt=$((attempt + 1))
    boot "$LOG"
done

echo "---- checks ----"
grep -a "E2E-CHECK:" "$LOG" || true
echo "---- timeline (dom0 uptime) ----"
grep -a "^E2E: " "$LOG" || true
if passed "$LOG"; then
    say "PASS (logs in $OUT)"
    exit 0
fi
if [ "$QEMU_RC" = 124 ]; then
    echo "xen-e2e: timed out after ${TIMEOUT}s" >&2
fi
echo "---- last 80 lines of the serial console ($LOG) ----"
tail -n 80 "$LOG"
say "FAIL (logs kept in $OUT)"
exit 1
