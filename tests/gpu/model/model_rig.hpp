// A SoftGpu over a small machine memory, and bounded polling as a driver does it.
#pragma once

#include "gpu/machine_memory.hpp"
#include "gpu/model/soft_gpu.hpp"

namespace xengt::gpu::model::test {

inline constexpr uint64_t kRigFrames = 64;

struct Rig {
    MemfdMachineMemory memory{kRigFrames * kPageSize};
    SoftGpu gpu{memory};

    uint32_t rd(uint32_t offset) { return gpu.read32(MmioOffset{offset}); }
    void wr(uint32_t offset, uint32_t value) { gpu.write32(MmioOffset{offset}, value); }

    // Polls `offset` until (value & mask) == want, at most `polls` reads, like
    // i915's wait_for_register with a bound instead of a clock.
    bool poll(uint32_t offset, uint32_t mask, uint32_t want, int polls = 1000) {
        for (int i = 0; i < polls; ++i) {
            if ((rd(offset) & mask) == want) {
                return true;
            }
        }
        return false;
    }
};

// _MASKED_BIT_ENABLE / _MASKED_BIT_DISABLE as i915 spells them (§10.3).
constexpr uint32_t masked_enable(uint32_t bits) {
    return bits << 16 | bits;
}
constexpr uint32_t masked_disable(uint32_t bits) {
    return bits << 16;
}

}  // namespace xengt::gpu::model::test
