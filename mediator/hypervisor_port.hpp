// What the mediator needs from a hypervisor, and nothing more.
//
// The vGPU model never issues a hypercall; it asks this port. The Xen backend
// (xengt/xen) implements it with libxendevicemodel and libxenforeignmemory;
// unit tests implement it in memory. Frame translation for the GPU is a port
// of its own (gtt/host_frames.hpp) because what a host frame is depends on
// the GPU backend as much as on the hypervisor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
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

// Guest RAM placed behind the GGTT half of BAR0 (BAR0 + 8 MiB, 8 MiB), so
// that the guest's PTE writes land in memory instead of trapping. The guest
// writes it directly; the mediator reads it when the guest flushes.
class GgttRamBacking {
public:
    static constexpr uint32_t kPages = 2048;
    static constexpr uint32_t kDirtyWords = kPages / 64;

    virtual ~GgttRamBacking() = default;

    // Make the backing appear at guest frames [first, first + kPages), or
    // nowhere (nullopt: BAR0 is not decoded). Contents survive moves. False
    // if the hypervisor refused; the backing is then nowhere.
    virtual bool place(std::optional<GuestFrame> first) = 0;

    // The CPU's view of backing page `index` (< kPages), valid for the
    // backing's lifetime. Writes through it are not reported as dirty.
    virtual std::byte* page(uint32_t index) = 0;

    // ORs into `dirty` bit i for every page i the guest may have written since
    // the last call. False if the hypervisor cannot tell: the caller must then
    // treat every page as dirty.
    virtual bool collect_dirty(std::span<uint64_t, kDirtyWords> dirty) = 0;
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

    // Write-protect guest RAM page `gfn` (a guest page table being shadowed):
    // from now on the guest's writes to it are not performed but delivered
    // as mmio_write calls with their guest-physical address; its reads are
    // unaffected. False if the hypervisor cannot (not RAM, no support).
    // Calls do not nest: the mediator protects a page once.
    virtual bool protect_page(GuestFrame gfn) = 0;
    virtual void unprotect_page(GuestFrame gfn) = 0;

    // The GGTT RAM backing, created on first call; nullptr where the
    // hypervisor cannot provide one (the GGTT is then trapped).
    virtual GgttRamBacking* ggtt_ram_backing() { return nullptr; }
};

}  // namespace xengt::mediator
