#include "mediator/mmio/mmio_table.hpp"

#include <array>
#include <vector>

#include "mediator/base/register_rows.hpp"
#include "mediator/pvinfo.hpp"

namespace xengt::mediator::mmio {
namespace {

// Row factories keep the table one line per register.
constexpr MmioRow plain(uint32_t offset, uint32_t size, const char* name) {
    return {offset, size, name, RegPolicy::Vreg, 0, 0, nullptr, nullptr};
}
constexpr MmioRow read_only(uint32_t offset, const char* name, uint32_t init) {
    return {offset, 4, name, RegPolicy::ReadOnly, init, 0, nullptr, nullptr};
}
constexpr MmioRow masked(uint32_t offset, const char* name, uint32_t init) {
    return {offset, 4, name, RegPolicy::Masked, init, 0, nullptr, nullptr};
}
constexpr MmioRow rw1c(uint32_t offset, const char* name) {
    return {offset, 4, name, RegPolicy::Rw1c, 0, 0, nullptr, nullptr};
}
constexpr MmioRow custom(uint32_t offset, uint32_t size, const char* name, RegReadFn read,
                         RegWriteFn write) {
    return {offset, size, name, RegPolicy::Custom, 0, 0, read, write};
}

// Engine MMIO bases (intel-gpu.md §4.1).
constexpr uint32_t kRcs = 0x02000;
constexpr uint32_t kVcs = 0x12000;
constexpr uint32_t kVecs = 0x1A000;
constexpr uint32_t kBcs = 0x22000;
// Per-engine register offsets from the base (§4.2).
constexpr uint32_t kMiMode = 0x09C;
constexpr uint32_t kModeGen7 = 0x29C;
constexpr uint32_t kCsbPtr = 0x3A0;
// RING_MI_MODE bit 9 MODE_IDLE: an engine with nothing to do reports idle.
constexpr uint32_t kModeIdle = 1u << 9;
// GEN8_FUSE2 as the lab's i915 wanted it: slice 0 with subslices 0-2 present
// (24 EUs); zeros make i915 WARN in its SSEU setup.
constexpr uint32_t kFuse2Skl = 0x02800000;

constexpr MmioRow kRows[] = {
    // PVINFO page: vGPU detection, GM slices, g2v notifications (§9).
    custom(kPvinfoBase, kPvinfoSize, "PVINFO", pvinfo_read, pvinfo_write),

    // RING_MI_MODE: masked; preset MODE_IDLE like idle hardware (§4.2, §10.3).
    masked(kRcs + kMiMode, "RCS_MI_MODE", kModeIdle),
    masked(kBcs + kMiMode, "BCS_MI_MODE", kModeIdle),
    masked(kVcs + kMiMode, "VCS_MI_MODE", kModeIdle),
    masked(kVecs + kMiMode, "VECS_MI_MODE", kModeIdle),

    // RING_MODE_GEN7 / GFX_MODE: masked; execlist and PPGTT enables (§4.2).
    masked(kRcs + kModeGen7, "RCS_MODE_GEN7", 0),
    masked(kBcs + kModeGen7, "BCS_MODE_GEN7", 0),
    masked(kVcs + kModeGen7, "VCS_MODE_GEN7", 0),
    masked(kVecs + kModeGen7, "VECS_MODE_GEN7", 0),

    // RING_CONTEXT_STATUS_PTR: masked CSB read/write pointers (§4.2, §10.3).
    masked(kRcs + kCsbPtr, "RCS_CONTEXT_STATUS_PTR", 0),
    masked(kBcs + kCsbPtr, "BCS_CONTEXT_STATUS_PTR", 0),
    masked(kVcs + kCsbPtr, "VCS_CONTEXT_STATUS_PTR", 0),
    masked(kVecs + kCsbPtr, "VECS_CONTEXT_STATUS_PTR", 0),

    // GEN8_GT_IIR(0..3): interrupt identity, write 1 to clear (§6.1).
    rw1c(0x44308, "GEN8_GT_IIR0"),
    rw1c(0x44318, "GEN8_GT_IIR1"),
    rw1c(0x44328, "GEN8_GT_IIR2"),
    rw1c(0x44338, "GEN8_GT_IIR3"),

    // GEN8_FUSE2: fused-off slices/subslices are a fact of the part (lab notes #6).
    read_only(0x09120, "GEN8_FUSE2", kFuse2Skl),

    // Fence registers: 32 x 64-bit at 0x100000 (§8.1); plain until remapped.
    plain(0x100000, 32 * 8, "FENCE_REG_GEN6"),
    // GFX_FLSH_CNTL_GEN6: i915 writes 1 after GGTT updates (§2.3).
    plain(0x101008, 4, "GFX_FLSH_CNTL_GEN6"),
};

// The table is code; a malformed row fails the build, not a guest access.
consteval bool table_is_well_formed() {
    if (!register_rows_laid_out(std::span<const MmioRow>(kRows), kRegisterFileSize)) {
        return false;  // aligned, in range, disjoint
    }
    for (const MmioRow& r : kRows) {
        if (r.policy == RegPolicy::Masked && r.init > 0xFFFF) {
            return false;  // masked registers have no state in bits 31:16
        }
        if (r.policy != RegPolicy::Custom && (r.read != nullptr || r.write != nullptr)) {
            return false;  // handlers would be silently ignored
        }
    }
    return true;
}
static_assert(table_is_well_formed(), "MMIO table rows must be aligned, in range, disjoint");

// dword index → row number, built once on first use and shared by every vGPU.
const std::vector<uint16_t>& row_index() {
    static const std::vector<uint16_t> index =
        register_row_index(std::span<const MmioRow>(kRows), kRegisterDwords);
    return index;
}

}  // namespace

const char* to_string(RegPolicy policy) {
    switch (policy) {
        case RegPolicy::Vreg:
            return "vreg";
        case RegPolicy::ReadOnly:
            return "read-only";
        case RegPolicy::RoMask:
            return "ro-mask";
        case RegPolicy::Masked:
            return "masked";
        case RegPolicy::Rw1c:
            return "rw1c";
        case RegPolicy::Custom:
            return "custom";
    }
    return "?";
}

std::span<const MmioRow> mmio_table() {
    return kRows;
}

const MmioRow* find_mmio_row(uint32_t offset) {
    if (offset >= kRegisterFileSize) {
        return nullptr;
    }
    const uint16_t row = row_index()[offset / 4];
    return row == kNoRegisterRow ? nullptr : &kRows[row];
}

}  // namespace xengt::mediator::mmio
