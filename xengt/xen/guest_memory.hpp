// Copies to and from a guest's RAM through foreign mappings.
//
// Pages are mapped one at a time on demand and kept in a small direct-mapped
// cache, so repeated copies (rep string I/O into the same buffer) do not
// re-map. The cache is bounded, allocation-free after construction, and
// dropped whole on IOREQ_TYPE_INVALIDATE: the guest has given memory back to
// Xen, and a frame we still map could otherwise be reused under us.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "mediator/base/types.hpp"
#include "xengt/xen/handles.hpp"

namespace xengt::xen {

// Something that remembers what guest frames translate to, and must forget it
// when the guest gives memory back to Xen (IOREQ_TYPE_INVALIDATE).
class TranslationCache {
public:
    virtual ~TranslationCache() = default;
    // Forget every cached translation/mapping not in use.
    virtual void invalidate() = 0;
};

// What the ioreq dispatcher needs of guest RAM (an interface so that the
// fuzzer and benchmarks can use plain memory).
class GuestRamAccess : public TranslationCache {
public:
    // False if any byte is not the guest's RAM; then nothing was written (for
    // write) or `out` holds unspecified bytes (for read).
    virtual bool read(GuestPhysAddr addr, std::span<std::byte> out) = 0;
    virtual bool write(GuestPhysAddr addr, std::span<const std::byte> in) = 0;
};

class GuestMemory final : public GuestRamAccess {
public:
    static constexpr size_t kCacheSlots = 64;

    GuestMemory(xenforeignmemory_handle* fmem, uint16_t domid) : fmem_(fmem), domid_(domid) {}

    bool read(GuestPhysAddr addr, std::span<std::byte> out) override;
    bool write(GuestPhysAddr addr, std::span<const std::byte> in) override;
    void invalidate() override;

    size_t mapped_pages() const;
    uint64_t map_calls() const { return map_calls_; }
    uint64_t map_failures() const { return map_failures_; }

private:
    struct Slot {
        GuestFrame frame{};
        ForeignMapping mapping;
    };
    std::byte* page(GuestFrame frame);

    xenforeignmemory_handle* fmem_;
    uint16_t domid_;
    std::array<Slot, kCacheSlots> cache_{};
    uint64_t map_calls_ = 0;
    uint64_t map_failures_ = 0;
};

}  // namespace xengt::xen
