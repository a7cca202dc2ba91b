// The guest's view of the GGTT through BAR0 + 8 MiB.
//
// Entries are stored exactly as the guest wrote them and read back unchanged.
// Storage is bytes, so a 64-bit PTE written as two 4-byte halves (in either
// order) simply ends up whole. Chunks are allocated on first non-zero write:
// a guest uses a small slice of the GGTT, and an idle vGPU should not pin
// 8 MiB. Translating entries into host frames (and validating them against
// the vGPU's GM slices) is later work and will hook in here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "mediator/mmio/bar0_layout.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::mmio {

class GgttWindow {
public:
    // `offset` is relative to the start of the GGTT window. Accesses are 4 or
    // 8 bytes, naturally aligned, inside the window; else Rejected.
    TrapRead read(uint32_t offset, AccessSize size) const;
    TrapResult write(uint32_t offset, AccessSize size, uint64_t value);

    size_t chunks_allocated() const { return allocated_; }

    // Every entry back to zero (a device reset), chunks released.
    void clear() {
        for (auto& c : chunks_) {
            c.reset();
        }
        allocated_ = 0;
    }

private:
    // One page of table: 512 entries.
    static constexpr uint32_t kChunkBytes = 4096;
    static constexpr uint32_t kChunks = kGgttSize / kChunkBytes;
    using Chunk = std::array<uint8_t, kChunkBytes>;

    static bool valid_access(uint32_t offset, AccessSize size);

    std::array<std::unique_ptr<Chunk>, kChunks> chunks_;
    size_t allocated_ = 0;
};

}  // namespace xengt::mediator::mmio
