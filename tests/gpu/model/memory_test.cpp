#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "gpu/model/hw_regs.hpp"
#include "model_rig.hpp"

namespace xengt::gpu::model {
namespace {

using test::Rig;

TEST_CASE("The model identifies as a Skylake GT2 with the documented BARs", "[gpu][model][mem]") {
    Rig rig;
    const GpuIdentity& id = rig.gpu.identity();
    CHECK(id.vendor_id == 0x8086);
    CHECK(id.device_id == 0x1912);
    CHECK(id.revision == 6);
    CHECK(id.mmio_bar_bytes == MiB(16));
    CHECK(id.aperture_bytes == MiB(256));
    CHECK(id.ggtt_bytes == GiB(4));
    CHECK(id.stolen_bytes == 0);
    CHECK_FALSE(rig.gpu.capture_primary_plane().has_value());
}

TEST_CASE("GGTT entries round trip, and out-of-range indices read 0 and drop writes",
          "[gpu][model][mem]") {
    Rig rig;
    const GgttEntry e = GgttEntry::map(HostFrame{7});
    rig.gpu.write_ggtt(0, e);
    rig.gpu.write_ggtt(hw::kGgttEntries - 1, GgttEntry{0x1234000 | 1});
    CHECK(rig.gpu.read_ggtt(0).raw == e.raw);
    CHECK(rig.gpu.read_ggtt(hw::kGgttEntries - 1).raw == (0x1234000 | 1));
    rig.gpu.write_ggtt(hw::kGgttEntries, e);
    CHECK(rig.gpu.read_ggtt(hw::kGgttEntries).raw == 0);
    CHECK(rig.gpu.ggtt_out_of_range() == 2);
}

TEST_CASE("GGTT entries are also BAR0 + 8 MiB, 64-bit or as two dword halves",
          "[gpu][model][mem]") {
    Rig rig;
    const uint32_t entry5 = hw::kGgttWindowOffset + 5 * 8;
    rig.wr(entry5, 0x00003001);  // low half first, as a guest may do it
    rig.wr(entry5 + 4, 0x12);
    CHECK(rig.gpu.read_ggtt(5).raw == 0x0000001200003001ull);
    rig.gpu.write64(MmioOffset{entry5}, GgttEntry::map(HostFrame{9}).raw);
    CHECK(rig.gpu.read_ggtt(5).frame() == HostFrame{9});
    CHECK(rig.gpu.read64(MmioOffset{entry5}) == GgttEntry::map(HostFrame{9}).raw);
}

TEST_CASE("translate maps present entries to host addresses and non-present to nothing",
          "[gpu][model][mem]") {
    Rig rig;
    rig.gpu.write_ggtt(3, GgttEntry::map(HostFrame{42}));
    rig.gpu.write_ggtt(4, GgttEntry{GgttEntry::map(HostFrame{43}).raw & ~GgttEntry::kPresent});
    CHECK(rig.gpu.translate(GmAddr{3 * kPageSize + 0x123}) == 42 * kPageSize + 0x123);
    CHECK_FALSE(rig.gpu.translate(GmAddr{4 * kPageSize}).has_value());
    CHECK_FALSE(rig.gpu.translate(GmAddr{GiB(4)}).has_value());
}

TEST_CASE("Aperture accesses cross GGTT pages into non-contiguous machine frames",
          "[gpu][model][mem]") {
    Rig rig;
    rig.gpu.write_ggtt(10, GgttEntry::map(HostFrame{20}));
    rig.gpu.write_ggtt(11, GgttEntry::map(HostFrame{5}));
    std::vector<std::byte> data(256);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = static_cast<std::byte>(i + 1);
    }
    const uint64_t start = 11 * kPageSize - 100;  // 100 bytes in page 10, 156 in page 11
    REQUIRE(rig.gpu.aperture_write(start, data));

    std::vector<std::byte> back(data.size());
    REQUIRE(rig.gpu.aperture_read(start, back));
    CHECK(back == data);
    CHECK(std::memcmp(rig.memory.frame(HostFrame{20}) + kPageSize - 100, data.data(), 100) == 0);
    CHECK(std::memcmp(rig.memory.frame(HostFrame{5}), data.data() + 100, 156) == 0);
    CHECK(rig.gpu.aperture_faults() == 0);
}

TEST_CASE("Aperture pages without a usable GGTT entry fault: reads 0, writes dropped",
          "[gpu][model][mem]") {
    Rig rig;
    rig.gpu.write_ggtt(1, GgttEntry::map(HostFrame{test::kRigFrames + 100}));  // no such frame
    std::array<std::byte, 16> junk;
    junk.fill(std::byte{0xEE});
    CHECK(rig.gpu.aperture_write(0, junk));          // entry 0 non-present
    CHECK(rig.gpu.aperture_write(kPageSize, junk));  // frame outside memory
    std::array<std::byte, 16> back;
    back.fill(std::byte{0x11});
    CHECK(rig.gpu.aperture_read(0, back));
    CHECK(std::all_of(back.begin(), back.end(), [](std::byte b) { return b == std::byte{0}; }));
    CHECK(rig.gpu.aperture_faults() == 3);
    // Frame 0 (what a zeroed entry names) was not touched by the dropped write.
    CHECK(rig.memory.frame(HostFrame{0})[0] == std::byte{0});
}

TEST_CASE("Aperture accesses beyond the aperture are rejected", "[gpu][model][mem]") {
    Rig rig;
    std::array<std::byte, 8> buf{};
    CHECK_FALSE(rig.gpu.aperture_read(MiB(256), buf));
    CHECK_FALSE(rig.gpu.aperture_write(MiB(256) - 4, buf));
    CHECK(rig.gpu.aperture_read(MiB(256) - 8, buf));
}

}  // namespace
}  // namespace xengt::gpu::model
