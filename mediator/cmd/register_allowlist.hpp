// The registers guest command streams may name (intel-gpu.md §5.5, §10):
// MI_LOAD_REGISTER_IMM (and PIPE_CONTROL's LRI post-sync) only registers
// GVT flags F_CMD_ACCESS; MI_STORE/LOAD_REGISTER_MEM and
// MI_LOAD_REGISTER_REG only the tiny whitelist current GVT keeps.
#pragma once

#include <cstddef>
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

// O(1) lookup data, built at compile time: LRI's 8 MiB offset space (22:2)
// in 4 KiB pages; a page with no allowed register maps to the shared empty
// block 0, the others to a block of row numbers + 1, one per dword.
inline constexpr uint32_t kRegisterOffsetSpace = 8u << 20;
inline constexpr uint32_t kRegisterPageShift = 12;
inline constexpr size_t kMaxRegisterBlocks = 16;
inline constexpr uint8_t kFactPpgttRoot = 1u << 7;  // with the RegUse bits, see facts
struct RegisterIndex {
    uint8_t block_of_page[kRegisterOffsetSpace >> kRegisterPageShift];
    uint8_t row_of_dword[kMaxRegisterBlocks][1u << (kRegisterPageShift - 2)];
    // By row number + 1: the row's RegUse bits, | kFactPpgttRoot for a
    // PPGTT root; [0] is 0 (allows nothing).
    uint8_t facts[256];
};
extern const RegisterIndex kRegisterIndex;
extern const AllowedRegister kAllowedRegisters[];

// Row number + 1 of the row covering a register offset, 0 for none. O(1).
inline uint8_t allowed_register_row(uint32_t offset) {
    if (offset >= kRegisterOffsetSpace) {
        return 0;
    }
    const uint8_t block = kRegisterIndex.block_of_page[offset >> kRegisterPageShift];
    return kRegisterIndex
        .row_of_dword[block][(offset >> 2) & ((1u << (kRegisterPageShift - 2)) - 1)];
}

// The row covering a register offset that allows `use`, or nullptr. O(1).
inline const AllowedRegister* find_allowed_register(uint32_t offset, RegUse use) {
    const uint8_t row = allowed_register_row(offset);
    return (kRegisterIndex.facts[row] & use) != 0 ? &kAllowedRegisters[row - 1] : nullptr;
}

}  // namespace xengt::mediator::cmd
