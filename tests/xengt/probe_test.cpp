// A simulated HVM guest probes its vGPU, and every access travels through the
// shipping Xen backend (ioreq server, event channels, foreign mappings) into
// the mediator and back.
#include <catch2/catch.hpp>

#include "tests/xengt/harness.hpp"
#include "tools/guests/probe.hpp"

using namespace xengt;

namespace {

sim::DomainConfig probing_guest(guests::ProbeReport& report, const char* name = "probe") {
    sim::DomainConfig c;
    c.name = name;
    c.ram_bytes = 64ull << 20;
    c.programs.push_back([&report](sim::GuestCpu& cpu) { report = guests::run_probe(cpu); });
    return c;
}

}  // namespace

TEST_CASE("guest finds, sizes, places and uses its vGPU through the Xen backend", "[xengt][e2e]") {
    sim::Host host;
    guests::ProbeReport r;
    test::ServedGuest guest(host, probing_guest(r));
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    REQUIRE(host.status(guest.domid()).crash_reason.empty());

    std::string why;
    bool passed = guests::probe_passed(r, &why);
    INFO("probe verdict: " << why);
    CHECK(passed);

    // Found at 00:02.0 through CF8/CFC; the empty slot next to it is Xen's null handler.
    CHECK(r.vendor == 0x8086);
    CHECK(r.device == 0x1912);
    CHECK(r.class_code == 0x030000);
    CHECK(r.empty_slot_id == 0xffffffff);
    // All three BARs sized.
    CHECK(r.bar0_size == (16u << 20));
    CHECK(r.bar2_size == (256u << 20));
    CHECK(r.bar2_prefetchable);
    CHECK(r.bar4_size == 64);
    // PVINFO as i915 reads it.
    CHECK(r.pvinfo_magic == guests::kPvinfoMagic);
    CHECK(r.version_major == 1);
    CHECK(r.version_minor == 0);
    // Register round trip, BAR move, decode off.
    CHECK(r.register_read == r.register_written);
    CHECK(r.magic_after_move == guests::kPvinfoMagic);
    CHECK(r.old_place_after_move == ~uint64_t{0});
    CHECK(r.magic_decode_off == ~uint64_t{0});
    CHECK(r.magic_decode_back_on == guests::kPvinfoMagic);
    CHECK(r.rep_buffer[0] == static_cast<uint32_t>(guests::kPvinfoMagic));
    CHECK(r.rep_buffer[1] == static_cast<uint32_t>(guests::kPvinfoMagic >> 32));

    // The guest's report also reached Xen's debug console, as on real Xen.
    auto console = host.console(guest.domid());
    REQUIRE_FALSE(console.empty());
    CHECK(console.back() == "probe: PASS");

    guest.stop();
    xen::SessionStatus s = guest.session().status();
    CHECK(s.page_path == xen::IoreqPage::Path::ResourceMapping);
    CHECK(s.dispatch.pci_config > 20);
    CHECK(s.dispatch.mmio >= 10);
    CHECK(s.dispatch.hostile == 0);
    CHECK(s.vgpu.trap_window_updates >= 4);
}

TEST_CASE("ioreq page falls back to the legacy gfn mapping on kernels without resource mapping",
          "[xengt][e2e]") {
    sim::HostOptions opts;
    opts.resource_mapping_supported = false;
    sim::Host host(opts);
    guests::ProbeReport r;
    test::ServedGuest guest(host, probing_guest(r, "legacy"));
    CHECK(guest.session().status().page_path == xen::IoreqPage::Path::LegacyGfn);
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    std::string why;
    bool passed = guests::probe_passed(r, &why);
    INFO("probe verdict: " << why);
    CHECK(passed);
}

TEST_CASE("guest destroyed while attached: session ends, tears down, leaves no mapping",
          "[xengt][lifecycle]") {
    sim::Host host;
    guests::ProbeReport r;
    test::ServedGuest guest(host, probing_guest(r, "doomed"));
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    CHECK(host.status(guest.domid()).ioreq_servers == 1);

    host.destroy_domain(guest.domid());
    auto reason = guest.wait_end();
    REQUIRE(reason.has_value());
    CHECK(*reason == xen::GuestSession::EndReason::DomainGone);

    // While the session still maps its pages the domain lingers as dying...
    guest.detach();
    // ...and once torn down, nothing of it is left in dom0.
    REQUIRE(host.wait_until(
        [&] { return host.status(guest.domid()).state == sim::DomainState::Gone; }));
    CHECK(host.status(guest.domid()).dom0_mappings == 0);
}

TEST_CASE("detaching from a live guest releases its server, ranges, mappings and xenstore state",
          "[xengt][lifecycle]") {
    sim::Host host;
    guests::ProbeReport r;
    test::ServedGuest guest(host, probing_guest(r, "detach"));
    const std::string dir = guest.session().xenstore_dir();
    CHECK(dir == "/local/domain/0/device-model/" + std::to_string(guest.domid()) + "/xengt");
    CHECK(host.xenstore_read(dir + "/state") == "running");
    CHECK(host.xenstore_read(dir + "/bdf") == "0000:00:02.0");
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    guest.stop();
    guest.detach();
    CHECK_FALSE(host.xenstore_read(dir + "/state").has_value());
    sim::DomainStatus st = host.status(guest.domid());
    CHECK(st.state != sim::DomainState::Gone);
    CHECK(st.ioreq_servers == 0);
    CHECK(st.dom0_mappings == 0);
}
