#include "xengt/xen/guest_memory.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstring>

namespace xengt::xen {

std::byte* GuestMemory::page(GuestFrame frame) {
    Slot& slot = cache_[frame.value() % kCacheSlots];
    if (slot.mapping && slot.frame == frame) {
        return slot.mapping.data();
    }
    slot.mapping.reset();
    ++map_calls_;
    // xen_pfn_t is unsigned long on x86-64; a frame beyond that is not RAM.
    auto gfn = static_cast<xen_pfn_t>(frame.value());
    int err = 0;
    void* addr = xenforeignmemory_map(fmem_, domid_, PROT_READ | PROT_WRITE, 1, &gfn, &err);
    if (addr == nullptr || err != 0) {
        if (addr != nullptr) {
            xenforeignmemory_unmap(fmem_, addr, 1);
        }
        ++map_failures_;
        return nullptr;
    }
    slot.frame = frame;
    slot.mapping = ForeignMapping(fmem_, addr, 1);
    return slot.mapping.data();
}

bool GuestMemory::read(GuestPhysAddr addr, std::span<std::byte> out) {
    uint64_t a = addr.value();
    size_t done = 0;
    while (done < out.size()) {
        std::byte* p = page(frame_of(GuestPhysAddr{a}));
        if (p == nullptr) {
            return false;
        }
        size_t off = page_offset(GuestPhysAddr{a});
        size_t n = std::min<size_t>(out.size() - done, kPageSize - off);
        std::memcpy(out.data() + done, p + off, n);
        done += n;
        a += n;
    }
    return true;
}

bool GuestMemory::write(GuestPhysAddr addr, std::span<const std::byte> in) {
    // Map every page first so that a copy either lands whole or not at all.
    uint64_t first = addr.value() >> kPageShift;
    uint64_t last = (addr.value() + (in.empty() ? 0 : in.size() - 1)) >> kPageShift;
    if (last - first + 1 > kCacheSlots) {
        return false;  // larger than the cache can hold at once; callers copy element-wise
    }
    for (uint64_t f = first; f <= last; ++f) {
        if (page(GuestFrame{f}) == nullptr) {
            return false;
        }
    }
    uint64_t a = addr.value();
    size_t done = 0;
    while (done < in.size()) {
        std::byte* p = page(frame_of(GuestPhysAddr{a}));
        size_t off = page_offset(GuestPhysAddr{a});
        size_t n = std::min<size_t>(in.size() - done, kPageSize - off);
        std::memcpy(p + off, in.data() + done, n);
        done += n;
        a += n;
    }
    return true;
}

void GuestMemory::invalidate() {
    for (Slot& s : cache_) {
        s.mapping.reset();
    }
}

size_t GuestMemory::mapped_pages() const {
    return static_cast<size_t>(
        std::count_if(cache_.begin(), cache_.end(), [](const Slot& s) { return bool(s.mapping); }));
}

}  // namespace xengt::xen
