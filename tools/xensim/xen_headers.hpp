// Every Xen header whose functions the simulator defines, included exactly as
// a real client would so the compiler checks our definitions against Debian's
// prototypes.
#pragma once

// The headers carry no extern "C" guards; without the wrapper our definitions
// would get C++-mangled names and never replace the real libraries' symbols.
// __XEN_TOOLS__ exposes the tools-only parts (HVM_IOREQSRV_BUFIOREQ_*, dm_op).
#ifndef __XEN_TOOLS__
#define __XEN_TOOLS__ 1
#endif
extern "C" {
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/io/xs_wire.h>
#include <xen/memory.h>
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xenstore.h>
}
