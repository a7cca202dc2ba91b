#include <catch2/catch.hpp>

#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

uint32_t cfg32(Vgpu& v, uint32_t reg) {
    return static_cast<uint32_t>(v.config_read(reg, AccessSize::dword()).value);
}

// The firmware sizing protocol: save, write all-ones, read the mask, restore.
uint32_t size_bar_dword(Vgpu& v, uint32_t reg) {
    const uint32_t saved = cfg32(v, reg);
    v.config_write(reg, AccessSize::dword(), 0xFFFFFFFF);
    const uint32_t mask = cfg32(v, reg);
    v.config_write(reg, AccessSize::dword(), saved);
    CHECK(cfg32(v, reg) == saved);
    return mask;
}

uint64_t size_mem_bar64(Vgpu& v, uint32_t reg) {
    const uint64_t lo = size_bar_dword(v, reg);
    const uint64_t hi = size_bar_dword(v, reg + 4);
    return ~(((hi << 32) | lo) & ~uint64_t{0xF}) + 1;
}

const TrapWindow kBar0Window{TrapSpace::Mmio, kBar0Base, kBar0Base + MiB(16) - 1};
const TrapWindow kBar2Window{TrapSpace::Mmio, kBar2Base, kBar2Base + MiB(256) - 1};
const TrapWindow kBar4Window{TrapSpace::Pio, kBar4Base, kBar4Base + 63u};

}  // namespace

TEST_CASE("BAR0 sizes as a 16 MiB 64-bit memory BAR", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(size_bar_dword(v, 0x10) == 0xFF000004);
    CHECK(size_bar_dword(v, 0x14) == 0xFFFFFFFF);
    CHECK(size_mem_bar64(v, 0x10) == MiB(16));
}

TEST_CASE("BAR2 sizes as the default 256 MiB prefetchable aperture", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(size_bar_dword(v, 0x18) == 0xF000000C);
    CHECK(size_bar_dword(v, 0x1C) == 0xFFFFFFFF);
    CHECK(size_mem_bar64(v, 0x18) == MiB(256));
}

TEST_CASE("BAR2 sizes an 8 GiB aperture across both dwords", "[pci][bar]") {
    FakeHypervisor hv;
    VgpuConfig config;
    config.aperture_bytes = GiB(8);
    Vgpu v(config, hv);
    CHECK(size_bar_dword(v, 0x18) == 0x0000000C);
    CHECK(size_bar_dword(v, 0x1C) == 0xFFFFFFFE);
    CHECK(size_mem_bar64(v, 0x18) == GiB(8));
}

TEST_CASE("BAR4 sizes as a 64-byte I/O BAR", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(size_bar_dword(v, 0x20) == 0x0000FFC1);
    CHECK((~(size_bar_dword(v, 0x20) & ~3u) & 0xFFFF) + 1 == 64);
}

TEST_CASE("BAR5 sizes to zero", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(size_bar_dword(v, 0x24) == 0);
}

TEST_CASE("no windows are decoded until COMMAND enables decode", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0x10, AccessSize::dword(), kBar0Base);
    v.config_write(0x18, AccessSize::dword(), kBar2Base);
    v.config_write(0x20, AccessSize::dword(), kBar4Base);
    CHECK(hv.window_updates.empty());
    CHECK(v.counters().trap_window_updates == 0);

    v.config_write(0x04, AccessSize::word(), 0x0002);  // memory only
    REQUIRE(hv.window_updates.size() == 1);
    CHECK(hv.current_windows() == std::vector<TrapWindow>{kBar0Window, kBar2Window});

    v.config_write(0x04, AccessSize::word(), 0x0003);  // plus I/O
    REQUIRE(hv.window_updates.size() == 2);
    CHECK(hv.current_windows() == std::vector<TrapWindow>{kBar0Window, kBar2Window, kBar4Window});

    v.config_write(0x04, AccessSize::word(), 0x0001);  // I/O only
    CHECK(hv.current_windows() == std::vector<TrapWindow>{kBar4Window});

    v.config_write(0x04, AccessSize::word(), 0x0000);
    REQUIRE(hv.window_updates.size() == 4);
    CHECK(hv.current_windows().empty());
    CHECK(v.counters().trap_window_updates == 4);
}

TEST_CASE("writes that do not change the windows do not notify the hypervisor", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    program_bars(v);
    const size_t updates = hv.window_updates.size();
    v.config_write(0x04, AccessSize::word(), kCommandDecodeAll | 0x0400);  // INTx disable
    v.config_write(0x10, AccessSize::dword(), kBar0Base);                  // same base
    v.config_write(0x24, AccessSize::dword(), 0xFFFFFFFF);                 // BAR5: RO
    v.config_write(0x3C, AccessSize::byte(), 11);
    CHECK(hv.window_updates.size() == updates);
}

TEST_CASE("moving BAR0 updates the windows once and drops the old one", "[pci][bar]") {
    DecodedVgpu d;
    const size_t before = d.hv.window_updates.size();
    const uint64_t moved = 0x1'2000'0000;  // above 4 GiB: both dwords change
    // A 64-bit BAR is moved with two dword writes; each one that changes the
    // decoded base is reported. Write the high dword first so the
    // intermediate base is also valid.
    d.vgpu.config_write(0x14, AccessSize::dword(), moved >> 32);
    d.vgpu.config_write(0x10, AccessSize::dword(), moved & 0xFFFFFFFF);
    REQUIRE(d.hv.window_updates.size() == before + 2);
    const TrapWindow now{TrapSpace::Mmio, moved, moved + MiB(16) - 1};
    CHECK(d.hv.current_windows() == std::vector<TrapWindow>{now, kBar2Window, kBar4Window});

    // The old address no longer decodes, the new one does.
    CHECK(d.vgpu.mmio_read(GuestPhysAddr{kBar0Base + 0x78000}, AccessSize::dword()).result ==
          TrapResult::Unclaimed);
    CHECK(d.vgpu.mmio_read(GuestPhysAddr{moved + 0x78000}, AccessSize::dword()).value ==
          0x76544776);
}

TEST_CASE("moving BAR0 within the low dword is a single update", "[pci][bar]") {
    DecodedVgpu d;
    const size_t before = d.hv.window_updates.size();
    d.vgpu.config_write(0x10, AccessSize::dword(), 0xD1000000);
    REQUIRE(d.hv.window_updates.size() == before + 1);
    CHECK(d.hv.current_windows().front() ==
          TrapWindow{TrapSpace::Mmio, 0xD1000000, 0xD1000000 + MiB(16) - 1});
}

TEST_CASE("overlapping BARs are all reported", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    program_bars(v, kBar2Base, kBar2Base);  // BAR0 inside BAR2
    const TrapWindow bar0{TrapSpace::Mmio, kBar2Base, kBar2Base + MiB(16) - 1};
    CHECK(hv.current_windows() == std::vector<TrapWindow>{bar0, kBar2Window, kBar4Window});
    // BAR0 takes precedence where they overlap.
    CHECK(v.mmio_read(GuestPhysAddr{kBar2Base + 0x78000}, AccessSize::dword()).value == 0x76544776);
}

TEST_CASE("BARs at zero or beyond the physical address limit do not decode", "[pci][bar]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0x20, AccessSize::dword(), kBar4Base);
    v.config_write(0x04, AccessSize::word(), kCommandDecodeAll);  // BAR0/BAR2 still 0
    CHECK(hv.current_windows() == std::vector<TrapWindow>{kBar4Window});

    // 2^52 is one past the last x86 physical address.
    v.config_write(0x10, AccessSize::dword(), 0);
    v.config_write(0x14, AccessSize::dword(), 0x00100000);
    CHECK(hv.current_windows() == std::vector<TrapWindow>{kBar4Window});
    // Just below the limit works.
    v.config_write(0x14, AccessSize::dword(), 0x000FFFFF);
    v.config_write(0x10, AccessSize::dword(), 0xFF000000);
    const TrapWindow top{TrapSpace::Mmio, 0x000FFFFF'FF000000, 0x000FFFFF'FFFFFFFF};
    CHECK(hv.current_windows() == std::vector<TrapWindow>{top, kBar4Window});
    // Sizing with decode on: the all-ones BAR vanishes, then returns.
    v.config_write(0x14, AccessSize::dword(), 0xFFFFFFFF);
    CHECK(hv.current_windows() == std::vector<TrapWindow>{kBar4Window});
}
