// The GGTT RAM backing (mediator::GgttRamBacking) on Xen: 8 MiB of real guest
// RAM that appears under the GGTT half of BAR0, so the guest's PTE stores land
// in memory instead of trapping one by one.
//
// Creation (any failure undoes the earlier steps and throws XenError):
//   1. raise the domain's max memory by 8 MiB (xc_domain_setmaxmem, from the
//      current limit read with xc_domain_getinfolist): the frames are charged
//      to the guest, and its own headroom stays what the toolstack gave it;
//   2. populate 2048 frames at the parking gfns (below);
//   3. map them into xengtd once (xenforeignmemory_map). A foreign mapping
//      follows the frame, not the gfn, so page() stays valid across moves.
// place(first) moves the frames with xendevicemodel_relocate_memory to
// [first, first + 2048) or back to parking (nullopt). collect_dirty() asks
// xendevicemodel_track_dirty_vram about the current placement.
//
// Parking: gfns [2^27 - 2048, 2^27), the 8 MiB just below 512 GiB. hvmloader
// lays a guest out as RAM below the MMIO hole, RAM from 4 GiB up, then 64-bit
// BARs just above that, all within 4 GiB + max memory plus a few BARs; the
// constructor refuses a guest big enough to reach the parking place. Staying
// below 2^39 keeps the gfns within the 39-bit physical address width of the
// Skylake client parts this GPU lives in, so no check of guest-physical width
// can refuse them. The guest never sees these gfns (its E820 and BARs do not
// cover them), so it never populates or decodes them. One cost: they raise
// the domain's highest mapped gfn (xc_domain_maximum_gpfn) to just below
// 512 GiB, which tools walking every gfn would notice; a guest with a vGPU is
// not migrated anyway.
//
// Destruction: unmap, then give the frames back (decrease reservation) and
// lower max memory again by what was added. Leaving them to the domain would
// also be safe (they die with it), but a backing left under BAR0 would keep
// swallowing the guest's GGTT writes after xengtd let go of it, so a later
// session could never trap them. On a dead domain both calls fail quietly.
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <string>

#include "mediator/base/log.hpp"
#include "mediator/hypervisor_port.hpp"
#include "xengt/xen/domain_info.hpp"
#include "xengt/xen/handles.hpp"

namespace xengt::xen {

class XenGgttBacking final : public mediator::GgttRamBacking {
public:
    static constexpr uint64_t kParkingFirst = (uint64_t{1} << (39 - 12)) - kPages;

    XenGgttBacking(xendevicemodel_handle* dm, xenforeignmemory_handle* fmem,
                   const DomainInfo& domains, uint16_t domid, std::string subject);  // throws
    ~XenGgttBacking() override;
    XenGgttBacking(const XenGgttBacking&) = delete;
    XenGgttBacking& operator=(const XenGgttBacking&) = delete;

    bool place(std::optional<GuestFrame> first) override;
    std::byte* page(uint32_t index) override;
    bool collect_dirty(std::span<uint64_t, kDirtyWords> dirty) override;

    std::optional<GuestFrame> placement() const { return placement_; }

private:
    uint64_t location() const { return placement_ ? placement_->value() : kParkingFirst; }
    bool move(uint64_t from, uint64_t to);
    // Folds what Xen saw of the current placement into pending_ and stops tracking.
    void harvest_and_stop();
    void stop_tracking();
    bool range_empty(uint64_t first) const;
    void release_frames(LogLevel failure_level) noexcept;
    void restore_max_pages() noexcept;
    void log_failure(const std::exception& e, LogLevel level) noexcept;

    xendevicemodel_handle* dm_;
    xenforeignmemory_handle* fmem_;
    const DomainInfo& domains_;
    uint16_t domid_;
    std::string subject_;
    uint64_t original_max_pages_ = 0;
    uint64_t raised_max_pages_ = 0;
    ForeignMapping mapping_;
    std::optional<GuestFrame> placement_;          // nullopt: parked
    bool tracking_ = false;                        // Xen tracks the current placement
    std::array<uint64_t, kDirtyWords> pending_{};  // dirty bits from earlier placements
    RateLimiter log_limit_{5, std::chrono::seconds(10)};
};

}  // namespace xengt::xen
