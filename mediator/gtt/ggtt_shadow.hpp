// One vGPU's share of the physical GGTT: the guest's entries, translated.
//
// The guest writes GGTT entries naming its own guest frames; the GPU needs
// host frames. For every entry inside the vGPU's partition (its mappable and
// hidden GM slices) this keeps the guest's value as last applied, pins the
// frame it names and writes the translated entry into the physical GGTT. An
// entry naming a frame that is not the guest's RAM becomes the scratch page
// (counted); an index outside the partition is never written at all, so a
// guest can only ever reach the physical entries of its own slices.
//
// Two ways the guest's entries arrive (GgttStrategy): trapped one by one
// (apply), or written straight into RAM behind BAR0 + 8 MiB and collected
// when the guest flushes (sync_from), comparing against what was applied.
// Single-threaded: the vGPU's event loop owns it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "mediator/base/types.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"
#include "mediator/guest_log.hpp"
#include "mediator/hypervisor_port.hpp"
#include "mediator/vgpu.hpp"

namespace xengt::mediator {

struct GgttCounters {
    uint64_t applied = 0;            // entries written into the physical GGTT
    uint64_t unchanged = 0;          // writes that repeated the applied value
    uint64_t outside_partition = 0;  // guest writes dropped: index not in its slices
    uint64_t scratch = 0;            // present entries pointed at the scratch page
    uint64_t syncs = 0;              // sync_from passes
    uint64_t synced_pages = 0;       // backing pages compared by sync_from
};

class GgttShadow {
public:
    // Every entry of the partition starts as the scratch page, so nothing a
    // previous owner of these slices mapped stays reachable.
    GgttShadow(GuestLog& log, const GmRange& mappable, const GmRange& hidden, GuestFramePins& pins,
               PhysicalGgtt& ggtt, HostFrame scratch);
    ~GgttShadow();  // points the partition at scratch and drops every pin
    GgttShadow(const GgttShadow&) = delete;
    GgttShadow& operator=(const GgttShadow&) = delete;

    // The partition as GGTT entry ranges {first, count}: mappable, hidden.
    struct EntryRange {
        uint64_t first;
        uint64_t count;
    };
    std::array<EntryRange, 2> ranges() const {
        return {EntryRange{low_first_, low_count_}, EntryRange{high_first_, high_count_}};
    }

    // True if GGTT entry `index` belongs to this vGPU's slices.
    bool owns(uint64_t index) const { return slot_of(index) != kNoSlot; }

    // The guest's entry `index` is now `guest_pte`. Outside the partition the
    // write is dropped (false); else translated and written (true).
    bool apply(uint64_t index, uint64_t guest_pte);

    // The guest's value last applied at `index` (0 outside the partition).
    uint64_t guest_entry(uint64_t index) const;

    // The guest frame the entry at `index` maps, if present and applied.
    std::optional<GuestFrame> mapped_frame(uint64_t index) const;

    // RAM-backed strategy: compare the backing's entries with what was
    // applied, page by page (only pages the backing reports dirty, or every
    // partition page if it cannot tell), and apply what changed.
    void sync_from(GgttRamBacking& backing);

    // Back to the initial state: every partition entry scratch, no pins.
    void reset();

    // Make applied entries visible to the GPU (GFX_FLSH_CNTL).
    void flush() { ggtt_.flush(); }

    const GgttCounters& counters() const { return counters_; }
    uint64_t pinned_entries() const { return pinned_count_; }
    HostFrame scratch() const { return scratch_; }

private:
    static constexpr uint32_t kNoSlot = ~uint32_t{0};
    static constexpr uint64_t kEntriesPerPage = kPageSize / 8;

    // Index of the per-entry state for GGTT entry `index`, or kNoSlot.
    uint32_t slot_of(uint64_t index) const {
        if (index - low_first_ < low_count_) {
            return static_cast<uint32_t>(index - low_first_);
        }
        if (index - high_first_ < high_count_) {
            return static_cast<uint32_t>(low_count_ + (index - high_first_));
        }
        return kNoSlot;
    }
    void apply_slot(uint64_t index, uint32_t slot, uint64_t guest_pte);
    void release_pin(uint32_t slot);
    void sync_page(GgttRamBacking& backing, uint32_t page);

    GuestLog& log_;
    GuestFramePins& pins_;
    PhysicalGgtt& ggtt_;
    HostFrame scratch_;
    uint64_t low_first_;
    uint64_t low_count_;
    uint64_t high_first_;
    uint64_t high_count_;
    std::vector<uint64_t> applied_;  // per slot: the guest's value now in force
    std::vector<bool> pinned_;       // per slot: a pin is held for applied_'s frame
    uint64_t pinned_count_ = 0;
    GgttCounters counters_;
};

}  // namespace xengt::mediator
