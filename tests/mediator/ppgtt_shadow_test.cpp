// Shadow PPGTT: the GPU's view of a guest PPGTT always translates like the
// guest's own tables, guest writes keep it in step, hostile entries stay
// inside the guest, and every pin, page and protection is given back.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "fake_frames.hpp"
#include "fake_hypervisor.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint64_t kRamBytes = MiB(4);
constexpr uint64_t kRamFrames = kRamBytes >> kPageShift;
constexpr uint64_t kP = 1, kRW = 2, kPS = 1 << 7, kIPS = 1 << 11;
constexpr uint64_t kAddr = 0x00003ffffffff000ull;
constexpr uint64_t kFirstTable = MiB(1);  // tables from here, data pages below

PpgttRoot four(uint64_t pml4) {
    return {PpgttRoot::Levels::Four, {pml4, 0, 0, 0}};
}
PpgttRoot three(uint64_t pd0, uint64_t pd1, uint64_t pd2, uint64_t pd3) {
    return {PpgttRoot::Levels::Three, {pd0, pd1, pd2, pd3}};
}
uint64_t host_pfn(uint64_t gfn) {
    return FakeFramePins::host_frame_of(GuestFrame{gfn}).value();
}

// A guest with RAM and tables, and the shadow of its PPGTTs. Guest writes go
// where Xen would send them: to the shadow if the page is protected, else RAM.
struct Rig {
    explicit Rig(PpgttShadowLimits limits = {}) {
        scratch = pool.allocate()->frame;
        shadow.emplace(log, hv, pins, pool, scratch, limits);
    }
    // Destroying the shadow gives everything back, whatever the test left.
    ~Rig() {
        shadow.reset();
        expect_all_released();
    }
    void expect_all_released() const {
        CHECK(pins.outstanding() == 0);
        CHECK(pool.live() == 1);  // the scratch page
        CHECK(hv.protected_pages.empty());
        CHECK(pins.bad_unpins == 0);
        CHECK(pool.bad_releases == 0);
    }

    uint64_t new_table() {
        REQUIRE(next_table < kRamBytes);
        next_table += kPageSize;
        return next_table - kPageSize;
    }
    uint64_t entry(uint64_t table, unsigned index) const {
        uint64_t e;
        std::memcpy(&e, hv.ram.data() + (table & kAddr) + 8 * index, 8);
        return e;
    }
    void write(uint64_t gpa, uint64_t value, unsigned bytes) {
        const bool trapped = hv.protected_pages.contains(gpa >> kPageShift) ||
                             hv.protected_pages.contains((gpa + bytes - 1) >> kPageShift);
        if (trapped) {
            REQUIRE(shadow->on_protected_write(GuestPhysAddr{gpa}, *AccessSize::from_bytes(bytes),
                                               value));
        } else {
            std::memcpy(hv.ram.data() + gpa, &value, bytes);
        }
    }
    void set(uint64_t table, unsigned index, uint64_t value) { write(table + 8 * index, value, 8); }

    // Maps `va` to `gfn` in `root`'s guest tables, adding tables as needed.
    void map(const PpgttRoot& root, uint64_t va, uint64_t gfn, uint64_t flags = kP | kRW) {
        const bool four_level = root.levels == PpgttRoot::Levels::Four;
        uint64_t table = (four_level ? root.pdp[0] : root.pdp[(va >> 30) & 3]) & kAddr;
        for (unsigned shift = four_level ? 39 : 21; shift > 12; shift -= 9) {
            const unsigned i = (va >> shift) & 511;
            if ((entry(table, i) & kP) == 0) {
                set(table, i, new_table() | kP | kRW);
            }
            table = entry(table, i) & kAddr;
        }
        set(table, (va >> 12) & 511, (gfn << kPageShift) | flags);
    }

    // The shadow's leaf entry for `va`, walked as the GPU would; 0 if absent.
    uint64_t gpu_pte(const ShadowRoot& root, uint64_t va) const {
        const bool four_level = root.levels == PpgttRoot::Levels::Four;
        const auto top = root.tables[four_level ? 0 : (va >> 30) & 3];
        if (!top) {
            return 0;
        }
        uint64_t table = top->value();
        for (unsigned shift = four_level ? 39 : 21; shift >= 12; shift -= 9) {
            const std::byte* page = pool.page(HostFrame{table});
            REQUIRE(page != nullptr);  // shadow tables are always host pages
            uint64_t e;
            std::memcpy(&e, page + 8 * ((va >> shift) & 511), 8);
            if (shift == 12 || (e & kP) == 0) {
                return e;
            }
            CHECK((e & (kPS | kIPS)) == 0);
            table = (e & kAddr) >> kPageShift;
        }
        return 0;
    }
    std::optional<uint64_t> gpu_frame(const ShadowRoot& root, uint64_t va) const {
        const uint64_t e = gpu_pte(root, va);
        return (e & kP) != 0 ? std::optional((e & kAddr) >> kPageShift) : std::nullopt;
    }

    LogCapture capture;
    FakeHypervisor hv{kRamBytes};
    FakeFramePins pins{kRamBytes};
    FakePagePool pool;
    GuestLog log{"dom1"};
    HostFrame scratch;
    uint64_t next_table = kFirstTable;
    std::optional<PpgttShadow> shadow;  // last: destroyed first
};

// What the shadow of a table must be: every entry the translation of the
// guest's, shared tables shadowed once. Counts what the shadow must hold.
struct Census {
    std::map<std::pair<uint64_t, unsigned>, uint64_t> tables;  // (gfn, level) -> shadow frame
    std::set<uint64_t> gfns;
    uint64_t pins = 0;
    uint64_t mismatches = 0;
};

bool huge(unsigned level, uint64_t e) {
    return (level == 2 && (e & (kPS | kIPS)) != 0) || (level == 3 && (e & kPS) != 0);
}

// `strict`: a present, shadowable guest table entry must be present in the
// shadow; without it (limits in play) it may also have been refused.
void check_table(const Rig& rig, uint64_t gfn, unsigned level, uint64_t frame, bool strict,
                 Census& census) {
    const auto [it, fresh] = census.tables.emplace(std::pair(gfn, level), frame);
    if (!fresh) {
        census.mismatches += it->second != frame;  // one shadow per (gfn, level)
        return;
    }
    census.gfns.insert(gfn);
    const std::byte* page = rig.pool.page(HostFrame{frame});
    REQUIRE(page != nullptr);
    for (unsigned i = 0; i < 512; ++i) {
        const uint64_t g = rig.entry(gfn << kPageShift, i);
        uint64_t s;
        std::memcpy(&s, page + 8 * i, 8);
        const uint64_t target = (g & kAddr) >> kPageShift;
        bool ok;
        if ((g & kP) == 0) {
            ok = s == 0;
        } else if (level == 1) {
            const bool ram = target < kRamFrames;
            census.pins += ram;
            ok = s == (((ram ? host_pfn(target) : rig.scratch.value()) << kPageShift) |
                       (g & 0xffe) | kP);
        } else if (huge(level, g) || target >= kRamFrames) {
            ok = s == 0;
        } else if (s == 0) {
            ok = !strict;
        } else {
            ok = (s & 0xfff) == ((g & 0xf7e) | kP);
            check_table(rig, target, level - 1, (s & kAddr) >> kPageShift, strict, census);
        }
        if (!ok) {
            ++census.mismatches;
            UNSCOPED_INFO("gfn " << gfn << " level " << level << " entry " << i << " guest "
                                 << std::hex << g << " shadow " << s);
        }
    }
}

// After sync(): every live root's shadow translates its guest tables, and the
// shadow holds exactly the pins, pages and protections those tables need.
void check_all(Rig& rig, bool strict = true) {
    Census census;
    rig.shadow->for_each_root([&](const PpgttRoot& root, const ShadowRoot& sroot) {
        const unsigned level = root.levels == PpgttRoot::Levels::Four ? 4 : 2;
        for (size_t i = 0; i < 4; ++i) {
            CHECK(sroot.tables[i].has_value() == (root.pdp[i] != 0));
            if (sroot.tables[i]) {
                check_table(rig, root.pdp[i] >> kPageShift, level, sroot.tables[i]->value(), strict,
                            census);
            }
        }
    });
    CHECK(census.mismatches == 0);
    CHECK(census.tables.size() == rig.pool.live() - 1);
    CHECK(census.tables.size() == rig.shadow->counters().shadow_pages);
    CHECK(census.gfns == rig.hv.protected_pages);
    CHECK(census.pins == rig.pins.outstanding());
}

}  // namespace

TEST_CASE("a 4-level shadow maps every guest address to the pinned host frame", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = four(rig.new_table());
    const std::vector<std::pair<uint64_t, uint64_t>> maps{{0x0, 16},          {0x1000, 17},
                                                          {0x200000, 18},     {0x40000000, 19},
                                                          {0x8000000000, 20}, {0x7ffffffff000, 21}};
    for (const auto& [va, gfn] : maps) {
        rig.map(root, va, gfn);
    }
    rig.map(root, 0x2000, 22, kP | kPS | (1 << 4));  // PAT + PCD: a caching choice, carried
    const auto sroot = rig.shadow->create(root);
    REQUIRE(sroot);
    CHECK(sroot->levels == PpgttRoot::Levels::Four);
    CHECK_FALSE(sroot->tables[1]);
    for (const auto& [va, gfn] : maps) {
        CHECK(rig.gpu_frame(*sroot, va) == host_pfn(gfn));
    }
    CHECK(rig.gpu_pte(*sroot, 0x2000) == ((host_pfn(22) << 12) | kP | kPS | (1 << 4)));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x3000));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x100000000));
    // 1 PML4, 3 PDPs, 4 PDs, 5 PTs: each protected once, each shadowed once.
    const uint64_t tables = (rig.next_table - kFirstTable) >> kPageShift;
    CHECK(tables == 13);
    CHECK(rig.hv.protected_pages.size() == tables);
    CHECK(rig.shadow->counters().protected_pages == tables);
    CHECK(rig.shadow->counters().shadow_pages == tables);
    CHECK(rig.shadow->counters().roots == 1);
    CHECK(rig.pins.outstanding() == maps.size() + 1);
    check_all(rig);
    CHECK(rig.shadow->destroy(root));
    rig.expect_all_released();
    CHECK(rig.shadow->counters().shadow_pages == 0);
    CHECK(rig.shadow->counters().protected_pages == 0);
}

TEST_CASE("a 3-level shadow has one shadow directory per present PDP", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = three(rig.new_table(), 0, rig.new_table() | 0x3, rig.new_table());
    rig.map(root, 0x1000, 30);
    rig.map(root, 0x80000000 + 0x5000, 31);
    rig.map(root, 0xc0000000 + 0x3fe00000, 32);
    const auto sroot = rig.shadow->create(root);
    REQUIRE(sroot);
    CHECK(sroot->tables[0]);
    CHECK_FALSE(sroot->tables[1]);
    CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(30));
    CHECK(rig.gpu_frame(*sroot, 0x80005000) == host_pfn(31));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0xc0000000));
    CHECK(rig.gpu_frame(*sroot, 0xffe00000) == host_pfn(32));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x40001000));  // PDP 1 absent
    CHECK(rig.hv.protected_pages.size() == 6);
    check_all(rig);
    CHECK(rig.shadow->destroy(root));
    rig.expect_all_released();
}

TEST_CASE("a whole-entry write re-shadows that entry at once", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = four(rig.new_table());
    rig.map(root, 0x1000, 40);
    rig.map(root, 0x2000, 41);
    const auto sroot = rig.shadow->create(root);
    REQUIRE(sroot);
    const uint64_t pt = rig.next_table - kPageSize;

    SECTION("remap and unmap a page") {
        rig.map(root, 0x1000, 42);
        CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(42));
        CHECK(rig.pins.pins_of(GuestFrame{40}) == 0);
        rig.set(pt, 2, 0);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x2000));
        CHECK(rig.pins.pins_of(GuestFrame{41}) == 0);
        CHECK(rig.shadow->counters().full_writes == 2);
    }
    SECTION("a new table is protected and walked, a removed one released") {
        rig.map(root, 0x40000000, 43);  // new PD and PT under the existing PDP
        CHECK(rig.hv.protected_pages.size() == 6);
        CHECK(rig.gpu_frame(*sroot, 0x40000000) == host_pfn(43));
        const uint64_t pdp = rig.entry(root.pdp[0], 0) & kAddr;
        rig.set(pdp, 1, 0);
        CHECK(rig.hv.protected_pages.size() == 4);
        CHECK(rig.pins.pins_of(GuestFrame{43}) == 0);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x40000000));
        // The removed tables are guest RAM again: writes to them are not ours.
        CHECK_FALSE(rig.shadow->is_protected(GuestFrame{rig.next_table / kPageSize - 1}));
        CHECK_FALSE(rig.shadow->on_protected_write(GuestPhysAddr{rig.next_table - kPageSize},
                                                   AccessSize::qword(), 0));
        CHECK(rig.shadow->counters().stale_writes == 1);
    }
    check_all(rig);
    CHECK(rig.shadow->destroy(root));
}

TEST_CASE("a partly written entry is not-present until sync", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = four(rig.new_table());
    rig.map(root, 0x1000, 50);
    rig.map(root, 0x2000, 51);
    const auto sroot = rig.shadow->create(root);
    REQUIRE(sroot);
    const uint64_t pt = rig.next_table - kPageSize;
    const uint64_t next = (52 << 12) | kP | kRW;

    SECTION("two 4-byte halves") {
        rig.write(pt + 8, next & 0xffffffff, 4);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x1000));
        rig.write(pt + 12, next >> 32, 4);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x1000));
        CHECK(rig.pins.pins_of(GuestFrame{50}) == 1);  // still held until sync
        CHECK(rig.entry(pt, 1) == next);               // the guest's copy is whole
        rig.shadow->sync();
        CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(52));
        CHECK(rig.pins.pins_of(GuestFrame{50}) == 0);
        CHECK(rig.shadow->counters().partial_writes == 2);
        CHECK(rig.shadow->counters().resynced_entries == 1);
    }
    SECTION("an unaligned write touches two entries") {
        rig.write(pt + 12, (rig.entry(pt, 2) << 32) | (rig.entry(pt, 1) >> 32), 8);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x1000));
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x2000));
        rig.shadow->sync();
        CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(50));
        CHECK(rig.gpu_frame(*sroot, 0x2000) == host_pfn(51));
        CHECK(rig.shadow->counters().resynced_entries == 2);
    }
    SECTION("a write crossing into the next page, protected or not") {
        // The PD and PT are adjacent: PD entry 511 and PT entry 0 share this write.
        rig.map(root, 0x0, 53);
        rig.write(pt - 4, (rig.entry(pt, 0) << 32) | (rig.entry(pt - kPageSize, 511) >> 32), 8);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x0));
        CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(50));
        rig.shadow->sync();
        CHECK(rig.gpu_frame(*sroot, 0x0) == host_pfn(53));
        CHECK(rig.shadow->counters().resynced_entries == 2);
        // From an unprotected data page into the PML4: claimed, all stored.
        const uint64_t kept = rig.entry(root.pdp[0], 0) & 0xffff;
        REQUIRE(rig.shadow->on_protected_write(GuestPhysAddr{root.pdp[0] - 2}, AccessSize::dword(),
                                               0x1234 | (kept << 16)));
        CHECK(rig.hv.ram[root.pdp[0] - 1] == std::byte{0x12});
        CHECK(rig.hv.ram[root.pdp[0] - 2] == std::byte{0x34});
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x1000));  // PML4 entry 0 pending
        rig.shadow->sync();
        CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(50));
    }
    SECTION("a whole-entry write settles a pending entry") {
        rig.write(pt + 8, 0x77, 1);
        rig.set(pt, 1, next);
        CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(52));
        rig.shadow->sync();
        CHECK(rig.shadow->counters().resynced_entries == 0);
    }
    check_all(rig);
    CHECK(rig.shadow->destroy(root));
}

TEST_CASE("hostile entries stay inside the guest", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = four(rig.new_table());
    rig.map(root, 0x1000, 60);
    rig.map(root, 0x2000, 0x3fffffff0ull);  // far outside RAM
    const auto sroot = rig.shadow->create(root);
    REQUIRE(sroot);
    CHECK(rig.gpu_frame(*sroot, 0x2000) == rig.scratch.value());
    CHECK(rig.shadow->counters().scratch_entries == 1);

    const uint64_t pml4 = root.pdp[0], pdp = rig.entry(pml4, 0) & kAddr;
    const uint64_t pd = rig.entry(pdp, 0) & kAddr, pt = rig.entry(pd, 0) & kAddr;
    rig.set(pd, 1, pt | kP | kPS);              // 2 MiB page
    rig.set(pd, 2, pt | kP | kIPS);             // 64 KiB PT
    rig.set(pdp, 1, pd | kP | kPS);             // 1 GiB page
    rig.set(pd, 3, (kRamBytes + MiB(1)) | kP);  // a "table" outside RAM
    CHECK(rig.shadow->counters().huge_entries_refused == 3);
    CHECK(rig.shadow->counters().unprotectable_tables == 1);
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x200000));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x400000));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x40000000));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x600000));
    CHECK(rig.capture.contains("not supported"));

    // Tables that point at themselves or their ancestors: finite, and the
    // frame is protected once however many levels it is shadowed at.
    rig.set(pml4, 5, pml4 | kP);
    rig.set(pd, 4, pd | kP);
    CHECK(rig.gpu_frame(*sroot, (5ull << 39) | (5ull << 30) | (5ull << 21) | (5ull << 12)) ==
          host_pfn(pml4 >> 12));
    check_all(rig);
    CHECK(rig.shadow->destroy(root));
    rig.expect_all_released();
}

TEST_CASE("a root that is not guest RAM is refused and nothing is left", "[ppgtt]") {
    Rig rig;
    const uint64_t pd = rig.new_table();
    rig.map(three(pd, 0, 0, 0), 0x1000, 70);
    CHECK_FALSE(rig.shadow->create(four(kRamBytes)));
    CHECK_FALSE(rig.shadow->create(four(0)));
    CHECK_FALSE(rig.shadow->create(three(0, 0, 0, 0)));
    CHECK_FALSE(rig.shadow->create(three(pd, 0, kRamBytes + MiB(8), 0)));  // PD 0 built, undone
    CHECK(rig.shadow->counters().roots_refused == 4);
    CHECK(rig.shadow->counters().roots == 0);
    rig.expect_all_released();
}

TEST_CASE("a table shared by two roots is shadowed and protected once", "[ppgtt]") {
    Rig rig;
    const PpgttRoot a = four(rig.new_table());
    rig.map(a, 0x1000, 80);
    const PpgttRoot b = four(rig.new_table());
    rig.set(b.pdp[0], 1, rig.entry(a.pdp[0], 0));  // b's second 512 GiB is a's first
    const uint64_t pd = rig.entry(rig.entry(a.pdp[0], 0) & kAddr, 0) & kAddr;
    const PpgttRoot c = three(pd, 0, 0, 0);  // and a 3-level root on a's PD

    const auto sa = rig.shadow->create(a), sb = rig.shadow->create(b), sc = rig.shadow->create(c);
    REQUIRE((sa && sb && sc));
    CHECK(rig.shadow->counters().shadow_pages == 5);
    CHECK(rig.hv.protected_pages.size() == 5);
    CHECK(rig.pins.outstanding() == 1);
    const uint64_t moved = (1ull << 39) | 0x1000;
    CHECK(rig.gpu_frame(*sb, moved) == host_pfn(80));

    rig.map(a, 0x1000, 81);  // a write to the shared PT shows through every root
    CHECK(rig.gpu_frame(*sb, moved) == host_pfn(81));
    CHECK(rig.gpu_frame(*sc, 0x1000) == host_pfn(81));
    CHECK(rig.shadow->destroy(a));
    CHECK(rig.shadow->destroy(c));
    CHECK(rig.gpu_frame(*sb, moved) == host_pfn(81));
    CHECK(rig.hv.protected_pages.size() == 4);
    check_all(rig);
    CHECK(rig.shadow->destroy(b));
    rig.expect_all_released();
}

TEST_CASE("a root created twice needs two destroys, an unknown one is refused", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = four(rig.new_table());
    rig.map(root, 0x1000, 90);
    const auto first = rig.shadow->create(root);
    const auto again = rig.shadow->create(four(root.pdp[0] | 0x3));  // low bits are not address
    REQUIRE(first);
    CHECK(again == first);
    CHECK(rig.shadow->counters().roots == 1);
    CHECK(rig.shadow->destroy(root));
    CHECK(rig.gpu_frame(*first, 0x1000) == host_pfn(90));
    CHECK(rig.shadow->destroy(root));
    rig.expect_all_released();
    CHECK_FALSE(rig.shadow->destroy(root));
    CHECK_FALSE(rig.shadow->destroy(three(0x5000, 0, 0, 0)));
    CHECK(rig.shadow->counters().unknown_destroys == 2);
    CHECK(rig.capture.contains("destroy of unknown root"));
}

TEST_CASE("limits refuse shadow pages and roots without leaking", "[ppgtt]") {
    SECTION("too many shadow pages: the entry stays not-present") {
        Rig rig({.max_shadow_pages = 3, .max_roots = 64});
        const PpgttRoot root = four(rig.new_table());
        rig.map(root, 0x1000, 100);
        const auto sroot = rig.shadow->create(root);
        REQUIRE(sroot);
        CHECK_FALSE(rig.gpu_frame(*sroot, 0x1000));
        CHECK(rig.shadow->counters().limit_refusals == 1);
        CHECK(rig.shadow->counters().shadow_pages == 3);
        CHECK(rig.capture.contains("limit of 3 shadow pages"));
        check_all(rig, false);
        CHECK(rig.shadow->destroy(root));
        rig.expect_all_released();
        Rig none({.max_shadow_pages = 0, .max_roots = 64});
        CHECK_FALSE(none.shadow->create(four(none.new_table())));
    }
    SECTION("too many roots") {
        Rig rig({.max_shadow_pages = 32, .max_roots = 1});
        const PpgttRoot a = four(rig.new_table()), b = four(rig.new_table());
        REQUIRE(rig.shadow->create(a));
        CHECK_FALSE(rig.shadow->create(b));
        CHECK(rig.shadow->create(a));  // the same root is not a new one
        CHECK(rig.shadow->counters().limit_refusals == 1);
        CHECK(rig.hv.protected_pages.size() == 1);
        CHECK(rig.shadow->destroy(a));
        CHECK(rig.shadow->destroy(a));
    }
    SECTION("the host page pool runs dry") {
        Rig rig;
        const PpgttRoot root = four(rig.new_table());
        rig.map(root, 0x1000, 101);
        rig.pool.set_capacity(rig.pool.live() + 2);
        const auto sroot = rig.shadow->create(root);
        REQUIRE(sroot);
        CHECK(rig.shadow->counters().pool_exhausted == 1);
        CHECK(rig.hv.protected_pages.size() == 2);  // the refused PD is not left protected
        check_all(rig, false);
        rig.pool.set_capacity(std::nullopt);
    }
}

TEST_CASE("reset drops every root with its pins, pages and protections", "[ppgtt]") {
    Rig rig;
    const PpgttRoot a = four(rig.new_table()), b = three(rig.new_table(), 0, 0, 0);
    rig.map(a, 0x1000, 110);
    rig.map(b, 0x1000, 111);
    REQUIRE(rig.shadow->create(a));
    REQUIRE(rig.shadow->create(a));
    REQUIRE(rig.shadow->create(b));
    rig.write(rig.next_table - kPageSize + 8, 0x12, 1);  // leave an entry pending
    rig.shadow->reset();
    rig.expect_all_released();
    CHECK(rig.shadow->counters().roots == 0);
    CHECK_FALSE(rig.shadow->destroy(a));
    rig.shadow->sync();              // nothing pending survives a reset
    REQUIRE(rig.shadow->create(b));  // and the object is usable again
    check_all(rig);
}

TEST_CASE("random trees and writes, hostile or not, keep shadow equal to guest", "[ppgtt]") {
    const size_t page_limit = GENERATE(size_t{32768}, size_t{24});
    Rig rig({.max_shadow_pages = page_limit, .max_roots = 8});
    const bool strict = page_limit > 1000;
    std::mt19937_64 rng(0x5eed'0ddb'a11);
    auto below = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
    std::vector<std::vector<uint64_t>> tables(5);  // guest tables by intended level
    std::map<uint64_t, unsigned> level_of;
    auto table_at = [&](unsigned level) {
        if (tables[level].empty() || (rig.next_table < kRamBytes && below(3) == 0)) {
            tables[level].push_back(rig.new_table());
            level_of[tables[level].back()] = level;
        }
        return tables[level][below(tables[level].size())];
    };
    // Mostly a table some live root reaches (the writes that trap), else any.
    auto target = [&]() -> std::pair<uint64_t, unsigned> {
        const auto& wp = rig.hv.protected_pages;
        if (!wp.empty() && below(10) < 8) {
            const uint64_t gpa =
                *std::next(wp.begin(), static_cast<std::ptrdiff_t>(below(wp.size()))) << kPageShift;
            const auto known = level_of.find(gpa);  // else a frame mixed writes made a table
            return {gpa, known != level_of.end() ? known->second : 1 + unsigned(below(4))};
        }
        const unsigned level = 1 + static_cast<unsigned>(below(4));
        return {table_at(level), level};
    };
    std::vector<PpgttRoot> live;

    for (int batch = 0; batch < 80; ++batch) {
        for (int op = 0; op < 100; ++op) {
            const uint64_t kind = below(100);
            if (kind < 4 || live.empty()) {
                if (below(8) == 0) {  // a root outside RAM
                    CHECK_FALSE(rig.shadow->create(four(kRamBytes + (below(1 << 20) << 12))));
                    continue;
                }
                const PpgttRoot r =
                    below(2) ? four(table_at(4))
                             : three(table_at(2), below(2) ? table_at(2) : 0, table_at(2), 0);
                if (rig.shadow->create(r)) {
                    live.push_back(r);
                }
                continue;
            }
            if (kind < 7) {
                const size_t i = below(live.size());
                CHECK(rig.shadow->destroy(live[i]));
                live.erase(live.begin() + static_cast<std::ptrdiff_t>(i));
                continue;
            }
            const auto [table, level] = target();
            const unsigned index = static_cast<unsigned>(below(8) ? below(8) : below(512));
            uint64_t value;
            const uint64_t sort = below(100);
            const uint64_t flags = below(4096) & ~uint64_t{0xf81};  // no P, PS, IPS
            if (sort < 55) {
                value = (level == 1 ? (16 + below(240)) << 12 : table_at(level - 1)) | flags | kP;
            } else if (sort < 62) {
                value = below(2) ? 0 : rng() & ~kP;
            } else if (sort < 70) {
                value = (((kRamFrames + below(1ull << 30)) << 12) & kAddr) | kP;
            } else if (sort < 78) {
                value = table_at(level - (level > 1)) | kP | (below(2) ? kPS : kIPS);
            } else if (sort < 90) {
                value = table_at(1 + static_cast<unsigned>(below(4))) | kP;  // any level, even self
            } else {
                value = rng();
            }
            const uint64_t gpa = table + 8 * index;
            switch (below(8)) {
                case 0:
                    rig.write(gpa, value & 0xffffffff, 4);
                    rig.write(gpa + 4, value >> 32, 4);
                    break;
                case 1:
                    rig.write(gpa + 4, value >> 32, 4);
                    rig.write(gpa, value & 0xffffffff, 4);
                    break;
                case 2:
                    rig.write(gpa + 2 * below(4), value & 0xffff, 2);
                    break;
                case 3:
                    rig.write(gpa - 4 * (gpa >= 4), value, 8);  // may cross a page
                    break;
                default:
                    rig.set(table, index, value);
            }
        }
        rig.shadow->sync();
        check_all(rig, strict);
        if (batch % 40 == 39) {
            rig.shadow->reset();
            rig.expect_all_released();
            live.clear();
        }
    }
    const PpgttCounters& c = rig.shadow->counters();
    CHECK(c.full_writes > 0);
    CHECK(c.partial_writes > 0);
    CHECK(c.scratch_entries > 0);
    CHECK(c.huge_entries_refused > 0);
    CHECK(c.unprotectable_tables > 0);
    CHECK((strict || c.limit_refusals > 0));
}

TEST_CASE("held frames and pages are released only when the last hold goes", "[ppgtt]") {
    Rig rig;
    const PpgttRoot root = four(rig.new_table());
    rig.map(root, 0x1000, 60);
    rig.map(root, 0x40000000, 61);  // its own PD and PT
    const auto sroot = rig.shadow->create(root);
    REQUIRE(sroot);
    const size_t pages = rig.shadow->counters().shadow_pages;
    rig.shadow->hold_frames();
    rig.shadow->hold_frames();
    // The guest remaps one page and tears down a whole subtree meanwhile.
    rig.map(root, 0x1000, 62);
    const uint64_t pdp = rig.entry(root.pdp[0], 0) & kAddr;
    rig.set(pdp, 1, 0);
    // The GPU sees the new tables at once ...
    CHECK(rig.gpu_frame(*sroot, 0x1000) == host_pfn(62));
    CHECK_FALSE(rig.gpu_frame(*sroot, 0x40000000));
    // ... but nothing it may still hold is gone.
    CHECK(rig.pins.pins_of(GuestFrame{60}) == 1);
    CHECK(rig.pins.pins_of(GuestFrame{61}) == 1);
    CHECK(rig.shadow->counters().shadow_pages == pages);
    // A walk of the live tree reaches the remapped page.
    std::array<PpgttShadow::PathLevel, 4> path{};
    CHECK(rig.shadow->shadow_path(root, 0x1000, path) == 4);
    CHECK(rig.shadow->shadow_path(root, 0x40000000, path) == 2);  // PML4, PDP; PD gone
    rig.shadow->release_frames();
    CHECK(rig.pins.pins_of(GuestFrame{60}) == 1);  // one hold left
    rig.shadow->release_frames();
    CHECK(rig.pins.pins_of(GuestFrame{60}) == 0);
    CHECK(rig.pins.pins_of(GuestFrame{61}) == 0);
    CHECK(rig.shadow->counters().shadow_pages == pages - 2);
    check_all(rig);
    CHECK(rig.shadow->destroy(root));
    rig.expect_all_released();
}
