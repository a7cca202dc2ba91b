// An in-memory HypervisorPort: records what the vGPU asks of the hypervisor.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "mediator/hypervisor_port.hpp"

namespace xengt::mediator::test {

struct InjectedMsi {
    uint64_t address;
    uint32_t data;
};

class FakeHypervisor final : public HypervisorPort {
public:
    // Guest RAM is [0, ram_bytes).
    explicit FakeHypervisor(size_t ram_bytes = 1 << 20) : ram(ram_bytes) {}

    void set_trap_windows(std::span<const TrapWindow> windows) override {
        window_updates.emplace_back(windows.begin(), windows.end());
    }

    bool read_guest(GuestPhysAddr addr, std::span<std::byte> out) override {
        if (!in_ram(addr, out.size())) {
            return false;
        }
        std::copy_n(ram.begin() + static_cast<std::ptrdiff_t>(addr.value()), out.size(),
                    out.begin());
        return true;
    }

    bool write_guest(GuestPhysAddr addr, std::span<const std::byte> in) override {
        if (!in_ram(addr, in.size())) {
            return false;
        }
        std::copy(in.begin(), in.end(), ram.begin() + static_cast<std::ptrdiff_t>(addr.value()));
        return true;
    }

    void inject_msi(uint64_t address, uint32_t data) override { msis.push_back({address, data}); }

    bool protect_page(GuestFrame gfn) override {
        if (!in_ram(address_of(gfn), kPageSize) || protected_pages.contains(gfn.value())) {
            return false;
        }
        protected_pages.insert(gfn.value());
        return true;
    }
    void unprotect_page(GuestFrame gfn) override { protected_pages.erase(gfn.value()); }
    GgttRamBacking* ggtt_ram_backing() override { return backing; }

    // The windows as of the last set_trap_windows call (none before the first).
    std::vector<TrapWindow> current_windows() const {
        return window_updates.empty() ? std::vector<TrapWindow>{} : window_updates.back();
    }

    std::vector<std::vector<TrapWindow>> window_updates;
    std::vector<InjectedMsi> msis;
    std::vector<std::byte> ram;
    std::set<uint64_t> protected_pages;  // guest frames
    GgttRamBacking* backing = nullptr;   // what ggtt_ram_backing() offers

private:
    bool in_ram(GuestPhysAddr addr, size_t len) const {
        return addr.value() <= ram.size() && len <= ram.size() - addr.value();
    }
};

}  // namespace xengt::mediator::test
