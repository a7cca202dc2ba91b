// The MSI message the guest programmed into the vGPU's MSI capability.
#pragma once

#include <cstdint>

#include "mediator/pci/config_layout.hpp"
#include "mediator/pci/config_space.hpp"

namespace xengt::mediator::pci {

struct MsiMessage {
    bool enabled;
    uint32_t address;  // 32-bit-address capability: no upper dword
    uint16_t data;
};

inline MsiMessage msi_message(const ConfigSpace& cfg) {
    return {
        (cfg.peek(kMsiControl, 2) & kMsiEnable) != 0,
        cfg.peek(kMsiAddress, 4),
        static_cast<uint16_t>(cfg.peek(kMsiData, 2)),
    };
}

}  // namespace xengt::mediator::pci
