#include "mediator/cmd/register_allowlist.hpp"

#include <algorithm>
#include <array>
#include <iterator>

namespace xengt::mediator::cmd {
namespace {

// §4.1 engine MMIO bases.
constexpr uint32_t kRcsBase = 0x02000;
constexpr uint32_t kBcsBase = 0x22000;
constexpr uint32_t kVcsBase = 0x12000;
constexpr uint32_t kVecsBase = 0x1A000;
// §4.2 per-engine offsets.
constexpr uint32_t kInstpm = 0x0C0;
constexpr uint32_t kPdp = 0x270;  // PDP0..3 LDW/UDW: 0x270-0x28C
constexpr uint32_t kPdpBytes = 0x20;
constexpr uint32_t kGpr = 0x600;  // CS_GPR(0..15), 64-bit each
constexpr uint32_t kGprBytes = 0x80;

constexpr uint8_t kLri = kUseLri;
constexpr uint8_t kMem = kUseSrm | kUseLrm;

constexpr AllowedRegister reg(uint32_t offset, const char* name, uint8_t uses) {
    return {offset, 4, name, uses, RegClass::Plain};
}
constexpr AllowedRegister block(uint32_t offset, uint32_t size, const char* name, uint8_t uses) {
    return {offset, size, name, uses, RegClass::Plain};
}
constexpr AllowedRegister pdps(uint32_t base, const char* name) {
    return {base + kPdp, kPdpBytes, name, kLri, RegClass::PpgttRoot};
}

}  // namespace

// Offsets marked "PRM" are named by the doc (§5.4, §5.5, §10.3, §10.4) but
// their offsets come from the hardware documentation, not from the doc.
constexpr AllowedRegister kAllowedRegisters[] = {
    // §10 "RING_PDPs (cmd-accessible)": PPGTT roots; the shadow PPGTT follows them.
    pdps(kRcsBase, "RCS_PDP0-3"),
    pdps(kBcsBase, "BCS_PDP0-3"),
    pdps(kVcsBase, "VCS_PDP0-3"),
    pdps(kVecsBase, "VECS_PDP0-3"),
    // §4.2 CS_GPR(n): the engines' scratch registers.
    block(kRcsBase + kGpr, kGprBytes, "RCS_GPR", kLri),
    block(kBcsBase + kGpr, kGprBytes, "BCS_GPR", kLri),
    block(kVcsBase + kGpr, kGprBytes, "VCS_GPR", kLri),
    block(kVecsBase + kGpr, kGprBytes, "VECS_GPR", kLri),
    // §10.3 masked per-engine mode registers i915 programs from its streams.
    reg(kRcsBase + kInstpm, "RCS_INSTPM", kLri | kMem),  // SRM/LRM: GVT allows it on BDW
    reg(kBcsBase + kInstpm, "BCS_INSTPM", kLri),
    reg(kVcsBase + kInstpm, "VCS_INSTPM", kLri),
    reg(kVecsBase + kInstpm, "VECS_INSTPM", kLri),
    // §5.5: the SRM/LRM and LRR whitelists.
    reg(0x21F0, "RCS_0x21F0", kMem),
    reg(0x215C, "RCS_0x215C", kUseLrr),
    reg(0xB118, "GEN8_L3SQCREG4", kLri | kMem),  // PRM
    // §10.3 chicken / mode registers of the render context (PRM offsets).
    // i915 (6.1) loads its Gen9 context workarounds with one LRI on the
    // render ring when it records the default context
    // (intel_engine_emit_ctx_wa): CS_CHICKEN1, CACHE_MODE_1, GT_MODE (IZ
    // hashing, SKUs with 7-EU subslices), COMMON_SLICE_CHICKEN2,
    // HDC_CHICKEN0, HALF_SLICE_CHICKEN2/3/5/7 and ROW_CHICKEN. All are
    // masked registers saved and restored with the render context image, so
    // a guest's value lives and dies with its context; GVT flags every one
    // F_CMD_ACCESS (its MMIO table, "F_MODE_MASK | F_CMD_ACCESS").
    reg(0x20EC, "GEN9_CS_DEBUG_MODE1", kLri),
    reg(0x2580, "GEN8_CS_CHICKEN1", kLri),  // preemption granularity (per context)
    reg(0x7000, "CACHE_MODE_0_GEN7", kLri),
    reg(0x7004, "CACHE_MODE_1", kLri),
    reg(0x7008, "GEN7_GT_MODE", kLri),
    reg(0x7014, "COMMON_SLICE_CHICKEN2", kLri),
    reg(0x7300, "HDC_CHICKEN0", kLri),
    reg(0xE180, "HALF_SLICE_CHICKEN2", kLri),
    reg(0xE184, "HALF_SLICE_CHICKEN3", kLri),
    reg(0xE188, "GEN9_HALF_SLICE_CHICKEN5", kLri),
    reg(0xE194, "GEN9_HALF_SLICE_CHICKEN7", kLri),
    reg(0xE4F0, "GEN8_ROW_CHICKEN", kLri),
    // §10.4 MOCS tables (PRM offsets): L3 control, then one table per engine.
    block(0xB020, 0x40, "LNCFCMOCS", kLri),
    block(0xC800, 0x100, "GFX_MOCS", kLri),
    block(0xC900, 0x100, "MFX0_MOCS", kLri),
    block(0xCA00, 0x100, "MFX1_MOCS", kLri),
    block(0xCB00, 0x100, "VEBOX_MOCS", kLri),
    block(0xCC00, 0x100, "BLT_MOCS", kLri),
    // §5.4: Y-tiled blits need BCS_SWCTRL set via LRI (PRM offset).
    reg(kBcsBase + 0x200, "BCS_SWCTRL", kLri),
};

namespace {

constexpr size_t kCount = std::size(kAllowedRegisters);

// Rows sorted by offset, checked disjoint at compile time.
constexpr std::array<uint8_t, kCount> sorted_rows() {
    std::array<uint8_t, kCount> order{};
    for (size_t i = 0; i < kCount; ++i) {
        order[i] = static_cast<uint8_t>(i);
    }
    std::sort(order.begin(), order.end(), [](uint8_t a, uint8_t b) {
        return kAllowedRegisters[a].offset < kAllowedRegisters[b].offset;
    });
    return order;
}

// LRI's offset field (22:2) spans 8 MiB.
constexpr uint32_t kOffsetSpace = kRegisterOffsetSpace;

consteval bool rows_well_formed() {
    constexpr std::array<uint8_t, kCount> sorted = sorted_rows();
    for (size_t i = 0; i < kCount; ++i) {
        const AllowedRegister& r = kAllowedRegisters[sorted[i]];
        if (r.offset % 4 != 0 || r.size == 0 || r.size % 4 != 0 || r.uses == 0 ||
            (r.uses & kFactPpgttRoot) != 0 || r.offset + r.size > kOffsetSpace ||
            r.offset > 0x7FFFFC) {
            return false;  // dword registers in LRI's 22:2 offset space
        }
        if (i + 1 < kCount && r.offset + r.size > kAllowedRegisters[sorted[i + 1]].offset) {
            return false;  // disjoint
        }
    }
    return kCount < 256;
}
static_assert(rows_well_formed(), "allow-list rows must be aligned, used and disjoint");

constexpr uint32_t kPageShift = kRegisterPageShift;
constexpr size_t kPages = kOffsetSpace >> kPageShift;
constexpr size_t kDwordsPerPage = size_t{1} << (kPageShift - 2);

constexpr uint32_t first_page(const AllowedRegister& r) {
    return r.offset >> kPageShift;
}
constexpr uint32_t last_page(const AllowedRegister& r) {
    return (r.offset + r.size - 1) >> kPageShift;
}

consteval size_t used_pages() {
    std::array<bool, kPages> used{};
    size_t n = 0;
    for (const AllowedRegister& r : kAllowedRegisters) {
        for (uint32_t p = first_page(r); p <= last_page(r); ++p) {
            n += used[p] ? 0 : 1;
            used[p] = true;
        }
    }
    return n;
}
static_assert(used_pages() < kMaxRegisterBlocks, "the index needs more blocks");

constexpr RegisterIndex build_index() {
    RegisterIndex index{};
    size_t blocks = 1;
    for (size_t i = 0; i < kCount; ++i) {
        const AllowedRegister& r = kAllowedRegisters[i];
        for (uint32_t p = first_page(r); p <= last_page(r); ++p) {
            if (index.block_of_page[p] == 0) {
                index.block_of_page[p] = static_cast<uint8_t>(blocks++);
            }
        }
        index.facts[i + 1] =
            static_cast<uint8_t>(r.uses | (r.cls == RegClass::PpgttRoot ? kFactPpgttRoot : 0));
        for (uint32_t o = r.offset; o < r.offset + r.size; o += 4) {
            index.row_of_dword[index.block_of_page[o >> kPageShift]]
                              [(o >> 2) & (kDwordsPerPage - 1)] = static_cast<uint8_t>(i + 1);
        }
    }
    return index;
}

}  // namespace

constexpr RegisterIndex kRegisterIndex = build_index();

std::span<const AllowedRegister> register_allowlist() {
    return kAllowedRegisters;
}

}  // namespace xengt::mediator::cmd
