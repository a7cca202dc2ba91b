#include "xengt/daemon/real_gpu.hpp"

namespace xengt::daemon {

RealGpuPrerequisites::RealGpuPrerequisites(const std::string& bdf, const RealGpuPaths& paths)
    : mfn_(std::make_unique<xen::XengtMfnDevice>(paths.mfn_device)),
      gpu_(std::make_unique<gpu::pci::PciGpu>(bdf, paths.sysfs)) {}

}  // namespace xengt::daemon
