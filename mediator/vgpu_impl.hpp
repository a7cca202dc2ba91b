// The inside of a Vgpu, shared by the files that implement it: vgpu.cpp
// (decode, registers, config space, interrupts, resets) and vgpu_gtt.cpp
// (GGTT, aperture, PPGTT and the trap windows they shape). Private to them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "mediator/exec/guest_memory_view.hpp"
#include "mediator/exec/virtual_execlist.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "mediator/guest_log.hpp"
#include "mediator/mmio/ggtt_window.hpp"
#include "mediator/mmio/register_file.hpp"
#include "mediator/pci/bar_decode.hpp"
#include "mediator/pci/config_space.hpp"
#include "mediator/vgpu.hpp"
#include "mediator/vgpu_events.hpp"

namespace xengt::mediator {

struct Vgpu::Impl final : VgpuEvents, exec::ExeclistHost {
    Impl(VgpuConfig c, HypervisorPort& p, std::optional<GpuLink> g);

    // VgpuEvents: what register handlers ask of the vGPU.
    bool raise_msi() override;
    void reset_request(ResetScope scope) override { reset(scope); }
    void ggtt_flush() override {
        ++counters.ggtt_flushes;
        sync_gtt();
    }
    bool g2v_notify(uint32_t code, const uint64_t (&pdp)[4]) override;
    void elsp_write(unsigned engine, uint32_t value) override;

    // exec::ExeclistHost: what the virtual execlists ask of the vGPU.
    uint32_t& vreg(uint32_t offset) override { return regs.context().vreg(offset); }
    void raise(InterruptEvent event) override;
    void sync_before_submit() override;

    void display_changed() override { publish_plane(); }
    // Copies pipe A's plane state into the mailbox (display/primary_plane.hpp).
    void publish_plane();

    void reset(ResetScope scope);
    void create_execlists();  // vgpu_exec.cpp
    void reset_execlists(ResetScope scope);
    void on_device_reset();

    // Where a memory access lands.
    enum class Target { None, Bar0, Bar2, Straddle };
    struct Hit {
        Target target;
        uint64_t offset;
    };
    Hit locate(GuestPhysAddr addr, AccessSize size) const;

    TrapRead bar0_read(uint64_t offset, AccessSize size);
    TrapResult bar0_write(uint64_t offset, AccessSize size, uint64_t value);
    TrapRead ggtt_read(uint32_t offset, AccessSize size);
    TrapResult ggtt_write(uint32_t offset, AccessSize size, uint64_t value);
    TrapRead aperture_read(uint64_t offset, AccessSize size);
    TrapResult aperture_write(uint64_t offset, AccessSize size, uint64_t value);
    std::optional<GuestPhysAddr> aperture_target(uint64_t offset);
    // True if [offset, offset + size) lies in the guest's slice (else logged).
    bool aperture_reachable(uint64_t offset, AccessSize size, const char* verb);
    // Moves `bytes` between the aperture at `offset` and the guest frames the
    // GGTT maps there, split at page (entry) boundaries.
    void aperture_copy(uint64_t offset, std::span<std::byte> bytes, bool write);
    void sync_gtt();
    std::optional<uint32_t> io_offset(IoPort io_port) const;
    TrapRead io_data_read();
    TrapResult io_data_write(uint32_t value);
    void refresh_windows();

    TrapRead tally(TrapRead r) {
        tally(r.result);
        return r;
    }
    TrapResult tally(TrapResult r) {
        counters.unclaimed += r == TrapResult::Unclaimed;
        counters.rejected += r == TrapResult::Rejected;
        return r;
    }

    VgpuConfig config;
    HypervisorPort& port;
    VgpuCounters counters;
    GuestLog log;
    pci::ConfigSpace cfg;
    pci::BarDecoder bars;
    mmio::RegisterFile regs;
    mmio::GgttWindow ggtt;
    uint32_t io_index = 0;  // BAR4 MMIO_INDEX
    std::optional<GpuLink> gpu;
    // Declared after everything it logs through; destroyed first.
    std::unique_ptr<GgttShadow> ggtt_shadow;
    std::unique_ptr<PpgttShadow> ppgtt;
    // The workload path; uses the shadows above, so it goes first.
    std::unique_ptr<exec::GuestMemoryView> gm_view;
    std::unique_ptr<exec::VirtualExeclists> execlists;
    GgttRamBacking* backing = nullptr;  // owned by the hypervisor port
    // Shared with the display owner, which may outlive the vGPU.
    std::shared_ptr<display::PlaneMailbox> plane_mailbox;
};

}  // namespace xengt::mediator
