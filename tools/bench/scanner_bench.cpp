// Scanner benchmark: what shadowing and scanning a guest workload costs. A
// realistic mixed ring section of ~1 MiB (blits, PIPE_CONTROLs, LRIs, SDIs,
// NOOPs, and batch starts into a few first-level batches) is copied into a
// shadow buffer and scanned; reported as GB/s and as a ratio to a memcpy of
// the same bytes in the same run. The scan result is checked before timing.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "bench_args.hpp"
#include "mediator/cmd/scanner.hpp"

using namespace xengt::mediator::cmd;

namespace {

constexpr uint64_t kAperture = 16u << 20;
constexpr uint64_t kHidden = 1u << 30;
constexpr uint64_t kBatchBase = kHidden + (128u << 20);
constexpr unsigned kBatches = 4;
constexpr unsigned kBatchDwords = 16384;  // 64 KiB each

using Dwords = std::vector<uint32_t>;
using Clock = std::chrono::steady_clock;

void append(Dwords& out, std::initializer_list<uint32_t> cmd) {
    out.insert(out.end(), cmd.begin(), cmd.end());
}

// One "frame" of mixed commands, all inside the guest's slices; blitter
// commands only when the stream is for BCS.
void mixed(Dwords& out, bool blitter, uint32_t i) {
    const uint32_t at = static_cast<uint32_t>(kAperture) + (i % 1024) * 64;
    append(out, {0x11000003, 0x7004, 0x00010001, 0x2600, i});  // LRI 2 regs
    append(out, {0x10400002, at, 0, i});                       // SDI (GGTT)
    append(out, {0x00000000, 0x00000000});                     // NOOPs
    if (blitter) {
        append(out, {0x54300005, 3u << 24 | 0xF0u << 16 | 4096, 0, 64u << 16 | 256,
                     static_cast<uint32_t>(kAperture), 0, 0xFF00FF00});  // fill
        append(out, {0x54F00008, 3u << 24 | 0xCCu << 16 | 4096, 0, 64u << 16 | 256,
                     static_cast<uint32_t>(kHidden), 0, 0, 4096, static_cast<uint32_t>(kAperture),
                     0});                         // copy
        append(out, {0x13004002, at | 4, 0, i});  // flush + store
    } else {
        append(out, {0x7A000004, 1u << 20 | 1u << 14 | 1u << 24, at, 0, i, 0});  // PIPE_CONTROL
        append(out, {0x10000002, 0x10000, 0, i});                                // SDI (PPGTT)
    }
}

Dwords build_ring(bool blitter, size_t dwords) {
    Dwords ring;
    uint32_t i = 0;
    while (ring.size() < dwords) {
        mixed(ring, blitter, i);
        if (++i % 4096 == 0) {
            const uint64_t b = kBatchBase + uint64_t{(i / 4096) % kBatches} * kBatchDwords * 4;
            append(ring, {0x04000001, 0x18800001, static_cast<uint32_t>(b), 0, 0x04000000});
        }
    }
    return ring;
}

// Batches from host memory; fetch copies into the shadow like the real thing.
class CopyingSource final : public BatchSource {
public:
    std::map<uint64_t, Dwords> batches;
    std::optional<std::span<const uint32_t>> fetch(uint64_t address, bool, size_t max) override {
        const auto it = batches.find(address);
        if (it == batches.end()) {
            return std::nullopt;
        }
        const size_t n = std::min(max, it->second.size());
        Dwords& shadow = shadows_[slot_++ % shadows_.size()];
        std::memcpy(shadow.data(), it->second.data(), n * 4);
        copied_ += n * 4;
        return std::span<const uint32_t>(shadow.data(), n);
    }
    uint64_t copied() const { return copied_; }

private:
    std::array<Dwords, 3> shadows_{Dwords(kBatchDwords), Dwords(kBatchDwords),
                                   Dwords(kBatchDwords)};
    size_t slot_ = 0;
    uint64_t copied_ = 0;
};

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto args =
        xengt::bench::parse_bench_args(argc, argv, "xengt-scanner-bench", 20, &exit_code);
    if (!args) {
        return exit_code;
    }
    for (const bool blitter : {false, true}) {
        CopyingSource source;
        for (unsigned b = 0; b < kBatches; ++b) {
            Dwords batch = build_ring(blitter, kBatchDwords - 64);
            batch.resize(kBatchDwords - 1, 0);  // NOOP padding
            batch.push_back(0x05000000);        // MI_BATCH_BUFFER_END
            source.batches[kBatchBase + uint64_t{b} * kBatchDwords * 4] = std::move(batch);
        }
        const Dwords ring = build_ring(blitter, (1u << 20) / 4);
        Dwords shadow(ring.size());
        ScanPolicy policy;
        policy.engine = blitter ? Engine::Blitter : Engine::Render;
        policy.gm = {GmRange{kAperture, 64u << 20}, GmRange{kHidden, 256u << 20}};
        policy.max_batch_dwords = kBatchDwords;
        policy.batch_budget_dwords = size_t{1} << 24;

        // Check before timing: the stream passes and every batch was scanned.
        std::memcpy(shadow.data(), ring.data(), ring.size() * 4);
        const ScanResult check = scan(shadow, policy, &source);
        if (!check.ok() || check.counts.batches == 0 ||
            check.counts.dwords != ring.size() + check.counts.fetched) {
            std::fprintf(stderr, "unexpected scan result: %s at %zu (%s), %u batches\n",
                         to_string(check.error.reason), check.error.offset, check.error.command,
                         check.counts.batches);
            return 1;
        }
        const double bytes = 4.0 * static_cast<double>(ring.size() + check.counts.fetched);

        std::vector<double> scan_s, copy_s;
        for (unsigned run = 0; run < args->runs; ++run) {
            const uint64_t n = std::max<uint64_t>(1, args->iterations);
            // memcpy of the same bytes: the ring and every fetched batch dword.
            const Dwords flat(ring.size() + check.counts.fetched, 0x5A5A5A5A);
            Dwords scratch(flat.size());
            auto t0 = Clock::now();
            for (uint64_t it = 0; it < n; ++it) {
                std::memcpy(scratch.data(), flat.data(), flat.size() * 4);
                asm volatile("" : : "r"(scratch.data()) : "memory");
            }
            copy_s.push_back(seconds(Clock::now() - t0) / static_cast<double>(n));
            uint64_t sink = 0;
            t0 = Clock::now();
            for (uint64_t it = 0; it < n; ++it) {
                std::memcpy(shadow.data(), ring.data(), ring.size() * 4);  // shadow the ring
                const ScanResult r = scan(shadow, policy, &source);        // batches copied inside
                sink += r.counts.commands;
            }
            scan_s.push_back(seconds(Clock::now() - t0) / static_cast<double>(n));
            asm volatile("" : : "r"(sink));
        }
        std::sort(scan_s.begin(), scan_s.end());
        std::sort(copy_s.begin(), copy_s.end());
        const double s = scan_s[scan_s.size() / 2], c = copy_s[copy_s.size() / 2];
        std::printf(
            "%s stream: %.2f MiB (%llu commands, %u batches): copy+scan %.2f GB/s, memcpy %.2f "
            "GB/s, ratio %.2fx memcpy time\n",
            blitter ? "BCS" : "RCS", bytes / (1 << 20),
            static_cast<unsigned long long>(check.counts.commands), check.counts.batches,
            bytes / s / 1e9, bytes / c / 1e9, s / c);
    }
    return 0;
}
