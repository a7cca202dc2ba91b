// Mediated vs native: the same blitter workload on two software GPUs in one
// process, one driven by the host through the engine port (context, ring and
// batch in host pages), one by a guest through a vGPU: ELSP trap, shadow and
// scan, the device scheduler, completion reflected into the guest's CSB. Each run
// submits `--iterations` workloads one after another, each waited for; the
// median run is reported as time per workload and as the mediated/native
// throughput ratio.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
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

// The same workload without a vGPU: the host driving the same kind of
// software GPU through the same engine port, from host pages of the same
// frame table (so memory, translation and interrupt paths are alike and only
// the mediation differs).
class NativeRig {
public:
    explicit NativeRig(const Shape& s)
        : gpu_(frames_), ggtt_(gpu_), engines_(gpu_, frames_, ggtt_, gpu::mediated::kHwspGm) {
        const uint64_t pages = (uint64_t{s.w} * 4 * s.h + kPageSize - 1) / kPageSize;
        auto run = frames_.allocate_run(kFirstSurfacePage + pages);
        if (!run) {
            throw std::runtime_error("no host pages for the native rig");
        }
        run_ = std::move(*run);
        for (size_t i = 0; i < run_.frames.size(); ++i) {
            ggtt_.write((kGm >> kPageShift) + i, gpu::GgttEntry::map(run_.frames[i]).raw);
        }
        ggtt_.flush();
        // §4.7 image: ring registers in the state page (page 1).
        const uint32_t ring = kGm + 2 * kPageSize;
        put(kPageSize + 4 * mediator::exec::kCtxRingStart, ring);
        put(kPageSize + 4 * mediator::exec::kCtxRingCtl, mediator::exec::kRingCtlValid);
        const auto dws = workload(kGm + kFirstSurfacePage * kPageSize, s.w, s.h, s.fills);
        for (size_t i = 0; i < dws.size(); ++i) {
            put(3 * kPageSize + 4 * i, dws[i]);
        }
        // Status is read where the interrupt arrives, as a driver's interrupt
        // handler does (and as the scheduler does for the mediated rig); the
        // submitter wakes only for the completion.
        engines_.set_notify([this] {
            std::array<mediator::exec::EngineEvent, 8> events{};
            std::lock_guard lock(mutex_);
            const size_t n = engines_.collect(mediator::exec::Engine::Blitter, events);
            for (size_t i = 0; i < n; ++i) {
                failed_ = failed_ || events[i].kind != mediator::exec::EngineEvent::Kind::Completed;
                completed_ = events[i].ctx_id;
            }
            if (n != 0) {
                cv_.notify_all();
            }
        });
    }
    ~NativeRig() { engines_.set_notify(nullptr); }

    void run_one() {
        const uint32_t start[] = {native::kMiBatchBufferStart,
                                  static_cast<uint32_t>(kGm + 3 * kPageSize), 0, 0};
        for (const uint32_t v : start) {
            put(2 * kPageSize + tail_, v);
            tail_ = (tail_ + 4) % kPageSize;
        }
        put(kPageSize + 4 * mediator::exec::kCtxRingTail, tail_);
        const uint64_t desc = uint64_t{++ctx_id_ & 0xFFFF} << 32 | kGm |
                              mediator::exec::kDescLegacy32 << mediator::exec::kDescAddrModeShift |
                              mediator::exec::kDescValid;
        engines_.start(mediator::exec::Engine::Blitter, std::span<const uint64_t>(&desc, 1));
        std::unique_lock lock(mutex_);
        const uint32_t id = ctx_id_ & 0xFFFF;
        if (!cv_.wait_for(lock, std::chrono::seconds(20),
                          [&] { return failed_ || completed_ == id; }) ||
            failed_) {
            throw std::runtime_error("native workload did not complete");
        }
    }

private:
    static constexpr uint32_t kGm = 0x20000000;  // host GM for the context, ring, batch, surface
    static constexpr uint64_t kFirstSurfacePage = 4;
    void put(uint64_t byte, uint32_t v) { std::memcpy(run_.data + byte, &v, 4); }

    gpu::MappedFrameTable frames_{uint64_t{1} << 18};
    gpu::model::SoftGpu gpu_;
    gpu::PortGgtt ggtt_;
    gpu::ExeclistEngines engines_;
    mediator::HostRun run_;
    std::mutex mutex_;
    std::condition_variable cv_;
    uint32_t completed_ = 0;  // context ID of the last completion
    bool failed_ = false;
    uint32_t tail_ = 0;
    uint32_t ctx_id_ = 0;
};

// The same workload through a vGPU: trap, shadow and scan, scheduler,
// completion into the guest's CSB.
class MediatedRig {
public:
    explicit MediatedRig(const Shape& s) : fills_(s.fills) {
        g_.enable_engine(mediator::exec::Engine::Blitter);
        ctx_ = g_.make_context(mediator::exec::Engine::Blitter, 1);
        const uint64_t pages = (uint64_t{s.w} * 4 * s.h + kPageSize - 1) / kPageSize;
        surface_ = g_.gm_alloc(pages);
        batch_ = g_.batch(workload(surface_, s.w, s.h, s.fills));
    }
    void run_one() {
        g_.emit(ctx_, {native::kMiBatchBufferStart, static_cast<uint32_t>(batch_), 0});
        g_.submit(ctx_);
        if (!g_.pump_until([&] { return g_.ring_head_in_image(ctx_) == ctx_.tail; })) {
            throw std::runtime_error("mediated workload did not complete");
        }
    }
    void check() {
        if (g_.vgpu().execlist_counters()->rejected != 0 ||
            g_.peek(surface_) != 0xFF000000u + fills_ - 1) {
            throw std::runtime_error("mediated workload did not do its work");
        }
    }

private:
    unsigned fills_;
    World world_;
    Guest g_{world_, 0};
    GuestContext ctx_{};
    uint64_t surface_ = 0;
    uint64_t batch_ = 0;
};

template <class Rig>
double seconds_per_workload(Rig& rig, uint64_t n) {
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < n; ++i) {
        rig.run_one();
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
           static_cast<double>(n);
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
            // Runs alternate between the two, so a change in machine load
            // during the measurement affects both alike.
            NativeRig nat(s);
            MediatedRig med(s);
            std::vector<double> ns, ms;
            for (unsigned r = 0; r < args->runs; ++r) {
                ns.push_back(seconds_per_workload(nat, args->iterations));
                ms.push_back(seconds_per_workload(med, args->iterations));
            }
            med.check();
            const double n = median(ns), m = median(ms);
            std::printf("%-20s %14.1f %14.1f %12.3f %14.1f\n", s.name, n * 1e6, m * 1e6, n / m,
                        (m - n) * 1e6);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xengt-exec-bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
