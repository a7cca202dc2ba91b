// The display owner driving the software GPU's pipe A / plane 1 through
// PortDisplay: what the model scans out after a vblank is the foreground
// vGPU's plane, read through the physical GGTT from that guest's pages.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <vector>

#include "gpu/mapped_frame_table.hpp"
#include "gpu/model/soft_gpu.hpp"
#include "gpu/port_display.hpp"
#include "gpu/port_ggtt.hpp"

using namespace xengt;
using namespace xengt::mediator::display;

namespace {

constexpr uint32_t kWidth = 40;
constexpr uint32_t kHeight = 30;
constexpr uint32_t kStride = 192;  // 48 pixels: a 64-byte multiple wider than a row
constexpr unsigned kPages = 2;     // 30 rows * 192 bytes = 5760 bytes

// Stand-ins for foreign-mapped guest pages: page-aligned, alive for the test.
struct alignas(4096) Page {
    std::array<std::byte, kPageSize> bytes{};
};

uint32_t pixel(uint16_t domid, uint32_t x, uint32_t y) {
    return uint32_t{domid} << 20 | y << 8 | x;
}

// A guest with a framebuffer of its own pages mapped at `gm` in the GGTT,
// and the plane it publishes.
struct Guest {
    Guest(uint16_t id, uint64_t gm_base, gpu::MappedFrameTable& frames, gpu::GpuPort& gpu)
        : domid(id), gm(gm_base), pages(kPages), box(std::make_shared<PlaneMailbox>()) {
        for (unsigned i = 0; i < kPages; ++i) {
            const auto f = frames.add_guest_page(pages[i].bytes.data(), id, GuestFrame{i});
            REQUIRE(f);
            gpu.write_ggtt((gm >> kPageShift) + i, gpu::GgttEntry::map(*f));
        }
        for (uint32_t y = 0; y < kHeight; ++y) {
            for (uint32_t x = 0; x < kWidth; ++x) {
                const uint64_t at = uint64_t{y} * kStride + x * 4;
                const uint32_t v = pixel(id, x, y);
                std::memcpy(pages[at / kPageSize].bytes.data() + at % kPageSize, &v, 4);
            }
        }
        PlaneSnapshot s;
        s.mappable = {GmAddr{gm}, MiB(1)};
        s.display_ready = true;
        s.pipe_conf = 1u << 31;
        s.plane = {1u << 31 | 4u << 24,      kStride / 64, 0, (kHeight - 1) << 16 | (kWidth - 1), 0,
                   static_cast<uint32_t>(gm)};
        box->publish(s);
    }
    std::vector<uint32_t> expected() const {
        std::vector<uint32_t> px;
        for (uint32_t y = 0; y < kHeight; ++y) {
            for (uint32_t x = 0; x < kWidth; ++x) {
                px.push_back(pixel(domid, x, y));
            }
        }
        return px;
    }

    uint16_t domid;
    uint64_t gm;
    std::vector<Page> pages;
    std::shared_ptr<PlaneMailbox> box;
};

struct Rig {
    gpu::MappedFrameTable frames{1024};
    gpu::model::SoftGpu gpu{frames};
    gpu::PortGgtt ggtt{gpu};
    gpu::PortDisplay display{gpu};
    HostFrame scratch{frames.allocate()->frame};
    DisplayOwner owner{&display, GmView{&ggtt, &frames, scratch}};
    Guest a{3, MiB(128), frames, gpu};
    Guest b{4, MiB(192), frames, gpu};

    Rig() {
        owner.attach({a.domid, "a", a.box});
        owner.attach({b.domid, "b", b.box});
    }
    void vblank() {
        gpu.vblank();
        owner.vblank();
    }
    uint32_t reg(uint32_t offset) { return gpu.read32(MmioOffset{offset}); }
};

}  // namespace

TEST_CASE("after one vblank the model scans out the new foreground guest's pixels",
          "[gpu][display][owner]") {
    Rig r;
    CHECK_FALSE(r.gpu.capture_primary_plane());

    REQUIRE(r.owner.set_foreground(r.a.domid));
    CHECK_FALSE(r.gpu.capture_primary_plane());  // nothing lands before the vblank
    r.vblank();
    std::optional<gpu::PlaneCapture> cap = r.gpu.capture_primary_plane();
    REQUIRE(cap);
    CHECK(cap->width == kWidth);
    CHECK(cap->height == kHeight);
    CHECK(cap->pixels == r.a.expected());
    // What a driver would have programmed (§7.1, §7.2).
    CHECK(r.reg(0x6001C) == ((kWidth - 1) << 16 | (kHeight - 1)));  // PIPESRC
    CHECK((r.reg(0x70008) & 0xC0000000u) == 0xC0000000u);           // PIPECONF on, running
    CHECK(r.reg(0x70188) == kStride / 64);                          // PLANE_STRIDE
    CHECK(r.reg(0x70190) == ((kHeight - 1) << 16 | (kWidth - 1)));  // PLANE_SIZE
    CHECK(r.reg(0x7019C) == MiB(128));                              // PLANE_SURF

    REQUIRE(r.owner.set_foreground(r.b.domid));
    CHECK(r.gpu.capture_primary_plane()->pixels == r.a.expected());  // still A
    r.vblank();
    CHECK(r.gpu.capture_primary_plane()->pixels == r.b.expected());
    CHECK(r.owner.capture_physical().image->pixels == r.b.expected());

    // Background A is still capturable, through the GGTT from its pages.
    const CaptureResult bg = r.owner.capture(r.a.domid);
    REQUIRE(bg.image);
    CHECK(bg.image->pixels == r.a.expected());

    // None: the pipe goes off at the next vblank.
    r.owner.set_foreground(std::nullopt);
    r.vblank();
    CHECK_FALSE(r.gpu.capture_primary_plane());
    CHECK((r.reg(0x70008) & 0x80000000u) == 0);
}

TEST_CASE("a mode change reprograms the pipe; a flip only the plane", "[gpu][display][owner]") {
    Rig r;
    r.owner.set_foreground(r.a.domid);
    r.vblank();
    // Mark the timing register: an unchanged mode must not rewrite it.
    r.gpu.write32(MmioOffset{0x60000}, 0x12345678);
    PlaneSnapshot s = r.a.box->read();
    s.plane.offset = 1;  // a "flip" to a view one pixel to the right
    s.plane.size = (kHeight - 1) << 16 | (kWidth - 2);
    r.a.box->publish(s);
    r.vblank();
    CHECK(r.reg(0x60000) != 0x12345678);  // width changed: a modeset
    CHECK(r.gpu.capture_primary_plane()->pixels[0] == pixel(r.a.domid, 1, 0));

    r.gpu.write32(MmioOffset{0x60000}, 0x12345678);
    s.plane.offset = 0;
    r.a.box->publish(s);
    r.vblank();
    CHECK(r.reg(0x60000) == 0x12345678);  // same size: plane registers only
    CHECK(r.gpu.capture_primary_plane()->pixels[0] == pixel(r.a.domid, 0, 0));
}

TEST_CASE("a scanout the plane registers cannot hold is refused, leaving the pipe off",
          "[gpu][display]") {
    gpu::MappedFrameTable frames{16};
    gpu::model::SoftGpu gpu{frames};
    gpu::PortDisplay display{gpu};
    CHECK_FALSE(display.show(Scanout{kWidth, kHeight, 1000, 0, 0, GmAddr{MiB(128)}}));
    CHECK_FALSE(display.show(Scanout{9000, kHeight, 64 * 1023, 0, 0, GmAddr{MiB(128)}}));
    CHECK_FALSE(display.show(Scanout{kWidth, kHeight, kStride, 0, 0, GmAddr{MiB(128) + 64}}));
    CHECK((gpu.read32(MmioOffset{0x70008}) & 0x80000000u) == 0);
    CHECK_FALSE(display.capture());
}
