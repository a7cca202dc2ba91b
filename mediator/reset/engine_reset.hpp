// Engine resets of a vGPU: GEN6_GDRST and the per-engine RING_RESET_CTL
// handshake (intel-gpu.md §4.2), and what resetting an engine does to the
// virtual state.
//
// A guest i915 resets an engine by requesting it in RING_RESET_CTL (bit 0,
// masked), waiting for "ready to reset" (bit 1), writing the engine's GDRST
// bit and polling until GDRST reads 0 again. A virtual engine is always
// ready and its reset completes within the write, so RESET_CTL reports ready
// as soon as it is requested and GDRST always reads 0.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "mediator/irq/interrupt_event.hpp"
#include "mediator/mmio/mmio_context.hpp"
#include "mediator/mmio/register_file.hpp"
#include "mediator/trap.hpp"
#include "mediator/vgpu_events.hpp"

namespace xengt::mediator::reset {

// Engine MMIO bases (§4.1). Skylake GT2 has one video engine (no VCS2).
inline constexpr uint32_t kRcsBase = 0x02000;
inline constexpr uint32_t kVcsBase = 0x12000;
inline constexpr uint32_t kVecsBase = 0x1A000;
inline constexpr uint32_t kBcsBase = 0x22000;
// Every per-engine register of §4.2 lies below base + 0x800 (the last ones
// are CS_GPR at 0x600 + 8n): that block is what an engine reset restores.
inline constexpr uint32_t kEngineRegsSize = 0x800;

// GEN6_GDRST (§4.2): bit 0 full, 1 render, 2 media, 3 blitter, 4 VECS.
inline constexpr uint32_t kGdrst = 0x0941C;
inline constexpr uint32_t kGdrstFull = 1u << 0;
inline constexpr unsigned kGdrstEngineShift = 1;
inline constexpr uint32_t kGdrstDomains = 0x1F;

// RING_RESET_CTL (engine base + 0xD0, masked): bit 0 request reset, bit 1
// ready to reset (status), bit 2 catastrophic error (status).
inline constexpr uint32_t kResetCtl = 0x0D0;
inline constexpr uint32_t kResetCtlRequest = 1u << 0;
inline constexpr uint32_t kResetCtlReady = 1u << 1;

struct EngineInfo {
    EngineMask engine;
    const char* name;
    uint32_t base;
    // The engine's bits in its GT interrupt bank (§6.1).
    IrqBank bank;
    uint32_t irq_bits;
};

inline constexpr std::array<EngineInfo, 4> kEngines = {{
    {kEngineRender, "render", kRcsBase, IrqBank::Gt0, 0x0000FFFF},
    {kEngineMedia, "media", kVcsBase, IrqBank::Gt1, 0x0000FFFF},
    {kEngineBlitter, "blitter", kBcsBase, IrqBank::Gt0, 0xFFFF0000},
    {kEngineVebox, "vebox", kVecsBase, IrqBank::Gt3, 0x0000FFFF},
}};

// The engines a GEN6_GDRST write resets (0: none).
EngineMask gdrst_engines(uint32_t value);

// "render+blitter", "none" for 0.
std::string engine_names(EngineMask mask);

// Puts the registers of the selected engines back to their table defaults
// and drops their pending interrupt bits. IMR/IER stay as the driver set
// them: they are the driver's configuration, not engine state.
void reset_engines(mmio::RegisterFile& regs, EngineMask mask);

// MMIO table handlers.
TrapResult gdrst_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t byte_mask);
uint32_t reset_ctl_read(mmio::MmioContext& ctx, uint32_t offset);
TrapResult reset_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                           uint32_t byte_mask);

}  // namespace xengt::mediator::reset
