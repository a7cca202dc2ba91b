// A test guest that renders through its vGPU's execlists the way i915 does,
// every access a real trap through the simulator.
//
// It places the BARs, reads its graphics-memory slices from PVINFO and keeps
// to them (everything it maps lies in its hidden slice), enables execlists
// and the GT interrupts on the render and blitter engines (optionally its
// MSI), maps its contexts, rings, status pages, batches and surfaces from its
// own RAM through the GGTT (BAR0 + 8 MiB, then GFX_FLSH_CNTL), builds context
// images (intel-gpu.md §4.7) and submits them through ELSP. Completion is
// read as i915 reads it: the CSB in the status page, and the ring head the
// host writes back into the context image; every wait is bounded.
//
// The work: in a GGTT context on the blitter, XY_COLOR_BLT fills from the
// ring and XY_SRC_COPY_BLT copies plus fills from a GGTT batch; on the render
// engine MI_STORE_DATA_IMM from a GGTT batch; then, in a 4-level PPGTT
// context announced through PVINFO (g2v L4 create), blitter copies through
// PPGTT addresses from a PPGTT batch. Rounds are submitted back to back, and
// every pixel and dword is checked from the CPU afterwards.
//
// The malicious mode instead submits, each in its own workload, what the
// command scanner must refuse, and checks that it was refused (completion
// plus the engine's CS error bit in GT IIR, nothing written). Three refusals
// put the vGPU in failsafe mode, so a valid submission after them is refused
// too; a function level reset (PCIe FLR) ends that, after which the driver
// sets the device up again and finishes with the remaining cases and a valid
// fill that must run.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/xensim/guest.hpp"

namespace xengt::guests {

struct ExecDriverLayout {
    uint64_t bar0 = 0xd0000000;
    uint64_t bar2 = 0xc0000000;
    uint16_t bar4 = 0xc000;
    // Guest RAM the driver may use: `ram_pages` pages from `ram_gfn` (other
    // test guests use pages below 0x1000).
    uint64_t ram_gfn = 0x1000;
    uint64_t ram_pages = 0x1000;
    // Where in its hidden slice the driver starts mapping.
    uint64_t gm_offset = 0;
    uint32_t seed = 1;     // selects the guest's colours and values
    unsigned rounds = 4;   // back-to-back rounds of each kind of work
    unsigned stores = 64;  // MI_STORE_DATA_IMMs per render batch
    uint32_t width = 64;   // blit rectangles, XRGB8888, rows 256 bytes apart
    uint32_t height = 32;  //   (width at most 64)
    bool ppgtt = true;     // also the PPGTT phase
    bool msi = true;       // program and enable the MSI capability
    uint32_t msi_address = 0xfee00000;
    uint16_t msi_data = 0x43;
    bool malicious = false;
    // Bound on each wait for the GPU: below the simulator's own 10 s, so that
    // a stuck workload shows as the guest's failure, saying what it waited for.
    std::chrono::milliseconds wait_limit{8000};
};

// One thing the guest checked from its CPU.
struct ExecCheck {
    std::string name;
    uint64_t checked = 0;  // pixels or dwords compared
    uint64_t wrong = 0;
    bool passed() const { return checked != 0 && wrong == 0; }
};

// One malicious submission and what the guest saw of it.
struct MaliciousCase {
    std::string name;
    bool completed = false;        // its context completed (CSB)
    bool cs_error = false;         // the engine's CS error bit was set in GT IIR
    bool nothing_written = false;  // every canary it would have written is intact
    bool refused() const { return completed && cs_error && nothing_written; }
};

// Engine index 0 is render, 1 the blitter (intel-gpu.md §6.1 GT bank 0 halves).
struct ExecDriverReport {
    uint32_t mappable_base = 0;
    uint32_t mappable_size = 0;
    uint32_t hidden_base = 0;
    uint32_t hidden_size = 0;
    bool pv_magic = false;
    std::vector<ExecCheck> checks;
    std::vector<MaliciousCase> malicious;
    bool valid_refused_in_failsafe = false;  // malicious mode: failsafe held a valid fill back
    bool valid_ran_after_flr = false;        // ... and the reset let the next one run
    uint64_t elsp_submissions = 0;
    uint64_t csb_events = 0;
    std::array<uint64_t, 2> user_interrupts{};  // GT IIR user-interrupt bits seen, per engine
    std::array<uint64_t, 2> cs_errors{};        // GT IIR CS-error bits seen, per engine
    std::array<uint64_t, 2> context_switches{};
    std::string failure;  // why the driver could not go on (a wait ran out, ...)
    std::vector<std::string> lines;
};

ExecDriverReport run_exec_driver(sim::GuestCpu& cpu, const ExecDriverLayout& layout = {});

// True if every check the guest could make itself passed (for the
// malicious mode: every case refused, failsafe held, the reset recovered).
bool exec_driver_passed(const ExecDriverReport& r, std::string* why = nullptr);

// Keeping the render engine busy, as a GPU-bound guest does: back-to-back
// submissions of one context, each starting a GGTT batch of `stores`
// MI_STORE_DATA_IMMs, at most `outstanding` unconsumed at a time, until
// `stop` is set (or `limit` passes).
struct ExecLoadLayout {
    ExecDriverLayout base{};
    unsigned stores = 1024;
    unsigned outstanding = 4;
    std::chrono::milliseconds limit{60000};
};

struct ExecLoadReport {
    uint64_t submissions = 0;  // ELSP writes
    uint64_t consumed = 0;     // submissions whose ring section the host retired
    bool results_ok = false;   // the last submission's writes are in memory
    std::string failure;
    std::vector<std::string> lines;
};

ExecLoadReport run_exec_load(sim::GuestCpu& cpu, const ExecLoadLayout& layout,
                             const std::atomic<bool>& stop);

}  // namespace xengt::guests
