// Per-vGPU engine register context (gvtg.md §3.7): registers a guest may load
// from its command streams (the scanner's allow-list) that the context image
// does not carry, so they would leak from one vGPU's workloads into the next
// one's. The scheduler saves the outgoing vGPU's values and loads the
// incoming one's when an engine changes hands, and skips it when the same
// vGPU keeps the engine.
#pragma once

#include <cstdint>
#include <span>

#include "mediator/exec/engines.hpp"

namespace xengt::mediator::exec {

struct ContextRegisters {
    uint32_t offset;  // absolute MMIO offset
    uint32_t dwords;  // a block of consecutive registers
    const char* name;
};

// The rows for engine `e`; O(1).
std::span<const ContextRegisters> engine_context_registers(Engine e);
// Dwords in engine e's register context.
uint32_t engine_context_dwords(Engine e);

}  // namespace xengt::mediator::exec
