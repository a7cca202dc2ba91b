// Carving the one GPU's graphics memory and fences into per-vGPU partitions.
//
// The GGTT address space has two parts: the low, CPU-mappable part behind the
// aperture (BAR2) and the high, hidden rest. Each vGPU gets one contiguous
// slice of each, plus a contiguous range of fence registers, exactly what its
// PVINFO page then tells the guest (which balloons everything else away).
// The host (dom0) keeps its own partition first. A request that does not fit
// is refused whole, with an error naming the resource and what is free, so a
// vGPU is never half-created.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "mediator/base/types.hpp"
#include "mediator/vgpu.hpp"

namespace xengt::mediator {

// What the device has to share.
struct GmResources {
    uint64_t aperture_bytes = MiB(256);  // mappable GM is [0, aperture_bytes)
    uint64_t ggtt_bytes = GiB(4);        // all GM is [0, ggtt_bytes)
    uint32_t fences = 32;                // Gen9 has 32 fence registers
};

// What one partition asks for; sizes in bytes, multiples of 4 KiB, non-zero.
struct GmRequest {
    uint64_t low_bytes = MiB(64);    // xl.cfg vgt_low_gm_sz (MiB)
    uint64_t high_bytes = MiB(448);  // xl.cfg vgt_high_gm_sz (MiB)
    uint32_t fences = 4;             // xl.cfg vgt_fence_sz
};

// GVT-g's host share: 128 MiB of aperture, 384 MiB hidden, 4 fences.
inline constexpr GmRequest kDefaultHostShare{MiB(128), MiB(384), 4};

struct GmSlices {
    GmRange mappable;
    GmRange hidden;
    uint32_t fence_base = 0;
    uint32_t fence_count = 0;
};

// A request refused by admission control; what() names the resource.
struct AdmissionRefused : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class GmAllocator;

// One vGPU's share. Returns its slices to the allocator when destroyed; the
// allocator must outlive every partition it handed out.
class GmPartition {
public:
    GmPartition(GmPartition&& other) noexcept;
    GmPartition& operator=(GmPartition&&) = delete;
    GmPartition(const GmPartition&) = delete;
    ~GmPartition();

    const GmSlices& slices() const { return slices_; }

private:
    friend class GmAllocator;
    GmPartition(GmAllocator* owner, GmSlices slices) : owner_(owner), slices_(slices) {}

    GmAllocator* owner_;
    GmSlices slices_;
};

class GmAllocator {
public:
    // Throws AdmissionRefused if the resources cannot even hold the host's share.
    explicit GmAllocator(GmResources resources, GmRequest host_share = kDefaultHostShare);

    // A partition for one vGPU, or AdmissionRefused (and nothing allocated).
    GmPartition allocate(const GmRequest& request);

    const GmSlices& host_slices() const { return host_; }
    uint64_t free_low_bytes() const;
    uint64_t free_high_bytes() const;
    uint32_t free_fences() const;

private:
    friend class GmPartition;

    // Free space of one GM region as sorted, disjoint, coalesced extents.
    struct Extent {
        uint64_t base;
        uint64_t size;
    };
    using FreeList = std::vector<Extent>;

    static std::optional<uint64_t> take(FreeList& list, uint64_t size);  // first fit
    static void give_back(FreeList& list, uint64_t base, uint64_t size);
    static uint64_t total(const FreeList& list);
    static uint64_t largest(const FreeList& list);
    std::optional<uint32_t> take_fences(uint32_t count);
    void release(const GmSlices& slices);
    GmSlices allocate_locked(const GmRequest& request, const char* who);

    GmResources resources_;
    mutable std::mutex mutex_;
    FreeList low_;
    FreeList high_;
    std::vector<bool> fence_used_;
    GmSlices host_;
};

}  // namespace xengt::mediator
