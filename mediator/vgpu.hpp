// One guest's virtual GPU: the device a guest finds at 00:02.0.
//
// Owns the vGPU's PCI configuration space, its BAR0 register file (MMIO
// table + PVINFO page), its guest view of the GGTT window and the BAR4
// index/data port pair. Knows nothing about Xen: trapped accesses arrive
// through TrapTarget, and everything it needs from the hypervisor goes through
// the HypervisorPort it was given.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mediator/exec/execlist_config.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"
#include "mediator/hypervisor_port.hpp"
#include "mediator/irq/interrupt_event.hpp"
#include "mediator/trap.hpp"
#include "mediator/vgpu_events.hpp"

namespace xengt::mediator {

namespace display {
class PlaneMailbox;
}  // namespace display

// A range of graphics-memory (GGTT) address space.
struct GmRange {
    GmAddr base;
    uint64_t size = 0;
};

// How the guest's GGTT entry writes reach the mediator (see gtt/ggtt_shadow.hpp).
enum class GgttStrategy : uint8_t {
    Trap,       // every PTE write traps and is applied at once
    RamBacked,  // PTE writes land in RAM; applied at GFX_FLSH_CNTL / before submission
};
const char* to_string(GgttStrategy s);

struct VgpuConfig {
    std::string name = "vgpu";  // subject of log lines, e.g. "dom3"
    uint32_t vgt_id = 1;        // PVINFO vgt_id

    // Identity: a Skylake GT2 ("HD Graphics 530"), revision 6.
    uint16_t device_id = 0x1912;
    uint8_t revision = 0x06;

    // BAR2 spans the whole device aperture: i915 validates that its mappable
    // slice ends within BAR2, and guest GM addresses are host GM addresses.
    uint64_t aperture_bytes = MiB(256);

    // The guest's slices of graphics memory and fences, published in PVINFO.
    // Defaults are GVT-g's smallest vGPU type behind a host that keeps the first
    // 128 MiB of aperture and 384 MiB of hidden GM. (Partitioning itself is a
    // later step; these are what the guest is told.)
    GmRange mappable{GmAddr{MiB(128)}, MiB(64)};
    GmRange hidden{GmAddr{MiB(512)}, MiB(384)};
    uint32_t fences = 4;

    // RAM-backed where the hypervisor provides a backing, else trapped.
    GgttStrategy ggtt_strategy = GgttStrategy::RamBacked;

    // xl.cfg vgt_primary (gvtg.md §1.1; QEMU hard-wired 1). True: the vGPU
    // is the guest's primary display and presents class 0x030000 (VGA
    // compatible). False: class 0x038000 (other display controller), so the
    // guest's firmware and OS keep an emulated VGA as boot display while
    // i915 still binds. Legacy VGA (I/O 0x3B0-0x3DF, 0xA0000, a VGA BIOS) is
    // never emulated.
    bool primary = true;

    // A virtual monitor is present: a DisplayPort monitor on DDI D with a
    // built-in 1024x768 EDID, as GVT-g gives a Skylake vGPU (intel-gpu.md
    // §7.3; display/display_ports.hpp). False: a headless vGPU: its pipes
    // are fused off (SKL_DFSM) and every port is empty.
    bool display = true;

    // xl.cfg vgt_cap: the most of the GPU's render time this guest may use,
    // in percent; 0 = no cap. Must be 0..100 (Vgpu throws otherwise).
    // Enforced by the device scheduler (exec/scheduler.hpp), per engine.
    uint32_t cap_percent = 0;

    // The vGPU's share of each engine relative to the others (> 0).
    uint32_t weight = 1;

    // Workloads in flight per engine and the shadow memory each may use.
    exec::ExeclistConfig execlists{};
};

// The GPU side of a vGPU: where its translated GGTT entries go and how guest
// frames become frames the GPU can reach. All must outlive the Vgpu.
struct GpuLink {
    GuestFramePins* pins = nullptr;
    PhysicalGgtt* ggtt = nullptr;
    HostPagePool* pool = nullptr;
    HostFrame scratch{};  // a host page every unusable entry points at
    // Host GM (page aligned, in the host's share) for the vGPU's shadow
    // workloads: Vgpu::shadow_gm_bytes() of it. 0: no workload path (the
    // vGPU accepts ELSP writes but runs nothing).
    uint64_t shadow_gm = 0;
};

// Per-vGPU counters: cheap, and they answer "what is this guest doing".
struct VgpuCounters {
    uint64_t config_reads = 0;
    uint64_t config_writes = 0;
    uint64_t mmio_reads = 0;
    uint64_t mmio_writes = 0;
    uint64_t ggtt_reads = 0;
    uint64_t ggtt_writes = 0;
    uint64_t pio_reads = 0;
    uint64_t pio_writes = 0;
    uint64_t unclaimed = 0;  // accesses outside every decoded window
    uint64_t rejected = 0;   // decoded but refused (width, alignment, read-only, ...)
    uint64_t untracked = 0;  // register accesses that hit no table row (plain vreg)
    uint64_t trap_window_updates = 0;
    uint64_t ggtt_flushes = 0;    // GFX_FLSH_CNTL writes
    uint64_t aperture_reads = 0;  // BAR2 accesses that reached the guest's slice
    uint64_t aperture_writes = 0;
    uint64_t aperture_unmapped = 0;        // BAR2 accesses to entries mapping nothing
    uint64_t msi_raised = 0;               // MSIs injected into the guest
    uint64_t msi_suppressed_disabled = 0;  // MSIs due while the guest had MSI disabled
    uint64_t engine_resets = 0;            // engine resets (one per request, any engines)
    uint64_t device_resets = 0;            // function level resets
    uint64_t vblanks = 0;                  // pipe vblanks emulated (one per enabled pipe)
};

class Vgpu final : public TrapTarget {
public:
    // Without a GpuLink the vGPU stores what the guest writes to its GGTT but
    // translates nothing (configuration-space and register work only).
    // Throws std::invalid_argument for a config it cannot present
    // (cap_percent above 100).
    Vgpu(VgpuConfig config, HypervisorPort& hypervisor, std::optional<GpuLink> gpu = std::nullopt);
    ~Vgpu() override;
    Vgpu(const Vgpu&) = delete;
    Vgpu& operator=(const Vgpu&) = delete;

    const VgpuConfig& config() const;
    const VgpuCounters& counters() const;

    // TrapTarget
    TrapRead config_read(uint32_t reg, AccessSize size) override;
    TrapResult config_write(uint32_t reg, AccessSize size, uint64_t value) override;
    TrapRead mmio_read(GuestPhysAddr addr, AccessSize size) override;
    TrapResult mmio_write(GuestPhysAddr addr, AccessSize size, uint64_t value) override;
    TrapRead pio_read(IoPort port, AccessSize size) override;
    TrapResult pio_write(IoPort port, AccessSize size, uint64_t value) override;

    // Register-file access by offset into BAR0, bypassing decode (for the
    // daemon's status output and for tests).
    uint32_t peek_register(MmioOffset offset) const;

    // The `n` BAR0 registers the guest accessed most so far, most first,
    // with their table names ("" for untracked ones): what its driver polls.
    // O(register file): for diagnostics (xengt-ctl stats), not a hot path.
    struct HotRegister {
        uint32_t offset;
        uint32_t accesses;
        const char* name;
    };
    std::vector<HotRegister> hottest_registers(size_t n) const;

    // Send the vGPU's MSI now, bypassing the interrupt registers: if the
    // guest enabled its MSI capability, inject the message exactly as
    // programmed and return true; else false. Counted either way.
    bool signal_msi();

    // An interrupt event (from emulated engines or display): latched into
    // the event's IIR and delivered as an MSI per the two-level rule of
    // intel-gpu.md §6.2 (see irq/virtual_irq.hpp).
    IrqOutcome raise_interrupt(InterruptEvent event);

    // Virtual display timing (intel-gpu.md §7.4). The mediator has no timer
    // of its own: while display_active(), the owner (the daemon's event
    // loop) calls vblank() once per frame at the refresh rate it chooses.
    //
    // True if the guest has enabled any pipe (PIPECONF bit 31).
    bool display_active() const;
    // One vertical blank on every enabled pipe, pipe A first: the pipe's
    // PIPE_FRMCOUNT advances, and one event goes through raise_interrupt()
    // with its vblank bit plus flip-done if a synchronous flip was pending.
    // Disabled pipes are untouched (a pending flip waits for the pipe).
    void vblank();

    // Plug the virtual monitor in or pull it out (a hotplug): the guest sees
    // the port's live state at once and, if it enabled hotplug detection on
    // the port, a hotplug interrupt. No change, no interrupt.
    void set_monitor_connected(bool connected);
    bool monitor_connected() const;

    // Where the vGPU publishes its primary plane (plane 1 of pipe A) for a
    // reader on another thread, the device-wide display owner (see
    // display/primary_plane.hpp). Updated as the guest programs its display;
    // blank once the vGPU is gone. Take it before the vGPU is served.
    std::shared_ptr<const display::PlaneMailbox> primary_plane() const;

    // Reset the vGPU or some of its engines, as GEN6_GDRST and PCIe FLR do
    // when the guest asks (see ResetScope). A device reset also turns off
    // BAR decode, and the hypervisor is told the new (empty) trap windows.
    void reset(ResetScope scope);

    // True once the guest has read the PVINFO page (it knows it is a vGPU).
    bool pv_aware() const;

    // How many times the guest sent g2v_notify `code` (0 for unknown codes).
    uint64_t g2v_notify_count(uint32_t code) const;

    // The strategy in force (RamBacked only once the hypervisor gave a backing).
    GgttStrategy ggtt_strategy() const;
    // Bring the physical GGTT up to date with what the guest wrote; the
    // workload path calls this before every submission.
    void sync_gtt();
    // The vGPU's GGTT share and shadow PPGTTs, for the isolation checker
    // (nullptr without a GpuLink).
    const class GgttShadow* ggtt_shadow() const;
    const class PpgttShadow* ppgtt_shadow() const;

    // The workload path. Host GM a vGPU with `config` needs for its shadow
    // workloads (GpuLink::shadow_gm).
    static uint64_t shadow_gm_bytes(const VgpuConfig& config);
    // Where prepared workloads go (the scheduler's client for this vGPU);
    // null: nowhere (they are cancelled). Before any guest access.
    void set_workload_sink(exec::WorkloadSink* sink);
    // A workload the sink handed back; on the vGPU's thread.
    void workload_done(exec::Workload* w);
    // nullptr without a workload path.
    const exec::ExeclistCounters* execlist_counters() const;
    bool failsafe() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace xengt::mediator
