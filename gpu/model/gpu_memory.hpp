// How an engine reaches memory: graphics addresses through the GGTT or the
// context's PPGTT (§2, §3) into machine memory by host frame. An address that
// does not translate is a page fault: every helper returns false and touches
// nothing the caller did not already commit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "gpu/machine_memory.hpp"
#include "gpu/model/engine_state.hpp"

namespace xengt::gpu::model {

struct GpuMemory {
    MachineMemory& machine;
    const uint64_t* ggtt;  // the GGTT entries (SoftGpu's table)
    uint64_t ggtt_entries;

    // GGTT address → host physical; nullopt when non-present or out of range.
    std::optional<uint64_t> ggtt_translate(uint64_t gm) const;
    // Graphics address in `space` of context `ctx` → host physical.
    std::optional<uint64_t> translate(const LoadedContext& ctx, AddrSpace space, uint64_t va) const;

    bool read(const LoadedContext& ctx, AddrSpace space, uint64_t va,
              std::span<std::byte> out) const;
    bool write(const LoadedContext& ctx, AddrSpace space, uint64_t va,
               std::span<const std::byte> in) const;
    bool read32(const LoadedContext& ctx, AddrSpace space, uint64_t va, uint32_t& out) const;
    bool write32(const LoadedContext& ctx, AddrSpace space, uint64_t va, uint32_t value) const;
    // GGTT-only shorthands (HWSP, context image).
    bool ggtt_read32(uint64_t gm, uint32_t& out) const;
    bool ggtt_write32(uint64_t gm, uint32_t value) const;
};

}  // namespace xengt::gpu::model
