// Pin benchmark: what a GPU-table rewrite costs in guest-frame pins on the
// simulated host, for the two host-frame ports of the Xen backend.
//
// A shadow-table or GGTT rewrite unpins the old frame and pins the new one.
// With the software GPU (ForeignFramePins) the last unpin unmaps, so pinning
// a frame again costs a foreign map. A real GPU's MachineFramePins keeps the
// translation cached after the last unpin; this measures how much that saves
// (hits), and what a miss costs (map + machine-frame query + registry).
// The simulator's map calls are mmap system calls, as privcmd's are, but
// without a hypercall: real Xen misses cost more, so the saving is a floor.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "gpu/mapped_frame_table.hpp"
#include "mediator/base/log.hpp"
#include "tools/bench/bench_args.hpp"
#include "tools/xensim/host.hpp"
#include "tools/xensim/machine_frames.hpp"
#include "xengt/xen/foreign_frame_pins.hpp"
#include "xengt/xen/handles.hpp"
#include "xengt/xen/machine_frame_pins.hpp"

using namespace xengt;

namespace {

constexpr uint64_t kFrames = 256;  // the working set cycled through

// Median ns per pin+unpin over `runs` runs of `iterations` each.
double median_ns(unsigned runs, uint64_t iterations, const std::function<bool(uint64_t)>& cycle) {
    std::vector<double> samples;
    for (unsigned r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (uint64_t i = 0; i < iterations; ++i) {
            if (!cycle(i % kFrames)) {
                std::fprintf(stderr, "xengt-pins-bench: a pin failed\n");
                return -1;
            }
        }
        const auto t1 = std::chrono::steady_clock::now();
        samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() /
                          static_cast<double>(iterations));
    }
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    auto args = bench::parse_bench_args(argc, argv, "xengt-pins-bench", 50'000, &exit_code);
    if (!args) {
        return exit_code;
    }
    set_log_level(LogLevel::Warn);
    sim::Host host;
    sim::DomainConfig c;
    c.name = "bench";
    c.ram_bytes = 64ull << 20;
    const uint16_t domid = host.create_domain(std::move(c));
    xen::ForeignMemory fmem;
    sim::SimMachineFrames source(host);
    // One registry each: a registry refuses a frame already held, and the
    // cached pins keep theirs.
    xen::MachineFrameRegistry registry;
    xen::MachineFrameRegistry registry2;
    gpu::MappedFrameTable table(1 << 16);

    xen::ForeignFramePins soft(fmem.get(), domid, table);
    xen::MachineFramePins cached(fmem.get(), domid, source, registry, kFrames);
    xen::MachineFramePins uncached(fmem.get(), domid, source, registry2, 0);
    auto cycle = [](mediator::GuestFramePins& pins) {
        return [&pins](uint64_t gfn) {
            if (!pins.pin(GuestFrame{gfn})) {
                return false;
            }
            pins.unpin(GuestFrame{gfn});
            return true;
        };
    };
    const double soft_ns = median_ns(args->runs, args->iterations, cycle(soft));
    const double hit_ns = median_ns(args->runs, args->iterations, cycle(cached));
    const double miss_ns = median_ns(args->runs, args->iterations, cycle(uncached));
    if (soft_ns < 0 || hit_ns < 0 || miss_ns < 0) {
        return 1;
    }
    std::printf("pin+unpin, software GPU (ForeignFramePins, map each time): %8.0f ns\n", soft_ns);
    std::printf("pin+unpin, real GPU, cache miss (map + query + registry):  %8.0f ns\n", miss_ns);
    std::printf(
        "pin+unpin, real GPU, cache hit:                            %8.0f ns  "
        "(%.0fx cheaper than a miss)\n",
        hit_ns, miss_ns / hit_ns);
    std::printf("cache hits %llu, resolves %llu\n",
                static_cast<unsigned long long>(cached.counters().cache_hits),
                static_cast<unsigned long long>(cached.counters().resolves));
    return 0;
}
