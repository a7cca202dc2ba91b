#!/bin/sh
# Prints the kernel release the e2e dom0 (and the Linux test guests) boot:
# the newest /boot/vmlinuz-* that has Xen's dom0 modules. Fails, saying why,
# if there is none.
set -eu
KVER=
for v in $(ls /boot/vmlinuz-* 2>/dev/null | sed 's|/boot/vmlinuz-||' | sort -V); do
    modinfo -k "$v" -n xen-privcmd >/dev/null 2>&1 && KVER=$v
done
if [ -z "$KVER" ]; then
    echo "no /boot/vmlinuz-* with Xen modules found (is linux-image-amd64 installed?)" >&2
    exit 1
fi
echo "$KVER"
