// xengt-demo: the daemon on a simulated Xen host.
//
// Creates two HVM guests (paused, as `xl create -p`), attaches a vGPU to each
// through the same daemon code xengtd runs, unpauses them so they probe their
// GPUs concurrently, prints what each guest reported on its debug console and
// what the daemon counted, then destroys the guests and shows the teardown.
#include <boost/program_options.hpp>
#include <cinttypes>
#include <cstdio>
#include <future>
#include <iostream>

#include "mediator/base/log.hpp"
#include "tools/guests/gtt_driver.hpp"
#include "tools/guests/probe.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/daemon/daemon.hpp"

namespace po = boost::program_options;
using namespace xengt;

namespace {

const char* reason_name(xen::GuestSession::EndReason r) {
    return r == xen::GuestSession::EndReason::DomainGone ? "domain gone" : "stopped";
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description desc("Usage: xengt-demo [options]\nOptions");
    desc.add_options()("help,h", "show this help")(
        "guests", po::value<unsigned>()->default_value(2), "number of guests (1-7)")(
        "verbose,v", "show the daemon's debug log");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "xengt-demo: %s\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    const unsigned n = vm["guests"].as<unsigned>();
    if (n < 1 || n > 7) {
        std::fprintf(stderr, "xengt-demo: --guests must be 1 to 7 (GVT-g's limit)\n");
        return 2;
    }
    set_log_level(vm.count("verbose") ? LogLevel::Debug : LogLevel::Info);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep our lines in order with the daemon's log

    std::printf(
        "== simulated Xen host: %u HVM guest(s), each probing its vGPU at 00:02.0,\n"
        "   then using its graphics memory: GGTT, aperture, a write-protected PPGTT\n",
        n);
    sim::Host host;
    std::vector<guests::ProbeReport> reports(n);
    std::vector<guests::GttDriverReport> gtt_reports(n);
    std::vector<uint16_t> domids;
    for (unsigned i = 0; i < n; ++i) {
        sim::DomainConfig c;
        c.name = "demo-guest-" + std::to_string(i + 1);
        c.ram_bytes = 128ull << 20;
        c.programs.push_back([&reports, &gtt_reports, i](sim::GuestCpu& cpu) {
            reports[i] = guests::run_probe(cpu);
            guests::GttDriverLayout layout;
            layout.pattern = 0x10000000u * (i + 1);  // each guest's own data
            gtt_reports[i] = guests::run_gtt_driver(cpu, layout);
        });
        domids.push_back(host.create_domain(std::move(c)));
    }

    daemon::DaemonOptions opts;
    opts.handle_signals = false;
    daemon::Daemon d(opts);
    for (unsigned i = 0; i < n; ++i) {
        xen::SessionOptions s;
        s.domid = domids[i];
        s.vgpu.vgt_id = i + 1;
        // Small enough slices that all seven guests GVT-g allows fit beside the
        // host's share; the daemon carves them out and PVINFO reports them.
        d.attach(s, mediator::GmRequest{MiB(16), MiB(448), 4});
    }
    auto daemon_exit = std::async(std::launch::async, [&] { return d.run(); });

    std::printf("== unpausing; guests run concurrently\n");
    for (uint16_t id : domids) {
        host.unpause(id);
    }
    bool all_finished = true;
    for (uint16_t id : domids) {
        all_finished = host.wait_programs_finished(id) && all_finished;
    }

    bool all_passed = all_finished;
    for (unsigned i = 0; i < n; ++i) {
        std::printf("\n== what dom%u saw (its debug console, port 0xE9):\n", domids[i]);
        for (const std::string& line : host.console(domids[i])) {
            std::printf("   (d%u) %s\n", domids[i], line.c_str());
        }
        std::string why;
        bool ok = guests::probe_passed(reports[i], &why) &&
                  guests::gtt_driver_passed(gtt_reports[i], &why);
        all_passed = all_passed && ok;
        if (!ok) {
            std::printf("   dom%u FAILED: %s\n", domids[i], why.c_str());
        }
    }

    // The proof, from what the GPU would walk: every GGTT and shadow PPGTT
    // entry maps its own guest's frame or the scratch page.
    const std::optional<mediator::IsolationReport> iso = d.check_isolation();
    std::printf("\n== isolation check over the physical GGTT and every shadow PPGTT:\n   %s\n",
                iso ? iso->summary().c_str() : "no GPU");
    all_passed = all_passed && iso && iso->ok();

    std::printf("\n== destroying the guests (as `xl destroy`)\n");
    for (uint16_t id : domids) {
        host.destroy_domain(id);
    }
    if (daemon_exit.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        std::printf("daemon did not notice the guests died\n");
        return 1;
    }
    std::printf("\n== daemon's per-guest counters\n");
    for (const daemon::SessionReport& r : d.reports()) {
        const auto& s = r.status;
        std::printf("   dom%u: ended (%s); %" PRIu64 " config, %" PRIu64 " MMIO, %" PRIu64
                    " port requests; %" PRIu64 " events; %" PRIu64 " bad requests; %" PRIu64
                    " trap-window updates\n",
                    s.domid, reason_name(r.reason), s.dispatch.pci_config, s.dispatch.mmio,
                    s.dispatch.pio, s.events, s.dispatch.hostile, s.vgpu.trap_window_updates);
    }
    bool clean = true;
    for (uint16_t id : domids) {
        bool gone =
            host.wait_until([&] { return host.status(id).state == sim::DomainState::Gone; });
        clean = clean && gone;
        std::printf("   dom%u after teardown: %s, %u dom0 mappings left\n", id,
                    gone ? "gone" : "STILL PRESENT", host.status(id).dom0_mappings);
    }
    std::printf("\n== %s\n", all_passed && clean ? "demo PASSED" : "demo FAILED");
    return all_passed && clean ? 0 : 1;
}
