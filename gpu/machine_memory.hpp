// Machine memory: the frames a GPU's page tables point at ("host frames").
//
// The software GPU model reaches memory only through this interface, by host
// frame, as a real GPU reaches RAM by bus address. Frames outside it do not
// exist: a GPU access there is a page fault / bus error, never a host access.
// MemfdMachineMemory keeps the frames in one memfd so that the Xen simulator
// can later back guest RAM with the same frames (a GPU write into a frame
// that belongs to a guest then lands in that guest's memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mediator/base/types.hpp"

namespace xengt::gpu {

class MachineMemory {
public:
    virtual ~MachineMemory() = default;
    virtual uint64_t frames() const = 0;
    // The 4 KiB behind `frame`, or nullptr if no such frame exists.
    virtual std::byte* frame(HostFrame frame) = 0;

    // Copy helpers that check every frame touched; false if any is missing.
    bool read(uint64_t host_phys, std::span<std::byte> out);
    bool write(uint64_t host_phys, std::span<const std::byte> in);
};

class MemfdMachineMemory final : public MachineMemory {
public:
    explicit MemfdMachineMemory(uint64_t bytes);  // rounded up to whole frames; throws
    ~MemfdMachineMemory() override;
    MemfdMachineMemory(const MemfdMachineMemory&) = delete;
    MemfdMachineMemory& operator=(const MemfdMachineMemory&) = delete;

    uint64_t frames() const override { return frames_; }
    std::byte* frame(HostFrame f) override {
        return f.value() < frames_ ? base_ + (f.value() << kPageShift) : nullptr;
    }
    int fd() const { return fd_; }  // for sharing the frames with another mapping or process

private:
    uint64_t frames_;
    int fd_ = -1;
    std::byte* base_ = nullptr;
};

}  // namespace xengt::gpu
