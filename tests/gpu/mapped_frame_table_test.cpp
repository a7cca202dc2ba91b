// MappedFrameTable: slots of CPU-addressable pages as host frames, owned by a
// guest or by the host page pool, readable lock-free while slots churn.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <latch>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "gpu/mapped_frame_table.hpp"
#include "gpu/model/soft_gpu.hpp"

using namespace xengt;
using Kind = mediator::FrameOwner::Kind;

namespace {

// Stand-ins for foreign-mapped guest pages: page-aligned, alive for the test.
struct alignas(4096) Page {
    std::array<std::byte, kPageSize> bytes{};
    std::byte* data() { return bytes.data(); }
};

bool all_zero(const std::byte* p) {
    return std::all_of(p, p + kPageSize, [](std::byte b) { return b == std::byte{0}; });
}

}  // namespace

TEST_CASE("guest pages are added, named by owner, removed and their slots reused",
          "[gpu][frames]") {
    gpu::MappedFrameTable table(16);
    CHECK(table.frames() == 16);
    std::vector<Page> pages(3);
    const auto a = table.add_guest_page(pages[0].data(), 3, GuestFrame{0x10});
    const auto b = table.add_guest_page(pages[1].data(), 3, GuestFrame{0x11});
    const auto c = table.add_guest_page(pages[2].data(), 4, GuestFrame{0x10});
    REQUIRE((a && b && c));
    CHECK(std::set{a->value(), b->value(), c->value()}.size() == 3);
    CHECK(table.guest_pages() == 3);
    CHECK(table.host_pages() == 0);
    CHECK(table.frame(*b) == pages[1].data());
    CHECK(table.peek(*c) == pages[2].data());

    const mediator::FrameOwner ob = table.owner(*b);
    CHECK(ob.kind == Kind::Guest);
    CHECK(ob.guest == 3);
    CHECK(ob.gfn == GuestFrame{0x11});
    CHECK(table.owner(*c).guest == 4);

    // Removed: the frame faults, owns nothing, and its slot comes back first
    // in the order slots were freed.
    table.remove(*b);
    table.remove(*a);
    CHECK(table.frame(*b) == nullptr);
    CHECK(table.peek(*b) == nullptr);
    CHECK(table.owner(*b).kind == Kind::None);
    CHECK(table.guest_pages() == 1);
    table.remove(*b);  // twice: ignored
    CHECK(table.guest_pages() == 1);

    const auto again1 = table.add_guest_page(pages[0].data(), 5, GuestFrame{7});
    const auto again2 = table.add_guest_page(pages[1].data(), 5, GuestFrame{8});
    REQUIRE((again1 && again2));
    CHECK(*again1 == *b);
    CHECK(*again2 == *a);
    CHECK(table.owner(*again1).guest == 5);
    CHECK(table.owner(*again1).gfn == GuestFrame{7});
    CHECK_FALSE(table.add_guest_page(nullptr, 5, GuestFrame{9}));
}

TEST_CASE("pool pages are zeroed, distinct, host-owned and reused after release", "[gpu][frames]") {
    gpu::MappedFrameTable table(4096);
    std::set<uint64_t> frames;
    std::set<const std::byte*> datas;
    std::vector<mediator::HostPage> held;
    // More than one chunk's worth.
    for (size_t i = 0; i < gpu::MappedFrameTable::kChunkPages + 10; ++i) {
        const auto p = table.allocate();
        REQUIRE(p);
        REQUIRE(all_zero(p->data));
        CHECK(table.frame(p->frame) == p->data);
        CHECK(reinterpret_cast<uintptr_t>(p->data) % kPageSize == 0);
        frames.insert(p->frame.value());
        datas.insert(p->data);
        held.push_back(*p);
        std::memset(p->data, 0xa5, kPageSize);  // dirty it for the reuse check
    }
    CHECK(frames.size() == held.size());
    CHECK(datas.size() == held.size());
    CHECK(table.host_pages() == held.size());
    CHECK(table.pool_pages_mapped() == 2 * gpu::MappedFrameTable::kChunkPages);
    const mediator::FrameOwner o = table.owner(held[5].frame);
    CHECK(o.kind == Kind::HostPage);
    CHECK(o.guest == 0);

    // A released page comes back zeroed, and no new memory is mapped for it.
    table.release(held[5].frame);
    CHECK(table.frame(held[5].frame) == nullptr);
    CHECK(table.owner(held[5].frame).kind == Kind::None);
    CHECK(table.host_pages() == held.size() - 1);
    const auto reused = table.allocate();
    REQUIRE(reused);
    CHECK(reused->data == held[5].data);
    CHECK(all_zero(reused->data));
    CHECK(table.pool_pages_mapped() == 2 * gpu::MappedFrameTable::kChunkPages);
}

TEST_CASE("guest and pool frames cannot be freed through each other's call", "[gpu][frames]") {
    gpu::MappedFrameTable table(8);
    Page g;
    const auto gf = table.add_guest_page(g.data(), 1, GuestFrame{2});
    const auto hp = table.allocate();
    REQUIRE((gf && hp));
    table.release(*gf);
    table.remove(hp->frame);
    table.remove(HostFrame{0});
    table.release(HostFrame{0});
    table.remove(HostFrame{1000});
    table.release(HostFrame{~uint64_t{0}});
    CHECK(table.frame(*gf) == g.data());
    CHECK(table.frame(hp->frame) == hp->data);
    CHECK(table.guest_pages() == 1);
    CHECK(table.host_pages() == 1);
}

TEST_CASE("slot 0 is never handed out and a full table answers nullopt", "[gpu][frames]") {
    gpu::MappedFrameTable table(6);  // slots 1..5
    std::vector<Page> pages(4);
    std::vector<HostFrame> used;
    for (Page& p : pages) {
        const auto f = table.add_guest_page(p.data(), 1, GuestFrame{used.size()});
        REQUIRE(f);
        used.push_back(*f);
    }
    const auto hp = table.allocate();
    REQUIRE(hp);
    used.push_back(hp->frame);
    for (HostFrame f : used) {
        CHECK(f.value() != 0);
        CHECK(f.value() < table.frames());
    }
    Page extra;
    CHECK_FALSE(table.add_guest_page(extra.data(), 1, GuestFrame{99}));
    CHECK_FALSE(table.allocate());
    CHECK(table.guest_pages() == 4);
    CHECK(table.host_pages() == 1);

    CHECK(table.frame(HostFrame{0}) == nullptr);
    CHECK(table.owner(HostFrame{0}).kind == Kind::None);
    CHECK(table.frame(HostFrame{6}) == nullptr);
    CHECK(table.owner(HostFrame{6}).kind == Kind::None);
    CHECK(table.peek(HostFrame{~uint64_t{0}}) == nullptr);

    table.remove(used[2]);
    const auto hp2 = table.allocate();
    REQUIRE(hp2);
    CHECK(hp2->frame == used[2]);
    CHECK(all_zero(hp2->data));

    CHECK_THROWS_AS(gpu::MappedFrameTable(1), std::invalid_argument);
    CHECK_THROWS_AS(gpu::MappedFrameTable((uint64_t{1} << 32) + 1), std::invalid_argument);
}

TEST_CASE("the default table has a million slots and costs nothing until used", "[gpu][frames]") {
    gpu::MappedFrameTable table;
    CHECK(table.frames() == gpu::MappedFrameTable::kDefaultCapacity);
    CHECK(table.frame(HostFrame{table.frames() - 1}) == nullptr);
    CHECK(table.pool_pages_mapped() == 0);
}

TEST_CASE("frame() from another thread sees whole slots while slots churn", "[gpu][frames]") {
    constexpr uint64_t kSlots = 32;
    constexpr int kRounds = 20000;
    gpu::MappedFrameTable table(kSlots);
    std::vector<Page> pages(8);
    Page stable_page;
    stable_page.bytes[0] = std::byte{0x5a};
    const auto stable = table.add_guest_page(stable_page.data(), 9, GuestFrame{0x99});
    REQUIRE(stable);

    std::latch start(2);
    std::atomic<uint64_t> bad{0};
    std::atomic<uint64_t> seen_pages{0};
    std::thread reader([&] {
        start.arrive_and_wait();
        for (int round = 0; round < kRounds; ++round) {
            const std::byte* st = table.frame(*stable);
            if (st != stable_page.data() || st[0] != std::byte{0x5a}) {
                bad.fetch_add(1);
            }
            for (uint64_t s = 0; s < kSlots; ++s) {
                std::byte* p = table.frame(HostFrame{s});
                if (p == nullptr) {
                    continue;
                }
                seen_pages.fetch_add(1, std::memory_order_relaxed);
                // Whatever the interleaving: never slot 0, always a whole
                // page, and an owner that is one this test publishes. (Pages
                // are not dereferenced: pool pages are re-zeroed on reuse, and
                // only the caller's contract makes stale pointers harmless.)
                const mediator::FrameOwner o = table.owner(HostFrame{s});
                const bool owner_ok = o.kind == Kind::None || o.kind == Kind::HostPage ||
                                      (o.kind == Kind::Guest && o.guest == 9);
                if (s == 0 || reinterpret_cast<uintptr_t>(p) % kPageSize != 0 || !owner_ok) {
                    bad.fetch_add(1);
                }
            }
        }
    });
    // Writer: guest pages and pool pages come and go.
    start.arrive_and_wait();
    std::vector<HostFrame> guest_frames;
    std::vector<HostFrame> pool_frames;
    for (int round = 0; round < kRounds; ++round) {
        Page& pg = pages[static_cast<size_t>(round) % pages.size()];
        if (const auto f = table.add_guest_page(pg.data(), 9, GuestFrame{uint64_t(round)})) {
            guest_frames.push_back(*f);
        }
        if (const auto hp = table.allocate()) {
            pool_frames.push_back(hp->frame);
        }
        if (guest_frames.size() > 6) {
            table.remove(guest_frames.front());
            guest_frames.erase(guest_frames.begin());
        }
        if (pool_frames.size() > 6) {
            table.release(pool_frames.front());
            pool_frames.erase(pool_frames.begin());
        }
    }
    reader.join();
    CHECK(bad.load() == 0);
    CHECK(seen_pages.load() > 0);
    CHECK(table.guest_pages() == guest_frames.size() + 1);
    CHECK(table.host_pages() == pool_frames.size());
}

TEST_CASE("a SoftGpu over a MappedFrameTable reaches slots through its GGTT", "[gpu][frames]") {
    gpu::MappedFrameTable table(64);
    gpu::model::SoftGpu gpu(table);
    Page guest;
    const auto gf = table.add_guest_page(guest.data(), 2, GuestFrame{0x40});
    const auto hp = table.allocate();
    REQUIRE((gf && hp));
    gpu.write_ggtt(0, gpu::GgttEntry::map(hp->frame));
    gpu.write_ggtt(1, gpu::GgttEntry::map(*gf));

    const std::array<std::byte, 6> in{std::byte{'s'}, std::byte{'l'}, std::byte{'o'},
                                      std::byte{'t'}, std::byte{'s'}, std::byte{'!'}};
    REQUIRE(gpu.aperture_write(kPageSize - 2, in));  // 2 bytes in the pool page, 4 in the guest's
    CHECK(std::memcmp(hp->data + kPageSize - 2, in.data(), 2) == 0);
    CHECK(std::memcmp(guest.data(), in.data() + 2, 4) == 0);
    std::array<std::byte, 6> out{};
    REQUIRE(gpu.aperture_read(kPageSize - 2, out));
    CHECK(out == in);
    CHECK(gpu.aperture_faults() == 0);

    // Once removed (after the GGTT entry was rewritten, as the contract asks),
    // the slot is gone: an entry still naming it faults instead of reaching
    // the old page.
    gpu.write_ggtt(1, gpu::GgttEntry{});
    table.remove(*gf);
    gpu.write_ggtt(2, gpu::GgttEntry::map(*gf));
    std::memset(guest.data(), 0, kPageSize);
    REQUIRE(gpu.aperture_write(2 * kPageSize, in));
    CHECK(all_zero(guest.data()));
    CHECK(gpu.aperture_faults() == 1);
}
