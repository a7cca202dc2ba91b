// Fuzz target: arbitrary dword streams through the guest command scanner.
// Byte 0 picks the engine (bits 1:0), whether there is a batch source (bit
// 7) and how the source hands batches out (bits 6:2: 0 all at once, else
// pieces of pseudo-random size from that seed, so that extension and
// commands straddling pieces are fuzzed); byte 1 how many dwords of the
// rest are the ring section; the last byte sets the budget. Batches are served out of the same
// input (the batch address, modulo its length, is where the batch starts), so batch starts, chains
// and loops all come from the fuzzer. Every piece is a fresh heap copy of exactly its size, so
// reading past it is a sanitizer report. A crash, a sanitizer report, a budget overrun, a broken
// source contract or an error pointing outside its buffer is a finding.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "mediator/cmd/scanner.hpp"

using namespace xengt::mediator::cmd;

namespace {

void require(bool ok) {
    if (!ok) {
        std::abort();
    }
}

class InputBatches final : public BatchSource {
public:
    InputBatches(std::span<const uint32_t> all, const ScanPolicy& policy, size_t ring_len,
                 uint32_t piece_seed)
        : all_(all), policy_(policy), ring_len_(ring_len), seed_(piece_seed) {}

    std::optional<std::span<const uint32_t>> fetch(const BatchCall& call) override {
        // The scanner asks for levels it may start, from where it may, within
        // its limits.
        require(call.level == 1 || call.level == 2);
        require(call.parent_level < call.level || (call.level == 1 && call.parent_level == 1));
        require(call.parent_level == 0 ? call.parent_offset < ring_len_
                                       : call.parent_offset < levels_[call.parent_level].given);
        require(call.max_dwords > 0 && call.max_dwords <= policy_.max_batch_dwords);
        require(handed_out_ + call.max_dwords <= policy_.batch_budget_dwords + extra_);
        if (all_.empty() || (call.address & 0x4) != 0) {
            return std::nullopt;  // some batches are unreadable
        }
        const size_t at =
            static_cast<size_t>((call.address / 4 + (call.ppgtt ? 1 : 0)) % all_.size());
        Level& l = levels_[call.level];
        l.batch = all_.subspan(at).first(std::min(all_.size() - at, call.max_dwords));
        l.max = call.max_dwords;
        l.given = 0;
        l.rng = seed_ * 0x9E3779B97F4A7C15u + call.address + 1;
        return piece(l);
    }

    std::optional<std::span<const uint32_t>> extend(uint8_t level, size_t have) override {
        require(level == 1 || level == 2);
        Level& l = levels_[level];
        // Only when everything given was used up, and the batch may grow.
        require(!l.batch.empty() && have <= l.given && have < l.max);
        if (have < l.given) {
            // The scanner kept less than given (the budget): all it may
            // have is what it kept, plus more.
            extra_ += l.given - have;
            l.given = have;
        }
        return piece(l);
    }

    // What the scanner was given of a level's batch, for its error offsets.
    size_t given(uint8_t level) const { return levels_[level].given; }

private:
    struct Level {
        std::span<const uint32_t> batch;  // the whole batch, up to its max
        size_t max = 0;
        size_t given = 0;
        uint64_t rng = 0;
    };

    std::optional<std::span<const uint32_t>> piece(Level& l) {
        if (l.given == l.batch.size()) {
            return std::nullopt;
        }
        size_t n = l.batch.size();
        if (seed_ != 0) {
            l.rng ^= l.rng << 13;
            l.rng ^= l.rng >> 7;
            l.rng ^= l.rng << 17;
            n = std::min(n, l.given + 1 + static_cast<size_t>(l.rng % (4 * seed_)));
        }
        handed_out_ += n - l.given;
        l.given = n;
        copies_.emplace_back(l.batch.begin(), l.batch.begin() + static_cast<ptrdiff_t>(n));
        return std::span<const uint32_t>(copies_.back());
    }

    std::span<const uint32_t> all_;
    const ScanPolicy& policy_;
    size_t ring_len_;
    uint32_t seed_;
    Level levels_[3];
    size_t handed_out_ = 0;
    size_t extra_ = 0;  // given but beyond the budget, so not kept
    std::deque<std::vector<uint32_t>> copies_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) {
        return 0;
    }
    const auto engine = static_cast<Engine>(data[0] % kEngineCount);
    std::vector<uint32_t> dwords((size - 2) / 4);
    if (!dwords.empty()) {
        std::memcpy(dwords.data(), data + 2, dwords.size() * 4);
    }
    const size_t ring_len = std::min<size_t>(data[1], dwords.size());
    ScanPolicy policy;
    policy.engine = engine;
    // Small slices at low addresses so that fuzzed addresses hit them.
    policy.gm = {GmRange{0x0, 0x10000}, GmRange{0x100000, 0x40000}};
    policy.max_batch_dwords = 256;
    // The last byte sets the budget (32 to 4112 dwords), so that running out
    // of it, mid-batch and across levels, is common.
    policy.batch_budget_dwords = 32 + size_t{16} * data[size - 1];
    InputBatches batches(dwords, policy, ring_len, data[0] >> 2 & 0x1F);
    const std::span<const uint32_t> ring(dwords.data(), ring_len);
    const ScanResult r = scan(ring, policy, (data[0] & 0x80) != 0 ? nullptr : &batches);
    require(r.counts.fetched <= policy.batch_budget_dwords);  // no more work than allowed
    require(r.counts.dwords <= ring_len + r.counts.fetched);
    if (!r.ok()) {
        require(r.error.level <= 2);
        require(r.error.offset <= (r.error.level == 0 ? ring_len : batches.given(r.error.level)));
    }
    require(r.error.command != nullptr && r.error.detail != nullptr);
    return 0;
}
