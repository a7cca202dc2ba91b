// GTT benchmarks: what the mediator itself spends per GGTT entry, in both
// GGTT strategies, for a burst mapping (nearly) 4 GiB and for the scrub i915
// does at every boot. The ports are flat arrays so that the numbers are the
// mediator's, not a fake's. The cost of the trap itself (a hypervisor round
// trip per entry in the Trap strategy) is what xengt-roundtrip-bench measures.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "bench_args.hpp"
#include "mediator/base/log.hpp"
#include "mediator/vgpu.hpp"

using namespace xengt;
using namespace xengt::mediator;

namespace {

constexpr uint64_t kBar0 = 0xd000'0000;
constexpr uint64_t kGgttWindow = kBar0 + MiB(8);
constexpr uint64_t kRamFrames = uint64_t{1} << 20;  // a 4 GiB guest
constexpr uint64_t kHostBase = uint64_t{1} << 24;   // host frame = gfn + this

class BenchPins final : public GuestFramePins {
public:
    std::optional<HostFrame> pin(GuestFrame gfn) override {
        if (gfn.value() >= kRamFrames) {
            return std::nullopt;
        }
        ++counts_[gfn.value()];
        return HostFrame{gfn.value() + kHostBase};
    }
    void unpin(GuestFrame gfn) override { --counts_[gfn.value()]; }

private:
    std::vector<uint32_t> counts_ = std::vector<uint32_t>(kRamFrames);
};

class BenchGgtt final : public PhysicalGgtt {
public:
    uint64_t entries() const override { return table_.size(); }
    uint64_t read(uint64_t i) const override { return table_[i]; }
    void write(uint64_t i, uint64_t pte) override { table_[i] = pte; }
    void flush() override {}

private:
    std::vector<uint64_t> table_ = std::vector<uint64_t>(uint64_t{1} << 20);
};

class BenchPool final : public HostPagePool {
public:
    std::optional<HostPage> allocate() override { return HostPage{HostFrame{1}, page_.data()}; }
    void release(HostFrame) override {}

private:
    std::array<std::byte, kPageSize> page_{};
};

// Guest stores land here; dirty pages are logged as Xen's log-dirty would.
class BenchBacking final : public GgttRamBacking {
public:
    bool place(std::optional<GuestFrame>) override { return true; }
    std::byte* page(uint32_t i) override { return bytes_.data() + uint64_t{i} * kPageSize; }
    bool collect_dirty(std::span<uint64_t, kDirtyWords> dirty) override {
        for (uint32_t i = 0; i < kDirtyWords; ++i) {
            dirty[i] |= dirty_[i];
            dirty_[i] = 0;
        }
        return true;
    }
    void store(uint64_t index, uint64_t pte) {
        std::memcpy(bytes_.data() + index * 8, &pte, 8);
        dirty_[index / 512 / 64] |= uint64_t{1} << (index / 512 % 64);
    }

private:
    std::vector<std::byte> bytes_ = std::vector<std::byte>(kPages * kPageSize);
    std::array<uint64_t, kDirtyWords> dirty_{};
};

class BenchHypervisor final : public HypervisorPort {
public:
    explicit BenchHypervisor(BenchBacking* b) : backing_(b) {}
    void set_trap_windows(std::span<const TrapWindow>) override {}
    bool read_guest(GuestPhysAddr, std::span<std::byte>) override { return false; }
    bool write_guest(GuestPhysAddr, std::span<const std::byte>) override { return false; }
    void inject_msi(uint64_t, uint32_t) override {}
    bool protect_page(GuestFrame) override { return false; }
    void unprotect_page(GuestFrame) override {}
    GgttRamBacking* ggtt_ram_backing() override { return backing_; }

private:
    BenchBacking* backing_;
};

struct Rig {
    explicit Rig(GgttStrategy strategy)
        : hv(strategy == GgttStrategy::RamBacked ? &backing : nullptr) {
        VgpuConfig c;
        c.name = "bench";
        // The largest share the default host leaves: 128 MiB mappable, 3.5 GiB hidden.
        c.mappable = {GmAddr{MiB(128)}, MiB(128)};
        c.hidden = {GmAddr{MiB(512)}, GiB(4) - MiB(512)};
        c.ggtt_strategy = strategy;
        vgpu.emplace(c, hv, GpuLink{&pins, &ggtt, &pool, HostFrame{1}});
        vgpu->config_write(0x10, AccessSize::dword(), kBar0);
        vgpu->config_write(0x04, AccessSize::word(), 0x2);
    }
    std::vector<uint64_t> partition() const {
        std::vector<uint64_t> idx;
        for (const GmRange& r : {vgpu->config().mappable, vgpu->config().hidden}) {
            for (uint64_t i = r.base.value() >> 12; i < (r.base.value() + r.size) >> 12; ++i) {
                idx.push_back(i);
            }
        }
        return idx;
    }
    // The guest's write of entry `index`: a trap, or a store into RAM.
    void guest_write(uint64_t index, uint64_t pte) {
        if (vgpu->ggtt_strategy() == GgttStrategy::RamBacked) {
            backing.store(index, pte);
        } else {
            vgpu->mmio_write(GuestPhysAddr{kGgttWindow + index * 8}, AccessSize::qword(), pte);
        }
    }

    BenchBacking backing;
    BenchHypervisor hv;
    BenchPins pins;
    BenchGgtt ggtt;
    BenchPool pool;
    std::optional<Vgpu> vgpu;
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct Timing {
    double guest_ns;  // the guest's writes (the trap path, or plain stores)
    double sync_ns;   // the flush that applies them
};

// Writes every entry in `indices` (frame varies per run so each write is real
// work), then flushes; checks the last entry landed translated.
Timing run_once(Rig& rig, const std::vector<uint64_t>& indices, uint64_t run, bool same_frame) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    for (size_t i = 0; i < indices.size(); ++i) {
        const uint64_t gfn = same_frame ? run % kRamFrames : (i + run * 7) % kRamFrames;
        rig.guest_write(indices[i], gfn << 12 | 1);
    }
    const auto t1 = clock::now();
    rig.vgpu->sync_gtt();
    const auto t2 = clock::now();
    const uint64_t last_gfn =
        same_frame ? run % kRamFrames : (indices.size() - 1 + run * 7) % kRamFrames;
    if (rig.ggtt.read(indices.back()) >> 12 != last_gfn + kHostBase) {
        std::fprintf(stderr, "xengt-gtt-bench: entry not translated\n");
        std::exit(1);
    }
    return {std::chrono::duration<double, std::nano>(t1 - t0).count(),
            std::chrono::duration<double, std::nano>(t2 - t1).count()};
}

void report(const char* name, GgttStrategy strategy, const std::vector<uint64_t>& indices,
            unsigned runs, bool same_frame) {
    Rig rig(strategy);
    std::vector<double> guest;
    std::vector<double> sync;
    for (unsigned r = 1; r <= runs; ++r) {
        const Timing t = run_once(rig, indices, r, same_frame);
        guest.push_back(t.guest_ns);
        sync.push_back(t.sync_ns);
    }
    const double n = static_cast<double>(indices.size());
    const double total = median(guest) + median(sync);
    std::printf("%-34s %-10s %9zu %9.1f %9.1f %9.1f %10.1f %9.2f\n", name, to_string(strategy),
                indices.size(), median(guest) / n, median(sync) / n, total / n, n / total * 1e3,
                total / 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    auto args = bench::parse_bench_args(argc, argv, "xengt-gtt-bench", 1, &exit_code);
    if (!args) {
        return exit_code;
    }
    set_log_sink([](LogLevel, std::string_view, std::string_view) {});
    const unsigned runs = args->runs;

    std::vector<uint64_t> burst = Rig(GgttStrategy::Trap).partition();
    // i915's boot-time scrub: ~115 k entries pointed at its scratch page.
    std::vector<uint64_t> scrub(burst.begin(), burst.begin() + 115'000);

    std::printf("GGTT updates, mediator side (median of %u runs; ns per entry)\n", runs);
    std::printf("%-34s %-10s %9s %9s %9s %9s %10s %9s\n", "case", "strategy", "entries", "guest",
                "flush", "total", "M PTE/s", "ms");
    for (GgttStrategy s : {GgttStrategy::Trap, GgttStrategy::RamBacked}) {
        report("burst mapping 3.6 GiB (whole share)", s, burst, runs, false);
        report("i915 scrub, 115k entries + flush", s, scrub, runs, true);
    }
    std::printf(
        "In the Trap strategy each entry also costs one hypervisor round trip, which\n"
        "xengt-roundtrip-bench measures; RamBacked entries cost none.\n");
    return 0;
}
