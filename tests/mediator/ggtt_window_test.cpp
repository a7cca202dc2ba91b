#include <catch2/catch.hpp>

#include "mediator/mmio/ggtt_window.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {
constexpr uint32_t kGgtt = 0x800000;  // BAR0 offset of the GGTT window
}  // namespace

TEST_CASE("GGTT entries read 0 until written, without allocating", "[ggtt]") {
    mmio::GgttWindow w;
    CHECK(w.read(0, AccessSize::qword()).value == 0);
    CHECK(w.read(mmio::kGgttSize - 8, AccessSize::qword()).value == 0);
    CHECK(w.write(0x1000, AccessSize::qword(), 0) == TrapResult::Handled);
    CHECK(w.chunks_allocated() == 0);
}

TEST_CASE("GGTT storage is allocated per 4 KiB chunk on first write", "[ggtt]") {
    mmio::GgttWindow w;
    w.write(0x0, AccessSize::qword(), 0x12345001);
    w.write(0x8, AccessSize::qword(), 0x12346001);
    CHECK(w.chunks_allocated() == 1);
    w.write(mmio::kGgttSize - 8, AccessSize::qword(), 0x1);
    CHECK(w.chunks_allocated() == 2);
    CHECK(w.read(0x8, AccessSize::qword()).value == 0x12346001);
    CHECK(w.read(mmio::kGgttSize - 8, AccessSize::qword()).value == 1);
}

TEST_CASE("GGTT accesses must be 4 or 8 bytes, aligned, inside the window", "[ggtt]") {
    mmio::GgttWindow w;
    CHECK(w.read(0, AccessSize::word()).result == TrapResult::Rejected);
    CHECK(w.read(4, AccessSize::qword()).result == TrapResult::Rejected);
    CHECK(w.read(2, AccessSize::dword()).value == 0xFFFFFFFF);
    CHECK(w.read(mmio::kGgttSize, AccessSize::dword()).result == TrapResult::Rejected);
    CHECK(w.write(1, AccessSize::byte(), 1) == TrapResult::Rejected);
    CHECK(w.write(0xFFFFFFF8, AccessSize::qword(), 1) == TrapResult::Rejected);
    CHECK(w.chunks_allocated() == 0);
}

TEST_CASE("GGTT PTE written as two 4-byte halves reads back whole", "[ggtt]") {
    DecodedVgpu d;
    const uint32_t entry = kGgtt + 8 * 100;
    CHECK(d.reg_write(entry + 4, 0x00000001) == TrapResult::Handled);  // high half first
    CHECK(d.reg_write(entry, 0x2345F001) == TrapResult::Handled);
    CHECK(d.reg_read(entry, AccessSize::qword()).value == 0x00000001'2345F001);
    CHECK(d.reg_read(entry + 4).value == 1);
    CHECK(d.vgpu.counters().ggtt_writes == 2);
    CHECK(d.vgpu.counters().ggtt_reads == 2);
}

TEST_CASE("GGTT PTE written with one 8-byte store reads back as halves", "[ggtt]") {
    DecodedVgpu d;
    const uint32_t last = kGgtt + mmio::kGgttSize - 8;
    CHECK(d.reg_write(last, 0x0000000F'FFFFF001, AccessSize::qword()) == TrapResult::Handled);
    CHECK(d.reg_read(last).value == 0xFFFFF001);
    CHECK(d.reg_read(last + 4).value == 0xF);
}

TEST_CASE("GGTT window rejects narrow and misaligned accesses", "[ggtt]") {
    DecodedVgpu d;
    CHECK(d.reg_read(kGgtt, AccessSize::word()).result == TrapResult::Rejected);
    CHECK(d.reg_write(kGgtt + 4, 0, AccessSize::qword()) == TrapResult::Rejected);
    CHECK(d.vgpu.counters().rejected == 2);
}
