// ForeignFramePins against the simulator: a pinned guest frame is a slot of
// the MappedFrameTable that reaches the guest's real RAM, held by a foreign
// mapping until the last unpin.
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpu/mapped_frame_table.hpp"
#include "mediator/base/log.hpp"
#include "tests/log_capture.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/xen/foreign_frame_pins.hpp"
#include "xengt/xen/handles.hpp"

using namespace xengt;
using Kind = mediator::FrameOwner::Kind;

namespace {

constexpr uint64_t kGuestPages = 64;

sim::DomainConfig small_guest(sim::GuestProgram program = {}) {
    sim::DomainConfig c;
    c.name = "pins";
    c.ram_bytes = kGuestPages * kPageSize;
    if (program) {
        c.programs.push_back(std::move(program));
    }
    return c;
}

// The bytes of a guest frame as the machine holds them (Host-side view).
std::string machine_bytes(const sim::Host& host, uint16_t domid, uint64_t gfn, uint64_t off,
                          size_t len) {
    const auto mfn = host.machine_frame(domid, gfn);
    REQUIRE(mfn);
    std::string out(len, '\0');
    const auto n = pread(host.machine_memory_fd(), out.data(), len,
                         static_cast<off_t>(*mfn * kPageSize + off));
    REQUIRE(n == static_cast<ssize_t>(len));
    return out;
}

// The table and the foreign-memory handle outlive the pins, as in xengtd.
struct Rig {
    sim::Host host;
    uint16_t domid;
    xen::ForeignMemory fmem;
    gpu::MappedFrameTable table{1024};

    explicit Rig(sim::GuestProgram program = {})
        : domid(host.create_domain(small_guest(program))) {}
};

}  // namespace

TEST_CASE("a pinned guest frame is the guest's RAM, reached through the table", "[xengt][pins]") {
    Rig rig([](sim::GuestCpu& cpu) {
        cpu.ram_write(6 * kPageSize + 8, std::as_bytes(std::span{"from-guest", 10}));
    });
    rig.host.unpause(rig.domid);
    REQUIRE(rig.host.wait_programs_finished(rig.domid));

    xen::ForeignFramePins pins(rig.fmem.get(), rig.domid, rig.table);
    const auto f5 = pins.pin(GuestFrame{5});
    REQUIRE(f5);
    CHECK(f5->value() != 0);
    std::byte* page = rig.table.frame(*f5);
    REQUIRE(page != nullptr);
    std::memcpy(page + 100, "gpu-wrote", 9);
    CHECK(machine_bytes(rig.host, rig.domid, 5, 100, 9) == "gpu-wrote");

    const auto f6 = pins.pin(GuestFrame{6});
    REQUIRE(f6);
    CHECK(*f6 != *f5);
    CHECK(std::memcmp(rig.table.frame(*f6) + 8, "from-guest", 10) == 0);

    const mediator::FrameOwner o = rig.table.owner(*f5);
    CHECK(o.kind == Kind::Guest);
    CHECK(o.guest == rig.domid);
    CHECK(o.gfn == GuestFrame{5});
    CHECK(pins.pinned() == 2);
    CHECK(rig.table.guest_pages() == 2);
    CHECK(rig.host.status(rig.domid).dom0_mappings == 2);
}

TEST_CASE("pins nest per gfn and the last unpin unmaps", "[xengt][pins]") {
    Rig rig;
    test::LogCapture log;
    xen::ForeignFramePins pins(rig.fmem.get(), rig.domid, rig.table);
    const auto a = pins.pin(GuestFrame{3});
    const auto b = pins.pin(GuestFrame{3});
    REQUIRE((a && b));
    CHECK(*a == *b);  // the same slot, no second mapping
    CHECK(pins.pinned() == 1);
    CHECK(rig.table.guest_pages() == 1);
    CHECK(rig.host.status(rig.domid).dom0_mappings == 1);

    pins.unpin(GuestFrame{3});
    CHECK(rig.table.frame(*a) != nullptr);
    CHECK(rig.host.status(rig.domid).dom0_mappings == 1);
    pins.unpin(GuestFrame{3});
    CHECK(rig.table.frame(*a) == nullptr);
    CHECK(rig.table.owner(*a).kind == Kind::None);
    CHECK(pins.pinned() == 0);
    CHECK(rig.table.guest_pages() == 0);
    CHECK(rig.host.status(rig.domid).dom0_mappings == 0);

    // One unpin too many, or of a gfn never pinned: logged and ignored.
    pins.unpin(GuestFrame{3});
    pins.unpin(GuestFrame{40});
    CHECK(log.contains("not pinned"));
    CHECK(pins.pinned() == 0);

    // Pinned again: a fresh mapping, still the same guest page.
    const auto c = pins.pin(GuestFrame{3});
    REQUIRE(c);
    std::memcpy(rig.table.frame(*c), "again", 5);
    CHECK(machine_bytes(rig.host, rig.domid, 3, 0, 5) == "again");
    CHECK(rig.host.status(rig.domid).dom0_mappings == 1);
}

TEST_CASE("a gfn that is not RAM pins nothing", "[xengt][pins]") {
    Rig rig;
    xen::ForeignFramePins pins(rig.fmem.get(), rig.domid, rig.table);
    CHECK_FALSE(pins.pin(GuestFrame{kGuestPages}));  // just beyond RAM
    CHECK_FALSE(pins.pin(GuestFrame{0xfeff0}));      // not RAM at all
    CHECK_FALSE(pins.pin(GuestFrame{~uint64_t{0}}));
    CHECK(pins.map_failures() == 3);
    CHECK(pins.pinned() == 0);
    CHECK(rig.table.guest_pages() == 0);
    CHECK(rig.host.status(rig.domid).dom0_mappings == 0);

    xen::ForeignFramePins nobody(rig.fmem.get(), 77, rig.table);  // no such domain
    CHECK_FALSE(nobody.pin(GuestFrame{0}));
    CHECK(nobody.map_failures() == 1);
}

TEST_CASE("a full table refuses the pin and leaves nothing mapped", "[xengt][pins]") {
    Rig rig;
    gpu::MappedFrameTable tiny(3);  // slots 1 and 2
    xen::ForeignFramePins pins(rig.fmem.get(), rig.domid, tiny);
    REQUIRE(pins.pin(GuestFrame{1}));
    REQUIRE(pins.pin(GuestFrame{2}));
    CHECK_FALSE(pins.pin(GuestFrame{3}));
    CHECK(pins.pinned() == 2);
    CHECK(rig.host.status(rig.domid).dom0_mappings == 2);
    pins.unpin(GuestFrame{1});
    CHECK(pins.pin(GuestFrame{3}));
}

TEST_CASE("destroying the pins releases every frame still pinned", "[xengt][pins]") {
    Rig rig;
    test::LogCapture log;
    std::vector<HostFrame> frames;
    {
        xen::ForeignFramePins pins(rig.fmem.get(), rig.domid, rig.table);
        for (uint64_t gfn = 0; gfn < 10; ++gfn) {
            const auto f = pins.pin(GuestFrame{gfn});
            REQUIRE(f);
            frames.push_back(*f);
        }
        REQUIRE(pins.pin(GuestFrame{4}));  // a nested pin is released too
        CHECK(rig.host.status(rig.domid).dom0_mappings == 10);
    }
    CHECK(log.contains("10 guest frames still pinned"));
    CHECK(rig.host.status(rig.domid).dom0_mappings == 0);
    CHECK(rig.table.guest_pages() == 0);
    for (HostFrame f : frames) {
        CHECK(rig.table.frame(f) == nullptr);
    }
}

TEST_CASE("pinned frames outlive their domain, which lingers until the last unpin",
          "[xengt][pins]") {
    Rig rig;
    xen::ForeignFramePins pins(rig.fmem.get(), rig.domid, rig.table);
    const auto f1 = pins.pin(GuestFrame{1});
    const auto f2 = pins.pin(GuestFrame{2});
    REQUIRE((f1 && f2));
    const uint64_t free_before = rig.host.machine_memory_free_frames();

    rig.host.destroy_domain(rig.domid);
    sim::DomainStatus st = rig.host.status(rig.domid);
    CHECK(st.state == sim::DomainState::Dying);
    CHECK(st.dom0_mappings == 2);
    // The domain's other frames went back to Xen; the pinned two did not.
    CHECK(rig.host.machine_memory_free_frames() == free_before + kGuestPages - 2);

    // The GPU may still reach the pinned pages; new pins are refused.
    std::memcpy(rig.table.frame(*f1), "late", 4);
    CHECK(std::memcmp(rig.table.frame(*f1), "late", 4) == 0);
    CHECK_FALSE(pins.pin(GuestFrame{3}));

    pins.unpin(GuestFrame{1});
    CHECK(rig.host.status(rig.domid).state == sim::DomainState::Dying);
    pins.unpin(GuestFrame{2});
    CHECK(rig.host.status(rig.domid).state == sim::DomainState::Gone);
    CHECK(rig.host.machine_memory_free_frames() == free_before + kGuestPages);
    CHECK(pins.pinned() == 0);
}
