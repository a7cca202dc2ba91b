// Property: whatever several guests write into their GGTTs — valid entries,
// entries naming frames they do not own, indices outside their slices, torn
// halves, garbage — the physical GGTT only ever maps each guest's own frames
// (exactly the ones it asked for) or the scratch page.
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "fake_gpu_memory.hpp"
#include "mediator/gm_allocator.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/isolation.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint64_t kGuestRamFrames = 256;  // FakeHypervisor's 1 MiB
constexpr uint64_t kWindow = kBar0Base + MiB(8);

struct Guest {
    Guest(uint32_t domid, GmPartition p, FakeFrameWorld& world, FakeGgtt& ggtt, HostFrame scratch,
          GgttStrategy strategy)
        : partition(std::move(p)), pins(world, domid, kGuestRamFrames), backing(domid % 2 == 0) {
        hv.backing = strategy == GgttStrategy::RamBacked ? &backing : nullptr;
        VgpuConfig c;
        c.name = "dom" + std::to_string(domid);
        c.vgt_id = domid;
        c.mappable = partition.slices().mappable;
        c.hidden = partition.slices().hidden;
        c.ggtt_strategy = strategy;
        vgpu = std::make_unique<Vgpu>(c, hv, GpuLink{&pins, &ggtt, &world, scratch});
        program_bars(*vgpu);
    }
    GmPartition partition;
    FakeHypervisor hv;
    FakePins pins;
    FakeBacking backing;
    std::unique_ptr<Vgpu> vgpu;
};

// A guest's next GGTT write, drawn from what real and hostile guests do.
struct Writer {
    std::mt19937_64 rng;

    uint64_t index_for(const Guest& g) {
        const GmSlices& s = g.partition.slices();
        switch (rng() % 4) {
            case 0:
            case 1: {
                const uint64_t n = s.mappable.size >> kPageShift;
                return (s.mappable.base.value() >> kPageShift) + rng() % n;
            }
            case 2: {
                const uint64_t n = s.hidden.size >> kPageShift;
                return (s.hidden.base.value() >> kPageShift) + rng() % n;
            }
            default:
                return rng() % (uint64_t{1} << 20);  // anywhere, often another guest's slice
        }
    }
    uint64_t value() {
        switch (rng() % 6) {
            case 0:
            case 1:
            case 2:
                return (rng() % kGuestRamFrames) << 12 | (rng() & 0xffe) | 1;  // valid
            case 3:
                return (kGuestRamFrames + rng() % 4096) << 12 | 1;  // not the guest's RAM
            case 4:
                return 0;  // unmap
            default:
                return rng();  // garbage, any bits
        }
    }
};

void write_entry(Writer& w, Guest& g, uint64_t index, uint64_t value) {
    if (g.vgpu->ggtt_strategy() == GgttStrategy::RamBacked) {
        g.backing.guest_write(index, value);  // a plain store into RAM
        return;
    }
    const GuestPhysAddr at{kWindow + index * 8};
    if (w.rng() % 4 == 0) {
        // Two halves, in random order; sometimes only one arrives.
        const bool high_first = w.rng() % 2 == 0;
        const unsigned halves = w.rng() % 8 == 0 ? 1 : 2;
        for (unsigned h = 0; h < halves; ++h) {
            const bool high = (h == 0) == high_first;
            g.vgpu->mmio_write(GuestPhysAddr{at.value() + (high ? 4 : 0)}, AccessSize::dword(),
                               high ? value >> 32 : value & 0xffffffff);
        }
        return;
    }
    g.vgpu->mmio_write(at, AccessSize::qword(), value);
}

}  // namespace

TEST_CASE("100k hostile and valid GGTT writes from three guests never break isolation",
          "[isolation][property]") {
    FakeGgtt ggtt;
    FakeFrameWorld world;
    const HostFrame scratch = world.allocate()->frame;
    GmAllocator allocator(GmResources{});
    const GmRequest small{MiB(16), MiB(64), 2};
    // dom1 traps; dom2 and dom3 are RAM-backed, dom3 without dirty tracking.
    std::vector<std::unique_ptr<Guest>> guests;
    guests.push_back(std::make_unique<Guest>(1, allocator.allocate(small), world, ggtt, scratch,
                                             GgttStrategy::Trap));
    guests.push_back(std::make_unique<Guest>(2, allocator.allocate(small), world, ggtt, scratch,
                                             GgttStrategy::RamBacked));
    guests.push_back(std::make_unique<Guest>(3, allocator.allocate(small), world, ggtt, scratch,
                                             GgttStrategy::RamBacked));

    Writer w{std::mt19937_64{0x5eed}};
    constexpr unsigned kBatches = 100;
    constexpr unsigned kPerBatch = 1000;
    uint64_t writes = 0;
    for (unsigned batch = 0; batch < kBatches; ++batch) {
        for (unsigned i = 0; i < kPerBatch; ++i) {
            Guest& g = *guests[w.rng() % guests.size()];
            write_entry(w, g, w.index_for(g), w.value());
            ++writes;
        }
        // The guests flush (RAM-backed entries apply only then).
        std::vector<IsolationSubject> subjects;
        for (auto& g : guests) {
            g->vgpu->sync_gtt();
            subjects.push_back({g->vgpu->config().vgt_id, g->vgpu->ggtt_shadow()});
        }
        const IsolationReport r = check_isolation(ggtt, world, subjects);
        INFO("after batch " << batch << ": " << r.summary());
        REQUIRE(r.ok());
    }
    CHECK(writes == kBatches * kPerBatch);
    // The run exercised every rule, not just the happy path.
    uint64_t dropped = 0;
    uint64_t scratched = 0;
    uint64_t applied = 0;
    for (auto& g : guests) {
        const GgttCounters& c = g->vgpu->ggtt_shadow()->counters();
        dropped += c.outside_partition;
        scratched += c.scratch;
        applied += c.applied;
        CHECK(g->pins.bad_unpins == 0);
        CHECK(g->pins.outstanding == g->vgpu->ggtt_shadow()->pinned_entries());
    }
    CHECK(dropped > 1000);
    CHECK(scratched > 1000);
    CHECK(applied > 10000);

    guests.clear();
    // Every pin returned: nothing of any guest stays mapped.
    CHECK(check_isolation(ggtt, world, {}).ok());
}

namespace {

// A guest building and scribbling over 4-level page tables in its own RAM.
// Frames 1..63 hold tables, 64..255 data; frame 1 is the PML4.
struct PpgttGuest {
    PpgttGuest(uint32_t id, FakeFrameWorld& world, HostFrame scratch)
        : domid(id),
          log("dom" + std::to_string(id)),
          pins(world, id, kGuestRamFrames),
          shadow(log, hv, pins, world, scratch) {}

    void store(uint64_t gpa, uint64_t value, unsigned bytes) {
        const auto size = *AccessSize::from_bytes(bytes);
        // A protected page traps; anything else is a plain store into RAM,
        // exactly what the hypervisor does with it.
        if (!shadow.on_protected_write(GuestPhysAddr{gpa}, size, value)) {
            hv.write_guest(GuestPhysAddr{gpa}, std::as_bytes(std::span(&value, 1)).first(bytes));
        }
    }
    void build_initial_tree() {
        // PML4[0] -> PDP at 2, PDP[0] -> PD at 3, PD[0..3] -> PTs at 4..7.
        auto put = [&](uint64_t table, unsigned index, uint64_t gfn) {
            store(table * kPageSize + index * 8, gfn << 12 | 3, 8);
        };
        put(1, 0, 2);
        put(2, 0, 3);
        for (unsigned i = 0; i < 4; ++i) {
            put(3, i, 4 + i);
        }
        for (unsigned pt = 4; pt < 8; ++pt) {
            for (unsigned i = 0; i < 512; i += 7) {
                put(pt, i, 64 + (pt * 512 + i) % 192);
            }
        }
    }

    uint32_t domid;
    FakeHypervisor hv;
    GuestLog log;
    FakePins pins;
    PpgttShadow shadow;
};

}  // namespace

TEST_CASE("100k hostile and valid PPGTT writes from three guests never break isolation",
          "[isolation][property][ppgtt]") {
    FakeGgtt ggtt(1024);
    FakeFrameWorld world;
    const HostFrame scratch = world.allocate()->frame;
    std::vector<std::unique_ptr<PpgttGuest>> guests;
    for (uint32_t d = 1; d <= 3; ++d) {
        guests.push_back(std::make_unique<PpgttGuest>(d, world, scratch));
        guests.back()->build_initial_tree();
        REQUIRE(guests.back()->shadow.create({PpgttRoot::Levels::Four, {1 * kPageSize}}));
    }
    std::mt19937_64 rng(0xbadd);
    auto entry_value = [&]() -> uint64_t {
        switch (rng() % 6) {
            case 0:
            case 1:
                return (64 + rng() % 192) << 12 | 3;  // a data page
            case 2:
                return (1 + rng() % 63) << 12 | 3;  // another table page, any level
            case 3:
                return (kGuestRamFrames + rng() % 100000) << 12 | 1;  // not its RAM
            case 4:
                return 0;
            default:
                return rng();  // garbage, huge-page bits included
        }
    };
    uint64_t writes = 0;
    for (unsigned batch = 0; batch < 100; ++batch) {
        for (unsigned i = 0; i < 1000; ++i) {
            PpgttGuest& g = *guests[rng() % guests.size()];
            const uint64_t table = 1 + rng() % 63;
            const uint64_t entry = rng() % 512;
            const uint64_t value = entry_value();
            switch (rng() % 8) {
                case 0:  // two halves, as a 32-bit guest writes
                    g.store(table * kPageSize + entry * 8, value & 0xffffffff, 4);
                    g.store(table * kPageSize + entry * 8 + 4, value >> 32, 4);
                    break;
                case 1:  // a stray narrow store anywhere
                    g.store(rng() % (kGuestRamFrames * kPageSize - 8), value, 1u << (rng() % 4));
                    break;
                case 2:  // roots come and go; the initial one stays
                    if (rng() % 2 == 0) {
                        (void)g.shadow.create({PpgttRoot::Levels::Four, {table * kPageSize}});
                    } else {
                        (void)g.shadow.destroy({PpgttRoot::Levels::Four, {table * kPageSize}});
                    }
                    break;
                default:
                    g.store(table * kPageSize + entry * 8, value, 8);
                    break;
            }
            ++writes;
        }
        std::vector<IsolationSubject> subjects;
        for (auto& g : guests) {
            g->shadow.sync();  // what happens before every submission
            subjects.push_back({g->domid, nullptr, &g->shadow});
        }
        const IsolationReport r = check_isolation(ggtt, world, subjects);
        INFO("after batch " << batch << ": " << r.summary());
        REQUIRE(r.ok());
        REQUIRE(r.ppgtt_tables_checked > 0);
    }
    CHECK(writes == 100'000);
    uint64_t full = 0;
    uint64_t partial = 0;
    uint64_t scratched = 0;
    uint64_t huge = 0;
    for (auto& g : guests) {
        const PpgttCounters& c = g->shadow.counters();
        full += c.full_writes;
        partial += c.partial_writes;
        scratched += c.scratch_entries;
        huge += c.huge_entries_refused;
    }
    CHECK(full > 10'000);
    CHECK(partial > 1'000);
    CHECK(scratched > 100);
    CHECK(huge > 100);

    for (auto& g : guests) {
        g->shadow.reset();
        CHECK(g->pins.outstanding == 0);
        CHECK(g->hv.protected_pages.empty());
    }
    CHECK(world.live_pages() == 1);  // only the scratch page
}
