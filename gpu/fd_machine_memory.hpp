// FdMachineMemory: machine memory over an existing file descriptor.
//
// Maps `frames` frames of someone else's fd (frame f at offset f * 4096,
// MAP_SHARED), so a SoftGpu can run over memory owned elsewhere, e.g. the Xen
// simulator's machine-memory pool:
//     gpu::FdMachineMemory mem(host.machine_memory_fd(), host.machine_memory_frames());
// The fd is not owned: it is only mapped, never closed; the mapping outlives
// it. Writes through any other mapping of the same file are visible here.
#pragma once

#include <cstddef>
#include <cstdint>

#include "gpu/machine_memory.hpp"

namespace xengt::gpu {

class FdMachineMemory final : public MachineMemory {
public:
    FdMachineMemory(int fd, uint64_t frames);  // throws std::system_error naming the call
    ~FdMachineMemory() override;
    FdMachineMemory(const FdMachineMemory&) = delete;
    FdMachineMemory& operator=(const FdMachineMemory&) = delete;

    uint64_t frames() const override { return frames_; }
    std::byte* frame(HostFrame f) override {
        return f.value() < frames_ ? base_ + (f.value() << kPageShift) : nullptr;
    }

private:
    uint64_t frames_;
    std::byte* base_ = nullptr;
};

}  // namespace xengt::gpu
