// What the mediator needs from a hypervisor, and nothing more.
//
// The vGPU model never issues a hypercall; it asks this port. The Xen backend
// (xengt/xen) implements it with libxendevicemodel and libxenforeignmemory;
// unit tests implement it in memory. The port grows as the mediator does
// (write-protection and frame translation arrive with the GTT work).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "mediator/base/types.hpp"

namespace xengt::mediator {

enum class TrapSpace : uint8_t { Mmio, Pio };

// An inclusive range [first, last] the device decodes: guest-physical
// addresses for Mmio, port numbers for Pio.
struct TrapWindow {
    TrapSpace space;
    uint64_t first;
    uint64_t last;
    friend constexpr bool operator==(const TrapWindow&, const TrapWindow&) = default;
};

class HypervisorPort {
public:
    virtual ~HypervisorPort() = default;

    // The set of windows the device decodes changed (a BAR moved, decode was
    // toggled). The port makes the hypervisor trap exactly these from now on:
    // new ones claimed, vanished ones released. Windows may overlap each other
    // if the guest programmed overlapping BARs; the port must cope.
    virtual void set_trap_windows(std::span<const TrapWindow> windows) = 0;

    // Copy to/from guest RAM. False (and nothing partially trusted) if any
    // byte of the range is not the guest's RAM.
    virtual bool read_guest(GuestPhysAddr addr, std::span<std::byte> out) = 0;
    virtual bool write_guest(GuestPhysAddr addr, std::span<const std::byte> in) = 0;

    // Deliver an MSI exactly as the guest programmed the device's capability.
    virtual void inject_msi(uint64_t address, uint32_t data) = 0;
};

}  // namespace xengt::mediator
