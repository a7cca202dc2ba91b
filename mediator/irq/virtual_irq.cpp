#include "mediator/irq/virtual_irq.hpp"

#include <array>

namespace xengt::mediator {

const char* to_string(IrqOutcome outcome) {
    switch (outcome) {
        case IrqOutcome::Invalid:
            return "invalid";
        case IrqOutcome::Dropped:
            return "dropped";
        case IrqOutcome::Latched:
            return "latched";
        case IrqOutcome::Delivered:
            return "delivered";
        case IrqOutcome::Suppressed:
            return "suppressed";
    }
    return "?";
}

}  // namespace xengt::mediator

namespace xengt::mediator::irq {
namespace {

// One level-2 bank: where it is and which GEN8_MASTER_IRQ bit each 16-bit
// half of IIR & IER lights (§6.1, §6.2 rule 2). Display banks light one bit
// for the whole register; 0 means "no level-1 bit" (GT3's unused upper half).
struct Bank {
    uint32_t base;
    uint32_t level1_low;
    uint32_t level1_high;
};

constexpr uint32_t bit(unsigned n) {
    return 1u << n;
}

// Indexed by IrqBank.
constexpr std::array<Bank, kIrqBankCount> kBanks = {{
    {0x44300, bit(0), bit(1)},    // GT0: RCS, BCS
    {0x44310, bit(2), bit(3)},    // GT1: VCS1, VCS2
    {0x44320, bit(4), bit(5)},    // GT2: GT PM, GuC
    {0x44330, bit(6), 0},         // GT3: VECS
    {0x44400, bit(16), bit(16)},  // DE pipe A
    {0x44410, bit(17), bit(17)},  // DE pipe B
    {0x44420, bit(18), bit(18)},  // DE pipe C
    {0x44440, bit(20), bit(20)},  // DE port
    {0x44460, bit(22), bit(22)},  // DE misc
    {0x444E0, bit(30), bit(30)},  // PCU
    {0xC4000, bit(23), bit(23)},  // PCH (SDE)
}};

constexpr uint32_t kLowHalf = 0x0000FFFF;

const Bank* bank_of(IrqBank bank) {
    const auto i = static_cast<unsigned>(bank);
    return i < kBanks.size() ? &kBanks[i] : nullptr;
}

// The level-1 bits lit by `pending` (IIR & IER) bits of bank `b`.
uint32_t level1_of(const Bank& b, uint32_t pending) {
    return ((pending & kLowHalf) != 0 ? b.level1_low : 0) |
           ((pending & ~kLowHalf) != 0 ? b.level1_high : 0);
}

uint32_t pending_bits(const mmio::MmioContext& ctx, const Bank& b) {
    return ctx.vreg(b.base + kIir) & ctx.vreg(b.base + kIer);
}

bool send_msi(mmio::MmioContext& ctx) {
    return ctx.events != nullptr && ctx.events->raise_msi();
}

// §6.2 rule 4: after a register write, an MSI if the condition just became true.
void reevaluate(mmio::MmioContext& ctx, bool before) {
    if (!before && condition(ctx)) {
        send_msi(ctx);
    }
}

}  // namespace

uint32_t bank_base(IrqBank bank) {
    const Bank* b = bank_of(bank);
    return b != nullptr ? b->base : 0;
}

uint32_t level1_pending(const mmio::MmioContext& ctx) {
    uint32_t level1 = 0;
    for (const Bank& b : kBanks) {
        level1 |= level1_of(b, pending_bits(ctx, b));
    }
    return level1;
}

bool condition(const mmio::MmioContext& ctx) {
    return (ctx.vreg(kMasterIrq) & kMasterEnable) != 0 && level1_pending(ctx) != 0;
}

IrqOutcome raise(mmio::MmioContext& ctx, InterruptEvent event) {
    const Bank* b = bank_of(event.bank);
    if (b == nullptr) {
        return IrqOutcome::Invalid;
    }
    // Rule 1: only bits clear in IMR are latched.
    const uint32_t latched = event.bits & ~ctx.vreg(b->base + kImr);
    if (latched == 0) {
        return IrqOutcome::Dropped;
    }
    ctx.vreg(b->base + kIir) |= latched;
    // Rules 2 and 3: the event must make its bank pending (enabled in IER,
    // in a half that has a level-1 bit), and the master must be enabled.
    const bool pends = level1_of(*b, latched & ctx.vreg(b->base + kIer)) != 0;
    if (!pends || (ctx.vreg(kMasterIrq) & kMasterEnable) == 0) {
        return IrqOutcome::Latched;
    }
    return send_msi(ctx) ? IrqOutcome::Delivered : IrqOutcome::Suppressed;
}

void clear_iir(mmio::MmioContext& ctx, IrqBank bank, uint32_t bits) {
    if (const Bank* b = bank_of(bank)) {
        ctx.vreg(b->base + kIir) &= ~bits;
    }
}

uint32_t master_read(mmio::MmioContext& ctx, uint32_t offset) {
    return (ctx.vreg(offset) & kMasterEnable) | level1_pending(ctx);
}

TrapResult master_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t /*byte_mask*/) {
    const bool before = condition(ctx);
    // Rule 4: only bit 31 is stored; the status bits are computed.
    ctx.vreg(offset) = value & kMasterEnable;
    reevaluate(ctx, before);
    return TrapResult::Handled;
}

TrapResult bank_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t byte_mask) {
    const bool before = condition(ctx);
    uint32_t& reg = ctx.vreg(offset);
    switch (offset % kBankRegs) {
        case kIir:
            // Only bytes the guest wrote can clear bits: merged-in bytes carry
            // the current 1s and must not count as "write 1".
            reg &= ~(value & byte_mask);
            break;
        case kImr:
        case kIer:
            reg = value;
            break;
        default:
            // ISR is status; its rows are read-only and never reach here.
            XENGT_GUEST_LOG(ctx.log, LogLevel::Warn,
                            "write 0x%08x to interrupt status 0x%05x dropped", value, offset);
            return TrapResult::Rejected;
    }
    reevaluate(ctx, before);
    return TrapResult::Handled;
}

}  // namespace xengt::mediator::irq
