#include "mediator/exec/guest_memory_view.hpp"

#include <algorithm>
#include <cstring>

namespace xengt::mediator::exec {
namespace {

constexpr uint64_t kPresent = 1;
constexpr uint64_t kPageSizeBit = uint64_t{1} << 7;  // PS: 2 MiB (PDE) / 1 GiB (PDPE)
constexpr uint64_t kIpsBit = uint64_t{1} << 11;      // 64 KiB pages in a PT
constexpr uint64_t kAddressMask = 0x00003ffffffff000ull;

// Applies `step(address, piece)` to each page-bounded piece of a range.
template <class Span, class Step>
bool by_page(uint64_t address, Span bytes, Step step) {
    size_t done = 0;
    while (done < bytes.size()) {
        const uint64_t at = address + done;
        const size_t n = std::min<size_t>(bytes.size() - done, kPageSize - (at & kPageMask));
        if (!step(at, bytes.subspan(done, n))) {
            return false;
        }
        done += n;
    }
    return true;
}

}  // namespace

std::optional<GuestPhysAddr> GuestMemoryView::gm_target(uint64_t gm) const {
    const std::optional<GuestFrame> f = ggtt_.mapped_frame(gm >> kPageShift);
    if (!f) {
        return std::nullopt;
    }
    return GuestPhysAddr{(f->value() << kPageShift) | (gm & kPageMask)};
}

bool GuestMemoryView::read_gm(uint64_t gm, std::span<std::byte> out) const {
    return by_page(gm, out, [&](uint64_t at, std::span<std::byte> piece) {
        const auto target = gm_target(at);
        return target && hv_.read_guest(*target, piece);
    });
}

bool GuestMemoryView::write_gm(uint64_t gm, std::span<const std::byte> in) const {
    return by_page(gm, in, [&](uint64_t at, std::span<const std::byte> piece) {
        const auto target = gm_target(at);
        return target && hv_.write_guest(*target, piece);
    });
}

std::optional<GuestPhysAddr> GuestMemoryView::translate_ppgtt(const PpgttRoot& root,
                                                              uint64_t va) const {
    // §3.1: 9 bits per level from bit 39 (PML4) down to bit 12 (PT). A
    // 3-level root picks its page directory pointer with VA bits 31:30.
    uint64_t table = 0;
    unsigned level = 0;
    if (root.levels == PpgttRoot::Levels::Four) {
        table = root.pdp[0] & kAddressMask;
        level = 4;
    } else {
        table = root.pdp[(va >> 30) & 3] & kAddressMask;
        level = 2;
    }
    if (table == 0) {
        return std::nullopt;
    }
    for (; level >= 1; --level) {
        const unsigned shift = kPageShift + 9 * (level - 1);
        const uint64_t index = (va >> shift) & 0x1FF;
        uint64_t entry = 0;
        if (!hv_.read_guest(GuestPhysAddr{table + index * 8},
                            std::as_writable_bytes(std::span{&entry, 1})) ||
            (entry & kPresent) == 0) {
            return std::nullopt;
        }
        if ((level == 2 && (entry & (kPageSizeBit | kIpsBit)) != 0) ||
            (level == 3 && (entry & kPageSizeBit) != 0)) {
            return std::nullopt;
        }
        table = entry & kAddressMask;
    }
    return GuestPhysAddr{table | (va & kPageMask)};
}

bool GuestMemoryView::read_ppgtt(const PpgttRoot& root, uint64_t va,
                                 std::span<std::byte> out) const {
    return by_page(va, out, [&](uint64_t at, std::span<std::byte> piece) {
        const auto target = translate_ppgtt(root, at);
        return target && hv_.read_guest(*target, piece);
    });
}

}  // namespace xengt::mediator::exec
