// Admission control: partitions fit or are refused whole, never overlap, and
// come back when their vGPU goes away.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "mediator/gm_allocator.hpp"

using namespace xengt;
using namespace xengt::mediator;

namespace {

bool overlaps(const GmRange& a, const GmRange& b) {
    return a.base.value() < b.base.value() + b.size && b.base.value() < a.base.value() + a.size;
}

}  // namespace

TEST_CASE("the host share comes first and partitions fill the rest without overlap",
          "[mediator][gm]") {
    // GVT-g's sizes: 256 MiB aperture, 4 GiB GGTT, 32 fences; the host keeps 128/384/4.
    GmAllocator gm(GmResources{});
    const GmSlices host = gm.host_slices();
    CHECK(host.mappable.base == GmAddr{0});
    CHECK(host.mappable.size == MiB(128));
    CHECK(host.hidden.base == GmAddr{MiB(256)});  // the hidden part starts at the aperture end
    CHECK(host.fence_count == 4);

    GmPartition a = gm.allocate({MiB(64), MiB(448), 4});
    GmPartition b = gm.allocate({MiB(64), MiB(448), 4});
    std::vector<GmSlices> all{host, a.slices(), b.slices()};
    for (size_t i = 0; i < all.size(); ++i) {
        CHECK(all[i].mappable.base.value() + all[i].mappable.size <= MiB(256));
        CHECK(all[i].hidden.base.value() >= MiB(256));
        CHECK(all[i].hidden.base.value() + all[i].hidden.size <= GiB(4));
        for (size_t j = i + 1; j < all.size(); ++j) {
            CHECK_FALSE(overlaps(all[i].mappable, all[j].mappable));
            CHECK_FALSE(overlaps(all[i].hidden, all[j].hidden));
            CHECK((all[i].fence_base + all[i].fence_count <= all[j].fence_base ||
                   all[j].fence_base + all[j].fence_count <= all[i].fence_base));
        }
    }
    CHECK(gm.free_low_bytes() == 0);
}

TEST_CASE("an oversized request is refused naming the resource, and nothing is taken",
          "[mediator][gm]") {
    GmAllocator gm(GmResources{});
    const uint64_t low = gm.free_low_bytes(), high = gm.free_high_bytes();
    const uint32_t fences = gm.free_fences();
    try {
        gm.allocate({MiB(256), MiB(448), 4});
        FAIL("a 256 MiB mappable slice cannot fit next to the host's 128 MiB");
    } catch (const AdmissionRefused& e) {
        std::string what = e.what();
        INFO(what);
        CHECK(what.find("mappable graphics memory") != std::string::npos);
        CHECK(what.find("asked 256 MiB") != std::string::npos);
        CHECK(what.find("128 MiB") != std::string::npos);
    }
    CHECK_THROWS_WITH(gm.allocate({MiB(64), GiB(4), 4}), Catch::Contains("hidden graphics memory"));
    CHECK_THROWS_WITH(gm.allocate({0, MiB(64), 4}), Catch::Contains("vgt_low_gm_sz"));
    CHECK_THROWS_WITH(gm.allocate({MiB(64), MiB(64), 0}), Catch::Contains("vgt_fence_sz"));
    CHECK(gm.free_low_bytes() == low);
    CHECK(gm.free_high_bytes() == high);
    CHECK(gm.free_fences() == fences);
}

TEST_CASE("fences run out before memory does, and the refusal says so", "[mediator][gm]") {
    // Plenty of GM, 32 fences: the host's 4 plus seven partitions of 4 leave none.
    GmAllocator gm(GmResources{GiB(1), GiB(4), 32});
    std::vector<GmPartition> parts;
    for (int i = 0; i < 7; ++i) {
        parts.push_back(gm.allocate({MiB(16), MiB(16), 4}));
    }
    CHECK(gm.free_fences() == 0);
    CHECK_THROWS_WITH(gm.allocate({MiB(16), MiB(16), 1}),
                      Catch::Contains("not enough fence registers: asked 1, 0 free"));
}

TEST_CASE("releasing a partition makes room again, coalescing its neighbours", "[mediator][gm]") {
    GmAllocator gm(GmResources{});
    std::optional<GmPartition> a(gm.allocate({MiB(32), MiB(128), 4}));
    std::optional<GmPartition> b(gm.allocate({MiB(32), MiB(128), 4}));
    GmPartition c = gm.allocate({MiB(64), MiB(128), 4});
    CHECK_THROWS_AS(gm.allocate({MiB(64), MiB(64), 4}), AdmissionRefused);  // aperture full

    a.reset();
    CHECK_THROWS_AS(gm.allocate({MiB(64), MiB(64), 4}), AdmissionRefused);  // 32 MiB holes only
    b.reset();  // now a and b's slices form one 64 MiB extent
    GmPartition d = gm.allocate({MiB(64), MiB(64), 4});
    CHECK(d.slices().mappable.base == GmAddr{MiB(128)});
    CHECK_FALSE(overlaps(d.slices().mappable, c.slices().mappable));
}

TEST_CASE("a GPU too small for the host's own share is refused at once", "[mediator][gm]") {
    CHECK_THROWS_AS(GmAllocator(GmResources{MiB(64), GiB(4), 32}), AdmissionRefused);
    CHECK_THROWS_AS(GmAllocator(GmResources{MiB(512), MiB(256), 32}), AdmissionRefused);
    CHECK_THROWS_AS(GmAllocator(GmResources{MiB(256), GiB(4), 2}), AdmissionRefused);
}
