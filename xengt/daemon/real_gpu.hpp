// What serving guests on a real Intel GPU needs before any guest is touched.
//
// A real GPU's page tables hold machine frames, which only the xengt-mfn
// kernel module can tell dom0 (xen::XengtMfnDevice), and the device itself
// (gpu::pci::PciGpu over sysfs). RealGpuPrerequisites opens both, the module
// first: without it xengtd must refuse to attach any guest to a real GPU,
// saying exactly that, never fall back to something else.
#pragma once

#include <memory>
#include <string>

#include "gpu/pci/pci_gpu.hpp"
#include "xengt/xen/machine_frames.hpp"

namespace xengt::daemon {

struct RealGpuPaths {
    std::string mfn_device = xen::XengtMfnDevice::kDefaultPath;
    gpu::pci::SysfsRoot sysfs{};
};

class RealGpuPrerequisites {
public:
    // Throws xen::MachineFrameError (module absent or not allowed) or
    // gpu::pci::PciError (no usable Intel GPU at `bdf`), each naming the
    // device, the reason and the fix.
    explicit RealGpuPrerequisites(const std::string& bdf, const RealGpuPaths& paths = {});

    gpu::pci::PciGpu& gpu() { return *gpu_; }

private:
    std::unique_ptr<xen::XengtMfnDevice> mfn_;
    std::unique_ptr<gpu::pci::PciGpu> gpu_;
};

}  // namespace xengt::daemon
