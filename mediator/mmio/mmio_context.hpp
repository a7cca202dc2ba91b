// What a register handler may touch: the vGPU's register file and the state
// of the emulated blocks it serves. Handlers are plain functions in a static
// table shared by all vGPUs, so the per-vGPU state arrives through this.
#pragma once

#include <cstdint>
#include <span>

#include "mediator/guest_log.hpp"
#include "mediator/mmio/bar0_layout.hpp"
#include "mediator/vgpu_events.hpp"

namespace xengt::mediator {
struct PvInfoState;
}  // namespace xengt::mediator
namespace xengt::mediator::display {
struct DisplayState;
}  // namespace xengt::mediator::display

namespace xengt::mediator::mmio {

struct MmioContext {
    std::span<uint32_t, kRegisterDwords> vregs;  // one entry per BAR0 register dword
    PvInfoState& pvinfo;
    GuestLog& log;
    // The owning vGPU, for the few effects beyond the register file (MSI,
    // resets); see vgpu_events.hpp. Null in a bare register file (tests):
    // handlers then skip those effects.
    VgpuEvents* events = nullptr;
    // Display state beyond the vregs (pending flips, display/display_timing.hpp).
    // Null in a bare register file: flips then complete without flip-done.
    display::DisplayState* display = nullptr;

    // The vreg holding byte `offset`. Callers pass offsets below 2 MiB; the
    // mask only makes a caller bug alias instead of overrunning.
    uint32_t& vreg(uint32_t offset) const { return vregs[(offset >> 2) & (kRegisterDwords - 1)]; }
};

}  // namespace xengt::mediator::mmio
