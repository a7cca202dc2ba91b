#include "mediator/vgpu.hpp"

#include "mediator/vgpu_impl.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include "mediator/display/display_ports.hpp"
#include "mediator/display/display_timing.hpp"
#include "mediator/display/primary_plane.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "mediator/guest_log.hpp"
#include "mediator/irq/virtual_irq.hpp"
#include "mediator/mmio/bar0_layout.hpp"
#include "mediator/mmio/ggtt_window.hpp"
#include "mediator/mmio/mmio_table.hpp"
#include "mediator/mmio/register_file.hpp"
#include "mediator/pci/bar_decode.hpp"
#include "mediator/pci/config_layout.hpp"
#include "mediator/pci/config_space.hpp"
#include "mediator/pci/msi.hpp"
#include "mediator/pvinfo.hpp"
#include "mediator/reset/engine_reset.hpp"

namespace xengt::mediator {
namespace {

// BAR4 index/data pair (intel-gpu.md §1.4): MMIO_INDEX dword at +0,
// MMIO_DATA dword at +4.
constexpr uint32_t kIoIndexBytes = 4;
constexpr uint32_t kIoData = 4;
// MMIO_INDEX bit 0 set: the data port reaches the GGTT at byte offset index & ~1.
constexpr uint32_t kIoIndexGgtt = 1;

// vgt_cap is a percentage of the GPU's time (gvtg.md §1.1).
constexpr uint32_t kMaxCapPercent = 100;

VgpuConfig presented(VgpuConfig config) {
    if (config.cap_percent > kMaxCapPercent) {
        throw std::invalid_argument(config.name + ": vgt_cap " +
                                    std::to_string(config.cap_percent) +
                                    " is not a percentage (0 = no cap, 1-100)");
    }
    const uint64_t requested = config.aperture_bytes;
    config.aperture_bytes = pci::presented_aperture_size(requested);
    if (config.aperture_bytes != requested) {
        XENGT_LOG(LogLevel::Error, config.name,
                  "aperture size 0x%llx is not a power of two in [4 KiB, 2^51]; using 0x%llx",
                  static_cast<unsigned long long>(requested),
                  static_cast<unsigned long long>(config.aperture_bytes));
    }
    return config;
}

// Offset of `addr` in [base, base + size), if it is there.
std::optional<uint64_t> offset_in(const std::optional<GuestPhysAddr>& base, uint64_t size,
                                  uint64_t addr) {
    if (!base || addr < base->value() || addr - base->value() >= size) {
        return std::nullopt;
    }
    return addr - base->value();
}

}  // namespace

Vgpu::Impl::Impl(VgpuConfig c, HypervisorPort& p, std::optional<GpuLink> g)
    : config(presented(std::move(c))),
      port(p),
      log(config.name),
      cfg(pci::vgpu_config_fields(config), log),
      bars(config.aperture_bytes),
      regs(log, counters.untracked, this),
      gpu(g),
      plane_mailbox(std::make_shared<display::PlaneMailbox>()) {
    pvinfo_populate(regs.context(), config);
    regs.display().flip_done = display::flip_done_bit(config.device_id);
    regs.display().monitor.set_connected(config.display);  // there from power-on: no pulse
    regs.display().pipes_fused_off = !config.display;
    publish_plane();
    if (gpu) {
        ggtt_shadow = std::make_unique<GgttShadow>(log, config.mappable, config.hidden, *gpu->pins,
                                                   *gpu->ggtt, gpu->scratch);
        ppgtt = std::make_unique<PpgttShadow>(log, port, *gpu->pins, *gpu->pool, gpu->scratch);
        if (config.ggtt_strategy == GgttStrategy::RamBacked) {
            backing = port.ggtt_ram_backing();
            if (backing == nullptr) {
                XENGT_LOG(LogLevel::Info, config.name,
                          "no GGTT RAM backing from the hypervisor: GGTT writes will trap");
            }
        }
        create_execlists();
    }
}

void Vgpu::Impl::publish_plane() {
    const mmio::MmioContext& ctx = regs.context();
    display::PlaneSnapshot s;
    s.platform = display::platform_of(config.device_id);
    s.mappable = config.mappable;
    s.hidden = config.hidden;
    s.display_ready = ctx.vreg(kPvinfoBase + pvinfo::kDisplayReady) == 1;
    s.pipe_conf = ctx.vreg(display::kPipeConf);
    s.pipe_src = ctx.vreg(display::kPipeSrc);
    s.plane = regs.display().armed[0];
    s.frame_count = ctx.vreg(display::kFrmCount);
    s.flip_count = ctx.vreg(display::kFlipCount);
    plane_mailbox->publish(s);
}

Vgpu::Impl::Hit Vgpu::Impl::locate(GuestPhysAddr addr, AccessSize size) const {
    const uint64_t a = addr.value();
    const uint64_t tail = size.bytes() - 1;
    // BAR0 wins over a BAR2 the guest made overlap it: registers matter more.
    if (auto off = offset_in(bars.bases().bar0, mmio::kBar0Size, a)) {
        return {*off + tail < mmio::kBar0Size ? Target::Bar0 : Target::Straddle, *off};
    }
    if (auto off = offset_in(bars.bases().bar2, config.aperture_bytes, a)) {
        return {*off + tail < config.aperture_bytes ? Target::Bar2 : Target::Straddle, *off};
    }
    return {Target::None, 0};
}

TrapRead Vgpu::Impl::bar0_read(uint64_t offset, AccessSize size) {
    if (offset < mmio::kRegisterFileSize) {
        return regs.read(static_cast<uint32_t>(offset), size);
    }
    if (offset >= mmio::kGgttOffset) {
        return ggtt_read(static_cast<uint32_t>(offset - mmio::kGgttOffset), size);
    }
    // 2..8 MiB decodes nothing that i915 or GVT-g ever touches.
    XENGT_GUEST_LOG(log, LogLevel::Warn, "read of reserved BAR0 offset 0x%llx rejected",
                    static_cast<unsigned long long>(offset));
    return {size.mask(), TrapResult::Rejected};
}

TrapResult Vgpu::Impl::bar0_write(uint64_t offset, AccessSize size, uint64_t value) {
    if (offset < mmio::kRegisterFileSize) {
        return regs.write(static_cast<uint32_t>(offset), size, value);
    }
    if (offset >= mmio::kGgttOffset) {
        return ggtt_write(static_cast<uint32_t>(offset - mmio::kGgttOffset), size, value);
    }
    XENGT_GUEST_LOG(log, LogLevel::Warn, "write to reserved BAR0 offset 0x%llx rejected",
                    static_cast<unsigned long long>(offset));
    return TrapResult::Rejected;
}

std::optional<uint32_t> Vgpu::Impl::io_offset(IoPort io_port) const {
    const auto& base = bars.bases().bar4;
    if (!base || io_port < *base) {
        return std::nullopt;
    }
    const uint32_t rel = uint32_t{io_port.value()} - base->value();
    return rel < pci::kBar4Size ? std::optional<uint32_t>(rel) : std::nullopt;
}

TrapRead Vgpu::Impl::io_data_read() {
    if (io_index & kIoIndexGgtt) {
        return ggtt_read(io_index & ~kIoIndexGgtt, AccessSize::dword());
    }
    return regs.read(io_index, AccessSize::dword());
}

TrapResult Vgpu::Impl::io_data_write(uint32_t value) {
    if (io_index & kIoIndexGgtt) {
        return ggtt_write(io_index & ~kIoIndexGgtt, AccessSize::dword(), value);
    }
    return regs.write(io_index, AccessSize::dword(), value);
}

bool Vgpu::Impl::raise_msi() {
    const pci::MsiMessage msi = pci::msi_message(cfg);
    if (!msi.enabled) {
        ++counters.msi_suppressed_disabled;
        return false;
    }
    port.inject_msi(msi.address, msi.data);
    ++counters.msi_raised;
    return true;
}

void Vgpu::Impl::reset(ResetScope scope) {
    // Work in flight first: nothing of this vGPU may run on the GPU while
    // its GTT and PPGTT shadows are emptied below.
    reset_execlists(scope);
    if (scope.kind == ResetScope::Kind::Device) {
        on_device_reset();
        ++counters.device_resets;
        XENGT_GUEST_LOG(log, LogLevel::Info,
                        "device reset (FLR): registers, PVINFO, interrupts and config space "
                        "back to reset values");
        return;
    }
    if (scope.mask == 0) {
        return;
    }
    reset::reset_engines(regs, scope.mask);
    ++counters.engine_resets;
    XENGT_GUEST_LOG(log, LogLevel::Info,
                    "engine reset (%s): engine registers and pending interrupts back to defaults",
                    reset::engine_names(scope.mask).c_str());
}

// Everything a function level reset puts back. Each part of the vGPU with
// guest-visible state belongs here.
void Vgpu::Impl::on_device_reset() {
    // Registers, including the virtual interrupt and display state (vregs,
    // plus pending flips, which the register file drops with them).
    regs.reset();
    pvinfo_populate(regs.context(), config);
    // BAR4 MMIO_INDEX.
    io_index = 0;

    // Graphics memory: the guest's GGTT view is empty again (its RAM backing
    // too), every shadow PPGTT is dropped and its pages unprotected, and the
    // physical entries of the partition point at scratch.
    ggtt.clear();
    if (ggtt_shadow) {
        if (backing != nullptr) {
            for (uint32_t page = 0; page < GgttRamBacking::kPages; ++page) {
                std::memset(backing->page(page), 0, kPageSize);
            }
        }
        ppgtt->reset();
        ggtt_shadow->reset();
    }

    // Config space: BARs and COMMAND too (the guest OS restores them), so
    // decode is off and the hypervisor stops trapping the old windows.
    cfg.reset();
    refresh_windows();

    // The display is off and not ready: whoever shows it must stop.
    publish_plane();
}

Vgpu::Vgpu(VgpuConfig config, HypervisorPort& hypervisor, std::optional<GpuLink> gpu)
    : impl_(std::make_unique<Impl>(std::move(config), hypervisor, gpu)) {}

Vgpu::~Vgpu() {
    // A reader still holding the mailbox sees a display that is off, with no
    // surface: nothing of this guest's memory stays on show through it.
    display::PlaneSnapshot gone;
    gone.mappable = impl_->config.mappable;
    gone.hidden = impl_->config.hidden;
    impl_->plane_mailbox->publish(gone);
}

std::shared_ptr<const display::PlaneMailbox> Vgpu::primary_plane() const {
    return impl_->plane_mailbox;
}

const VgpuConfig& Vgpu::config() const {
    return impl_->config;
}
const VgpuCounters& Vgpu::counters() const {
    return impl_->counters;
}

TrapRead Vgpu::config_read(uint32_t reg, AccessSize size) {
    ++impl_->counters.config_reads;
    return impl_->tally(impl_->cfg.read(reg, size));
}

TrapResult Vgpu::config_write(uint32_t reg, AccessSize size, uint64_t value) {
    Impl& m = *impl_;
    ++m.counters.config_writes;
    const TrapResult r = m.cfg.write(reg, size, value);
    if (r == TrapResult::Handled && pci::requests_flr(reg, size.bytes(), value)) {
        m.reset(ResetScope::device());  // includes the window update
        return m.tally(r);
    }
    // Only COMMAND and the BARs change what the device decodes. A handled
    // write has reg < 256, so reg + size cannot wrap.
    const uint32_t end = reg + size.bytes();
    const bool decode_inputs = (reg < pci::kCommandEnd && end > pci::kCommand) ||
                               (reg < pci::kBarsEnd && end > pci::kBar0);
    if (r == TrapResult::Handled && decode_inputs) {
        m.refresh_windows();
    }
    return m.tally(r);
}

TrapRead Vgpu::mmio_read(GuestPhysAddr addr, AccessSize size) {
    Impl& m = *impl_;
    ++m.counters.mmio_reads;
    const Impl::Hit hit = m.locate(addr, size);
    switch (hit.target) {
        case Impl::Target::Bar0:
            return m.tally(m.bar0_read(hit.offset, size));
        case Impl::Target::Bar2:
            return m.tally(m.aperture_read(hit.offset, size));
        case Impl::Target::Straddle:
            XENGT_GUEST_LOG(m.log, LogLevel::Warn, "MMIO read at 0x%llx crosses a BAR end",
                            static_cast<unsigned long long>(addr.value()));
            return m.tally({size.mask(), TrapResult::Rejected});
        case Impl::Target::None:
            break;
    }
    XENGT_GUEST_LOG(m.log, LogLevel::Debug, "MMIO read at 0x%llx decodes to no BAR",
                    static_cast<unsigned long long>(addr.value()));
    return m.tally({size.mask(), TrapResult::Unclaimed});
}

TrapResult Vgpu::mmio_write(GuestPhysAddr addr, AccessSize size, uint64_t value) {
    Impl& m = *impl_;
    ++m.counters.mmio_writes;
    const Impl::Hit hit = m.locate(addr, size);
    switch (hit.target) {
        case Impl::Target::Bar0:
            return m.tally(m.bar0_write(hit.offset, size, value));
        case Impl::Target::Bar2:
            return m.tally(m.aperture_write(hit.offset, size, value));
        case Impl::Target::Straddle:
            XENGT_GUEST_LOG(m.log, LogLevel::Warn, "MMIO write at 0x%llx crosses a BAR end",
                            static_cast<unsigned long long>(addr.value()));
            return m.tally(TrapResult::Rejected);
        case Impl::Target::None:
            break;
    }
    if (m.ppgtt && m.ppgtt->on_protected_write(addr, size, value)) {
        return TrapResult::Handled;  // a write to a guest page table we shadow
    }
    XENGT_GUEST_LOG(m.log, LogLevel::Debug, "MMIO write at 0x%llx decodes to no BAR",
                    static_cast<unsigned long long>(addr.value()));
    return m.tally(TrapResult::Unclaimed);
}

TrapRead Vgpu::pio_read(IoPort port, AccessSize size) {
    Impl& m = *impl_;
    ++m.counters.pio_reads;
    const std::optional<uint32_t> rel = m.io_offset(port);
    if (!rel) {
        return m.tally({size.mask(), TrapResult::Unclaimed});
    }
    if (size.bytes() <= kIoIndexBytes - std::min(*rel, kIoIndexBytes)) {
        return m.tally({(m.io_index >> (8 * *rel)) & size.mask(), TrapResult::Handled});
    }
    if (*rel == kIoData && size == AccessSize::dword()) {
        return m.tally(m.io_data_read());
    }
    XENGT_GUEST_LOG(m.log, LogLevel::Warn, "I/O BAR read of %u bytes at +0x%x rejected",
                    size.bytes(), *rel);
    return m.tally({size.mask(), TrapResult::Rejected});
}

TrapResult Vgpu::pio_write(IoPort port, AccessSize size, uint64_t value) {
    Impl& m = *impl_;
    ++m.counters.pio_writes;
    const std::optional<uint32_t> rel = m.io_offset(port);
    if (!rel) {
        return m.tally(TrapResult::Unclaimed);
    }
    if (size.bytes() <= kIoIndexBytes - std::min(*rel, kIoIndexBytes)) {
        const unsigned shift = 8 * *rel;
        const auto mask = static_cast<uint32_t>(size.mask() << shift);
        m.io_index = (m.io_index & ~mask) | (static_cast<uint32_t>(value << shift) & mask);
        return m.tally(TrapResult::Handled);
    }
    if (*rel == kIoData && size == AccessSize::dword()) {
        return m.tally(m.io_data_write(static_cast<uint32_t>(value)));
    }
    XENGT_GUEST_LOG(m.log, LogLevel::Warn, "I/O BAR write of %u bytes at +0x%x rejected",
                    size.bytes(), *rel);
    return m.tally(TrapResult::Rejected);
}

std::vector<Vgpu::HotRegister> Vgpu::hottest_registers(size_t n) const {
    std::vector<HotRegister> hot;
    for (const mmio::RegisterFile::HotRegister& h : impl_->regs.hottest(n)) {
        const mmio::MmioRow* row = mmio::find_mmio_row(h.offset);
        hot.push_back({h.offset, h.accesses, row != nullptr ? row->name : ""});
    }
    return hot;
}

uint32_t Vgpu::peek_register(MmioOffset offset) const {
    return impl_->regs.peek(offset.value());
}

bool Vgpu::signal_msi() {
    return impl_->raise_msi();
}

IrqOutcome Vgpu::raise_interrupt(InterruptEvent event) {
    return irq::raise(impl_->regs.context(), event);
}

bool Vgpu::display_active() const {
    const mmio::MmioContext& ctx = impl_->regs.context();
    for (unsigned pipe = 0; pipe < display::kPipeCount; ++pipe) {
        if (display::pipe_enabled(ctx, pipe)) {
            return true;
        }
    }
    return false;
}

void Vgpu::vblank() {
    mmio::MmioContext& ctx = impl_->regs.context();
    for (unsigned pipe = 0; pipe < display::kPipeCount; ++pipe) {
        if (!display::pipe_enabled(ctx, pipe)) {
            continue;
        }
        // §7.4 order: flip-done, frame counter, vblank; the guest cannot
        // observe between them, so flip-done and vblank share one event.
        const InterruptEvent event = display::take_vblank_event(ctx, pipe);
        ++ctx.vreg(display::pipe_reg(display::kFrmCount, pipe));
        raise_interrupt(event);
        ++impl_->counters.vblanks;
    }
    if (display::pipe_enabled(ctx, 0)) {
        impl_->publish_plane();  // pipe A's frame counter and any completed flip
    }
}

void Vgpu::set_monitor_connected(bool connected) {
    display::monitor_hotplug(impl_->regs.context(), connected);
}

bool Vgpu::monitor_connected() const {
    return impl_->regs.display().monitor.connected();
}

void Vgpu::reset(ResetScope scope) {
    impl_->reset(scope);
}

bool Vgpu::pv_aware() const {
    return impl_->regs.pvinfo().pv_aware;
}

GgttStrategy Vgpu::ggtt_strategy() const {
    return impl_->backing != nullptr ? GgttStrategy::RamBacked : GgttStrategy::Trap;
}

void Vgpu::sync_gtt() {
    impl_->sync_gtt();
}

const GgttShadow* Vgpu::ggtt_shadow() const {
    return impl_->ggtt_shadow.get();
}

const PpgttShadow* Vgpu::ppgtt_shadow() const {
    return impl_->ppgtt.get();
}

uint64_t Vgpu::g2v_notify_count(uint32_t code) const {
    const auto& counts = impl_->regs.pvinfo().g2v_counts;
    return code < counts.size() ? counts[code] : 0;
}

}  // namespace xengt::mediator
