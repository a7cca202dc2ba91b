// Guest-side PCI configuration access through the legacy CF8/CFC mechanism
// (configuration mechanism #1), as firmware and the test guests use it.
#pragma once

#include <cstdint>

#include "tools/xensim/guest.hpp"

namespace xengt::guests {

struct Bdf {
    uint8_t bus = 0;
    uint8_t device = 0;
    uint8_t function = 0;
};

inline uint32_t cf8_address(Bdf d, uint32_t reg) {
    // Bit 31 enables the cycle; the low two bits of the register number come
    // from the data port (0xCFC + reg % 4) instead.
    return 0x80000000u | uint32_t{d.bus} << 16 | uint32_t{d.device} << 11 |
           uint32_t{d.function} << 8 | (reg & 0xfcu);
}

inline uint32_t pci_read(sim::GuestCpu& cpu, Bdf d, uint32_t reg, unsigned size) {
    cpu.out(0xcf8, 4, cf8_address(d, reg));
    return cpu.in(static_cast<uint16_t>(0xcfc + (reg & 3)), size);
}

inline void pci_write(sim::GuestCpu& cpu, Bdf d, uint32_t reg, unsigned size, uint32_t value) {
    cpu.out(0xcf8, 4, cf8_address(d, reg));
    cpu.out(static_cast<uint16_t>(0xcfc + (reg & 3)), size, value);
}

}  // namespace xengt::guests
