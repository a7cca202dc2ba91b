#include "mediator/mmio/register_file.hpp"

#include <algorithm>

#include "mediator/mmio/mmio_table.hpp"
#include "mediator/mmio/reg_policy.hpp"

namespace xengt::mediator::mmio {

RegisterFile::RegisterFile(GuestLog& log, uint64_t& untracked, VgpuEvents* events)
    : vregs_(kRegisterDwords),
      accesses_(kRegisterDwords),
      log_(log),
      untracked_(untracked),
      ctx_{std::span<uint32_t, kRegisterDwords>(vregs_.get(), kRegisterDwords), pvinfo_, log,
           events, &display_} {
    apply_row_defaults();
}

void RegisterFile::apply_row_defaults() {
    for (const MmioRow& row : mmio_table()) {
        if (row.init == 0) {
            continue;  // already zero; writing it would commit the page
        }
        for (uint32_t off = row.offset; off < row.offset + row.size; off += 4) {
            ctx_.vreg(off) = row.init;
        }
    }
}

void RegisterFile::reset() {
    vregs_.clear();
    apply_row_defaults();
    pvinfo_.pv_aware = false;
    display_.flips_pending = 0;
    display_.armed = {};
    display_.monitor.reset_link();
}

void RegisterFile::reset_range(uint32_t offset, uint32_t size) {
    const uint64_t end = std::min<uint64_t>(uint64_t{offset} + size, kRegisterFileSize);
    for (uint32_t off = offset & ~3u; off < end; off += 4) {
        const MmioRow* row = find_mmio_row(off);
        const uint32_t init = row != nullptr ? row->init : 0;
        uint32_t& reg = ctx_.vreg(off);
        if (reg != init) {
            reg = init;  // untouched zero pages stay uncommitted
        }
    }
}

bool RegisterFile::valid_access(uint32_t offset, AccessSize size, const char* what) {
    if (offset < kRegisterFileSize && offset % size.bytes() == 0) {
        return true;  // natural alignment also keeps the access inside the 2 MiB
    }
    XENGT_GUEST_LOG(log_, LogLevel::Warn, "MMIO %s of %u bytes at 0x%x rejected (%s)", what,
                    size.bytes(), offset,
                    offset >= kRegisterFileSize ? "beyond the register file" : "misaligned");
    return false;
}

uint32_t RegisterFile::read_dword(uint32_t offset) {
    ++accesses_.get()[(offset >> 2) & (kRegisterDwords - 1)];
    if (const MmioRow* row = find_mmio_row(offset)) {
        return policy_read(*row, ctx_, offset);
    }
    ++untracked_;
    return ctx_.vreg(offset);
}

TrapResult RegisterFile::write_dword(uint32_t offset, uint32_t value, uint32_t byte_mask) {
    ++accesses_.get()[(offset >> 2) & (kRegisterDwords - 1)];
    if (const MmioRow* row = find_mmio_row(offset)) {
        return policy_write(*row, ctx_, offset, value, byte_mask);
    }
    ++untracked_;
    ctx_.vreg(offset) = value;
    return TrapResult::Handled;
}

std::vector<RegisterFile::HotRegister> RegisterFile::hottest(size_t n) const {
    std::vector<HotRegister> hot;
    const uint32_t* counts = accesses_.get();
    for (uint32_t d = 0; d < kRegisterDwords; ++d) {
        if (counts[d] != 0) {
            hot.push_back({d * 4, counts[d]});
        }
    }
    const size_t keep = std::min(n, hot.size());
    std::partial_sort(hot.begin(), hot.begin() + static_cast<ptrdiff_t>(keep), hot.end(),
                      [](const HotRegister& a, const HotRegister& b) {
                          return a.accesses != b.accesses ? a.accesses > b.accesses
                                                          : a.offset < b.offset;
                      });
    hot.resize(keep);
    return hot;
}

TrapRead RegisterFile::read(uint32_t offset, AccessSize size) {
    if (!valid_access(offset, size, "read")) {
        return {size.mask(), TrapResult::Rejected};
    }
    if (size.bytes() == 8) {
        const uint64_t lo = read_dword(offset);
        const uint64_t hi = read_dword(offset + 4);
        return {lo | (hi << 32), TrapResult::Handled};
    }
    const unsigned shift = 8 * (offset % 4);
    const uint64_t dword = read_dword(offset & ~3u);
    return {(dword >> shift) & size.mask(), TrapResult::Handled};
}

TrapResult RegisterFile::write(uint32_t offset, AccessSize size, uint64_t value) {
    if (!valid_access(offset, size, "write")) {
        return TrapResult::Rejected;
    }
    if (size.bytes() == 8) {
        const TrapResult lo = write_dword(offset, static_cast<uint32_t>(value), ~0u);
        const TrapResult hi = write_dword(offset + 4, static_cast<uint32_t>(value >> 32), ~0u);
        return lo == TrapResult::Handled ? hi : lo;
    }
    const uint32_t aligned = offset & ~3u;
    const unsigned shift = 8 * (offset % 4);
    const uint32_t byte_mask = static_cast<uint32_t>(size.mask() << shift);
    const uint32_t merged =
        (ctx_.vreg(aligned) & ~byte_mask) | (static_cast<uint32_t>(value << shift) & byte_mask);
    return write_dword(aligned, merged, byte_mask);
}

uint32_t RegisterFile::peek(uint32_t offset) const {
    return offset < kRegisterFileSize ? ctx_.vreg(offset) : ~0u;
}

}  // namespace xengt::mediator::mmio
