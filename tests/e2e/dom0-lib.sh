# What every e2e dom0 scenario shares (sourced by its /init as /e2e-lib.sh):
# the mounts, the verdict helpers and bringing up the Xen toolstack.
# Prints "E2E: ..." timeline lines, one "E2E-CHECK: PASS|FAIL <what>" per
# check; the scenario prints "E2E-RESULT: PASS|FAIL" from $FAILED.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /run/lock /var/log/xen /var/lib/xen /var/lib/xenstored

now() { cut -d' ' -f1 /proc/uptime; }
say() { echo "E2E: [dom0 +$(now)s] $*"; }
FAILED=0
check() {  # check "what" command...
    what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        echo "E2E-CHECK: PASS $what"
    else
        echo "E2E-CHECK: FAIL $what"
        FAILED=1
    fi
}
# wait_for SECONDS command... : poll every $WAIT_POLL seconds until true,
# bounded by wall time.
WAIT_POLL=0.2
wait_for() {
    deadline=$(($(date +%s) + $1))
    shift
    while ! "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep "$WAIT_POLL"
    done
}

# Two guests of /guest/guest.cfg named PREFIX-a and PREFIX-b, created paused;
# sets A and B to their domids. On failure the scenario's finish() ends it.
create_paused_pair() {  # create_paused_pair PREFIX
    say "creating guests $1-a and $1-b paused"
    for g in a b; do
        xl create -q -p /guest/guest.cfg "name=\"$1-$g\"" || { say "xl create $1-$g failed"; FAILED=1; finish; }
    done
    A=$(xl domid "$1-a")
    B=$(xl domid "$1-b")
    say "A is dom$A, B is dom$B; starting xengtd"
}

# xengtd as the scenarios run it: guests $A and $B, pid $XENGTD, its log in
# /tmp/xengtd.log; its per-guest state is published in xenstore.
attached() { xenstore-read /local/domain/0/device-model/$1/xengt/state | grep -q running; }
both_attached() { attached "$A" && attached "$B"; }
state_removed() { ! xenstore-read /local/domain/0/device-model/$1/xengt/state; }
domain_gone() { ! xl list | grep -q -e "^$1 " -e "(null)"; }
xengtd_running() { kill -0 "$XENGTD"; }
xengtd_said() { grep -q -- "$1" /tmp/xengtd.log; }
xengtd_exited() { ! kill -0 "$XENGTD"; }

# start_toolstack [xenconsoled options...]: Xen's dom0 drivers, xenstored,
# xenconsoled; false if xenstored did not start.
start_toolstack() {
    for m in xen-privcmd xenfs xen-evtchn xen-gntdev xen-gntalloc; do
        insmod /lib/modules/$m.ko || say "insmod $m failed"
    done
    mount -t xenfs xenfs /proc/xen
    xenstored --pid-file=/run/xenstored.pid || { say "xenstored failed"; return 1; }
    xen-init-dom0 >/dev/null || say "xen-init-dom0 failed"
    xenconsoled --pid-file=/run/xenconsoled.pid "$@" || say "xenconsoled failed"
    say "toolstack up"
}
