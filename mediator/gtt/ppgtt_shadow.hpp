// Shadow PPGTT: the GPU walks the mediator's copies of a guest's per-process
// page tables, never the guest's own.
//
// A guest builds its PPGTTs in its own RAM out of guest frame numbers. For each
// root the guest announces, this builds a tree of host-owned shadow pages that
// mirrors the guest's tree entry for entry, with every guest frame replaced by
// the pinned host frame behind it (or by the scratch page when the guest names
// a frame that is not its RAM). Every guest page-table page in a shadowed tree
// is write-protected, so each guest write to one is delivered here and keeps
// the shadow in step (gvtg.md §3.4, xen-ioreq.md §4.4):
//   - an aligned 8-byte write of a whole entry re-shadows that entry at once;
//   - a narrower or unaligned write leaves the touched entries half-written,
//     so their shadow entries become not-present and are re-shadowed from the
//     guest's memory by sync(), which runs before every submission.
//
// Shadow pages are keyed by (guest frame, level). A guest page-table page used
// by several parents or roots shares one shadow page (refcounted), and since a
// child is always one level below its parent, a hostile guest that points a
// table at itself or at an ancestor gets a finite tree, never a cycle. Every
// resource the guest can make us take is bounded by PpgttShadowLimits.
//
// One object per vGPU, called only from that vGPU's event loop.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "mediator/base/types.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "mediator/guest_log.hpp"
#include "mediator/hypervisor_port.hpp"

namespace xengt::mediator {

// A PPGTT as the guest names it (intel-gpu.md §3.4).
struct PpgttRoot {
    enum class Levels : uint8_t { Three, Four };
    Levels levels = Levels::Four;
    // Four: pdp[0] is the guest-physical address of the PML4, the rest are
    // ignored. Three: pdp[i] is the address of page directory i, 0 if absent.
    // Roots carry no present bit: any non-zero value is present. Only address
    // bits 45:12 count.
    std::array<uint64_t, 4> pdp{};
    friend bool operator==(const PpgttRoot&, const PpgttRoot&) = default;
};

// What the GPU is given instead of a PpgttRoot: host frames of shadow tables.
struct ShadowRoot {
    PpgttRoot::Levels levels = PpgttRoot::Levels::Four;
    // Four: tables[0] is the shadow PML4. Three: tables[i] is the shadow of
    // page directory i, nullopt where the guest's pdp[i] is absent.
    std::array<std::optional<HostFrame>, 4> tables{};
    friend bool operator==(const ShadowRoot&, const ShadowRoot&) = default;
};

struct PpgttShadowLimits {
    size_t max_shadow_pages = 32768;  // 128 MiB of shadow tables per vGPU
    size_t max_roots = 64;            // distinct PPGTTs shadowed at once
};

struct PpgttCounters {
    // What is live now.
    uint64_t roots = 0;            // distinct roots shadowed
    uint64_t shadow_pages = 0;     // shadow tables held from the host page pool
    uint64_t protected_pages = 0;  // guest frames write-protected
    // Events since construction.
    uint64_t roots_refused = 0;          // create() failed: bad root or a limit
    uint64_t unknown_destroys = 0;       // destroy() of a root not shadowed
    uint64_t full_writes = 0;            // whole-entry writes, re-shadowed at once
    uint64_t partial_writes = 0;         // narrower/unaligned writes, left for sync()
    uint64_t resynced_entries = 0;       // pending entries re-shadowed by sync()
    uint64_t stale_writes = 0;           // writes to frames not protected here
    uint64_t scratch_entries = 0;        // leaf PTEs that could not be pinned
    uint64_t huge_entries_refused = 0;   // 2 MiB / 1 GiB / 64 KiB entries made not-present
    uint64_t unprotectable_tables = 0;   // tables the hypervisor would not protect
    uint64_t limit_refusals = 0;         // shadow page or root refused by the limits
    uint64_t pool_exhausted = 0;         // the host page pool had no page
    uint64_t guest_access_failures = 0;  // read_guest/write_guest refused
};

class PpgttShadow {
public:
    // `scratch` is the host frame leaf entries point at when the guest names a
    // frame that cannot be pinned. All references must outlive this object.
    PpgttShadow(GuestLog& log, HypervisorPort& hv, GuestFramePins& pins, HostPagePool& pool,
                HostFrame scratch, PpgttShadowLimits limits = {});
    ~PpgttShadow();  // as reset()
    PpgttShadow(const PpgttShadow&) = delete;
    PpgttShadow& operator=(const PpgttShadow&) = delete;

    // Shadows `root`, or takes one more reference on it if it is shadowed
    // already (each create needs a destroy). nullopt, with nothing left
    // behind, if a root table is not guest RAM or a limit is reached. Entries
    // below the root that cannot be shadowed become not-present instead.
    std::optional<ShadowRoot> create(const PpgttRoot& root);
    // Drops one reference on `root`; false (counted, logged) if not shadowed.
    bool destroy(const PpgttRoot& root);

    // A trapped guest write of `size` bytes at `addr`, value in the low bytes
    // of `value`. False if no byte of it falls on a page protected here (the
    // caller then treats it as unclaimed). Otherwise stores the bytes into
    // guest RAM (the hypervisor does not) and updates the shadow.
    bool on_protected_write(GuestPhysAddr addr, AccessSize size, uint64_t value);
    bool is_protected(GuestFrame gfn) const;

    // Re-shadows every entry a partial write left pending. O(pending).
    void sync();
    // Drops every root whatever its reference count (vGPU reset).
    void reset();

    // While the GPU may be using what the shadows name (a workload of this
    // vGPU is in flight), no shadow page goes back to the pool and no guest
    // frame is unpinned: such releases wait until the last hold is let go.
    // The guest can still change its tables; what the GPU may hold on to
    // stays valid until then. O(1); release_frames() is O(deferred).
    void hold_frames() { ++holds_; }
    void release_frames();

    // The shadow tables on the way to virtual address `va` under the live
    // root `root`, top level first (for per-workload overlays, which copy
    // them). Stops below a level whose entry is not present. Returns the
    // number filled; 0 if the root is not shadowed.
    struct PathLevel {
        HostFrame frame;
        const std::byte* table = nullptr;  // 512 entries
    };
    size_t shadow_path(const PpgttRoot& root, uint64_t va, std::span<PathLevel, 4> out) const;

    const PpgttCounters& counters() const { return counters_; }
    HostFrame scratch() const { return scratch_; }
    // Every live root with its shadow, for the isolation checker.
    void for_each_root(const std::function<void(const PpgttRoot&, const ShadowRoot&)>& fn) const;

private:
    struct ShadowPage;
    struct RootRecord {
        PpgttRoot root;
        ShadowRoot shadow;
        std::array<uint32_t, 4> pages;  // slot of each root table, kNoPage if absent
        uint64_t refs;
    };
    // The shadow pages of one guest frame, one slot per level (1 = PT .. 4 = PML4).
    using GfnPages = std::array<uint32_t, 4>;
    static constexpr uint32_t kNoPage = UINT32_MAX;

    std::optional<uint32_t> acquire(GuestFrame gfn, unsigned level);
    void unref(uint32_t slot);
    void free_page(uint32_t slot);
    void set_entry(ShadowPage& page, unsigned index, uint64_t guest_entry);
    void release_held(unsigned level, uint64_t held);
    void mark_pending(ShadowPage& page, unsigned index);
    void apply_write(GuestFrame gfn, unsigned offset, unsigned bytes, uint64_t value);
    ShadowPage* find_page(GuestFrame gfn, unsigned level);
    void drop_root(RootRecord& record);
    void refresh_gauges();

    GuestLog& log_;
    HypervisorPort& hv_;
    GuestFramePins& pins_;
    HostPagePool& pool_;
    HostFrame scratch_;
    PpgttShadowLimits limits_;
    PpgttCounters counters_;

    // Guest frame -> its shadow pages. The hot path (a trapped write) only
    // looks up; records are added when a new guest table appears, which costs
    // a host page and a 4 KiB guest read anyway. Reserved up front for the
    // page limit (there is never more than one record per shadow page), so it
    // never rehashes either.
    std::unordered_map<uint64_t, GfnPages> by_gfn_;
    // Shadow pages by slot; a slot's page object is kept for reuse once freed.
    std::vector<std::unique_ptr<ShadowPage>> pages_;
    std::vector<uint32_t> free_slots_;
    size_t live_pages_ = 0;
    // Slots of pages with pending entries (each at most once).
    std::vector<uint32_t> pending_pages_;
    // Releases waiting for the holds to go (hold_frames()).
    uint32_t holds_ = 0;
    std::vector<uint64_t> deferred_unpins_;  // guest frames
    std::vector<uint32_t> deferred_frees_;   // slots that reached 0 references
    std::vector<RootRecord> roots_;
    // One guest-page read buffer per level: a walk only ever descends, so
    // each level's buffer is in use at most once at a time.
    std::array<std::array<uint64_t, 512>, 4> read_buf_{};
};

}  // namespace xengt::mediator
