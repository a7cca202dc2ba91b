// The EDID of a vGPU's virtual monitor: one 128-byte VESA E-EDID 1.4 base
// block (no extensions) whose preferred mode is the detailed timing it was
// built from.
//
// The software GPU model has its own EDID for its physical monitor
// (gpu/model/edid.*); the mediator does not depend on gpu/, so the virtual
// monitor's block is generated here.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace xengt::mediator::display {

// A video mode as a monitor describes it: active, front porch, sync and back
// porch per direction, pixel clock, and the picture size.
struct DisplayMode {
    uint32_t pixel_clock_khz;
    uint16_t hactive, hfront, hsync, hback;
    uint16_t vactive, vfront, vsync, vback;
    bool hsync_positive, vsync_positive;
    uint16_t width_mm, height_mm;

    constexpr uint32_t htotal() const { return uint32_t{hactive} + hfront + hsync + hback; }
    constexpr uint32_t vtotal() const { return uint32_t{vactive} + vfront + vsync + vback; }
};

// VESA DMT 1024x768 at 60 Hz (65 MHz, 1344x806 total, both syncs negative):
// the resolution of GVT-g's default virtual monitor (intel-gpu.md §7.3), on a
// 4:3 panel of 15 inches.
inline constexpr DisplayMode kMode1024x768At60{65000, 1024, 24,    136,   160, 768, 3,
                                               6,     29,   false, false, 304, 228};

inline constexpr size_t kEdidBlockBytes = 128;
using EdidBlock = std::array<uint8_t, kEdidBlockBytes>;

// The base block for a DisplayPort monitor whose preferred (and largest) mode
// is `mode`: 8 bpc digital input, sRGB, the mode as detailed timing 1, range
// limits around it, and a monitor name.
EdidBlock make_edid(const DisplayMode& mode);

// True if the block has the fixed header and its 128 bytes sum to 0 mod 256.
bool edid_valid(std::span<const uint8_t, kEdidBlockBytes> block);

}  // namespace xengt::mediator::display
