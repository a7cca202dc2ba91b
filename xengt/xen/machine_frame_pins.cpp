#include "xengt/xen/machine_frame_pins.hpp"

#include <sys/mman.h>

#include <cstring>

namespace xengt::xen {

MachineFramePins::MachineFramePins(xenforeignmemory_handle* fmem, uint16_t domid,
                                   MachineFrameSource& source, MachineFrameRegistry& registry,
                                   size_t cache_frames)
    : fmem_(fmem),
      domid_(domid),
      source_(source),
      registry_(registry),
      cache_frames_(cache_frames),
      subject_("dom" + std::to_string(domid)) {
    entries_.reserve(kInitialBuckets);
}

MachineFramePins::~MachineFramePins() {
    if (pinned_ != 0) {
        XENGT_LOG(LogLevel::Warn, subject_,
                  "%zu guest frames still pinned for the GPU at teardown: releasing them", pinned_);
    }
    // Out of the registry first, then unmapped (the entries' destructors).
    for (const auto& [gfn, e] : entries_) {
        registry_.remove(e.frame);
    }
    entries_.clear();
}

void MachineFramePins::warn(const char* what, GuestFrame gfn, int err) {
    if (!log_limit_.allow(RateLimiter::Clock::now())) {
        return;
    }
    if (err != 0) {
        XENGT_LOG(LogLevel::Error, subject_, "%s (gfn %#llx): %s (errno %d)", what,
                  static_cast<unsigned long long>(gfn.value()), std::strerror(err), err);
    } else {
        XENGT_LOG(LogLevel::Error, subject_, "%s (gfn %#llx)", what,
                  static_cast<unsigned long long>(gfn.value()));
    }
}

std::optional<std::pair<ForeignMapping, HostFrame>> MachineFramePins::resolve(GuestFrame gfn) {
    // One page per map call: HVM guests' frames are single, unordered pages,
    // and each pin is released on its own.
    auto pfn = static_cast<xen_pfn_t>(gfn.value());
    int err = 0;
    void* addr = xenforeignmemory_map(fmem_, domid_, PROT_READ | PROT_WRITE, 1, &pfn, &err);
    if (addr == nullptr) {
        return std::nullopt;  // domain gone, or the mapping refused as a whole
    }
    ForeignMapping mapping(fmem_, addr, 1);
    if (err != 0) {
        return std::nullopt;  // privcmd keeps the address, but the page is not RAM
    }
    uint64_t frame = 0;
    ++counters_.resolves;
    if (const int q = source_.query(addr, 1, &frame); q != 0) {
        warn("cannot learn the machine frame of a guest page", gfn, q);
        return std::nullopt;
    }
    return std::make_pair(std::move(mapping), HostFrame{frame});
}

std::optional<HostFrame> MachineFramePins::pin(GuestFrame gfn) {
    if (auto it = entries_.find(gfn.value()); it != entries_.end()) {
        Entry& e = it->second;
        if (e.stale) {
            return pin_stale(e);
        }
        if (e.refs == 0) {
            list_remove(e);
            ++pinned_;
            ++counters_.cache_hits;
        }
        ++e.refs;
        return e.frame;
    }
    auto resolved = resolve(gfn);
    if (!resolved) {
        ++counters_.failures;
        return std::nullopt;
    }
    // The entry first (may throw, with nothing registered), then the registry.
    auto [it, inserted] = entries_.try_emplace(gfn.value());
    Entry& e = it->second;
    if (!registry_.add(resolved->second, domid_, gfn, resolved->first.data())) {
        entries_.erase(it);
        ++counters_.failures;
        warn("machine frame already held for another guest page: pin refused", gfn);
        return std::nullopt;
    }
    e.mapping = std::move(resolved->first);
    e.frame = resolved->second;
    e.gfn = gfn;
    e.refs = 1;
    ++pinned_;
    return e.frame;
}

std::optional<HostFrame> MachineFramePins::pin_stale(Entry& e) {
    // Pinned before an INVALIDATE: is the gfn still on the frame we hold?
    auto fresh = resolve(e.gfn);
    if (!fresh) {
        ++counters_.failures;  // no longer RAM: a new GPU entry may not name it
        return std::nullopt;
    }
    if (fresh->second == e.frame) {
        e.stale = false;  // unchanged; the second mapping goes with `fresh`
    } else {
        // The guest gave back a page its GPU tables still name and got another
        // one. One frame per gfn while any pin holds it: the GPU keeps the old
        // page (still pinned, still this guest's) until those entries go.
        ++counters_.changed_under_gpu;
        warn(
            "guest page moved to another machine frame while the GPU still reaches it; "
            "the GPU keeps the old page until the guest rewrites those entries",
            e.gfn);
    }
    ++e.refs;
    return e.frame;
}

void MachineFramePins::unpin(GuestFrame gfn) {
    auto it = entries_.find(gfn.value());
    if (it == entries_.end() || it->second.refs == 0) {
        warn("unpin of a guest frame that is not pinned: ignored", gfn);
        return;
    }
    Entry& e = it->second;
    if (--e.refs != 0) {
        return;
    }
    --pinned_;
    if (e.stale || cache_frames_ == 0) {
        drop(it);
        return;
    }
    list_push(e);
    if (cached_ > cache_frames_) {
        drop(entries_.find(tail_->gfn.value()));
    }
}

void MachineFramePins::invalidate() {
    ++counters_.invalidations;
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (it->second.refs == 0) {
            it = drop(it);
        } else {
            it->second.stale = true;
            ++it;
        }
    }
}

void MachineFramePins::list_push(Entry& e) {
    e.older = head_;
    e.newer = nullptr;
    if (head_ != nullptr) {
        head_->newer = &e;
    }
    head_ = &e;
    if (tail_ == nullptr) {
        tail_ = &e;
    }
    e.listed = true;
    ++cached_;
}

void MachineFramePins::list_remove(Entry& e) {
    (e.newer != nullptr ? e.newer->older : head_) = e.older;
    (e.older != nullptr ? e.older->newer : tail_) = e.newer;
    e.newer = e.older = nullptr;
    e.listed = false;
    --cached_;
}

MachineFramePins::Map::iterator MachineFramePins::drop(Map::iterator it) {
    Entry& e = it->second;
    if (e.listed) {
        list_remove(e);
    }
    // Unregistered before unmapped, so the registry never names a page we
    // no longer hold.
    registry_.remove(e.frame);
    return entries_.erase(it);
}

}  // namespace xengt::xen
