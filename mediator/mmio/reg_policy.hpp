// What each RegPolicy means for one dword access.
#pragma once

#include <cstdint>

#include "mediator/mmio/mmio_table.hpp"

namespace xengt::mediator::mmio {

// The value the guest reads from the dword at `offset` of `row`.
uint32_t policy_read(const MmioRow& row, MmioContext& ctx, uint32_t offset);

// Applies a guest write to the dword at `offset` of `row`. `value` is the
// full new dword (unwritten bytes hold the vreg's value), `byte_mask` marks
// the bytes the guest wrote.
TrapResult policy_write(const MmioRow& row, MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t byte_mask);

}  // namespace xengt::mediator::mmio
