// Domain lifecycle, protocol violations, the domain list and Host installation.
#include <sys/mman.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <set>
#include <string>

#include "tests/xensim/responder.hpp"
#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;
using Catch::Matchers::Contains;

namespace {

std::string next_event(xs_handle* xs) {
    char** ev = xs_check_watch(xs);
    if (ev == nullptr) {
        return {};
    }
    std::string path = ev[XS_WATCH_PATH];
    std::free(ev);
    return path;
}

void drain(xs_handle* xs) {
    while (!next_event(xs).empty()) {
    }
}

// The domain list entry for domid, if listed.
std::optional<xc_domaininfo_t> info_of(uint16_t domid) {
    xc_interface* xc = xc_interface_open(nullptr, nullptr, 0);
    xc_domaininfo_t info{};
    const int n = xc_domain_getinfolist(xc, domid, 1, &info);
    xc_interface_close(xc);
    if (n != 1 || info.domain != domid) {
        return std::nullopt;
    }
    return info;
}

Responder::Config silent() {
    Responder::Config c;
    c.misbehave = [](ioreq_t&) { return false; };  // takes requests, never answers
    return c;
}

}  // namespace

TEST_CASE("destroy releases a blocked vCPU and the domain lingers Dying while dom0 maps its pages",
          "[xensim][lifecycle]") {
    Host host;
    std::atomic<bool> died{false};
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        try {
            cpu.in(0x100, 4);
        } catch (const GuestDied&) {
            died = true;
            throw;
        }
    });
    const uint16_t domid = host.create_domain(cfg);
    auto srv = std::make_unique<Responder>(domid, silent());
    srv->claim_pio(0x100, 0x103);
    Handles h;
    xen_pfn_t gfn = 0;
    void* ram = xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 1, &gfn, nullptr);
    REQUIRE(ram != nullptr);
    xs_handle* xs = xs_open(0);
    REQUIRE(xs_watch(xs, "@releaseDomain", "rel"));
    drain(xs);

    host.unpause(domid);
    REQUIRE(host.wait_until([&] { return slot_state(srv->slot(0)) == STATE_IOREQ_READY; }));
    host.destroy_domain(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(died);
    DomainStatus st = host.status(domid);
    CHECK(st.state == DomainState::Dying);
    CHECK(st.ioreq_servers == 0);
    CHECK(st.dom0_mappings == 2);  // a RAM page and the ioreq page
    auto info = info_of(domid);
    REQUIRE(info);
    CHECK((info->flags & XEN_DOMINF_dying) != 0);
    CHECK(next_event(xs) == "@releaseDomain");
    CHECK_FALSE(xs_is_domain_introduced(xs, domid));
    drain(xs);

    srv.reset();  // the server's own teardown: its page mapping goes
    CHECK(host.status(domid).state == DomainState::Dying);
    CHECK(next_event(xs).empty());
    REQUIRE(xenforeignmemory_unmap(h.fmem, ram, 1) == 0);
    CHECK(host.status(domid).state == DomainState::Gone);
    CHECK_FALSE(info_of(domid));
    CHECK(next_event(xs) == "@releaseDomain");
    xs_close(xs);
}

TEST_CASE("xc_domain_getinfolist lists dom0 and each domain's state", "[xensim][lifecycle]") {
    Host host;
    DomainConfig cfg;
    cfg.vcpus = 3;
    cfg.ram_bytes = 8 << 20;
    cfg.programs.push_back([](GuestCpu&) {});
    const uint16_t a = host.create_domain(cfg);
    DomainConfig bad;
    bad.programs.push_back([](GuestCpu&) { throw std::runtime_error("boom"); });
    const uint16_t b = host.create_domain(bad);

    xc_interface* xc = xc_interface_open(nullptr, nullptr, 0);
    xc_domaininfo_t info[8]{};
    REQUIRE(xc_domain_getinfolist(xc, 0, 8, info) == 3);
    CHECK(info[0].domain == 0);
    CHECK((info[0].flags & XEN_DOMINF_running) != 0);
    CHECK((info[0].flags & XEN_DOMINF_hvm_guest) == 0);
    CHECK(info[1].domain == a);
    CHECK((info[1].flags & XEN_DOMINF_paused) != 0);
    CHECK((info[1].flags & XEN_DOMINF_hvm_guest) != 0);
    CHECK(info[1].max_vcpu_id == 2);
    CHECK(info[1].tot_pages == (8 << 20) / 4096);
    CHECK(info[2].domain == b);
    REQUIRE(xc_domain_getinfolist(xc, a + 1, 8, info) == 1);
    CHECK(info[0].domain == b);  // enumeration starts at the next existing domid
    REQUIRE(xc_domain_getinfolist(xc, 0, 1, info) == 1);

    host.unpause(a);
    host.unpause(b);
    REQUIRE(host.wait_programs_finished(a));
    REQUIRE(host.wait_programs_finished(b));
    auto ia = info_of(a);
    REQUIRE(ia);
    CHECK((ia->flags & XEN_DOMINF_running) != 0);
    CHECK((ia->flags & XEN_DOMINF_paused) == 0);
    auto ib = info_of(b);
    REQUIRE(ib);
    CHECK((ib->flags & XEN_DOMINF_shutdown) != 0);
    CHECK(((ib->flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask) == SHUTDOWN_crash);
    CHECK((ib->flags & XEN_DOMINF_running) == 0);
    CHECK(host.status(b).state == DomainState::Crashed);
    CHECK_THAT(host.status(b).crash_reason, Contains("boom"));

    host.destroy_domain(a);  // nothing mapped: gone at once
    CHECK(host.status(a).state == DomainState::Gone);
    REQUIRE(xc_domain_getinfolist(xc, 0, 8, info) == 2);
    CHECK(info[1].domain == b);
    xc_interface_close(xc);
}

TEST_CASE("a server moving the slot state backwards crashes the domain", "[xensim][lifecycle]") {
    Host host;
    std::atomic<bool> died{false};
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        try {
            cpu.read(0xf0000000, 4);
        } catch (const GuestDied&) {
            died = true;
        }
    });
    const uint16_t domid = host.create_domain(cfg);
    Responder::Config c;
    c.misbehave = [](ioreq_t& slot) {
        set_slot_state(&slot, STATE_IOREQ_NONE);  // READY -> NONE
        return true;
    };
    Responder srv(domid, c);
    srv.claim_mmio(0xf0000000, 0xf0000fff);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(died);
    const DomainStatus st = host.status(domid);
    CHECK(st.state == DomainState::Crashed);
    CHECK_THAT(st.crash_reason, Contains("Weird HVM ioreq state transition 1 -> 0"));
}

TEST_CASE("a server rewriting vp_eport crashes the domain at the next request",
          "[xensim][lifecycle]") {
    Host host;
    std::atomic<int> done{0};
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        cpu.in(0x100, 1);
        done = 1;
        cpu.in(0x100, 1);
        done = 2;
    });
    const uint16_t domid = host.create_domain(cfg);
    Responder::Config c;
    c.misbehave = [](ioreq_t& slot) {
        slot.vp_eport = 4242;
        set_slot_state(&slot, STATE_IORESP_READY);
        return true;
    };
    Responder srv(domid, c);
    srv.claim_pio(0x100, 0x100);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(done == 1);
    CHECK_THAT(host.status(domid).crash_reason,
               Contains("device model set bad event channel 4242"));
}

TEST_CASE("a request nobody answers ends with a clear failure after the wait limit",
          "[xensim][lifecycle]") {
    HostOptions opts;
    opts.wait_limit = std::chrono::milliseconds(100);
    Host host(opts);
    DomainConfig cfg;
    cfg.programs.push_back([](GuestCpu& cpu) { cpu.in(0x100, 4); });
    const uint16_t domid = host.create_domain(cfg);
    Responder srv(domid, silent());
    srv.claim_pio(0x100, 0x103);
    host.unpause(domid);
    bool finished = false;
    for (int i = 0; i < 20 && !finished; ++i) {
        finished = host.wait_programs_finished(domid);  // each try is bounded too
    }
    REQUIRE(finished);
    CHECK(host.status(domid).state == DomainState::Crashed);
    CHECK_THAT(host.status(domid).crash_reason,
               Contains("vCPU 0 waited > 100 ms for an ioreq response"));
}

TEST_CASE("each vCPU blocks on its own slot", "[xensim][lifecycle]") {
    Host host;
    DomainConfig cfg;
    cfg.vcpus = 2;
    std::atomic<uint32_t> got0{0}, got1{0};
    cfg.programs.push_back([&](GuestCpu& cpu) { got0 = cpu.in(0x100, 4) + cpu.vcpu_id(); });
    cfg.programs.push_back([&](GuestCpu& cpu) { got1 = cpu.in(0x100, 4) + cpu.vcpu_id(); });
    const uint16_t domid = host.create_domain(cfg);
    Responder::Config c;
    c.handler = [](const ioreq_t&) { return 10; };
    Responder srv(domid, c);
    srv.claim_pio(0x100, 0x103);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(got0 == 10);
    CHECK(got1 == 11);
    std::set<unsigned> vcpus;
    for (const auto& s : srv.served()) {
        vcpus.insert(s.vcpu);
    }
    CHECK(vcpus == std::set<unsigned>{0, 1});
}

TEST_CASE("inject_msi is recorded per domain", "[xensim][lifecycle]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Handles h;
    REQUIRE(xendevicemodel_inject_msi(h.dm, domid, 0xfee00000, 0x4041) == 0);
    CHECK(xendevicemodel_inject_msi(h.dm, 9, 0xfee00000, 0x41) == -1);
    CHECK(errno == ESRCH);
    const auto msis = host.msis(domid);
    REQUIRE(msis.size() == 1);
    CHECK(msis[0].address == 0xfee00000);
    CHECK(msis[0].data == 0x4041);
}

TEST_CASE("one Host at a time, and nothing works without one", "[xensim][lifecycle]") {
    errno = 0;
    CHECK(xendevicemodel_open(nullptr, 0) == nullptr);
    CHECK(errno == ENODEV);
    errno = 0;
    CHECK(xenforeignmemory_open(nullptr, 0) == nullptr);
    CHECK(errno == ENODEV);
    errno = 0;
    CHECK(xenevtchn_open(nullptr, 0) == nullptr);
    CHECK(errno == ENODEV);
    errno = 0;
    CHECK(xc_interface_open(nullptr, nullptr, 0) == nullptr);
    CHECK(errno == ENODEV);
    errno = 0;
    CHECK(xs_open(0) == nullptr);
    CHECK(errno == ENODEV);

    auto host = std::make_unique<Host>();
    CHECK_THROWS_AS(Host(), std::logic_error);
    const uint16_t domid = host->create_domain({});
    Handles h;
    xc_interface* xc = xc_interface_open(nullptr, nullptr, 0);
    xs_handle* xs = xs_open(0);
    host.reset();  // handles outlive their Host: every call fails cleanly

    ioservid_t id = 0;
    CHECK(xendevicemodel_create_ioreq_server(h.dm, domid, 0, &id) == -1);
    CHECK(errno == ENODEV);
    xen_pfn_t gfn = 0;
    CHECK(xenforeignmemory_map(h.fmem, domid, PROT_READ, 1, &gfn, nullptr) == nullptr);
    CHECK(errno == ENODEV);
    CHECK(xenevtchn_bind_interdomain(h.xce, domid, 3) == -1);
    CHECK(errno == ENODEV);
    xc_domaininfo_t info{};
    CHECK(xc_domain_getinfolist(xc, 0, 1, &info) == -1);
    CHECK(errno == ENODEV);
    CHECK(xs_read(xs, XBT_NULL, "/local", nullptr) == nullptr);
    CHECK(errno == ENODEV);
    CHECK_FALSE(xs_write(xs, XBT_NULL, "/x", "1", 1));
    CHECK(errno == ENODEV);
    xs_close(xs);
    CHECK(xc_interface_close(xc) == 0);
    Host again;  // installing a new one works once the old one is gone
}
