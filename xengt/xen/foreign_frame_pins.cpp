#include "xengt/xen/foreign_frame_pins.hpp"

#include <sys/mman.h>

namespace xengt::xen {

ForeignFramePins::ForeignFramePins(xenforeignmemory_handle* fmem, uint16_t domid,
                                   gpu::MappedFrameTable& table)
    : fmem_(fmem), domid_(domid), table_(table), subject_("dom" + std::to_string(domid)) {
    pins_.reserve(kInitialBuckets);
}

ForeignFramePins::~ForeignFramePins() {
    if (!pins_.empty()) {
        uint64_t refs = 0;
        for (const auto& [gfn, p] : pins_) {
            refs += p.refs;
        }
        XENGT_LOG(LogLevel::Warn, subject_,
                  "%zu guest frames still pinned at teardown (%llu pins): releasing them",
                  pins_.size(), static_cast<unsigned long long>(refs));
    }
    // Every slot leaves the table before any page is unmapped.
    for (const auto& [gfn, p] : pins_) {
        table_.remove(p.frame);
    }
    pins_.clear();
}

void ForeignFramePins::warn(const char* what, GuestFrame gfn) {
    if (log_limit_.allow(RateLimiter::Clock::now())) {
        XENGT_LOG(LogLevel::Error, subject_, "%s (gfn %#llx)", what,
                  static_cast<unsigned long long>(gfn.value()));
    }
}

std::optional<HostFrame> ForeignFramePins::pin(GuestFrame gfn) {
    if (auto it = pins_.find(gfn.value()); it != pins_.end()) {
        ++it->second.refs;
        return it->second.frame;
    }
    // First pin of this gfn: one map syscall (privcmd mmapbatch) for one page.
    // xen_pfn_t is unsigned long on x86-64; a frame beyond that is not RAM.
    auto pfn = static_cast<xen_pfn_t>(gfn.value());
    int err = 0;
    void* addr = xenforeignmemory_map(fmem_, domid_, PROT_READ | PROT_WRITE, 1, &pfn, &err);
    if (addr == nullptr) {
        ++map_failures_;  // domain gone, or mapping refused as a whole
        return std::nullopt;
    }
    // From here the page is unmapped on every way out but success.
    ForeignMapping mapping(fmem_, addr, 1);
    if (err != 0) {
        ++map_failures_;  // privcmd keeps the address but the page is not RAM
        return std::nullopt;
    }
    // The entry first (may throw, with nothing yet in the table), then the slot.
    auto [it, inserted] = pins_.try_emplace(gfn.value());
    const std::optional<HostFrame> frame = table_.add_guest_page(mapping.data(), domid_, gfn);
    if (!frame) {
        pins_.erase(it);
        warn("host frame table full: cannot pin guest frame", gfn);
        return std::nullopt;
    }
    it->second.mapping = std::move(mapping);
    it->second.frame = *frame;
    it->second.refs = 1;
    return frame;
}

void ForeignFramePins::unpin(GuestFrame gfn) {
    auto it = pins_.find(gfn.value());
    if (it == pins_.end()) {
        warn("unpin of a guest frame that is not pinned: ignored", gfn);
        return;
    }
    if (--it->second.refs != 0) {
        return;
    }
    // Out of the table first, so the GPU side can never be handed a pointer
    // to a page that is no longer mapped; then unmap (the entry's destructor).
    table_.remove(it->second.frame);
    pins_.erase(it);
}

}  // namespace xengt::xen
