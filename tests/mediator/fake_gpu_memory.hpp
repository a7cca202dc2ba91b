// In-memory fakes of the GPU-side ports: the physical GGTT, and a "frame
// world" that hands out host frames for guest pins and host pages and knows
// who owns each (the truth the isolation checker is judged against).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"
#include "mediator/hypervisor_port.hpp"

namespace xengt::mediator::test {

class FakeGgtt final : public PhysicalGgtt {
public:
    explicit FakeGgtt(uint64_t entries = uint64_t{1} << 20) : table(entries, 0) {}
    uint64_t entries() const override { return table.size(); }
    uint64_t read(uint64_t index) const override { return table.at(index); }
    void write(uint64_t index, uint64_t pte) override {
        table.at(index) = pte;
        ++writes;
    }
    void flush() override { ++flushes; }

    std::vector<uint64_t> table;
    uint64_t writes = 0;
    uint64_t flushes = 0;
};

// Host frames are handed out in order and never reused, so a stale entry can
// never accidentally look valid.
class FakeFrameWorld final : public FrameOwnership, public HostPagePool {
public:
    HostFrame add(FrameOwner owner) {
        const HostFrame f{next_++};
        owners_[f.value()] = owner;
        return f;
    }
    void remove(HostFrame f) { owners_.erase(f.value()); }

    FrameOwner owner(HostFrame f) const override {
        auto it = owners_.find(f.value());
        return it == owners_.end() ? FrameOwner{} : it->second;
    }
    const std::byte* peek(HostFrame f) const override {
        if (auto it = pages_.find(f.value()); it != pages_.end()) {
            return it->second->data();
        }
        auto it = run_pages_.find(f.value());
        return it == run_pages_.end() ? nullptr : it->second;
    }

    std::optional<HostPage> allocate() override {
        if (pages_.size() >= page_capacity) {
            return std::nullopt;
        }
        const HostFrame f = add({FrameOwner::Kind::HostPage, 0, GuestFrame{}});
        auto& page = pages_[f.value()];
        page = std::make_unique<std::array<std::byte, kPageSize>>();
        return HostPage{f, page->data()};
    }
    void release(HostFrame f) override {
        pages_.erase(f.value());
        remove(f);
    }

    // One zeroed buffer; each of its pages is a host page with a frame of its own.
    std::optional<HostRun> allocate_run(size_t count) override {
        if (count == 0 || live_pages() + count > page_capacity) {
            return std::nullopt;
        }
        // calloc: pages the test never touches cost no memory.
        RunBuffer buffer(static_cast<std::byte*>(std::calloc(count, kPageSize)));
        if (!buffer) {
            return std::nullopt;
        }
        HostRun run{buffer.get(), {}};
        run.frames.reserve(count);
        for (size_t i = 0; i < count; ++i) {
            const HostFrame f = add({FrameOwner::Kind::HostPage, 0, GuestFrame{}});
            run.frames.push_back(f);
            run_pages_[f.value()] = buffer.get() + i * kPageSize;
        }
        runs_[buffer.get()] = std::move(buffer);
        return run;
    }
    void release_run(const HostRun& run) override {
        for (const HostFrame f : run.frames) {
            run_pages_.erase(f.value());
            remove(f);
        }
        runs_.erase(run.data);
    }
    // True if `f` is a page of a run (a shadow arena's).
    bool in_run(HostFrame f) const { return run_pages_.contains(f.value()); }

    size_t live_pages() const { return pages_.size() + run_pages_.size(); }
    size_t page_capacity = 1 << 20;

private:
    uint64_t next_ = 0x1000;  // frame 0 is never handed out
    std::map<uint64_t, FrameOwner> owners_;
    std::unordered_map<uint64_t, std::unique_ptr<std::array<std::byte, kPageSize>>> pages_;
    std::unordered_map<uint64_t, std::byte*> run_pages_;
    struct FreeRun {
        void operator()(std::byte* p) const { std::free(p); }
    };
    using RunBuffer = std::unique_ptr<std::byte, FreeRun>;
    std::map<std::byte*, RunBuffer> runs_;
};

// One guest's pins: RAM is gfns [0, ram_frames).
class FakePins final : public GuestFramePins {
public:
    FakePins(FakeFrameWorld& world, uint32_t domid, uint64_t ram_frames)
        : world_(world), domid_(domid), ram_frames_(ram_frames) {}

    std::optional<HostFrame> pin(GuestFrame gfn) override {
        if (gfn.value() >= ram_frames_) {
            return std::nullopt;
        }
        Pin& p = pins_[gfn.value()];
        if (p.count++ == 0) {
            p.frame = world_.add({FrameOwner::Kind::Guest, domid_, gfn});
        }
        ++outstanding;
        return p.frame;
    }
    void unpin(GuestFrame gfn) override {
        auto it = pins_.find(gfn.value());
        if (it == pins_.end()) {
            ++bad_unpins;
            return;
        }
        --outstanding;
        if (--it->second.count == 0) {
            world_.remove(it->second.frame);
            pins_.erase(it);
        }
    }

    uint64_t outstanding = 0;
    uint64_t bad_unpins = 0;

private:
    struct Pin {
        HostFrame frame;
        uint64_t count = 0;
    };
    FakeFrameWorld& world_;
    uint32_t domid_;
    uint64_t ram_frames_;
    std::unordered_map<uint64_t, Pin> pins_;
};

// Backing pages in memory (allocated on first touch), with or without dirty
// tracking.
class FakeBacking final : public GgttRamBacking {
public:
    explicit FakeBacking(bool tracks) : tracks_(tracks), pages_(kPages) {}
    bool place(std::optional<GuestFrame> first) override {
        placed_at = first;
        ++placements;
        return !refuse_placement;
    }
    std::byte* page(uint32_t index) override {
        auto& p = pages_.at(index);
        if (!p) {
            p = std::make_unique<std::array<std::byte, kPageSize>>();
        }
        return p->data();
    }
    bool collect_dirty(std::span<uint64_t, kDirtyWords> dirty) override {
        if (!tracks_) {
            return false;
        }
        for (uint32_t i = 0; i < kDirtyWords; ++i) {
            dirty[i] |= dirty_[i];
            dirty_[i] = 0;
        }
        return true;
    }
    // What a guest store does: bytes land, the page is logged dirty.
    void guest_write(uint64_t index, uint64_t pte) {
        std::memcpy(page(static_cast<uint32_t>(index / 512)) + index % 512 * 8, &pte, 8);
        dirty_[index / 512 / 64] |= uint64_t{1} << (index / 512 % 64);
    }

    std::optional<GuestFrame> placed_at;
    uint64_t placements = 0;
    bool refuse_placement = false;

private:
    bool tracks_;
    std::vector<std::unique_ptr<std::array<std::byte, kPageSize>>> pages_;
    std::array<uint64_t, kDirtyWords> dirty_{};
};

}  // namespace xengt::mediator::test
