/*
 * xengt-mfn-probe: checks /dev/xengt-mfn on a running Xen host (the e2e
 * dom0). Maps guest frames of DOMID with libxenforeignmemory and asks the
 * module for their machine frames, then checks what must hold whatever the
 * machine's layout:
 *   - every mapped page has a machine frame, and distinct guest frames have
 *     distinct machine frames;
 *   - a second mapping of a guest frame resolves to the same machine frame;
 *   - an address that is not a foreign mapping is refused with ENXIO, a
 *     misaligned one with EINVAL.
 * Prints "MFN-PROBE: PASS|FAIL <what>" per check; exit 0 iff all passed.
 *
 *   xengt-mfn-probe DOMID GFN [GFN...]     (GFNs in hex, guest RAM)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenforeignmemory.h>

#include "xengt_mfn_uapi.h"

#define MAX_GFNS 16
#define PAGE 4096ul

static int failures;

static void check(int ok, const char *what) {
    printf("MFN-PROBE: %s %s\n", ok ? "PASS" : "FAIL", what);
    failures += !ok;
}

/* The machine frames of `count` pages at `addr`; 0 or -errno. */
static int query(int dev, const void *addr, uint32_t count, uint64_t *frames) {
    struct xengt_mfn_query q = {(uint64_t)(uintptr_t)addr, count, 0, (uint64_t)(uintptr_t)frames};
    return ioctl(dev, XENGT_MFN_IOC_QUERY, &q) == 0 ? 0 : -errno;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc - 2 > MAX_GFNS) {
        fprintf(stderr, "usage: xengt-mfn-probe DOMID GFN [GFN...] (at most %d)\n", MAX_GFNS);
        return 2;
    }
    const uint32_t domid = (uint32_t)strtoul(argv[1], NULL, 0);
    const unsigned n = (unsigned)(argc - 2);
    xen_pfn_t gfns[MAX_GFNS];
    int errs[MAX_GFNS];
    uint64_t mfns[MAX_GFNS], again[1];
    for (unsigned i = 0; i < n; ++i) {
        gfns[i] = strtoul(argv[2 + i], NULL, 16);
    }

    const int dev = open("/dev/xengt-mfn", O_RDWR | O_CLOEXEC);
    check(dev >= 0, "/dev/xengt-mfn opens");
    xenforeignmemory_handle *fmem = xenforeignmemory_open(NULL, 0);
    check(fmem != NULL, "libxenforeignmemory opens");
    if (dev < 0 || fmem == NULL) {
        return 1;
    }
    void *map = xenforeignmemory_map(fmem, domid, PROT_READ | PROT_WRITE, n, gfns, errs);
    int mapped = map != NULL;
    for (unsigned i = 0; mapped && i < n; ++i) {
        mapped = errs[i] == 0;
    }
    check(mapped, "the guest's frames map");
    if (!mapped) {
        return 1;
    }

    int rc = query(dev, map, n, mfns);
    char what[160];
    snprintf(what, sizeof what, "%u guest frames resolve to machine frames (rc %d)", n, rc);
    check(rc == 0, what);
    int distinct = rc == 0;
    for (unsigned i = 0; rc == 0 && i < n; ++i) {
        printf("MFN-PROBE: dom%u gfn %#lx -> mfn %#llx\n", domid, (unsigned long)gfns[i],
               (unsigned long long)mfns[i]);
        distinct = distinct && mfns[i] != 0;
        for (unsigned j = 0; j < i; ++j) {
            distinct = distinct && (gfns[i] == gfns[j]) == (mfns[i] == mfns[j]);
        }
    }
    check(distinct, "distinct guest frames have distinct machine frames");

    void *second = xenforeignmemory_map(fmem, domid, PROT_READ, 1, &gfns[0], errs);
    rc = second != NULL && errs[0] == 0 ? query(dev, second, 1, again) : -1;
    check(rc == 0 && again[0] == mfns[0], "a second mapping of a frame resolves the same");

    void *anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(anon, 1, PAGE);
    rc = query(dev, anon, 1, again);
    snprintf(what, sizeof what, "ordinary memory is refused with ENXIO (rc %d)", rc);
    check(rc == -ENXIO, what);
    rc = query(dev, (const char *)map + 8, 1, again);
    snprintf(what, sizeof what, "a misaligned address is refused with EINVAL (rc %d)", rc);
    check(rc == -EINVAL, what);

    munmap(anon, PAGE);
    if (second != NULL) {
        xenforeignmemory_unmap(fmem, second, 1);
    }
    xenforeignmemory_unmap(fmem, map, n);
    xenforeignmemory_close(fmem);
    close(dev);
    printf("MFN-PROBE: RESULT %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
