#include <catch2/catch.hpp>

#include "gpu/model/hw_regs.hpp"
#include "gpu/model/register_table.hpp"
#include "model_rig.hpp"

namespace xengt::gpu::model {
namespace {

using test::masked_disable;
using test::masked_enable;
using test::Rig;

TEST_CASE("Every non-custom table row behaves per its policy from reset", "[gpu][model][regs]") {
    Rig rig;
    for (const RegRow& row : register_table()) {
        for (uint32_t off = row.offset; off < row.offset + row.size; off += 4) {
            INFO(row.name << " at " << std::hex << off << " policy " << to_string(row.policy));
            switch (row.policy) {
                case RegPolicy::Plain: {
                    CHECK(rig.rd(off) == row.reset);
                    for (const uint32_t v : {0xA5A5A5A5u, 0x5A5A5A5Au}) {
                        rig.wr(off, v);
                        CHECK(rig.rd(off) == ((row.reset & row.hw_bits) | (v & ~row.hw_bits)));
                    }
                    break;
                }
                case RegPolicy::ReadOnly:
                    CHECK(rig.rd(off) == row.reset);
                    rig.wr(off, ~row.reset);
                    CHECK(rig.rd(off) == row.reset);
                    break;
                case RegPolicy::Masked: {
                    CHECK(rig.rd(off) == row.reset);
                    rig.wr(off, 0x0000FFFF);  // no write-enables: nothing changes
                    CHECK(rig.rd(off) == row.reset);
                    rig.wr(off, 0xFFFFFFFF);  // all enabled: low half set, hw bits kept
                    CHECK(rig.rd(off) == ((row.reset & row.hw_bits) | (0xFFFFu & ~row.hw_bits)));
                    rig.wr(off, 0xFFFF0000);  // all enabled, all zero
                    CHECK(rig.rd(off) == (row.reset & row.hw_bits));
                    break;
                }
                case RegPolicy::Rw1c:
                    CHECK(rig.rd(off) == row.reset);
                    rig.wr(off, 0xFFFFFFFF);  // writing cannot set bits
                    CHECK(rig.rd(off) == 0);
                    break;
                case RegPolicy::Custom:
                    CHECK(row.read != nullptr);
                    CHECK(row.write != nullptr);
                    break;
            }
        }
    }
}

TEST_CASE("Every table row can be found by each of its bytes", "[gpu][model][regs]") {
    for (const RegRow& row : register_table()) {
        CHECK(find_register(row.offset) == &row);
        CHECK(find_register(row.offset + row.size - 1) == &row);
    }
    CHECK(find_register(hw::kRegisterFileBytes) == nullptr);
}

TEST_CASE("Unlisted registers are plain storage that reads 0 until written", "[gpu][model][regs]") {
    Rig rig;
    constexpr uint32_t kUnlisted = 0x7000;  // a chicken-bit area the model does not interpret
    REQUIRE(find_register(kUnlisted) == nullptr);
    CHECK(rig.rd(kUnlisted) == 0);
    rig.wr(kUnlisted, 0xDEADBEEF);
    CHECK(rig.rd(kUnlisted) == 0xDEADBEEF);
}

TEST_CASE("Masked register writes change only write-enabled low bits and read 0 above",
          "[gpu][model][regs]") {
    Rig rig;
    const uint32_t mode = hw::kEngineBase[0] + hw::kRingModeGen7;
    rig.wr(mode, masked_enable(1u << 15 | 1u << 9));
    CHECK(rig.rd(mode) == (1u << 15 | 1u << 9));
    rig.wr(mode, masked_disable(1u << 9) | 1u << 7);  // bit 7 not enabled: ignored
    CHECK(rig.rd(mode) == 1u << 15);
    rig.wr(mode, 0x00FF);  // no enables at all
    CHECK(rig.rd(mode) == 1u << 15);
    CHECK((rig.rd(mode) & 0xFFFF0000u) == 0);
}

TEST_CASE("RING_MI_MODE reports MODE_IDLE while idle and keeps STOP_RING as written",
          "[gpu][model][regs]") {
    Rig rig;
    for (const uint32_t base : hw::kEngineBase) {
        const uint32_t mi_mode = base + hw::kRingMiMode;
        CHECK(rig.rd(mi_mode) == hw::kModeIdle);
        rig.wr(mi_mode, masked_enable(hw::kStopRing));
        CHECK(rig.rd(mi_mode) == (hw::kStopRing | hw::kModeIdle));
        rig.wr(mi_mode, masked_disable(hw::kStopRing | hw::kModeIdle));  // idle is status
        CHECK(rig.rd(mi_mode) == hw::kModeIdle);
    }
}

TEST_CASE("Forcewake get and put complete the i915 request/ack handshake for each domain",
          "[gpu][model][regs]") {
    Rig rig;
    const std::pair<uint32_t, uint32_t> domains[] = {{hw::kFwGtReq, hw::kFwGtAck},
                                                     {hw::kFwRenderReq, hw::kFwRenderAck},
                                                     {hw::kFwMediaReq, hw::kFwMediaAck}};
    for (const auto& [req, ack] : domains) {
        INFO("request " << std::hex << req);
        // get: wait for ack clear, request, wait for ack set.
        REQUIRE(rig.poll(ack, hw::kForcewakeKernel, 0));
        rig.wr(req, masked_enable(hw::kForcewakeKernel));
        REQUIRE(rig.poll(ack, hw::kForcewakeKernel, hw::kForcewakeKernel));
        CHECK(rig.rd(req) == hw::kForcewakeKernel);  // masked: 0 in bits 31:16
        // Another bit (FORCEWAKE_USER) does not disturb the kernel's.
        rig.wr(req, masked_enable(1u << 1));
        CHECK(rig.rd(ack) == (hw::kForcewakeKernel | 1u << 1));
        // put, then wait for ack clear.
        rig.wr(req, masked_disable(hw::kForcewakeKernel | 1u << 1));
        REQUIRE(rig.poll(ack, hw::kForcewakeKernel, 0));
        CHECK(rig.rd(ack) == 0);
    }
}

TEST_CASE("Fence registers read back all 32 64-bit values", "[gpu][model][regs]") {
    Rig rig;
    for (uint32_t i = 0; i < hw::kFenceCount; ++i) {
        // i915's order: LO = 0, posting read, HI, LO, posting read.
        const uint64_t value =
            (uint64_t{0x1000 + i} << 44) | (uint64_t{i} << 32) | (uint64_t{i} << 12) | 1;
        const uint32_t lo = hw::kFenceBase + 8 * i;
        rig.wr(lo, 0);
        (void)rig.rd(lo);
        rig.wr(lo + 4, static_cast<uint32_t>(value >> 32));
        rig.wr(lo, static_cast<uint32_t>(value));
        (void)rig.rd(lo);
    }
    for (uint32_t i = 0; i < hw::kFenceCount; ++i) {
        const uint64_t value =
            (uint64_t{0x1000 + i} << 44) | (uint64_t{i} << 32) | (uint64_t{i} << 12) | 1;
        CHECK(rig.gpu.read64(MmioOffset{hw::kFenceBase + 8 * i}) == value);
    }
}

TEST_CASE("read64 and write64 are two dword accesses, low dword first", "[gpu][model][regs]") {
    Rig rig;
    rig.gpu.write64(MmioOffset{hw::kFenceBase}, 0x1122334455667788ull);
    CHECK(rig.rd(hw::kFenceBase) == 0x55667788u);
    CHECK(rig.rd(hw::kFenceBase + 4) == 0x11223344u);
}

TEST_CASE("Writing GFX_FLSH_CNTL_GEN6 invalidates the GGTT TLB each time", "[gpu][model][regs]") {
    Rig rig;
    CHECK(rig.gpu.tlb_invalidations() == 0);
    rig.wr(hw::kGfxFlshCntlGen6, 1);
    rig.wr(hw::kGfxFlshCntlGen6, 1);
    CHECK(rig.gpu.tlb_invalidations() == 2);
    CHECK(rig.rd(hw::kGfxFlshCntlGen6) == 1);
}

TEST_CASE("BAR0 between the register file and the GGTT decodes nothing", "[gpu][model][regs]") {
    Rig rig;
    rig.wr(hw::kRegisterFileBytes, 0xFFFFFFFF);
    CHECK(rig.rd(hw::kRegisterFileBytes) == 0);
    CHECK(rig.gpu.unclaimed_mmio() == 2);
}

TEST_CASE("Every custom register row has both handlers", "[gpu][model][regs]") {
    for (const RegRow& row : register_table()) {
        INFO(row.name);
        if (row.policy == RegPolicy::Custom) {
            CHECK(row.read != nullptr);
            CHECK(row.write != nullptr);
        }
    }
}

}  // namespace
}  // namespace xengt::gpu::model
