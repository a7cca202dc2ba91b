#include "gpu/machine_memory.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace xengt::gpu {

namespace {

// A range whose end wraps the address space cannot be memory.
bool wraps(uint64_t start, size_t len) {
    return len != 0 && start + (len - 1) < start;
}

}  // namespace

bool MachineMemory::read(uint64_t host_phys, std::span<std::byte> out) {
    if (wraps(host_phys, out.size())) {
        return false;
    }
    size_t done = 0;
    while (done < out.size()) {
        const uint64_t a = host_phys + done;
        std::byte* p = frame(HostFrame{a >> kPageShift});
        if (p == nullptr) {
            return false;
        }
        const size_t off = a & kPageMask;
        const size_t n = std::min<size_t>(out.size() - done, kPageSize - off);
        std::memcpy(out.data() + done, p + off, n);
        done += n;
    }
    return true;
}

bool MachineMemory::write(uint64_t host_phys, std::span<const std::byte> in) {
    if (in.empty()) {
        return true;
    }
    if (wraps(host_phys, in.size())) {
        return false;
    }
    // Check every frame first: a write lands whole or not at all.
    const uint64_t last = (host_phys + (in.size() - 1)) >> kPageShift;
    for (uint64_t f = host_phys >> kPageShift; f <= last; ++f) {
        if (frame(HostFrame{f}) == nullptr) {
            return false;
        }
    }
    size_t done = 0;
    while (done < in.size()) {
        const uint64_t a = host_phys + done;
        const size_t off = a & kPageMask;
        const size_t n = std::min<size_t>(in.size() - done, kPageSize - off);
        std::memcpy(frame(HostFrame{a >> kPageShift}) + off, in.data() + done, n);
        done += n;
    }
    return true;
}

MemfdMachineMemory::MemfdMachineMemory(uint64_t bytes)
    : frames_((bytes + kPageSize - 1) >> kPageShift) {
    fd_ = memfd_create("xengt-machine-memory", MFD_CLOEXEC);
    if (fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "memfd_create(machine memory)");
    }
    const auto len = static_cast<off_t>(frames_ << kPageShift);
    if (ftruncate(fd_, len) != 0) {
        int err = errno;
        close(fd_);
        throw std::system_error(err, std::generic_category(), "size machine memory");
    }
    void* p = mmap(nullptr, static_cast<size_t>(len), PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
        int err = errno;
        close(fd_);
        throw std::system_error(err, std::generic_category(), "map machine memory");
    }
    base_ = static_cast<std::byte*>(p);
}

MemfdMachineMemory::~MemfdMachineMemory() {
    munmap(base_, frames_ << kPageShift);
    close(fd_);
}

}  // namespace xengt::gpu
