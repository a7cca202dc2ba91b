// In-memory host-frame ports: guest frame pins, a host page pool and the
// ownership oracle over both. They count what is outstanding so that tests
// can prove nothing leaks.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>

#include "mediator/gtt/host_frames.hpp"

namespace xengt::mediator::test {

// Pins for a guest whose RAM is [0, ram_bytes): guest frame g is host frame
// g + kHostFrameOffset. Pins nest per frame.
class FakeFramePins final : public GuestFramePins {
public:
    static constexpr uint64_t kHostFrameOffset = 0x100000;

    explicit FakeFramePins(uint64_t ram_bytes = 1 << 20) : ram_frames_(ram_bytes >> kPageShift) {}

    static HostFrame host_frame_of(GuestFrame gfn) {
        return HostFrame{gfn.value() + kHostFrameOffset};
    }

    std::optional<HostFrame> pin(GuestFrame gfn) override {
        if (gfn.value() >= ram_frames_) {
            return std::nullopt;
        }
        ++pins_[gfn.value()];
        ++outstanding_;
        return host_frame_of(gfn);
    }

    void unpin(GuestFrame gfn) override {
        const auto it = pins_.find(gfn.value());
        if (it == pins_.end()) {
            ++bad_unpins;
            return;
        }
        if (--it->second == 0) {
            pins_.erase(it);
        }
        --outstanding_;
    }

    // Pins not yet matched by an unpin, over all frames / for one frame.
    uint64_t outstanding() const { return outstanding_; }
    uint64_t pins_of(GuestFrame gfn) const {
        const auto it = pins_.find(gfn.value());
        return it == pins_.end() ? 0 : it->second;
    }
    // The guest frame behind `frame` if it is one of this guest's and pinned.
    std::optional<GuestFrame> pinned_guest_frame(HostFrame frame) const {
        if (frame.value() < kHostFrameOffset) {
            return std::nullopt;
        }
        const GuestFrame gfn{frame.value() - kHostFrameOffset};
        return pins_of(gfn) > 0 ? std::optional(gfn) : std::nullopt;
    }

    uint64_t bad_unpins = 0;  // unpins of frames not pinned

private:
    uint64_t ram_frames_;
    uint64_t outstanding_ = 0;
    std::map<uint64_t, uint64_t> pins_;  // gfn -> pin count
};

// Zeroed pages from frame kFirstFrame upwards; frames are never reused, so a
// stale frame is caught as unknown.
class FakePagePool final : public HostPagePool {
public:
    static constexpr uint64_t kFirstFrame = 0x800000;

    explicit FakePagePool(std::optional<size_t> capacity = std::nullopt) : capacity_(capacity) {}

    std::optional<HostPage> allocate() override {
        if (capacity_ && pages_.size() >= *capacity_) {
            return std::nullopt;
        }
        const HostFrame frame{next_++};
        auto& page = pages_[frame.value()];
        page = std::make_unique<Page>();  // value-initialized: zeroed
        return HostPage{frame, page->data()};
    }

    void release(HostFrame frame) override {
        if (pages_.erase(frame.value()) == 0) {
            ++bad_releases;
        }
    }

    size_t live() const { return pages_.size(); }
    void set_capacity(std::optional<size_t> capacity) { capacity_ = capacity; }
    // The bytes of a live page, or nullptr.
    const std::byte* page(HostFrame frame) const {
        const auto it = pages_.find(frame.value());
        return it == pages_.end() ? nullptr : it->second->data();
    }

    uint64_t bad_releases = 0;  // releases of frames not live

private:
    using Page = std::array<std::byte, kPageSize>;
    std::optional<size_t> capacity_;
    uint64_t next_ = kFirstFrame;
    std::map<uint64_t, std::unique_ptr<Page>> pages_;
};

// Ownership as the isolation checker sees it: live pool pages are HostPage,
// pinned frames of `pins` are Guest `domid`, anything else is None.
class FakeFrameOwnership final : public FrameOwnership {
public:
    FakeFrameOwnership(const FakeFramePins& pins, const FakePagePool& pool, uint32_t domid = 1)
        : pins_(pins), pool_(pool), domid_(domid) {}

    FrameOwner owner(HostFrame frame) const override {
        if (pool_.page(frame) != nullptr) {
            return {FrameOwner::Kind::HostPage, 0, GuestFrame{}};
        }
        if (const auto gfn = pins_.pinned_guest_frame(frame)) {
            return {FrameOwner::Kind::Guest, domid_, *gfn};
        }
        return {};
    }

    const std::byte* peek(HostFrame frame) const override { return pool_.page(frame); }

private:
    const FakeFramePins& pins_;
    const FakePagePool& pool_;
    uint32_t domid_;
};

}  // namespace xengt::mediator::test
