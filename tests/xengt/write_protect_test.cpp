// Write-protected guest pages through the real backend: the session's
// PageTracker claims p2m_ioreq_server, the dispatcher hands trapped stores to
// the vGPU, and the device's own stores (write_guest) still reach RAM.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/xengt/harness.hpp"
#include "tools/guests/pci.hpp"
#include "tools/guests/probe.hpp"
#include "xengt/xen/xen_api.hpp"

using namespace xengt;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPt = 0x20;     // the guest "page table" the mediator shadows (gfn)
constexpr uint64_t kOther = 0x21;  // an ordinary page next to it
constexpr uint64_t kBar0 = 0xd0000000;
constexpr uint64_t kPvinfo = kBar0 + 0x78000;

// One-shot hand-over between the test thread and a guest vCPU.
class Gate {
public:
    void open() { promise_.set_value(); }
    bool wait() { return future_.wait_for(std::chrono::seconds(10)) == std::future_status::ready; }
    void guest_wait() {
        if (!wait()) {
            throw std::runtime_error("the test never opened the gate");
        }
    }

private:
    std::promise<void> promise_;
    std::shared_future<void> future_ = promise_.get_future().share();
};

void enable_gpu(sim::GuestCpu& cpu) {
    guests::Bdf gpu{0, 2, 0};
    guests::pci_write(cpu, gpu, 0x10, 4, static_cast<uint32_t>(kBar0));
    guests::pci_write(cpu, gpu, 0x14, 4, 0);
    guests::pci_write(cpu, gpu, 0x04, 2, 0x2);
}

std::span<const std::byte> bytes_of(const uint64_t& v) {
    return std::as_bytes(std::span(&v, 1));
}

}  // namespace

TEST_CASE(
    "a store into a protected page reaches the vGPU, RAM changes only when the device "
    "writes it, and unprotecting makes stores direct again",
    "[xengt][wp]") {
    sim::Host host;
    Gate trapped, committed;
    std::array<uint64_t, 4> seen{};
    sim::DomainConfig c;
    c.name = "wp";
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        seen[0] = cpu.read(kPt * kPage, 8);
        cpu.write(kPt * kPage, 8, 0x1111222233334444);  // trapped: goes to xengtd
        seen[1] = cpu.read(kPt * kPage, 8);             // reads are RAM, never trapped
        trapped.open();
        committed.guest_wait();
        seen[2] = cpu.read(kPt * kPage, 8);  // what the device stored
        cpu.write(kPt * kPage, 8, 0x77);     // direct again
        seen[3] = cpu.read(kPt * kPage, 8);
    });
    test::ServedGuest guest(host, std::move(c));
    mediator::HypervisorPort& port = guest.session().hypervisor_port();
    const uint64_t original = 0x0101010101010101;
    REQUIRE(port.write_guest(GuestPhysAddr{kPt * kPage}, bytes_of(original)));
    REQUIRE(port.protect_page(GuestFrame{kPt}));
    CHECK_FALSE(port.protect_page(GuestFrame{kPt}));       // calls do not nest
    CHECK_FALSE(port.protect_page(GuestFrame{0x100000}));  // not RAM: Xen refuses
    CHECK(guest.session().status().write_protect_available);
    CHECK(guest.session().status().protected_pages == 1);
    CHECK(host.status(guest.domid()).write_protected_pages == 1);

    guest.start();
    REQUIRE(trapped.wait());
    guest.stop();  // the session is ours while it does not serve
    xen::SessionStatus s = guest.session().status();
    CHECK(s.dispatch.protected_writes == 1);
    CHECK(s.dispatch.mmio == 1);
    CHECK(s.vgpu.mmio_writes == 1);
    CHECK(s.vgpu.mmio_reads == 0);
    // The device decides: here it stores the value itself.
    const uint64_t modified_before = host.status(guest.domid()).modified_memory_pages;
    const uint64_t value = 0x1111222233334444;
    REQUIRE(port.write_guest(GuestPhysAddr{kPt * kPage}, bytes_of(value)));
    CHECK(host.status(guest.domid()).modified_memory_pages == modified_before + 1);
    port.unprotect_page(GuestFrame{kPt});
    port.unprotect_page(GuestFrame{kPt});  // harmless
    CHECK(guest.session().status().protected_pages == 0);
    CHECK(host.status(guest.domid()).write_protected_pages == 0);
    guest.serve();
    committed.open();

    REQUIRE(host.wait_programs_finished(guest.domid()));
    INFO(host.status(guest.domid()).crash_reason);
    CHECK(host.status(guest.domid()).state == sim::DomainState::Running);
    guest.stop();
    CHECK(seen == std::array<uint64_t, 4>{original, original, value, 0x77});
    CHECK(guest.session().status().dispatch.protected_writes == 1);
}

TEST_CASE("repeated and pointer-mode stores into protected pages reach the vGPU, late ones RAM",
          "[xengt][wp]") {
    sim::Host host;
    std::array<uint8_t, 0x80> pt_after{};
    uint64_t other_after = 0;
    uint64_t magic = 0;
    sim::DomainConfig c;
    c.name = "wp-rep";
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        enable_gpu(cpu);
        const std::array<uint32_t, 2> src{0xaaaa5555, 0xbbbb6666};
        cpu.ram_write(0x3000, std::as_bytes(std::span(src)));
        // rep movs RAM -> protected page, as Xen would send it if it did not
        // split it: pointer mode, count 2.
        sim::RawIoreq rep;
        rep.type = IOREQ_TYPE_COPY;
        rep.addr = kPt * kPage + 0x10;
        rep.size = 4;
        rep.count = 2;
        rep.dir_read = false;
        rep.data_is_ptr = true;
        rep.data = 0x3000;
        cpu.send_raw(rep);
        // rep movs device -> protected page: the server must not store it itself.
        cpu.rep_movs_from_mmio(kPt * kPage + 0x40, kPvinfo, 4, 2);
        // A store for a page that was protected when Xen sent it, released since.
        sim::RawIoreq late;
        late.type = IOREQ_TYPE_COPY;
        late.addr = kOther * kPage + 8;
        late.size = 8;
        late.dir_read = false;
        late.data = 0x5eed5eed5eed5eed;
        cpu.send_raw(late);
        cpu.ram_read(kPt * kPage, std::as_writable_bytes(std::span(pt_after)));
        other_after = cpu.read(kOther * kPage + 8, 8);
        magic = cpu.read(kPvinfo, 8);
    });
    test::ServedGuest guest(host, std::move(c));
    REQUIRE(guest.session().hypervisor_port().protect_page(GuestFrame{kPt}));
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    INFO(host.status(guest.domid()).crash_reason);
    CHECK(host.status(guest.domid()).state == sim::DomainState::Running);
    guest.stop();
    const xen::SessionStatus s = guest.session().status();
    CHECK(s.dispatch.protected_writes == 4);
    CHECK(s.dispatch.late_protected == 1);
    CHECK(s.dispatch.hostile == 0);
    CHECK(s.vgpu.mmio_writes >= 4);
    for (uint8_t b : pt_after) {
        CHECK(b == 0);  // nothing stored behind the device's back
    }
    CHECK(other_after == 0x5eed5eed5eed5eed);
    CHECK(magic == guests::kPvinfoMagic);
}

TEST_CASE("teardown releases the write-protect type so the next session can claim it",
          "[xengt][wp]") {
    sim::Host host;
    std::vector<std::string> lines;
    LogSink old = set_log_sink([&](LogLevel, std::string_view subject, std::string_view text) {
        lines.push_back(std::string(subject) + ": " + std::string(text));
    });
    sim::DomainConfig c;
    c.name = "wp-reattach";
    test::ServedGuest guest(host, std::move(c));
    const uint16_t domid = guest.domid();
    REQUIRE(guest.session().hypervisor_port().protect_page(GuestFrame{kPt}));
    REQUIRE(guest.session().hypervisor_port().protect_page(GuestFrame{kOther}));
    {
        // Only one server per domain owns the type: a second session attaches
        // without it, and says so once.
        xen::SessionOptions o;
        o.domid = domid;
        xen::GuestSession second(o);
        CHECK_FALSE(second.status().write_protect_available);
        CHECK_FALSE(second.hypervisor_port().protect_page(GuestFrame{0x30}));
        CHECK_FALSE(second.hypervisor_port().protect_page(GuestFrame{0x31}));
    }
    const std::string refused =
        "dom" + std::to_string(domid) + " (map_mem_type_to_ioreq_server): " + std::strerror(EBUSY);
    CHECK(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
              return l.find(refused) != std::string::npos;
          }) == 1);
    CHECK(host.status(domid).write_protected_pages == 2);
    guest.detach();
    CHECK_FALSE(host.status(domid).write_protect_server);
    CHECK(host.status(domid).write_protected_pages == 0);
    {
        xen::SessionOptions o;
        o.domid = domid;
        xen::GuestSession third(o);
        CHECK(third.status().write_protect_available);
        CHECK(third.hypervisor_port().protect_page(GuestFrame{kPt}));
    }
    set_log_sink(std::move(old));
}

TEST_CASE("without HAP the session attaches but cannot write-protect", "[xengt][wp]") {
    sim::Host host;
    sim::DomainConfig c;
    c.name = "shadow";
    c.hap = false;
    test::ServedGuest guest(host, std::move(c));
    CHECK_FALSE(guest.session().status().write_protect_available);
    CHECK_FALSE(guest.session().hypervisor_port().protect_page(GuestFrame{kPt}));
    CHECK(guest.session().status().protected_pages == 0);
}
