// Settings and counters of a vGPU's virtual execlists, apart from the
// machinery (virtual_execlist.hpp), so that VgpuConfig can carry them.
#pragma once

#include <cstdint>

namespace xengt::mediator::exec {

struct Workload;
class WorkloadSink;

struct ExeclistCounters {
    uint64_t submissions = 0;  // ELSP 4-dword writes
    uint64_t workloads = 0;    // workloads created
    uint64_t completed = 0;    // ran to their tail
    uint64_t rejected = 0;     // refused by the scanner or context checks
    uint64_t faulted = 0;      // failed on the GPU (fault or hang)
    uint64_t cancelled = 0;    // dropped by a reset
    uint64_t lite_restores = 0;
    uint64_t deferred = 0;  // submissions that waited for a free shadow window
    uint64_t csb_events = 0;
    uint64_t dropped_submissions = 0;  // ELSP with run-list disabled, or both slots busy
    uint64_t scanned_dwords = 0;
};

struct ExeclistConfig {
    uint32_t windows = 6;         // workloads in flight per engine
    uint32_t window_pages = 128;  // shadow pages per workload (context + ring + batches)
    uint32_t failsafe_after = 3;  // rejected workloads before the vGPU stops submitting
};

}  // namespace xengt::mediator::exec
