// GGTT and PPGTT translation for the engines (§2.1, §3).
#include <cstring>

#include "gpu/model/gpu_memory.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/port.hpp"

namespace xengt::gpu::model {
namespace {

// One 64-bit entry of the table page at host physical `table`, or nullopt if
// the table lies outside machine memory.
std::optional<uint64_t> table_entry(MachineMemory& m, uint64_t table, unsigned index) {
    std::byte* frame = m.frame(HostFrame{table >> kPageShift});
    if (frame == nullptr) {
        return std::nullopt;
    }
    uint64_t entry = 0;
    std::memcpy(&entry, frame + index * 8, sizeof(entry));
    return entry;
}

// Walks from the page directory pointer table level downwards: `pdpe` is the
// PDP entry (or, in 3-level mode, the PDP register) selecting a page directory.
std::optional<uint64_t> walk_from_pdpe(MachineMemory& m, uint64_t pdpe, uint64_t va,
                                       bool pdpe_is_register) {
    // §3.4 quirk: i915 writes root pointers without the present bit; any
    // non-zero root is present (as GVT treats it).
    const bool present = pdpe_is_register ? pdpe != 0 : (pdpe & hw::kPtePresent) != 0;
    if (!present) {
        return std::nullopt;
    }
    if (!pdpe_is_register && (pdpe & hw::kPtePs) != 0) {
        // §3.2: PDPE PS = 1 GiB page (address bits 45:30).
        constexpr uint64_t k1G = uint64_t{1} << 30;
        return (pdpe & hw::kPteAddrMask & ~(k1G - 1)) | (va & (k1G - 1));
    }
    const auto pde = table_entry(m, pdpe & hw::kPteAddrMask, (va >> 21) & 0x1FF);  // §3.1 29:21
    if (!pde || (*pde & hw::kPtePresent) == 0) {
        return std::nullopt;
    }
    if ((*pde & hw::kPtePs) != 0) {
        // §3.2: PDE PS = 2 MiB page (address bits 45:21).
        constexpr uint64_t k2M = uint64_t{1} << 21;
        return (*pde & hw::kPteAddrMask & ~(k2M - 1)) | (va & (k2M - 1));
    }
    if ((*pde & hw::kPdeIps64K) != 0) {
        // §3.2 IPS (64 KiB PT entries): the doc does not give the 64 KiB
        // indexing, so the model refuses such tables as a fault.
        return std::nullopt;
    }
    const auto pte = table_entry(m, *pde & hw::kPteAddrMask, (va >> 12) & 0x1FF);  // §3.1 20:12
    if (!pte || (*pte & hw::kPtePresent) == 0) {
        return std::nullopt;
    }
    return (*pte & hw::kPteAddrMask) | (va & kPageMask);
}

}  // namespace

std::optional<uint64_t> GpuMemory::ggtt_translate(uint64_t gm) const {
    const uint64_t index = gm >> kPageShift;
    if (index >= ggtt_entries) {
        return std::nullopt;
    }
    const GgttEntry entry{ggtt[index]};
    if (!entry.present()) {  // §2.1 bit 0
        return std::nullopt;
    }
    return (entry.frame().value() << kPageShift) | (gm & kPageMask);
}

std::optional<uint64_t> GpuMemory::translate(const LoadedContext& ctx, AddrSpace space,
                                             uint64_t va) const {
    va &= hw::kGpuVaMask;  // §3.1: canonical form, bits 63:48 are a sign extension
    if (space == AddrSpace::Ggtt) {
        return ggtt_translate(va);
    }
    if (ctx.addr_mode == hw::kDescLegacy64) {
        // §3.1: 4-level, PML4 address in PDP0; 47:39 PML4E, 38:30 PDPE.
        if (ctx.pdp[0] == 0) {  // §3.4: non-zero root = present
            return std::nullopt;
        }
        const auto pml4e = table_entry(machine, ctx.pdp[0] & hw::kPteAddrMask, (va >> 39) & 0x1FF);
        if (!pml4e || (*pml4e & hw::kPtePresent) == 0) {
            return std::nullopt;
        }
        const auto pdpe = table_entry(machine, *pml4e & hw::kPteAddrMask, (va >> 30) & 0x1FF);
        if (!pdpe) {
            return std::nullopt;
        }
        return walk_from_pdpe(machine, *pdpe, va, false);
    }
    if (ctx.addr_mode == hw::kDescLegacy32) {
        // §3.1: 3-level, 32-bit VA, bits 31:30 select one of the 4 PDP registers.
        if (va >> 32 != 0) {
            return std::nullopt;
        }
        return walk_from_pdpe(machine, ctx.pdp[(va >> 30) & 3], va, true);
    }
    return std::nullopt;  // advanced modes are refused at context load
}

bool GpuMemory::read(const LoadedContext& ctx, AddrSpace space, uint64_t va,
                     std::span<std::byte> out) const {
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t a = va + done;
        const size_t chunk =
            static_cast<size_t>(std::min<uint64_t>(kPageSize - (a & kPageMask), out.size() - done));
        const auto phys = translate(ctx, space, a);
        if (!phys || !machine.read(*phys, out.subspan(done, chunk))) {
            return false;
        }
        done += chunk;
    }
    return true;
}

bool GpuMemory::write(const LoadedContext& ctx, AddrSpace space, uint64_t va,
                      std::span<const std::byte> in) const {
    // Translate every page first so that a fault writes nothing.
    for (uint64_t page = va & ~kPageMask; page < va + in.size(); page += kPageSize) {
        const auto phys = translate(ctx, space, page);
        if (!phys || machine.frame(HostFrame{*phys >> kPageShift}) == nullptr) {
            return false;
        }
    }
    size_t done = 0;
    while (done < in.size()) {
        const uint64_t a = va + done;
        const size_t chunk =
            static_cast<size_t>(std::min<uint64_t>(kPageSize - (a & kPageMask), in.size() - done));
        machine.write(*translate(ctx, space, a), in.subspan(done, chunk));
        done += chunk;
    }
    return true;
}

bool GpuMemory::read32(const LoadedContext& ctx, AddrSpace space, uint64_t va,
                       uint32_t& out) const {
    return read(ctx, space, va, std::as_writable_bytes(std::span{&out, 1}));
}

bool GpuMemory::write32(const LoadedContext& ctx, AddrSpace space, uint64_t va,
                        uint32_t value) const {
    return write(ctx, space, va, std::as_bytes(std::span{&value, 1}));
}

bool GpuMemory::ggtt_read32(uint64_t gm, uint32_t& out) const {
    return read32(LoadedContext{}, AddrSpace::Ggtt, gm, out);
}

bool GpuMemory::ggtt_write32(uint64_t gm, uint32_t value) const {
    return write32(LoadedContext{}, AddrSpace::Ggtt, gm, value);
}

}  // namespace xengt::gpu::model
