// Helpers for the interrupt and reset tests: a decoded vGPU whose guest has
// programmed (and by default enabled) its MSI capability.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <utility>

#include "mediator/irq/virtual_irq.hpp"
#include "test_support.hpp"

namespace xengt::mediator::test {

inline constexpr uint32_t kMasterIrq = 0x44200;
inline constexpr uint32_t kMasterEnable = 1u << 31;
inline constexpr uint32_t kMsiAddress = 0xFEE01000;
inline constexpr uint16_t kMsiData = 0x0041;

// Bank register offsets.
inline uint32_t isr(IrqBank b) {
    return irq::bank_base(b) + irq::kIsr;
}
inline uint32_t imr(IrqBank b) {
    return irq::bank_base(b) + irq::kImr;
}
inline uint32_t iir(IrqBank b) {
    return irq::bank_base(b) + irq::kIir;
}
inline uint32_t ier(IrqBank b) {
    return irq::bank_base(b) + irq::kIer;
}

struct IrqVgpu : DecodedVgpu {
    explicit IrqVgpu(bool msi_enabled = true, VgpuConfig config = {})
        : DecodedVgpu(std::move(config)) {
        vgpu.config_write(0xB0, AccessSize::dword(), kMsiAddress);
        vgpu.config_write(0xB4, AccessSize::word(), kMsiData);
        set_msi(msi_enabled);
    }

    void set_msi(bool enabled) { vgpu.config_write(0xAE, AccessSize::word(), enabled ? 1 : 0); }

    uint32_t reg(uint32_t offset) {
        const TrapRead r = reg_read(offset);
        REQUIRE(r.result == TrapResult::Handled);
        return static_cast<uint32_t>(r.value);
    }
    void set(uint32_t offset, uint32_t value) {
        REQUIRE(reg_write(offset, value) == TrapResult::Handled);
    }

    // What i915 does when it installs its handler for `bits` of `bank`.
    void enable(IrqBank bank, uint32_t bits) {
        set(imr(bank), ~bits);
        set(ier(bank), bits);
    }
    void master(bool on) { set(kMasterIrq, on ? kMasterEnable : 0); }
};

}  // namespace xengt::mediator::test
