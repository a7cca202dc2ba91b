// The EDID of the model's one monitor: a 128-byte EDID 1.3 base block
// (VESA E-EDID layout) with 1024x768@60 as its preferred detailed timing.
#pragma once

#include <array>
#include <cstdint>

namespace xengt::gpu::model {

using EdidBlock = std::array<uint8_t, 128>;

// Built once; valid header, no extensions, checksum making all bytes sum to 0 mod 256.
const EdidBlock& monitor_edid();

}  // namespace xengt::gpu::model
