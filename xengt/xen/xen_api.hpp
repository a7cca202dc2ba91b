// The one include of Xen's stable library headers for the whole project.
//
// Xen's headers carry no extern "C" guards, so they are wrapped here; without
// that every call would link against a C++-mangled name. __XEN_TOOLS__ exposes
// the toolstack-only parts (HVM_IOREQSRV_BUFIOREQ_*, the dm_op structures).
// xenctrl.h (unstable ABI, needs GNU extensions) is deliberately not here: only
// domain_info.cpp includes it.
#pragma once

#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif

extern "C" {
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
}

#include <cstddef>

// The shared ioreq page is an ABI between Xen and us: pin the layout we rely on.
static_assert(sizeof(ioreq_t) == 32, "ioreq_t must be 32 bytes (xen/hvm/ioreq.h)");
static_assert(offsetof(ioreq_t, vp_eport) == 24, "vp_eport at byte 24");
static_assert(offsetof(ioreq_t, type) == 31, "type at byte 31; state bitfield in byte 30");
