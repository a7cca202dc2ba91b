// Display of the software GPU (intel-gpu.md §7): pipe/transcoder A with its
// universal plane 1 (the primary plane), the vblank tick, and scan-out capture.
// Register handlers are declared in reg_handlers.hpp; these are the entry
// points SoftGpu calls with its lock held.
#pragma once

#include <optional>

#include "gpu/model/gpu_memory.hpp"
#include "gpu/model/model_state.hpp"
#include "gpu/port.hpp"

namespace xengt::gpu::model {

// One vblank of every enabled pipe (§7.4): pending flip-done events, then
// PIPE_FRMCOUNT + 1, then the DE pipe vblank event (MSIs counted in state).
void display_vblank(ModelState& s);

// What plane 1 of pipe A scans out: the part of the plane inside the pipe
// source, read through the GGTT. nullopt when the pipe or plane is disabled,
// the format is not linear, unrotated XRGB8888, the plane lies outside the
// pipe, or any page of the visible rows is untranslatable.
std::optional<PlaneCapture> capture_plane_a(ModelState& s, const GpuMemory& mem);

}  // namespace xengt::gpu::model
