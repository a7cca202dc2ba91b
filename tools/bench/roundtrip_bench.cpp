// Round-trip benchmark: a guest's trapped MMIO read as the guest sees it on
// the simulated host — the vCPU posts the ioreq, the event channel wakes the
// session's loop, the shipping backend serves it, the notify wakes the vCPU.
//
// On the simulator the "hypervisor" cost is two thread wake-ups through a pipe
// and a condition variable; on real Xen it is a VM exit, a dom0 wake-up and two
// event-channel notifications. Comparing this with xengt-trap-bench shows how
// much of a trap the mediator itself costs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "mediator/base/log.hpp"
#include "tools/bench/bench_args.hpp"
#include "tools/guests/pci.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/xen/guest_session.hpp"

using namespace xengt;

int main(int argc, char** argv) {
    int exit_code = 0;
    auto args = bench::parse_bench_args(argc, argv, "xengt-roundtrip-bench", 20'000, &exit_code);
    if (!args) {
        return exit_code;
    }
    const uint64_t iterations = args->iterations;
    const unsigned runs = args->runs;
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
            for (uint64_t i = 0; i < iterations; ++i) {
                cpu.read(kBar0 + 0x209c, 4);  // RING_MI_MODE: a tracked register
            }
            auto t1 = std::chrono::steady_clock::now();
            samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                              static_cast<double>(iterations));
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
