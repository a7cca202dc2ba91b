// A 256-byte PCI configuration space driven by a field table.
//
// Semantics are per byte, so any 1-, 2- or 4-byte access at any offset works
// the same way, aligned or not: each byte carries its value, the bits the
// guest may write and the bits it clears by writing 1. Bytes no field covers
// read 0 and ignore writes.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "mediator/guest_log.hpp"
#include "mediator/pci/config_layout.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::pci {

class ConfigSpace {
public:
    // Fields must lie inside the 256 bytes and not overlap (the layout test
    // checks the vGPU table); a stray field is ignored.
    ConfigSpace(std::span<const ConfigField> fields, GuestLog& log);

    // Guest accesses: 1, 2 or 4 bytes ending within the 256 bytes, else
    // Rejected (reads all-ones).
    TrapRead read(uint32_t reg, AccessSize size);
    TrapResult write(uint32_t reg, AccessSize size, uint64_t value);

    // Every byte back to its field's initial value (a function reset).
    void reset() { value_ = reset_value_; }

    // Host-side view: the little-endian value of `bytes` (1..4) bytes at
    // `reg`, bytes past the end reading 0. No side effects, no logging.
    uint32_t peek(uint32_t reg, unsigned bytes) const;

private:
    static constexpr uint8_t kNoField = 0xFF;

    bool valid_access(uint32_t reg, AccessSize size) const;
    const char* name_at(uint32_t reg) const;

    std::array<uint8_t, kConfigSpaceSize> value_{};
    std::array<uint8_t, kConfigSpaceSize> reset_value_{};
    std::array<uint8_t, kConfigSpaceSize> wmask_{};
    std::array<uint8_t, kConfigSpaceSize> rw1c_{};
    std::array<uint8_t, kConfigSpaceSize> field_{};  // index into names_, or kNoField
    std::array<const char*, kNoField> names_{};
    GuestLog& log_;
};

}  // namespace xengt::mediator::pci
