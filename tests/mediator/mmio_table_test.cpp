#include <catch2/catch.hpp>

#include "mediator/mmio/mmio_table.hpp"
#include "tests/mediator/register_file_rig.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::mmio;

namespace {

using Regs = test::RegisterFileRig;

// Checks one dword of `row` against what its policy promises.
void check_policy(const MmioRow& row, uint32_t off) {
    Regs r;
    const uint32_t init = r.read(off).value & 0xFFFFFFFF;
    switch (row.policy) {
        case RegPolicy::Vreg:
            CHECK(init == row.init);
            CHECK(r.write(off, 0xA5A55A5A) == TrapResult::Handled);
            CHECK(r.read(off).value == 0xA5A55A5A);
            CHECK(r.write(off, 0) == TrapResult::Handled);
            CHECK(r.read(off).value == 0);
            break;
        case RegPolicy::ReadOnly:
            CHECK(init == row.init);
            CHECK(r.write(off, ~row.init) == TrapResult::Rejected);
            CHECK(r.read(off).value == row.init);
            break;
        case RegPolicy::RoMask:
            CHECK(init == row.init);
            r.write(off, 0xFFFFFFFF);
            CHECK(r.read(off).value == ((row.init & row.ro_mask) | ~row.ro_mask));
            r.write(off, 0);
            CHECK(r.read(off).value == (row.init & row.ro_mask));
            break;
        case RegPolicy::Masked:
            CHECK(init == (row.init & 0xFFFF));
            // Without enables nothing changes.
            CHECK(r.write(off, 0x0000FFFF) == TrapResult::Handled);
            CHECK(r.read(off).value == init);
            // Enable everything: low half taken, high half reads 0.
            r.write(off, 0xFFFFFFFF);
            CHECK(r.read(off).value == 0xFFFF);
            // Disable one bit only.
            r.write(off, 0x00040000);
            CHECK(r.read(off).value == 0xFFFB);
            r.write(off, 0xFFFF0000);
            CHECK(r.read(off).value == 0);
            break;
        case RegPolicy::Rw1c:
            CHECK(init == row.init);
            // Writing ones to clear bits never sets any.
            r.set(off, 0);
            r.write(off, 0xFFFFFFFF);
            CHECK(r.read(off).value == 0);
            r.set(off, 0x00010101);
            CHECK(r.write(off, 0x00000100) == TrapResult::Handled);
            CHECK(r.read(off).value == 0x00010001);
            r.write(off, 0);
            CHECK(r.read(off).value == 0x00010001);
            r.write(off, 0xFFFFFFFF);
            CHECK(r.read(off).value == 0);
            break;
        case RegPolicy::Custom:
            // A custom row without handlers should have used another policy.
            CHECK((row.read != nullptr || row.write != nullptr));
            break;
    }
    CHECK(r.untracked == 0);
}

}  // namespace

TEST_CASE("every MMIO table row behaves per its policy", "[mmio]") {
    for (const MmioRow& row : mmio_table()) {
        for (uint32_t off = row.offset; off < row.offset + row.size; off += 4) {
            INFO(row.name << " (" << to_string(row.policy) << ") at 0x" << std::hex << off);
            check_policy(row, off);
            if (row.size > 64 && off == row.offset) {
                off = row.offset + row.size - 8;  // big ranges: first and last dword
            }
        }
    }
}

TEST_CASE("every dword of a row finds that row, and its neighbours do not", "[mmio]") {
    for (const MmioRow& row : mmio_table()) {
        INFO(row.name);
        CHECK(find_mmio_row(row.offset) == &row);
        CHECK(find_mmio_row(row.offset + row.size - 4) == &row);
        CHECK(find_mmio_row(row.offset + 3) == &row);  // any byte of a dword
        const MmioRow* before = find_mmio_row(row.offset - 4);
        const MmioRow* after = find_mmio_row(row.offset + row.size);
        CHECK(before != &row);
        CHECK(after != &row);
    }
}

TEST_CASE("offsets outside the register file have no row", "[mmio]") {
    CHECK(find_mmio_row(kRegisterFileSize) == nullptr);
    CHECK(find_mmio_row(0xFFFFFFFF) == nullptr);
    CHECK(find_mmio_row(0x4) == nullptr);
}

TEST_CASE("the rows this slice promises are present", "[mmio]") {
    struct Expect {
        uint32_t offset;
        RegPolicy policy;
        uint32_t init;
    };
    const Expect expected[] = {
        {0x78000, RegPolicy::Custom, 0},     {0x78FFC, RegPolicy::Custom, 0},
        {0x0209C, RegPolicy::Masked, 0x200}, {0x2209C, RegPolicy::Masked, 0x200},
        {0x1209C, RegPolicy::Masked, 0x200}, {0x1A09C, RegPolicy::Masked, 0x200},
        {0x0229C, RegPolicy::Masked, 0},     {0x2229C, RegPolicy::Masked, 0},
        {0x1229C, RegPolicy::Masked, 0},     {0x1A29C, RegPolicy::Masked, 0},
        {0x023A0, RegPolicy::Masked, 0},     {0x223A0, RegPolicy::Masked, 0},
        {0x123A0, RegPolicy::Masked, 0},     {0x1A3A0, RegPolicy::Masked, 0},
        {0x44308, RegPolicy::Custom, 0},     {0x44318, RegPolicy::Custom, 0},
        {0x44328, RegPolicy::Custom, 0},     {0x44338, RegPolicy::Custom, 0},
        {0x44200, RegPolicy::Custom, 0},     {0x0941C, RegPolicy::Custom, 0},
        {0x44304, RegPolicy::Custom, ~0u},   {0x4430C, RegPolicy::Custom, 0},
        {0x44300, RegPolicy::ReadOnly, 0},   {0xC4000, RegPolicy::ReadOnly, 0},
        {0x444EC, RegPolicy::Custom, 0},     {0x020D0, RegPolicy::Custom, 0},
        {0x101008, RegPolicy::Custom, 0},    {0x100000, RegPolicy::Vreg, 0},
        {0x1000FC, RegPolicy::Vreg, 0},      {0x09120, RegPolicy::ReadOnly, 0x02800000},
    };
    for (const Expect& e : expected) {
        INFO("0x" << std::hex << e.offset);
        const MmioRow* row = find_mmio_row(e.offset);
        REQUIRE(row != nullptr);
        CHECK(row->policy == e.policy);
        CHECK(row->init == e.init);
    }
    CHECK(find_mmio_row(0x100100) == nullptr);  // past the 32 fences
}
