// MachineFramePins against the simulator: what a real GPU's tables get for a
// guest frame is the guest's machine frame, learned through the same port the
// xengt-mfn module serves on real Xen (here the simulator answers it), held
// for as long as the GPU may reach it, cached, and forgotten on INVALIDATE.
// The "bus master" is the simulator's machine memory, read and written by
// frame number as a device would.
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <future>
#include <span>
#include <string>

#include "tests/log_capture.hpp"
#include "tests/xengt/harness.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"
#include "tools/xensim/machine_frames.hpp"
#include "xengt/xen/handles.hpp"
#include "xengt/xen/machine_frame_pins.hpp"
#include "xengt/xen/machine_frames.hpp"

using namespace xengt;
using Kind = mediator::FrameOwner::Kind;

namespace {

constexpr uint64_t kGuestPages = 64;
constexpr auto kLimit = std::chrono::seconds(10);

sim::DomainConfig small_guest(sim::GuestProgram program = {}) {
    sim::DomainConfig c;
    c.name = "mfn";
    c.ram_bytes = kGuestPages * kPageSize;
    if (program) {
        c.programs.push_back(std::move(program));
    }
    return c;
}

// A source that refuses everything, as the module does on a non-PV dom0.
class RefusingSource final : public xen::MachineFrameSource {
public:
    int query(const void*, size_t, uint64_t*) override { return EOPNOTSUPP; }
};

// A bus master's view: bytes at a machine frame.
std::string device_read(const sim::Host& host, HostFrame frame, uint64_t off, size_t len) {
    std::string out(len, '\0');
    const auto n = pread(host.machine_memory_fd(), out.data(), len,
                         static_cast<off_t>(frame.value() * kPageSize + off));
    REQUIRE(n == static_cast<ssize_t>(len));
    return out;
}
void device_write(const sim::Host& host, HostFrame frame, uint64_t off, std::string_view data) {
    const auto n = pwrite(host.machine_memory_fd(), data.data(), data.size(),
                          static_cast<off_t>(frame.value() * kPageSize + off));
    REQUIRE(n == static_cast<ssize_t>(data.size()));
}

std::string pattern(uint64_t gfn) {
    return "guest page " + std::to_string(gfn);
}

// What outlives the pins in xengtd: the handle, the module, the registry.
struct Rig {
    sim::Host host;
    uint16_t domid;
    xen::ForeignMemory fmem;
    sim::SimMachineFrames source{host};
    xen::MachineFrameRegistry registry;

    explicit Rig(sim::GuestProgram program = {})
        : domid(host.create_domain(small_guest(std::move(program)))) {}
    unsigned mapped_pages() const { return host.status(domid).dom0_mappings; }
};

}  // namespace

TEST_CASE("a pinned frame is the guest's machine frame, reached by a bus master both ways",
          "[xengt][mfn]") {
    // Non-contiguous guest frames; the guest writes each, then reads back what
    // the "device" wrote into the next page.
    static constexpr uint64_t kFrames[] = {5, 9, 23, 60};
    std::promise<void> device_done;
    std::future<void> device_future = device_done.get_future();
    std::promise<void> guest_wrote;
    std::string guest_saw[4];
    Rig rig([&](sim::GuestCpu& cpu) {
        for (uint64_t gfn : kFrames) {
            const std::string p = pattern(gfn);
            cpu.ram_write(gfn * kPageSize + 100, std::as_bytes(std::span{p}));
        }
        guest_wrote.set_value();
        if (device_future.wait_for(kLimit) != std::future_status::ready) {
            throw std::runtime_error("the device never wrote");
        }
        for (size_t i = 0; i < 4; ++i) {
            guest_saw[i].resize(16);
            cpu.ram_read((kFrames[i] + 1) * kPageSize + 2000,
                         std::as_writable_bytes(std::span{guest_saw[i]}));
        }
    });
    auto wrote = guest_wrote.get_future();
    rig.host.unpause(rig.domid);
    REQUIRE(wrote.wait_for(kLimit) == std::future_status::ready);

    xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry);
    for (uint64_t gfn : kFrames) {
        const auto frame = pins.pin(GuestFrame{gfn});
        REQUIRE(frame);
        CHECK(frame->value() == rig.host.machine_frame(rig.domid, gfn));
        CHECK(device_read(rig.host, *frame, 100, pattern(gfn).size()) == pattern(gfn));
        const auto owner = rig.registry.owner(*frame);
        CHECK(owner.kind == Kind::Guest);
        CHECK(owner.guest == rig.domid);
        CHECK(owner.gfn == GuestFrame{gfn});
        REQUIRE(rig.registry.peek(*frame) != nullptr);
        CHECK(std::memcmp(rig.registry.peek(*frame) + 100, pattern(gfn).data(),
                          pattern(gfn).size()) == 0);
        const auto next = pins.pin(GuestFrame{gfn + 1});
        REQUIRE(next);
        device_write(rig.host, *next, 2000, "device wrote it!");
    }
    CHECK(pins.pinned() == 8);
    CHECK(rig.registry.size() == 8);
    device_done.set_value();
    REQUIRE(rig.host.wait_programs_finished(rig.domid));
    INFO(rig.host.status(rig.domid).crash_reason);
    CHECK(rig.host.status(rig.domid).state == sim::DomainState::Running);
    for (const auto& s : guest_saw) {
        CHECK(s == "device wrote it!");
    }
    for (uint64_t gfn : kFrames) {
        pins.unpin(GuestFrame{gfn});
        pins.unpin(GuestFrame{gfn + 1});
    }
    CHECK(pins.pinned() == 0);
}

TEST_CASE("a re-pin is served from the cache, which keeps a bounded number of frames",
          "[xengt][mfn]") {
    Rig rig;
    xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry,
                               /*cache_frames=*/2);
    const unsigned base = rig.mapped_pages();
    const auto a = pins.pin(GuestFrame{3});
    REQUIRE(a);
    CHECK(pins.pin(GuestFrame{3}) == a);  // nested: no second resolve
    CHECK(pins.counters().resolves == 1);
    CHECK(rig.host.foreign_mapping_queries() == 1);
    pins.unpin(GuestFrame{3});
    pins.unpin(GuestFrame{3});
    CHECK(pins.pinned() == 0);
    CHECK(pins.cached() == 1);
    CHECK(rig.mapped_pages() == base + 1);  // still held
    CHECK(rig.registry.owner(*a).kind == Kind::Guest);

    CHECK(pins.pin(GuestFrame{3}) == a);
    CHECK(pins.counters().cache_hits == 1);
    CHECK(rig.host.foreign_mapping_queries() == 1);  // no query, no map
    pins.unpin(GuestFrame{3});

    // Two more unpinned frames: the least recently unpinned (gfn 3) goes.
    for (uint64_t gfn : {4, 5}) {
        REQUIRE(pins.pin(GuestFrame{gfn}));
        pins.unpin(GuestFrame{gfn});
    }
    CHECK(pins.cached() == 2);
    CHECK(pins.mapped() == 2);
    CHECK(rig.mapped_pages() == base + 2);
    CHECK(rig.registry.owner(*a).kind == Kind::None);
    CHECK(pins.pin(GuestFrame{3}) == a);  // resolved again, same frame
    CHECK(pins.counters().resolves == 4);
    pins.unpin(GuestFrame{3});

    // A cache of 0 frames drops at the last unpin.
    xen::MachineFramePins uncached(rig.fmem.get(), rig.domid, rig.source, rig.registry, 0);
    REQUIRE(uncached.pin(GuestFrame{40}));
    uncached.unpin(GuestFrame{40});
    CHECK(uncached.mapped() == 0);
}

TEST_CASE("INVALIDATE drops cached translations; a frame the GPU reaches stays pinned",
          "[xengt][mfn]") {
    sim::Host host;
    std::promise<void> pinned;
    auto pinned_future = pinned.get_future();
    test::ServedGuest guest(host, small_guest([&](sim::GuestCpu& cpu) {
                                if (pinned_future.wait_for(kLimit) != std::future_status::ready) {
                                    throw std::runtime_error("never pinned");
                                }
                                // Gives back a page its GPU still reaches.
                                cpu.release_ram_page(5);
                            }));
    xen::ForeignMemory fmem;
    sim::SimMachineFrames source(host);
    xen::MachineFrameRegistry registry;
    xen::MachineFramePins pins(fmem.get(), guest.domid(), source, registry);
    guest.session().add_translation_cache(pins);

    const auto f5 = pins.pin(GuestFrame{5});  // what a GPU entry names
    const auto f6 = pins.pin(GuestFrame{6});
    REQUIRE((f5 && f6));
    pins.unpin(GuestFrame{6});  // cached only
    device_write(host, *f5, 0, "still here");
    const uint64_t free_before = host.machine_memory_free_frames();
    const unsigned mapped_before = host.status(guest.domid()).dom0_mappings;

    guest.start();
    pinned.set_value();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    guest.stop();  // the pins are the test's again
    CHECK(guest.session().status().dispatch.invalidate == 1);
    CHECK(pins.counters().invalidations == 1);
    CHECK(pins.cached() == 0);
    CHECK(pins.pinned() == 1);
    CHECK(host.status(guest.domid()).dom0_mappings == mapped_before - 1);  // gfn 6 unmapped
    CHECK(registry.owner(*f6).kind == Kind::None);
    // The released frame is not free while the GPU can reach it.
    CHECK_FALSE(host.machine_frame(guest.domid(), 5));
    CHECK(host.machine_memory_free_frames() == free_before);
    CHECK(registry.owner(*f5).kind == Kind::Guest);
    CHECK(device_read(host, *f5, 0, 10) == "still here");

    // gfn 6 is resolved again; gfn 5 is no longer RAM: no new GPU entry may
    // name it, while the old one keeps it.
    const uint64_t resolves = pins.counters().resolves;
    CHECK(pins.pin(GuestFrame{6}) == f6);
    CHECK(pins.counters().resolves == resolves + 1);
    pins.unpin(GuestFrame{6});
    CHECK_FALSE(pins.pin(GuestFrame{5}));
    CHECK(pins.pinned() == 1);

    // The last unpin of the stale frame drops it (no caching) and the
    // machine frame goes back to the pool.
    pins.unpin(GuestFrame{5});
    CHECK(pins.pinned() == 0);
    CHECK(registry.owner(*f5).kind == Kind::None);
    CHECK(host.machine_memory_free_frames() == free_before + 1);
}

TEST_CASE("a pin re-resolved after INVALIDATE keeps its frame when the gfn did not move",
          "[xengt][mfn]") {
    Rig rig;
    xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry);
    const auto f = pins.pin(GuestFrame{7});
    REQUIRE(f);
    pins.invalidate();
    CHECK(pins.pin(GuestFrame{7}) == f);
    CHECK(pins.counters().changed_under_gpu == 0);
    CHECK(pins.counters().resolves == 2);
    CHECK(pins.pin(GuestFrame{7}) == f);  // no longer stale: no third resolve
    CHECK(pins.counters().resolves == 2);
    for (int i = 0; i < 3; ++i) {
        pins.unpin(GuestFrame{7});
    }
    CHECK(pins.cached() == 1);  // the same translation was confirmed: cacheable again
}

TEST_CASE("teardown unregisters and unmaps every frame, so a dead guest leaves nothing",
          "[xengt][mfn]") {
    Rig rig;
    const unsigned base = rig.mapped_pages();
    test::LogCapture log;
    {
        xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry);
        for (uint64_t gfn = 10; gfn < 20; ++gfn) {
            REQUIRE(pins.pin(GuestFrame{gfn}));
        }
        for (uint64_t gfn = 10; gfn < 15; ++gfn) {
            pins.unpin(GuestFrame{gfn});  // five cached, five pinned
        }
        CHECK(rig.mapped_pages() == base + 10);
        CHECK(rig.registry.size() == 10);
        rig.host.destroy_domain(rig.domid);
        // Dying, not gone: dom0 still holds the frames the GPU may reach.
        CHECK(rig.host.status(rig.domid).state == sim::DomainState::Dying);
    }
    CHECK(log.contains("5 guest frames still pinned for the GPU at teardown"));
    CHECK(rig.registry.size() == 0);
    CHECK(rig.host.status(rig.domid).state == sim::DomainState::Gone);
}

TEST_CASE("pins that cannot be resolved are refused and leave nothing mapped", "[xengt][mfn]") {
    Rig rig;
    const unsigned base = rig.mapped_pages();
    test::LogCapture log;
    SECTION("not the guest's RAM") {
        xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry);
        CHECK_FALSE(pins.pin(GuestFrame{kGuestPages}));
        CHECK_FALSE(pins.pin(GuestFrame{~uint64_t{0}}));
        CHECK(pins.counters().failures == 2);
        CHECK(rig.host.foreign_mapping_queries() == 0);  // refused before asking
    }
    SECTION("the module refuses (a dom0 that is not PV)") {
        RefusingSource refusing;
        xen::MachineFramePins pins(rig.fmem.get(), rig.domid, refusing, rig.registry);
        CHECK_FALSE(pins.pin(GuestFrame{3}));
        CHECK(log.contains("cannot learn the machine frame of a guest page (gfn 0x3)"));
        CHECK(log.contains("errno 95"));
    }
    SECTION("a frame another pin set already holds") {
        xen::MachineFramePins first(rig.fmem.get(), rig.domid, rig.source, rig.registry);
        xen::MachineFramePins second(rig.fmem.get(), rig.domid, rig.source, rig.registry);
        const auto f = first.pin(GuestFrame{3});
        REQUIRE(f);
        CHECK_FALSE(second.pin(GuestFrame{3}));
        CHECK(log.contains("machine frame already held for another guest page"));
        CHECK(rig.registry.owner(*f).kind == Kind::Guest);  // the first holder keeps it
        CHECK(second.mapped() == 0);
    }
    SECTION("unpinning what is not pinned") {
        xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry);
        pins.unpin(GuestFrame{9});
        CHECK(log.contains("unpin of a guest frame that is not pinned"));
    }
    CHECK(rig.mapped_pages() == base);
    CHECK(rig.registry.size() == 0);
}

TEST_CASE("the simulator answers frame queries with the module's errnos", "[xengt][mfn]") {
    Rig rig;
    xen::MachineFramePins pins(rig.fmem.get(), rig.domid, rig.source, rig.registry);
    REQUIRE(pins.pin(GuestFrame{2}));
    const auto mfn = rig.host.machine_frame(rig.domid, 2);
    REQUIRE(mfn);
    const std::byte* page = rig.registry.peek(HostFrame{*mfn});
    REQUIRE(page != nullptr);
    uint64_t frame = 0;
    CHECK(rig.source.query(page, 1, &frame) == 0);
    CHECK(frame == rig.host.machine_frame(rig.domid, 2));
    CHECK(rig.source.query(page + 1, 1, &frame) == EINVAL);
    CHECK(rig.source.query(page, 0, &frame) == EINVAL);
    CHECK(rig.source.query(page, 2, &frame) == ENXIO);  // the window is one page
    alignas(4096) static std::byte own[4096];
    CHECK(rig.source.query(own, 1, &frame) == ENXIO);
    pins.unpin(GuestFrame{2});
}

TEST_CASE("without the module, opening it says so and what to do", "[xengt][mfn]") {
    try {
        xen::XengtMfnDevice dev("/nonexistent/xengt-mfn");
        FAIL("opened a device that does not exist");
    } catch (const xen::MachineFrameError& e) {
        CHECK(e.error_number() == ENOENT);
        const std::string what = e.what();
        CHECK(what.find("/nonexistent/xengt-mfn") != std::string::npos);
        CHECK(what.find("xengt-mfn kernel module is not loaded") != std::string::npos);
        CHECK(what.find("modprobe xengt_mfn") != std::string::npos);
    }
    // A file that is not the module's device: its ioctl is refused, and the
    // errno comes back as it is.
    xen::XengtMfnDevice not_the_module("/dev/null");
    alignas(4096) static std::byte page[4096];
    uint64_t frame = 0;
    CHECK(not_the_module.query(page, 1, &frame) == ENOTTY);
}
