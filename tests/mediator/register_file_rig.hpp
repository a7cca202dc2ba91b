// A RegisterFile with its log, for tests that drive the MMIO table directly:
// dword reads and writes as a guest would make them, and set() for what a
// hardware event would do to a register.
#pragma once

#include <cstdint>

#include "mediator/mmio/register_file.hpp"

namespace xengt::mediator::test {

struct RegisterFileRig {
    GuestLog log{"test"};
    uint64_t untracked = 0;
    mmio::RegisterFile file{log, untracked};

    TrapRead read(uint32_t off) { return file.read(off, AccessSize::dword()); }
    uint32_t read32(uint32_t off) { return static_cast<uint32_t>(read(off).value); }
    TrapResult write(uint32_t off, uint32_t v) { return file.write(off, AccessSize::dword(), v); }
    void set(uint32_t off, uint32_t v) { file.context().vreg(off) = v; }
};

}  // namespace xengt::mediator::test
