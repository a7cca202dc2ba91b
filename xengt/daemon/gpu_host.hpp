// The one physical GPU as the daemon owns it: everything device-wide that
// every vGPU shares.
//
// Today that GPU is the software Gen9 model. Its "host frames" are slots of
// a MappedFrameTable: guest pages enter it through foreign mappings each
// session holds (xen::ForeignFramePins), shadow page tables and the scratch
// page come from its host page pool. The real Intel device needs machine
// frames instead, which on Xen 4.17 only a dom0 kernel helper can supply;
// that backend arrives with it.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "gpu/execlist_engines.hpp"
#include "gpu/mapped_frame_table.hpp"
#include "gpu/model/soft_gpu.hpp"
#include "gpu/port_display.hpp"
#include "gpu/port_ggtt.hpp"
#include "mediator/exec/scheduler.hpp"
#include "mediator/gm_allocator.hpp"
#include "mediator/vgpu.hpp"

namespace xengt::daemon {

class GpuHost {
public:
    GpuHost();
    ~GpuHost();
    GpuHost(const GpuHost&) = delete;
    GpuHost& operator=(const GpuHost&) = delete;

    gpu::GpuPort& gpu() { return *gpu_; }
    gpu::model::SoftGpu& model() { return *gpu_; }
    gpu::MappedFrameTable& frames() { return frames_; }
    mediator::PhysicalGgtt& ggtt() { return ggtt_; }
    HostFrame scratch() const { return scratch_; }
    // Pipe A / plane 1, for the display owner.
    mediator::display::PhysicalDisplay& display() { return display_; }
    // What captures of vGPU planes read through: the GGTT, the frames, scratch.
    mediator::display::GmView gm_view() const { return {&ggtt_, &frames_, scratch_}; }

    // What the device has to share between vGPUs, from its identity.
    mediator::GmResources resources() const;

    // The GPU side of one vGPU whose guest frames `pins` provides.
    mediator::GpuLink link(mediator::GuestFramePins& pins) {
        return {&pins, &ggtt_, &frames_, scratch_};
    }

    // The workload path: engine status pages and the scheduler, in the
    // host's share of graphics memory `host`; the rest of its hidden slice
    // becomes shadow memory, one slot of `slot_bytes` per vGPU. Throws
    // std::runtime_error if the share cannot hold one slot.
    void start_workloads(const mediator::GmSlices& host, uint64_t slot_bytes,
                         mediator::exec::SchedulerConfig config = {});
    mediator::exec::Scheduler* scheduler() { return scheduler_.get(); }
    // A free shadow slot's GM base, or nullopt when every slot is taken.
    std::optional<uint64_t> take_shadow_slot();
    void give_back_shadow_slot(uint64_t base);
    size_t shadow_slots() const { return slots_used_.size(); }

private:
    gpu::MappedFrameTable frames_;
    std::unique_ptr<gpu::model::SoftGpu> gpu_;
    gpu::PortGgtt ggtt_;
    HostFrame scratch_;
    gpu::PortDisplay display_;
    // Declared last: stopped first (the scheduler thread uses the engines,
    // the engines the GPU).
    std::unique_ptr<gpu::ExeclistEngines> engines_;
    std::unique_ptr<mediator::exec::Scheduler> scheduler_;
    std::mutex slots_mutex_;
    uint64_t slots_base_ = 0;
    uint64_t slot_bytes_ = 0;
    std::vector<bool> slots_used_;
};

}  // namespace xengt::daemon
