// The vGPU's graphics memory: the GGTT as the guest writes it (trapped or
// RAM-backed), the aperture, PPGTT notifications, and the trap windows the
// RAM backing shapes. The translation itself lives in gtt/.
#include <algorithm>
#include <array>
#include <cstring>

#include "mediator/mmio/bar0_layout.hpp"
#include "mediator/pvinfo.hpp"
#include "mediator/vgpu_impl.hpp"

namespace xengt::mediator {

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

bool Vgpu::Impl::aperture_reachable(uint64_t offset, AccessSize size, const char* verb) {
    if (!ggtt_shadow) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "aperture %s at +0x%llx: no GPU behind this vGPU",
                        verb, static_cast<unsigned long long>(offset));
        return false;
    }
    if (!ggtt_shadow->owns(offset >> kPageShift) ||
        !ggtt_shadow->owns((offset + size.bytes() - 1) >> kPageShift)) {
        XENGT_GUEST_LOG(log, LogLevel::Warn, "aperture %s at +0x%llx outside the guest's slice",
                        verb, static_cast<unsigned long long>(offset));
        return false;
    }
    return true;
}

void Vgpu::Impl::aperture_copy(uint64_t offset, std::span<std::byte> bytes, bool write) {
    // Piece by piece only when the access straddles two pages (two entries).
    for (size_t done = 0; done < bytes.size();) {
        const uint64_t at = offset + done;
        const size_t chunk = std::min<uint64_t>(bytes.size() - done, kPageSize - (at & kPageMask));
        const std::span<std::byte> piece = bytes.subspan(done, chunk);
        const std::optional<GuestPhysAddr> target = aperture_target(at);
        const bool reached =
            target && (write ? port.write_guest(*target, piece) : port.read_guest(*target, piece));
        if (!reached) {
            ++counters.aperture_unmapped;  // the scratch page: reads zero, swallows writes
        }
        done += chunk;
    }
}

TrapRead Vgpu::Impl::aperture_read(uint64_t offset, AccessSize size) {
    if (!aperture_reachable(offset, size, "read")) {
        return {size.mask(), TrapResult::Rejected};
    }
    ++counters.aperture_reads;
    std::array<std::byte, 8> bytes{};
    aperture_copy(offset, std::span(bytes).first(size.bytes()), false);
    uint64_t v = 0;
    std::memcpy(&v, bytes.data(), size.bytes());
    return {v, TrapResult::Handled};
}

TrapResult Vgpu::Impl::aperture_write(uint64_t offset, AccessSize size, uint64_t value) {
    if (!aperture_reachable(offset, size, "write")) {
        return TrapResult::Rejected;
    }
    ++counters.aperture_writes;
    std::array<std::byte, 8> bytes{};
    std::memcpy(bytes.data(), &value, size.bytes());
    aperture_copy(offset, std::span(bytes).first(size.bytes()), true);
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
        for (const GgttShadow::EntryRange& r : ggtt_shadow->ranges()) {
            for (uint64_t i = r.first; i < r.first + r.count; ++i) {
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

}  // namespace xengt::mediator
