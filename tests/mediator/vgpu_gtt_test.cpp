// The vGPU's GGTT and aperture as a guest reaches them through its BARs.
#include <catch2/catch.hpp>
#include <cstring>

#include "fake_gpu_memory.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/isolation.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint32_t kDom = 3;
constexpr uint64_t kGgttWindow = kBar0Base + MiB(8);

// A vGPU with the default slices (64 MiB mappable at 128 MiB, 384 MiB hidden
// at 512 MiB) over fake GPU memory, BARs decoded. Guest RAM is 1 MiB.
struct GpuVgpu {
    explicit GpuVgpu(GgttStrategy strategy = GgttStrategy::Trap, FakeBacking* backing = nullptr)
        : scratch(world.allocate()->frame) {
        hv.backing = backing;
        VgpuConfig c;
        c.name = "dom3";
        c.ggtt_strategy = strategy;
        vgpu.emplace(c, hv, GpuLink{&pins, &ggtt, &world, scratch});
        program_bars(*vgpu);
    }
    TrapResult pte_write(uint64_t index, uint64_t value, AccessSize size = AccessSize::qword(),
                         uint64_t byte = 0) {
        return vgpu->mmio_write(GuestPhysAddr{kGgttWindow + index * 8 + byte}, size, value);
    }
    uint64_t pte_read(uint64_t index) {
        return vgpu->mmio_read(GuestPhysAddr{kGgttWindow + index * 8}, AccessSize::qword()).value;
    }
    std::optional<GuestFrame> host_maps(uint64_t index) const {
        const uint64_t pte = ggtt.table[index];
        const FrameOwner o = world.owner(HostFrame{GgttPte::frame_number(pte)});
        if (o.kind != FrameOwner::Kind::Guest || o.guest != kDom) {
            return std::nullopt;
        }
        return o.gfn;
    }

    FakeHypervisor hv;
    FakeGgtt ggtt;
    FakeFrameWorld world;
    FakePins pins{world, kDom, 256};
    HostFrame scratch;
    std::optional<Vgpu> vgpu;
};

constexpr uint64_t kLowFirst = MiB(128) >> 12;
constexpr uint64_t kHighFirst = MiB(512) >> 12;

}  // namespace

TEST_CASE("trapped GGTT writes are translated into the physical GGTT", "[vgpu][ggtt]") {
    GpuVgpu v;
    CHECK(v.vgpu->ggtt_strategy() == GgttStrategy::Trap);
    REQUIRE(v.pte_write(kLowFirst + 1, 0x5003) == TrapResult::Handled);
    CHECK(v.host_maps(kLowFirst + 1) == GuestFrame{5});
    CHECK(v.pte_read(kLowFirst + 1) == 0x5003);

    SECTION("4-byte halves combine, in either order") {
        REQUIRE(v.pte_write(kHighFirst, 0, AccessSize::dword(), 4) == TrapResult::Handled);
        REQUIRE(v.pte_write(kHighFirst, 0x7001, AccessSize::dword()) == TrapResult::Handled);
        CHECK(v.host_maps(kHighFirst) == GuestFrame{7});
        REQUIRE(v.pte_write(kHighFirst + 1, 0x8001, AccessSize::dword()) == TrapResult::Handled);
        REQUIRE(v.pte_write(kHighFirst + 1, 0, AccessSize::dword(), 4) == TrapResult::Handled);
        CHECK(v.host_maps(kHighFirst + 1) == GuestFrame{8});
    }
    SECTION("a write outside the partition is dropped and reads back empty") {
        REQUIRE(v.pte_write(kLowFirst - 1, 0x5001) == TrapResult::Handled);
        CHECK(v.ggtt.table[kLowFirst - 1] == 0);
        CHECK(v.pte_read(kLowFirst - 1) == 0);
        CHECK(v.vgpu->ggtt_shadow()->counters().outside_partition == 1);
    }
    SECTION("the BAR4 index/data pair reaches the same entries") {
        const uint16_t io = kBar4Base;
        const uint32_t offset = static_cast<uint32_t>((kLowFirst + 2) * 8);
        v.vgpu->pio_write(IoPort{io}, AccessSize::dword(), offset | 1);
        v.vgpu->pio_write(IoPort{uint16_t(io + 4)}, AccessSize::dword(), 0x9001);
        CHECK(v.host_maps(kLowFirst + 2) == GuestFrame{9});
    }
}

TEST_CASE("the aperture reaches the guest frame its GGTT entry maps", "[vgpu][aperture]") {
    GpuVgpu v;
    v.pte_write(kLowFirst + 4, 0x20001);  // aperture page at 128 MiB + 16 KiB -> gfn 0x20
    const uint64_t at = kBar2Base + MiB(128) + 4 * kPageSize;
    REQUIRE(v.vgpu->mmio_write(GuestPhysAddr{at + 8}, AccessSize::qword(), 0x1122334455667788) ==
            TrapResult::Handled);
    uint64_t in_ram = 0;
    std::memcpy(&in_ram, v.hv.ram.data() + 0x20 * kPageSize + 8, 8);
    CHECK(in_ram == 0x1122334455667788);
    CHECK(v.vgpu->mmio_read(GuestPhysAddr{at + 12}, AccessSize::dword()).value == 0x11223344);

    SECTION("an access straddling two entries splits between their frames") {
        v.pte_write(kLowFirst + 5, 0x30001);
        REQUIRE(v.vgpu->mmio_write(GuestPhysAddr{at + kPageSize - 4}, AccessSize::qword(),
                                   0xAAAAAAAABBBBBBBB) == TrapResult::Handled);
        uint32_t tail = 0;
        uint32_t head = 0;
        std::memcpy(&tail, v.hv.ram.data() + 0x21 * kPageSize - 4, 4);
        std::memcpy(&head, v.hv.ram.data() + 0x30 * kPageSize, 4);
        CHECK(tail == 0xBBBBBBBB);
        CHECK(head == 0xAAAAAAAA);
    }
    SECTION("an unmapped entry reads zero and swallows writes") {
        const uint64_t other = kBar2Base + MiB(128) + 9 * kPageSize;
        CHECK(v.vgpu->mmio_read(GuestPhysAddr{other}, AccessSize::dword()).value == 0);
        CHECK(v.vgpu->mmio_write(GuestPhysAddr{other}, AccessSize::dword(), 1) ==
              TrapResult::Handled);
        CHECK(v.vgpu->counters().aperture_unmapped == 2);
    }
    SECTION("outside the guest's mappable slice is refused") {
        CHECK(v.vgpu->mmio_read(GuestPhysAddr{kBar2Base}, AccessSize::dword()).result ==
              TrapResult::Rejected);
        CHECK(v.vgpu->mmio_write(GuestPhysAddr{kBar2Base + MiB(192)}, AccessSize::byte(), 1) ==
              TrapResult::Rejected);
    }
}

TEST_CASE("a RAM-backed GGTT follows BAR0 and is applied at sync", "[vgpu][ggtt][ram]") {
    FakeBacking backing(true);
    GpuVgpu v(GgttStrategy::RamBacked, &backing);
    CHECK(v.vgpu->ggtt_strategy() == GgttStrategy::RamBacked);
    // Only the register half of BAR0 traps; the table half is the backing.
    const std::vector<TrapWindow> w = v.hv.current_windows();
    REQUIRE_FALSE(w.empty());
    CHECK(w[0].first == kBar0Base);
    CHECK(w[0].last == kBar0Base + MiB(8) - 1);
    CHECK(backing.placed_at == frame_of(GuestPhysAddr{kGgttWindow}));

    backing.guest_write(kLowFirst + 1, 0x5001);
    CHECK_FALSE(v.host_maps(kLowFirst + 1));  // nothing until the flush
    v.vgpu->sync_gtt();
    CHECK(v.host_maps(kLowFirst + 1) == GuestFrame{5});

    SECTION("moving BAR0 moves the backing; disabling decode parks it") {
        program_bars(*v.vgpu, 0xC000'0000);
        CHECK(backing.placed_at == frame_of(GuestPhysAddr{0xC000'0000 + MiB(8)}));
        v.vgpu->config_write(0x04, AccessSize::word(), 0);
        CHECK_FALSE(backing.placed_at);
        CHECK(v.host_maps(kLowFirst + 1) == GuestFrame{5});  // entries survive
    }
    SECTION("a refused placement falls back to trapping the whole table") {
        backing.refuse_placement = true;
        program_bars(*v.vgpu, 0xC000'0000);
        CHECK(v.vgpu->ggtt_strategy() == GgttStrategy::Trap);
        CHECK(v.hv.current_windows()[0].last == 0xC000'0000 + MiB(16) - 1);
        // The entries the guest had written into RAM are its table now.
        CHECK(v.vgpu
                  ->mmio_read(GuestPhysAddr{0xC000'0000 + MiB(8) + (kLowFirst + 1) * 8},
                              AccessSize::qword())
                  .value == 0x5001);
    }
}

TEST_CASE("a vGPU without a RAM backing from the hypervisor traps its GGTT", "[vgpu][ggtt]") {
    GpuVgpu v(GgttStrategy::RamBacked, nullptr);
    CHECK(v.vgpu->ggtt_strategy() == GgttStrategy::Trap);
    CHECK(v.hv.current_windows()[0].last == kBar0Base + MiB(16) - 1);
}

TEST_CASE("a PPGTT the guest announces is shadowed and its tables protected", "[vgpu][ppgtt]") {
    GpuVgpu v;
    // PML4 at gfn 0x10 -> PDP 0x11 -> PD 0x12 -> PT 0x13 -> data at gfn 0x40.
    auto put = [&](uint64_t table, unsigned index, uint64_t gfn) {
        const uint64_t e = gfn << 12 | 3;
        std::memcpy(v.hv.ram.data() + table * kPageSize + index * 8, &e, 8);
    };
    put(0x10, 0, 0x11);
    put(0x11, 0, 0x12);
    put(0x12, 0, 0x13);
    put(0x13, 0, 0x40);
    auto pvinfo = [&](uint32_t field, uint32_t value) {
        return v.vgpu->mmio_write(GuestPhysAddr{kBar0Base + 0x78000 + field}, AccessSize::dword(),
                                  value);
    };
    REQUIRE(pvinfo(0x838, 0x10 << 12) == TrapResult::Handled);
    REQUIRE(pvinfo(0x83c, 0) == TrapResult::Handled);
    REQUIRE(pvinfo(0x818, 4) == TrapResult::Handled);  // L4 create
    const PpgttShadow* shadow = v.vgpu->ppgtt_shadow();
    REQUIRE(shadow != nullptr);
    CHECK(shadow->counters().roots == 1);
    CHECK(v.hv.protected_pages == std::set<uint64_t>{0x10, 0x11, 0x12, 0x13});

    // The guest rewrites a PTE: the write traps to us, we store it and shadow it.
    const uint64_t pte1 = 0x13 * kPageSize + 8;
    REQUIRE(v.vgpu->mmio_write(GuestPhysAddr{pte1}, AccessSize::qword(), 0x41003) ==
            TrapResult::Handled);
    uint64_t stored = 0;
    std::memcpy(&stored, v.hv.ram.data() + pte1, 8);
    CHECK(stored == 0x41003);
    CHECK(shadow->counters().full_writes == 1);
    // Halves wait for the next sync (the workload path runs it before submitting).
    v.vgpu->mmio_write(GuestPhysAddr{pte1 + 8}, AccessSize::dword(), 0x42003);
    CHECK(shadow->counters().resynced_entries == 0);
    v.vgpu->sync_gtt();
    CHECK(shadow->counters().resynced_entries == 1);
    const IsolationSubject s{kDom, v.vgpu->ggtt_shadow(), shadow};
    CHECK(check_isolation(v.ggtt, v.world, {&s, 1}).ok());

    SECTION("destroying it releases everything") {
        REQUIRE(pvinfo(0x818, 5) == TrapResult::Handled);
        CHECK(shadow->counters().roots == 0);
        CHECK(v.hv.protected_pages.empty());
        CHECK(v.pins.outstanding == 0);
    }
    SECTION("a root that is not guest RAM is refused") {
        REQUIRE(pvinfo(0x838, 0x7000'0000) == TrapResult::Handled);
        CHECK(pvinfo(0x818, 4) == TrapResult::Rejected);
    }
    SECTION("an FLR drops shadows, protection, pins and the guest's GGTT") {
        v.pte_write(kLowFirst, 0x5001);
        REQUIRE(v.pins.outstanding > 0);
        v.vgpu->config_write(0x70 + 8, AccessSize::word(), 0x8000);  // PCIe DevCtl: Initiate FLR
        CHECK(v.vgpu->counters().device_resets == 1);
        CHECK(v.hv.protected_pages.empty());
        CHECK(v.pins.outstanding == 0);
        CHECK(v.ggtt.table[kLowFirst] == GgttPte::make(v.scratch, 0));
        program_bars(*v.vgpu);
        CHECK(v.pte_read(kLowFirst) == 0);
    }
}
