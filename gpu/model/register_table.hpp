// The model's register file as a declarative table with hardware semantics.
//
// One row per register (or block of registers): where it is, what the
// hardware does on a read or write (its policy), its value after reset, and
// which bits only the hardware may change. Offsets no row claims behave as
// plain storage that reads 0 until written: i915 programs many registers
// (workarounds, chicken bits) the model does not interpret, and real hardware
// keeps what it is given there.
#pragma once

#include <cstdint>
#include <span>

#include "gpu/model/model_state.hpp"

namespace xengt::gpu::model {

enum class RegPolicy : uint8_t {
    Plain,     // storage; bits in hw_bits keep their value on writes
    ReadOnly,  // writes ignored; the model changes the value internally
    Masked,    // §10.3: bits 31:16 of a write enable bits 15:0; reads give 0 in 31:16
    Rw1c,      // writing 1 to a bit clears it; writing 0 leaves it
    Custom,    // read/write handlers define the behaviour
};
const char* to_string(RegPolicy policy);

using RegReadFn = uint32_t (*)(ModelState& state, uint32_t offset);
using RegWriteFn = void (*)(ModelState& state, uint32_t offset, uint32_t value);

struct RegRow {
    uint32_t offset;  // byte offset in BAR0, dword aligned
    uint32_t size;    // bytes, a multiple of 4; every dword of the row behaves alike
    const char* name;
    RegPolicy policy;
    uint32_t reset;    // value of each dword after power-on / engine reset
    uint32_t hw_bits;  // Plain/Masked: bits writes cannot change (hardware-owned status)
    RegReadFn read;    // Custom only
    RegWriteFn write;  // Custom only
};

std::span<const RegRow> register_table();
// The row claiming `offset` (any byte of it), or nullptr.
const RegRow* find_register(uint32_t offset);

// Dword access to the register file per the table; offset < 2 MiB, dword aligned.
uint32_t register_read(ModelState& state, uint32_t offset);
void register_write(ModelState& state, uint32_t offset, uint32_t value);

// Put every row inside [begin, end) back to its reset value.
void reset_registers(ModelState& state, uint32_t begin, uint32_t end);

}  // namespace xengt::gpu::model
