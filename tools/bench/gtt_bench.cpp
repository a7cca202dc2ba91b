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
#include "mediator/gtt/ppgtt_shadow.hpp"
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

// Host pages from one preallocated arena; frame = arena index + 1.
class BenchPool final : public HostPagePool {
public:
    explicit BenchPool(size_t pages = 4096) : bytes_(pages * kPageSize) {
        for (size_t i = pages; i > 0; --i) {
            free_.push_back(i - 1);
        }
    }
    std::optional<HostPage> allocate() override {
        if (free_.empty()) {
            return std::nullopt;
        }
        const size_t i = free_.back();
        free_.pop_back();
        std::byte* p = bytes_.data() + i * kPageSize;
        std::memset(p, 0, kPageSize);
        return HostPage{HostFrame{i + 1}, p};
    }
    void release(HostFrame f) override { free_.push_back(f.value() - 1); }

private:
    std::vector<std::byte> bytes_;
    std::vector<size_t> free_;
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

// Guest RAM for page tables: the first `kTableRam` bytes of guest memory.
constexpr uint64_t kTableRam = MiB(4);

class BenchHypervisor final : public HypervisorPort {
public:
    explicit BenchHypervisor(BenchBacking* b) : backing_(b) {}
    void set_trap_windows(std::span<const TrapWindow>) override {}
    bool read_guest(GuestPhysAddr a, std::span<std::byte> out) override {
        if (a.value() > kTableRam || out.size() > kTableRam - a.value()) {
            return false;
        }
        std::memcpy(out.data(), ram_.data() + a.value(), out.size());
        return true;
    }
    bool write_guest(GuestPhysAddr a, std::span<const std::byte> in) override {
        if (a.value() > kTableRam || in.size() > kTableRam - a.value()) {
            return false;
        }
        std::memcpy(ram_.data() + a.value(), in.data(), in.size());
        return true;
    }
    void inject_msi(uint64_t, uint32_t) override {}
    bool protect_page(GuestFrame) override { return true; }
    void unprotect_page(GuestFrame) override {}
    GgttRamBacking* ggtt_ram_backing() override { return backing_; }

    void put(uint64_t table_gfn, unsigned index, uint64_t entry) {
        std::memcpy(ram_.data() + table_gfn * kPageSize + index * 8, &entry, 8);
    }

private:
    BenchBacking* backing_;
    std::vector<std::byte> ram_ = std::vector<std::byte>(kTableRam);
};

struct Rig {
    explicit Rig(GgttStrategy strategy)
        : hv(strategy == GgttStrategy::RamBacked ? &backing : nullptr) {
        VgpuConfig c;
        c.name = "bench";
        // The whole 4 GiB GGTT as one vGPU's share (no host share), so a
        // burst over the share maps 4 GiB: 256 MiB mappable, 3.75 GiB hidden.
        c.mappable = {GmAddr{0}, MiB(256)};
        c.hidden = {GmAddr{MiB(256)}, GiB(4) - MiB(256)};
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

// A 4-level PPGTT mapping `bytes` of GPU VA, built in guest RAM the way i915
// lays one out: PML4 at gfn 1, PDP at 2, PDs from 3, PTs after them; data
// pages from gfn 0x10000 up.
uint64_t build_guest_ppgtt(BenchHypervisor& hv, uint64_t bytes) {
    const uint64_t ptes = bytes >> kPageShift;
    const uint64_t pts = (ptes + 511) / 512;
    const uint64_t pds = (pts + 511) / 512;
    const uint64_t first_pt = 3 + pds;
    hv.put(1, 0, 2ull << 12 | 3);
    for (uint64_t d = 0; d < pds; ++d) {
        hv.put(2, static_cast<unsigned>(d), (3 + d) << 12 | 3);
    }
    for (uint64_t t = 0; t < pts; ++t) {
        hv.put(3 + t / 512, static_cast<unsigned>(t % 512), (first_pt + t) << 12 | 3);
    }
    for (uint64_t p = 0; p < ptes; ++p) {
        hv.put(first_pt + p / 512, static_cast<unsigned>(p % 512), (0x10000 + p) << 12 | 3);
    }
    return first_pt;
}

void report_ppgtt(unsigned runs) {
    constexpr uint64_t kMapped = GiB(1);
    std::vector<double> build;
    std::vector<double> update;
    std::vector<double> partial;
    for (unsigned r = 0; r < runs; ++r) {
        BenchHypervisor hv(nullptr);
        BenchPins pins;
        BenchPool pool;
        GuestLog log("bench");
        const uint64_t first_pt = build_guest_ppgtt(hv, kMapped);
        PpgttShadow shadow(log, hv, pins, pool, HostFrame{1});
        using clock = std::chrono::steady_clock;
        const auto t0 = clock::now();
        if (!shadow.create({PpgttRoot::Levels::Four, {kPageSize}}) ||
            shadow.counters().shadow_pages != 1 + 1 + 1 + 512) {
            std::fprintf(stderr, "xengt-gtt-bench: PPGTT shadow build failed\n");
            std::exit(1);
        }
        const auto t1 = clock::now();
        // Rewrite every leaf once: a trapped, whole-entry write each.
        constexpr uint64_t kWrites = kMapped >> kPageShift;
        for (uint64_t p = 0; p < kWrites; ++p) {
            const uint64_t gpa = (first_pt + p / 512) * kPageSize + (p % 512) * 8;
            shadow.on_protected_write(GuestPhysAddr{gpa}, AccessSize::qword(),
                                      (0x20000 + p) << 12 | 3);
        }
        const auto t2 = clock::now();
        // The same as two 4-byte halves (a 32-bit guest), then the resync.
        for (uint64_t p = 0; p < kWrites; ++p) {
            const uint64_t gpa = (first_pt + p / 512) * kPageSize + (p % 512) * 8;
            shadow.on_protected_write(GuestPhysAddr{gpa}, AccessSize::dword(),
                                      ((0x30000 + p) << 12 | 3) & 0xffffffff);
            shadow.on_protected_write(GuestPhysAddr{gpa + 4}, AccessSize::dword(), 0);
        }
        shadow.sync();
        const auto t3 = clock::now();
        if (shadow.counters().full_writes != kWrites || shadow.counters().scratch_entries != 0) {
            std::fprintf(stderr, "xengt-gtt-bench: PPGTT writes not all shadowed\n");
            std::exit(1);
        }
        auto ns = [](auto a, auto b) {
            return std::chrono::duration<double, std::nano>(b - a).count();
        };
        build.push_back(ns(t0, t1));
        update.push_back(ns(t1, t2) / static_cast<double>(kWrites));
        partial.push_back(ns(t2, t3) / static_cast<double>(kWrites));
    }
    std::printf("\nShadow PPGTT (median of %u runs)\n", runs);
    std::printf("  build for 1 GiB mapped (515 tables, 262144 PTEs): %.2f ms (%.1f ns/PTE)\n",
                median(build) / 1e6, median(build) / 262144.0);
    std::printf("  per trapped whole-entry write:                    %.1f ns\n", median(update));
    std::printf("  per entry written as two halves + resync:         %.1f ns\n", median(partial));
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
        report("burst mapping 4 GiB (1M entries)", s, burst, runs, false);
        report("i915 scrub, 115k entries + flush", s, scrub, runs, true);
    }
    std::printf(
        "In the Trap strategy each entry also costs one hypervisor round trip, which\n"
        "xengt-roundtrip-bench measures; RamBacked entries cost none.\n");
    report_ppgtt(runs);
    return 0;
}
