// What register handlers may ask of the vGPU that owns them, and the reset
// scopes that requests and Vgpu::reset() speak in.
//
// Handlers are plain functions in a static table shared by every vGPU
// (mmio_table); they see their vGPU only through MmioContext. Most of them
// need nothing beyond the register file, but a few cause effects outside it:
// the interrupt registers may have to send the MSI (which lives in config
// space and goes out through the hypervisor port), and GEN6_GDRST resets
// engine state. VgpuEvents is that narrow way back to the Vgpu; keep it to
// effects a handler cannot achieve on the vregs alone.
#pragma once

#include <cstdint>

namespace xengt::mediator {

// Engines as GEN6_GDRST numbers them (intel-gpu.md §4.2), shifted down by
// one: GDRST bit n + 1 is EngineMask bit n. Bit 0 of GDRST ("full") selects
// them all.
using EngineMask = uint8_t;
inline constexpr EngineMask kEngineRender = 1u << 0;
inline constexpr EngineMask kEngineMedia = 1u << 1;
inline constexpr EngineMask kEngineBlitter = 1u << 2;
inline constexpr EngineMask kEngineVebox = 1u << 3;
inline constexpr EngineMask kAllEngines =
    kEngineRender | kEngineMedia | kEngineBlitter | kEngineVebox;

// What a reset covers.
//  * engines(mask): the virtual registers of the selected engines go back to
//    their table defaults and the engines' pending interrupt bits are
//    dropped; nothing else of the vGPU changes (GEN6_GDRST).
//  * device(): a Function Level Reset: every register, PVINFO, the virtual
//    interrupt state and the whole config space (BARs and COMMAND included)
//    go back to their reset values.
struct ResetScope {
    enum class Kind : uint8_t { Engines, Device };

    Kind kind = Kind::Device;
    EngineMask mask = kAllEngines;  // the engines reset (all, for Device)

    static constexpr ResetScope engines(EngineMask m) {
        return {Kind::Engines, static_cast<EngineMask>(m & kAllEngines)};
    }
    static constexpr ResetScope device() { return {Kind::Device, kAllEngines}; }
};

class VgpuEvents {
public:
    virtual ~VgpuEvents() = default;

    // The vGPU's interrupt condition calls for an MSI. Sends it as the guest
    // programmed its MSI capability, and only if the guest enabled it there.
    // True if a message went out.
    virtual bool raise_msi() = 0;

    // The guest asked for a reset through a register. Runs before the
    // handler returns; the handler's own register may be rewritten by it.
    virtual void reset_request(ResetScope scope) = 0;

    // The guest wrote GFX_FLSH_CNTL: its GGTT updates must now reach the GPU.
    virtual void ggtt_flush() = 0;

    // The guest sent a PVINFO g2v notification (code 2..7) with the root
    // pointers it wrote into pdp[] beforehand. False if refused.
    virtual bool g2v_notify(uint32_t code, const uint64_t (&pdp)[4]) = 0;

    // The guest wrote `value` to the ELSP of engine `engine` (exec::Engine
    // numbering: render, blitter, video, video enhance).
    virtual void elsp_write(unsigned engine, uint32_t value) = 0;

    // A register that decides what the guest's display shows was written
    // (pipe enable or source, a plane surface, PVINFO display_ready). Not
    // pure: a vGPU without a display has nothing to do.
    virtual void display_changed() {}
};

}  // namespace xengt::mediator
