#include <catch2/catch.hpp>

#include <vector>

#include "test_driver.hpp"

namespace xengt::gpu::model {
namespace {

using namespace test;

constexpr uint32_t kPitch = 64;  // 16 pixels of 32 bpp per row
constexpr uint32_t kColour = 0xFF112233;
constexpr uint32_t kBackground = 0xEEEEEEEE;

uint32_t xy(uint32_t x, uint32_t y) {
    return y << 16 | x;
}

// Fill (2,1)-(6,4) with a colour, copy it to (8,5) with XY_SRC_COPY_BLT and
// to (1,8) with XY_FAST_COPY_BLT, all within one 16x16 surface at `surf`;
// then store `marker` at `store_at` and raise a user interrupt.
std::vector<uint32_t> blit_batch(uint64_t surf, uint32_t store_dw0, uint64_t store_at) {
    const uint32_t lo = static_cast<uint32_t>(surf), hi = static_cast<uint32_t>(surf >> 32);
    return {kXyColorBlt32, kBr13Depth32 | 0xF0u << 16 | kPitch, xy(2, 1), xy(6, 4), lo, hi, kColour,
            kXySrcCopyBlt32, kBr13Depth32 | 0xCCu << 16 | kPitch, xy(8, 5), xy(12, 8), lo, hi,
            xy(2, 1), kPitch, lo, hi, kXyFastCopyBlt, kFastDepth32 | kPitch, xy(1, 8), xy(5, 11),
            lo, hi, xy(2, 1), kPitch, lo, hi,
            // A degenerate rectangle (x2 <= x1) draws nothing.
            kXyColorBlt32, kBr13Depth32 | 0xF0u << 16 | kPitch, xy(9, 0), xy(9, 3), lo, hi, 1,
            store_dw0, static_cast<uint32_t>(store_at), static_cast<uint32_t>(store_at >> 32),
            0x600D, kMiUserInterrupt, kMiBatchBufferEnd};
}

bool inside(uint32_t x, uint32_t y, uint32_t x1, uint32_t y1, uint32_t x2, uint32_t y2) {
    return x >= x1 && x < x2 && y >= y1 && y < y2;
}

void fill_background(Driver& d, uint64_t phys) {
    for (uint32_t i = 0; i < 16 * 16; ++i) {
        d.poke(phys + i * 4, kBackground);
    }
}

void check_pixels(Driver& d, uint64_t phys) {
    for (uint32_t y = 0; y < 16; ++y) {
        for (uint32_t x = 0; x < 16; ++x) {
            const bool painted =
                inside(x, y, 2, 1, 6, 4) || inside(x, y, 8, 5, 12, 8) || inside(x, y, 1, 8, 5, 11);
            INFO("pixel " << x << "," << y);
            CHECK(d.peek(phys + y * kPitch + x * 4) == (painted ? kColour : kBackground));
        }
    }
}

void poke_all(Driver& d, uint64_t phys, const std::vector<uint32_t>& dws) {
    for (size_t i = 0; i < dws.size(); ++i) {
        d.poke(phys + 4 * i, dws[i]);
    }
}

TEST_CASE("BCS fills and copies rectangles through GGTT addresses", "[gpu][model][blitter]") {
    Driver d;
    d.enable_engine(kBcs);
    Context ctx = d.make_context(kBcs, 7);
    const uint32_t surf = d.alloc(1), batch = d.alloc(1), mem = d.alloc(1);
    fill_background(d, surf);
    poke_all(d, batch, blit_batch(surf, kMiStoreDataImmGgtt, mem));
    d.emit(ctx, {kMiBatchBufferStart, batch, 0});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqUser));
    REQUIRE(d.wait_idle(kBcs));
    CHECK(d.peek(mem) == 0x600D);
    check_pixels(d, surf);
}

TEST_CASE("A blitter command on RCS is an engine error", "[gpu][model][blitter][errors]") {
    Driver d;
    d.enable_engine(kRcs);
    Context ctx = d.make_context(kRcs, 7);
    const uint32_t surf = d.alloc(1);
    d.emit(ctx,
           {kXyColorBlt32, kBr13Depth32 | 0xF0u << 16 | kPitch, xy(0, 0), xy(1, 1), surf, 0, 1});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqCsError));
    CHECK(d.gpu.engine_last_error(Engine::Render) == EngineError::WrongEngine);
    CHECK(d.peek(surf) == 0);
}

// A 4-level PPGTT (§3.1) built in machine memory: each mapped VA page gets
// its own PML4E/PDPE/PDE/PTE chain as needed.
struct Ppgtt {
    Driver& d;
    uint64_t pml4 = d.alloc_frames(1);
    uint64_t table(uint64_t parent, unsigned index) {
        const uint64_t at = parent + index * 8;
        const uint32_t lo = d.peek(at);
        if ((lo & 1) != 0) {
            return (uint64_t{d.peek(at + 4)} << 32 | lo) & hw::kPteAddrMask;
        }
        const uint64_t t = d.alloc_frames(1);
        d.poke64(at, t | 3);  // present + RW (§3.2)
        return t;
    }
    void map(uint64_t va, uint64_t phys) {
        const uint64_t pdp = table(pml4, (va >> 39) & 0x1FF);
        const uint64_t pd = table(pdp, (va >> 30) & 0x1FF);
        const uint64_t pt = table(pd, (va >> 21) & 0x1FF);
        d.poke64(pt + ((va >> 12) & 0x1FF) * 8, phys | 3);
    }
};

TEST_CASE("A 4-level PPGTT context runs a PPGTT batch with a store and blits",
          "[gpu][model][ppgtt]") {
    Driver d;
    d.enable_engine(kBcs);
    Ppgtt pt{d};
    // High, sparse VAs so that every level's index matters.
    constexpr uint64_t kBatchVa = 0x0000'7F12'3456'7000;
    constexpr uint64_t kSurfVa = 0x0000'0040'8020'1000;
    constexpr uint64_t kMemVa = 0x0000'0040'8020'3000;
    const uint64_t batch = d.alloc_frames(1), surf = d.alloc_frames(1), mem = d.alloc_frames(1);
    pt.map(kBatchVa, batch);
    pt.map(kSurfVa, surf);
    pt.map(kMemVa, mem);
    fill_background(d, surf);
    poke_all(d, batch, blit_batch(kSurfVa, kMiStoreDataImmPpgtt, kMemVa));
    Context ctx = d.make_context(kBcs, 11, hw::kDescLegacy64, pt.pml4);
    d.emit(ctx, {kMiBatchBufferStart | kBbsPpgtt, static_cast<uint32_t>(kBatchVa),
                 static_cast<uint32_t>(kBatchVa >> 32)});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqUser));
    REQUIRE(d.wait_idle(kBcs));
    CHECK(d.peek(mem) == 0x600D);
    check_pixels(d, surf);
    CHECK(d.gpu.engine_errors(Engine::Blitter) == 0);
}

TEST_CASE("A non-present PPGTT entry is a page fault and an engine error", "[gpu][model][ppgtt]") {
    Driver d;
    d.enable_engine(kRcs);
    Ppgtt pt{d};
    constexpr uint64_t kBatchVa = 0x1000'0000;
    const uint64_t batch = d.alloc_frames(1), mem = d.alloc_frames(1);
    pt.map(kBatchVa, batch);
    pt.map(0x2000'0000, mem);
    // The first store hits a VA whose PTE is absent; the second must not run.
    poke_all(d, batch,
             {kMiStoreDataImmPpgtt, 0x2000'1000, 0, 1, kMiStoreDataImmPpgtt, 0x2000'0000, 0, 2,
              kMiBatchBufferEnd});
    Context ctx = d.make_context(kRcs, 12, hw::kDescLegacy64, pt.pml4);
    d.emit(ctx, {kMiBatchBufferStart | kBbsPpgtt, static_cast<uint32_t>(kBatchVa), 0});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqCsError));
    CHECK(d.gpu.engine_last_error(Engine::Render) == EngineError::PageFault);
    CHECK(d.gpu.engine_halted(Engine::Render));
    CHECK(d.peek(mem) == 0);
}

TEST_CASE("A non-privileged batch may not reach the GGTT or privileged registers",
          "[gpu][model][ppgtt][privilege]") {
    Driver d;
    d.enable_engine(kRcs);
    Ppgtt pt{d};
    constexpr uint64_t kBatchVa = 0x1000'0000;
    const uint32_t ggtt_target = d.alloc(1);
    const uint64_t batch = d.alloc_frames(1);
    pt.map(kBatchVa, batch);
    // Each form a PPGTT batch might use to escape; the engine must stop at
    // the first command with a privilege violation and change nothing.
    const std::vector<std::vector<uint32_t>> escapes = {
        {kMiStoreDataImmGgtt, ggtt_target, 0, 0xBAD, kMiBatchBufferEnd},
        {kMiLoadRegisterImm1, hw::kMasterIrq, 0, kMiNoop, kMiBatchBufferEnd},
        {kMiBatchBufferStart, ggtt_target, 0, kMiBatchBufferEnd},
    };
    uint32_t ctx_id = 20;
    for (const auto& escape : escapes) {
        INFO("escape " << ctx_id - 20);
        poke_all(d, batch, escape);
        Context ctx = d.make_context(kRcs, ctx_id++, hw::kDescLegacy64, pt.pml4);
        d.emit(ctx, {kMiBatchBufferStart | kBbsPpgtt, static_cast<uint32_t>(kBatchVa), 0});
        d.clear_seen();
        d.submit(ctx);
        REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqCsError));
        CHECK(d.gpu.engine_last_error(Engine::Render) == EngineError::Privilege);
        CHECK(d.peek(ggtt_target) == 0);
        REQUIRE(d.gpu.reset_engine(Engine::Render));
        d.enable_engine(kRcs);
    }
    // The same registers stay reachable for the engine's own GPRs.
    poke_all(d, batch,
             {kMiLoadRegisterImm1, hw::kEngineBase[kRcs] + 0x600, 42, kMiNoop, kMiUserInterrupt,
              kMiBatchBufferEnd});
    Context ok = d.make_context(kRcs, 30, hw::kDescLegacy64, pt.pml4);
    d.emit(ok, {kMiBatchBufferStart | kBbsPpgtt, static_cast<uint32_t>(kBatchVa), 0});
    d.clear_seen();
    d.submit(ok);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqUser));
    CHECK(d.erd(kRcs, 0x600) == 42);
}

}  // namespace
}  // namespace xengt::gpu::model
