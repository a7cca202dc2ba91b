// Virtual display timing of a vGPU (intel-gpu.md §7.4): pipe enable state,
// the per-pipe frame and flip counters, primary-plane flips and the vblank
// and flip-done events they lead to.
//
// Everything guest-visible lives in vregs; the only other state is which
// pipes owe a flip-done at their next vblank and the plane registers each
// pipe's last surface write armed (DisplayState, owned by the register file
// and cleared with it). There is no timer here: whoever owns the vGPU calls
// Vgpu::vblank() at the refresh rate (see vgpu.hpp).
#pragma once

#include <array>
#include <cstdint>

#include "mediator/display/dp_monitor.hpp"
#include "mediator/irq/interrupt_event.hpp"
#include "mediator/mmio/mmio_context.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::display {

// Pipes A, B, C; pipe B's registers are pipe A's + 0x1000, C's + 0x2000 (§7).
inline constexpr unsigned kPipeCount = 3;
inline constexpr uint32_t kPipeStride = 0x1000;

// Pipe A offsets (§7.1, §7.2).
inline constexpr uint32_t kTransVtotal = 0x6000C;  // TRANS_VTOTAL: (vtotal - 1) in 28:16
inline constexpr uint32_t kPipeSrc = 0x6001C;      // PIPESRC
inline constexpr uint32_t kPipeDsl = 0x70000;      // PIPEDSL: current scan line in 19:0
inline constexpr uint32_t kPipeConf = 0x70008;     // PIPECONF / TRANSCONF
inline constexpr uint32_t kFrmCount = 0x70040;     // PIPE_FRMCOUNT_G4X
inline constexpr uint32_t kFlipCount = 0x70044;    // PIPE_FLIPCOUNT_G4X
inline constexpr uint32_t kPlaneCtl = 0x70180;     // DSPCNTR (BDW) / PLANE_CTL_1 (SKL)
inline constexpr uint32_t kPlaneStride = 0x70188;  // DSPSTRIDE / PLANE_STRIDE
inline constexpr uint32_t kPlanePos = 0x7018C;     // PLANE_POS (SKL)
inline constexpr uint32_t kPlaneSize = 0x70190;    // PLANE_SIZE (SKL)
inline constexpr uint32_t kPlaneSurf = 0x7019C;    // DSPSURF / PLANE_SURF
inline constexpr uint32_t kPlaneOffset = 0x701A4;  // DSPOFFSET / PLANE_OFFSET
inline constexpr uint32_t kSurfLive = 0x701AC;     // DSPSURFLIVE / PLANE_SURFLIVE

inline constexpr uint32_t kPipeConfEnable = 1u << 31;
inline constexpr uint32_t kPipeConfState = 1u << 30;  // read-only: the pipe runs
inline constexpr uint32_t kPlaneAsyncFlip = 1u << 9;  // DSPCNTR and PLANE_CTL alike

// DE pipe IIR bits (§6.1).
inline constexpr uint32_t kVblank = 1u << 0;
inline constexpr uint32_t kFlipDoneBdw = 1u << 4;  // primary flip done
inline constexpr uint32_t kFlipDoneSkl = 1u << 3;  // plane 1 flip done

constexpr uint32_t pipe_reg(uint32_t pipe_a_offset, unsigned pipe) {
    return pipe_a_offset + pipe * kPipeStride;
}

// The primary flip-done bit of the platform a PCI device id names:
// Broadwell (0x16xx) or, for anything else, Skylake (§1.1, §6.1).
uint32_t flip_done_bit(uint16_t device_id);

// A pipe's primary-plane registers as its last surface write armed them.
// The hardware double-buffers these and takes them together when the surface
// register is written (§7.1), so a half-written update is never scanned out.
struct ArmedPlane {
    uint32_t ctl = 0;
    uint32_t stride = 0;
    uint32_t pos = 0;
    uint32_t size = 0;
    uint32_t offset = 0;
    uint32_t surf = 0;
    friend bool operator==(const ArmedPlane&, const ArmedPlane&) = default;
};

struct DisplayState {
    uint32_t flip_done = kFlipDoneSkl;  // the platform's bit; survives resets
    uint8_t flips_pending = 0;          // bit p: pipe p owes a flip-done
    std::array<ArmedPlane, kPipeCount> armed{};
    // The virtual monitor on DDI D (display_ports.hpp). Whether it is plugged
    // in is the vGPU's configuration and survives resets; its link state
    // does not.
    DpMonitor monitor;
    // A headless vGPU (VgpuConfig::display false) has its pipes fused off
    // in SKL_DFSM, as some parts ship: i915 then never probes its ports.
    bool pipes_fused_off = false;
};

bool pipe_enabled(const mmio::MmioContext& ctx, unsigned pipe);

// PIPEDSL: a running pipe's scan line moves on; drivers poll it to see that
// a pipe started and to keep plane updates out of the vblank. A virtual pipe
// has no beam, so each read finds it one line further, wrapping at the
// pipe's vtotal: every poller sees it move and pass through the vblank. A
// stopped pipe reads 0. (A read-only row: writes are dropped.)
uint32_t pipedsl_read(mmio::MmioContext& ctx, uint32_t offset);

// What pipe `pipe`'s next vblank raises: the vblank bit, plus flip-done if a
// synchronous flip is pending (now taken). Both go in one event, so a frame
// that completes a flip costs the guest one MSI, not two.
InterruptEvent take_vblank_event(mmio::MmioContext& ctx, unsigned pipe);

// MMIO table handlers. PIPECONF: bit 30 follows bit 31. Plane surface: the
// value goes to the surface and SURFLIVE registers, FLIPCOUNT counts it, the
// plane registers are armed (DisplayState::armed), and flip-done is raised
// now (async flip set in the plane control) or at the pipe's next vblank.
// PIPESRC: plain storage. Each of them tells the vGPU that what its display
// shows may have changed (VgpuEvents::display_changed).
TrapResult pipeconf_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                          uint32_t byte_mask);
TrapResult plane_surf_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                            uint32_t byte_mask);
TrapResult pipesrc_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                         uint32_t byte_mask);

}  // namespace xengt::mediator::display
