// One guest context submission on its way through the mediator (gvtg.md
// §3.6): the guest's context image, ring section and batches are copied into
// a window of host memory (ShadowArena), scanned there, and the GPU runs the
// copy: GGTT batches through relocated batch starts, PPGTT batches through a
// per-workload overlay of the shadow PPGTT that maps their pages to the
// copies. On completion the context image goes back to the guest with the ring
// head advanced, as the hardware would have saved it (intel-gpu.md §4.7).
#pragma once

#include <cstdint>
#include <optional>

#include "mediator/cmd/scanner.hpp"
#include "mediator/exec/engines.hpp"
#include "mediator/exec/guest_memory_view.hpp"
#include "mediator/exec/shadow_arena.hpp"
#include "mediator/guest_log.hpp"

namespace xengt::mediator::exec {

enum class WorkloadStatus : uint8_t {
    Free,       // the slot holds nothing
    Prepared,   // shadowed and scanned: may go to the GPU
    Rejected,   // the scanner or the context checks refused it: never reaches the GPU
    Completed,  // the GPU ran it to its ring tail
    Faulted,    // the GPU stopped it with an error
    Hung,       // it ran past the watchdog; its engine was reset
    Cancelled,  // dropped before it ran (vGPU reset or teardown)
};
const char* to_string(WorkloadStatus s);

struct Workload {
    // Who and what (set by prepare()).
    Engine engine = Engine::Render;
    uint32_t window = 0;      // the arena window holding its shadow
    uint64_t guest_desc = 0;  // the descriptor as the guest wrote it
    uint32_t guest_lrca = 0;
    uint32_t ring_head = 0;  // guest ring offsets of the section run: [head, tail)
    uint32_t ring_tail = 0;
    uint32_t ring_pages = 0;           // shadow ring pages at the start of the window
    uint32_t context_pages = 0;        // shadow context image after the ring
    uint64_t shadow_desc = 0;          // without context ID (the scheduler assigns one)
    std::optional<PpgttRoot> ppgtt{};  // held (PpgttShadow::create) while in flight
    bool holds_frames = false;         // PpgttShadow::hold_frames() taken
    cmd::ScanResult scan{};
    WorkloadStatus status = WorkloadStatus::Free;
    const char* reason = "";  // why it was rejected or failed
    // Filled by the scheduler.
    uint32_t hw_ctx_id = 0;
    uint64_t engine_ns = 0;  // time it held the engine
};

// Everything prepare() and write_back() work with, owned by the vGPU.
struct WorkloadEnv {
    GuestLog& log;
    GuestMemoryView& memory;
    PpgttShadow* ppgtt = nullptr;  // null: PPGTT contexts cannot be shadowed
    ShadowArena* arena = nullptr;  // the engine's, set per call
    cmd::ScanPolicy policy;        // GM ranges, limits; engine set per workload
};

// Builds the shadow of the context `desc` names into window `w.window` and
// scans it. `head` overrides the image's ring head (a resubmission of the
// context whose previous workload has not been written back yet). Leaves
// w.status Prepared or Rejected (with w.reason, logged). O(bytes copied).
void prepare(WorkloadEnv& env, Workload& w, uint64_t desc, std::optional<uint32_t> head);

// After the GPU is done with it: the shadow context image back into the
// guest's (ring head = the section's tail, the guest's ring and PPGTT
// pointers kept), and the PPGTT reference dropped. For any status.
void write_back(WorkloadEnv& env, Workload& w);

}  // namespace xengt::mediator::exec
