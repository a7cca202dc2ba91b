#include "mediator/reset/engine_reset.hpp"

#include "mediator/irq/virtual_irq.hpp"

namespace xengt::mediator::reset {
namespace {

// Masked registers: bits 31:16 of a write enable bits 15:0 (§10.3).
constexpr unsigned kMaskedEnableShift = 16;

}  // namespace

EngineMask gdrst_engines(uint32_t value) {
    if ((value & kGdrstFull) != 0) {
        return kAllEngines;
    }
    return static_cast<EngineMask>((value >> kGdrstEngineShift) & kAllEngines);
}

std::string engine_names(EngineMask mask) {
    std::string names;
    for (const EngineInfo& e : kEngines) {
        if ((mask & e.engine) != 0) {
            names += names.empty() ? "" : "+";
            names += e.name;
        }
    }
    return names.empty() ? "none" : names;
}

void reset_engines(mmio::RegisterFile& regs, EngineMask mask) {
    for (const EngineInfo& e : kEngines) {
        if ((mask & e.engine) == 0) {
            continue;
        }
        regs.reset_range(e.base, kEngineRegsSize);
        // A reset engine's stale events must not be delivered afterwards.
        irq::clear_iir(regs.context(), e.bank, e.irq_bits);
    }
}

TrapResult gdrst_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                       uint32_t /*byte_mask*/) {
    // The reset is done before the write returns: GDRST reads back 0
    // ("complete") whatever was written.
    ctx.vreg(offset) = 0;
    if ((value & ~kGdrstDomains) != 0) {
        XENGT_GUEST_LOG(ctx.log, LogLevel::Debug, "GEN6_GDRST: undefined bits 0x%08x ignored",
                        value & ~kGdrstDomains);
    }
    const EngineMask mask = gdrst_engines(value);
    if (mask != 0 && ctx.events != nullptr) {
        ctx.events->reset_request(ResetScope::engines(mask));
    }
    return TrapResult::Handled;
}

uint32_t reset_ctl_read(mmio::MmioContext& ctx, uint32_t offset) {
    // A virtual engine has nothing in flight: it is ready once asked.
    const uint32_t requested = ctx.vreg(offset) & kResetCtlRequest;
    return requested != 0 ? requested | kResetCtlReady : 0;
}

TrapResult reset_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                           uint32_t /*byte_mask*/) {
    // Masked, and only the request bit is the guest's; the rest is status.
    const uint32_t enable = (value >> kMaskedEnableShift) & kResetCtlRequest;
    uint32_t& reg = ctx.vreg(offset);
    reg = (reg & ~enable & kResetCtlRequest) | (value & enable);
    return TrapResult::Handled;
}

}  // namespace xengt::mediator::reset
