// What the libFuzzer targets share: the input read as little-endian fields,
// zeros once it runs out, so every input is a complete (if short) program.
#pragma once

#include <cstddef>
#include <cstdint>

namespace xengt::fuzz {

class Input {
public:
    Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    bool more() const { return at_ < n_; }
    uint64_t take(unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes && at_ < n_; ++i) {
            v |= uint64_t{d_[at_++]} << (8 * i);
        }
        return v;
    }
    uint32_t u8() { return static_cast<uint32_t>(take(1)); }
    uint32_t u16() { return static_cast<uint32_t>(take(2)); }
    uint32_t u32() { return static_cast<uint32_t>(take(4)); }

private:
    const uint8_t* d_;
    size_t n_;
    size_t at_ = 0;
};

}  // namespace xengt::fuzz
