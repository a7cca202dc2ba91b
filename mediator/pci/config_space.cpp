#include "mediator/pci/config_space.hpp"

namespace xengt::mediator::pci {
namespace {

uint8_t byte_of(uint64_t v, unsigned i) {
    return static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

ConfigSpace::ConfigSpace(std::span<const ConfigField> fields, GuestLog& log) : log_(log) {
    field_.fill(kNoField);
    size_t index = 0;
    for (const ConfigField& f : fields) {
        const bool fits = f.size >= 1 && f.size <= 4 && f.offset + f.size <= kConfigSpaceSize;
        if (!fits || index >= names_.size()) {
            continue;
        }
        names_[index] = f.name;
        for (unsigned i = 0; i < f.size; ++i) {
            const unsigned at = f.offset + i;
            value_[at] = byte_of(f.init, i);
            wmask_[at] = byte_of(f.wmask, i);
            rw1c_[at] = byte_of(f.rw1c, i);
            field_[at] = static_cast<uint8_t>(index);
        }
        ++index;
    }
    reset_value_ = value_;
}

bool ConfigSpace::valid_access(uint32_t reg, AccessSize size) const {
    // Config cycles are at most a dword; `reg` is guest-chosen (up to 0xfff
    // from Xen), so compare without forming reg + size.
    return size.bytes() <= 4 && reg < kConfigSpaceSize && size.bytes() <= kConfigSpaceSize - reg;
}

const char* ConfigSpace::name_at(uint32_t reg) const {
    if (reg >= kConfigSpaceSize || field_[reg] == kNoField) {
        return "unimplemented";
    }
    return names_[field_[reg]];
}

TrapRead ConfigSpace::read(uint32_t reg, AccessSize size) {
    if (!valid_access(reg, size)) {
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "config read of %u bytes at 0x%x rejected",
                        size.bytes(), reg);
        return {size.mask(), TrapResult::Rejected};
    }
    return {peek(reg, size.bytes()), TrapResult::Handled};
}

TrapResult ConfigSpace::write(uint32_t reg, AccessSize size, uint64_t value) {
    if (!valid_access(reg, size)) {
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "config write of %u bytes at 0x%x rejected",
                        size.bytes(), reg);
        return TrapResult::Rejected;
    }
    bool touched_unimplemented = false;
    for (unsigned i = 0; i < size.bytes(); ++i) {
        const uint32_t at = reg + i;
        const uint8_t v = byte_of(value, i);
        uint8_t next = static_cast<uint8_t>((value_[at] & ~wmask_[at]) | (v & wmask_[at]));
        next = static_cast<uint8_t>(next & ~(v & rw1c_[at]));
        value_[at] = next;
        touched_unimplemented |= field_[at] == kNoField;
    }
    if (touched_unimplemented) {
        // Harmless (the bytes read 0 regardless), but worth seeing when a
        // driver expects a register we do not provide.
        XENGT_GUEST_LOG(log_, LogLevel::Debug,
                        "config write 0x%llx (%u bytes) at 0x%x touches unimplemented bytes "
                        "(first field: %s)",
                        static_cast<unsigned long long>(value & size.mask()), size.bytes(), reg,
                        name_at(reg));
    }
    return TrapResult::Handled;
}

uint32_t ConfigSpace::peek(uint32_t reg, unsigned bytes) const {
    uint32_t v = 0;
    for (unsigned i = 0; i < bytes && i < 4; ++i) {
        if (reg < kConfigSpaceSize && i < kConfigSpaceSize - reg) {
            v |= uint32_t{value_[reg + i]} << (8 * i);
        }
    }
    return v;
}

}  // namespace xengt::mediator::pci
