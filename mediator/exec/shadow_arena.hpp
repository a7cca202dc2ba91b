// Host-owned graphics memory for one vGPU's workloads on one engine.
//
// The GPU never executes what the guest can still change: a workload's
// context image, ring section and privileged (GGTT) batches are copied into
// a window of this arena, scanned there, and the GPU is pointed at the copy
// (gvtg.md §3.5). The arena is one run of host pages mapped, page for page,
// into the host's share of the GGTT at construction, so preparing a
// workload allocates nothing: it fills a free window.
#pragma once

#include <cstddef>
#include <cstdint>

#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"

namespace xengt::mediator::exec {

class ShadowArena {
public:
    // `windows` windows of `window_pages` pages at host GM `base` (page
    // aligned, inside the host's share). Throws std::runtime_error if the
    // pool cannot provide the pages.
    ShadowArena(HostPagePool& pool, PhysicalGgtt& ggtt, uint64_t base, uint32_t windows,
                uint32_t window_pages);
    ~ShadowArena();  // unmaps the range from the GGTT, then frees the pages
    ShadowArena(const ShadowArena&) = delete;
    ShadowArena& operator=(const ShadowArena&) = delete;

    uint32_t windows() const { return windows_; }
    uint32_t window_pages() const { return window_pages_; }
    uint64_t bytes() const { return uint64_t{windows_} * window_pages_ * kPageSize; }

    // Window `w`'s CPU view (window_pages() pages, contiguous) and its GM address.
    std::byte* cpu(uint32_t w) const { return run_.data + offset(w); }
    uint64_t gm(uint32_t w) const { return base_ + offset(w); }
    // The host frame behind byte `byte` of window `w` (for a GPU entry).
    HostFrame frame(uint32_t w, uint64_t byte) const {
        return run_.frames[(offset(w) + byte) >> kPageShift];
    }

private:
    uint64_t offset(uint32_t w) const { return uint64_t{w} * window_pages_ * kPageSize; }

    HostPagePool& pool_;
    PhysicalGgtt& ggtt_;
    uint64_t base_;
    uint32_t windows_;
    uint32_t window_pages_;
    HostRun run_;
};

}  // namespace xengt::mediator::exec
