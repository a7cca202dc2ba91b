// MachineFramePins: one guest's frames as a real GPU reaches them, by
// machine frame.
//
// Pinning a guest frame foreign-maps that page into xengtd and asks a
// MachineFrameSource (the xengt-mfn module) which machine frame Xen put behind
// the mapping; that frame is what the mediator writes into GPU tables.
//
// Why each piece:
//   - Holding the mapping is the pin: while dom0 maps a page, Xen keeps a
//     reference to it, so a guest that gives the page back (ballooning,
//     decrease_reservation) or dies cannot have it reused by another domain
//     while a GPU table may still name its machine frame.
//   - Translations are cached: after the last unpin the mapping and its
//     machine frame are kept (up to `cache_frames` of them, least recently
//     unpinned dropped first), because shadow page tables and GGTT rewrites
//     pin the same pages over and over and each miss costs a map call and an
//     ioctl.
//   - Nothing tells dom0 that a guest frame now has another machine frame
//     behind it except IOREQ_TYPE_INVALIDATE (xen-ioreq.md). invalidate()
//     therefore drops every cached translation, and marks pinned ones stale:
//     a stale entry is dropped at its last unpin instead of being cached, and
//     the next pin of its gfn resolves the gfn again. If the guest really
//     swapped the page under a live GPU entry, the GPU keeps the old (still
//     pinned, still the guest's own) page until that entry goes, and the
//     mismatch is logged: never another domain's memory.
//   - Every frame held is registered in the device-wide MachineFrameRegistry
//     as {Guest, domid, gfn}, which the isolation checker consults; a frame
//     the registry already knows is refused.
//
// Pins nest per gfn. Lookup is one hash probe; the cache's recency list is
// intrusive (no allocation); a miss costs one map call, one ioctl and one
// hash insertion.
//
// Thread safety: not thread-safe; one guest's pins are used by that guest's
// serving thread (invalidate() included: INVALIDATE arrives on that loop).
// The handle, the source and the registry must outlive this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "mediator/base/log.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "xengt/xen/guest_memory.hpp"
#include "xengt/xen/handles.hpp"
#include "xengt/xen/machine_frames.hpp"

namespace xengt::xen {

struct MachineFramePinsCounters {
    uint64_t resolves = 0;           // map + query of a gfn (cache misses)
    uint64_t cache_hits = 0;         // pins answered from an unpinned cached entry
    uint64_t invalidations = 0;      // invalidate() calls
    uint64_t changed_under_gpu = 0;  // stale pinned gfns found on another frame
    uint64_t failures = 0;           // pins refused (not RAM, query error, registry clash)
};

class MachineFramePins final : public mediator::GuestFramePins, public TranslationCache {
public:
    static constexpr size_t kDefaultCacheFrames = 1024;
    static constexpr size_t kInitialBuckets = 4096;

    MachineFramePins(xenforeignmemory_handle* fmem, uint16_t domid, MachineFrameSource& source,
                     MachineFrameRegistry& registry, size_t cache_frames = kDefaultCacheFrames);
    // Unregisters and unmaps everything, logging pins still held.
    ~MachineFramePins() override;
    MachineFramePins(const MachineFramePins&) = delete;
    MachineFramePins& operator=(const MachineFramePins&) = delete;

    // The machine frame of `gfn`, pinned until the matching unpin. nullopt
    // (nothing held, nothing counted as pinned) if `gfn` is not the guest's
    // RAM, the domain is gone, the source refuses, or the frame is already
    // registered to someone.
    std::optional<HostFrame> pin(GuestFrame gfn) override;
    // Unpinning a gfn that is not pinned is a caller bug: logged, ignored.
    void unpin(GuestFrame gfn) override;
    // IOREQ_TYPE_INVALIDATE: forget every translation not in use.
    void invalidate() override;

    size_t pinned() const { return pinned_; }  // distinct gfns with pins
    size_t cached() const { return cached_; }  // unpinned, still mapped
    size_t mapped() const { return entries_.size(); }
    const MachineFramePinsCounters& counters() const { return counters_; }

private:
    struct Entry {
        ForeignMapping mapping;
        HostFrame frame{};
        uint64_t refs = 0;
        bool stale = false;
        // Recency list of cached (unpinned) entries, newest at head_.
        bool listed = false;
        Entry* newer = nullptr;
        Entry* older = nullptr;
        GuestFrame gfn{};
    };
    using Map = std::unordered_map<uint64_t, Entry>;

    // Map `gfn` and learn its machine frame; nullopt if either fails.
    std::optional<std::pair<ForeignMapping, HostFrame>> resolve(GuestFrame gfn);
    std::optional<HostFrame> pin_stale(Entry& e);
    void list_push(Entry& e);
    void list_remove(Entry& e);
    Map::iterator drop(Map::iterator it);  // unregister, then unmap; the next entry
    void warn(const char* what, GuestFrame gfn, int err = 0);

    xenforeignmemory_handle* fmem_;
    uint16_t domid_;
    MachineFrameSource& source_;
    MachineFrameRegistry& registry_;
    size_t cache_frames_;
    std::string subject_;
    Map entries_;            // by gfn
    Entry* head_ = nullptr;  // most recently unpinned
    Entry* tail_ = nullptr;  // least recently unpinned: evicted first
    size_t pinned_ = 0;
    size_t cached_ = 0;
    MachineFramePinsCounters counters_;
    RateLimiter log_limit_{10, std::chrono::seconds(1)};
};

}  // namespace xengt::xen
