#include "mediator/display/plane_capture.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>

namespace xengt::mediator::display {
namespace {

constexpr uint64_t kBytesPerPixel = 4;

std::string at(uint64_t gm, const char* what) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "graphics address %#llx %s", static_cast<unsigned long long>(gm),
                  what);
    return buf;
}

// Copies out.size() bytes at graphics address `gm`, one page at a time.
// Empty string on success, else why not.
std::string read_gm(const GmView& v, uint32_t domid, uint64_t gm, std::span<std::byte> out) {
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t a = gm + done;
        const size_t chunk =
            static_cast<size_t>(std::min<uint64_t>(kPageSize - (a & kPageMask), out.size() - done));
        const uint64_t index = a >> kPageShift;
        if (index >= v.ggtt->entries()) {
            return at(a, "is beyond the GGTT");
        }
        const uint64_t pte = v.ggtt->read(index);
        if (!GgttPte::present(pte)) {
            return at(a, "has no GGTT entry");
        }
        const HostFrame frame{GgttPte::frame_number(pte)};
        const FrameOwner owner = v.frames->owner(frame);
        const bool own = owner.kind == FrameOwner::Kind::Guest && owner.guest == domid;
        const bool scratch = owner.kind == FrameOwner::Kind::HostPage && frame == v.scratch;
        if (!own && !scratch) {
            return at(a, "maps a frame that is not the guest's");
        }
        const std::byte* page = v.frames->peek(frame);
        if (page == nullptr) {
            return at(a, "maps a frame the CPU cannot read");
        }
        std::memcpy(out.data() + done, page + (a & kPageMask), chunk);
        done += chunk;
    }
    return {};
}

}  // namespace

CaptureResult read_scanout(const Scanout& s, uint32_t domid, const GmView& gm) {
    CaptureResult r;
    if (gm.ggtt == nullptr || gm.frames == nullptr) {
        r.error = "there is no GPU to read graphics memory through";
        return r;
    }
    Image img;
    img.width = s.width;
    img.height = s.height;
    img.pixels.resize(size_t{s.width} * s.height);
    for (uint32_t row = 0; row < s.height; ++row) {
        const uint64_t first = s.surface.value() + (uint64_t{s.y_offset} + row) * s.stride_bytes +
                               s.x_offset * kBytesPerPixel;
        // Pixels are little-endian dwords in memory: B, G, R, X → 0xXXRRGGBB.
        const auto out =
            std::as_writable_bytes(std::span{img.pixels}.subspan(size_t{row} * s.width, s.width));
        std::string error = read_gm(gm, domid, first, out);
        if (!error.empty()) {
            r.error = std::move(error);
            return r;
        }
    }
    r.image = std::move(img);
    return r;
}

}  // namespace xengt::mediator::display
