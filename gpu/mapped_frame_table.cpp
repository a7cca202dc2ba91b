#include "gpu/mapped_frame_table.hpp"

#include <algorithm>

#include <sys/mman.h>

#include <cstring>
#include <new>
#include <stdexcept>

namespace xengt::gpu {

namespace {

using Kind = mediator::FrameOwner::Kind;

// Meta.gfn of a run's page (pool pages have 0): release() must not take it.
constexpr uint64_t kRunPage = 1;

constexpr uint64_t pack_owner(Kind kind, uint32_t domid) {
    return uint64_t{static_cast<uint8_t>(kind)} << 32 | domid;
}
constexpr Kind kind_of(uint64_t owner) {
    return static_cast<Kind>(static_cast<uint8_t>(owner >> 32));
}

uint64_t checked_capacity(uint64_t capacity) {
    if (capacity < 2 || capacity > (uint64_t{1} << 32)) {
        throw std::invalid_argument("MappedFrameTable: capacity must be 2 .. 2^32 slots");
    }
    return capacity;
}

template <class T>
std::atomic_ref<T> aref(T& object) {
    return std::atomic_ref<T>(object);
}

}  // namespace

MappedFrameTable::MappedFrameTable(uint64_t capacity)
    : capacity_(checked_capacity(capacity)),
      pages_(capacity_),
      meta_(capacity_),
      next_free_(capacity_) {}

MappedFrameTable::~MappedFrameTable() {
    for (void* chunk : chunks_) {
        munmap(chunk, kChunkPages * kPageSize);
    }
    for (const auto& [mapping, pages] : runs_) {
        munmap(mapping, pages * kPageSize);
    }
}

std::optional<uint32_t> MappedFrameTable::take_slot() {
    if (free_head_ != 0) {
        const uint32_t slot = free_head_;
        free_head_ = next_free_.get()[slot];
        if (free_head_ == 0) {
            free_tail_ = 0;
        }
        return slot;
    }
    if (never_used_ < capacity_) {
        return static_cast<uint32_t>(never_used_++);
    }
    return std::nullopt;
}

void MappedFrameTable::put_slot(uint32_t slot) {
    next_free_.get()[slot] = 0;
    if (free_tail_ == 0) {
        free_head_ = slot;
    } else {
        next_free_.get()[free_tail_] = slot;
    }
    free_tail_ = slot;
}

void MappedFrameTable::publish(uint32_t slot, std::byte* page, uint64_t owner, uint64_t gfn) {
    Meta& m = meta_.get()[slot];
    aref(m.owner).store(owner, std::memory_order_relaxed);
    aref(m.gfn).store(gfn, std::memory_order_relaxed);
    // Release: a reader that sees the page also sees its owner.
    aref(pages_.get()[slot]).store(page, std::memory_order_release);
}

void MappedFrameTable::clear(uint32_t slot) {
    // The page first: from here on frame() faults rather than reach it.
    aref(pages_.get()[slot]).store(nullptr, std::memory_order_release);
    Meta& m = meta_.get()[slot];
    aref(m.owner).store(pack_owner(Kind::None, 0), std::memory_order_relaxed);
    aref(m.gfn).store(0, std::memory_order_relaxed);
}

mediator::FrameOwner::Kind MappedFrameTable::kind_locked(uint64_t slot) const {
    // Atomic loads even under the mutex: lock-free readers may hold an
    // atomic_ref to the same objects, so every access must be atomic.
    if (slot == 0 || slot >= capacity_ || load_page(slot) == nullptr) {
        return Kind::None;
    }
    return kind_of(aref(meta_.get()[slot].owner).load(std::memory_order_relaxed));
}

std::optional<HostFrame> MappedFrameTable::add_guest_page(std::byte* page, uint32_t domid,
                                                          GuestFrame gfn) {
    if (page == nullptr) {
        return std::nullopt;
    }
    std::lock_guard lock(mutex_);
    const std::optional<uint32_t> slot = take_slot();
    if (!slot) {
        return std::nullopt;
    }
    publish(*slot, page, pack_owner(Kind::Guest, domid), gfn.value());
    guest_pages_.fetch_add(1, std::memory_order_relaxed);
    return HostFrame{*slot};
}

void MappedFrameTable::remove(HostFrame f) {
    std::lock_guard lock(mutex_);
    if (kind_locked(f.value()) != Kind::Guest) {
        return;
    }
    const auto slot = static_cast<uint32_t>(f.value());
    clear(slot);
    put_slot(slot);
    guest_pages_.fetch_sub(1, std::memory_order_relaxed);
}

// Under mutex_. A released page (zeroed here: its last user's data must not
// leak into the next one), else the next page of the newest chunk, else a new
// chunk (anonymous memory: already zero).
std::byte* MappedFrameTable::take_pool_page() {
    if (!free_pages_.empty()) {
        std::byte* page = free_pages_.back();
        free_pages_.pop_back();
        std::memset(page, 0, kPageSize);
        return page;
    }
    if (chunk_used_ == kChunkPages) {
        chunks_.reserve(chunks_.size() + 1);  // may throw: before the chunk exists
        void* chunk = mmap(nullptr, kChunkPages * kPageSize, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (chunk == MAP_FAILED) {
            return nullptr;
        }
        chunks_.push_back(chunk);
        chunk_used_ = 0;
        pool_mapped_.fetch_add(kChunkPages, std::memory_order_relaxed);
    }
    return static_cast<std::byte*>(chunks_.back()) + (chunk_used_++) * kPageSize;
}

std::optional<mediator::HostPage> MappedFrameTable::allocate() {
    std::lock_guard lock(mutex_);
    const std::optional<uint32_t> slot = take_slot();
    if (!slot) {
        return std::nullopt;
    }
    std::byte* page = nullptr;
    try {
        page = take_pool_page();
    } catch (const std::bad_alloc&) {
        page = nullptr;
    }
    if (page == nullptr) {
        put_slot(*slot);
        return std::nullopt;
    }
    publish(*slot, page, pack_owner(Kind::HostPage, 0), 0);
    host_pages_.fetch_add(1, std::memory_order_relaxed);
    return mediator::HostPage{HostFrame{*slot}, page};
}

std::optional<mediator::HostRun> MappedFrameTable::allocate_run(size_t count) {
    if (count == 0 || count > capacity_) {
        return std::nullopt;
    }
    mediator::HostRun run;
    run.frames.reserve(count);
    void* mapping = mmap(nullptr, count * kPageSize, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        return std::nullopt;
    }
    run.data = static_cast<std::byte*>(mapping);
    std::lock_guard lock(mutex_);
    try {
        runs_.reserve(runs_.size() + 1);
    } catch (const std::bad_alloc&) {
        munmap(mapping, count * kPageSize);
        return std::nullopt;
    }
    for (size_t i = 0; i < count; ++i) {
        const std::optional<uint32_t> slot = take_slot();
        if (!slot) {
            for (const HostFrame f : run.frames) {
                clear(static_cast<uint32_t>(f.value()));
                put_slot(static_cast<uint32_t>(f.value()));
            }
            munmap(mapping, count * kPageSize);
            return std::nullopt;
        }
        publish(*slot, run.data + i * kPageSize, pack_owner(Kind::HostPage, 0), kRunPage);
        run.frames.push_back(HostFrame{*slot});
    }
    host_pages_.fetch_add(count, std::memory_order_relaxed);
    runs_.emplace_back(mapping, count);
    return run;
}

void MappedFrameTable::release_run(const mediator::HostRun& run) {
    std::lock_guard lock(mutex_);
    const auto it = std::find_if(runs_.begin(), runs_.end(),
                                 [&](const auto& r) { return r.first == run.data; });
    if (it == runs_.end() || it->second != run.frames.size()) {
        return;
    }
    for (const HostFrame f : run.frames) {
        clear(static_cast<uint32_t>(f.value()));
        put_slot(static_cast<uint32_t>(f.value()));
    }
    host_pages_.fetch_sub(run.frames.size(), std::memory_order_relaxed);
    munmap(it->first, it->second * kPageSize);
    runs_.erase(it);
}

void MappedFrameTable::release(HostFrame frame) {
    std::lock_guard lock(mutex_);
    if (kind_locked(frame.value()) != Kind::HostPage ||
        aref(meta_.get()[frame.value()].gfn).load(std::memory_order_relaxed) == kRunPage) {
        return;
    }
    const auto slot = static_cast<uint32_t>(frame.value());
    std::byte* page = load_page(slot);
    try {
        free_pages_.push_back(page);
    } catch (const std::bad_alloc&) {
        // Dropping the page from reuse only wastes it until the table goes.
    }
    clear(slot);
    put_slot(slot);
    host_pages_.fetch_sub(1, std::memory_order_relaxed);
}

mediator::FrameOwner MappedFrameTable::owner(HostFrame frame) const {
    if (frame.value() >= capacity_ || load_page(frame.value()) == nullptr) {
        return {};
    }
    Meta& m = meta_.get()[frame.value()];
    const uint64_t packed = aref(m.owner).load(std::memory_order_relaxed);
    const uint64_t gfn = aref(m.gfn).load(std::memory_order_relaxed);
    mediator::FrameOwner o;
    o.kind = kind_of(packed);
    if (o.kind == Kind::Guest) {
        o.guest = static_cast<uint32_t>(packed);
        o.gfn = GuestFrame{gfn};
    }
    return o;
}

}  // namespace xengt::gpu
