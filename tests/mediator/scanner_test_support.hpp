// What the scanner's tests share: a batch source that serves whole stored
// batches by address.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "mediator/cmd/scanner.hpp"

namespace xengt::mediator::cmd::test {

// Batches by address; each fetch returns the whole stored batch (up to max),
// so nothing is ever extended.
class MapSource final : public BatchSource {
public:
    std::map<uint64_t, std::vector<uint32_t>> batches;
    std::optional<std::span<const uint32_t>> fetch(const BatchCall& call) override {
        const auto it = batches.find(call.address);
        if (it == batches.end()) {
            return std::nullopt;
        }
        return std::span<const uint32_t>(it->second)
            .first(std::min(call.max_dwords, it->second.size()));
    }
    std::optional<std::span<const uint32_t>> extend(uint8_t, size_t) override {
        return std::nullopt;
    }
};

}  // namespace xengt::mediator::cmd::test
