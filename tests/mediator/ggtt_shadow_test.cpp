#include "mediator/gtt/ggtt_shadow.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "fake_gpu_memory.hpp"
#include "fake_hypervisor.hpp"
#include "mediator/gtt/isolation.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint32_t kDom = 7;
constexpr uint64_t kRamFrames = 1024;  // 4 MiB of guest RAM
// Small slices keep the tests quick: 1 MiB mappable at 16 MiB (256 entries,
// half a table page), 4 MiB hidden at 1 GiB (1024 entries, two pages).
const GmRange kLow{GmAddr{MiB(16)}, MiB(1)};
const GmRange kHigh{GmAddr{GiB(1)}, MiB(4)};
constexpr uint64_t kLowFirst = MiB(16) >> 12;
constexpr uint64_t kHighFirst = GiB(1) >> 12;

uint64_t guest_pte(uint64_t gfn, uint64_t attrs = 0) {
    return gfn << 12 | attrs | 1;
}

struct Fixture {
    GuestLog log{"dom7"};
    FakeGgtt ggtt;
    FakeFrameWorld world;
    FakePins pins{world, kDom, kRamFrames};
    HostFrame scratch = world.allocate()->frame;
};

}  // namespace

TEST_CASE("a new GGTT share points every entry of the partition at scratch", "[ggtt]") {
    Fixture f;
    GgttShadow g(f.log, kLow, kHigh, f.pins, f.ggtt, f.scratch);
    const uint64_t blank = GgttPte::make(f.scratch, 0);
    CHECK(f.ggtt.table[kLowFirst] == blank);
    CHECK(f.ggtt.table[kLowFirst + 255] == blank);
    CHECK(f.ggtt.table[kHighFirst + 1023] == blank);
    CHECK(f.ggtt.table[kLowFirst - 1] == 0);
    CHECK(f.ggtt.table[kLowFirst + 256] == 0);
    CHECK(f.ggtt.table[kHighFirst + 1024] == 0);
    CHECK(f.ggtt.writes == 256 + 1024);
}

TEST_CASE("a guest GGTT entry is translated to its pinned host frame", "[ggtt]") {
    Fixture f;
    GgttShadow g(f.log, kLow, kHigh, f.pins, f.ggtt, f.scratch);
    REQUIRE(g.apply(kLowFirst + 3, guest_pte(42, 0x18)));
    const uint64_t host = f.ggtt.table[kLowFirst + 3];
    CHECK(GgttPte::present(host));
    CHECK((host & 0xffe) == 0x18);  // cache attributes carried over
    const FrameOwner o = f.world.owner(HostFrame{GgttPte::frame_number(host)});
    CHECK(o.kind == FrameOwner::Kind::Guest);
    CHECK(o.guest == kDom);
    CHECK(o.gfn == GuestFrame{42});
    CHECK(g.guest_entry(kLowFirst + 3) == guest_pte(42, 0x18));
    CHECK(g.mapped_frame(kLowFirst + 3) == GuestFrame{42});
    CHECK(f.pins.outstanding == 1);

    SECTION("remapping releases the old frame after the new one is in place") {
        REQUIRE(g.apply(kLowFirst + 3, guest_pte(43)));
        CHECK(f.pins.outstanding == 1);
        CHECK(f.world.owner(HostFrame{GgttPte::frame_number(host)}).kind == FrameOwner::Kind::None);
    }
    SECTION("clearing the entry points it at scratch and drops the pin") {
        REQUIRE(g.apply(kLowFirst + 3, 0));
        CHECK(f.ggtt.table[kLowFirst + 3] == GgttPte::make(f.scratch, 0));
        CHECK(f.pins.outstanding == 0);
        CHECK_FALSE(g.mapped_frame(kLowFirst + 3));
    }
    SECTION("repeating the same value changes nothing") {
        const uint64_t writes = f.ggtt.writes;
        REQUIRE(g.apply(kLowFirst + 3, guest_pte(42, 0x18)));
        CHECK(f.ggtt.writes == writes);
        CHECK(g.counters().unchanged == 1);
        CHECK(f.pins.outstanding == 1);
    }
    SECTION("the same guest frame mapped twice is pinned twice") {
        REQUIRE(g.apply(kHighFirst, guest_pte(42)));
        CHECK(f.pins.outstanding == 2);
        CHECK(GgttPte::frame_number(f.ggtt.table[kHighFirst]) == GgttPte::frame_number(host));
    }
}

TEST_CASE("hostile GGTT entries reach nothing outside the guest", "[ggtt][hostile]") {
    Fixture f;
    GgttShadow g(f.log, kLow, kHigh, f.pins, f.ggtt, f.scratch);

    SECTION("a frame that is not guest RAM becomes the scratch page") {
        REQUIRE(g.apply(kLowFirst, guest_pte(kRamFrames)));
        REQUIRE(g.apply(kLowFirst + 1, ~uint64_t{0}));
        CHECK(f.ggtt.table[kLowFirst] == GgttPte::make(f.scratch, 0));
        CHECK(f.ggtt.table[kLowFirst + 1] == GgttPte::make(f.scratch, 0));
        CHECK(g.counters().scratch == 2);
        CHECK(f.pins.outstanding == 0);
    }
    SECTION("an index outside the partition is dropped") {
        const uint64_t writes = f.ggtt.writes;
        CHECK_FALSE(g.apply(kLowFirst - 1, guest_pte(1)));
        CHECK_FALSE(g.apply(kLowFirst + 256, guest_pte(1)));
        CHECK_FALSE(g.apply(~uint64_t{0}, guest_pte(1)));
        CHECK_FALSE(g.apply(0, guest_pte(1)));
        CHECK(f.ggtt.writes == writes);
        CHECK(g.counters().outside_partition == 4);
        CHECK(g.guest_entry(0) == 0);
    }
    SECTION("bad partitions are refused at construction") {
        FakeGgtt small(1024);
        CHECK_THROWS(GgttShadow(f.log, kLow, kHigh, f.pins, small, f.scratch));
        CHECK_THROWS(GgttShadow(f.log, {GmAddr{1}, kPageSize}, kHigh, f.pins, f.ggtt, f.scratch));
        CHECK_THROWS(GgttShadow(f.log, kLow, kLow, f.pins, f.ggtt, f.scratch));
    }
}

TEST_CASE("tearing down a GGTT share leaves scratch and no pins", "[ggtt]") {
    Fixture f;
    {
        GgttShadow g(f.log, kLow, kHigh, f.pins, f.ggtt, f.scratch);
        for (uint64_t i = 0; i < 256; ++i) {
            g.apply(kLowFirst + i, guest_pte(i));
        }
        CHECK(f.pins.outstanding == 256);
        SECTION("reset") {
            g.reset();
            CHECK(f.pins.outstanding == 0);
            CHECK(g.guest_entry(kLowFirst + 5) == 0);
        }
    }
    CHECK(f.pins.outstanding == 0);
    CHECK(f.pins.bad_unpins == 0);
    CHECK(f.ggtt.table[kLowFirst + 100] == GgttPte::make(f.scratch, 0));
}

TEST_CASE("a RAM-backed GGTT is applied when the guest flushes", "[ggtt][ram]") {
    Fixture f;
    GgttShadow g(f.log, kLow, kHigh, f.pins, f.ggtt, f.scratch);
    const bool tracks = GENERATE(true, false);
    FakeBacking backing(tracks);
    backing.guest_write(kLowFirst + 1, guest_pte(5));
    backing.guest_write(kHighFirst + 300, guest_pte(6));
    backing.guest_write(kLowFirst - 1, guest_pte(7));                   // outside: ignored
    CHECK(f.ggtt.table[kLowFirst + 1] == GgttPte::make(f.scratch, 0));  // not before the flush

    const uint64_t flushes = f.ggtt.flushes;
    g.sync_from(backing);
    CHECK(f.ggtt.flushes == flushes + 1);
    CHECK(g.mapped_frame(kLowFirst + 1) == GuestFrame{5});
    CHECK(g.mapped_frame(kHighFirst + 300) == GuestFrame{6});
    CHECK(f.ggtt.table[kLowFirst - 1] == 0);
    CHECK(f.pins.outstanding == 2);
    // Pages compared: with tracking only the two dirty ones inside the
    // partition; without it, every page the partition covers.
    CHECK(g.counters().synced_pages == (tracks ? 2u : 1u + 2u));

    backing.guest_write(kLowFirst + 1, 0);
    g.sync_from(backing);
    CHECK_FALSE(g.mapped_frame(kLowFirst + 1));
    CHECK(f.pins.outstanding == 1);
}

TEST_CASE("the isolation checker accepts a clean GGTT and names a planted leak",
          "[ggtt][isolation]") {
    Fixture f;
    FakePins other_pins(f.world, 8, kRamFrames);
    GgttShadow a(f.log, kLow, kHigh, f.pins, f.ggtt, f.scratch);
    GgttShadow b(f.log, {GmAddr{MiB(32)}, MiB(1)}, {GmAddr{GiB(2)}, MiB(1)}, other_pins, f.ggtt,
                 f.scratch);
    a.apply(kLowFirst, guest_pte(1));
    b.apply(MiB(32) >> 12, guest_pte(1));
    const IsolationSubject subjects[] = {{kDom, &a}, {8, &b}};
    const IsolationReport clean = check_isolation(f.ggtt, f.world, subjects);
    CHECK(clean.ok());
    CHECK(clean.ggtt_entries_checked == f.ggtt.entries());

    SECTION("a guest entry naming another guest's frame") {
        f.ggtt.table[kLowFirst + 1] = f.ggtt.table[MiB(32) >> 12];
        const IsolationReport r = check_isolation(f.ggtt, f.world, subjects);
        CHECK(r.violation_count == 1);
        CHECK_THAT(r.summary(), Catch::Contains("owned by a guest (dom8)"));
    }
    SECTION("an entry outside every partition naming a guest frame") {
        f.ggtt.table[5] = f.ggtt.table[kLowFirst];
        CHECK(check_isolation(f.ggtt, f.world, subjects).violation_count == 1);
    }
    SECTION("the guest's own frame, but not the one its entry asks for") {
        a.apply(kLowFirst + 2, guest_pte(2));
        f.ggtt.table[kLowFirst + 2] = f.ggtt.table[kLowFirst];
        CHECK_THAT(check_isolation(f.ggtt, f.world, subjects).summary(),
                   Catch::Contains("asks for 0x2"));
    }
}

TEST_CASE("the isolation checker walks shadow PPGTTs and names a planted leak",
          "[ppgtt][isolation]") {
    Fixture f;
    FakePins other_pins(f.world, 8, kRamFrames);
    FakeHypervisor hv;
    PpgttShadow shadow(f.log, hv, f.pins, f.world, f.scratch);
    // PML4 at gfn 1 -> PDP at 2 -> PD at 3 -> PT at 4 -> data at gfn 9.
    auto put = [&](uint64_t table, unsigned index, uint64_t gfn) {
        const uint64_t e = gfn << 12 | 3;
        std::memcpy(hv.ram.data() + table * kPageSize + index * 8, &e, 8);
    };
    put(1, 0, 2);
    put(2, 0, 3);
    put(3, 0, 4);
    put(4, 5, 9);
    const std::optional<ShadowRoot> root = shadow.create({PpgttRoot::Levels::Four, {kPageSize}});
    REQUIRE(root);
    const IsolationSubject subjects[] = {{kDom, nullptr, &shadow}};
    const IsolationReport clean = check_isolation(f.ggtt, f.world, subjects);
    CHECK(clean.ok());
    CHECK(clean.ppgtt_tables_checked == 4);
    CHECK(clean.ppgtt_leaves_checked == 1);

    // Find the shadow PT the way the GPU would, then corrupt its leaf.
    HostFrame table = *root->tables[0];
    for (int level = 4; level > 1; --level) {
        uint64_t e = 0;
        std::memcpy(&e, f.world.peek(table), 8);
        table = HostFrame{GgttPte::frame_number(e)};
    }
    auto* pt = const_cast<std::byte*>(f.world.peek(table));
    SECTION("a leaf naming another guest's frame") {
        const uint64_t foreign = other_pins.pin(GuestFrame{9})->value() << 12 | 3;
        std::memcpy(pt + 5 * 8, &foreign, 8);
        CHECK_THAT(check_isolation(f.ggtt, f.world, subjects).summary(),
                   Catch::Contains("owned by a guest (dom8)"));
        other_pins.unpin(GuestFrame{9});
    }
    SECTION("a table that is the guest's own page") {
        // Make the PD point at a guest page as if it were a page table.
        const uint64_t own = f.pins.pin(GuestFrame{20})->value() << 12 | 3;
        HostFrame pd = *root->tables[0];
        for (int level = 4; level > 2; --level) {
            uint64_t e = 0;
            std::memcpy(&e, f.world.peek(pd), 8);
            pd = HostFrame{GgttPte::frame_number(e)};
        }
        std::memcpy(const_cast<std::byte*>(f.world.peek(pd)) + 8, &own, 8);
        CHECK_THAT(check_isolation(f.ggtt, f.world, subjects).summary(),
                   Catch::Contains("table at host frame"));
        std::memset(const_cast<std::byte*>(f.world.peek(pd)) + 8, 0, 8);
        f.pins.unpin(GuestFrame{20});
    }
}
