#include <catch2/catch.hpp>

#include <array>
#include <memory>

#include "mediator/mmio/reg_policy.hpp"
#include "mediator/pvinfo.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::mmio;

namespace {

// Policies exercised on synthetic rows, so that ones no table row uses yet
// (RoMask) and handler plumbing are covered too.
struct Bench {
    std::unique_ptr<uint32_t[]> vregs = std::make_unique<uint32_t[]>(kRegisterDwords);
    PvInfoState pvinfo;
    GuestLog log{"test"};
    MmioContext ctx{std::span<uint32_t, kRegisterDwords>(vregs.get(), kRegisterDwords), pvinfo,
                    log};
};

constexpr uint32_t kOff = 0x1000;

MmioRow row_with(RegPolicy p, uint32_t ro_mask = 0) {
    return {kOff, 4, "TEST", p, 0, ro_mask, nullptr, nullptr};
}

uint32_t g_last_write = 0;
uint32_t g_last_mask = 0;
uint32_t read_42(MmioContext&, uint32_t) {
    return 42;
}
TrapResult record_write(MmioContext&, uint32_t, uint32_t value, uint32_t byte_mask) {
    g_last_write = value;
    g_last_mask = byte_mask;
    return TrapResult::Handled;
}

}  // namespace

TEST_CASE("RoMask keeps the masked bits and takes the others", "[mmio]") {
    Bench b;
    const MmioRow row = row_with(RegPolicy::RoMask, 0xFF00FF00);
    b.ctx.vreg(kOff) = 0x12345678;
    CHECK(policy_write(row, b.ctx, kOff, 0xFFFFFFFF, ~0u) == TrapResult::Handled);
    CHECK(policy_read(row, b.ctx, kOff) == 0x12FF56FF);
    policy_write(row, b.ctx, kOff, 0, ~0u);
    CHECK(policy_read(row, b.ctx, kOff) == 0x12005600);
}

TEST_CASE("Rw1c clears only bits of bytes the guest wrote", "[mmio]") {
    Bench b;
    const MmioRow row = row_with(RegPolicy::Rw1c);
    b.ctx.vreg(kOff) = 0x01010101;
    // A byte write to byte 1 arrives merged with the current value.
    policy_write(row, b.ctx, kOff, 0x01010101, 0x0000FF00);
    CHECK(policy_read(row, b.ctx, kOff) == 0x01010001);
}

TEST_CASE("Masked ignores low bits without their enable", "[mmio]") {
    Bench b;
    const MmioRow row = row_with(RegPolicy::Masked);
    policy_write(row, b.ctx, kOff, 0x00010003, ~0u);
    CHECK(policy_read(row, b.ctx, kOff) == 0x0001);
}

TEST_CASE("ReadOnly drops the write and names the register", "[mmio]") {
    Bench b;
    const MmioRow row = row_with(RegPolicy::ReadOnly);
    b.ctx.vreg(kOff) = 7;
    CHECK(policy_write(row, b.ctx, kOff, 0, ~0u) == TrapResult::Rejected);
    CHECK(policy_read(row, b.ctx, kOff) == 7);
}

TEST_CASE("Custom rows call their handlers, or act as storage without them", "[mmio]") {
    Bench b;
    const MmioRow with{kOff, 4, "TEST", RegPolicy::Custom, 0, 0, read_42, record_write};
    CHECK(policy_read(with, b.ctx, kOff) == 42);
    CHECK(policy_write(with, b.ctx, kOff, 0xABCD, 0xFF) == TrapResult::Handled);
    CHECK(g_last_write == 0xABCD);
    CHECK(g_last_mask == 0xFF);
    CHECK(b.ctx.vreg(kOff) == 0);  // the handler owns storage

    const MmioRow without = row_with(RegPolicy::Custom);
    policy_write(without, b.ctx, kOff, 5, ~0u);
    CHECK(policy_read(without, b.ctx, kOff) == 5);
}
