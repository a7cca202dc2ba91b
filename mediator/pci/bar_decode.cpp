#include "mediator/pci/bar_decode.hpp"

#include <algorithm>

#include "mediator/mmio/bar0_layout.hpp"

namespace xengt::mediator::pci {
namespace {

// x86 physical addresses are at most 52 bits wide; a window beyond that
// cannot be reached by any CPU access.
constexpr uint64_t kMaxPhysAddr = (uint64_t{1} << 52) - 1;
// The I/O address space is 64 KiB.
constexpr uint64_t kMaxIoPort = 0xFFFF;
// Memory BAR bits 3:0 and I/O BAR bits 1:0 are flags, not address.
constexpr uint64_t kMemBarFlags = 0xF;
constexpr uint64_t kIoBarFlags = 0x3;

uint64_t mem_bar_base(const ConfigSpace& cfg, uint32_t reg) {
    const uint64_t lo = cfg.peek(reg, 4);
    const uint64_t hi = cfg.peek(reg + 4, 4);
    return ((hi << 32) | lo) & ~kMemBarFlags;
}

// [base, base + size - 1] if it is a usable window: base 0 means
// "unassigned", and a window must neither wrap nor pass `limit`.
std::optional<TrapWindow> window(TrapSpace space, uint64_t base, uint64_t size, uint64_t limit) {
    if (base == 0 || base > limit || size - 1 > limit - base) {
        return std::nullopt;
    }
    return TrapWindow{space, base, base + size - 1};
}

}  // namespace

bool BarDecoder::update(const ConfigSpace& cfg) {
    const uint32_t command = cfg.peek(kCommand, 2);
    std::array<TrapWindow, 3> next{};
    size_t n = 0;
    BarBases bases;

    if (command & kCommandMemory) {
        if (auto w =
                window(TrapSpace::Mmio, mem_bar_base(cfg, kBar0), mmio::kBar0Size, kMaxPhysAddr)) {
            bases.bar0 = GuestPhysAddr{w->first};
            next[n++] = *w;
        }
        if (auto w = window(TrapSpace::Mmio, mem_bar_base(cfg, kBar2), bar2_size_, kMaxPhysAddr)) {
            bases.bar2 = GuestPhysAddr{w->first};
            next[n++] = *w;
        }
    }
    if (command & kCommandIo) {
        const uint64_t base = cfg.peek(kBar4, 4) & ~kIoBarFlags;
        if (auto w = window(TrapSpace::Pio, base, kBar4Size, kMaxIoPort)) {
            bases.bar4 = IoPort{static_cast<uint16_t>(w->first)};
            next[n++] = *w;
        }
    }

    bases_ = bases;
    const bool changed =
        n != count_ || !std::equal(next.begin(), next.begin() + n, windows_.begin());
    windows_ = next;
    count_ = n;
    return changed;
}

}  // namespace xengt::mediator::pci
