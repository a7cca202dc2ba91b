// The simulator standing in for the xengt-mfn kernel module: a
// xen::MachineFrameSource answered from the simulated host's own record of
// this process's foreign mappings (sim::Host::foreign_mapping_frames), with
// the module's errnos. For tests and benchmarks of the real-GPU pins.
#pragma once

#include "tools/xensim/host.hpp"
#include "xengt/xen/machine_frames.hpp"

namespace xengt::sim {

class SimMachineFrames final : public xen::MachineFrameSource {
public:
    explicit SimMachineFrames(const Host& host) : host_(host) {}
    int query(const void* addr, size_t pages, uint64_t* frames) override {
        return host_.foreign_mapping_frames(addr, pages, frames);
    }

private:
    const Host& host_;
};

}  // namespace xengt::sim
