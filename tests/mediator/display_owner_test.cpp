// The display owner against fakes of the physical display and of the GPU
// memory it captures through: who is shown, when (only at a vblank), why
// not, and captures that never read another guest's memory.
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <vector>

#include "mediator/display/display_owner.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::display;

namespace {

constexpr uint32_t kEnable = 1u << 31;
constexpr uint32_t kXrgb = 4u << 24;
constexpr uint32_t kWidth = 8;
constexpr uint32_t kHeight = 4;
constexpr uint32_t kStride = 64;  // bytes: 16 pixels, a 64-byte multiple

// Records what the owner asked of the physical display.
struct FakeDisplay final : PhysicalDisplay {
    bool show(const Scanout& s) override {
        calls.push_back("show");
        shown = s;
        return accept;
    }
    void blank() override {
        calls.push_back("blank");
        shown.reset();
    }
    std::optional<Image> capture() override {
        if (!shown) {
            return std::nullopt;
        }
        return Image{shown->width, shown->height, {}};
    }
    std::vector<std::string> calls;
    std::optional<Scanout> shown;
    bool accept = true;
};

// A GGTT and frame table in memory: entry i maps frame i + 1000, owned as set.
struct FakeGm final : PhysicalGgtt, FrameOwnership {
    uint64_t entries() const override { return 1u << 20; }
    uint64_t read(uint64_t index) const override {
        auto it = ptes.find(index);
        return it == ptes.end() ? 0 : it->second;
    }
    void write(uint64_t index, uint64_t pte) override { ptes[index] = pte; }
    void flush() override {}
    FrameOwner owner(HostFrame f) const override {
        auto it = owners.find(f.value());
        return it == owners.end() ? FrameOwner{} : it->second;
    }
    const std::byte* peek(HostFrame f) const override {
        auto it = pages.find(f.value());
        return it == pages.end() ? nullptr : it->second.data();
    }

    // Maps GM page `gm_page` to a fresh frame owned by `owner`, filled with `fill`.
    void map(uint64_t gm_page, FrameOwner owner, uint32_t fill) {
        const uint64_t frame = gm_page + 1000;
        ptes[gm_page] = GgttPte::make(HostFrame{frame}, 0);
        owners[frame] = owner;
        std::vector<std::byte>& page = pages[frame];
        page.resize(kPageSize);
        for (size_t i = 0; i < kPageSize; i += 4) {
            std::memcpy(page.data() + i, &fill, 4);
        }
    }
    GmView view() const { return {this, this, HostFrame{scratch}}; }

    std::map<uint64_t, uint64_t> ptes;
    std::map<uint64_t, FrameOwner> owners;
    std::map<uint64_t, std::vector<std::byte>> pages;
    uint64_t scratch = 5;
};

FrameOwner guest(uint32_t domid) {
    return {FrameOwner::Kind::Guest, domid, GuestFrame{1}};
}

// One vGPU's published plane.
struct Source {
    Source(uint16_t id, uint64_t gm_base) : domid(id), box(std::make_shared<PlaneMailbox>()) {
        snap.mappable = {GmAddr{gm_base}, MiB(1)};
        snap.hidden = {GmAddr{GiB(1) + gm_base}, MiB(1)};
        surface = static_cast<uint32_t>(gm_base);
    }
    // The guest's modeset plus display_ready, published.
    void ready(bool display_ready = true) {
        snap.display_ready = display_ready;
        snap.pipe_conf = kEnable;
        snap.plane = {kEnable | kXrgb, kStride / 64, 0, (kHeight - 1) << 16 | (kWidth - 1), 0,
                      surface};
        box->publish(snap);
    }
    void flip(uint32_t surf) {
        snap.plane.surf = surface = surf;
        box->publish(snap);
    }
    DisplaySource source() const { return {domid, "guest" + std::to_string(domid), box}; }
    Scanout scanout() const { return {kWidth, kHeight, kStride, 0, 0, GmAddr{surface}}; }

    uint16_t domid;
    std::shared_ptr<PlaneMailbox> box;
    PlaneSnapshot snap;
    uint32_t surface;
};

struct Rig {
    Rig() : owner(&display, gm.view()) {
        owner.attach(a.source());
        owner.attach(b.source());
    }
    FakeDisplay display;
    FakeGm gm;
    DisplayOwner owner;
    Source a{1, MiB(16)};
    Source b{2, MiB(32)};
};

}  // namespace

TEST_CASE("the owner starts blank, with nothing foreground", "[display][owner]") {
    Rig r;
    CHECK(r.display.calls == std::vector<std::string>{"blank"});
    CHECK_FALSE(r.owner.foreground());
    CHECK_FALSE(r.owner.wants_vblanks());
    r.a.ready();
    r.owner.vblank();
    CHECK_FALSE(r.display.shown);  // ready guests are not shown unasked
    CHECK(r.owner.status().why_blank == "no vGPU is foreground");
    CHECK(r.owner.sources().size() == 2);
}

TEST_CASE("a switch takes effect at the next vblank, in one programming", "[display][owner]") {
    Rig r;
    r.a.ready();
    r.b.ready();
    REQUIRE(r.owner.set_foreground(1));
    CHECK(r.owner.wants_vblanks());
    CHECK_FALSE(r.display.shown);  // not before the vblank
    r.owner.vblank();
    REQUIRE(r.display.shown);
    CHECK(*r.display.shown == r.a.scanout());
    CHECK(r.owner.status().shown == 1);

    // An unchanged plane is not reprogrammed at the following vblanks.
    r.display.calls.clear();
    r.owner.vblank();
    r.owner.vblank();
    CHECK(r.display.calls.empty());

    // Switch to B: A stays on show until the vblank, then B in one show().
    REQUIRE(r.owner.set_foreground(2));
    CHECK(*r.display.shown == r.a.scanout());
    CHECK(r.owner.status().shown == 1);
    CHECK(r.owner.status().foreground == 2);
    r.owner.vblank();
    CHECK(r.display.calls == std::vector<std::string>{"show"});
    CHECK(*r.display.shown == r.b.scanout());
    CHECK(r.owner.status().switches == 2);

    // Unknown domids change nothing.
    CHECK_FALSE(r.owner.set_foreground(9));
    CHECK(r.owner.foreground() == 2);

    // None: blank at the next vblank, after which no vblanks are needed.
    REQUIRE(r.owner.set_foreground(std::nullopt));
    CHECK(r.owner.wants_vblanks());
    r.owner.vblank();
    CHECK_FALSE(r.display.shown);
    CHECK_FALSE(r.owner.wants_vblanks());
}

TEST_CASE("a flip of the foreground vGPU reaches the physical plane at the next vblank",
          "[display][owner]") {
    Rig r;
    r.a.ready();
    r.owner.set_foreground(1);
    r.owner.vblank();
    r.a.flip(MiB(16) + 0x10000);
    CHECK(r.display.shown->surface == GmAddr{MiB(16)});
    r.owner.vblank();
    CHECK(r.display.shown->surface == GmAddr{MiB(16) + 0x10000});
}

TEST_CASE("a foreground vGPU that is not ready or not valid shows nothing, and says why",
          "[display][owner]") {
    Rig r;
    r.a.ready(false);
    r.owner.set_foreground(1);
    CHECK(r.owner.obstacle(1).find("has not set display_ready") != std::string::npos);
    r.owner.vblank();
    CHECK_FALSE(r.display.shown);
    CHECK(r.owner.status().why_blank ==
          "dom1 (guest1) has not set display_ready (its driver has not finished a modeset)");

    r.a.ready();
    r.owner.vblank();
    REQUIRE(r.display.shown);
    CHECK(r.owner.obstacle(1).empty());

    // The guest points its plane into B's memory: off at the next vblank.
    r.a.flip(MiB(32));
    r.owner.vblank();
    CHECK_FALSE(r.display.shown);
    CHECK(r.owner.status().why_blank.starts_with(
        "dom1 (guest1): its surface 0x2000000 + 256 bytes lies outside its graphics memory"));

    // And the physical display refusing a plane also leaves it blank.
    r.a.flip(MiB(16));
    r.display.accept = false;
    r.owner.vblank();
    CHECK_FALSE(r.owner.status().shown);
    CHECK(r.owner.status().why_blank.find("cannot show") != std::string::npos);
}

TEST_CASE("detaching the vGPU on show blanks at once; a background one changes nothing",
          "[display][owner]") {
    Rig r;
    r.a.ready();
    r.b.ready();
    r.owner.set_foreground(1);
    r.owner.vblank();
    r.display.calls.clear();
    r.owner.detach(2);
    CHECK(r.display.calls.empty());
    r.owner.detach(1);
    CHECK(r.display.calls == std::vector<std::string>{"blank"});
    CHECK_FALSE(r.owner.foreground());
    CHECK_FALSE(r.owner.wants_vblanks());
    CHECK(r.owner.status().why_blank == "dom1 was detached while on show");
    r.owner.detach(1);  // twice: ignored
    CHECK_FALSE(r.owner.attached(1));
    r.owner.attach(r.a.source());  // a domid may come back with a new vGPU
    CHECK_THROWS_AS(r.owner.attach(r.a.source()), std::invalid_argument);
}

TEST_CASE("captures read any vGPU's plane through the GGTT, and only its own frames",
          "[display][owner][capture][isolation]") {
    Rig r;
    r.a.ready();
    r.b.ready();
    const uint64_t a_page = MiB(16) >> kPageShift;
    const uint64_t b_page = MiB(32) >> kPageShift;
    r.gm.map(a_page, guest(1), 0x00112233);
    r.gm.map(b_page, guest(2), 0x00445566);

    // Background planes can be captured: nothing is foreground here.
    CaptureResult c = r.owner.capture(1);
    REQUIRE(c.image);
    CHECK(c.image->width == kWidth);
    CHECK(c.image->height == kHeight);
    CHECK(c.image->pixels == std::vector<uint32_t>(kWidth * kHeight, 0x00112233));
    c = r.owner.capture(2);
    REQUIRE(c.image);
    CHECK(c.image->pixels[0] == 0x00445566);

    // An entry of A's slice that names B's frame (never made by the GGTT
    // shadow; proves the capture checks anyway).
    r.gm.ptes[a_page] = r.gm.ptes[b_page];
    c = r.owner.capture(1);
    CHECK_FALSE(c.image);
    CHECK(c.error ==
          "dom1 (guest1): graphics address 0x1000000 maps a frame that is not the "
          "guest's");

    // The scratch page (a host page) reads as what it holds.
    r.gm.map(a_page, {FrameOwner::Kind::HostPage, 0, GuestFrame{}}, 0);
    r.gm.scratch = a_page + 1000;
    CaptureResult s = DisplayOwner(&r.display, r.gm.view()).capture(1);  // not attached there
    CHECK_FALSE(s.image);
    CHECK(s.error == "dom1: no vGPU is attached to it");
    DisplayOwner fresh(&r.display, r.gm.view());
    fresh.attach(r.a.source());
    s = fresh.capture(1);
    REQUIRE(s.image);
    CHECK(s.image->pixels[0] == 0);

    // Not present: refused, named.
    r.gm.ptes.erase(a_page);
    s = fresh.capture(1);
    CHECK(s.error == "dom1 (guest1): graphics address 0x1000000 has no GGTT entry");

    // An invalid plane is not read at all.
    r.b.flip(MiB(16));
    c = r.owner.capture(2);
    CHECK_FALSE(c.image);
    CHECK(c.error.find("lies outside its graphics memory") != std::string::npos);
}

TEST_CASE("the physical capture says why it is blank", "[display][owner][capture]") {
    Rig r;
    CaptureResult c = r.owner.capture_physical();
    CHECK_FALSE(c.image);
    CHECK(c.error == "the physical plane shows nothing: no vGPU is foreground");
    r.a.ready();
    r.owner.set_foreground(1);
    r.owner.vblank();
    c = r.owner.capture_physical();
    REQUIRE(c.image);
    CHECK(c.image->width == kWidth);

    DisplayOwner headless(nullptr, {});
    headless.attach(r.a.source());
    CHECK(headless.set_foreground(1));
    headless.vblank();
    CHECK(headless.status().why_blank == "there is no physical display");
    CHECK(headless.capture_physical().error == "there is no physical display");
    CHECK(headless.capture(1).error ==
          "dom1 (guest1): there is no GPU to read graphics memory through");
}
