// A test guest that brings up its vGPU's display the way i915 does: it
// places the BARs, reads its graphics-memory slices from PVINFO, maps a
// framebuffer of its own pages at the start of its mappable slice, draws a
// pattern of its own into it through the aperture, programs pipe A and
// plane 1 (timings, pipe source, pipe enable, plane, surface last) and then
// sets PVINFO display_ready. The host side checks what is shown.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/xensim/guest.hpp"

namespace xengt::guests {

struct DisplayDriverLayout {
    uint64_t bar0 = 0xd0000000;
    uint64_t bar2 = 0xc0000000;
    uint16_t bar4 = 0xc000;
    uint64_t fb_gfn = 0x300;       // framebuffer: fb_pages() pages of guest RAM from here
    uint64_t staging_gfn = 0x400;  // where rows are composed before the aperture copy
    uint32_t width = 64;
    uint32_t height = 48;
    uint32_t stride_bytes = 320;  // 80 pixels: wider than a row, a 64-byte multiple
    uint32_t seed = 1;            // selects the guest's pattern
    // Program the plane's surface just past the end of the mappable slice
    // instead of at the framebuffer: a guest pointing its plane at memory
    // that is not its own.
    bool surface_past_slice = false;
    bool set_display_ready = true;

    uint64_t fb_pages() const { return (uint64_t{stride_bytes} * height + 4095) / 4096; }
};

// The pixel (XRGB8888) a guest with `seed` draws at (x, y): distinct per
// seed and per position, so a shifted, mixed or stale frame shows.
uint32_t display_pattern(uint32_t seed, uint32_t x, uint32_t y);
// What fills a row beyond `width` up to the stride: never scanned out.
uint32_t display_padding(uint32_t seed);

struct DisplayDriverReport {
    uint32_t mappable_base = 0;
    uint32_t mappable_size = 0;
    uint32_t surface = 0;              // the GM address programmed into PLANE_SURF
    bool framebuffer_written = false;  // the pages read back what was drawn
    std::vector<std::string> lines;
};

DisplayDriverReport run_display_driver(sim::GuestCpu& cpu, const DisplayDriverLayout& layout = {});

}  // namespace xengt::guests
