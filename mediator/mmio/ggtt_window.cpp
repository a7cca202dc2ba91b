#include "mediator/mmio/ggtt_window.hpp"

namespace xengt::mediator::mmio {

bool GgttWindow::valid_access(uint32_t offset, AccessSize size) {
    // Entries are written whole (writeq) or as dword halves; nothing narrower.
    const unsigned bytes = size.bytes();
    return (bytes == 4 || bytes == 8) && offset % bytes == 0 && offset < kGgttSize;
}

TrapRead GgttWindow::read(uint32_t offset, AccessSize size) const {
    if (!valid_access(offset, size)) {
        return {size.mask(), TrapResult::Rejected};
    }
    const Chunk* chunk = chunks_[offset / kChunkBytes].get();
    if (chunk == nullptr) {
        return {0, TrapResult::Handled};  // never written: an empty entry
    }
    const uint32_t at = offset % kChunkBytes;
    uint64_t v = 0;
    for (unsigned i = 0; i < size.bytes(); ++i) {
        v |= uint64_t{(*chunk)[at + i]} << (8 * i);
    }
    return {v, TrapResult::Handled};
}

TrapResult GgttWindow::write(uint32_t offset, AccessSize size, uint64_t value) {
    if (!valid_access(offset, size)) {
        return TrapResult::Rejected;
    }
    std::unique_ptr<Chunk>& chunk = chunks_[offset / kChunkBytes];
    if (chunk == nullptr) {
        if ((value & size.mask()) == 0) {
            return TrapResult::Handled;  // zero into a zero chunk: nothing to keep
        }
        chunk = std::make_unique<Chunk>();  // value-initialised: all zero
        ++allocated_;
    }
    const uint32_t at = offset % kChunkBytes;
    for (unsigned i = 0; i < size.bytes(); ++i) {
        (*chunk)[at + i] = static_cast<uint8_t>(value >> (8 * i));
    }
    return TrapResult::Handled;
}

}  // namespace xengt::mediator::mmio
