// Reading a vGPU's plane out of graphics memory, as the display engine
// would: each page through its entry in the physical GGTT.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mediator/display/primary_plane.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"

namespace xengt::mediator::display {

// A captured frame: row-major XRGB8888 pixels (0xXXRRGGBB).
struct Image {
    uint32_t width = 0;
    uint32_t height = 0;
    std::vector<uint32_t> pixels;  // width * height
};

// The device-wide view a capture reads through. All must outlive its users.
struct GmView {
    const PhysicalGgtt* ggtt = nullptr;
    const FrameOwnership* frames = nullptr;
    HostFrame scratch{};  // the page unmapped entries of a partition name
};

struct CaptureResult {
    std::optional<Image> image;
    std::string error;  // why not, when image is empty
};

// The pixels of `scanout` (already validated against guest `domid`'s
// slices), read page by page through the physical GGTT. Each page must be a
// frame the isolation rule allows there, the guest's own or the scratch
// page (reads as what it holds, normally zeros); anything else fails the
// capture, with the graphics address named, so a capture never shows
// another guest's memory.
CaptureResult read_scanout(const Scanout& scanout, uint32_t domid, const GmView& gm);

}  // namespace xengt::mediator::display
