// The Gen8/Gen9 two-level interrupt scheme (intel-gpu.md §6).
//
// Level 2: per-bank IMR/IIR/IER (ISR too, but model events are pulses, so the
// live status they would show is already gone by the time a CPU reads it:
// ISR reads 0). Level 1: GEN8_MASTER_IRQ, whose status bits are derived from
// IIR & IER on every read, so they can never go stale. The MSI is counted in
// ModelState and sent by SoftGpu after unlocking.
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"

namespace xengt::gpu::model {

uint32_t level1_pending(ModelState& s) {
    uint32_t level1 = 0;
    for (unsigned n = 0; n < hw::kGtBanks; ++n) {
        // §6.2 rule 2: a bank is pending when IIR & IER != 0, per 16-bit half.
        const uint32_t pending = s.reg(hw::gt_iir(n)) & s.reg(hw::gt_ier(n));
        if ((pending & 0xFFFFu) != 0) {
            level1 |= hw::kGtLevel1Bits[n][0];
        }
        if ((pending >> 16) != 0) {
            level1 |= hw::kGtLevel1Bits[n][1];
        }
    }
    return level1 | display_level1_pending(s);  // DE banks (display.cpp)
}

bool irq_asserted(ModelState& s) {
    // §6.2 rule 3: master bit 31 set and any level-1 bit set.
    return (s.reg(hw::kMasterIrq) & hw::kMasterIrqControl) != 0 && level1_pending(s) != 0;
}

uint32_t master_irq_read(ModelState& s, uint32_t offset) {
    return (s.reg(offset) & hw::kMasterIrqControl) | level1_pending(s);
}

// The doc is silent on enabling while something is pending. The output is a
// level, so it then signals: otherwise an event arriving while i915's handler
// has the master disabled would never be delivered.
namespace {
void signal_if_newly_asserted(ModelState& s, bool was_asserted) {
    if (!was_asserted && irq_asserted(s)) {
        ++s.msi_pending;
    }
}
}  // namespace

void master_irq_write(ModelState& s, uint32_t offset, uint32_t value) {
    const bool before = irq_asserted(s);
    // §6.2 rule 4: writes to GEN8_MASTER_IRQ only change bit 31.
    s.reg(offset) = value & hw::kMasterIrqControl;
    signal_if_newly_asserted(s, before);
}

void gt_ier_write(ModelState& s, uint32_t offset, uint32_t value) {
    const bool before = irq_asserted(s);
    s.reg(offset) = value;  // §6.2 rule 4: writing IER re-evaluates pending state
    signal_if_newly_asserted(s, before);
}

void raise_gt_event(ModelState& s, unsigned bank, uint32_t bits) {
    if (bank >= hw::kGtBanks) {
        return;
    }
    // §6.2 rule 1: an event sets its IIR bit only if the bit is clear in IMR.
    const uint32_t latched = bits & ~s.reg(hw::gt_imr(bank));
    s.reg(hw::gt_iir(bank)) |= latched;
    // §6.2 rule 3: one MSI per event while the master is enabled and a bank is pending.
    if (latched != 0 && irq_asserted(s)) {
        ++s.msi_pending;
    }
}

}  // namespace xengt::gpu::model
