#include <catch2/catch.hpp>

#include <unistd.h>
#include <filesystem>
#include <string>

#include "display_rig.hpp"
#include "gpu/png.hpp"

namespace xengt::gpu::model {
namespace {

using namespace test;

constexpr uint32_t kFbGm = 0x4000000;  // GGTT address of the framebuffer (64 MiB)
constexpr Mode kMode{64, 48};
constexpr uint32_t kStride = 320;  // 80 pixels: wider than the mode, 64-byte multiple
constexpr unsigned kFbPages = 4;   // 48 rows * 320 bytes = 15 KiB
constexpr uint32_t kBackground = 0x00204060;
constexpr uint32_t kBox = 0x00F08010;

uint32_t xy(uint32_t x, uint32_t y) {
    return y << 16 | x;
}

std::filesystem::path temp_png(const char* name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("xengt-display-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

// Paints the background and a box (20,10)-(50,30) with two XY_COLOR_BLTs on BCS.
void blit_frame(Driver& d) {
    d.enable_engine(kBcs);
    Context ctx = d.make_context(kBcs, 3);
    const uint32_t batch = d.alloc(1);
    const uint32_t br13 = kBr13Depth32 | 0xF0u << 16 | kStride;  // PATCOPY, 32 bpp, pitch
    d.poke(batch, {kXyColorBlt32, br13, xy(0, 0), xy(kMode.width, kMode.height), kFbGm, 0,
                   kBackground, kXyColorBlt32, br13, xy(20, 10), xy(50, 30), kFbGm, 0, kBox,
                   kMiUserInterrupt, kMiBatchBufferEnd});
    d.emit(ctx, {kMiBatchBufferStart, batch, 0});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqUser));
    REQUIRE(d.wait_idle(kBcs));
}

bool in_box(uint32_t x, uint32_t y) {
    return x >= 20 && x < 50 && y >= 10 && y < 30;
}

TEST_CASE("A blitted frame is captured through the GGTT and survives a PNG round trip",
          "[gpu][model][display]") {
    Driver d;
    map_framebuffer(d, kFbGm, kFbPages);
    blit_frame(d);
    modeset(d, kMode, kFbGm, kStride);

    const auto cap = d.gpu.capture_primary_plane();
    REQUIRE(cap);
    REQUIRE(cap->width == kMode.width);
    REQUIRE(cap->height == kMode.height);
    for (uint32_t y = 0; y < cap->height; ++y) {
        for (uint32_t x = 0; x < cap->width; ++x) {
            INFO("pixel " << x << "," << y);
            CHECK(cap->pixels[y * cap->width + x] == (in_box(x, y) ? kBox : kBackground));
        }
    }

    const auto path = temp_png("blit.png");
    std::string error;
    REQUIRE(write_png(*cap, path.string(), &error));
    const auto back = read_png(path.string(), &error);
    REQUIRE(back);
    REQUIRE(back->width == kMode.width);
    REQUIRE(back->height == kMode.height);
    CHECK(back->pixels[0] == (0xFF000000u | kBackground));
    CHECK(back->pixels[10 * kMode.width + 20] == (0xFF000000u | kBox));  // box corner
    CHECK(back->pixels[29 * kMode.width + 49] == (0xFF000000u | kBox));
    CHECK(back->pixels[30 * kMode.width + 49] == (0xFF000000u | kBackground));
    for (size_t i = 0; i < back->pixels.size(); ++i) {
        CHECK((back->pixels[i] & 0xFFFFFF) == cap->pixels[i]);
    }
    std::filesystem::remove_all(path.parent_path());
}

TEST_CASE("Capture honours stride, plane offset and clipping to the pipe source",
          "[gpu][model][display]") {
    Driver d;
    const uint64_t phys = map_framebuffer(d, kFbGm, kFbPages);
    const auto pattern = [](uint32_t x, uint32_t y) { return x << 16 | y << 8 | (x ^ y); };
    for (uint32_t y = 0; y < kMode.height; ++y) {
        for (uint32_t x = 0; x < kStride / 4; ++x) {
            poke_pixel(d, phys, kFbPages, uint64_t{y} * kStride + x * 4, pattern(x, y));
        }
    }
    modeset(d, Mode{40, 30}, kFbGm, kStride);
    d.wr(hw::kPlaneOffsetA, xy(5, 7));              // scan out from (5,7) of the surface
    d.wr(hw::kPlanePosA, xy(8, 6));                 // placed at (8,6) in the pipe
    d.wr(hw::kPlaneSizeA, minus_one_pair(30, 40));  // 40x30: clipped to 32x24 by PIPESRC
    const auto cap = d.gpu.capture_primary_plane();
    REQUIRE(cap);
    REQUIRE(cap->width == 32);
    REQUIRE(cap->height == 24);
    for (uint32_t y = 0; y < cap->height; ++y) {
        for (uint32_t x = 0; x < cap->width; ++x) {
            INFO("pixel " << x << "," << y);
            CHECK(cap->pixels[y * cap->width + x] == pattern(x + 5, y + 7));
        }
    }

    const auto path = temp_png("pattern.png");
    REQUIRE(write_png(*cap, path.string(), nullptr));
    const auto back = read_png(path.string());
    REQUIRE(back);
    CHECK(back->width == 32);
    CHECK(back->pixels[3 * 32 + 17] == (0xFF000000u | pattern(22, 10)));
    std::filesystem::remove_all(path.parent_path());
}

TEST_CASE("Capture is nullopt unless pipe and plane scan out a supported, mapped surface",
          "[gpu][model][display]") {
    Driver d;
    map_framebuffer(d, kFbGm, kFbPages);
    const uint32_t xrgb = hw::kPlaneEnable | hw::kPlaneFormatXrgb8888 << hw::kPlaneFormatShift;
    CHECK_FALSE(d.gpu.capture_primary_plane());  // reset: all disabled
    modeset(d, kMode, kFbGm, kStride);
    REQUIRE(d.gpu.capture_primary_plane());
    SECTION("plane disabled") {
        d.wr(hw::kPlaneCtlA, xrgb & ~hw::kPlaneEnable);
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
    SECTION("pipe disabled (and its state bit with it)") {
        d.wr(hw::kPipeConfA, 0);
        CHECK((d.rd(hw::kPipeConfA) & hw::kPipeConfState) == 0);
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
    SECTION("RGB565 format") {
        d.wr(hw::kPlaneCtlA, hw::kPlaneEnable | 14u << hw::kPlaneFormatShift);
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
    SECTION("XBGR order") {
        d.wr(hw::kPlaneCtlA, xrgb | hw::kPlaneRgbxOrder);
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
    SECTION("X-tiled surface") {
        d.wr(hw::kPlaneCtlA, xrgb | 1u << hw::kPlaneTilingShift);
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
    SECTION("a page of the surface is not present in the GGTT") {
        d.gpu.write_ggtt((kFbGm >> kPageShift) + 2, GgttEntry{});
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
    SECTION("plane placed outside the pipe") {
        d.wr(hw::kPlanePosA, xy(kMode.width, 0));
        CHECK_FALSE(d.gpu.capture_primary_plane());
    }
}

TEST_CASE("PIPECONF's state bit follows enable and is read-only", "[gpu][model][display]") {
    Driver d;
    d.wr(hw::kPipeConfA, hw::kPipeConfState);
    CHECK(d.rd(hw::kPipeConfA) == 0);
    d.wr(hw::kPipeConfA, hw::kPipeConfEnable);
    CHECK(d.rd(hw::kPipeConfA) == (hw::kPipeConfEnable | hw::kPipeConfState));
}

TEST_CASE("PNG errors are reported, not fatal", "[gpu][model][display][png]") {
    PlaneCapture cap{2, 1, {0x00FF0000, 0x0000FF00}};
    std::string error;
    CHECK_FALSE(write_png(cap, "/nonexistent-dir/x.png", &error));
    CHECK(error.find("/nonexistent-dir/x.png") != std::string::npos);
    CHECK_FALSE(write_png(PlaneCapture{3, 3, {}}, temp_png("bad.png").string(), &error));

    const auto path = temp_png("truncated.png");
    REQUIRE(write_png(cap, path.string(), &error));
    std::filesystem::resize_file(path, 40);  // cut inside the image data: libpng longjmps
    error.clear();
    CHECK_FALSE(read_png(path.string(), &error));
    CHECK_FALSE(error.empty());
    std::filesystem::resize_file(path, 0);
    CHECK_FALSE(read_png(path.string(), &error));
    CHECK_FALSE(read_png((path.parent_path() / "missing.png").string(), &error));
    std::filesystem::remove_all(path.parent_path());
}

}  // namespace
}  // namespace xengt::gpu::model
