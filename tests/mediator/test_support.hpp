// Helpers shared by the mediator tests: a vGPU with its BARs programmed the
// way firmware would, and the shared log capture.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fake_hypervisor.hpp"
#include "mediator/base/log.hpp"
#include "mediator/vgpu.hpp"
#include "tests/log_capture.hpp"

namespace xengt::mediator::test {

// Naturally aligned bases for BAR0 (16 MiB), BAR2 (256 MiB) and BAR4 (64 B).
inline constexpr uint64_t kBar0Base = 0xF000'0000;
inline constexpr uint64_t kBar2Base = 0xE000'0000;
inline constexpr uint16_t kBar4Base = 0xC000;
// COMMAND: I/O + memory decode + bus master.
inline constexpr uint16_t kCommandDecodeAll = 0x0007;

inline void program_bars(Vgpu& vgpu, uint64_t bar0 = kBar0Base, uint64_t bar2 = kBar2Base,
                         uint16_t bar4 = kBar4Base) {
    vgpu.config_write(0x10, AccessSize::dword(), bar0 & 0xFFFFFFFF);
    vgpu.config_write(0x14, AccessSize::dword(), bar0 >> 32);
    vgpu.config_write(0x18, AccessSize::dword(), bar2 & 0xFFFFFFFF);
    vgpu.config_write(0x1C, AccessSize::dword(), bar2 >> 32);
    vgpu.config_write(0x20, AccessSize::dword(), bar4);
    vgpu.config_write(0x04, AccessSize::word(), kCommandDecodeAll);
}

// A vGPU whose BARs decode at the addresses above.
struct DecodedVgpu {
    explicit DecodedVgpu(VgpuConfig config = {}) : vgpu(std::move(config), hv) {
        program_bars(vgpu);
    }

    TrapRead reg_read(uint32_t offset, AccessSize size = AccessSize::dword()) {
        return vgpu.mmio_read(GuestPhysAddr{kBar0Base + offset}, size);
    }
    TrapResult reg_write(uint32_t offset, uint64_t value, AccessSize size = AccessSize::dword()) {
        return vgpu.mmio_write(GuestPhysAddr{kBar0Base + offset}, size, value);
    }

    FakeHypervisor hv;
    Vgpu vgpu;
};

using xengt::test::LogCapture;

}  // namespace xengt::mediator::test
