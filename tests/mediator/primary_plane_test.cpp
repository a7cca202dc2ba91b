// A vGPU's primary plane as the display owner sees it: decoding per platform
// (intel-gpu.md §7.1, §7.2), the scan-out check (format, stride, and the
// surface inside the vGPU's own graphics memory), and the snapshot the vGPU
// publishes as the guest programs its display.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "mediator/display/primary_plane.hpp"
#include "mediator/pvinfo.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::display;
using namespace xengt::mediator::test;

namespace {

constexpr GmRange kMappable{GmAddr{MiB(128)}, MiB(64)};
constexpr GmRange kHidden{GmAddr{MiB(512)}, MiB(384)};
constexpr uint32_t kEnable = 1u << 31;
constexpr uint32_t kSklXrgb = 4u << 24;
constexpr uint32_t kBdwXrgb = 6u << 26;

constexpr uint32_t minus_one_pair(uint32_t a, uint32_t b) {
    return (a - 1) << 16 | (b - 1);
}

// A Skylake plane: 64x48 linear XRGB8888, stride 320 bytes, at `surf`.
PlaneSnapshot skl_plane(uint32_t surf = MiB(128)) {
    PlaneSnapshot s;
    s.platform = Platform::Skylake;
    s.mappable = kMappable;
    s.hidden = kHidden;
    s.display_ready = true;
    s.pipe_conf = kEnable;
    s.pipe_src = minus_one_pair(64, 48);
    s.plane = {kEnable | kSklXrgb, 320 / 64, 0, minus_one_pair(48, 64), 0, surf};
    return s;
}

}  // namespace

TEST_CASE("a Skylake plane decodes from PLANE_CTL, STRIDE, SIZE, OFFSET and SURF",
          "[display][plane]") {
    PlaneSnapshot s = skl_plane(0x08001000);
    s.plane.offset = 3u << 16 | 5;
    PlaneLayout l = decode(s);
    CHECK(l.pipe_enabled);
    CHECK(l.plane_enabled);
    CHECK(l.format == PixelFormat::Xrgb8888);
    CHECK(l.tiling == Tiling::Linear);
    CHECK(l.rotation == 0);
    CHECK(l.width == 64);
    CHECK(l.height == 48);
    CHECK(l.stride_bytes == 320);
    CHECK(l.x_offset == 5);
    CHECK(l.y_offset == 3);
    CHECK(l.surface == GmAddr{0x08001000});

    // Surface bits 11:0 are not address; RGBX order, tiling and rotation.
    s.plane.surf = 0x08001FFF;
    s.plane.ctl = kEnable | kSklXrgb | 1u << 20 | 1u << 10 | 2;
    l = decode(s);
    CHECK(l.surface == GmAddr{0x08001000});
    CHECK(l.format == PixelFormat::Xbgr8888);
    CHECK(l.tiling == Tiling::X);
    CHECK(l.stride_bytes == 5 * 512);  // X-tiled strides count 512-byte units
    CHECK(l.rotation == 180);
    s.plane.ctl = kEnable | 14u << 24 | 4u << 10;
    l = decode(s);
    CHECK(l.format == PixelFormat::Rgb565);
    CHECK(l.tiling == Tiling::Y);
    CHECK(l.stride_bytes == 5 * 128);
    CHECK(std::string(to_string(PixelFormat::Rgb565)) == "RGB565");
}

TEST_CASE("a Broadwell plane takes its format from DSPCNTR 29:26 and its size from PIPESRC",
          "[display][plane]") {
    PlaneSnapshot s = skl_plane();
    s.platform = platform_of(0x1616);  // a Broadwell GT2
    REQUIRE(s.platform == Platform::Broadwell);
    CHECK(platform_of(0x1912) == Platform::Skylake);
    s.pipe_src = minus_one_pair(100, 30);
    s.plane.ctl = kEnable | kBdwXrgb;
    s.plane.stride = 448 | 0x3F;  // bytes; bits 5:0 are not significant
    s.plane.size = 0xFFFFFFFF;    // no plane size register on Broadwell
    PlaneLayout l = decode(s);
    CHECK(l.format == PixelFormat::Xrgb8888);
    CHECK(l.width == 100);
    CHECK(l.height == 30);
    CHECK(l.stride_bytes == 448);
    CHECK(l.tiling == Tiling::Linear);
    CHECK(check_scanout(s).problem == ScanoutProblem::None);

    s.plane.ctl = kEnable | 14u << 26 | 1u << 10 | 1u << 15;
    l = decode(s);
    CHECK(l.format == PixelFormat::Xbgr8888);
    CHECK(l.tiling == Tiling::X);
    CHECK(l.rotation == 180);
}

TEST_CASE("a linear XRGB8888 plane inside the vGPU's memory can be scanned out",
          "[display][plane]") {
    const ScanoutCheck c = check_scanout(skl_plane(MiB(128) + 0x3000));
    REQUIRE(c.problem == ScanoutProblem::None);
    CHECK(c.scanout.width == 64);
    CHECK(c.scanout.height == 48);
    CHECK(c.scanout.stride_bytes == 320);
    CHECK(c.scanout.surface == GmAddr{MiB(128) + 0x3000});
    // In the hidden slice too: the display reads GM, not the aperture.
    CHECK(check_scanout(skl_plane(MiB(600))).problem == ScanoutProblem::None);
    // display_ready is not the check's business (a background capture needs none).
    PlaneSnapshot s = skl_plane();
    s.display_ready = false;
    CHECK(check_scanout(s).problem == ScanoutProblem::None);
}

TEST_CASE("each reason a plane cannot be scanned out is told apart and explained",
          "[display][plane]") {
    PlaneSnapshot s = skl_plane();
    s.pipe_conf = 0;
    CHECK(check_scanout(s).problem == ScanoutProblem::PipeOff);
    CHECK(explain(ScanoutProblem::PipeOff, s) == "its pipe A is off");

    s = skl_plane();
    s.plane.ctl &= ~kEnable;
    CHECK(check_scanout(s).problem == ScanoutProblem::PlaneOff);

    s = skl_plane();
    s.plane.ctl |= 1u << 20;  // XBGR
    CHECK(check_scanout(s).problem == ScanoutProblem::UnsupportedFormat);
    CHECK(explain(ScanoutProblem::UnsupportedFormat, s).find("XBGR8888") != std::string::npos);

    s = skl_plane();
    s.plane.ctl |= 1u << 10;
    CHECK(check_scanout(s).problem == ScanoutProblem::Tiled);

    s = skl_plane();
    s.plane.ctl |= 1;
    CHECK(check_scanout(s).problem == ScanoutProblem::Rotated);

    s = skl_plane();
    s.plane.stride = 4;  // 256 bytes: exactly a row
    CHECK(check_scanout(s).problem == ScanoutProblem::None);
    s.plane.offset = 1;  // one pixel in: the row runs past the stride
    CHECK(check_scanout(s).problem == ScanoutProblem::RowOutsideStride);
    CHECK(explain(ScanoutProblem::RowOutsideStride, s) ==
          "a row of 64 pixels from x offset 1 needs 260 bytes but its stride is 256");
}

TEST_CASE("a surface reaching past the end of the vGPU's slices is refused",
          "[display][plane][isolation]") {
    const uint64_t bytes = 48 * 320;
    const uint64_t end = kMappable.base.value() + kMappable.size;
    // The last rows fit exactly at the end of the mappable slice ...
    const uint32_t last = static_cast<uint32_t>((end - bytes) & ~0xFFFull);
    CHECK(check_scanout(skl_plane(last)).problem == ScanoutProblem::None);
    // ... one page further they do not (the next guest's memory follows).
    PlaneSnapshot s = skl_plane(last + 0x1000);
    CHECK(check_scanout(s).problem == ScanoutProblem::OutsideGm);
    CHECK(explain(ScanoutProblem::OutsideGm, s) ==
          "its surface 0xbffd000 + 15360 bytes lies outside its graphics memory "
          "(mappable 0x8000000+0x4000000, hidden 0x20000000+0x18000000)");
    // Below the slice, in the host's share, and in between the slices.
    CHECK(check_scanout(skl_plane(MiB(127))).problem == ScanoutProblem::OutsideGm);
    CHECK(check_scanout(skl_plane(MiB(300))).problem == ScanoutProblem::OutsideGm);
    CHECK(check_scanout(skl_plane(0)).problem == ScanoutProblem::OutsideGm);
    // Exactly up to the end, then one row more.
    s = skl_plane(static_cast<uint32_t>(end - 0x4000));
    s.plane.stride = 256 / 64;
    s.plane.size = minus_one_pair(64, 64);  // 64 rows of 256 bytes: 16 KiB
    CHECK(check_scanout(s).problem == ScanoutProblem::None);
    s.plane.size = minus_one_pair(65, 64);
    CHECK(check_scanout(s).problem == ScanoutProblem::OutsideGm);
    // Rows skipped by the y offset count too: they push the scan-out further.
    s.plane.size = minus_one_pair(64, 64);
    s.plane.offset = 1u << 16;
    CHECK(check_scanout(s).problem == ScanoutProblem::OutsideGm);
}

TEST_CASE("inside_slices: each slice alone, or both where they are adjacent",
          "[display][plane][isolation]") {
    const GmRange lo{GmAddr{0x1000}, 0x2000};
    const GmRange hi{GmAddr{0x3000}, 0x1000};  // adjacent to lo
    const GmRange far{GmAddr{0x10000}, 0x1000};
    CHECK(inside_slices(GmAddr{0x1000}, 0x2000, lo, far));
    CHECK_FALSE(inside_slices(GmAddr{0x1000}, 0x2001, lo, far));
    CHECK_FALSE(inside_slices(GmAddr{0x1000}, 0, lo, far));
    CHECK(inside_slices(GmAddr{0x2000}, 0x2000, lo, hi));
    CHECK(inside_slices(GmAddr{0x2000}, 0x2000, hi, lo));
    CHECK_FALSE(inside_slices(GmAddr{0x2000}, 0x2001, lo, hi));
    CHECK_FALSE(inside_slices(GmAddr{0x2000}, 0x2000, lo, far));
    // No wrap-around at the top of the address space.
    CHECK_FALSE(inside_slices(GmAddr{~0ull - 0xFFF}, 0x2000, lo, far));
    CHECK_FALSE(inside_slices(GmAddr{0x1000}, ~0ull, lo, hi));
    const GmRange empty{GmAddr{0}, 0};
    CHECK_FALSE(inside_slices(GmAddr{0}, 1, empty, empty));
}

TEST_CASE("the mailbox numbers publications and never hands out a torn snapshot",
          "[display][plane][threads]") {
    PlaneMailbox box;
    CHECK(box.read().sequence == 0);
    PlaneSnapshot s;
    s.pipe_src = 7;
    box.publish(s);
    CHECK(box.read().sequence == 1);
    CHECK(box.read().pipe_src == 7);

    // A writer publishes snapshots whose fields all hold the same number; a
    // reader on another thread must only ever see such snapshots.
    box.publish(PlaneSnapshot{});  // the reader's first look: all zero too
    std::atomic<bool> done{false};
    std::atomic<uint64_t> torn{0};
    std::thread reader([&] {
        while (!done.load()) {
            const PlaneSnapshot r = box.read();
            const uint32_t v = r.pipe_conf;
            if (r.pipe_src != v || r.plane.ctl != v || r.plane.surf != v || r.frame_count != v) {
                ++torn;
            }
        }
    });
    for (uint32_t i = 0; i < 20000; ++i) {
        PlaneSnapshot w;
        w.pipe_conf = w.pipe_src = w.plane.ctl = w.plane.surf = w.frame_count = i;
        box.publish(w);
    }
    done = true;
    reader.join();
    CHECK(torn == 0);
    CHECK(box.read().sequence == 20002);
}

namespace {

// A vGPU whose guest programs its display through BAR0, as i915 does.
struct DisplayVgpu : DecodedVgpu {
    DisplayVgpu() : DecodedVgpu(config()), box(vgpu.primary_plane()) {}
    static VgpuConfig config() {
        VgpuConfig c;
        c.mappable = kMappable;
        c.hidden = kHidden;
        return c;
    }
    void modeset(uint32_t surf) {
        reg_write(0x6001C, minus_one_pair(64, 48));  // PIPESRC
        reg_write(0x70008, kEnable);                 // PIPECONF
        reg_write(0x70188, 320 / 64);                // PLANE_STRIDE
        reg_write(0x70190, minus_one_pair(48, 64));  // PLANE_SIZE
        reg_write(0x70180, kEnable | kSklXrgb);      // PLANE_CTL
        reg_write(0x7019C, surf);                    // PLANE_SURF: arms the plane
    }
    std::shared_ptr<const PlaneMailbox> box;
};

}  // namespace

TEST_CASE("a vGPU publishes its plane as the guest programs it, armed by the surface write",
          "[display][plane][vgpu]") {
    DisplayVgpu d;
    PlaneSnapshot s = d.box->read();
    CHECK(s.mappable.base == kMappable.base);
    CHECK(s.hidden.size == kHidden.size);
    CHECK_FALSE(s.display_ready);
    CHECK(check_scanout(s).problem == ScanoutProblem::PipeOff);

    d.modeset(MiB(130));
    s = d.box->read();
    CHECK(s.pipe_src == minus_one_pair(64, 48));
    REQUIRE(check_scanout(s).problem == ScanoutProblem::None);
    CHECK(check_scanout(s).scanout.surface == GmAddr{MiB(130)});
    CHECK(s.flip_count == 1);
    CHECK_FALSE(s.display_ready);

    // Plane registers written without a surface write are not armed: the
    // snapshot keeps the old stride until the next flip.
    const uint64_t before = s.sequence;
    CHECK(d.reg_write(0x70188, 640 / 64) == TrapResult::Handled);
    CHECK(d.box->read().plane.stride == 320 / 64);
    CHECK(d.box->read().sequence == before);  // nothing published
    d.reg_write(0x7019C, MiB(131));
    CHECK(d.box->read().plane.stride == 640 / 64);
    CHECK(d.box->read().plane.surf == MiB(131));

    // display_ready (PVINFO +0x804) is published when the guest writes it.
    d.reg_write(kPvinfoBase + pvinfo::kDisplayReady, 1);
    CHECK(d.box->read().display_ready);

    // Vblanks publish the frame counter.
    d.vgpu.vblank();
    d.vgpu.vblank();
    CHECK(d.box->read().frame_count == 2);
}

TEST_CASE("a reset or the vGPU's end publishes a display that shows nothing",
          "[display][plane][vgpu]") {
    auto d = std::make_unique<DisplayVgpu>();
    d->modeset(MiB(130));
    d->reg_write(kPvinfoBase + pvinfo::kDisplayReady, 1);
    REQUIRE(d->box->read().display_ready);

    d->vgpu.reset(ResetScope::device());
    PlaneSnapshot s = d->box->read();
    CHECK_FALSE(s.display_ready);
    CHECK(check_scanout(s).problem == ScanoutProblem::PipeOff);
    CHECK(s.plane == ArmedPlane{});

    program_bars(d->vgpu);
    d->modeset(MiB(130));
    d->reg_write(kPvinfoBase + pvinfo::kDisplayReady, 1);
    std::shared_ptr<const PlaneMailbox> box = d->box;
    d.reset();  // the vGPU is gone; a reader still holding the mailbox
    s = box->read();
    CHECK_FALSE(s.display_ready);
    CHECK(check_scanout(s).problem == ScanoutProblem::PipeOff);
}

TEST_CASE("a Broadwell vGPU publishes Broadwell plane registers", "[display][plane][vgpu]") {
    VgpuConfig c;
    c.device_id = 0x1616;
    DecodedVgpu d(c);
    CHECK(d.vgpu.primary_plane()->read().platform == Platform::Broadwell);
}
