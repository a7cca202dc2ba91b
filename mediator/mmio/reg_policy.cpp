#include "mediator/mmio/reg_policy.hpp"

namespace xengt::mediator::mmio {
namespace {

// Masked ("mode") registers: the upper half of a write is a per-bit write
// enable for the lower half, and reads return 0 in bits 31:16 (intel-gpu.md §10.3).
constexpr uint32_t kMaskedValueBits = 0xFFFF;
constexpr unsigned kMaskedEnableShift = 16;

}  // namespace

uint32_t policy_read(const MmioRow& row, MmioContext& ctx, uint32_t offset) {
    switch (row.policy) {
        case RegPolicy::Masked:
            return ctx.vreg(offset) & kMaskedValueBits;
        case RegPolicy::Custom:
        case RegPolicy::ReadOnly:  // status a handler computes, or a stored value
            return row.read != nullptr ? row.read(ctx, offset) : ctx.vreg(offset);
        case RegPolicy::Vreg:
        case RegPolicy::RoMask:
        case RegPolicy::Rw1c:
            break;
    }
    return ctx.vreg(offset);
}

TrapResult policy_write(const MmioRow& row, MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t byte_mask) {
    uint32_t& reg = ctx.vreg(offset);
    switch (row.policy) {
        case RegPolicy::Vreg:
            reg = value;
            return TrapResult::Handled;
        case RegPolicy::ReadOnly:
            XENGT_GUEST_LOG(ctx.log, LogLevel::Warn,
                            "write 0x%08x to read-only register %s (0x%05x) dropped", value,
                            row.name, offset);
            return TrapResult::Rejected;
        case RegPolicy::RoMask:
            reg = (reg & row.ro_mask) | (value & ~row.ro_mask);
            return TrapResult::Handled;
        case RegPolicy::Masked: {
            const uint32_t enable = value >> kMaskedEnableShift;
            reg = ((reg & ~enable) | (value & enable)) & kMaskedValueBits;
            return TrapResult::Handled;
        }
        case RegPolicy::Rw1c:
            // Only bytes the guest wrote can clear bits: the merged-in bytes
            // carry the current 1s and must not count as "write 1".
            reg &= ~(value & byte_mask);
            return TrapResult::Handled;
        case RegPolicy::Custom:
            if (row.write != nullptr) {
                return row.write(ctx, offset, value, byte_mask);
            }
            reg = value;
            return TrapResult::Handled;
    }
    return TrapResult::Rejected;
}

}  // namespace xengt::mediator::mmio
