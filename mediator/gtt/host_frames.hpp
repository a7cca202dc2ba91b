// Ports for the frames the GPU reaches: guest pages, and pages the host owns.
//
// A GPU page-table entry holds a "host frame", whose meaning depends on the
// GPU backend (architecture: "Host frames"). The mediator never interprets
// one; it asks these ports for them and writes them into GPU tables:
//   - GuestFramePins (one per guest, from the hypervisor backend): a guest
//     frame made reachable by the GPU and pinned, so the guest cannot hand the
//     page back to the hypervisor while a GPU table still names it;
//   - HostPagePool (device-wide, from the GPU backend): zeroed pages the host
//     owns, for shadow page tables and the scratch page;
//   - FrameOwnership (device-wide): who a host frame belongs to, which the
//     isolation checker uses to prove every GPU entry stays in its guest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "mediator/base/types.hpp"

namespace xengt::mediator {

class GuestFramePins {
public:
    virtual ~GuestFramePins() = default;

    // The host frame behind this guest's `gfn`, pinned until a matching
    // unpin(gfn). Pins nest: n successful pins need n unpins. nullopt (and
    // nothing pinned) if `gfn` is not the guest's RAM.
    virtual std::optional<HostFrame> pin(GuestFrame gfn) = 0;
    virtual void unpin(GuestFrame gfn) = 0;
};

// A host-owned page: the frame the GPU uses and the CPU's view of it.
struct HostPage {
    HostFrame frame;
    std::byte* data = nullptr;  // 4 KiB, valid until released
};

// Host-owned pages with one contiguous CPU view.
struct HostRun {
    std::byte* data = nullptr;      // frames.size() * 4 KiB
    std::vector<HostFrame> frames;  // page i of data is frames[i]
};

class HostPagePool {
public:
    virtual ~HostPagePool() = default;

    // A zeroed page, or nullopt if the pool is exhausted.
    virtual std::optional<HostPage> allocate() = 0;
    virtual void release(HostFrame frame) = 0;

    // `count` zeroed pages the CPU sees as one contiguous buffer, each with
    // its own frame (shadow rings and batches, which the scanner reads in one
    // piece and the GPU reaches page by page). Taken once per vGPU, not on a
    // hot path. nullopt where the pool cannot provide runs.
    virtual std::optional<HostRun> allocate_run(size_t /*count*/) { return std::nullopt; }
    virtual void release_run(const HostRun& /*run*/) {}
};

// What a host frame is, as far as isolation is concerned.
struct FrameOwner {
    enum class Kind : uint8_t {
        None,      // not a frame the GPU may reach at all
        Guest,     // a pinned frame of guest `guest` at `gfn`
        HostPage,  // a page of the HostPagePool (shadow tables, scratch)
    };
    Kind kind = Kind::None;
    uint32_t guest = 0;  // the guest's domid
    GuestFrame gfn{};
};

class FrameOwnership {
public:
    virtual ~FrameOwnership() = default;
    virtual FrameOwner owner(HostFrame frame) const = 0;
    // The CPU's view of a frame the GPU may reach (to walk shadow tables the
    // way the GPU would), or nullptr.
    virtual const std::byte* peek(HostFrame frame) const = 0;
};

}  // namespace xengt::mediator
