#include <catch2/catch.hpp>

#include "mediator/mmio/register_file.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {
// A register no table row covers (an i915 scratch/chicken register).
constexpr uint32_t kUntracked = 0x7004;
constexpr uint32_t kRcsMiMode = 0x209C;
constexpr uint32_t kGtIir0 = 0x44308;
constexpr uint32_t kFence0 = 0x100000;
}  // namespace

TEST_CASE("untracked registers round-trip as plain storage and are counted", "[mmio]") {
    DecodedVgpu d;
    CHECK(d.reg_read(kUntracked).value == 0);
    CHECK(d.reg_write(kUntracked, 0xDEADBEEF) == TrapResult::Handled);
    CHECK(d.reg_read(kUntracked).value == 0xDEADBEEF);
    CHECK(d.vgpu.peek_register(MmioOffset{kUntracked}) == 0xDEADBEEF);
    CHECK(d.vgpu.counters().untracked == 3);
}

TEST_CASE("misaligned register accesses are rejected", "[mmio]") {
    DecodedVgpu d;
    d.reg_write(kUntracked, 0x11223344);
    const uint64_t rejected = d.vgpu.counters().rejected;
    TrapRead r = d.reg_read(kUntracked + 1, AccessSize::dword());
    CHECK(r.result == TrapResult::Rejected);
    CHECK(r.value == 0xFFFFFFFF);
    CHECK(d.reg_read(kUntracked + 1, AccessSize::word()).result == TrapResult::Rejected);
    CHECK(d.reg_read(kUntracked, AccessSize::qword()).result == TrapResult::Rejected);  // 0x7004
    CHECK(d.reg_write(kUntracked + 2, 0, AccessSize::dword()) == TrapResult::Rejected);
    CHECK(d.vgpu.peek_register(MmioOffset{kUntracked}) == 0x11223344);
    CHECK(d.vgpu.counters().rejected == rejected + 4);
}

TEST_CASE("sub-dword register accesses work on the containing dword", "[mmio]") {
    DecodedVgpu d;
    d.reg_write(kUntracked, 0x11223344);
    CHECK(d.reg_read(kUntracked + 1, AccessSize::byte()).value == 0x33);
    CHECK(d.reg_read(kUntracked + 2, AccessSize::word()).value == 0x1122);
    d.reg_write(kUntracked + 3, 0xAA, AccessSize::byte());
    CHECK(d.vgpu.peek_register(MmioOffset{kUntracked}) == 0xAA223344);
    d.reg_write(kUntracked, 0xBBCC, AccessSize::word());
    CHECK(d.vgpu.peek_register(MmioOffset{kUntracked}) == 0xAA22BBCC);
}

TEST_CASE("8-byte register accesses split into low then high dword", "[mmio]") {
    DecodedVgpu d;
    CHECK(d.reg_write(kFence0, 0x0123456789ABCDEF, AccessSize::qword()) == TrapResult::Handled);
    CHECK(d.vgpu.peek_register(MmioOffset{kFence0}) == 0x89ABCDEF);
    CHECK(d.vgpu.peek_register(MmioOffset{kFence0 + 4}) == 0x01234567);
    CHECK(d.reg_read(kFence0, AccessSize::qword()).value == 0x0123456789ABCDEF);
    // Each half goes through its own row: read-only FUSE2 keeps its value and
    // rejects the access, the untracked dword above it still takes its half.
    CHECK(d.reg_write(0x9120, 0x0000000500000002, AccessSize::qword()) == TrapResult::Rejected);
    CHECK(d.vgpu.peek_register(MmioOffset{0x9120}) == 0x02800000);
    CHECK(d.vgpu.peek_register(MmioOffset{0x9124}) == 5);
}

TEST_CASE("sub-dword writes to a masked register merge then apply the mask rule", "[mmio]") {
    DecodedVgpu d;
    // Upper half only: enables with the current low bits, so nothing changes.
    d.reg_write(kRcsMiMode + 2, 0xFFFF, AccessSize::word());
    CHECK(d.reg_read(kRcsMiMode).value == 0x200);
    // A full masked write clears MODE_IDLE.
    d.reg_write(kRcsMiMode, 0x02000000);
    CHECK(d.reg_read(kRcsMiMode).value == 0);
}

TEST_CASE("byte writes to an IIR clear only bits in the written byte", "[mmio]") {
    FakeHypervisor hv;
    // Through the register file directly so the test can raise IIR bits.
    GuestLog log("test");
    uint64_t untracked = 0;
    mmio::RegisterFile regs(log, untracked);
    regs.context().vreg(kGtIir0) = 0x00010101;
    CHECK(regs.write(kGtIir0 + 1, AccessSize::byte(), 0x01) == TrapResult::Handled);
    CHECK(regs.peek(kGtIir0) == 0x00010001);
    regs.write(kGtIir0 + 2, AccessSize::word(), 0x0001);
    CHECK(regs.peek(kGtIir0) == 0x00000001);
}

TEST_CASE("peek_register beyond the register file reads all-ones", "[mmio]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(v.peek_register(MmioOffset{0x200000}) == 0xFFFFFFFF);
    CHECK(v.peek_register(MmioOffset{0x209C}) == 0x200);
}

TEST_CASE("the hottest registers are the ones the guest accessed most, named", "[mmio]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(v.hottest_registers(4).empty());
    GuestLog log("test");
    uint64_t untracked = 0;
    mmio::RegisterFile regs(log, untracked);
    for (int i = 0; i < 5; ++i) {
        regs.read(kRcsMiMode, AccessSize::dword());  // polled
    }
    regs.write(0x12340, AccessSize::dword(), 1);  // untracked, twice
    regs.read(0x12340, AccessSize::dword());
    regs.write(kGtIir0, AccessSize::qword(), 0);  // a qword: two dwords, once each
    const auto hot = regs.hottest(3);
    REQUIRE(hot.size() == 3);
    CHECK(hot[0].offset == kRcsMiMode);
    CHECK(hot[0].accesses == 5);
    CHECK(hot[1].offset == 0x12340);
    CHECK(hot[1].accesses == 2);
    CHECK(hot[2].offset == kGtIir0);  // ties: the lower offset first
    CHECK(hot[2].accesses == 1);
    CHECK(regs.hottest(100).size() == 4);
}
