#include "gpu/port_display.hpp"

namespace xengt::gpu {
namespace {

// Pipe / transcoder A (§7.2).
constexpr uint32_t kTransHtotal = 0x60000;
constexpr uint32_t kTransHblank = 0x60004;
constexpr uint32_t kTransHsync = 0x60008;
constexpr uint32_t kTransVtotal = 0x6000C;
constexpr uint32_t kTransVblank = 0x60010;
constexpr uint32_t kTransVsync = 0x60014;
constexpr uint32_t kPipeSrc = 0x6001C;
constexpr uint32_t kPipeConf = 0x70008;
constexpr uint32_t kPipeConfEnable = 1u << 31;
// Skylake universal plane 1 of pipe A (§7.1).
constexpr uint32_t kPlaneCtl = 0x70180;
constexpr uint32_t kPlaneStride = 0x70188;
constexpr uint32_t kPlanePos = 0x7018C;
constexpr uint32_t kPlaneSize = 0x70190;
constexpr uint32_t kPlaneSurf = 0x7019C;
constexpr uint32_t kPlaneOffset = 0x701A4;
constexpr uint32_t kPlaneEnable = 1u << 31;
constexpr uint32_t kFormatXrgb8888 = 4u << 24;  // bits 27:24; linear, unrotated: 0
constexpr uint32_t kStrideUnit = 64;            // linear surfaces
constexpr uint32_t kStrideMax = 0x3FF;          // bits 9:0
constexpr uint32_t kWidthMax = 0x1FFF + 1;      // 13-bit (width - 1) fields
constexpr uint32_t kHeightMax = 0xFFF + 1;      // 12-bit (height - 1) fields
constexpr uint64_t kSurfAddrMask = 0xFFFFF000;  // bits 31:12

// Timing and size fields hold value - 1: (a - 1) in 31:16, (b - 1) in 15:0.
constexpr uint32_t minus_one_pair(uint32_t a, uint32_t b) {
    return (a - 1) << 16 | (b - 1);
}

}  // namespace

bool PortDisplay::show(const mediator::display::Scanout& s) {
    const bool fits = s.width >= 1 && s.width <= kWidthMax && s.height >= 1 &&
                      s.height <= kHeightMax && s.stride_bytes % kStrideUnit == 0 &&
                      s.stride_bytes / kStrideUnit <= kStrideMax && s.x_offset < kWidthMax &&
                      s.y_offset < kHeightMax && (s.surface.value() & ~kSurfAddrMask) == 0;
    if (!fits) {
        blank();
        return false;
    }
    const Mode mode{s.width, s.height};
    if (mode_ != mode) {
        // A plausible 60 Hz-ish mode around the active size: blanking of 160
        // pixels and 30 lines.
        write(kTransHtotal, minus_one_pair(s.width + 160, s.width));
        write(kTransHblank, minus_one_pair(s.width + 160, s.width));
        write(kTransHsync, minus_one_pair(s.width + 100, s.width + 20));
        write(kTransVtotal, minus_one_pair(s.height + 30, s.height));
        write(kTransVblank, minus_one_pair(s.height + 30, s.height));
        write(kTransVsync, minus_one_pair(s.height + 10, s.height + 3));
        write(kPipeSrc, minus_one_pair(s.width, s.height));
        write(kPipeConf, kPipeConfEnable);
        mode_ = mode;
    }
    write(kPlaneStride, static_cast<uint32_t>(s.stride_bytes / kStrideUnit));
    write(kPlanePos, 0);
    write(kPlaneSize, minus_one_pair(s.height, s.width));  // (h - 1) 31:16, (w - 1) 15:0
    write(kPlaneOffset, s.y_offset << 16 | s.x_offset);
    write(kPlaneCtl, kPlaneEnable | kFormatXrgb8888);
    write(kPlaneSurf, static_cast<uint32_t>(s.surface.value()));
    return true;
}

void PortDisplay::blank() {
    write(kPlaneCtl, 0);
    write(kPlaneSurf, 0);  // arms the disabled plane
    write(kPipeConf, 0);
    mode_.reset();
}

std::optional<mediator::display::Image> PortDisplay::capture() {
    std::optional<PlaneCapture> cap = gpu_.capture_primary_plane();
    if (!cap) {
        return std::nullopt;
    }
    return mediator::display::Image{cap->width, cap->height, std::move(cap->pixels)};
}

}  // namespace xengt::gpu
