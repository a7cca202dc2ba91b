#include "gpu/fd_machine_memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <system_error>

namespace xengt::gpu {

FdMachineMemory::FdMachineMemory(int fd, uint64_t frames) : frames_(frames) {
    if (frames == 0 || frames > (SIZE_MAX >> kPageShift)) {
        throw std::system_error(EINVAL, std::generic_category(),
                                "mmap(fd machine memory): bad frame count");
    }
    void* p = mmap(nullptr, static_cast<size_t>(frames << kPageShift), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        throw std::system_error(errno, std::generic_category(), "mmap(fd machine memory)");
    }
    base_ = static_cast<std::byte*>(p);
}

FdMachineMemory::~FdMachineMemory() {
    munmap(base_, static_cast<size_t>(frames_ << kPageShift));
}

}  // namespace xengt::gpu
