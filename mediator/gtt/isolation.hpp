// The isolation checker: proof, from what the GPU would actually walk, that
// no vGPU can reach anything but its own memory.
//
// It reads the physical GGTT entry by entry and asks the frame-ownership
// oracle who owns each frame named. An entry inside a vGPU's partition must
// name either that guest's frame — and exactly the frame the guest's own
// entry asks for — or the scratch page. An entry outside every partition must
// not name any guest's frame. Then it walks every shadow PPGTT from its root,
// reading the tables through the oracle as the GPU would: every table must be
// a host page (a guest could otherwise rewrite it behind our back) and every
// leaf must name the owning guest's frame or scratch. Usable from any test;
// it changes nothing.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"

namespace xengt::mediator {

struct IsolationSubject {
    uint32_t guest = 0;  // the domid its frames are owned by
    const GgttShadow* ggtt = nullptr;
    const PpgttShadow* ppgtt = nullptr;
};

struct IsolationReport {
    uint64_t ggtt_entries_checked = 0;
    uint64_t ppgtt_tables_checked = 0;
    uint64_t ppgtt_leaves_checked = 0;
    uint64_t violation_count = 0;
    std::vector<std::string> violations;  // the first few, described

    bool ok() const { return violation_count == 0; }
    std::string summary() const;
};

IsolationReport check_isolation(const PhysicalGgtt& ggtt, const FrameOwnership& frames,
                                std::span<const IsolationSubject> subjects);

}  // namespace xengt::mediator
