#include "mediator/vgpu.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

#include "mediator/display/display_timing.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "mediator/guest_log.hpp"
#include "mediator/irq/virtual_irq.hpp"
#include "mediator/mmio/bar0_layout.hpp"
#include "mediator/mmio/ggtt_window.hpp"
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

struct Vgpu::Impl final : VgpuEvents {
    Impl(VgpuConfig c, HypervisorPort& p, std::optional<GpuLink> g)
        : config(presented(std::move(c))),
          port(p),
          log(config.name),
          cfg(pci::vgpu_config_fields(config), log),
          bars(config.aperture_bytes),
          regs(log, counters.untracked, this),
          gpu(g) {
        pvinfo_populate(regs.context(), config);
        regs.display().flip_done = display::flip_done_bit(config.device_id);
        if (gpu) {
            ggtt_shadow = std::make_unique<GgttShadow>(log, config.mappable, config.hidden,
                                                       *gpu->pins, *gpu->ggtt, gpu->scratch);
            ppgtt = std::make_unique<PpgttShadow>(log, port, *gpu->pins, *gpu->pool, gpu->scratch);
            if (config.ggtt_strategy == GgttStrategy::RamBacked) {
                backing = port.ggtt_ram_backing();
                if (backing == nullptr) {
                    XENGT_LOG(LogLevel::Info, config.name,
                              "no GGTT RAM backing from the hypervisor: GGTT writes will trap");
                }
            }
        }
    }

    // VgpuEvents: what register handlers ask of the vGPU.
    bool raise_msi() override;
    void reset_request(ResetScope scope) override { reset(scope); }
    void ggtt_flush() override {
        ++counters.ggtt_flushes;
        sync_gtt();
    }
    bool g2v_notify(uint32_t code, const uint64_t (&pdp)[4]) override;

    void reset(ResetScope scope);
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
    GgttRamBacking* backing = nullptr;  // owned by the hypervisor port
};

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

TrapRead Vgpu::Impl::ggtt_read(uint32_t offset, AccessSize size) {
    ++counters.ggtt_reads;
    if (backing != nullptr && offset < mmio::kGgttSize && offset % size.bytes() == 0 &&
        size.bytes() >= 4) {
        // Only the BAR4 index/data path gets here: BAR0's GGTT half is RAM.
        uint64_t v = 0;
        std::memcpy(&v, backing->page(offset >> kPageShift) + (offset & kPageMask), size.bytes());
        return {v, TrapResult::Handled};
    }
    TrapRead r = ggtt.read(offset, size);
    if (r.result != TrapResult::Handled) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "GGTT read of %u bytes at +0x%x rejected",
                        size.bytes(), offset);
    }
    return r;
}

TrapResult Vgpu::Impl::ggtt_write(uint32_t offset, AccessSize size, uint64_t value) {
    ++counters.ggtt_writes;
    const uint64_t index = offset / mmio::kGgttEntryBytes;
    if (ggtt_shadow && offset < mmio::kGgttSize && !ggtt_shadow->owns(index)) {
        // Outside the vGPU's slices (a ballooned range, or hostile): dropped,
        // as GVT-g does; the guest copy keeps what it had.
        ggtt_shadow->apply(index, 0);  // counts the drop
        return TrapResult::Handled;
    }
    TrapResult r = ggtt.write(offset, size, value);
    if (r != TrapResult::Handled) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "GGTT write of %u bytes at +0x%x rejected",
                        size.bytes(), offset);
        return r;
    }
    if (ggtt_shadow) {
        // A 4-byte half updates its half of the stored entry; the whole entry
        // as it now stands is what gets translated, so halves written in either
        // order end up combined.
        const uint64_t entry =
            ggtt.read(static_cast<uint32_t>(index * 8), AccessSize::qword()).value;
        if (backing != nullptr) {
            // BAR4 path with a RAM-backed table: keep RAM the guest's copy.
            std::memcpy(backing->page(offset >> kPageShift) + (index * 8 & kPageMask), &entry, 8);
        }
        ggtt_shadow->apply(index, entry);
    }
    return r;
}

std::optional<GuestPhysAddr> Vgpu::Impl::aperture_target(uint64_t offset) {
    // Guest GM addresses are host GM addresses, so aperture offset o is GGTT
    // entry o / 4 KiB; the CPU reaches whatever guest frame that entry maps.
    const uint64_t index = offset >> kPageShift;
    const std::optional<GuestFrame> gfn = ggtt_shadow->mapped_frame(index);
    if (!gfn) {
        return std::nullopt;
    }
    return GuestPhysAddr{address_of(*gfn).value() | (offset & kPageMask)};
}

TrapRead Vgpu::Impl::aperture_read(uint64_t offset, AccessSize size) {
    if (!ggtt_shadow) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "aperture read at +0x%llx: no GPU behind this vGPU",
                        static_cast<unsigned long long>(offset));
        return {size.mask(), TrapResult::Rejected};
    }
    if (!ggtt_shadow->owns(offset >> kPageShift) ||
        !ggtt_shadow->owns((offset + size.bytes() - 1) >> kPageShift)) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "aperture read at +0x%llx outside the guest's slice",
                        static_cast<unsigned long long>(offset));
        return {size.mask(), TrapResult::Rejected};
    }
    ++counters.aperture_reads;
    // Byte by byte only when the access straddles two pages (two entries).
    std::array<std::byte, 8> bytes{};
    for (unsigned done = 0; done < size.bytes();) {
        const uint64_t at = offset + done;
        const unsigned chunk = static_cast<unsigned>(
            std::min<uint64_t>(size.bytes() - done, kPageSize - (at & kPageMask)));
        const std::optional<GuestPhysAddr> target = aperture_target(at);
        if (!target || !port.read_guest(*target, std::span(bytes).subspan(done, chunk))) {
            ++counters.aperture_unmapped;  // the scratch page reads as zero
        }
        done += chunk;
    }
    uint64_t v = 0;
    std::memcpy(&v, bytes.data(), size.bytes());
    return {v, TrapResult::Handled};
}

TrapResult Vgpu::Impl::aperture_write(uint64_t offset, AccessSize size, uint64_t value) {
    if (!ggtt_shadow) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "aperture write at +0x%llx: no GPU behind this vGPU",
                        static_cast<unsigned long long>(offset));
        return TrapResult::Rejected;
    }
    if (!ggtt_shadow->owns(offset >> kPageShift) ||
        !ggtt_shadow->owns((offset + size.bytes() - 1) >> kPageShift)) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "aperture write at +0x%llx outside the guest's slice",
                        static_cast<unsigned long long>(offset));
        return TrapResult::Rejected;
    }
    ++counters.aperture_writes;
    std::array<std::byte, 8> bytes{};
    std::memcpy(bytes.data(), &value, size.bytes());
    for (unsigned done = 0; done < size.bytes();) {
        const uint64_t at = offset + done;
        const unsigned chunk = static_cast<unsigned>(
            std::min<uint64_t>(size.bytes() - done, kPageSize - (at & kPageMask)));
        const std::optional<GuestPhysAddr> target = aperture_target(at);
        if (!target || !port.write_guest(*target, std::span(bytes).subspan(done, chunk))) {
            ++counters.aperture_unmapped;  // lands in the scratch page
        }
        done += chunk;
    }
    return TrapResult::Handled;
}

void Vgpu::Impl::sync_gtt() {
    if (!ggtt_shadow) {
        return;
    }
    if (backing != nullptr) {
        ggtt_shadow->sync_from(*backing);
    } else {
        ggtt_shadow->flush();
    }
    ppgtt->sync();
}

bool Vgpu::Impl::g2v_notify(uint32_t code, const uint64_t (&pdp)[4]) {
    // Codes per intel-gpu.md §9.4: 2/3 L3 create/destroy, 4/5 L4, 6/7
    // execlist contexts (nothing to shadow for those).
    if (code < pvinfo::kG2vPpgttL3Create || code > pvinfo::kG2vPpgttL4Destroy) {
        return true;
    }
    if (!ppgtt) {
        return true;  // no GPU behind this vGPU: recorded only
    }
    const bool four = code >= pvinfo::kG2vPpgttL4Create;
    const bool create = code % 2 == 0;
    PpgttRoot root{four ? PpgttRoot::Levels::Four : PpgttRoot::Levels::Three,
                   {pdp[0], four ? 0 : pdp[1], four ? 0 : pdp[2], four ? 0 : pdp[3]}};
    if (create) {
        return ppgtt->create(root).has_value();
    }
    return ppgtt->destroy(root);
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
}

void Vgpu::Impl::refresh_windows() {
    if (!bars.update(cfg)) {
        return;
    }
    ++counters.trap_window_updates;
    if (backing == nullptr) {
        port.set_trap_windows(bars.windows());
        return;
    }
    // RAM-backed GGTT: BAR0's upper half is memory, so only its register
    // half traps, and the backing follows BAR0 wherever the guest puts it.
    std::array<TrapWindow, 3> windows{};
    std::span<const TrapWindow> decoded = bars.windows();
    std::copy(decoded.begin(), decoded.end(), windows.begin());
    const std::optional<GuestPhysAddr>& bar0 = bars.bases().bar0;
    std::optional<GuestFrame> placement;
    if (bar0) {
        for (TrapWindow& w : std::span(windows).first(decoded.size())) {
            if (w.space == TrapSpace::Mmio && w.first == bar0->value()) {
                w.last = w.first + mmio::kGgttOffset - 1;
            }
        }
        placement = frame_of(GuestPhysAddr{bar0->value() + mmio::kGgttOffset});
    }
    if (!backing->place(placement)) {
        // The hypervisor refused: fall back to trapping the whole table.
        XENGT_LOG(LogLevel::Error, config.name,
                  "GGTT RAM backing could not follow BAR0; trapping GGTT writes from now on");
        // What the guest wrote into RAM becomes the trapped table's contents.
        ggtt_shadow->sync_from(*backing);
        backing = nullptr;
        for (const GmRange& r : {config.mappable, config.hidden}) {
            const uint64_t first = r.base.value() >> kPageShift;
            for (uint64_t i = first; i < first + (r.size >> kPageShift); ++i) {
                if (const uint64_t e = ggtt_shadow->guest_entry(i); e != 0) {
                    ggtt.write(static_cast<uint32_t>(i * 8), AccessSize::qword(), e);
                }
            }
        }
        port.set_trap_windows(bars.windows());
        return;
    }
    port.set_trap_windows(std::span(windows).first(decoded.size()));
}

Vgpu::Vgpu(VgpuConfig config, HypervisorPort& hypervisor, std::optional<GpuLink> gpu)
    : impl_(std::make_unique<Impl>(std::move(config), hypervisor, gpu)) {}

Vgpu::~Vgpu() = default;

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
