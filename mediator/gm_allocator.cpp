#include "mediator/gm_allocator.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <utility>

namespace xengt::mediator {
namespace {

std::string mib(uint64_t bytes) {
    char buf[32];
    if (bytes % MiB(1) == 0) {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " MiB", bytes / MiB(1));
    } else {
        std::snprintf(buf, sizeof buf, "%" PRIu64 " KiB", bytes / KiB(1));
    }
    return buf;
}

void check_request(const GmRequest& r, const char* who) {
    auto bad = [&](const char* what, const char* why) {
        throw AdmissionRefused(std::string(who) + ": " + what + " " + why);
    };
    if (r.low_bytes == 0 || r.low_bytes % kPageSize != 0) {
        bad("mappable graphics memory (vgt_low_gm_sz)", "must be a non-zero multiple of 4 KiB");
    }
    if (r.high_bytes == 0 || r.high_bytes % kPageSize != 0) {
        bad("hidden graphics memory (vgt_high_gm_sz)", "must be a non-zero multiple of 4 KiB");
    }
    if (r.fences == 0) {
        bad("fence registers (vgt_fence_sz)", "must be at least 1");
    }
}

}  // namespace

GmPartition::GmPartition(GmPartition&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), slices_(other.slices_) {}

GmPartition::~GmPartition() {
    if (owner_ != nullptr) {
        owner_->release(slices_);
    }
}

GmAllocator::GmAllocator(GmResources resources, GmRequest host_share)
    : resources_(resources), fence_used_(resources.fences, false) {
    if (resources.aperture_bytes == 0 || resources.aperture_bytes > resources.ggtt_bytes) {
        throw AdmissionRefused("GPU: aperture (" + mib(resources.aperture_bytes) +
                               ") must be non-empty and within the GGTT (" +
                               mib(resources.ggtt_bytes) + ")");
    }
    low_.push_back({0, resources.aperture_bytes});
    if (resources.ggtt_bytes > resources.aperture_bytes) {
        high_.push_back(
            {resources.aperture_bytes, resources.ggtt_bytes - resources.aperture_bytes});
    }
    std::lock_guard lock(mutex_);
    host_ = allocate_locked(host_share, "host (dom0) share");
}

std::optional<uint64_t> GmAllocator::take(FreeList& list, uint64_t size) {
    for (auto it = list.begin(); it != list.end(); ++it) {
        if (it->size >= size) {
            const uint64_t base = it->base;
            it->base += size;
            it->size -= size;
            if (it->size == 0) {
                list.erase(it);
            }
            return base;
        }
    }
    return std::nullopt;
}

void GmAllocator::give_back(FreeList& list, uint64_t base, uint64_t size) {
    auto it = std::lower_bound(list.begin(), list.end(), base,
                               [](const Extent& e, uint64_t b) { return e.base < b; });
    it = list.insert(it, {base, size});
    // Coalesce with the following, then the preceding neighbour.
    if (auto next = it + 1; next != list.end() && it->base + it->size == next->base) {
        it->size += next->size;
        list.erase(next);
    }
    if (it != list.begin()) {
        auto prev = it - 1;
        if (prev->base + prev->size == it->base) {
            prev->size += it->size;
            list.erase(it);
        }
    }
}

uint64_t GmAllocator::total(const FreeList& list) {
    uint64_t t = 0;
    for (const Extent& e : list) {
        t += e.size;
    }
    return t;
}

uint64_t GmAllocator::largest(const FreeList& list) {
    uint64_t m = 0;
    for (const Extent& e : list) {
        m = std::max(m, e.size);
    }
    return m;
}

std::optional<uint32_t> GmAllocator::take_fences(uint32_t count) {
    uint32_t run = 0;
    for (uint32_t i = 0; i < fence_used_.size(); ++i) {
        run = fence_used_[i] ? 0 : run + 1;
        if (run == count) {
            const uint32_t base = i + 1 - count;
            std::fill(fence_used_.begin() + base, fence_used_.begin() + base + count, true);
            return base;
        }
    }
    return std::nullopt;
}

GmSlices GmAllocator::allocate_locked(const GmRequest& request, const char* who) {
    check_request(request, who);
    // Check everything before taking anything: a refusal leaves no trace.
    if (largest(low_) < request.low_bytes) {
        throw AdmissionRefused(std::string(who) + ": not enough mappable graphics memory: asked " +
                               mib(request.low_bytes) + ", largest free slice " +
                               mib(largest(low_)) + " (" + mib(total(low_)) + " free in all)");
    }
    if (largest(high_) < request.high_bytes) {
        throw AdmissionRefused(std::string(who) + ": not enough hidden graphics memory: asked " +
                               mib(request.high_bytes) + ", largest free slice " +
                               mib(largest(high_)) + " (" + mib(total(high_)) + " free in all)");
    }
    const auto fence_base = take_fences(request.fences);
    if (!fence_base) {
        const auto free =
            static_cast<uint32_t>(std::count(fence_used_.begin(), fence_used_.end(), false));
        throw AdmissionRefused(std::string(who) + ": not enough fence registers: asked " +
                               std::to_string(request.fences) + ", " + std::to_string(free) +
                               " free (a partition needs them contiguous)");
    }
    GmSlices s;
    s.mappable = {GmAddr{*take(low_, request.low_bytes)}, request.low_bytes};
    s.hidden = {GmAddr{*take(high_, request.high_bytes)}, request.high_bytes};
    s.fence_base = *fence_base;
    s.fence_count = request.fences;
    return s;
}

GmPartition GmAllocator::allocate(const GmRequest& request) {
    std::lock_guard lock(mutex_);
    return GmPartition(this, allocate_locked(request, "vGPU"));
}

void GmAllocator::release(const GmSlices& s) {
    std::lock_guard lock(mutex_);
    give_back(low_, s.mappable.base.value(), s.mappable.size);
    give_back(high_, s.hidden.base.value(), s.hidden.size);
    std::fill(fence_used_.begin() + s.fence_base,
              fence_used_.begin() + s.fence_base + s.fence_count, false);
}

uint64_t GmAllocator::free_low_bytes() const {
    std::lock_guard lock(mutex_);
    return total(low_);
}

uint64_t GmAllocator::free_high_bytes() const {
    std::lock_guard lock(mutex_);
    return total(high_);
}

uint32_t GmAllocator::free_fences() const {
    std::lock_guard lock(mutex_);
    return static_cast<uint32_t>(std::count(fence_used_.begin(), fence_used_.end(), false));
}

}  // namespace xengt::mediator
