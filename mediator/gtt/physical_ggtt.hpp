// Port: the one physical GGTT, as the mediator may touch it.
//
// Entries use the Gen8+ format (intel-gpu.md §2.2): bit 0 present, bits 45:12
// the host frame. The daemon adapts the GPU port to this; tests use memory.
#pragma once

#include <cstdint>

#include "mediator/base/types.hpp"

namespace xengt::mediator {

struct GgttPte {
    static constexpr uint64_t kPresent = 1;
    static constexpr uint64_t kAddressMask = 0x00003ffffffff000ull;  // bits 45:12

    static constexpr bool present(uint64_t pte) { return (pte & kPresent) != 0; }
    static constexpr uint64_t frame_number(uint64_t pte) {
        return (pte & kAddressMask) >> kPageShift;
    }
    // A present entry naming `frame`; the guest's low attribute bits (11:1,
    // cache control) are carried over.
    static constexpr uint64_t make(HostFrame frame, uint64_t guest_pte) {
        return ((frame.value() << kPageShift) & kAddressMask) | (guest_pte & 0xffeu) | kPresent;
    }
};

class PhysicalGgtt {
public:
    virtual ~PhysicalGgtt() = default;
    virtual uint64_t entries() const = 0;  // GGTT size / 4 KiB
    virtual uint64_t read(uint64_t index) const = 0;
    virtual void write(uint64_t index, uint64_t pte) = 0;
    // Make written entries visible to the GPU (GFX_FLSH_CNTL on hardware).
    virtual void flush() = 0;
};

}  // namespace xengt::mediator
