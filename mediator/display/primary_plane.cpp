#include "mediator/display/primary_plane.hpp"

#include <cstdarg>
#include <cstdio>
#include <initializer_list>
#include <utility>

namespace xengt::mediator::display {
namespace {

constexpr uint16_t kBroadwellIds = 0x1600;
constexpr uint16_t kPlatformMask = 0xFF00;

// §7.1/§7.2 fields shared by both platforms.
constexpr uint32_t kPlaneEnable = 1u << 31;
constexpr uint32_t kSurfAddrMask = 0xFFFFF000;  // bits 31:12
// Sizes and offsets: x/width in 12:0 after the shift, y/height in 11:0 (what
// GVT reads from PIPESRC; the software GPU decodes its plane the same way).
constexpr uint32_t kWidthMask = 0x1FFF;
constexpr uint32_t kHeightMask = 0xFFF;

// Skylake PLANE_CTL / PLANE_STRIDE (§7.1).
constexpr unsigned kSklFormatShift = 24;  // bits 27:24
constexpr uint32_t kSklFormatMask = 0xF;
constexpr uint32_t kSklRgbxOrder = 1u << 20;
constexpr unsigned kSklTilingShift = 10;  // bits 12:10
constexpr uint32_t kSklTilingMask = 0x7;
constexpr uint32_t kSklRotationMask = 0x3;  // bits 1:0, 90-degree steps
constexpr uint32_t kSklStrideMask = 0x3FF;  // bits 9:0, in tiling-dependent units

// Broadwell DSPCNTR / DSPSTRIDE (§7.1).
constexpr unsigned kBdwFormatShift = 26;  // bits 29:26
constexpr uint32_t kBdwFormatMask = 0xF;
constexpr uint32_t kBdwRotate180 = 1u << 15;
constexpr uint32_t kBdwTiledX = 1u << 10;
constexpr uint32_t kBdwStrideMask = 0xFFC0;  // bytes; bits 15:6 significant

constexpr uint64_t kBytesPerPixel = 4;  // the one format that is scanned out

PixelFormat skl_format(uint32_t ctl) {
    const bool bgr = (ctl & kSklRgbxOrder) != 0;
    switch (ctl >> kSklFormatShift & kSklFormatMask) {
        case 4:
            return bgr ? PixelFormat::Xbgr8888 : PixelFormat::Xrgb8888;
        case 2:
            return bgr ? PixelFormat::Xbgr2101010 : PixelFormat::Xrgb2101010;
        case 14:
            return PixelFormat::Rgb565;
        case 12:
            return PixelFormat::Indexed8;
        case 0:
            return PixelFormat::Yuv422;
        case 1:
            return PixelFormat::Nv12;
        default:
            return PixelFormat::Unknown;
    }
}

PixelFormat bdw_format(uint32_t ctl) {
    switch (ctl >> kBdwFormatShift & kBdwFormatMask) {
        case 2:
            return PixelFormat::Indexed8;
        case 5:
            return PixelFormat::Rgb565;
        case 6:
            return PixelFormat::Xrgb8888;
        case 7:
            return PixelFormat::Argb8888;
        case 8:
            return PixelFormat::Xbgr2101010;
        case 10:
            return PixelFormat::Xrgb2101010;
        case 14:
            return PixelFormat::Xbgr8888;
        case 15:
            return PixelFormat::Abgr8888;
        default:
            return PixelFormat::Unknown;
    }
}

Tiling skl_tiling(uint32_t ctl) {
    switch (ctl >> kSklTilingShift & kSklTilingMask) {
        case 0:
            return Tiling::Linear;
        case 1:
            return Tiling::X;
        case 4:
            return Tiling::Y;
        case 5:
            return Tiling::Yf;
        default:
            return Tiling::Unknown;
    }
}

// PLANE_STRIDE counts 64-byte units for linear, 512 for X-tiled and 128 for
// Y-tiled surfaces (§7.1).
uint64_t skl_stride_unit(Tiling t) {
    switch (t) {
        case Tiling::X:
            return 512;
        case Tiling::Y:
        case Tiling::Yf:
            return 128;
        case Tiling::Linear:
        case Tiling::Unknown:
            break;
    }
    return 64;
}

bool inside(uint64_t base, uint64_t bytes, const GmRange& r) {
    return r.size != 0 && base >= r.base.value() && bytes <= r.size &&
           base - r.base.value() <= r.size - bytes;
}

std::string printf_string(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// GM bytes the scan-out reads, as validated: whole rows up to the last one.
uint64_t scanned_bytes(const PlaneLayout& l) {
    return (uint64_t{l.y_offset} + l.height) * l.stride_bytes;
}

}  // namespace

Platform platform_of(uint16_t device_id) {
    return (device_id & kPlatformMask) == kBroadwellIds ? Platform::Broadwell : Platform::Skylake;
}

const char* to_string(PixelFormat f) {
    switch (f) {
        case PixelFormat::Xrgb8888:
            return "XRGB8888";
        case PixelFormat::Xbgr8888:
            return "XBGR8888";
        case PixelFormat::Argb8888:
            return "ARGB8888";
        case PixelFormat::Abgr8888:
            return "ABGR8888";
        case PixelFormat::Xrgb2101010:
            return "XRGB2101010";
        case PixelFormat::Xbgr2101010:
            return "XBGR2101010";
        case PixelFormat::Rgb565:
            return "RGB565";
        case PixelFormat::Indexed8:
            return "C8";
        case PixelFormat::Yuv422:
            return "YUV422";
        case PixelFormat::Nv12:
            return "NV12";
        case PixelFormat::Unknown:
            break;
    }
    return "unknown";
}

const char* to_string(Tiling t) {
    switch (t) {
        case Tiling::Linear:
            return "linear";
        case Tiling::X:
            return "X-tiled";
        case Tiling::Y:
            return "Y-tiled";
        case Tiling::Yf:
            return "Yf-tiled";
        case Tiling::Unknown:
            break;
    }
    return "unknown-tiling";
}

PlaneLayout decode(const PlaneSnapshot& s) {
    const ArmedPlane& p = s.plane;
    PlaneLayout l;
    l.pipe_enabled = (s.pipe_conf & kPipeConfEnable) != 0;
    l.plane_enabled = (p.ctl & kPlaneEnable) != 0;
    l.x_offset = p.offset & kWidthMask;
    l.y_offset = p.offset >> 16 & kHeightMask;
    l.surface = GmAddr{p.surf & kSurfAddrMask};
    if (s.platform == Platform::Skylake) {
        l.format = skl_format(p.ctl);
        l.tiling = skl_tiling(p.ctl);
        l.rotation = 90 * (p.ctl & kSklRotationMask);
        l.stride_bytes = (p.stride & kSklStrideMask) * skl_stride_unit(l.tiling);
        // PLANE_SIZE: (height - 1) in 31:16, (width - 1) in 15:0.
        l.width = (p.size & kWidthMask) + 1;
        l.height = (p.size >> 16 & kHeightMask) + 1;
    } else {
        l.format = bdw_format(p.ctl);
        l.tiling = (p.ctl & kBdwTiledX) != 0 ? Tiling::X : Tiling::Linear;
        l.rotation = (p.ctl & kBdwRotate180) != 0 ? 180 : 0;
        l.stride_bytes = p.stride & kBdwStrideMask;
        // Broadwell has no plane size: the plane is as big as the pipe source,
        // PIPESRC (width - 1) in 31:16, (height - 1) in 15:0.
        l.width = (s.pipe_src >> 16 & kWidthMask) + 1;
        l.height = (s.pipe_src & kHeightMask) + 1;
    }
    return l;
}

bool inside_slices(GmAddr base, uint64_t bytes, const GmRange& mappable, const GmRange& hidden) {
    if (bytes == 0) {
        return false;
    }
    const uint64_t b = base.value();
    if (inside(b, bytes, mappable) || inside(b, bytes, hidden)) {
        return true;
    }
    // Adjacent slices form one range (mappable ends where hidden begins, or
    // the other way round).
    for (const auto& [lo, hi] : {std::pair{&mappable, &hidden}, std::pair{&hidden, &mappable}}) {
        if (lo->size != 0 && hi->size != 0 && lo->base.value() + lo->size == hi->base.value() &&
            inside(b, bytes, GmRange{lo->base, lo->size + hi->size})) {
            return true;
        }
    }
    return false;
}

ScanoutCheck check_scanout(const PlaneSnapshot& s) {
    const PlaneLayout l = decode(s);
    ScanoutCheck c;
    if (!l.pipe_enabled) {
        c.problem = ScanoutProblem::PipeOff;
    } else if (!l.plane_enabled) {
        c.problem = ScanoutProblem::PlaneOff;
    } else if (l.format != PixelFormat::Xrgb8888) {
        c.problem = ScanoutProblem::UnsupportedFormat;
    } else if (l.tiling != Tiling::Linear) {
        c.problem = ScanoutProblem::Tiled;
    } else if (l.rotation != 0) {
        c.problem = ScanoutProblem::Rotated;
    } else if ((uint64_t{l.x_offset} + l.width) * kBytesPerPixel > l.stride_bytes) {
        c.problem = ScanoutProblem::RowOutsideStride;
    } else if (!inside_slices(l.surface, scanned_bytes(l), s.mappable, s.hidden)) {
        c.problem = ScanoutProblem::OutsideGm;
    } else {
        c.scanout = {l.width, l.height, l.stride_bytes, l.x_offset, l.y_offset, l.surface};
    }
    return c;
}

std::string explain(ScanoutProblem problem, const PlaneSnapshot& s) {
    using ull = unsigned long long;
    const PlaneLayout l = decode(s);
    switch (problem) {
        case ScanoutProblem::None:
            return printf_string("its plane (%ux%u %s) can be shown", l.width, l.height,
                                 to_string(l.format));
        case ScanoutProblem::PipeOff:
            return "its pipe A is off";
        case ScanoutProblem::PlaneOff:
            return "its plane 1 of pipe A is disabled";
        case ScanoutProblem::UnsupportedFormat:
            return printf_string("its plane format is %s (only XRGB8888 can be shown)",
                                 to_string(l.format));
        case ScanoutProblem::Tiled:
            return printf_string("its surface is %s (only linear surfaces can be shown)",
                                 to_string(l.tiling));
        case ScanoutProblem::Rotated:
            return printf_string(
                "its plane is rotated %u degrees (only unrotated planes can "
                "be shown)",
                l.rotation);
        case ScanoutProblem::RowOutsideStride:
            return printf_string(
                "a row of %u pixels from x offset %u needs %llu bytes but its "
                "stride is %llu",
                l.width, l.x_offset, static_cast<ull>((uint64_t{l.x_offset} + l.width) * 4),
                static_cast<ull>(l.stride_bytes));
        case ScanoutProblem::OutsideGm:
            return printf_string(
                "its surface %#llx + %llu bytes lies outside its graphics memory "
                "(mappable %#llx+%#llx, hidden %#llx+%#llx)",
                static_cast<ull>(l.surface.value()), static_cast<ull>(scanned_bytes(l)),
                static_cast<ull>(s.mappable.base.value()), static_cast<ull>(s.mappable.size),
                static_cast<ull>(s.hidden.base.value()), static_cast<ull>(s.hidden.size));
    }
    return "?";
}

void PlaneMailbox::publish(const PlaneSnapshot& s) {
    std::lock_guard lock(mutex_);
    const uint64_t sequence = latest_.sequence + 1;
    latest_ = s;
    latest_.sequence = sequence;
}

PlaneSnapshot PlaneMailbox::read() const {
    std::lock_guard lock(mutex_);
    return latest_;
}

}  // namespace xengt::mediator::display
