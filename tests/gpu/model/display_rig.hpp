// A test driver's display programming (intel-gpu.md §7.1, §7.2): a linear
// XRGB8888 framebuffer behind chosen GGTT entries, pipe A timings and plane 1.
#pragma once

#include <cstdint>

#include "gpu/model/hw_regs.hpp"
#include "test_driver.hpp"

namespace xengt::gpu::model::test {

// §7.2: timing fields are written minus one, (total-1) 31:16, (active-1) 15:0.
constexpr uint32_t minus_one_pair(uint32_t high, uint32_t low) {
    return (high - 1) << 16 | (low - 1);
}

struct Mode {
    uint32_t width;
    uint32_t height;
};

// A framebuffer of `pages` machine frames mapped at GGTT address `gm`, the
// frames in reverse order so that every page needs its own translation.
inline uint64_t map_framebuffer(Driver& d, uint32_t gm, unsigned pages) {
    const uint64_t phys = d.alloc_frames(pages);
    for (unsigned i = 0; i < pages; ++i) {
        const uint64_t frame = (phys >> kPageShift) + (pages - 1 - i);
        d.gpu.write_ggtt((gm >> kPageShift) + i, GgttEntry::map(HostFrame{frame}));
    }
    d.wr(hw::kGfxFlshCntlGen6, 1);  // §2.3 GGTT invalidate
    return phys;
}

// CPU write of one pixel through the driver's own view of the mapping above.
inline void poke_pixel(Driver& d, uint64_t phys, unsigned pages, uint64_t byte, uint32_t v) {
    const uint64_t page = byte >> kPageShift;
    d.poke(phys + ((pages - 1 - page) << kPageShift) + (byte & kPageMask), v);
}

// Programs pipe A for `mode` (totals as a 60 Hz-ish mode would have), the
// plane at (0,0) of the same size, and enables both (i915's modeset order:
// timings, pipe source, pipe enable, plane, surface last).
inline void modeset(Driver& d, Mode m, uint32_t surf, uint32_t stride_bytes,
                    uint32_t plane_ctl = hw::kPlaneEnable | hw::kPlaneFormatXrgb8888
                                                                << hw::kPlaneFormatShift) {
    d.wr(hw::kTransHtotalA, minus_one_pair(m.width + 160, m.width));
    d.wr(hw::kTransHblankA, minus_one_pair(m.width + 160, m.width));
    d.wr(hw::kTransHsyncA, minus_one_pair(m.width + 100, m.width + 20));
    d.wr(hw::kTransVtotalA, minus_one_pair(m.height + 30, m.height));
    d.wr(hw::kTransVblankA, minus_one_pair(m.height + 30, m.height));
    d.wr(hw::kTransVsyncA, minus_one_pair(m.height + 10, m.height + 3));
    d.wr(hw::kPipeSrcA, minus_one_pair(m.width, m.height));
    d.wr(hw::kPipeConfA, hw::kPipeConfEnable);
    d.wr(hw::kPlaneStrideA, stride_bytes / hw::kPlaneStrideUnit);
    d.wr(hw::kPlanePosA, 0);
    d.wr(hw::kPlaneSizeA, minus_one_pair(m.height, m.width));  // (h-1) 31:16, (w-1) 15:0
    d.wr(hw::kPlaneCtlA, plane_ctl);
    d.wr(hw::kPlaneSurfA, surf);
}

}  // namespace xengt::gpu::model::test
