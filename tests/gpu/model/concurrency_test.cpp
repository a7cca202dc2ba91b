#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "gpu/model/hw_regs.hpp"
#include "model_rig.hpp"

namespace xengt::gpu::model {
namespace {

using test::masked_enable;
using test::Rig;

TEST_CASE("Two threads accessing registers concurrently leave a deterministic state",
          "[gpu][model][threads]") {
    Rig rig;
    constexpr int kIterations = 20000;
    std::atomic<int> msis{0};
    rig.gpu.set_interrupt_handler([&] { msis.fetch_add(1); });
    rig.wr(hw::gt_imr(0), 0);
    rig.wr(hw::gt_ier(0), 0xFFFFFFFF);
    rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);

    // Thread A: masked writes to bits 0..7 of one register and fence 0..15 stores,
    // plus render interrupts; thread B: bits 8..15 and fences 16..31, plus blitter
    // interrupts. Their bits are disjoint, so the final state is fixed.
    const uint32_t mode = hw::kEngineBase[0] + hw::kRingModeGen7;
    auto worker = [&](unsigned shift, uint32_t first_fence, uint32_t irq_bit) {
        for (int i = 0; i < kIterations; ++i) {
            const uint32_t bit = 1u << (shift + static_cast<unsigned>(i) % 8);
            rig.wr(mode, masked_enable(bit));
            const uint32_t fence =
                hw::kFenceBase + 8 * (first_fence + static_cast<uint32_t>(i) % 16);
            rig.gpu.write64(MmioOffset{fence}, static_cast<uint64_t>(i));
            rig.gpu.raise_gt_interrupt(0, irq_bit);
        }
    };
    std::thread a(worker, 0u, 0u, 1u << 0);
    std::thread b(worker, 8u, 16u, 1u << 16);
    a.join();
    b.join();

    CHECK(rig.rd(mode) == 0xFFFF);
    for (uint32_t f = 0; f < hw::kFenceCount; ++f) {
        // The last value each thread stored in fence f % 16 was at i = kIterations - 16 + f % 16.
        CHECK(rig.gpu.read64(MmioOffset{hw::kFenceBase + 8 * f}) ==
              static_cast<uint64_t>(kIterations - 16 + f % 16));
    }
    CHECK(rig.rd(hw::gt_iir(0)) == (1u << 0 | 1u << 16));
    CHECK(msis.load() == 2 * kIterations);
}

}  // namespace
}  // namespace xengt::gpu::model
