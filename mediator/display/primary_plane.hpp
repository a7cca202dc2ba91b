// A vGPU's primary plane (plane 1 of pipe A) as something another thread
// may look at: the device-wide display owner shows the foreground vGPU's
// plane on the physical one and captures any vGPU's plane on request.
//
// The vGPU lives on its session thread; its registers must not be read from
// anywhere else. So the vGPU publishes an immutable PlaneSnapshot into a
// PlaneMailbox whenever what the plane shows may have changed (pipe enable,
// pipe source, a surface write, PVINFO display_ready, a reset) and at each
// of its vblanks (for the counters); readers copy the latest one out.
//
// Decoding follows intel-gpu.md §7.1/§7.2 for the platform the vGPU
// presents: Skylake universal plane 1 (PLANE_CTL/STRIDE/SIZE/OFFSET) or
// Broadwell's DSPCNTR/DSPSTRIDE with the size taken from PIPESRC.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "mediator/base/types.hpp"
#include "mediator/display/display_timing.hpp"
#include "mediator/vgpu.hpp"

namespace xengt::mediator::display {

// Which register layout the plane registers follow.
enum class Platform : uint8_t { Broadwell, Skylake };
Platform platform_of(uint16_t device_id);

// Everything the display owner may know of one vGPU's primary plane.
// Trivially copyable: publishing allocates nothing.
struct PlaneSnapshot {
    Platform platform = Platform::Skylake;
    GmRange mappable{};  // the vGPU's graphics memory: fixed for its lifetime
    GmRange hidden{};
    bool display_ready = false;  // PVINFO display_ready == 1
    uint32_t pipe_conf = 0;      // PIPECONF_A
    uint32_t pipe_src = 0;       // PIPESRC_A
    ArmedPlane plane{};          // plane 1 of pipe A as the last surface write armed it
    uint32_t frame_count = 0;    // PIPE_FRMCOUNT_A: vblanks of pipe A
    uint32_t flip_count = 0;     // PIPE_FLIPCOUNT_A: surface writes
    uint64_t sequence = 0;       // publications so far (set by the mailbox)
};

enum class PixelFormat : uint8_t {
    Xrgb8888,
    Xbgr8888,
    Argb8888,
    Abgr8888,
    Xrgb2101010,
    Xbgr2101010,
    Rgb565,
    Indexed8,
    Yuv422,
    Nv12,
    Unknown,
};
const char* to_string(PixelFormat f);

enum class Tiling : uint8_t { Linear, X, Y, Yf, Unknown };
const char* to_string(Tiling t);

// The plane's fields, decoded per platform (no judgement yet).
struct PlaneLayout {
    bool pipe_enabled = false;
    bool plane_enabled = false;
    PixelFormat format = PixelFormat::Unknown;
    Tiling tiling = Tiling::Linear;
    unsigned rotation = 0;  // degrees
    uint32_t width = 0;     // pixels scanned out per row
    uint32_t height = 0;    // rows
    uint64_t stride_bytes = 0;
    uint32_t x_offset = 0;  // PLANE_OFFSET / DSPOFFSET, in pixels and rows
    uint32_t y_offset = 0;
    GmAddr surface{};
};
PlaneLayout decode(const PlaneSnapshot& s);

// A plane that can be scanned out: linear, unrotated XRGB8888, every byte
// it reads inside the vGPU's graphics memory. Both the physical plane and
// captures read rows [y_offset, y_offset + height) of `stride_bytes` each,
// `width` pixels from pixel x_offset, starting at `surface`.
struct Scanout {
    uint32_t width = 0;
    uint32_t height = 0;
    uint64_t stride_bytes = 0;
    uint32_t x_offset = 0;
    uint32_t y_offset = 0;
    GmAddr surface{};
    friend bool operator==(const Scanout&, const Scanout&) = default;
};

// Why a plane cannot be scanned out (None: it can).
enum class ScanoutProblem : uint8_t {
    None,
    PipeOff,
    PlaneOff,
    UnsupportedFormat,
    Tiled,
    Rotated,
    RowOutsideStride,  // offset + width runs past the stride into the next row
    OutsideGm,         // the surface reaches beyond the vGPU's slices
};

struct ScanoutCheck {
    ScanoutProblem problem = ScanoutProblem::None;
    Scanout scanout{};  // meaningful when problem == None
};

// Judges the snapshot's plane. display_ready is not part of this: a plane
// the guest has not declared ready can still be captured.
ScanoutCheck check_scanout(const PlaneSnapshot& s);

// A sentence fragment saying why, with the values involved, e.g.
// "surface 0x8000000 + 15360 bytes lies outside its graphics memory (...)".
std::string explain(ScanoutProblem problem, const PlaneSnapshot& s);

// True if every byte of [base, base + bytes) is in `mappable` or `hidden`
// (bytes > 0; a range may span both only where they are adjacent).
bool inside_slices(GmAddr base, uint64_t bytes, const GmRange& mappable, const GmRange& hidden);

// The latest snapshot, handed from the vGPU's thread to any other.
class PlaneMailbox {
public:
    // Writer: the vGPU's thread. Stamps the sequence number.
    void publish(const PlaneSnapshot& s);
    // Any thread.
    PlaneSnapshot read() const;

private:
    mutable std::mutex mutex_;  // held for a copy of a few dozen bytes
    PlaneSnapshot latest_{};
};

}  // namespace xengt::mediator::display
