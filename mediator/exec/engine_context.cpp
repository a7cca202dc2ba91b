#include "mediator/exec/engine_context.hpp"

#include <array>

namespace xengt::mediator::exec {
namespace {

// The allow-list's LRI targets that live outside the logical ring context,
// by the engine whose commands reach them (register_allowlist.cpp). Ring,
// PDP and GPR registers are in the image and need nothing here.
constexpr ContextRegisters kRender[] = {
    {0x020EC, 1, "GEN9_CS_DEBUG_MODE1"}, {0x020C0, 1, "RCS_INSTPM"},
    {0x07000, 1, "CACHE_MODE_0_GEN7"},   {0x07004, 1, "CACHE_MODE_1"},
    {0x07008, 1, "GEN7_GT_MODE"},        {0x07300, 1, "HDC_CHICKEN0"},
    {0x0B020, 0x40 / 4, "LNCFCMOCS"},    {0x0B118, 1, "GEN8_L3SQCREG4"},
    {0x0C800, 0x100 / 4, "GFX_MOCS"},    {0x0E4F0, 1, "GEN8_ROW_CHICKEN"},
};
constexpr ContextRegisters kBlitter[] = {
    {0x220C0, 1, "BCS_INSTPM"},
    {0x22200, 1, "BCS_SWCTRL"},
    {0x0CC00, 0x100 / 4, "BLT_MOCS"},
};
constexpr ContextRegisters kVideo[] = {
    {0x120C0, 1, "VCS_INSTPM"},
    {0x0C900, 0x100 / 4, "MFX0_MOCS"},
};
constexpr ContextRegisters kVideoEnhance[] = {
    {0x1A0C0, 1, "VECS_INSTPM"},
    {0x0CB00, 0x100 / 4, "VEBOX_MOCS"},
};

constexpr std::array<std::span<const ContextRegisters>, kEngines> kTables = {kRender, kBlitter,
                                                                             kVideo, kVideoEnhance};

constexpr uint32_t count(std::span<const ContextRegisters> rows) {
    uint32_t n = 0;
    for (const ContextRegisters& r : rows) {
        n += r.dwords;
    }
    return n;
}

}  // namespace

std::span<const ContextRegisters> engine_context_registers(Engine e) {
    return kTables[index(e)];
}

uint32_t engine_context_dwords(Engine e) {
    return count(kTables[index(e)]);
}

}  // namespace xengt::mediator::exec
