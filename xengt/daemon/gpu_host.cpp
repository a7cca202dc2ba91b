#include "xengt/daemon/gpu_host.hpp"

#include <stdexcept>

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

GpuHost::~GpuHost() = default;

mediator::GmResources GpuHost::resources() const {
    const gpu::GpuIdentity& id = gpu_->identity();
    return {id.aperture_bytes, id.ggtt_bytes, kGen9Fences};
}

}  // namespace xengt::daemon
