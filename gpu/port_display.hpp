// The display owner's view of the physical pipe A and its plane 1, over a
// GPU port: Skylake registers (intel-gpu.md §7.1, §7.2), written as a
// driver would.
#pragma once

#include <optional>

#include "gpu/port.hpp"
#include "mediator/display/display_owner.hpp"

namespace xengt::gpu {

class PortDisplay final : public mediator::display::PhysicalDisplay {
public:
    explicit PortDisplay(GpuPort& gpu) : gpu_(gpu) {}

    // Programs the transcoder timings, pipe source and pipe enable only when
    // the mode changes (that is a modeset on hardware); the plane registers
    // every time, the surface last, since writing it is what arms them.
    // Pipe timings are made up from the plane size: a guest's own timings
    // never reach the physical monitor.
    bool show(const mediator::display::Scanout& scanout) override;
    void blank() override;
    std::optional<mediator::display::Image> capture() override;

private:
    struct Mode {
        uint32_t width;
        uint32_t height;
        friend bool operator==(const Mode&, const Mode&) = default;
    };
    void write(uint32_t offset, uint32_t value) { gpu_.write32(MmioOffset{offset}, value); }

    GpuPort& gpu_;
    std::optional<Mode> mode_;  // the pipe's mode while it is on
};

}  // namespace xengt::gpu
