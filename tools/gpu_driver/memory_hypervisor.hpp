// A hypervisor port over a block of process memory standing in for one
// guest's RAM: for running vGPUs in one process (tests, benchmarks) without
// Xen or the simulator. Guest RAM is page aligned, so the GPU can be given
// its pages directly.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <new>
#include <set>
#include <span>

#include "mediator/hypervisor_port.hpp"

namespace xengt::gpu::mediated {

class MemoryHypervisor final : public mediator::HypervisorPort {
public:
    explicit MemoryHypervisor(size_t ram_bytes) : bytes_(ram_bytes) {
        void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            throw std::bad_alloc();
        }
        ram = {static_cast<std::byte*>(p), bytes_};
    }
    ~MemoryHypervisor() override { munmap(ram.data(), bytes_); }
    MemoryHypervisor(const MemoryHypervisor&) = delete;
    MemoryHypervisor& operator=(const MemoryHypervisor&) = delete;

    void set_trap_windows(std::span<const mediator::TrapWindow>) override {}
    bool read_guest(GuestPhysAddr addr, std::span<std::byte> out) override {
        if (!in_ram(addr.value(), out.size())) {
            return false;
        }
        std::memcpy(out.data(), ram.data() + addr.value(), out.size());
        return true;
    }
    bool write_guest(GuestPhysAddr addr, std::span<const std::byte> in) override {
        if (!in_ram(addr.value(), in.size())) {
            return false;
        }
        if (before_write) {
            before_write(addr.value(), in.size());
        }
        std::memcpy(ram.data() + addr.value(), in.data(), in.size());
        return true;
    }
    void inject_msi(uint64_t, uint32_t) override { ++msis; }
    bool protect_page(GuestFrame gfn) override {
        return in_ram(gfn.value() << kPageShift, kPageSize) &&
               protected_pages.insert(gfn.value()).second;
    }
    void unprotect_page(GuestFrame gfn) override { protected_pages.erase(gfn.value()); }

    std::span<std::byte> ram;
    // Called before each write of the host into guest RAM (address, bytes):
    // lets a test interleave what the guest's vCPU stores at that moment.
    std::function<void(uint64_t, size_t)> before_write;
    std::set<uint64_t> protected_pages;
    uint64_t msis = 0;

private:
    bool in_ram(uint64_t at, size_t len) const { return at <= bytes_ && len <= bytes_ - at; }
    size_t bytes_;
};

}  // namespace xengt::gpu::mediated
