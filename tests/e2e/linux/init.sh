#!/bin/busybox sh
# /init of the Linux test guest's initramfs: load Debian's unmodified i915
# (its dependencies first, in order), report what it made of the vGPU, run
# xengt-gem-test, power off. Every line for the test goes to the kernel log
# as "XENGT-LINUX: ...", which earlyprintk=xen sends out through port 0xE9.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
say() { echo "XENGT-LINUX: $*" >/dev/kmsg; }
up() { cut -d' ' -f1 /proc/uptime; }
say "init at uptime $(up) s"
D=/sys/bus/pci/devices/0000:00:02.0
if [ -d $D ]; then
    say "00:02.0 $(cat $D/vendor):$(cat $D/device) class $(cat $D/class)"
else
    say "no device at 00:02.0"
fi
for m in i2c-algo-bit drm drm_kms_helper ttm rc-core cec drm_display_helper wmi video drm_buddy; do
    insmod /lib/modules/$m.ko || say "insmod $m failed"
done
# i915's probe runs inside insmod (the PCI driver binds synchronously).
T0=$(up)
insmod /lib/modules/i915.ko
RC=$?
T1=$(up)
say "i915 loaded rc=$RC; probe took $(awk "BEGIN { printf \"%.2f\", $T1 - $T0 }") s (uptime $T0 -> $T1)"
# i915's informational lines (below the console's log level) for the test.
dmesg | grep -E 'i915|\[drm\]' | while read -r l; do say "dmesg: $l"; done
[ -e $D/driver ] && say "00:02.0 driver $(basename "$(readlink $D/driver)")"
say "dri nodes: $(ls /dev/dri 2>/dev/null | tr '\n' ' ')"
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
F=/sys/kernel/debug/dri/0
[ -r $F/i915_wedged ] && say "wedged: $(cat $F/i915_wedged)"
if [ -e /dev/dri/renderD128 ]; then
    { xengt-gem-test /dev/dri/renderD128; echo "xengt-gem-test exit $?"; } 2>&1 |
        while read -r l; do say "$l"; done
fi
[ -r $F/i915_wedged ] && say "wedged after test: $(cat $F/i915_wedged)"
say "interrupts: $(grep -i i915 /proc/interrupts | tr -s ' ')"
say "DONE at uptime $(up) s"
poweroff -f
