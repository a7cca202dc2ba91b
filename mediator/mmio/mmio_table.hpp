// The declarative MMIO table: one row per tracked register or register range.
//
// Behaviour is data. A row names its policy, and the policy code (reg_policy)
// is the only place that knows what the policies mean; a few rows need real
// emulation and carry handler functions instead. Offsets no row covers are
// "untracked" and behave as plain storage, as GVT-g's default handler does.
#pragma once

#include <cstdint>
#include <span>

#include "mediator/mmio/mmio_context.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::mmio {

enum class RegPolicy : uint8_t {
    Vreg,      // plain storage
    ReadOnly,  // guest writes are dropped (Rejected, logged)
    RoMask,    // bits set in ro_mask keep their value on writes
    Masked,    // Intel "mode" register: bits 31:16 of a write enable bits 15:0
    Rw1c,      // writing 1 clears the bit (interrupt identity registers)
    Custom,    // the row's handlers decide (a null handler means plain storage)
};

const char* to_string(RegPolicy policy);

// `offset` is the dword-aligned BAR0 offset accessed. A write handler gets the
// whole new dword (bytes the guest did not write hold the vreg's current
// value) and which bytes the guest actually wrote.
using RegReadFn = uint32_t (*)(MmioContext& ctx, uint32_t offset);
using RegWriteFn = TrapResult (*)(MmioContext& ctx, uint32_t offset, uint32_t value,
                                  uint32_t byte_mask);

struct MmioRow {
    uint32_t offset;   // BAR0 byte offset, dword aligned
    uint32_t size;     // bytes covered, a multiple of 4
    const char* name;  // for logs
    RegPolicy policy;
    uint32_t init;     // value of every dword of the row after reset
    uint32_t ro_mask;  // RoMask: bits the guest cannot change
    RegReadFn read;    // Custom; or ReadOnly whose value is computed, not stored
    RegWriteFn write;  // Custom only
};

// Every row, for iteration (tests, status output).
std::span<const MmioRow> mmio_table();

// The row covering the dword at `offset`, or nullptr (untracked). O(1);
// offsets at or beyond 2 MiB are never covered.
const MmioRow* find_mmio_row(uint32_t offset);

}  // namespace xengt::mediator::mmio
