// Interrupt events a vGPU can be asked to raise, and what became of one.
//
// Events name a level-2 bank of the Gen8/Gen9 two-level scheme and the IIR
// bits the event sets there (intel-gpu.md §6.1). Emulation code (the workload
// engine, the virtual display) raises them through Vgpu::raise_interrupt.
#pragma once

#include <cstdint>

namespace xengt::mediator {

// The level-2 banks a Skylake i915 programs (§6.1).
enum class IrqBank : uint8_t {
    Gt0,      // RCS (bits 15:0), BCS (31:16)
    Gt1,      // VCS1 (15:0), VCS2 (31:16)
    Gt2,      // GT PM / RPS (15:0), GuC (31:16)
    Gt3,      // VECS (15:0)
    DePipeA,  // display pipe A
    DePipeB,
    DePipeC,
    DePort,  // AUX channels, port A hotplug
    DeMisc,
    Pcu,
    Pch,  // south display: SDEISR/IMR/IIR/IER (GMBUS, hotplug)
};
inline constexpr unsigned kIrqBankCount = 11;

struct InterruptEvent {
    IrqBank bank;
    uint32_t bits;  // IIR bits the event sets
};

// What raising an event did.
enum class IrqOutcome : uint8_t {
    Invalid,     // no such bank: nothing changed
    Dropped,     // every bit masked in IMR (or none given): nothing latched
    Latched,     // in IIR, but no MSI: not enabled in IER, or master disabled
    Delivered,   // an MSI went to the guest
    Suppressed,  // an MSI was due, but the guest has MSI disabled in config space
};

const char* to_string(IrqOutcome outcome);

// Per-engine bit meanings within an engine's 16-bit half of a GT bank (§6.1).
inline constexpr uint32_t kIrqUserInterrupt = 1u << 0;     // MI_USER_INTERRUPT
inline constexpr uint32_t kIrqCsError = 1u << 3;           // CS master error
inline constexpr uint32_t kIrqFlushNotify = 1u << 4;       // PIPE_CONTROL / MI_FLUSH_DW notify
inline constexpr uint32_t kIrqContextSwitch = 1u << 8;     // CSB written
inline constexpr uint32_t kIrqWaitOnSemaphore = 1u << 11;  // wait-on-semaphore

// Common events, spelled out.
inline constexpr InterruptEvent kRenderUserInterrupt{IrqBank::Gt0, kIrqUserInterrupt};
inline constexpr InterruptEvent kRenderContextSwitch{IrqBank::Gt0, kIrqContextSwitch};
inline constexpr InterruptEvent kBlitterUserInterrupt{IrqBank::Gt0, kIrqUserInterrupt << 16};
inline constexpr InterruptEvent kBlitterContextSwitch{IrqBank::Gt0, kIrqContextSwitch << 16};
inline constexpr InterruptEvent kVideoUserInterrupt{IrqBank::Gt1, kIrqUserInterrupt};
inline constexpr InterruptEvent kVeboxUserInterrupt{IrqBank::Gt3, kIrqUserInterrupt};
// DE pipe bit 0: vblank (§6.1).
inline constexpr InterruptEvent kPipeAVblank{IrqBank::DePipeA, 1u << 0};

}  // namespace xengt::mediator
