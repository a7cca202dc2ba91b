// Scanner benchmark: what shadowing and scanning a guest workload costs.
// A ring section of requests shaped like i915's (flush, batch start,
// breadcrumb, user interrupt) starts one first-level batch per request; the
// batches (a few hundred bytes to a few KiB, mostly PPGTT, some not
// page-aligned, some calling a second-level batch) string together short
// fixed sequences, as drivers emit them, of the commands the table knows:
// LRIs to allowed registers, PIPE_CONTROLs, stores, NOOPs (render) or blits
// and MI_FLUSH_DWs (blitter). "Shuffled" streams pick every command
// independently instead: a worst case for branch prediction. The batch
// source copies guest memory a 4 KiB page at a time into a shadow arena, as
// the workload path does. Reported: the bytes shadowed (ring + the batches'
// pages) and scanned, memcpy of the shadowed bytes in the same run,
// copy+scan of them, their time ratio, and scan alone (no copies) in
// scanned bytes. The scan result is checked before timing.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "bench_args.hpp"
#include "mediator/cmd/scanner.hpp"

using namespace xengt::mediator::cmd;

namespace {

constexpr uint64_t kAperture = 16u << 20;
constexpr uint64_t kHidden = 1u << 30;
constexpr uint64_t kPpgttBase = 0x1'0000'0000;  // where the batches live, PPGTT or GGTT
constexpr uint64_t kGgttBatches = kHidden + (64u << 20);
constexpr size_t kGuestDwords = (16u << 20) / 4;  // 16 MiB of batch memory per space
constexpr unsigned kRequests = 512;
constexpr uint32_t kPageBytes = 4096;

using Dwords = std::vector<uint32_t>;
using Clock = std::chrono::steady_clock;

uint32_t lo(uint64_t a) {
    return static_cast<uint32_t>(a);
}
uint32_t hi(uint64_t a) {
    return static_cast<uint32_t>(a >> 32);
}
void append(Dwords& out, std::initializer_list<uint32_t> cmd) {
    out.insert(out.end(), cmd.begin(), cmd.end());
}

// xorshift: the same stream on every run.
struct Rng {
    uint64_t s = 0x9E3779B97F4A7C15u;
    uint32_t next(uint32_t n) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<uint32_t>(s % n);
    }
};

constexpr uint32_t kNoop = 0x00000000;
constexpr uint32_t kBbe = 0x05000000;
constexpr uint32_t kPcCsStall = 1u << 20, kPcQwordWrite = 1u << 14, kPcGgtt = 1u << 24;

void bb_start(Dwords& out, uint64_t a, bool ppgtt, bool second = false) {
    append(out, {0x18800001 | (ppgtt ? 1u << 8 : 0) | (second ? 1u << 22 : 0), lo(a), hi(a)});
}

// One command of the stream's mix, `i` in [0, 16) picking which.
void command(Dwords& out, bool blitter, uint32_t i, Rng& rng) {
    const uint32_t at = lo(kAperture) + rng.next(4096) * 64;
    if (i < 2) {
        // LRI of a few allowed registers: scratch GPRs and a chicken bit.
        append(out, {0x11000005, 0x2600, i, 0x2608, 0, 0x7004, 0x00010001});
    } else if (i < 3) {
        append(out, {0x10000002, 0x10000 + i * 8, 0, i});  // SDI, PPGTT (query result)
    } else if (i < 4) {
        append(out, {0x10400002, at, 0, i});  // SDI, GGTT
    } else if (i < 5) {
        append(out, {kNoop, kNoop});
    } else if (blitter) {
        const uint64_t surface = i < 10 ? kAperture : kHidden;
        if (i < 11) {
            append(out, {0x54300005, 3u << 24 | 0xF0u << 16 | 4096, 0, 64u << 16 | 256, lo(surface),
                         hi(surface), 0xFF00FF00});  // XY_COLOR_BLT
        } else if (i < 15) {
            append(out, {0x54F00008, 3u << 24 | 0xCCu << 16 | 4096, rng.next(64) << 16,
                         (64u + rng.next(64)) << 16 | 256, lo(kHidden), hi(kHidden), 0, 4096,
                         lo(surface), hi(surface)});  // XY_SRC_COPY_BLT
        } else {
            append(out, {0x13004002, at | 4, 0, i});  // MI_FLUSH_DW + store
        }
    } else if (i < 12) {
        append(out, {0x7A000004, kPcCsStall | 1u << 12 | 1u << 0, 0, 0, 0, 0});  // flush
    } else if (i < 15) {
        append(out, {0x7A000004, kPcCsStall | kPcQwordWrite, 0x20000 + i * 8, 0, i,
                     0});  // post-sync write, PPGTT (timestamps, queries)
    } else {
        append(out, {0x7A000004, kPcCsStall | kPcQwordWrite | kPcGgtt, at, 0, i, 0});
    }
}

// Drivers emit the same few sequences over and over (per draw, per blit,
// per query) with different operands: each template is a fixed run of
// commands of the mix; a batch strings templates picked at random.
constexpr std::array<std::array<uint8_t, 6>, 4> kTemplates{{
    {5, 0, 2, 12, 4, 255},    // flush, LRI state, query store, post-sync, NOOPs
    {12, 2, 12, 255, 0, 0},   // query: post-sync, store, post-sync
    {1, 0, 6, 3, 15, 255},    // more state, flush, GGTT store, GGTT post-sync
    {11, 11, 13, 5, 255, 0},  // copies / flushes (blitter: blits)
}};

// One batch's commands (without its end), about `dwords` long; `shuffled`:
// every command picked independently (a worst case for branch prediction).
void batch_body(Dwords& out, bool blitter, bool shuffled, size_t dwords, Rng& rng) {
    const size_t stop = out.size() + dwords;
    while (out.size() < stop) {
        if (shuffled) {
            command(out, blitter, rng.next(16), rng);
            continue;
        }
        for (const uint8_t i : kTemplates[rng.next(kTemplates.size())]) {
            if (i == 255) {
                break;
            }
            command(out, blitter, i, rng);
        }
    }
}

// Guest memory holding the batches, in the PPGTT and in the GGTT.
struct Guest {
    Dwords ppgtt = Dwords(kGuestDwords, kNoop);
    Dwords ggtt = Dwords(kGuestDwords, kNoop);
    std::span<const uint32_t> at(uint64_t address, bool in_ppgtt) const {
        const uint64_t base = in_ppgtt ? kPpgttBase : kGgttBatches;
        const Dwords& mem = in_ppgtt ? ppgtt : ggtt;
        if (address < base || (address - base) / 4 >= mem.size() || address % 4 != 0) {
            return {};
        }
        return std::span<const uint32_t>(mem).subspan((address - base) / 4);
    }
};

// The ring section and the batches of `kRequests` requests.
Dwords build(Guest& guest, bool blitter, bool shuffled) {
    Rng rng;
    Dwords ring;
    size_t next_ppgtt = 0, next_ggtt = 0;
    for (unsigned r = 0; r < kRequests; ++r) {
        // Most batches are PPGTT (full PPGTT); a quarter are GGTT, so that
        // their stores and blits are range-checked. Some start mid-page.
        const bool ppgtt = r % 4 != 0;
        size_t& next = ppgtt ? next_ppgtt : next_ggtt;
        Dwords& mem = ppgtt ? guest.ppgtt : guest.ggtt;
        next += r % 3 == 0 ? 16 * rng.next(64) : 0;
        Dwords batch;
        const size_t len = 64 + rng.next(1400);
        const bool call = r % 8 == 5;  // a second-level batch (its body follows the end)
        batch_body(batch, blitter, shuffled, len / 2, rng);
        const size_t call_at = batch.size();
        if (call) {
            bb_start(batch, 0, ppgtt, true);  // patched below
        }
        batch_body(batch, blitter, shuffled, len / 2, rng);
        batch.push_back(kBbe);
        if (call) {
            const size_t second = next + batch.size();
            const uint64_t base = ppgtt ? kPpgttBase : kGgttBatches;
            batch[call_at + 1] = lo(base + second * 4);
            batch[call_at + 2] = hi(base + second * 4);
            batch_body(batch, blitter, shuffled, 200, rng);
            batch.push_back(kBbe);
        }
        const uint64_t address = (ppgtt ? kPpgttBase : kGgttBatches) + next * 4;
        std::copy(batch.begin(), batch.end(), mem.begin() + static_cast<ptrdiff_t>(next));
        next = (next + batch.size() + 1023) / 1024 * 1024;  // the next batch's page

        // The request in the ring: flush, batch, breadcrumb, interrupt.
        if (blitter) {
            append(ring, {0x13000002, 0, 0, 0});  // MI_FLUSH_DW, no post-sync
        } else {
            append(ring, {0x7A000004, kPcCsStall | 1u << 12, 0, 0, 0, 0});
        }
        append(ring, {0x04000001});  // arbitration on around the batch
        bb_start(ring, address, ppgtt);
        append(ring, {0x04000000});
        if (blitter) {
            append(ring, {0x13004002, lo(kHidden + 0x100) | 4, 0, r});
        } else {
            append(ring, {0x7A000004, kPcCsStall | kPcQwordWrite | kPcGgtt | 1u << 8,
                          lo(kHidden + 0x100), 0, r, 0});
        }
        append(ring, {0x01000000, kNoop});  // user interrupt, pad
    }
    return ring;
}

// The workload path's source: copies guest memory a page at a time into a
// shadow arena (a batch grows in place while it is the newest, else moves).
class ShadowSource final : public BatchSource {
public:
    explicit ShadowSource(const Guest& guest, size_t arena_dwords)
        : guest_(guest), arena_(arena_dwords) {}
    void reset() { top_ = 0; }
    uint64_t copied() const { return copied_; }

    std::optional<std::span<const uint32_t>> fetch(const BatchCall& call) override {
        const std::span<const uint32_t> src = guest_.at(call.address, call.ppgtt);
        if (src.empty()) {
            return std::nullopt;
        }
        Batch& b = levels_[call.level];
        b = {src.first(std::min(src.size(), call.max_dwords)), top_, 0, call.address};
        return grow(b, 0);
    }
    std::optional<std::span<const uint32_t>> extend(uint8_t level, size_t have) override {
        Batch& b = levels_[level];
        if (b.at + b.size != top_) {
            // Not the newest shadow any more: move it to the top.
            if (top_ + have > arena_.size()) {
                return std::nullopt;
            }
            std::memcpy(&arena_[top_], &arena_[b.at], have * 4);
            b.at = top_;
            top_ += have;
        }
        return grow(b, have);
    }

private:
    struct Batch {
        std::span<const uint32_t> guest;  // the guest's batch, up to its max
        size_t at = 0;                    // shadow offset in the arena
        size_t size = 0;                  // dwords shadowed
        uint64_t address = 0;
    };
    // One more page of the guest's batch into its shadow.
    std::optional<std::span<const uint32_t>> grow(Batch& b, size_t have) {
        const uint64_t end = b.address + 4 * have;
        const size_t page_end = static_cast<size_t>(((end | (kPageBytes - 1)) + 1 - b.address) / 4);
        const size_t n = std::min(page_end, b.guest.size());
        if (n <= have || b.at + n > arena_.size()) {
            return std::nullopt;
        }
        std::memcpy(&arena_[b.at + have], &b.guest[have], (n - have) * 4);
        copied_ += (n - have) * 4;
        b.size = n;
        top_ = b.at + n;
        return std::span<const uint32_t>(&arena_[b.at], n);
    }

    const Guest& guest_;
    Dwords arena_;
    size_t top_ = 0;
    uint64_t copied_ = 0;
    Batch levels_[3];
};

// Scan alone: the guest's batches as they are, whole, no copies.
class DirectSource final : public BatchSource {
public:
    explicit DirectSource(const Guest& guest) : guest_(guest) {}
    std::optional<std::span<const uint32_t>> fetch(const BatchCall& call) override {
        const std::span<const uint32_t> src = guest_.at(call.address, call.ppgtt);
        if (src.empty()) {
            return std::nullopt;
        }
        return src.first(std::min(src.size(), call.max_dwords));
    }
    std::optional<std::span<const uint32_t>> extend(uint8_t, size_t) override {
        return std::nullopt;
    }

private:
    const Guest& guest_;
};

double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

template <typename F>
double median_seconds(unsigned runs, uint64_t n, F&& f) {
    std::vector<double> s;
    for (unsigned run = 0; run < runs; ++run) {
        const auto t0 = Clock::now();
        for (uint64_t it = 0; it < n; ++it) {
            f();
        }
        s.push_back(seconds(Clock::now() - t0) / static_cast<double>(n));
    }
    std::sort(s.begin(), s.end());
    return s[s.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    const auto args =
        xengt::bench::parse_bench_args(argc, argv, "xengt-scanner-bench", 20, &exit_code);
    if (!args) {
        return exit_code;
    }
    for (const auto& [blitter, shuffled] : {std::pair{false, false}, std::pair{true, false},
                                            std::pair{false, true}, std::pair{true, true}}) {
        Guest guest;
        const Dwords ring = build(guest, blitter, shuffled);
        Dwords shadow_ring(ring.size());
        ScanPolicy policy;
        policy.engine = blitter ? Engine::Blitter : Engine::Render;
        policy.gm = {GmRange{kAperture, 64u << 20}, GmRange{kHidden, 256u << 20}};
        ShadowSource source(guest, policy.batch_budget_dwords * 2);
        DirectSource direct(guest);

        // Check before timing: the stream passes, every batch was scanned,
        // and the source copied exactly what the scanner counted.
        std::memcpy(shadow_ring.data(), ring.data(), ring.size() * 4);
        const ScanResult check = scan(shadow_ring, policy, &source);
        // Direct spans run to the end of guest memory: the budget must not bite.
        ScanPolicy unlimited = policy;
        unlimited.batch_budget_dwords = SIZE_MAX;
        const ScanResult whole = scan(ring, unlimited, &direct);
        if (!check.ok() || check.counts.batches < kRequests ||
            check.counts.fetched * 4 != source.copied() || !whole.ok() ||
            whole.counts.commands != check.counts.commands) {
            std::fprintf(stderr, "unexpected scan result: %s at level %u offset %zu (%s)\n",
                         to_string(check.error.reason), check.error.level, check.error.offset,
                         check.error.command);
            return 1;
        }
        const size_t dwords = ring.size() + check.counts.fetched;
        const double bytes = 4.0 * static_cast<double>(dwords);
        const double scanned = 4.0 * static_cast<double>(check.counts.dwords);
        const uint64_t n = args->iterations;

        // memcpy of as many bytes, one buffer into another.
        const Dwords flat(dwords, 0x5A5A5A5A);
        Dwords scratch(dwords);
        const double c = median_seconds(args->runs, n, [&] {
            std::memcpy(scratch.data(), flat.data(), dwords * 4);
            asm volatile("" : : "r"(scratch.data()) : "memory");
        });
        uint64_t sink = 0;
        const double s = median_seconds(args->runs, n, [&] {
            std::memcpy(shadow_ring.data(), ring.data(), ring.size() * 4);  // shadow the ring
            source.reset();
            sink += scan(shadow_ring, policy, &source).counts.commands;  // batches copied inside
        });
        const double a = median_seconds(
            args->runs, n, [&] { sink += scan(ring, unlimited, &direct).counts.commands; });
        asm volatile("" : : "r"(sink));
        std::printf(
            "%s%s: shadowed %.2f MiB (scanned %.2f MiB, %llu commands, %u batches): memcpy %.2f "
            "GB/s, copy+scan %.2f GB/s, ratio %.2fx memcpy time; scan alone %.2f GB/s scanned\n",
            blitter ? "BCS" : "RCS", shuffled ? " shuffled" : "", bytes / (1 << 20),
            scanned / (1 << 20), static_cast<unsigned long long>(check.counts.commands),
            check.counts.batches, bytes / c / 1e9, bytes / s / 1e9, s / c, scanned / a / 1e9);
    }
    return 0;
}
