// MappedFrameTable: machine memory made of pages this process can address.
//
// The software GPU model on real Xen (and on the simulator, through the same
// shipping code) cannot reach guest RAM by machine frame: dom0 userspace only
// sees guest pages through foreign mappings. So here a "host frame" is an index
// into a table of CPU pointers, one 4 KiB page per slot (architecture: "Host
// frames"). A slot holds either
//   - a guest page foreign-mapped by xengtd (xen::ForeignFramePins adds and
//     removes those; owner {Guest, domid, gfn}), or
//   - a page of the table's own HostPagePool (shadow page tables, the scratch
//     page; owner HostPage), carved from 2 MiB anonymous chunks.
// Slot 0 is never handed out, so a zeroed GPU entry never names a real page.
//
// Concurrency contract:
//   - frame(), peek(), owner(), frames() and the counters are lock-free and
//     may be called from any thread (GPU engine threads, the isolation
//     checker) while other threads add, remove, allocate and release slots.
//     Each is O(1): a bounds check and atomic loads.
//   - add_guest_page(), remove(), allocate() and release() serialise on an
//     internal mutex; each is O(1) (no allocation once the slot free list has
//     warmed up, apart from a new 2 MiB chunk every 512 pool pages).
//   - A slot is published whole: its owner is written before its page pointer
//     (release), and a reader that sees the pointer (acquire) sees that owner.
//   - The caller guarantees that a slot is removed or released only after
//     every GPU table naming it has been rewritten (and the GPU told to forget
//     cached translations), so no GPU access can be in flight on it. The table
//     cannot check this; it only makes sure that once removed, frame() returns
//     nullptr (a GPU access there is a fault), never the old page. A removed
//     slot is reused only after every other free slot (FIFO), which makes a
//     broken caller less likely to hit somebody else's page, but does not
//     make such a caller correct.
//   - A reader racing a remove + re-add of the same slot may see the new
//     page with the new owner or nullptr; under the contract above no reader
//     that matters (one following a live GPU table) ever races this.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "gpu/machine_memory.hpp"
#include "mediator/base/zeroed_array.hpp"
#include "mediator/gtt/host_frames.hpp"

namespace xengt::gpu {

class MappedFrameTable final : public MachineMemory,
                               public mediator::HostPagePool,
                               public mediator::FrameOwnership {
public:
    static constexpr uint64_t kDefaultCapacity = uint64_t{1} << 20;  // 4 GiB of pages
    static constexpr size_t kChunkPages = 512;                       // pool chunk: 2 MiB

    // `capacity` slots (slot 0 included, never used): 2 .. 2^32. The slot
    // arrays are anonymous mappings committed only as slots are used. Throws
    // std::invalid_argument for a bad capacity, std::bad_alloc if the arrays
    // cannot be mapped.
    explicit MappedFrameTable(uint64_t capacity = kDefaultCapacity);
    ~MappedFrameTable() override;  // unmaps the pool's chunks; guest pages are the pins'
    MappedFrameTable(const MappedFrameTable&) = delete;
    MappedFrameTable& operator=(const MappedFrameTable&) = delete;

    // MachineMemory: frame numbers are slot indices.
    uint64_t frames() const override { return capacity_; }
    std::byte* frame(HostFrame f) override {
        return f.value() < capacity_ ? load_page(f.value()) : nullptr;
    }

    // Guest pages (for xen::ForeignFramePins). `page` is a 4 KiB page the
    // caller keeps mapped until remove(). nullopt if `page` is null or every
    // slot is in use.
    std::optional<HostFrame> add_guest_page(std::byte* page, uint32_t domid, GuestFrame gfn);
    // Empties a guest slot (the caller unmaps the page afterwards). Frames
    // that are not live guest slots are ignored.
    void remove(HostFrame f);

    // HostPagePool. allocate(): nullopt when every slot is in use or no chunk
    // can be mapped. release(): frames that are not live pool pages are
    // ignored. Released pages are kept for reuse (zeroed again when handed
    // out), never unmapped before the table is destroyed.
    std::optional<mediator::HostPage> allocate() override;
    void release(HostFrame frame) override;
    // A dedicated anonymous mapping of `count` pages, one slot per page
    // (owner HostPage). release_run() empties the slots and unmaps it.
    std::optional<mediator::HostRun> allocate_run(size_t count) override;
    void release_run(const mediator::HostRun& run) override;

    // FrameOwnership. A frame with no page (free, removed, slot 0, out of
    // range) is {None}.
    mediator::FrameOwner owner(HostFrame frame) const override;
    const std::byte* peek(HostFrame frame) const override {
        return frame.value() < capacity_ ? load_page(frame.value()) : nullptr;
    }

    // Live slots by kind, and pool memory mapped (in pages, used or not).
    size_t guest_pages() const { return guest_pages_.load(std::memory_order_relaxed); }
    size_t host_pages() const { return host_pages_.load(std::memory_order_relaxed); }
    size_t pool_pages_mapped() const { return pool_mapped_.load(std::memory_order_relaxed); }

private:
    // Who owns a slot, packed so that one atomic word says it: kind in bits
    // 39:32, domid in bits 31:0. The gfn is a second word.
    struct Meta {
        uint64_t owner;
        uint64_t gfn;
    };
    std::byte* load_page(uint64_t slot) const {
        return std::atomic_ref<std::byte*>(pages_.get()[slot]).load(std::memory_order_acquire);
    }
    // Under mutex_.
    std::optional<uint32_t> take_slot();
    void put_slot(uint32_t slot);
    void publish(uint32_t slot, std::byte* page, uint64_t owner, uint64_t gfn);
    void clear(uint32_t slot);
    std::byte* take_pool_page();
    mediator::FrameOwner::Kind kind_locked(uint64_t slot) const;

    const uint64_t capacity_;
    // Slot arrays: atomic_ref over lazily zeroed memory, so that a million
    // slots cost nothing until used (std::atomic arrays would be written whole
    // at construction). Every access outside mutex_ is atomic.
    ZeroedArray<std::byte*> pages_;
    ZeroedArray<Meta> meta_;
    ZeroedArray<uint32_t> next_free_;  // FIFO of freed slots (links), under mutex_

    mutable std::mutex mutex_;
    uint64_t never_used_ = 1;             // slots [never_used_, capacity_) were never handed out
    uint32_t free_head_ = 0;              // oldest freed slot, 0 if none
    uint32_t free_tail_ = 0;              // newest freed slot
    std::vector<void*> chunks_;           // pool chunks, each kChunkPages pages
    size_t chunk_used_ = kChunkPages;     // pages carved from chunks_.back()
    std::vector<std::byte*> free_pages_;  // released pool pages
    std::vector<std::pair<void*, size_t>> runs_;  // live runs: mapping, pages

    std::atomic<size_t> guest_pages_{0};
    std::atomic<size_t> host_pages_{0};
    std::atomic<size_t> pool_mapped_{0};
};

}  // namespace xengt::gpu
