// Virtual interrupts of one vGPU: the Gen8/Gen9 two-level scheme
// (intel-gpu.md §6) kept entirely in the vGPU's vregs.
//
// Level 2 is a set of banks, each ISR/IMR/IIR/IER at base +0/+4/+8/+C.
// Level 1 is GEN8_MASTER_IRQ: bit 31 is the guest's master enable (the only
// stored bit); bits 30:0 are computed on every read from the banks, so they
// cannot go stale. The delivery rule follows §6.2:
//
//  1. An event sets its IIR bits only where IMR is clear. A masked event is
//     not latched: unmasking IMR later does not bring it back.
//  2. A bank is pending when IIR & IER != 0 (per 16-bit half for the GT
//     banks), which sets its level-1 bit(s).
//  3. An event that makes its bank pending while bit 31 is set sends one MSI
//     (events are edges: each such event sends one, as §6.2 describes).
//  4. IIR is write-1-to-clear; GEN8_MASTER_IRQ writes change only bit 31;
//     writes to IMR, IER, IIR and the master re-evaluate: if the interrupt
//     condition (bit 31 set and a level-1 bit set) was false before the
//     write and is true after it, one MSI is sent. So enabling IER for a
//     latched event, or re-enabling the master with something pending (as
//     i915's handler does on exit), delivers it; a write that leaves the
//     condition as it was sends nothing.
//
// IIR is not double-buffered: the doc does not describe hardware queueing a
// second event behind a set IIR bit, so an event whose bit is already set
// merges into it (still sending its MSI per rule 3), and clearing the bit
// clears it; other pending bits stay and keep the condition true.
//
// MSIs go out through MmioContext::events, which injects only if the guest
// enabled MSI in config space; state is kept either way.
#pragma once

#include <cstdint>

#include "mediator/irq/interrupt_event.hpp"
#include "mediator/mmio/mmio_context.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::irq {

// GEN8_MASTER_IRQ (§6.1): bit 31 master enable, bits 30:0 level-1 status.
inline constexpr uint32_t kMasterIrq = 0x44200;
inline constexpr uint32_t kMasterEnable = 1u << 31;

// Register offsets within a bank.
inline constexpr uint32_t kIsr = 0x0;
inline constexpr uint32_t kImr = 0x4;
inline constexpr uint32_t kIir = 0x8;
inline constexpr uint32_t kIer = 0xC;
inline constexpr uint32_t kBankRegs = 0x10;

// IMR after reset: everything masked. The doc does not give reset values;
// all-masked means no event is latched before a driver has programmed the
// bank (i915 writes IMR and IER itself when it installs its handler).
inline constexpr uint32_t kImrReset = 0xFFFFFFFF;

// BAR0 offset of `bank`'s ISR, or 0 for a value outside IrqBank.
uint32_t bank_base(IrqBank bank);

// GEN8_MASTER_IRQ bits 30:0: the level-1 bits of every pending bank.
uint32_t level1_pending(const mmio::MmioContext& ctx);

// The interrupt condition: master enabled and a level-1 bit set.
bool condition(const mmio::MmioContext& ctx);

// Applies rules 1-3 to an event.
IrqOutcome raise(mmio::MmioContext& ctx, InterruptEvent event);

// Drops pending IIR `bits` of `bank` (an engine reset). Clearing can only
// end the condition, so this never sends an MSI.
void clear_iir(mmio::MmioContext& ctx, IrqBank bank, uint32_t bits);

// MMIO table handlers: GEN8_MASTER_IRQ, and the IMR/IIR/IER rows of every
// bank (ISR rows are plain read-only storage).
uint32_t master_read(mmio::MmioContext& ctx, uint32_t offset);
TrapResult master_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t byte_mask);
TrapResult bank_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t byte_mask);

}  // namespace xengt::mediator::irq
