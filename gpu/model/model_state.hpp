// The mutable state of the software GPU that register handlers act on.
//
// Everything here is guarded by SoftGpu's mutex; handlers run with it held and
// therefore never call out of the model (an MSI is only counted here and sent
// by SoftGpu after it has unlocked).
#pragma once

#include <array>
#include <cstdint>

#include "gpu/model/engine_state.hpp"
#include "gpu/model/hw_regs.hpp"
#include "mediator/base/zeroed_array.hpp"

namespace xengt::gpu::model {

struct ModelState {
    // Backing store of every dword of the 2 MiB register file (lazily zeroed).
    ZeroedArray<uint32_t> regs{hw::kRegisterDwords};
    // An engine with work in flight (a context loaded or a list queued).
    std::array<bool, kEngineCount> engine_busy{};
    std::array<EngineExec, kEngineCount> engines{};
    std::array<uint64_t, kEngineCount> engine_resets{};
    uint64_t tlb_invalidations = 0;
    // MSIs raised under the lock and not yet delivered to the handler.
    uint64_t msi_pending = 0;
    // Bit p: pipe p has a synchronous flip waiting for its next vblank (§7.4).
    uint32_t display_flips_pending = 0;

    uint32_t& reg(uint32_t offset) { return regs.get()[offset / 4]; }
};

}  // namespace xengt::gpu::model
