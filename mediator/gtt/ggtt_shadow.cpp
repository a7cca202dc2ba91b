#include "mediator/gtt/ggtt_shadow.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

namespace xengt::mediator {
namespace {

using EntryRange = GgttShadow::EntryRange;

// A GM slice as GGTT entries; checked against the physical table so that a
// bad partition is a construction error, never an out-of-range write later.
EntryRange entries_of(const GmRange& r, const PhysicalGgtt& ggtt, const char* what) {
    const uint64_t base = r.base.value();
    if (base % kPageSize != 0 || r.size % kPageSize != 0) {
        throw std::invalid_argument(std::string(what) + " slice is not page aligned");
    }
    const EntryRange e{base >> kPageShift, r.size >> kPageShift};
    if (e.first > ggtt.entries() || e.count > ggtt.entries() - e.first) {
        throw std::invalid_argument(std::string(what) + " slice lies beyond the GGTT");
    }
    return e;
}

}  // namespace

const char* to_string(GgttStrategy s) {
    switch (s) {
        case GgttStrategy::Trap:
            return "trap";
        case GgttStrategy::RamBacked:
            return "ram-backed";
    }
    return "?";
}

GgttShadow::GgttShadow(GuestLog& log, const GmRange& mappable, const GmRange& hidden,
                       GuestFramePins& pins, PhysicalGgtt& ggtt, HostFrame scratch)
    : log_(log), pins_(pins), ggtt_(ggtt), scratch_(scratch) {
    const EntryRange low = entries_of(mappable, ggtt, "mappable");
    const EntryRange high = entries_of(hidden, ggtt, "hidden");
    if (low.first < high.first + high.count && high.first < low.first + low.count) {
        throw std::invalid_argument("mappable and hidden slices overlap");
    }
    if (low.count + high.count >= kNoSlot) {
        throw std::invalid_argument("partition too large");
    }
    low_first_ = low.first;
    low_count_ = low.count;
    high_first_ = high.first;
    high_count_ = high.count;
    applied_.assign(low_count_ + high_count_, 0);
    pinned_.assign(applied_.size(), false);
    reset();
}

GgttShadow::~GgttShadow() {
    reset();
}

void GgttShadow::reset() {
    const uint64_t blank = GgttPte::make(scratch_, 0);
    auto blank_range = [&](uint64_t first, uint64_t count) {
        for (uint64_t i = 0; i < count; ++i) {
            ggtt_.write(first + i, blank);
        }
    };
    // Scratch first, then drop the pins: the GPU never sees a released frame.
    blank_range(low_first_, low_count_);
    blank_range(high_first_, high_count_);
    ggtt_.flush();
    for (uint32_t slot = 0; slot < applied_.size(); ++slot) {
        release_pin(slot);
        applied_[slot] = 0;
    }
}

bool GgttShadow::apply(uint64_t index, uint64_t guest_pte) {
    const uint32_t slot = slot_of(index);
    if (slot == kNoSlot) {
        // i915 balloons everything outside its slices away, so this is either
        // a scrub of the whole table or hostile; either way it reaches nothing.
        ++counters_.outside_partition;
        return false;
    }
    apply_slot(index, slot, guest_pte);
    return true;
}

void GgttShadow::apply_slot(uint64_t index, uint32_t slot, uint64_t guest_pte) {
    if (applied_[slot] == guest_pte) {
        ++counters_.unchanged;
        return;
    }
    uint64_t host_pte = GgttPte::make(scratch_, 0);
    bool pinned = false;
    if (GgttPte::present(guest_pte)) {
        const GuestFrame gfn{GgttPte::frame_number(guest_pte)};
        if (const std::optional<HostFrame> host = pins_.pin(gfn)) {
            host_pte = GgttPte::make(*host, guest_pte);
            pinned = true;
        } else {
            ++counters_.scratch;
            XENGT_GUEST_LOG(log_, LogLevel::Warn,
                            "GGTT entry %#llx names gfn %#llx, not guest RAM: scratch page",
                            static_cast<unsigned long long>(index),
                            static_cast<unsigned long long>(gfn.value()));
        }
    }
    // New entry first, then release the old frame: the GPU never holds an
    // entry to a frame we no longer pin.
    ggtt_.write(index, host_pte);
    release_pin(slot);
    applied_[slot] = guest_pte;
    pinned_[slot] = pinned;
    pinned_count_ += pinned;
    ++counters_.applied;
}

void GgttShadow::release_pin(uint32_t slot) {
    if (pinned_[slot]) {
        pins_.unpin(GuestFrame{GgttPte::frame_number(applied_[slot])});
        pinned_[slot] = false;
        --pinned_count_;
    }
}

uint64_t GgttShadow::guest_entry(uint64_t index) const {
    const uint32_t slot = slot_of(index);
    return slot == kNoSlot ? 0 : applied_[slot];
}

std::optional<GuestFrame> GgttShadow::mapped_frame(uint64_t index) const {
    const uint32_t slot = slot_of(index);
    if (slot == kNoSlot || !pinned_[slot]) {
        return std::nullopt;
    }
    return GuestFrame{GgttPte::frame_number(applied_[slot])};
}

void GgttShadow::sync_page(GgttRamBacking& backing, uint32_t page) {
    const std::byte* bytes = backing.page(page);
    if (bytes == nullptr) {
        return;
    }
    ++counters_.synced_pages;
    const uint64_t first = uint64_t{page} * kEntriesPerPage;
    for (uint64_t i = 0; i < kEntriesPerPage; ++i) {
        const uint32_t slot = slot_of(first + i);
        if (slot == kNoSlot) {
            continue;
        }
        uint64_t pte = 0;
        std::memcpy(&pte, bytes + i * 8, sizeof(pte));
        if (pte != applied_[slot]) {
            apply_slot(first + i, slot, pte);
        }
    }
}

void GgttShadow::sync_from(GgttRamBacking& backing) {
    ++counters_.syncs;
    std::array<uint64_t, GgttRamBacking::kDirtyWords> dirty{};
    const bool known = backing.collect_dirty(dirty);
    // Only pages overlapping the partition can change anything.
    auto sync_range = [&](uint64_t first, uint64_t count) {
        if (count == 0) {
            return;
        }
        const uint64_t last_page = (first + count - 1) / kEntriesPerPage;
        for (uint64_t page = first / kEntriesPerPage;
             page <= last_page && page < GgttRamBacking::kPages; ++page) {
            if (!known || (dirty[page / 64] >> (page % 64) & 1) != 0) {
                sync_page(backing, static_cast<uint32_t>(page));
            }
        }
    };
    sync_range(low_first_, low_count_);
    sync_range(high_first_, high_count_);
    ggtt_.flush();
}

}  // namespace xengt::mediator
