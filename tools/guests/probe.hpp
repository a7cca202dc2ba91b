// The first test guest: what firmware and an i915-style driver do first.
//
// Finds the GPU at 00:02.0 through CF8/CFC, sizes and places its three BARs,
// enables decode, reads the PVINFO magic through MMIO, does a register round
// trip, moves BAR0 and checks accesses follow it, turns memory decode off and
// checks MMIO is gone, and does a `rep movs` from MMIO into RAM whose buffer
// crosses a page boundary. Everything it finds is reported both in the
// returned structure and as lines on the debug console (port 0xE9).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/xensim/guest.hpp"

namespace xengt::guests {

// Where the guest places the BARs (inside the MMIO hole below 4 GiB, as
// hvmloader would) and which RAM it uses as a scratch buffer.
struct ProbeLayout {
    uint64_t bar2 = 0xc0000000;        // 256 MiB aperture, naturally aligned
    uint64_t bar0 = 0xd0000000;        // 16 MiB register BAR
    uint64_t bar0_moved = 0xd1000000;  // where BAR0 is moved to
    uint16_t bar4 = 0xc000;            // 64-byte I/O BAR
    uint64_t scratch_ram = 0x20000;    // a RAM page boundary lies at scratch_ram
};

struct ProbeReport {
    bool found = false;
    uint16_t vendor = 0;
    uint16_t device = 0;
    uint32_t class_code = 0;
    uint32_t empty_slot_id = 0;  // vendor/device of 00:03.0 (nobody there)
    uint64_t bar0_size = 0;
    uint64_t bar2_size = 0;
    uint64_t bar4_size = 0;
    bool bar2_prefetchable = false;
    uint64_t pvinfo_magic = 0;
    uint16_t version_major = 0;
    uint16_t version_minor = 0;
    uint32_t vgt_id = 0;
    uint32_t caps = 0;
    // The graphics-memory partition PVINFO reports (avail_rs).
    uint32_t mappable_base = 0;
    uint32_t mappable_size = 0;
    uint32_t hidden_base = 0;
    uint32_t hidden_size = 0;
    uint32_t fence_num = 0;
    uint32_t register_written = 0;
    uint32_t register_read = 0;
    uint64_t magic_after_move = 0;
    uint64_t old_place_after_move = 0;
    uint64_t magic_decode_off = 0;
    uint64_t magic_decode_back_on = 0;
    uint32_t rep_buffer[4] = {};
    std::vector<std::string> lines;  // what it printed
};

inline constexpr uint64_t kPvinfoMagic = 0x4776544776544776ull;  // "vGTvGTvG"

ProbeReport run_probe(sim::GuestCpu& cpu, const ProbeLayout& layout = {});

// True when every check in the report came out as a correct vGPU requires.
bool probe_passed(const ProbeReport& r, std::string* why = nullptr);

}  // namespace xengt::guests
