#include "mediator/exec/shadow_arena.hpp"

#include <stdexcept>
#include <string>

namespace xengt::mediator::exec {
namespace {

// Gen8 GGTT entry (intel-gpu.md §2.1): bit 0 present, bits 45:12 the frame.
uint64_t pte_for(HostFrame f) {
    return (f.value() << kPageShift & 0x00003ffffffff000ull) | 1;
}

}  // namespace

ShadowArena::ShadowArena(HostPagePool& pool, PhysicalGgtt& ggtt, uint64_t base, uint32_t windows,
                         uint32_t window_pages)
    : pool_(pool), ggtt_(ggtt), base_(base), windows_(windows), window_pages_(window_pages) {
    const uint64_t pages = uint64_t{windows} * window_pages;
    if (pages == 0 || (base & kPageMask) != 0 || (base >> kPageShift) + pages > ggtt.entries()) {
        throw std::runtime_error("shadow arena: bad range at GM 0x" + std::to_string(base));
    }
    auto run = pool.allocate_run(pages);
    if (!run) {
        throw std::runtime_error("shadow arena: the host page pool cannot provide " +
                                 std::to_string(pages) + " contiguous pages");
    }
    run_ = std::move(*run);
    for (uint64_t i = 0; i < pages; ++i) {
        ggtt_.write((base_ >> kPageShift) + i, pte_for(run_.frames[i]));
    }
    ggtt_.flush();
}

ShadowArena::~ShadowArena() {
    const uint64_t pages = run_.frames.size();
    for (uint64_t i = 0; i < pages; ++i) {
        ggtt_.write((base_ >> kPageShift) + i, 0);
    }
    ggtt_.flush();
    pool_.release_run(run_);
}

}  // namespace xengt::mediator::exec
