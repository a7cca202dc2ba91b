#!/bin/busybox sh
# /init of the e2e dom0: bring up the Xen toolstack, run the scenario, print
# one "E2E-CHECK: PASS|FAIL <what>" line per check and "E2E-RESULT: PASS|FAIL",
# then power off. Every wait is a bounded poll on a condition.
#
# Scenario:
#   1. guests A and B created paused; one xengtd attaches to both;
#   2. A runs: firmware and the test guest probe 00:02.0 through xengtd;
#   3. A is destroyed while attached: xengtd tears its vGPU down, A leaves no
#      dying domain behind (no mapping left), xengtd keeps running;
#   4. B runs and is still served;
#   5. negative control: guest C without xengtd sees all-ones; before that,
#      C takes part in the DMA proof: QEMU's edu device, a real bus master on
#      the outer machine, moves data to and from C's frames by the machine
#      addresses xengt-mfn resolves (tests/e2e/dma/dma_proof.h);
#   6. B destroyed: xengtd exits 0.
. /e2e-lib.sh
finish() {
    say "xengtd log:"
    sed 's/^/    xengtd| /' /tmp/xengtd.log 2>/dev/null
    if [ $FAILED = 0 ]; then echo "E2E-RESULT: PASS"; else echo "E2E-RESULT: FAIL"; fi
    sync
    poweroff -f
}

say "dom0 up"
start_toolstack || { FAILED=1; finish; }

# Lines the guest printed on port 0xE9, as Xen's console shows them.
# Xen prints them as "(dN) [timestamp] XENGT-GUEST: ...".
guest_log() { xl dmesg | grep "^(d$1) .*XENGT-GUEST:"; }
# The lines of a guest that said DONE no longer change: guest_done keeps the
# copy it read, and the checks grep that (each `xl dmesg` costs about a
# second in this emulated dom0).
guest_done() { guest_log "$1" >/tmp/guest$1.log; grep -q "XENGT-GUEST: DONE" /tmp/guest$1.log; }
guest_said() { grep -q "XENGT-GUEST: $2" /tmp/guest$1.log; }

# The checks every guest served by xengtd must pass.
check_served() {  # check_served DOMID VGT_ID
    d=$1
    check "dom$d: device found at 00:02.0 (8086:1912)" guest_said "$d" "00:02.0 id=19128086"
    check "dom$d: display class 030000" guest_said "$d" "class=030000"
    # hvmloader turns on memory and I/O decode (bits 1, 0) once it placed the BARs.
    check "dom$d: firmware placed BARs and enabled decode" guest_said "$d" "firmware: command=000[37]"
    check "dom$d: BARs sized 16 MiB / 256 MiB / 64 ports" \
        guest_said "$d" "BAR sizes: BAR0=16MiB BAR2=256MiB BAR4=64ports"
    check "dom$d: PVINFO magic read through BAR0" \
        guest_said "$d" "PVINFO at BAR0 magic=4776544776544776"
    check "dom$d: PVINFO version 1.0" guest_said "$d" "PVINFO version=1.0"
    check "dom$d: register round trip" guest_said "$d" "register FENCE0 wrote=12345001 read=12345001"
    check "dom$d: masked register semantics" \
        guest_said "$d" "register RCS_MI_MODE before=00000200 after=00000201"
    check "dom$d: accesses follow a BAR0 move" \
        guest_said "$d" "PVINFO after move magic=4776544776544776"
    check "dom$d: old BAR0 place no longer decodes" guest_said "$d" "old BAR0 place reads ffffffff"
    check "dom$d: rep movs MMIO->RAM across a page (vgt_id $2)" \
        guest_said "$d" "rep movs 76544776 47765447 00000001 0000000$2"
    check "dom$d: GGTT entries translated: aperture writes reached the guest's pages" \
        guest_said "$d" "gtt: aperture->RAM a5a50001 a5a50002 ok"
    check "dom$d: guest RAM writes visible through the aperture" \
        guest_said "$d" "gtt: RAM->aperture 5a5a0003 ok"
    check "dom$d: write to a write-protected page-table page applied by xengtd" \
        guest_said "$d" "wp: PTE write readback=[0-9a-f]* ok"
    check "dom$d: vblank MSI the guest enabled was injected and handled" \
        guest_said "$d" "msi: vblanks=[1-9][0-9]* interrupts handled=[1-9]"
    # The workload path: one batch per engine submitted through ELSP.
    check "dom$d: blitter batch via ELSP: CSB in the guest's status page says context complete" \
        guest_said "$d" "exec: bcs csb complete ctx=00000011 ok"
    check "dom$d: blitter user interrupt and context switch reached the guest by MSI" \
        guest_said "$d" "exec: bcs interrupt ok"
    check "dom$d: blitter fill and stored marker in guest RAM, ring head written back" \
        guest_said "$d" "exec: bcs fill ok marker ok head ok"
    check "dom$d: render batch via ELSP: CSB in the guest's status page says context complete" \
        guest_said "$d" "exec: rcs csb complete ctx=00000022 ok"
    check "dom$d: render user interrupt and context switch reached the guest by MSI" \
        guest_said "$d" "exec: rcs interrupt ok"
    check "dom$d: render stored marker in guest RAM, ring head written back" \
        guest_said "$d" "exec: rcs marker ok head ok"
}

# What xengtd saw of a guest, from the counters it logs at teardown.
final_counters() { grep "dom$1: final counters" /tmp/xengtd.log; }
check_counters() {  # check_counters DOMID
    d=$1
    check "dom$d: xengtd trapped exactly the guest's 2 page-table writes" \
        sh -c "grep 'dom$d: final counters' /tmp/xengtd.log | grep -q 'page-table writes trapped 2 (whole 0, partial 2) on 4 protected pages'"
    check "dom$d: the guest's 1000 reads of the protected page never reached xengtd" \
        sh -c "grep 'dom$d: final counters' /tmp/xengtd.log | grep -q 'unclaimed accesses 0;'"
    check "dom$d: MSIs injected by xengtd" \
        sh -c "grep 'dom$d: final counters' /tmp/xengtd.log | grep -q 'MSIs [1-9]'"
    check "dom$d: xengtd ran the guest's 2 ELSP submissions to completion, none rejected" \
        sh -c "grep 'dom$d: final counters' /tmp/xengtd.log | grep -q 'ELSP submissions 2; workloads 2 (completed 2, rejected 0, failed on the GPU 0, cancelled 0)'"
    final_counters "$d" | sed 's/.*final counters: //' | while read -r l; do say "dom$d: $l"; done
}

CFG=/guest/guest.cfg
create_paused_pair xengt
xengtd --domid "$A" --domid "$B" >/tmp/xengtd.log 2>&1 &
XENGTD=$!
check "xengtd attached to dom$A and dom$B" wait_for 30 both_attached
both_attached || { say "xengtd did not attach"; FAILED=1; finish; }
# kernel/xengt-mfn: machine frames of dom0's foreign mappings of guest A
# (non-contiguous guest frames), as a real GPU's tables will need them.
# Before the module is there, a real GPU is refused with the reason.
xengtd --domid "$A" --gpu 0000:00:04.0 --control-socket '' >/tmp/xengtd-real.log 2>&1
REAL_RC=$?
sed "s/^/    /" /tmp/xengtd-real.log
check "without xengt-mfn, xengtd refuses to attach guests to a real GPU, saying so (exit $REAL_RC)" \
    sh -c "[ $REAL_RC = 1 ] && grep -q 'the xengt-mfn kernel module is not loaded' /tmp/xengtd-real.log"
check "the xengt-mfn module loads" insmod /lib/modules/xengt_mfn.ko
xengt-mfn-probe "$A" 100 101 1ff 400 7ff >/tmp/mfn-probe.log 2>&1
sed "s/^/    /" /tmp/mfn-probe.log
check "xengt-mfn resolves dom$A's frames and refuses what is not a foreign mapping" \
    grep -q "MFN-PROBE: RESULT PASS" /tmp/mfn-probe.log
say "attached; unpausing A"
T_A=$(now)
xl unpause xengt-a
check "dom$A: guest ran to the end" wait_for 120 guest_done "$A"
say "A done ($(awk "BEGIN{print $(now) - $T_A}")s after unpause)"
cat /tmp/guest$A.log
check_served "$A" 1

say "destroying A while attached"
xl destroy xengt-a
check "dom$A: xengtd logged the teardown" wait_for 30 xengtd_said "dom$A: vGPU torn down"
check "dom$A: no dying domain left (xengtd unmapped everything)" wait_for 30 domain_gone "$A"
check "dom$A: xengtd removed its xenstore state" state_removed "$A"
check_counters "$A"
check "xengtd keeps running after dom$A died" xengtd_running

say "unpausing B"
T_B=$(now)
xl unpause xengt-b
check "dom$B: guest ran to the end" wait_for 120 guest_done "$B"
say "B done ($(awk "BEGIN{print $(now) - $T_B}")s after unpause)"
cat /tmp/guest$B.log
check_served "$B" 2

say "negative control: the same guest with no xengtd attached, after the DMA proof"
xl create -q $CFG 'name="xengt-control"' 'cmdline="dma"' || { say "xl create control failed"; FAILED=1; }
C=$(xl domid xengt-control)
xengt-dma-proof "$C" >/tmp/dma-proof.log 2>&1
sed "s/^/    /" /tmp/dma-proof.log
check "DMA proof: edu read dom$C's frames at the machine addresses xengt-mfn gave (guest->device)" \
    sh -c "test \$(grep -c 'PASS guest->device' /tmp/dma-proof.log) -eq 4"
check "DMA proof: edu wrote dom$C's frames at those machine addresses (device->guest, seen by dom0)" \
    sh -c "test \$(grep -c 'PASS device->guest' /tmp/dma-proof.log) -eq 4"
check "DMA proof: addresses that are not foreign mappings are refused (ENXIO, EINVAL)" \
    grep -q "PASS the module refuses" /tmp/dma-proof.log
check "DMA proof: every frame unpinned, and none registered after teardown" \
    sh -c "grep -q 'after unpinning: 0 pinned' /tmp/dma-proof.log && grep -q 'after teardown: 0 frames registered' /tmp/dma-proof.log"
check "DMA proof: xengt-dma-proof passed" grep -q "DMA-PROOF: RESULT PASS" /tmp/dma-proof.log
check "control dom$C: guest ran to the end" wait_for 120 guest_done "$C"
cat /tmp/guest$C.log
check "control dom$C: the guest saw the device's writes in its 4 frames" \
    guest_said "$C" "dma: device->guest 4 frames (1502 1780 1923 1c41): 0 of 4096 dwords wrong"
check "control dom$C: 00:02.0 reads all-ones" guest_said "$C" "00:02.0 id=ffffffff"
check "control dom$C: MMIO where BAR0 would be reads all-ones" \
    guest_said "$C" "no device at 00:02.0; MMIO at c0078000 reads ffffffff"
xl destroy xengt-control
check "control dom$C: no dying domain left after the DMA proof" wait_for 30 domain_gone "$C"

say "destroying B: xengtd should exit 0 with no guest left"
xl destroy xengt-b
check "xengtd exited once its last guest was gone" wait_for 30 xengtd_exited
wait "$XENGTD"
XENGTD_RC=$?
check "xengtd exit status 0 (got $XENGTD_RC)" test "$XENGTD_RC" -eq 0
check "dom$B: no dying domain left" wait_for 30 domain_gone "$B"
check_counters "$B"
say "scenario finished"
finish
