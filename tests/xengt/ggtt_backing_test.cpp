// The GGTT RAM backing through the real backend: frames charged to the
// guest, moved under BAR0 and back, written by the guest directly, reported
// dirty, and given back at teardown.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>

#include "tests/xengt/harness.hpp"
#include "xengt/xen/ggtt_backing.hpp"

using namespace xengt;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kRamPages = (64ull << 20) / kPage;  // the harness guests' default
constexpr uint32_t kBackingPages = mediator::GgttRamBacking::kPages;
constexpr uint64_t kGgtt = 0xd0800;   // BAR0 (0xd0000000) + 8 MiB, as a gfn
constexpr uint64_t kMoved = 0xe0800;  // where the guest moves BAR0 later
constexpr uint64_t kParking = xen::XenGgttBacking::kParkingFirst;

using Dirty = std::array<uint64_t, mediator::GgttRamBacking::kDirtyWords>;

Dirty collect(mediator::GgttRamBacking& b, bool* ok = nullptr) {
    Dirty d{};
    const bool r = b.collect_dirty(d);
    if (ok != nullptr) {
        *ok = r;
    }
    return d;
}

bool all_set(const Dirty& d) {
    for (uint64_t w : d) {
        if (w != ~uint64_t{0}) {
            return false;
        }
    }
    return true;
}

Dirty bits(std::initializer_list<unsigned> pages) {
    Dirty d{};
    for (unsigned p : pages) {
        d[p / 64] |= uint64_t{1} << (p % 64);
    }
    return d;
}

class Gate {
public:
    void open() { promise_.set_value(); }
    bool wait() { return future_.wait_for(std::chrono::seconds(10)) == std::future_status::ready; }

private:
    std::promise<void> promise_;
    std::shared_future<void> future_ = promise_.get_future().share();
};

}  // namespace

TEST_CASE(
    "the GGTT backing takes guest stores at its placement, reports them dirty and keeps "
    "its contents across moves",
    "[xengt][ggtt]") {
    sim::Host host;
    Gate wrote, moved, wrote_again;
    uint64_t seen_from_mediator = 0;
    sim::DomainConfig c;
    c.name = "ggtt";
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        seen_from_mediator = cpu.read(kGgtt * kPage + 5 * kPage, 8);
        cpu.write((kGgtt + 7) * kPage + 8, 8, 0x00000000fee1d00dull);  // a PTE store, no trap
        cpu.write((kGgtt + 100) * kPage - 4, 8, ~uint64_t{0});         // straddles 99 and 100
        wrote.open();
        if (!moved.wait()) {
            throw std::runtime_error("never moved");
        }
        cpu.write((kMoved + 3) * kPage, 4, 0x33);
        wrote_again.open();
    });
    test::ServedGuest guest(host, std::move(c));
    const uint16_t domid = guest.domid();
    mediator::HypervisorPort& port = guest.session().hypervisor_port();
    mediator::GgttRamBacking* b = port.ggtt_ram_backing();
    REQUIRE(b != nullptr);
    CHECK(port.ggtt_ram_backing() == b);  // created once
    CHECK(guest.session().status().ggtt_backing);
    CHECK(host.status(domid).max_pages == kRamPages + kBackingPages);
    CHECK(host.status(domid).tot_pages == kRamPages + kBackingPages);
    CHECK(host.machine_frame(domid, kParking + 7));

    CHECK(collect(*b) == Dirty{});  // parked: the guest cannot have written it
    REQUIRE(b->place(GuestFrame{kGgtt}));
    CHECK_FALSE(host.machine_frame(domid, kParking + 7));
    const auto frame7 = host.machine_frame(domid, kGgtt + 7);
    REQUIRE(frame7);
    CHECK(all_set(collect(*b)));             // a new placement: everything may be dirty
    std::memcpy(b->page(5), "mediator", 8);  // the mediator's own stores are not reported
    CHECK(b->page(kBackingPages) == nullptr);

    guest.start();
    REQUIRE(wrote.wait());
    CHECK(collect(*b) == bits({7, 99, 100}));
    CHECK(collect(*b) == Dirty{});
    uint64_t pte = 0;
    std::memcpy(&pte, b->page(7) + 8, 8);
    CHECK(pte == 0xfee1d00d);

    // The guest moves BAR0: same frames, same contents, same mapping.
    REQUIRE(b->place(GuestFrame{kMoved}));
    CHECK(host.machine_frame(domid, kMoved + 7) == frame7);
    CHECK_FALSE(host.machine_frame(domid, kGgtt + 7));
    std::memcpy(&pte, b->page(7) + 8, 8);
    CHECK(pte == 0xfee1d00d);
    CHECK(all_set(collect(*b)));
    moved.open();
    REQUIRE(wrote_again.wait());
    // Parked before anyone asked: what the guest wrote there is still reported.
    REQUIRE(b->place(std::nullopt));
    CHECK(host.machine_frame(domid, kParking + 7) == frame7);
    CHECK(collect(*b) == bits({3}));
    CHECK(collect(*b) == Dirty{});

    REQUIRE(host.wait_programs_finished(domid));
    INFO(host.status(domid).crash_reason);
    CHECK(host.status(domid).state == sim::DomainState::Running);
    CHECK(std::memcmp(&seen_from_mediator, "mediator", 8) == 0);

    // Placing back where it was starts tracking over: all dirty again.
    REQUIRE(b->place(GuestFrame{kGgtt}));
    CHECK(all_set(collect(*b)));
    REQUIRE(b->place(GuestFrame{kGgtt + 1024}));  // overlapping move goes through parking
    CHECK(host.machine_frame(domid, kGgtt + 1024 + 7) == frame7);

    guest.stop();
    const uint64_t free_before = host.machine_memory_free_frames();
    guest.detach();  // frames and allowance go back
    CHECK(host.status(domid).tot_pages == kRamPages);
    CHECK(host.status(domid).max_pages == kRamPages);
    CHECK(host.machine_memory_free_frames() == free_before + kBackingPages);
    CHECK_FALSE(host.machine_frame(domid, kGgtt + 1024 + 7));
}

TEST_CASE("placements the backing cannot take leave it parked", "[xengt][ggtt]") {
    sim::Host host;
    sim::DomainConfig c;
    c.name = "ggtt-bad";
    test::ServedGuest guest(host, std::move(c));
    const uint16_t domid = guest.domid();
    mediator::GgttRamBacking* b = guest.session().hypervisor_port().ggtt_ram_backing();
    REQUIRE(b != nullptr);
    REQUIRE(b->place(GuestFrame{kGgtt}));
    CHECK_FALSE(b->place(GuestFrame{0x100}));  // onto guest RAM: refused
    CHECK(host.machine_frame(domid, kParking));
    CHECK_FALSE(host.machine_frame(domid, kGgtt));
    REQUIRE(b->place(GuestFrame{kGgtt}));
    CHECK_FALSE(b->place(GuestFrame{kParking - 10}));      // onto its own parking place
    CHECK_FALSE(b->place(GuestFrame{uint64_t{1} << 40}));  // beyond guest-physical space
    CHECK(host.machine_frame(domid, kParking));
    // Moved away before anyone asked what the guest wrote there: all of it.
    CHECK(all_set(collect(*b)));
    CHECK(collect(*b) == Dirty{});  // parked: nothing new
    REQUIRE(b->place(GuestFrame{kGgtt}));

    // A dead domain cannot say what is dirty; teardown stays quiet.
    host.destroy_domain(domid);
    bool ok = true;
    collect(*b, &ok);
    CHECK_FALSE(ok);
}

TEST_CASE("no GGTT backing when the frames cannot be had", "[xengt][ggtt]") {
    sim::HostOptions opts;
    opts.machine_memory_bytes = (kRamPages + 1000) * kPage;  // less than 2048 spare frames
    sim::Host host(opts);
    sim::DomainConfig c;
    c.name = "ggtt-oom";
    test::ServedGuest guest(host, std::move(c));
    const uint16_t domid = guest.domid();
    const uint64_t free_before = host.machine_memory_free_frames();
    CHECK(guest.session().hypervisor_port().ggtt_ram_backing() == nullptr);
    CHECK(guest.session().hypervisor_port().ggtt_ram_backing() == nullptr);  // not retried
    CHECK_FALSE(guest.session().status().ggtt_backing);
    // Everything undone: no frames kept, the limit as it was.
    CHECK(host.machine_memory_free_frames() == free_before);
    CHECK(host.status(domid).tot_pages == kRamPages);
    CHECK(host.status(domid).max_pages == kRamPages);
}
