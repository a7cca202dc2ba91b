#include "mediator/display/display_timing.hpp"

#include "mediator/irq/virtual_irq.hpp"

namespace xengt::mediator::display {
namespace {

constexpr uint16_t kBroadwellIds = 0x1600;
constexpr uint16_t kPlatformMask = 0xFF00;

// The pipe whose pipe-A-relative register `base` the access at `offset` hit.
unsigned pipe_of(uint32_t offset, uint32_t base) {
    return (offset - base) / kPipeStride;
}

IrqBank bank_of(unsigned pipe) {
    return static_cast<IrqBank>(static_cast<unsigned>(IrqBank::DePipeA) + pipe);
}

// The plane registers a surface write takes together (§7.1).
ArmedPlane armed_now(const mmio::MmioContext& ctx, unsigned pipe, uint32_t surf) {
    ArmedPlane a;
    a.ctl = ctx.vreg(pipe_reg(kPlaneCtl, pipe));
    a.stride = ctx.vreg(pipe_reg(kPlaneStride, pipe));
    a.pos = ctx.vreg(pipe_reg(kPlanePos, pipe));
    a.size = ctx.vreg(pipe_reg(kPlaneSize, pipe));
    a.offset = ctx.vreg(pipe_reg(kPlaneOffset, pipe));
    a.surf = surf;
    return a;
}

void display_changed(mmio::MmioContext& ctx) {
    if (ctx.events != nullptr) {
        ctx.events->display_changed();
    }
}

}  // namespace

uint32_t flip_done_bit(uint16_t device_id) {
    return (device_id & kPlatformMask) == kBroadwellIds ? kFlipDoneBdw : kFlipDoneSkl;
}

bool pipe_enabled(const mmio::MmioContext& ctx, unsigned pipe) {
    return (ctx.vreg(pipe_reg(kPipeConf, pipe)) & kPipeConfEnable) != 0;
}

uint32_t pipedsl_read(mmio::MmioContext& ctx, uint32_t offset) {
    const unsigned pipe = (offset - kPipeDsl) / kPipeStride;
    uint32_t& line = ctx.vreg(offset);
    if (!pipe_enabled(ctx, pipe)) {
        line = 0;
        return 0;
    }
    const uint32_t vtotal = ((ctx.vreg(pipe_reg(kTransVtotal, pipe)) >> 16) & 0x1FFF) + 1;
    line = (line + 1) % vtotal;
    return line;
}

InterruptEvent take_vblank_event(mmio::MmioContext& ctx, unsigned pipe) {
    uint32_t bits = kVblank;
    const auto mine = static_cast<uint8_t>(1u << pipe);
    if (ctx.display != nullptr && (ctx.display->flips_pending & mine) != 0) {
        ctx.display->flips_pending &= static_cast<uint8_t>(~mine);
        bits |= ctx.display->flip_done;
    }
    return {bank_of(pipe), bits};
}

TrapResult pipeconf_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                          uint32_t /*byte_mask*/) {
    // A virtual pipe starts and stops at once: state is whatever enable says.
    ctx.vreg(offset) =
        (value & kPipeConfEnable) != 0 ? value | kPipeConfState : value & ~kPipeConfState;
    display_changed(ctx);
    return TrapResult::Handled;
}

TrapResult pipesrc_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                         uint32_t /*byte_mask*/) {
    ctx.vreg(offset) = value;
    display_changed(ctx);
    return TrapResult::Handled;
}

TrapResult plane_surf_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                            uint32_t /*byte_mask*/) {
    const unsigned pipe = pipe_of(offset, kPlaneSurf);
    ctx.vreg(offset) = value;
    ctx.vreg(pipe_reg(kSurfLive, pipe)) = value;
    ++ctx.vreg(pipe_reg(kFlipCount, pipe));  // wraps like a hardware counter
    if (ctx.display != nullptr) {
        ctx.display->armed[pipe] = armed_now(ctx, pipe, value);
    }
    if ((ctx.vreg(pipe_reg(kPlaneCtl, pipe)) & kPlaneAsyncFlip) != 0) {
        const uint32_t bit = ctx.display != nullptr ? ctx.display->flip_done : kFlipDoneSkl;
        irq::raise(ctx, {bank_of(pipe), bit});
    } else if (ctx.display != nullptr) {
        ctx.display->flips_pending |= static_cast<uint8_t>(1u << pipe);
    }
    display_changed(ctx);
    return TrapResult::Handled;
}

}  // namespace xengt::mediator::display
