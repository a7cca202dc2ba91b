#!/bin/busybox sh
# /init of the dom0 for the Linux e2e test: bring up the Xen toolstack, run
# two Linux guests at once on one xengtd, print one "E2E-CHECK: PASS|FAIL
# <what>" line per check and "E2E-RESULT: PASS|FAIL", then power off. Every
# wait is a bounded poll on a condition.
#
# Scenario: guests A and B (Debian's kernel, unmodified i915, busybox
# initramfs with xengt-gem-test) are created paused; one xengtd attaches to
# both; both are unpaused together; each loads i915, which must detect the
# vGPU and finish probing not wedged, then runs xengt-gem-test's batches on
# the render and blitter engines through xengtd's scanner and scheduler, and
# powers off. xengtd's final counters for each must show the workloads.
. /e2e-lib.sh
WAIT_POLL=1  # each poll costs the guests CPU
finish() {
    if [ $FAILED != 0 ]; then
        for f in /var/log/xen/qemu-dm-*.log; do
            [ -f "$f" ] && { say "$f:"; sed 's/^/    qemu| /' "$f"; }
        done
    fi
    sleep 1  # the last lines of xengtd's log reach the console
    if [ $FAILED = 0 ]; then echo "E2E-RESULT: PASS"; else echo "E2E-RESULT: FAIL"; fi
    sync
    poweroff -f
}

say "dom0 up"
# xenconsoled also copies Xen's console (the guests' port-0xE9 lines among
# it) to a file as it comes: reading that is cheap, where each `xl dmesg`
# costs about a second of this emulated dom0's CPU, taken from the guests.
start_toolstack --log=hv --log-dir=/var/log/xen || { FAILED=1; finish; }

# What a guest's kernel printed (through port 0xE9, as "(dN) ..." lines of
# Xen's console), copied by refresh_log; every check greps the copy. Once the
# guest said DONE its lines no longer change.
refresh_log() { grep -a "^(d$1) " /var/log/xen/hypervisor.log >/tmp/guest$1.log; }
guest_said() { grep -q -- "$2" /tmp/guest$1.log; }
guest_done() { guest_said "$1" "XENGT-LINUX: DONE"; }
both_done() { guest_done "$A" && guest_done "$B"; }
# Guests are destroyed when they power off or crash; xenstore says so cheaply.
domain_exists() { xenstore-read /local/domain/$1/name; }

check_linux_guest() {  # check_linux_guest DOMID
    d=$1
    check "dom$d: the guest's kernel sees 8086:1912 at 00:02.0" \
        guest_said "$d" "XENGT-LINUX: 00:02.0 0x8086:0x1912 class 0x030000"
    check "dom$d: i915 detected the vGPU" guest_said "$d" "Virtual GPU for Intel GVT-g detected"
    check "dom$d: i915 finished probing (Initialized i915)" guest_said "$d" "Initialized i915 "
    check "dom$d: i915 bound 00:02.0" guest_said "$d" "XENGT-LINUX: 00:02.0 driver i915"
    check "dom$d: /dev/dri/card0 and renderD128 exist" \
        sh -c "grep 'XENGT-LINUX: dri nodes:' /tmp/guest$d.log | grep 'card0' | grep -q 'renderD128'"
    check "dom$d: the GPU is not wedged after probing" guest_said "$d" "XENGT-LINUX: wedged: 0"
    check "dom$d: [rcs] MI_STORE_DATA_IMM batch" guest_said "$d" "XENGT-GEM: PASS \[rcs\] MI_STORE_DATA_IMM"
    check "dom$d: [bcs] MI_STORE_DATA_IMM batch" guest_said "$d" "XENGT-GEM: PASS \[bcs\] MI_STORE_DATA_IMM"
    check "dom$d: [bcs] XY_COLOR_BLT, every pixel checked" guest_said "$d" "XENGT-GEM: PASS \[bcs\] XY_COLOR_BLT"
    check "dom$d: [bcs] XY_SRC_COPY_BLT, every pixel checked" \
        guest_said "$d" "XENGT-GEM: PASS \[bcs\] XY_SRC_COPY_BLT"
    check "dom$d: alternating batches on both engines" guest_said "$d" "XENGT-GEM: PASS \[rcs+bcs\]"
    check "dom$d: xengt-gem-test passed every check" guest_said "$d" "XENGT-GEM: RESULT PASS"
    check "dom$d: the GPU is not wedged after the test" guest_said "$d" "XENGT-LINUX: wedged after test: 0"
    check "dom$d: i915 raised no WARN or error on the vGPU" \
        sh -c "! grep -a -E 'WARNING:|i915 0000:00:02.0: \[drm\] \*ERROR\*' /tmp/guest$d.log"
}
final_counters() { grep "dom$1: final counters" /tmp/xengtd.log; }
check_counters() {  # check_counters DOMID
    d=$1
    check "dom$d: xengtd ran the guest's workloads, none rejected, none failed" \
        sh -c "grep 'dom$d: final counters: ELSP' /tmp/xengtd.log |
               grep -q -E 'workloads [1-9][0-9]* \(completed [1-9][0-9]*, rejected 0, failed on the GPU 0,'"
    check "dom$d: GGTT entries reached xengtd through the RAM backing" \
        sh -c "grep 'dom$d: final counters' /tmp/xengtd.log | grep -q 'GGTT (ram-backed)'"
    final_counters "$d" | sed 's/.*final counters: //' | while read -r l; do say "dom$d: $l"; done
}

create_paused_pair linux
XENGTD_ARGS=$(cat /guest/xengtd.args 2>/dev/null)
say "xengtd options: ${XENGTD_ARGS:-(none)}"
# shellcheck disable=SC2086
xengtd --domid "$A" --domid "$B" $XENGTD_ARGS >/tmp/xengtd.log 2>&1 &
XENGTD=$!
# xengtd's log goes to the console as it is written, next to the guests'
# kernel logs (Xen's "(dN)" lines), so a run can be followed live.
tail -f /tmp/xengtd.log 2>/dev/null | sed 's/^/    xengtd| /' &
check "xengtd attached to dom$A and dom$B" wait_for 60 both_attached
both_attached || { say "xengtd did not attach"; FAILED=1; finish; }
say "attached; unpausing both"
T0=$(now)
xl unpause linux-a
xl unpause linux-b
# Wait for both to finish. Meanwhile: right after a guest's i915 finished
# probing, take xengtd's counters for it (what the probe cost in traps), and
# every 60 s show what each guest is busy with (its hottest registers).
stats_line() { xengt-ctl stats "$1" 2>&1 | tr '\n' ' '; }
deadline=$(($(date +%s) + ${GUEST_TIMEOUT:-900}))
next_progress=$(($(date +%s) + 60))
# Each round reads each running guest's log once; /tmp/over$d marks a guest
# that finished or is gone.
while :; do
    for d in "$A" "$B"; do
        [ -f /tmp/over$d ] && continue
        refresh_log "$d"
        if [ ! -f /tmp/probe$d.stats ] && guest_said "$d" "XENGT-LINUX: i915 loaded"; then
            xengt-ctl stats "$d" >/tmp/probe$d.stats 2>&1
            say "dom$d: i915 probed; xengtd's counters: $(tr '\n' ' ' </tmp/probe$d.stats)"
        fi
        if guest_done "$d"; then
            touch /tmp/over$d
        elif ! domain_exists "$d" >/dev/null 2>&1; then
            refresh_log "$d"  # its last lines may have come after the read above
            touch /tmp/over$d
            guest_done "$d" || say "dom$d ended without finishing (see Xen's lines above: a crash?)"
        fi
    done
    [ -f /tmp/over$A ] && [ -f /tmp/over$B ] && break
    [ "$(date +%s)" -ge "$deadline" ] && break
    if [ "$(date +%s)" -ge "$next_progress" ]; then
        next_progress=$(($(date +%s) + 60))
        for d in "$A" "$B"; do say "dom$d so far: $(stats_line "$d")"; done
    fi
    sleep 2
done
check "both guests ran to the end" both_done

say "guests done ($(awk "BEGIN{print $(now) - $T0}")s after unpause)"
for d in "$A" "$B"; do
    say "dom$d's log:"
    sed "s/^/    dom$d| /" /tmp/guest$d.log
done
check_linux_guest "$A"
check_linux_guest "$B"

check "dom$A and dom$B powered off" wait_for 60 sh -c "! xl list | grep -q -e linux-a -e linux-b"
xl destroy linux-a 2>/dev/null
xl destroy linux-b 2>/dev/null
sleep 1
check "xengtd exited once its last guest was gone" wait_for 60 xengtd_exited
wait "$XENGTD"
XENGTD_RC=$?
check "xengtd exit status 0 (got $XENGTD_RC)" test "$XENGTD_RC" -eq 0
check_counters "$A"
check_counters "$B"
say "scenario finished"
finish
