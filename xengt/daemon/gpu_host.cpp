#include "xengt/daemon/gpu_host.hpp"

#include <stdexcept>
#include <string>

namespace xengt::daemon {
namespace {

// Gen9 has 32 fence registers (intel-gpu.md §8.1).
constexpr uint32_t kGen9Fences = 32;

std::unique_ptr<gpu::model::SoftGpu> make_model(gpu::MappedFrameTable& frames) {
    return std::make_unique<gpu::model::SoftGpu>(frames);
}

HostFrame scratch_page(gpu::MappedFrameTable& frames) {
    const std::optional<mediator::HostPage> page = frames.allocate();
    if (!page) {
        throw std::runtime_error("no host page for the GPU scratch page");
    }
    return page->frame;
}

}  // namespace

GpuHost::GpuHost()
    : gpu_(make_model(frames_)), ggtt_(*gpu_), scratch_(scratch_page(frames_)), display_(*gpu_) {}

GpuHost::~GpuHost() {
    scheduler_.reset();
    engines_.reset();
}

void GpuHost::start_workloads(const mediator::GmSlices& host, uint64_t slot_bytes,
                              mediator::exec::SchedulerConfig config) {
    // Hidden host GM: the engines' status pages in the first 64 KiB, shadow
    // slots from 1 MiB on.
    constexpr uint64_t kSlotsOffset = uint64_t{1} << 20;
    const uint64_t base = host.hidden.base.value();
    if (host.hidden.size < kSlotsOffset + slot_bytes || slot_bytes == 0) {
        throw std::runtime_error("the host's hidden graphics memory (" +
                                 std::to_string(host.hidden.size >> 20) +
                                 " MiB) cannot hold one vGPU's shadow workloads");
    }
    engines_ = std::make_unique<gpu::ExeclistEngines>(*gpu_, frames_, ggtt_, base);
    scheduler_ = std::make_unique<mediator::exec::Scheduler>(*engines_, config);
    slots_base_ = base + kSlotsOffset;
    slot_bytes_ = slot_bytes;
    slots_used_.assign((host.hidden.size - kSlotsOffset) / slot_bytes, false);
}

std::optional<uint64_t> GpuHost::take_shadow_slot() {
    std::lock_guard lock(slots_mutex_);
    for (size_t i = 0; i < slots_used_.size(); ++i) {
        if (!slots_used_[i]) {
            slots_used_[i] = true;
            return slots_base_ + i * slot_bytes_;
        }
    }
    return std::nullopt;
}

void GpuHost::give_back_shadow_slot(uint64_t base) {
    std::lock_guard lock(slots_mutex_);
    const uint64_t i = (base - slots_base_) / slot_bytes_;
    if (base >= slots_base_ && i < slots_used_.size()) {
        slots_used_[i] = false;
    }
}

mediator::GmResources GpuHost::resources() const {
    const gpu::GpuIdentity& id = gpu_->identity();
    return {id.aperture_bytes, id.ggtt_bytes, kGen9Fences};
}

}  // namespace xengt::daemon
