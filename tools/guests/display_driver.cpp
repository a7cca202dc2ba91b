#include "tools/guests/display_driver.hpp"

#include <span>

#include "tools/guests/pci.hpp"
#include "tools/guests/printer.hpp"

namespace xengt::guests {
namespace {

constexpr Bdf kGpu{0, 2, 0};
constexpr uint64_t kPage = 4096;
// BAR0 layout and registers (intel-gpu.md §2.3, §7.1, §7.2, §9).
constexpr uint64_t kGgtt = 0x800000;
constexpr uint64_t kGfxFlushCntl = 0x101008;
constexpr uint64_t kPvinfo = 0x78000;
constexpr uint64_t kMappableBase = kPvinfo + 0x40;
constexpr uint64_t kMappableSize = kPvinfo + 0x44;
constexpr uint64_t kDisplayReady = kPvinfo + 0x804;
constexpr uint64_t kTransHtotal = 0x60000;
constexpr uint64_t kTransHblank = 0x60004;
constexpr uint64_t kTransHsync = 0x60008;
constexpr uint64_t kTransVtotal = 0x6000C;
constexpr uint64_t kTransVblank = 0x60010;
constexpr uint64_t kTransVsync = 0x60014;
constexpr uint64_t kPipeSrc = 0x6001C;
constexpr uint64_t kPipeConf = 0x70008;
constexpr uint64_t kPlaneCtl = 0x70180;
constexpr uint64_t kPlaneStride = 0x70188;
constexpr uint64_t kPlanePos = 0x7018C;
constexpr uint64_t kPlaneSize = 0x70190;
constexpr uint64_t kPlaneSurf = 0x7019C;
constexpr uint64_t kPlaneOffset = 0x701A4;
constexpr uint32_t kEnable = 1u << 31;
constexpr uint32_t kXrgb8888 = 4u << 24;  // PLANE_CTL format, linear, unrotated
constexpr uint32_t kStrideUnit = 64;      // PLANE_STRIDE units for linear surfaces

// (a - 1) in 31:16, (b - 1) in 15:0, as timing and size fields take them.
constexpr uint32_t minus_one_pair(uint32_t a, uint32_t b) {
    return (a - 1) << 16 | (b - 1);
}

void place_bars(sim::GuestCpu& cpu, const DisplayDriverLayout& l) {
    pci_write(cpu, kGpu, 0x10, 4, static_cast<uint32_t>(l.bar0));
    pci_write(cpu, kGpu, 0x14, 4, static_cast<uint32_t>(l.bar0 >> 32));
    pci_write(cpu, kGpu, 0x18, 4, static_cast<uint32_t>(l.bar2));
    pci_write(cpu, kGpu, 0x1c, 4, static_cast<uint32_t>(l.bar2 >> 32));
    pci_write(cpu, kGpu, 0x20, 4, l.bar4);
    pci_write(cpu, kGpu, 0x04, 2, 0x7);  // I/O + memory decode + bus master
}

}  // namespace

uint32_t display_pattern(uint32_t seed, uint32_t x, uint32_t y) {
    // The guest's own colour in the high nibble of R, G and B; the position
    // in the low nibbles (unique up to 64 x 64), so that a shifted, mixed or
    // stale frame shows.
    const uint32_t colour = (seed * 0x9E3779B9u) & 0x00F0F0F0u;
    const uint32_t position =
        (x & 0xF) << 16 | (y & 0xF) << 8 | (x >> 4 & 0x3) | (y >> 4 & 0x3) << 2;
    return colour | position;
}

uint32_t display_padding(uint32_t seed) {
    return 0x00DEAD00u | (seed & 0xFF);
}

DisplayDriverReport run_display_driver(sim::GuestCpu& cpu, const DisplayDriverLayout& l) {
    DisplayDriverReport r;
    Printer print(cpu, r.lines);
    place_bars(cpu, l);
    r.mappable_base = static_cast<uint32_t>(cpu.read(l.bar0 + kMappableBase, 4));
    r.mappable_size = static_cast<uint32_t>(cpu.read(l.bar0 + kMappableSize, 4));

    // The framebuffer's pages at the start of the mappable slice, then flush.
    const uint64_t first = r.mappable_base / kPage;
    for (uint64_t i = 0; i < l.fb_pages(); ++i) {
        cpu.write(l.bar0 + kGgtt + (first + i) * 8, 8, (l.fb_gfn + i) * kPage | 1);
    }
    cpu.write(l.bar0 + kGfxFlushCntl, 4, 1);

    // Draw: compose each row (pixels, then padding up to the stride) in RAM
    // and copy it into the framebuffer through the aperture, as a CPU
    // rendering into a linear framebuffer would.
    const uint32_t pixels_per_stride = l.stride_bytes / 4;
    std::vector<uint32_t> row(pixels_per_stride);
    const uint64_t staging = l.staging_gfn * kPage;
    for (uint32_t y = 0; y < l.height; ++y) {
        for (uint32_t x = 0; x < pixels_per_stride; ++x) {
            row[x] = x < l.width ? display_pattern(l.seed, x, y) : display_padding(l.seed);
        }
        cpu.ram_write(staging, std::as_bytes(std::span(row)));
        cpu.rep_movs_to_mmio(l.bar2 + r.mappable_base + uint64_t{y} * l.stride_bytes, staging, 4,
                             pixels_per_stride);
    }
    // The pages themselves must now hold the picture.
    bool ok = true;
    for (uint32_t y = 0; y < l.height && ok; ++y) {
        for (uint32_t x = 0; x < l.width && ok; x += 7) {
            const uint64_t byte = uint64_t{y} * l.stride_bytes + x * 4;
            ok = cpu.read(l.fb_gfn * kPage + byte, 4) == display_pattern(l.seed, x, y);
        }
    }
    r.framebuffer_written = ok;

    // Modeset in i915's order: timings, pipe source, pipe on, plane, surface last.
    const uint32_t w = l.width, h = l.height;
    cpu.write(l.bar0 + kTransHtotal, 4, minus_one_pair(w + 160, w));
    cpu.write(l.bar0 + kTransHblank, 4, minus_one_pair(w + 160, w));
    cpu.write(l.bar0 + kTransHsync, 4, minus_one_pair(w + 100, w + 20));
    cpu.write(l.bar0 + kTransVtotal, 4, minus_one_pair(h + 30, h));
    cpu.write(l.bar0 + kTransVblank, 4, minus_one_pair(h + 30, h));
    cpu.write(l.bar0 + kTransVsync, 4, minus_one_pair(h + 10, h + 3));
    cpu.write(l.bar0 + kPipeSrc, 4, minus_one_pair(w, h));
    cpu.write(l.bar0 + kPipeConf, 4, kEnable);
    cpu.write(l.bar0 + kPlaneStride, 4, l.stride_bytes / kStrideUnit);
    cpu.write(l.bar0 + kPlanePos, 4, 0);
    cpu.write(l.bar0 + kPlaneSize, 4, minus_one_pair(h, w));
    cpu.write(l.bar0 + kPlaneOffset, 4, 0);
    cpu.write(l.bar0 + kPlaneCtl, 4, kEnable | kXrgb8888);
    r.surface = l.surface_past_slice ? r.mappable_base + r.mappable_size : r.mappable_base;
    cpu.write(l.bar0 + kPlaneSurf, 4, r.surface);
    if (l.set_display_ready) {
        cpu.write(l.bar0 + kDisplayReady, 4, 1);
    }
    print("display: %ux%u XRGB8888 at GM %#x (stride %u), framebuffer %s, display_ready %u", w, h,
          r.surface, l.stride_bytes, r.framebuffer_written ? "drawn" : "NOT DRAWN",
          l.set_display_ready ? 1u : 0u);
    return r;
}

}  // namespace xengt::guests
