// Pipe A, its primary plane and the DE pipe A interrupt bank (§6, §7.1–§7.4).
#include "gpu/model/display.hpp"

#include <algorithm>
#include <span>
#include <vector>

#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"

namespace xengt::gpu::model {
namespace {

constexpr uint32_t kPipeA = 1u << 0;  // bit of pipe A in ModelState::display_flips_pending

// §6.2 rule 1 and 3 for the DE pipe A bank: latch unmasked bits, one MSI if asserted.
void raise_de_pipe_a(ModelState& s, uint32_t bits) {
    const uint32_t latched = bits & ~s.reg(hw::kDePipeImrA);
    s.reg(hw::kDePipeIirA) |= latched;
    if (latched != 0 && irq_asserted(s)) {
        ++s.msi_pending;
    }
}

// Reads `out.size()` bytes at GGTT address `gm`, one page at a time (§2.1).
bool read_ggtt_bytes(const GpuMemory& mem, uint64_t gm, std::span<std::byte> out) {
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t at = gm + done;
        const size_t chunk = static_cast<size_t>(
            std::min<uint64_t>(kPageSize - (at & kPageMask), out.size() - done));
        const auto phys = mem.ggtt_translate(at);
        if (!phys || !mem.machine.read(*phys, out.subspan(done, chunk))) {
            return false;
        }
        done += chunk;
    }
    return true;
}

}  // namespace

uint32_t display_level1_pending(ModelState& s) {
    // §6.2 rule 2: DE pipe A is pending when IIR & IER != 0 → master bit 16.
    return (s.reg(hw::kDePipeIirA) & s.reg(hw::kDePipeIerA)) != 0 ? hw::kMasterDePipeA : 0;
}

void pipeconf_write(ModelState& s, uint32_t offset, uint32_t value) {
    // §7.4: the RO state bit follows the enable bit at once (the model's pipe
    // has no clocks to wait for).
    const uint32_t state = (value & hw::kPipeConfEnable) != 0 ? hw::kPipeConfState : 0;
    s.reg(offset) = (value & ~hw::kPipeConfState) | state;
}

void plane_surf_write(ModelState& s, uint32_t offset, uint32_t value) {
    // §7.4: the write copies into SURFLIVE, counts a flip, and completes it at
    // once for an async flip, otherwise at the next vblank.
    s.reg(offset) = value;
    s.reg(hw::kPlaneSurfLiveA) = value;
    ++s.reg(hw::kPipeFlipCountA);
    if ((s.reg(hw::kPlaneCtlA) & hw::kPlaneAsyncFlip) != 0) {
        raise_de_pipe_a(s, hw::kDePipePlane1FlipDone);
    } else {
        s.display_flips_pending |= kPipeA;
    }
}

void display_vblank(ModelState& s) {
    // §7.4: only an enabled pipe has vblanks.
    if ((s.reg(hw::kPipeConfA) & hw::kPipeConfEnable) == 0) {
        return;
    }
    uint32_t events = hw::kDePipeVblank;
    if ((s.display_flips_pending & kPipeA) != 0) {
        s.display_flips_pending &= ~kPipeA;
        events |= hw::kDePipePlane1FlipDone;
    }
    ++s.reg(hw::kPipeFrmCountA);  // §7.2: full 32 bits, wraps
    raise_de_pipe_a(s, events);
}

std::optional<PlaneCapture> capture_plane_a(ModelState& s, const GpuMemory& mem) {
    const uint32_t conf = s.reg(hw::kPipeConfA);
    if ((conf & hw::kPipeConfEnable) == 0 || (conf & hw::kPipeConfState) == 0) {
        return std::nullopt;
    }
    const uint32_t ctl = s.reg(hw::kPlaneCtlA);
    if ((ctl & hw::kPlaneEnable) == 0 ||
        (ctl >> hw::kPlaneFormatShift & hw::kPlaneFormatMask) != hw::kPlaneFormatXrgb8888 ||
        (ctl & hw::kPlaneRgbxOrder) != 0 ||
        (ctl >> hw::kPlaneTilingShift & hw::kPlaneTilingMask) != 0 ||
        (ctl & hw::kPlaneRotationMask) != 0) {
        return std::nullopt;  // only linear, unrotated XRGB8888 is decoded
    }
    // §7.2 PIPESRC and §7.1 PLANE_SIZE / PLANE_POS / PLANE_OFFSET: "minus one"
    // sizes, positions as y 31:16, x 15:0. The doc gives no position/offset
    // width; the model uses PIPESRC's 13-bit x and 12-bit y.
    const uint32_t src = s.reg(hw::kPipeSrcA);
    const uint32_t pipe_w = (src >> 16 & hw::kPipeSrcWidthMask) + 1;
    const uint32_t pipe_h = (src & hw::kPipeSrcHeightMask) + 1;
    const uint32_t size = s.reg(hw::kPlaneSizeA);
    const uint32_t plane_w = (size & hw::kPipeSrcWidthMask) + 1;
    const uint32_t plane_h = (size >> 16 & hw::kPipeSrcHeightMask) + 1;
    const uint32_t pos = s.reg(hw::kPlanePosA);
    const uint32_t x = pos & hw::kPipeSrcWidthMask, y = pos >> 16 & hw::kPipeSrcHeightMask;
    if (x >= pipe_w || y >= pipe_h) {
        return std::nullopt;  // nothing of the plane is visible
    }
    const uint32_t off = s.reg(hw::kPlaneOffsetA);
    const uint64_t ox = off & hw::kPipeSrcWidthMask, oy = off >> 16 & hw::kPipeSrcHeightMask;
    const uint64_t stride =
        uint64_t{s.reg(hw::kPlaneStrideA) & hw::kPlaneStrideMask} * hw::kPlaneStrideUnit;
    // The surface being scanned out is SURFLIVE (§7.1), bits 31:12.
    const uint64_t base = s.reg(hw::kPlaneSurfLiveA) & hw::kPlaneSurfAddrMask;

    PlaneCapture cap;
    cap.width = std::min(plane_w, pipe_w - x);
    cap.height = std::min(plane_h, pipe_h - y);
    cap.pixels.resize(size_t{cap.width} * cap.height);
    for (uint32_t row = 0; row < cap.height; ++row) {
        const uint64_t gm = base + (oy + row) * stride + ox * 4;
        const auto out = std::as_writable_bytes(
            std::span{cap.pixels}.subspan(size_t{row} * cap.width, cap.width));
        if (!read_ggtt_bytes(mem, gm, out)) {
            return std::nullopt;
        }
    }
    return cap;  // little-endian dwords: B, G, R, X in memory → 0xXXRRGGBB
}

}  // namespace xengt::gpu::model
