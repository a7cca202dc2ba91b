// ForeignFramePins: one guest's frames made reachable by the software GPU.
//
// With the software GPU model on Xen, a host frame is a slot of a
// gpu::MappedFrameTable (architecture: "Host frames"). Pinning a guest frame
// foreign-maps that one page into xengtd and registers the mapping in the
// table as owned by {Guest, domid, gfn}; the slot index is the host frame the
// mediator writes into GPU tables.
//
// Holding the foreign mapping is what pins the frame: while dom0 maps a page
// Xen keeps a reference to it, so a guest that gives the page back
// (decrease_reservation, ballooning) or dies cannot get it freed and reused by
// another domain while a GPU table may still name it. The mapping is dropped
// only at the last unpin, after the table slot is gone. For the same reason a
// destroyed domain lingers (dying) until every pin of it is released.
//
// Pins nest per gfn: the first pin of a gfn costs one map call (and the table
// insertion); further pins of the same gfn only count, and return the same
// host frame. Lookup is one hash-table probe (reserved up front).
//
// Thread safety: not thread-safe; one guest's pins are used by that guest's
// serving thread only. The table is shared by every guest and is thread-safe.
// The foreign-memory handle and the table must outlive this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "gpu/mapped_frame_table.hpp"
#include "mediator/base/log.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "xengt/xen/handles.hpp"

namespace xengt::xen {

class ForeignFramePins final : public mediator::GuestFramePins {
public:
    static constexpr size_t kInitialBuckets = 4096;

    ForeignFramePins(xenforeignmemory_handle* fmem, uint16_t domid, gpu::MappedFrameTable& table);
    // Unpins everything still pinned (table slots first, then the mappings),
    // logging how many frames were left.
    ~ForeignFramePins() override;
    ForeignFramePins(const ForeignFramePins&) = delete;
    ForeignFramePins& operator=(const ForeignFramePins&) = delete;

    // nullopt (nothing mapped, nothing counted) if `gfn` is not the guest's
    // RAM, the domain is gone, or the table is full.
    std::optional<HostFrame> pin(GuestFrame gfn) override;
    // Unpinning a gfn that is not pinned is a caller bug: logged, ignored.
    void unpin(GuestFrame gfn) override;

    // Distinct guest frames currently pinned (= pages foreign-mapped).
    size_t pinned() const { return pins_.size(); }
    // Pins refused because the map call failed or a page was not RAM.
    uint64_t map_failures() const { return map_failures_; }

private:
    struct Pin {
        ForeignMapping mapping;
        HostFrame frame;
        uint64_t refs = 0;
    };
    void warn(const char* what, GuestFrame gfn);

    xenforeignmemory_handle* fmem_;
    uint16_t domid_;
    gpu::MappedFrameTable& table_;
    std::string subject_;
    std::unordered_map<uint64_t, Pin> pins_;  // by gfn
    uint64_t map_failures_ = 0;
    RateLimiter log_limit_{10, std::chrono::seconds(1)};
};

}  // namespace xengt::xen
