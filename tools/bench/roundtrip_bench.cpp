// Round-trip benchmark: a guest's trapped MMIO read as the guest sees it on
// the simulated host — the vCPU posts the ioreq, the event channel wakes the
// session's loop, the shipping backend serves it, the notify wakes the vCPU.
//
// On the simulator the "hypervisor" cost is two thread wake-ups through a pipe
// and a condition variable; on real Xen it is a VM exit, a dom0 wake-up and two
// event-channel notifications. Comparing this with xengt-trap-bench shows how
// much of a trap the mediator itself costs.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <thread>
#include <vector>

#include "mediator/base/log.hpp"
#include "tools/guests/pci.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/xen/guest_session.hpp"

namespace po = boost::program_options;
using namespace xengt;

int main(int argc, char** argv) {
    po::options_description desc("Usage: xengt-roundtrip-bench [options]\nOptions");
    desc.add_options()("help,h", "show this help")(
        "iterations", po::value<unsigned>()->default_value(20000), "guest accesses per run")(
        "runs", po::value<unsigned>()->default_value(5), "runs (median reported)");
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
        std::ostringstream help;
        help << desc;
        std::printf("%s\n", help.str().c_str());
        return 0;
    }
    const unsigned iterations = vm["iterations"].as<unsigned>();
    const unsigned runs = std::max(1u, vm["runs"].as<unsigned>());
    set_log_level(LogLevel::Warn);

    constexpr uint64_t kBar0 = 0xd0000000;
    std::vector<double> samples;
    sim::Host host;
    sim::DomainConfig c;
    c.name = "bench";
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        guests::Bdf gpu{0, 2, 0};
        guests::pci_write(cpu, gpu, 0x10, 4, static_cast<uint32_t>(kBar0));
        guests::pci_write(cpu, gpu, 0x04, 2, 0x2);
        for (unsigned r = 0; r < runs; ++r) {
            auto t0 = std::chrono::steady_clock::now();
            for (unsigned i = 0; i < iterations; ++i) {
                cpu.read(kBar0 + 0x209c, 4);  // RING_MI_MODE: a tracked register
            }
            auto t1 = std::chrono::steady_clock::now();
            samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                              iterations);
        }
    });
    uint16_t domid = host.create_domain(std::move(c));
    xen::SessionOptions opts;
    opts.domid = domid;
    xen::GuestSession session(opts);
    std::thread server([&] { session.run(); });
    host.unpause(domid);
    bool finished = host.wait_programs_finished(domid);
    session.stop();
    server.join();
    if (!finished || samples.size() != runs) {
        std::fprintf(stderr, "xengt-roundtrip-bench: the guest did not finish\n");
        return 1;
    }
    std::sort(samples.begin(), samples.end());
    std::printf(
        "guest-visible MMIO read through the simulated host: %.0f ns/access (median of %u)\n",
        samples[samples.size() / 2], runs);
    return 0;
}
