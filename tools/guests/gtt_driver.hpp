// A test guest that uses its vGPU's graphics memory the way i915 does.
//
// It places the BARs, reads its slices from PVINFO and keeps to them (the
// ballooning rule), maps a set of its own pages through the GGTT and flushes,
// then moves data both ways through the aperture. It tries what a hostile
// guest would: an entry outside its slices and an aperture access outside its
// mappable slice. Finally it builds a 4-level PPGTT in its RAM, announces it
// through PVINFO (g2v_notify L4 create) and rewrites one of its entries, which
// the host must see through write protection. The host side checks the rest:
// what the GPU reaches, and that no guest reaches another.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/xensim/guest.hpp"

namespace xengt::guests {

struct GttDriverLayout {
    uint64_t bar0 = 0xd0000000;
    uint64_t bar2 = 0xc0000000;
    uint16_t bar4 = 0xc000;
    uint64_t buffer_gfn = 0x100;  // first of `buffer_pages` pages of guest RAM
    unsigned buffer_pages = 16;
    uint64_t ppgtt_gfn = 0x200;     // PML4, PDP, PD, PT on four consecutive pages
    uint32_t pattern = 0x5a5a0000;  // per-guest value the buffers are filled with
};

struct GttDriverReport {
    uint32_t mappable_base = 0;
    uint32_t mappable_size = 0;
    uint32_t hidden_base = 0;
    uint32_t hidden_size = 0;
    bool aperture_to_ram = false;  // aperture writes landed in the mapped pages
    bool ram_to_aperture = false;  // RAM writes read back through the aperture
    // An entry written outside the slices, read back: 0 when the GGTT traps
    // (the write is dropped); as written when it is RAM-backed (the guest's
    // own memory), where it is simply never applied to the GPU.
    uint64_t foreign_entry_readback = ~0ull;
    uint64_t foreign_entry_written = 0;
    uint32_t foreign_aperture_read = 0;  // aperture read outside the slice
    bool pte_rewrite_visible = false;    // a protected PTE write still reached RAM
    uint64_t pml4_gpa = 0;
    std::vector<std::string> lines;
};

GttDriverReport run_gtt_driver(sim::GuestCpu& cpu, const GttDriverLayout& layout = {});

// True if every check the guest can make itself passed.
bool gtt_driver_passed(const GttDriverReport& r, std::string* why = nullptr);

}  // namespace xengt::guests
