#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {
constexpr uint16_t kIndex = kBar4Base;
constexpr uint16_t kData = kBar4Base + 4;
}  // namespace

TEST_CASE("reserved BAR0 range between 2 and 8 MiB is rejected", "[vgpu]") {
    DecodedVgpu d;
    LogCapture logs;
    TrapRead r = d.reg_read(0x200000, AccessSize::qword());
    CHECK(r.result == TrapResult::Rejected);
    CHECK(r.value == ~uint64_t{0});
    CHECK(d.reg_write(0x7FFFFC, 1) == TrapResult::Rejected);
    CHECK(logs.contains("reserved BAR0"));
}

TEST_CASE("BAR2 aperture accesses are rejected without a GPU behind the vGPU", "[vgpu]") {
    DecodedVgpu d;
    LogCapture logs;
    TrapRead r = d.vgpu.mmio_read(GuestPhysAddr{kBar2Base + 0x1000}, AccessSize::dword());
    CHECK(r.result == TrapResult::Rejected);
    CHECK(r.value == 0xFFFFFFFF);
    CHECK(d.vgpu.mmio_write(GuestPhysAddr{kBar2Base + MiB(256) - 8}, AccessSize::qword(), 0) ==
          TrapResult::Rejected);
    CHECK(logs.contains("no GPU behind this vGPU"));
}

TEST_CASE("addresses outside every BAR are unclaimed and read all-ones", "[vgpu]") {
    DecodedVgpu d;
    // BAR2 is [0xE0000000, 0xF0000000), BAR0 directly above it.
    for (uint64_t a : {uint64_t{0}, kBar2Base - 4, kBar0Base + MiB(16), ~uint64_t{0} - 3}) {
        INFO(std::hex << a);
        TrapRead r = d.vgpu.mmio_read(GuestPhysAddr{a}, AccessSize::dword());
        CHECK(r.result == TrapResult::Unclaimed);
        CHECK(r.value == 0xFFFFFFFF);
        CHECK(d.vgpu.mmio_write(GuestPhysAddr{a}, AccessSize::dword(), 0) == TrapResult::Unclaimed);
    }
    CHECK(d.vgpu.mmio_read(GuestPhysAddr{0}, AccessSize::byte()).value == 0xFF);
    CHECK(d.vgpu.counters().unclaimed == 9);
}

TEST_CASE("MMIO without memory decode is unclaimed", "[vgpu]") {
    DecodedVgpu d;
    d.vgpu.config_write(0x04, AccessSize::word(), 0x0001);  // I/O only
    CHECK(d.reg_read(0x78000).result == TrapResult::Unclaimed);
}

TEST_CASE("an access crossing the end of BAR0 is rejected", "[vgpu]") {
    DecodedVgpu d;
    TrapRead r = d.vgpu.mmio_read(GuestPhysAddr{kBar0Base + MiB(16) - 2}, AccessSize::dword());
    CHECK(r.result == TrapResult::Rejected);
}

TEST_CASE("BAR4 index/data reaches a register", "[vgpu][pio]") {
    DecodedVgpu d;
    CHECK(d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x78000) == TrapResult::Handled);
    CHECK(d.vgpu.pio_read(IoPort{kIndex}, AccessSize::dword()).value == 0x78000);
    CHECK(d.vgpu.pio_read(IoPort{kData}, AccessSize::dword()).value == 0x76544776);
    CHECK(d.vgpu.pv_aware());

    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x7004);
    CHECK(d.vgpu.pio_write(IoPort{kData}, AccessSize::dword(), 0xCAFE) == TrapResult::Handled);
    CHECK(d.vgpu.peek_register(MmioOffset{0x7004}) == 0xCAFE);
}

TEST_CASE("BAR4 index takes byte and word writes into its dword", "[vgpu][pio]") {
    DecodedVgpu d;
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0);
    d.vgpu.pio_write(IoPort{kIndex + 1}, AccessSize::byte(), 0x70);
    d.vgpu.pio_write(IoPort{kIndex + 2}, AccessSize::word(), 0x0000);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::byte(), 0x04);
    CHECK(d.vgpu.pio_read(IoPort{kIndex}, AccessSize::dword()).value == 0x7004);
    CHECK(d.vgpu.pio_read(IoPort{kIndex + 1}, AccessSize::word()).value == 0x0070);
    CHECK(d.vgpu.pio_read(IoPort{kIndex + 3}, AccessSize::byte()).value == 0);
    CHECK(d.vgpu.pio_read(IoPort{kIndex + 3}, AccessSize::word()).result == TrapResult::Rejected);
}

TEST_CASE("BAR4 index with bit 0 set reaches GGTT dwords", "[vgpu][pio]") {
    DecodedVgpu d;
    // Entry 0: low dword via index 0x1, high dword via index 0x5.
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x1);
    CHECK(d.vgpu.pio_write(IoPort{kData}, AccessSize::dword(), 0xABCDE001) == TrapResult::Handled);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x5);
    d.vgpu.pio_write(IoPort{kData}, AccessSize::dword(), 0x2);
    CHECK(d.reg_read(0x800000, AccessSize::qword()).value == 0x00000002'ABCDE001);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x1);
    CHECK(d.vgpu.pio_read(IoPort{kData}, AccessSize::dword()).value == 0xABCDE001);
    CHECK(d.vgpu.counters().ggtt_writes == 2);
}

TEST_CASE("BAR4 data rejects bad indices and odd widths", "[vgpu][pio]") {
    DecodedVgpu d;
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x200000);  // past the registers
    CHECK(d.vgpu.pio_read(IoPort{kData}, AccessSize::dword()).result == TrapResult::Rejected);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x7002);  // misaligned
    CHECK(d.vgpu.pio_write(IoPort{kData}, AccessSize::dword(), 0) == TrapResult::Rejected);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x3);  // GGTT +2: misaligned
    CHECK(d.vgpu.pio_read(IoPort{kData}, AccessSize::dword()).result == TrapResult::Rejected);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x00800001);  // past the GGTT
    CHECK(d.vgpu.pio_read(IoPort{kData}, AccessSize::dword()).result == TrapResult::Rejected);
    d.vgpu.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x7004);
    CHECK(d.vgpu.pio_read(IoPort{kData}, AccessSize::word()).result == TrapResult::Rejected);
    CHECK(d.vgpu.pio_read(IoPort{kData + 1}, AccessSize::byte()).result == TrapResult::Rejected);
    CHECK(d.vgpu.pio_read(IoPort{kBar4Base + 8}, AccessSize::dword()).result ==
          TrapResult::Rejected);
    CHECK(d.vgpu.pio_write(IoPort{kBar4Base + 63}, AccessSize::byte(), 0) == TrapResult::Rejected);
}

TEST_CASE("ports outside BAR4 are unclaimed", "[vgpu][pio]") {
    DecodedVgpu d;
    TrapRead r = d.vgpu.pio_read(IoPort{kBar4Base + 64}, AccessSize::word());
    CHECK(r.result == TrapResult::Unclaimed);
    CHECK(r.value == 0xFFFF);
    CHECK(d.vgpu.pio_write(IoPort{kBar4Base - 1}, AccessSize::byte(), 0) == TrapResult::Unclaimed);
    CHECK(d.vgpu.pio_read(IoPort{0xFFFF}, AccessSize::dword()).result == TrapResult::Unclaimed);
    d.vgpu.config_write(0x04, AccessSize::word(), 0x0002);  // memory only
    CHECK(d.vgpu.pio_read(IoPort{kIndex}, AccessSize::dword()).result == TrapResult::Unclaimed);
}

TEST_CASE("MSI is signalled only when the guest enabled it", "[vgpu][msi]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0xB0, AccessSize::dword(), 0xFEE37000);
    v.config_write(0xB4, AccessSize::word(), 0x0700);
    CHECK_FALSE(v.signal_msi());
    CHECK(hv.msis.empty());

    v.config_write(0xAE, AccessSize::word(), 0x0001);
    CHECK(v.signal_msi());
    REQUIRE(hv.msis.size() == 1);
    CHECK(hv.msis[0].address == 0xFEE37000);
    CHECK(hv.msis[0].data == 0x0700);

    v.config_write(0xAE, AccessSize::word(), 0x0000);
    CHECK_FALSE(v.signal_msi());
    CHECK(hv.msis.size() == 1);
}

TEST_CASE("counters count every kind of access", "[vgpu]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    program_bars(v);  // 6 config writes, 1 window update
    v.config_read(0, AccessSize::dword());
    v.config_read(0x100, AccessSize::dword());                            // rejected
    v.mmio_read(GuestPhysAddr{kBar0Base + 0x7004}, AccessSize::dword());  // untracked
    v.mmio_write(GuestPhysAddr{kBar0Base + 0x800000}, AccessSize::qword(), 1);
    v.mmio_read(GuestPhysAddr{kBar0Base + 0x800000}, AccessSize::qword());
    v.mmio_write(GuestPhysAddr{0x1000}, AccessSize::dword(), 0);  // unclaimed
    v.pio_write(IoPort{kIndex}, AccessSize::dword(), 0x9120);
    v.pio_write(IoPort{kData}, AccessSize::dword(), 0);  // read-only FUSE2: rejected
    v.pio_read(IoPort{kData}, AccessSize::dword());

    const VgpuCounters& c = v.counters();
    CHECK(c.config_reads == 2);
    CHECK(c.config_writes == 6);
    CHECK(c.mmio_reads == 2);
    CHECK(c.mmio_writes == 2);
    CHECK(c.ggtt_reads == 1);
    CHECK(c.ggtt_writes == 1);
    CHECK(c.pio_reads == 1);
    CHECK(c.pio_writes == 2);
    CHECK(c.unclaimed == 1);
    CHECK(c.rejected == 2);
    CHECK(c.untracked == 1);
    CHECK(c.trap_window_updates == 1);
}

TEST_CASE("an invalid aperture size is presented as the next power of two", "[vgpu]") {
    FakeHypervisor hv;
    VgpuConfig config;
    config.aperture_bytes = MiB(200);
    LogCapture logs;
    Vgpu v(config, hv);
    CHECK(v.config().aperture_bytes == MiB(256));
    CHECK(logs.contains("aperture size"));
}

TEST_CASE("TLB invalidation completes at once; ELSP reads 0", "[vgpu][exec]") {
    DecodedVgpu d;
    for (const uint32_t tcr : {0x4260u, 0x4264u, 0x4268u, 0x426Cu, 0x4270u}) {
        INFO("0x" << std::hex << tcr);
        CHECK(d.reg_write(tcr, 1) == TrapResult::Handled);
        // i915 polls for the bit to clear; it must be clear on the first read.
        CHECK(d.reg_read(tcr).value == 0);
    }
    // Without a GPU the vGPU takes ELSP writes and runs nothing.
    CHECK(d.reg_write(0x22230, 0x12345678) == TrapResult::Handled);
    CHECK(d.reg_read(0x22230).value == 0);
    CHECK(d.vgpu.execlist_counters() == nullptr);
}
