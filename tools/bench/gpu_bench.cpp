// Software GPU benchmark: blitter fill and copy throughput (GB/s of pixels
// written) and command-streamer throughput (commands/s), measured through the
// registers and commands a driver uses: batches built in machine memory,
// submitted through ELSP, completion seen as the batch's user interrupt.
#include <algorithm>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/gpu_driver/native_driver.hpp"

using namespace xengt;
using namespace xengt::gpu::model::native;
namespace hw = xengt::gpu::model::hw;

namespace {

constexpr auto kTimeout = std::chrono::seconds(120);

struct Options {
    uint64_t iterations;  // blits per batch; commands per batch = iterations * 16384
    unsigned runs;
    uint32_t width;
    uint32_t height;
};

bool parse(int argc, char** argv, Options& o, int& exit_code) {
    namespace po = boost::program_options;
    po::options_description desc("Usage: xengt-gpu-bench [options]\nOptions");
    desc.add_options()("help,h", "show this help")(
        "iterations", po::value<uint64_t>()->default_value(16),
        "blits per batch (command-streamer batches: iterations * 16384 commands)")(
        "runs", po::value<unsigned>()->default_value(5), "runs per case (the median is reported)")(
        "width", po::value<uint32_t>()->default_value(1920), "blit rectangle width, pixels")(
        "height", po::value<uint32_t>()->default_value(1080), "blit rectangle height, pixels");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "xengt-gpu-bench: %s\n", e.what());
        exit_code = 2;
        return false;
    }
    if (vm.count("help")) {
        std::ostringstream help;
        help << desc;
        std::printf("%s\n", help.str().c_str());
        exit_code = 0;
        return false;
    }
    o.iterations = std::clamp<uint64_t>(vm["iterations"].as<uint64_t>(), 1, 1024);
    o.runs = std::max(1u, vm["runs"].as<unsigned>());
    // XY_* coordinates are 16-bit signed, the pitch 16-bit: 8191 * 4 bytes fits.
    o.width = std::clamp<uint32_t>(vm["width"].as<uint32_t>(), 1, 8191);
    o.height = std::clamp<uint32_t>(vm["height"].as<uint32_t>(), 1, 8191);
    return true;
}

uint32_t xy(uint32_t x, uint32_t y) {
    return y << 16 | x;
}

// Runs `batch` (which ends in MI_USER_INTERRUPT, MI_BATCH_BUFFER_END) once
// on `ctx`; seconds from the ELSP write to the user interrupt, or < 0.
double run_batch(Driver& d, Context& ctx, uint32_t batch) {
    d.clear_seen();
    d.emit(ctx, {kMiBatchBufferStart, batch, 0});
    const auto t0 = std::chrono::steady_clock::now();
    d.submit(ctx);
    const bool ok = d.wait_engine_irq(ctx.engine, hw::kIrqUser, kTimeout);
    const auto t1 = std::chrono::steady_clock::now();
    if (!ok || !d.wait_idle(ctx.engine, kTimeout)) {
        return -1;
    }
    return std::chrono::duration<double>(t1 - t0).count();
}

struct Case {
    const char* name;
    const char* unit;
    Context* ctx;
    uint32_t batch;
    double work;  // bytes or commands per batch
};

}  // namespace

int main(int argc, char** argv) {
    Options o{};
    int exit_code = 0;
    if (!parse(argc, argv, o, exit_code)) {
        return exit_code;
    }
    const uint64_t pitch = uint64_t{o.width} * 4;
    const uint64_t surf_pages = (pitch * o.height + kPageSize - 1) / kPageSize;
    const uint64_t commands = o.iterations * 16384;
    const uint64_t blit_batch_pages = (o.iterations * 10 * 4 + 16) / kPageSize + 1;
    const uint64_t cs_batch_pages = (commands * 16 + 16) / kPageSize + 1;
    const uint64_t frames = 64 + 2 * surf_pages + 2 * blit_batch_pages + 2 * cs_batch_pages;

    gpu::model::SoftGpuConfig config;
    config.watchdog_commands = 0;  // the batches are long on purpose
    Driver d(config, frames);
    d.enable_engine(kRcs);
    d.enable_engine(kBcs);
    Context rcs = d.make_context(kRcs, 1);
    Context bcs = d.make_context(kBcs, 2);
    const uint32_t dst = d.alloc(surf_pages), src = d.alloc(surf_pages), data = d.alloc(1);
    const uint32_t p = static_cast<uint32_t>(pitch);
    const uint32_t br = xy(o.width, o.height);

    auto place = [&](uint64_t pages, const std::vector<uint32_t>& dws) {
        const uint32_t at = d.alloc(pages);
        d.poke(at, dws);
        return at;
    };
    std::vector<uint32_t> fill, copy, sdi, noop;
    for (uint64_t i = 0; i < o.iterations; ++i) {
        fill.insert(fill.end(), {kXyColorBlt32, kBr13Depth32 | kRopPatCopy | p, 0, br, dst, 0,
                                 0xFF000000u | static_cast<uint32_t>(i)});
        copy.insert(copy.end(),
                    {kXySrcCopyBlt32, kBr13Depth32 | kRopSrcCopy | p, 0, br, dst, 0, 0, p, src, 0});
    }
    for (uint64_t i = 0; i < commands; ++i) {
        sdi.insert(sdi.end(), {kMiStoreDataImmGgtt, data + static_cast<uint32_t>(i % 1024) * 4, 0,
                               static_cast<uint32_t>(i)});
    }
    noop.assign(commands, kMiNoop);
    for (auto* b : {&fill, &copy, &sdi, &noop}) {
        b->insert(b->end(), {kMiUserInterrupt, kMiBatchBufferEnd});
    }
    const double bytes = double(o.width) * o.height * 4 * double(o.iterations);
    const double cmds = double(commands) + 2;
    Case cases[] = {
        {"XY_COLOR_BLT fill (BCS)", "GB/s", &bcs, place(blit_batch_pages, fill), bytes / 1e9},
        {"XY_SRC_COPY_BLT copy (BCS)", "GB/s", &bcs, place(blit_batch_pages, copy), bytes / 1e9},
        {"MI_STORE_DATA_IMM (RCS)", "Mcmd/s", &rcs, place(cs_batch_pages, sdi), cmds / 1e6},
        {"MI_NOOP (RCS)", "Mcmd/s", &rcs, place(cs_batch_pages, noop), cmds / 1e6},
    };

    std::printf(
        "software Gen9 GPU: %ux%u 32 bpp, %llu blits or %llu commands per batch, "
        "median of %u runs\n",
        o.width, o.height, static_cast<unsigned long long>(o.iterations),
        static_cast<unsigned long long>(commands), o.runs);
    std::printf("%-30s %12s %8s %12s\n", "case", "throughput", "unit", "ms/batch");
    for (Case& c : cases) {
        std::vector<double> samples;
        for (unsigned r = 0; r < o.runs; ++r) {
            const double s = run_batch(d, *c.ctx, c.batch);
            if (s < 0) {
                std::fprintf(stderr, "xengt-gpu-bench: %s: no completion (engine error %s)\n",
                             c.name,
                             gpu::model::to_string(
                                 d.gpu.engine_last_error(static_cast<gpu::Engine>(c.ctx->engine))));
                return 1;
            }
            samples.push_back(s);
        }
        std::sort(samples.begin(), samples.end());
        const double median = samples[samples.size() / 2];
        std::printf("%-30s %12.3f %8s %12.3f\n", c.name, c.work / median, c.unit, median * 1e3);
    }
    if (d.peek(data + (commands - 1) % 1024 * 4) != static_cast<uint32_t>(commands - 1)) {
        std::fprintf(stderr, "xengt-gpu-bench: the stores did not land\n");
        return 1;
    }
    return 0;
}
