// Mediated vs native: the same blitter workload on two software GPUs in one
// process, one driven directly through its registers (tools/gpu_driver/
// native_driver.hpp), one through a vGPU: ELSP trap, shadow and scan, the
// device scheduler, completion reflected into the guest's CSB. Each run
// submits `--iterations` workloads one after another, each waited for; the
// median run is reported as time per workload and as the mediated/native
// throughput ratio.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "tools/bench/bench_args.hpp"
#include "tools/gpu_driver/mediated_world.hpp"

using namespace xengt;
namespace native = xengt::gpu::model::native;
namespace hw = xengt::gpu::model::hw;
using gpu::mediated::Guest;
using gpu::mediated::GuestContext;
using gpu::mediated::World;

namespace {

uint32_t xy(uint32_t x, uint32_t y) {
    return y << 16 | x;
}

// `fills` XY_COLOR_BLTs of w x h at `surface` (pitch w * 4), then the end.
std::vector<uint32_t> workload(uint64_t surface, uint32_t w, uint32_t h, unsigned fills) {
    std::vector<uint32_t> b;
    for (unsigned i = 0; i < fills; ++i) {
        b.insert(b.end(),
                 {native::kXyColorBlt32, native::kBr13Depth32 | native::kRopPatCopy | w * 4,
                  xy(0, 0), xy(w, h), static_cast<uint32_t>(surface),
                  static_cast<uint32_t>(surface >> 32), 0xFF000000u | i});
    }
    b.insert(b.end(), {native::kMiUserInterrupt, native::kMiBatchBufferEnd});
    return b;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct Shape {
    const char* name;
    uint32_t w, h;
    unsigned fills;
};

// Seconds per workload, native.
double run_native(const Shape& s, uint64_t n, unsigned runs) {
    const uint64_t pages = (uint64_t{s.w} * 4 * s.h + kPageSize - 1) / kPageSize;
    native::Driver d({}, 64 + pages + 8);
    d.enable_engine(native::kBcs);
    native::Context ctx = d.make_context(native::kBcs, 1);
    const uint32_t surface = d.alloc(pages);
    const auto dws = workload(surface, s.w, s.h, s.fills);
    const uint32_t batch = d.alloc(dws.size() * 4 / kPageSize + 1);
    d.poke(batch, dws);
    std::vector<double> samples;
    for (unsigned r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (uint64_t i = 0; i < n; ++i) {
            d.emit(ctx, {native::kMiBatchBufferStart, batch, 0});
            d.submit(ctx);
            // As i915 (and the mediated guest) learn it: a context-switch
            // interrupt, then complete|active-to-idle in the status page.
            for (bool done = false; !done;) {
                d.clear_seen();
                for (const uint64_t e : d.read_csb(native::kBcs)) {
                    done = done || (e & hw::kCsbActiveToIdle) != 0;
                }
                if (!done && !d.wait_engine_irq(native::kBcs, hw::kIrqContextSwitch)) {
                    throw std::runtime_error("native workload did not complete");
                }
            }
        }
        samples.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / n);
    }
    return median(samples);
}

// Seconds per workload, through a vGPU.
double run_mediated(const Shape& s, uint64_t n, unsigned runs) {
    World world;
    Guest g(world, 0);
    g.enable_engine(mediator::exec::Engine::Blitter);
    GuestContext ctx = g.make_context(mediator::exec::Engine::Blitter, 1);
    const uint64_t pages = (uint64_t{s.w} * 4 * s.h + kPageSize - 1) / kPageSize;
    const uint64_t surface = g.gm_alloc(pages);
    const uint64_t batch = g.batch(workload(surface, s.w, s.h, s.fills));
    std::vector<double> samples;
    for (unsigned r = 0; r < runs; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        for (uint64_t i = 0; i < n; ++i) {
            g.emit(ctx, {native::kMiBatchBufferStart, static_cast<uint32_t>(batch), 0});
            g.submit(ctx);
            if (!g.pump_until([&] { return g.ring_head_in_image(ctx) == ctx.tail; })) {
                throw std::runtime_error("mediated workload did not complete");
            }
        }
        samples.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / n);
    }
    if (g.vgpu().execlist_counters()->rejected != 0 ||
        g.peek(surface) != 0xFF000000u + s.fills - 1) {
        throw std::runtime_error("mediated workload did not do its work");
    }
    return median(samples);
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto args = bench::parse_bench_args(argc, argv, "xengt-exec-bench", 50, &exit_code);
    if (!args) {
        return exit_code;
    }
    const Shape shapes[] = {
        {"1920x1080 fill x4", 1920, 1080, 4},
        {"256x256 fill", 256, 256, 1},
        {"16x16 fill", 16, 16, 1},
    };
    std::printf("blitter workloads, each submitted and waited for; median of %u runs of %llu\n",
                args->runs, static_cast<unsigned long long>(args->iterations));
    std::printf("%-20s %14s %14s %12s %14s\n", "workload", "native us", "mediated us", "ratio",
                "overhead us");
    try {
        for (const Shape& s : shapes) {
            const double nat = run_native(s, args->iterations, args->runs);
            const double med = run_mediated(s, args->iterations, args->runs);
            std::printf("%-20s %14.1f %14.1f %12.3f %14.1f\n", s.name, nat * 1e6, med * 1e6,
                        nat / med, (med - nat) * 1e6);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xengt-exec-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
