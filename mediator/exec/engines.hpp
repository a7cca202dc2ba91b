// The engines a Gen9 guest submits work to, and the facts about them the
// workload path needs: register block, interrupt bits, context image size
// and the execlist registers, descriptor and status-buffer encodings
// (intel-gpu.md §4, §6.1). One row per engine; code indexes, never branches.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "mediator/cmd/command_table.hpp"
#include "mediator/irq/interrupt_event.hpp"
#include "mediator/vgpu_events.hpp"

namespace xengt::mediator::exec {

// Same order as gpu::Engine and cmd::Engine: index i is the same engine everywhere.
using cmd::Engine;
inline constexpr unsigned kEngines = cmd::kEngineCount;

struct EngineDesc {
    Engine id;
    const char* name;
    uint32_t base;          // §4.1 register block
    IrqBank bank;           // §6.1 GT bank holding its 16 event bits ...
    unsigned irq_shift;     // ... at this shift
    EngineMask reset_mask;  // its GEN6_GDRST engine (vgpu_events.hpp)
    // §4.7: context image pages (PPHWSP + register state + engine state);
    // Gen9 render needs 22, the others 2.
    uint32_t context_pages;
};

inline constexpr std::array<EngineDesc, kEngines> kEngineDescs = {{
    {Engine::Render, "rcs", 0x02000, IrqBank::Gt0, 0, kEngineRender, 22},
    {Engine::Blitter, "bcs", 0x22000, IrqBank::Gt0, 16, kEngineBlitter, 2},
    {Engine::Video, "vcs", 0x12000, IrqBank::Gt1, 0, kEngineMedia, 2},
    {Engine::VideoEnhance, "vecs", 0x1A000, IrqBank::Gt3, 0, kEngineVebox, 2},
}};

constexpr const EngineDesc& desc(Engine e) {
    return kEngineDescs[static_cast<unsigned>(e)];
}
constexpr unsigned index(Engine e) {
    return static_cast<unsigned>(e);
}
constexpr InterruptEvent engine_event(Engine e, uint32_t bits) {
    return {desc(e).bank, bits << desc(e).irq_shift};
}

// §4.2 per-engine registers, offsets from the engine base.
inline constexpr uint32_t kRingTail = 0x030;
inline constexpr uint32_t kRingHead = 0x034;
inline constexpr uint32_t kRingStart = 0x038;
inline constexpr uint32_t kRingCtl = 0x03C;
inline constexpr uint32_t kRingHwsPga = 0x080;
inline constexpr uint32_t kRingHwstam = 0x098;
inline constexpr uint32_t kRingMiMode = 0x09C;
inline constexpr uint32_t kRingImr = 0x0A8;
inline constexpr uint32_t kRingElsp = 0x230;
inline constexpr uint32_t kExeclistStatusLo = 0x234;
inline constexpr uint32_t kExeclistStatusHi = 0x238;
inline constexpr uint32_t kRingModeGen7 = 0x29C;
inline constexpr uint32_t kCsbBuffer = 0x370;  // 6 x 64-bit entries
inline constexpr uint32_t kCsbPtr = 0x3A0;

inline constexpr uint32_t kRunListEnable = 1u << 15;  // RING_MODE_GEN7
inline constexpr uint32_t kStopRing = 1u << 8;        // RING_MI_MODE
inline constexpr uint32_t kModeIdle = 1u << 9;        // RING_MI_MODE status
inline constexpr uint32_t kRingCtlValid = 1u << 0;
inline constexpr uint32_t kRingCtlSizeMask = 0x001FF000;  // (pages - 1) << 12
inline constexpr uint32_t kHeadMask = 0x001FFFFC;
inline constexpr uint32_t kTailMask = 0x001FFFF8;

// The engine whose ELSP register is at BAR0 offset `offset`.
constexpr std::optional<Engine> engine_of_elsp(uint32_t offset) {
    for (const EngineDesc& d : kEngineDescs) {
        if (offset == d.base + kRingElsp) {
            return d.id;
        }
    }
    return std::nullopt;
}

// §4.4 context descriptor.
inline constexpr uint64_t kDescValid = 1u << 0;
inline constexpr unsigned kDescAddrModeShift = 3;
inline constexpr uint64_t kDescAddrModeMask = 3;
inline constexpr uint64_t kDescLegacy32 = 1;  // 3-level PPGTT, 4 PDPs
inline constexpr uint64_t kDescLegacy64 = 3;  // 4-level PPGTT, PML4 in PDP0
inline constexpr uint64_t kDescLrcaMask = 0xFFFFF000;
inline constexpr unsigned kDescCtxIdShift = 32;

// §4.5 CSB events (low dword), the entry count and the HWSP mirror (§4.6).
inline constexpr uint32_t kCsbIdleToActive = 1u << 0;
inline constexpr uint32_t kCsbPreempted = 1u << 1;
inline constexpr uint32_t kCsbElementSwitch = 1u << 2;
inline constexpr uint32_t kCsbActiveToIdle = 1u << 3;
inline constexpr uint32_t kCsbComplete = 1u << 4;
inline constexpr uint32_t kCsbLiteRestore = 1u << 15;
inline constexpr uint32_t kCsbEntries = 6;
inline constexpr uint32_t kCsbWritePtrMask = 0x7;
inline constexpr uint32_t kHwspCsbByte = 0x10 * 4;
inline constexpr uint32_t kHwspCsbWritePtrByte = 0x1F * 4;

// §4.7 logical ring context: register state from page 1, value dwords.
inline constexpr uint32_t kLrcStatePage = 1;
inline constexpr uint32_t kCtxRingHead = 0x05;
inline constexpr uint32_t kCtxRingTail = 0x07;
inline constexpr uint32_t kCtxRingStart = 0x09;
inline constexpr uint32_t kCtxRingCtl = 0x0B;
inline constexpr uint32_t kCtxBbAddrUdw = 0x0D;
inline constexpr uint32_t kCtxBbAddr = 0x0F;
inline constexpr uint32_t kCtxBbState = 0x11;
// The ring-context header GVT treats as its own: everything up to PDP0 LDW.
inline constexpr uint32_t kCtxHeaderDwords = 0x34;
// PDPn upper/lower value dwords: PDP3 at 0x25/0x27 down to PDP0 at 0x31/0x33.
constexpr uint32_t ctx_pdp_udw(unsigned n) {
    return 0x31 - 4 * n;
}
constexpr uint32_t ctx_pdp_ldw(unsigned n) {
    return 0x33 - 4 * n;
}

}  // namespace xengt::mediator::exec
