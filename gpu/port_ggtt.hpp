// The mediator's view of the physical GGTT, over a GPU port.
#pragma once

#include "gpu/port.hpp"
#include "mediator/gtt/physical_ggtt.hpp"

namespace xengt::gpu {

class PortGgtt final : public mediator::PhysicalGgtt {
public:
    explicit PortGgtt(GpuPort& gpu)
        : gpu_(gpu), entries_(gpu.identity().ggtt_bytes >> kPageShift) {}

    uint64_t entries() const override { return entries_; }
    uint64_t read(uint64_t index) const override { return gpu_.read_ggtt(index).raw; }
    void write(uint64_t index, uint64_t pte) override { gpu_.write_ggtt(index, GgttEntry{pte}); }
    // GFX_FLSH_CNTL_GEN6 (intel-gpu.md §2.3): GGTT updates are only promised
    // to the GPU after a write here.
    void flush() override { gpu_.write32(MmioOffset{kGfxFlushCntl}, 1); }

    static constexpr uint32_t kGfxFlushCntl = 0x101008;

private:
    GpuPort& gpu_;
    uint64_t entries_;
};

}  // namespace xengt::gpu
