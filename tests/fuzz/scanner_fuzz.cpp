// Fuzz target: arbitrary dword streams through the guest command scanner.
// Byte 0 picks the engine, byte 1 how many dwords of the rest are the ring
// section; batches are served out of the same input (the batch address,
// modulo its length, is where the batch starts), so batch starts, chains and
// loops all come from the fuzzer. A crash, a sanitizer report, a budget
// overrun or an error pointing outside its buffer is a finding.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "mediator/cmd/scanner.hpp"

using namespace xengt::mediator::cmd;

namespace {

class InputBatches final : public BatchSource {
public:
    explicit InputBatches(std::span<const uint32_t> all) : all_(all) {}
    std::optional<std::span<const uint32_t>> fetch(uint64_t address, bool ppgtt,
                                                   size_t max_dwords) override {
        if (all_.empty() || (address & 0x4) != 0) {
            return std::nullopt;  // some batches are unreadable
        }
        const size_t at = static_cast<size_t>((address / 4 + (ppgtt ? 1 : 0)) % all_.size());
        const std::span<const uint32_t> rest = all_.subspan(at);
        return rest.first(std::min(rest.size(), max_dwords));
    }

private:
    std::span<const uint32_t> all_;
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
    policy.batch_budget_dwords = 4096;
    InputBatches batches(dwords);
    const std::span<const uint32_t> ring(dwords.data(), ring_len);
    const ScanResult r = scan(ring, policy, (data[0] & 0x80) != 0 ? nullptr : &batches);
    if (r.counts.fetched > policy.batch_budget_dwords ||
        r.counts.dwords > ring_len + r.counts.fetched) {
        std::abort();  // the scanner did more work than it was allowed
    }
    if (!r.ok() && r.error.level == 0 && r.error.offset > ring_len) {
        std::abort();
    }
    if (r.error.command == nullptr || r.error.detail == nullptr) {
        std::abort();
    }
    return 0;
}
