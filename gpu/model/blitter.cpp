// Blitter commands on BCS (§5.4): linear surfaces, solid fill and copies.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "gpu/model/engine.hpp"
#include "gpu/model/hw_regs.hpp"

namespace xengt::gpu::model {
namespace {

// §5.4 XY_COLOR_BLT / XY_SRC_COPY_BLT DW0 bits.
constexpr uint32_t kWriteAlpha = 1u << 21;
constexpr uint32_t kWriteRgb = 1u << 20;
constexpr uint32_t kSrcTiled = 1u << 15;
constexpr uint32_t kDstTiled = 1u << 11;
// §5.4 BR13: bits 25:24 colour depth, 23:16 ROP, 15:0 pitch.
constexpr unsigned kBr13DepthShift = 24;
constexpr unsigned kBr13RopShift = 16;
constexpr uint32_t kPitchMask = 0xFFFF;
constexpr uint32_t kRopPatCopy = 0xF0;  // §5.4 colour fill
constexpr uint32_t kRopSrcCopy = 0xCC;  // §5.4 SRCCOPY
// §5.4 BR13 colour depth 0 = 8 bpp, 1/2 = 16 bpp, 3 = 32 bpp → bytes per pixel.
constexpr unsigned kXyBytesPerPixel[4] = {1, 2, 2, 4};
// §5.4 XY_FAST_COPY_BLT: DW0 21:20 source tiling, 14:13 destination tiling;
// DW1 26:24 colour depth (0 = 8, 1 = 16, 3 = 32, 4 = 64, 5 = 128 bpp; 2 reserved).
constexpr uint32_t kFastSrcTilingMask = 3u << 20;
constexpr uint32_t kFastDstTilingMask = 3u << 13;
constexpr unsigned kFastDepthShift = 24;
constexpr unsigned kFastBytesPerPixel[8] = {1, 2, 0, 4, 8, 16, 0, 0};

struct Rect {
    int x1, y1, x2, y2;  // x2/y2 exclusive (§5.4)
};

// §5.4: y in bits 31:16, x in 15:0. The PRM's coordinates are signed 16-bit;
// the doc is silent on negative ones, so the model clips them to 0.
int coord(uint32_t v) {
    return std::max(0, static_cast<int>(static_cast<int16_t>(v & 0xFFFF)));
}
Rect rect(uint32_t top_left, uint32_t bottom_right) {
    return {coord(top_left), coord(top_left >> 16), coord(bottom_right), coord(bottom_right >> 16)};
}
uint64_t addr48(uint32_t low, uint32_t high) {
    return uint64_t{high & 0xFFFF} << 32 | low;  // §5.4: Gen8 48-bit addresses
}

struct Surface {
    uint64_t address;
    uint32_t pitch;
};

// Copies `rows` x `row_bytes` from src (or fills with `fill` when src is
// null), row by row through the engine's address space. Each row is read
// whole before it is written, so overlapping copies see the source.
EngineError blit(EngineCtx& c, const Surface& dst, Rect d, const Surface* src, int sx, int sy,
                 unsigned bpp, uint32_t fill, uint32_t byte_mask) {
    if (d.x2 <= d.x1 || d.y2 <= d.y1) {
        return EngineError::None;  // an empty rectangle draws nothing
    }
    const AddrSpace space = c.implicit_space();
    const size_t row_bytes = static_cast<size_t>(d.x2 - d.x1) * bpp;
    std::vector<std::byte> row(row_bytes), old(row_bytes);
    if (src == nullptr) {
        // A fill writes the same row every time: build it once.
        for (size_t i = 0; i < row_bytes; ++i) {
            row[i] = static_cast<std::byte>(fill >> (8 * (i % bpp)));
        }
    }
    std::vector<std::byte> fill_row = src == nullptr ? row : std::vector<std::byte>();
    for (int y = d.y1; y < d.y2; ++y) {
        const uint64_t to = dst.address + uint64_t(y) * dst.pitch + uint64_t(d.x1) * bpp;
        if (src != nullptr) {
            const uint64_t from =
                src->address + uint64_t(sy + (y - d.y1)) * src->pitch + uint64_t(sx) * bpp;
            if (!c.mem.read(c.ex.ctx, space, from, row)) {
                return EngineError::PageFault;
            }
        } else if (byte_mask != 0xFFFFFFFFu) {
            row = fill_row;  // the previous row was merged with the old pixels
        }
        if (byte_mask != 0xFFFFFFFFu) {
            // 32 bpp with only alpha or only RGB written: keep the other bytes.
            if (!c.mem.read(c.ex.ctx, space, to, old)) {
                return EngineError::PageFault;
            }
            for (size_t i = 0; i < row_bytes; ++i) {
                if ((byte_mask >> (8 * (i % 4)) & 0xFF) == 0) {
                    row[i] = old[i];
                }
            }
        }
        if (!c.mem.write(c.ex.ctx, space, to, row)) {
            return EngineError::PageFault;
        }
    }
    return EngineError::None;
}

// §5.4 DW0 bits 21/20 (32 bpp): alpha = byte 3, RGB = bytes 2:0.
uint32_t channel_mask(uint32_t dw0, unsigned bpp) {
    if (bpp != 4) {
        return 0xFFFFFFFFu;
    }
    return ((dw0 & kWriteAlpha) != 0 ? 0xFF000000u : 0) |
           ((dw0 & kWriteRgb) != 0 ? 0x00FFFFFFu : 0);
}

}  // namespace

EngineError cmd_xy_color_blt(EngineCtx& c, std::span<const uint32_t> dw) {
    // Tiled layouts and ROPs other than the colour fill are not modelled: refused.
    if ((dw[0] & kDstTiled) != 0 || (dw[1] >> kBr13RopShift & 0xFF) != kRopPatCopy) {
        return EngineError::Unsupported;
    }
    const unsigned bpp = kXyBytesPerPixel[dw[1] >> kBr13DepthShift & 3];
    const uint32_t mask = channel_mask(dw[0], bpp);
    if (mask == 0) {
        return EngineError::None;  // 32 bpp with neither channel enabled writes nothing
    }
    const Surface dst{addr48(dw[4], dw[5]), dw[1] & kPitchMask};
    return blit(c, dst, rect(dw[2], dw[3]), nullptr, 0, 0, bpp, dw[6], mask);
}

EngineError cmd_xy_src_copy_blt(EngineCtx& c, std::span<const uint32_t> dw) {
    if ((dw[0] & (kDstTiled | kSrcTiled)) != 0 || (dw[1] >> kBr13RopShift & 0xFF) != kRopSrcCopy) {
        return EngineError::Unsupported;
    }
    const unsigned bpp = kXyBytesPerPixel[dw[1] >> kBr13DepthShift & 3];
    const uint32_t mask = channel_mask(dw[0], bpp);
    if (mask == 0) {
        return EngineError::None;
    }
    const Surface dst{addr48(dw[4], dw[5]), dw[1] & kPitchMask};
    const Surface src{addr48(dw[8], dw[9]), dw[7] & kPitchMask};
    return blit(c, dst, rect(dw[2], dw[3]), &src, coord(dw[6]), coord(dw[6] >> 16), bpp, 0, mask);
}

EngineError cmd_xy_fast_copy_blt(EngineCtx& c, std::span<const uint32_t> dw) {
    if ((dw[0] & (kFastSrcTilingMask | kFastDstTilingMask)) != 0) {
        return EngineError::Unsupported;  // tiled layouts are not modelled
    }
    const unsigned bpp = kFastBytesPerPixel[dw[1] >> kFastDepthShift & 7];
    if (bpp == 0) {
        return EngineError::Unsupported;  // a reserved colour depth
    }
    const Surface dst{addr48(dw[4], dw[5]), dw[1] & kPitchMask};
    const Surface src{addr48(dw[8], dw[9]), dw[7] & kPitchMask};
    return blit(c, dst, rect(dw[2], dw[3]), &src, coord(dw[6]), coord(dw[6] >> 16), bpp, 0,
                0xFFFFFFFFu);
}

}  // namespace xengt::gpu::model
