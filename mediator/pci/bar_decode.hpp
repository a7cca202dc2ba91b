// Turns COMMAND and the BAR registers into the windows the vGPU decodes.
//
// The guest moves BARs and toggles decode at will (firmware sizing writes
// all-ones, an OS may reassign resources), so after every such write the
// windows are recomputed, and the hypervisor is told only when they differ.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mediator/base/types.hpp"
#include "mediator/hypervisor_port.hpp"
#include "mediator/pci/config_space.hpp"

namespace xengt::mediator::pci {

// Where each BAR currently decodes; empty when it does not.
struct BarBases {
    std::optional<GuestPhysAddr> bar0;
    std::optional<GuestPhysAddr> bar2;
    std::optional<IoPort> bar4;
};

class BarDecoder {
public:
    explicit BarDecoder(uint64_t bar2_size) : bar2_size_(bar2_size) {}

    // Re-reads COMMAND and the BARs. True if the set of windows changed.
    bool update(const ConfigSpace& cfg);

    // In BAR order: BAR0, BAR2 (memory), BAR4 (I/O), each only if decoded.
    std::span<const TrapWindow> windows() const { return {windows_.data(), count_}; }
    const BarBases& bases() const { return bases_; }

private:
    uint64_t bar2_size_;
    BarBases bases_;
    std::array<TrapWindow, 3> windows_{};
    size_t count_ = 0;
};

}  // namespace xengt::mediator::pci
