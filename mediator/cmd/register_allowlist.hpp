// The registers guest command streams may name (intel-gpu.md §5.5, §10):
// MI_LOAD_REGISTER_IMM (and PIPE_CONTROL's LRI post-sync) only registers
// GVT flags F_CMD_ACCESS; MI_STORE/LOAD_REGISTER_MEM and
// MI_LOAD_REGISTER_REG only the tiny whitelist current GVT keeps.
#pragma once

#include <cstdint>
#include <span>

#include "mediator/cmd/command_table.hpp"

namespace xengt::mediator::cmd {

// What loading a register means beyond the write itself.
enum class RegClass : uint8_t {
    Plain,
    PpgttRoot,  // RING_PDPn: the shadow PPGTT must follow (counted in the scan result)
};

struct AllowedRegister {
    uint32_t offset;  // absolute MMIO offset (§5.2: LRI offsets are absolute on Gen8/9)
    uint32_t size;    // bytes; > 4 for a block of registers
    const char* name;
    uint8_t uses;  // RegUse bits: which commands may name it
    RegClass cls;
};

std::span<const AllowedRegister> register_allowlist();
// The row covering a register offset that allows `use`, or nullptr. O(log n).
const AllowedRegister* find_allowed_register(uint32_t offset, RegUse use);

}  // namespace xengt::mediator::cmd
