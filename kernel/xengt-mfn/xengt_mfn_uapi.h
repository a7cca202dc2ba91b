/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * xengt-mfn: the machine frame behind a Xen foreign mapping (user ABI).
 *
 * A process that holds a privcmd foreign mapping of a guest's pages asks
 * /dev/xengt-mfn which machine frames Xen put behind them, so that a GPU's
 * page tables can name them. One ioctl, nothing else.
 */
#ifndef XENGT_MFN_UAPI_H
#define XENGT_MFN_UAPI_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* At most this many pages per request. */
#define XENGT_MFN_MAX_PAGES 512

struct xengt_mfn_query {
	__u64 addr;   /* page-aligned address in the caller's privcmd foreign mapping */
	__u32 count;  /* pages from addr, 1..XENGT_MFN_MAX_PAGES */
	__u32 flags;  /* must be 0 */
	__u64 frames; /* user pointer: count __u64 machine frame numbers, written */
};

/*
 * Errors:
 *   EINVAL     malformed request: addr not page aligned, count 0 or too large,
 *              flags not 0, or the range wraps the address space
 *   ENXIO      a page of the range is not in a privcmd foreign mapping of the
 *              calling process
 *   ENOENT     a page is inside such a mapping but nothing is mapped there
 *   EOPNOTSUPP dom0 is not a PV domain: its page tables hold no machine frames
 *   EFAULT     frames is not writable
 */
#define XENGT_MFN_IOC_QUERY _IOWR('X', 0x01, struct xengt_mfn_query)

#endif
