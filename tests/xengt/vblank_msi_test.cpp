// A guest that enables its pipe and the vblank interrupt gets vblanks at the
// refresh rate, delivered as the MSI it programmed, through the real backend.
#include <catch2/catch.hpp>

#include <future>

#include "tools/guests/pci.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/daemon/daemon.hpp"

using namespace xengt;

namespace {

constexpr guests::Bdf kGpu{0, 2, 0};
constexpr uint64_t kBar0 = 0xd0000000;
// intel-gpu.md §1.5 (MSI capability at 0xAC), §6.1 (DE pipe A bank at
// 0x44400: IMR +4, IIR +8, IER +0xC; master at 0x44200), §7.2 (PIPECONF A).
constexpr uint32_t kMsiCap = 0xac;
constexpr uint64_t kPipeAImr = 0x44404;
constexpr uint64_t kPipeAIir = 0x44408;
constexpr uint64_t kPipeAIer = 0x4440c;
constexpr uint64_t kMasterIrq = 0x44200;
constexpr uint64_t kPipeAConf = 0x70008;
constexpr uint32_t kMsiAddress = 0xfee00000;
constexpr uint32_t kMsiData = 0x41;

}  // namespace

TEST_CASE("vblanks of an enabled pipe arrive as the guest's MSI", "[xengt][vblank][msi]") {
    sim::Host host;
    unsigned vblanks_seen = 0;
    sim::DomainConfig c;
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        guests::pci_write(cpu, kGpu, 0x10, 4, static_cast<uint32_t>(kBar0));
        guests::pci_write(cpu, kGpu, 0x14, 4, 0);
        guests::pci_write(cpu, kGpu, 0x04, 2, 0x6);  // memory decode + bus master
        guests::pci_write(cpu, kGpu, kMsiCap + 4, 4, kMsiAddress);
        guests::pci_write(cpu, kGpu, kMsiCap + 8, 2, kMsiData);
        guests::pci_write(cpu, kGpu, kMsiCap + 2, 2, 1);  // MSI enable
        cpu.write(kBar0 + kPipeAImr, 4, ~1u);             // unmask vblank only
        cpu.write(kBar0 + kPipeAIer, 4, 1);
        cpu.write(kBar0 + kMasterIrq, 4, 1u << 31);
        cpu.write(kBar0 + kPipeAConf, 4, 1u << 31);  // enable pipe A
        // What an interrupt handler does, three times: see the vblank, ack it.
        for (unsigned polls = 0; vblanks_seen < 3 && polls < 100000; ++polls) {
            if (cpu.read(kBar0 + kPipeAIir, 4) & 1) {
                cpu.write(kBar0 + kPipeAIir, 4, 1);
                ++vblanks_seen;
            }
        }
        cpu.write(kBar0 + kPipeAConf, 4, 0);  // pipe off: the vblanks stop
    });
    const uint16_t domid = host.create_domain(std::move(c));
    daemon::DaemonOptions opts;
    opts.handle_signals = false;
    daemon::Daemon d(opts);
    d.attach(xen::SessionOptions{domid});
    auto exit_code = std::async(std::launch::async, [&] { return d.run(); });
    struct StopOnExit {
        daemon::Daemon& d;
        ~StopOnExit() { d.request_stop(); }
    } stop_on_exit{d};
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(vblanks_seen == 3);
    const std::vector<sim::MsiRecord> msis = host.msis(domid);
    REQUIRE(msis.size() >= 3);
    for (const sim::MsiRecord& m : msis) {
        CHECK(m.address == kMsiAddress);
        CHECK(m.data == kMsiData);
    }
    host.destroy_domain(domid);
    REQUIRE(exit_code.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    REQUIRE(d.reports().size() == 1);
    CHECK(d.reports()[0].status.vgpu.vblanks >= 3);
    CHECK(d.reports()[0].status.vgpu.msi_raised == msis.size());
}
