#include "xengt/xen/ggtt_backing.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <vector>

#include "xengt/xen/error.hpp"

namespace xengt::xen {
namespace {

constexpr uint64_t kPages = mediator::GgttRamBacking::kPages;
// Guest RAM from 4 GiB up sits above a hole of at most this many frames.
constexpr uint64_t kBelow4GiB = (uint64_t{4} << 30) >> kPageShift;
// HAP maps 48-bit guest-physical addresses.
constexpr uint64_t kGfnLimit = uint64_t{1} << (48 - kPageShift);

static_assert(sizeof(unsigned long) == sizeof(uint64_t), "track_dirty_vram bitmap words");

bool domain_gone(int err) {
    return err == ESRCH || err == ENOENT;
}

std::vector<uint64_t> gfn_range(uint64_t first) {
    std::vector<uint64_t> v(kPages);
    for (uint64_t i = 0; i < kPages; ++i) {
        v[i] = first + i;
    }
    return v;
}

bool overlaps(uint64_t a, uint64_t b) {
    return a < b + kPages && b < a + kPages;
}

}  // namespace

XenGgttBacking::XenGgttBacking(xendevicemodel_handle* dm, xenforeignmemory_handle* fmem,
                               const DomainInfo& domains, uint16_t domid, std::string subject)
    : dm_(dm), fmem_(fmem), domains_(domains), domid_(domid), subject_(std::move(subject)) {
    const DomainMemory mem = domains_.memory(domid_);
    if (kBelow4GiB + std::max(mem.max_pages, mem.tot_pages) > kParkingFirst) {
        throw XenError(ENOSPC, domid_,
                       "guest memory may reach the GGTT backing's parking place below 512 GiB");
    }
    // Charge the frames to the guest without eating its own headroom.
    original_max_pages_ = mem.max_pages;
    raised_max_pages_ = std::max(mem.max_pages, mem.tot_pages) + kPages;
    domains_.set_max_pages(domid_, raised_max_pages_);

    const std::vector<uint64_t> parked = gfn_range(kParkingFirst);
    try {
        domains_.populate(domid_, parked);
    } catch (const XenError&) {
        // A short populate leaves its first frames behind; releasing stops at
        // the first hole, which is expected here.
        release_frames(LogLevel::Debug);
        restore_max_pages();
        throw;
    }
    std::vector<xen_pfn_t> gfns(parked.begin(), parked.end());
    std::vector<int> errs(kPages, 0);
    void* va = xenforeignmemory_map(fmem, domid_, PROT_READ | PROT_WRITE, kPages, gfns.data(),
                                    errs.data());
    const int map_errno = errno;
    const auto bad = std::find_if(errs.begin(), errs.end(), [](int e) { return e != 0; });
    if (va == nullptr || bad != errs.end()) {
        if (va != nullptr) {
            xenforeignmemory_unmap(fmem, va, kPages);
        }
        release_frames(LogLevel::Warn);
        restore_max_pages();
        throw XenError(va == nullptr ? map_errno : -*bad, domid_,
                       "map the GGTT backing (xenforeignmemory_map)");
    }
    mapping_ = ForeignMapping(fmem, va, kPages);
    XENGT_LOG(LogLevel::Info, subject_, "GGTT RAM backing: %u frames parked at gfn %#" PRIx64,
              kPages, kParkingFirst);
}

XenGgttBacking::~XenGgttBacking() {
    stop_tracking();
    mapping_.reset();
    // A domain on its way out takes the frames with it.
    bool running = false;
    try {
        running = domains_.query(domid_) == DomainLiveness::Running;
    } catch (const std::exception& e) {
        log_failure(e, LogLevel::Warn);
    }
    if (running) {
        release_frames(LogLevel::Warn);
        restore_max_pages();
    }
}

void XenGgttBacking::release_frames(LogLevel failure_level) noexcept {
    try {
        domains_.release(domid_, gfn_range(location()));
    } catch (const std::exception& e) {
        log_failure(e, failure_level);
    }
}

// Gives back the allowance, unless someone changed the limit meanwhile.
void XenGgttBacking::restore_max_pages() noexcept {
    try {
        if (domains_.memory(domid_).max_pages == raised_max_pages_) {
            domains_.set_max_pages(domid_, original_max_pages_);
        }
    } catch (const std::exception& e) {
        log_failure(e, LogLevel::Warn);
    }
}

void XenGgttBacking::log_failure(const std::exception& e, LogLevel level) noexcept {
    const auto* xe = dynamic_cast<const XenError*>(&e);
    XENGT_LOG(xe != nullptr && domain_gone(xe->code().value()) ? LogLevel::Debug : level, subject_,
              "GGTT backing teardown: %s", e.what());
}

// Whether nothing is mapped at [first, first + 2048): every page fails to map.
// Checked before each move, so that anything found at the destination after
// a failed move can only be ours. Unsure (the map call itself failed) is "no".
bool XenGgttBacking::range_empty(uint64_t first) const {
    std::vector<xen_pfn_t> gfns(kPages);
    for (uint64_t i = 0; i < kPages; ++i) {
        gfns[i] = first + i;
    }
    std::vector<int> errs(kPages, 0);
    void* va = xenforeignmemory_map(fmem_, domid_, PROT_READ, kPages, gfns.data(), errs.data());
    if (va == nullptr) {
        return false;
    }
    xenforeignmemory_unmap(fmem_, va, kPages);
    return std::all_of(errs.begin(), errs.end(), [](int e) { return e != 0; });
}

std::byte* XenGgttBacking::page(uint32_t index) {
    return index < kPages ? mapping_.data() + uint64_t{index} * kPageSize : nullptr;
}

// Moves all frames from `from` to `to`. Xen moves page by page and may stop
// part-way, leaving each frame at its source or its destination; on failure
// every frame found at either (other than parking) is brought back to parking
// singly. Both places hold only our frames: `from` is where they are, and a
// destination is checked empty first.
bool XenGgttBacking::move(uint64_t from, uint64_t to) {
    if (xendevicemodel_relocate_memory(dm_, domid_, kPages, from, to) == 0) {
        return true;
    }
    const int err = errno;
    XENGT_LOG(domain_gone(err) ? LogLevel::Debug : LogLevel::Error, subject_,
              "moving the GGTT backing from gfn %#" PRIx64 " to %#" PRIx64
              " failed (xendevicemodel_relocate_memory): %s; parking it",
              from, to, std::strerror(err));
    placement_.reset();
    if (domain_gone(err)) {
        return false;
    }
    for (uint64_t place : {to, from}) {
        if (place == kParkingFirst) {
            continue;
        }
        for (uint64_t i = 0; i < kPages; ++i) {
            xendevicemodel_relocate_memory(dm_, domid_, 1, place + i, kParkingFirst + i);
        }
    }
    return false;
}

bool XenGgttBacking::place(std::optional<GuestFrame> first) {
    if (first == placement_) {
        return true;
    }
    harvest_and_stop();
    const uint64_t target = first ? first->value() : kParkingFirst;
    const bool usable = first && target <= kGfnLimit - kPages && !overlaps(target, kParkingFirst);
    // Straight there only if the new place is disjoint from the old and
    // empty; otherwise through parking. Never onto anything else: Xen would
    // free whatever guest page it found there.
    const bool direct =
        usable && placement_ && !overlaps(location(), target) && range_empty(target);
    if (placement_ && !direct) {
        if (!move(location(), kParkingFirst)) {
            return false;
        }
        placement_.reset();
    }
    if (!first) {
        return true;
    }
    if (!usable || (!direct && !range_empty(target))) {
        XENGT_LOG(LogLevel::Warn, subject_,
                  "GGTT backing cannot go to gfn %#" PRIx64
                  " (beyond guest-physical space, on its parking place, or onto memory); "
                  "the GGTT stays trapped",
                  target);
        return false;
    }
    if (!move(location(), target)) {
        return false;
    }
    placement_ = first;
    return true;
}

void XenGgttBacking::stop_tracking() {
    if (!tracking_) {
        return;
    }
    tracking_ = false;
    unsigned long none = 0;
    xendevicemodel_track_dirty_vram(dm_, domid_, 0, 0, &none);  // nr 0: stop tracking
}

void XenGgttBacking::harvest_and_stop() {
    if (!placement_) {
        return;  // parked: the guest could not write it
    }
    std::array<unsigned long, kDirtyWords> bits{};
    if (!tracking_ || xendevicemodel_track_dirty_vram(dm_, domid_, placement_->value(), kPages,
                                                      bits.data()) != 0) {
        bits.fill(~0ul);  // unknown since placement: all of it may be dirty
    }
    for (size_t w = 0; w < kDirtyWords; ++w) {
        pending_[w] |= bits[w];
    }
    // Stop, so that the next range asked about is new to Xen and starts
    // all-dirty even if it is this same placement again: Xen does not log
    // writes to pages moved into a range it already tracks.
    stop_tracking();
}

bool XenGgttBacking::collect_dirty(std::span<uint64_t, kDirtyWords> dirty) {
    for (size_t w = 0; w < kDirtyWords; ++w) {
        dirty[w] |= pending_[w];
    }
    pending_.fill(0);
    if (!placement_) {
        return true;
    }
    std::array<unsigned long, kDirtyWords> bits{};
    if (xendevicemodel_track_dirty_vram(dm_, domid_, placement_->value(), kPages, bits.data()) !=
        0) {
        const int err = errno;
        tracking_ = false;
        if (log_limit_.allow(RateLimiter::Clock::now())) {
            XENGT_LOG(LogLevel::Warn, subject_,
                      "cannot track GGTT backing writes (xendevicemodel_track_dirty_vram): %s; "
                      "rereading all of it",
                      std::strerror(err));
        }
        return false;
    }
    tracking_ = true;
    for (size_t w = 0; w < kDirtyWords; ++w) {
        dirty[w] |= bits[w];
    }
    return true;
}

}  // namespace xengt::xen
