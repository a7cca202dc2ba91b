#include "mediator/exec/workload.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace xengt::mediator::exec {
namespace {

constexpr uint32_t kDescFlagsMask = 0x1FF;  // §4.4 bits 8:0 (valid .. privilege)
// §5.2 MI_BATCH_BUFFER_START: address low in DW1 (bits 31:2), high in DW2.
constexpr uint32_t kBbsAddressLowMask = 0xFFFFFFFC;

uint32_t state_dword(const std::byte* image, uint32_t dw) {
    uint32_t v = 0;
    std::memcpy(&v, image + kLrcStatePage * kPageSize + dw * 4, 4);
    return v;
}
void set_state_dword(std::byte* image, uint32_t dw, uint32_t v) {
    std::memcpy(image + kLrcStatePage * kPageSize + dw * 4, &v, 4);
}

constexpr uint64_t kEntryAddressMask = 0x00003ffffffff000ull;  // §3.2 bits 45:12

size_t page_up(size_t at) {
    return (at + kPageSize - 1) & ~static_cast<size_t>(kPageMask);
}

// A page of a PPGTT batch as copied into the window.
struct PpgttPage {
    uint64_t va = 0;      // page-aligned virtual address
    uint32_t window = 0;  // byte offset of the copy in the window (page aligned)
};
// PPGTT batch pages one workload may use (256 KiB): the overlay costs a
// table copy per level for each, so it is bounded.
constexpr size_t kMaxPpgttPages = 64;

// Shadow copies of the batches a scan starts, laid out one after another in
// the workload's window behind the ring and context. Nothing the GPU runs
// is read from guest memory after the scan:
//   - a privileged (GGTT) batch runs from its copy: the MI_BATCH_BUFFER_START
//     that starts it is pointed at the copy;
//   - a PPGTT batch is copied page for page (same offsets in the page) and
//     the workload's PPGTT gets an overlay mapping those virtual pages to the
//     copies (build_overlay), so the batch runs from its copy at its own
//     addresses and its commands keep their address space.
// A page already copied for this workload is copied from that copy, so two
// batches sharing a page see the same bytes.
class ShadowBatches final : public cmd::BatchSource {
public:
    ShadowBatches(WorkloadEnv& env, Workload& w, std::byte* window, size_t used, size_t size,
                  const std::optional<PpgttRoot>& root)
        : env_(env), w_(w), window_(window), bump_(used), size_(size), root_(root) {}

    std::optional<std::span<const uint32_t>> fetch(const cmd::BatchCall& call) override {
        if (call.level < 1 || call.level > 2 || call.parent_level > 2) {
            return std::nullopt;
        }
        const Level* parent = call.parent_level == 0 ? nullptr : &levels_[call.parent_level];
        if (!call.ppgtt && parent != nullptr && parent->ppgtt) {
            return fail("privileged batch started from a PPGTT batch");
        }
        // Where the starting command sits, taken before a chain (level 1
        // starting level 1) replaces the record it lives in.
        const size_t parent_at = parent == nullptr ? 0 : parent->at;
        if (call.ppgtt && !root_) {
            return fail("PPGTT batch in a context without a PPGTT");
        }
        Level& l = levels_[call.level];
        l = Level{call.address, call.ppgtt, parent_at, call.parent_offset, 0, 0, call.max_dwords};
        l.at = l.ppgtt ? page_up(bump_) + (l.address & kPageMask) : bump_;
        if (!grow(l)) {
            return std::nullopt;
        }
        if (!l.ppgtt) {
            relocate(l);
        }
        return view(l);
    }

    std::optional<std::span<const uint32_t>> extend(uint8_t level, size_t have) override {
        if (level < 1 || level > 2) {
            return std::nullopt;
        }
        Level& l = levels_[level];
        if (have != l.dwords) {
            return std::nullopt;
        }
        if (end_of(l) != bump_) {
            // A batch it started was copied behind it: move it to the end, so
            // it stays one contiguous buffer, and re-point its start.
            const size_t from = l.ppgtt ? l.at & ~static_cast<size_t>(kPageMask) : l.at;
            const size_t to = l.ppgtt ? page_up(bump_) : bump_;
            const size_t bytes = end_of(l) - from;
            if (to + bytes > size_) {
                return fail("shadow window full");
            }
            std::memmove(window_ + to, window_ + from, bytes);
            l.at = to + (l.at - from);
            bump_ = to + bytes;
            if (l.ppgtt) {
                // The moved pages are the ones to map from now on.
                for (size_t p = 0; p < bytes; p += kPageSize) {
                    if (!record((l.address & ~kPageMask) + p, to + p)) {
                        return std::nullopt;
                    }
                }
            } else {
                relocate(l);
            }
        }
        if (!grow(l)) {
            return std::nullopt;
        }
        return view(l);
    }

    const char* reason() const { return reason_; }
    size_t used() const { return bump_; }
    std::span<const PpgttPage> ppgtt_pages() const { return {pages_.data(), n_pages_}; }

private:
    struct Level {
        uint64_t address = 0;
        bool ppgtt = false;
        size_t parent_at = 0;      // byte offset in the window of the buffer holding its start
        size_t parent_offset = 0;  // dword offset of the start command in it
        size_t at = 0;             // byte offset of the copy in the window
        size_t dwords = 0;         // copied so far
        size_t max = 0;
    };

    std::nullopt_t fail(const char* why) {
        reason_ = why;
        return std::nullopt;
    }

    std::span<const uint32_t> view(const Level& l) const {
        return {reinterpret_cast<const uint32_t*>(window_ + l.at), l.dwords};
    }

    // Where the level's copy ends in the window (whole pages for PPGTT).
    size_t end_of(const Level& l) const {
        const size_t end = l.at + l.dwords * 4;
        return l.ppgtt ? page_up(end) : end;
    }

    bool record(uint64_t va, size_t window) {
        if (n_pages_ == kMaxPpgttPages) {
            fail("PPGTT batches too large to shadow");
            return false;
        }
        pages_[n_pages_++] = {va, static_cast<uint32_t>(window)};
        return true;
    }

    // Copies the next piece of the batch: to the end of its current page for
    // a GGTT batch, the whole next page for a PPGTT one.
    bool grow(Level& l) {
        const uint64_t from = l.address + l.dwords * 4;
        const size_t page_left = (kPageSize - (from & kPageMask)) / 4;
        const size_t n = std::min(page_left, l.max - l.dwords);
        if (n == 0) {
            return false;
        }
        if (!l.ppgtt) {
            if (bump_ + n * 4 > size_) {
                fail("shadow window full");
                return false;
            }
            if (!env_.memory.read_gm(from, {window_ + bump_, n * 4})) {
                fail("batch page not mapped in the GGTT");
                return false;
            }
            bump_ += n * 4;
            l.dwords += n;
            return true;
        }
        const uint64_t va = from & ~kPageMask;
        const size_t to = (l.at + l.dwords * 4) & ~static_cast<size_t>(kPageMask);
        if (to + kPageSize > size_) {
            fail("shadow window full");
            return false;
        }
        const std::span<std::byte> out{window_ + to, kPageSize};
        const PpgttPage* seen = find(va);
        if (seen != nullptr) {
            std::memmove(out.data(), window_ + seen->window, kPageSize);
        } else if (!env_.memory.read_ppgtt(*root_, va, out)) {
            fail("batch page not mapped in the PPGTT");
            return false;
        }
        if (!record(va, to)) {
            return false;
        }
        bump_ = to + kPageSize;
        l.dwords += n;
        return true;
    }

    const PpgttPage* find(uint64_t va) const {
        for (size_t i = n_pages_; i-- > 0;) {
            if (pages_[i].va == va) {
                return &pages_[i];
            }
        }
        return nullptr;
    }

    // Points the parent's MI_BATCH_BUFFER_START at the copy.
    void relocate(const Level& l) {
        auto* cmd = reinterpret_cast<uint32_t*>(window_ + l.parent_at) + l.parent_offset;
        const uint64_t gm = env_.arena->gm(w_.window) + l.at;
        cmd[1] = static_cast<uint32_t>(gm) & kBbsAddressLowMask;
        cmd[2] = static_cast<uint32_t>(gm >> 32);
    }

    WorkloadEnv& env_;
    Workload& w_;
    std::byte* window_;
    size_t bump_;
    size_t size_;
    const std::optional<PpgttRoot>& root_;
    std::array<Level, 3> levels_{};
    std::array<PpgttPage, kMaxPpgttPages> pages_{};
    size_t n_pages_ = 0;
    const char* reason_ = "";
};

// The workload's own view of its PPGTT: the shadow tables on the way to each
// batch page are copied into the window, and their leaf entries point at the
// batch copies; everything else is shared with the live shadow (whose pages
// and pins the workload holds, PpgttShadow::hold_frames). `pdps` comes in as
// the live roots and goes out as the ones the context must use. Returns why
// not, or nullptr.
const char* build_overlay(WorkloadEnv& env, const Workload& w, std::byte* window, size_t used,
                          size_t size, const PpgttRoot& root, std::span<const PpgttPage> pages,
                          std::array<uint64_t, 4>& pdps) {
    struct Clone {
        HostFrame source;
        size_t at;
    };
    std::array<Clone, kMaxPpgttPages * 4> clones{};
    size_t n_clones = 0;
    size_t bump = page_up(used);
    auto clone_of = [&](const PpgttShadow::PathLevel& t) -> std::optional<size_t> {
        for (size_t i = 0; i < n_clones; ++i) {
            if (clones[i].source == t.frame) {
                return clones[i].at;
            }
        }
        if (bump + kPageSize > size || n_clones == clones.size()) {
            return std::nullopt;
        }
        std::memcpy(window + bump, t.table, kPageSize);
        clones[n_clones++] = {t.frame, bump};
        bump += kPageSize;
        return clones[n_clones - 1].at;
    };
    auto frame_at = [&](size_t at) { return env.arena->frame(w.window, at); };
    auto entry = [&](size_t table_at, unsigned index) -> uint64_t& {
        return *reinterpret_cast<uint64_t*>(window + table_at + index * 8);
    };
    const bool four = root.levels == PpgttRoot::Levels::Four;
    const size_t depth = four ? 4 : 2;
    // Later copies of a page supersede earlier ones (a batch moved to grow).
    for (size_t k = pages.size(); k-- > 0;) {
        const PpgttPage& p = pages[k];
        bool later = false;
        for (size_t j = k + 1; j < pages.size(); ++j) {
            later = later || pages[j].va == p.va;
        }
        if (later) {
            continue;
        }
        std::array<PpgttShadow::PathLevel, 4> path{};
        if (env.ppgtt->shadow_path(root, p.va, path) != depth) {
            return "batch page not mapped in the shadow PPGTT";
        }
        std::optional<size_t> parent = clone_of(path[0]);
        if (!parent) {
            return "shadow window full";
        }
        pdps[four ? 0 : (p.va >> 30) & 3] = frame_at(*parent).value() << kPageShift;
        for (size_t l = 1; l <= depth; ++l) {
            const unsigned level = static_cast<unsigned>(depth - l + 1);  // of the parent
            const unsigned index = (p.va >> (kPageShift + 9 * (level - 1))) & 0x1FF;
            uint64_t& e = entry(*parent, index);
            if (l == depth) {
                e = (e & ~kEntryAddressMask) | (frame_at(p.window).value() << kPageShift);
                break;
            }
            const std::optional<size_t> child = clone_of(path[l]);
            if (!child) {
                return "shadow window full";
            }
            e = (e & ~kEntryAddressMask) | (frame_at(*child).value() << kPageShift);
            parent = child;
        }
    }
    return nullptr;
}

void reject(WorkloadEnv& env, Workload& w, const char* why) {
    w.status = WorkloadStatus::Rejected;
    w.reason = why;
    XENGT_GUEST_LOG(env.log, LogLevel::Warn, "%s workload (context 0x%08x) rejected: %s",
                    desc(w.engine).name, w.guest_lrca, why);
}

// The guest's PPGTT as its context names it (§3.4, §4.7), or nullopt when
// the context has none (all pointers zero).
std::optional<PpgttRoot> root_of(const std::byte* image, uint64_t desc) {
    PpgttRoot root;
    const uint64_t mode = desc >> kDescAddrModeShift & kDescAddrModeMask;
    root.levels = mode == kDescLegacy64 ? PpgttRoot::Levels::Four : PpgttRoot::Levels::Three;
    bool any = false;
    for (unsigned n = 0; n < 4; ++n) {
        root.pdp[n] =
            uint64_t{state_dword(image, ctx_pdp_udw(n))} << 32 | state_dword(image, ctx_pdp_ldw(n));
        any = any || root.pdp[n] != 0;
    }
    return any ? std::optional(root) : std::nullopt;
}

}  // namespace

const char* to_string(WorkloadStatus s) {
    switch (s) {
        case WorkloadStatus::Free:
            return "free";
        case WorkloadStatus::Prepared:
            return "prepared";
        case WorkloadStatus::Rejected:
            return "rejected";
        case WorkloadStatus::Completed:
            return "completed";
        case WorkloadStatus::Faulted:
            return "faulted";
        case WorkloadStatus::Hung:
            return "hung";
        case WorkloadStatus::Cancelled:
            return "cancelled";
    }
    return "?";
}

void prepare(WorkloadEnv& env, Workload& w, uint64_t descriptor, std::optional<uint32_t> head) {
    const EngineDesc& e = desc(w.engine);
    w.guest_desc = descriptor;
    w.guest_lrca = static_cast<uint32_t>(descriptor & kDescLrcaMask);
    w.context_pages = e.context_pages;
    w.ppgtt.reset();
    w.scan = {};
    w.reason = "";
    w.hw_ctx_id = 0;
    w.engine_ns = 0;
    const uint64_t mode = descriptor >> kDescAddrModeShift & kDescAddrModeMask;
    if (mode != kDescLegacy32 && mode != kDescLegacy64) {
        // §3.4: i915 only uses the legacy modes; advanced ones are not emulated.
        return reject(env, w, "context addressing mode not supported");
    }

    std::byte* const window = env.arena->cpu(w.window);
    const size_t window_bytes = size_t{env.arena->window_pages()} * kPageSize;

    // The context image first (ring pointers are in it), at a provisional
    // place; it is moved behind the ring once the ring's size is known.
    const size_t image_bytes = size_t{w.context_pages} * kPageSize;
    if (image_bytes * 2 > window_bytes) {
        return reject(env, w, "shadow window too small for the context image");
    }
    std::byte* image = window + window_bytes - image_bytes;
    if (!env.memory.read_gm(w.guest_lrca, {image, image_bytes})) {
        return reject(env, w, "context image not mapped in the guest's GGTT");
    }
    const uint32_t ring_start =
        state_dword(image, kCtxRingStart) & ~static_cast<uint32_t>(kPageMask);
    const uint32_t ring_ctl = state_dword(image, kCtxRingCtl);
    const uint32_t ring_bytes = (ring_ctl & kRingCtlSizeMask) + static_cast<uint32_t>(kPageSize);
    const uint32_t guest_head = head.value_or(state_dword(image, kCtxRingHead)) & kHeadMask;
    const uint32_t guest_tail = state_dword(image, kCtxRingTail) & kTailMask;
    if ((ring_ctl & kRingCtlValid) == 0 || guest_head >= ring_bytes || guest_tail >= ring_bytes ||
        (guest_head & 7) != 0) {
        return reject(env, w, "context ring registers invalid");
    }
    w.ring_head = guest_head;
    w.ring_tail = guest_tail;

    // The ring section [head, tail), possibly wrapping, becomes a ring of its
    // own at the start of the window: head 0, tail = its length.
    const uint32_t section =
        guest_tail >= guest_head ? guest_tail - guest_head : ring_bytes - guest_head + guest_tail;
    w.ring_pages = section / static_cast<uint32_t>(kPageSize) + 1;
    const size_t ring_bytes_shadow = size_t{w.ring_pages} * kPageSize;
    if (ring_bytes_shadow + image_bytes > window_bytes - image_bytes) {
        return reject(env, w, "ring section too large for the shadow window");
    }
    std::memmove(window + ring_bytes_shadow, image, image_bytes);
    image = window + ring_bytes_shadow;
    const uint32_t first = std::min(section, ring_bytes - guest_head);
    if (!env.memory.read_gm(ring_start + guest_head, {window, first}) ||
        !env.memory.read_gm(ring_start, {window + first, section - first})) {
        return reject(env, w, "ring not mapped in the guest's GGTT");
    }
    std::memset(window + section, 0, ring_bytes_shadow - section);

    // The PPGTT: the shadow of the root the context names, held while in flight.
    const std::optional<PpgttRoot> root = root_of(image, descriptor);
    ShadowRoot shadow{};
    if (root) {
        const std::optional<ShadowRoot> s =
            env.ppgtt != nullptr ? env.ppgtt->create(*root) : std::nullopt;
        if (!s) {
            return reject(env, w, "context PPGTT cannot be shadowed");
        }
        w.ppgtt = root;
        shadow = *s;
    }

    // Scan the ring section and everything it starts; GGTT batches are copied
    // behind the context image and run from there.
    const size_t used = ring_bytes_shadow + image_bytes;
    env.policy.engine = w.engine;
    env.policy.batch_budget_dwords = (window_bytes - used) / 4;
    ShadowBatches batches(env, w, window, used, window_bytes, w.ppgtt);
    w.scan =
        cmd::scan({reinterpret_cast<const uint32_t*>(window), section / 4}, env.policy, &batches);
    if (!w.scan.ok()) {
        const cmd::ScanError& err = w.scan.error;
        w.status = WorkloadStatus::Rejected;
        w.reason = cmd::to_string(err.reason);
        char reg[32] = "";
        if (err.reason == cmd::ScanReason::RegisterNotAllowed) {
            std::snprintf(reg, sizeof reg, " 0x%05x", err.register_offset);
        }
        XENGT_GUEST_LOG(env.log, LogLevel::Warn,
                        "%s workload (context 0x%08x) rejected: %s%s%s%s at %s 0x%llx dword %zu "
                        "(0x%08x %s)",
                        e.name, w.guest_lrca, w.reason, reg, *batches.reason() ? ": " : "",
                        batches.reason(), err.level == 0 ? "ring" : "batch",
                        static_cast<unsigned long long>(err.level == 0 ? ring_start + guest_head
                                                                       : err.buffer_address),
                        err.offset, err.dword0, *err.command ? err.command : "unknown");
        return;
    }

    // The PPGTT the GPU walks: the shadow's, with the batch pages overlaid.
    std::array<uint64_t, 4> pdps{};
    for (unsigned n = 0; n < 4; ++n) {
        const std::optional<HostFrame> t = shadow.tables[n];
        pdps[n] = t ? t->value() << kPageShift : 0;
    }
    if (!batches.ppgtt_pages().empty()) {
        if (const char* why = build_overlay(env, w, window, batches.used(), window_bytes, *root,
                                            batches.ppgtt_pages(), pdps)) {
            return reject(env, w, why);
        }
    }

    // The shadow context: ring at the window start, PPGTT roots the overlay's.
    const uint64_t ring_gm = env.arena->gm(w.window);
    set_state_dword(image, kCtxRingHead, 0);
    set_state_dword(image, kCtxRingTail, section);
    set_state_dword(image, kCtxRingStart, static_cast<uint32_t>(ring_gm));
    set_state_dword(image, kCtxRingCtl, (w.ring_pages - 1) << kPageShift | kRingCtlValid);
    for (unsigned n = 0; n < 4; ++n) {
        set_state_dword(image, ctx_pdp_udw(n), static_cast<uint32_t>(pdps[n] >> 32));
        set_state_dword(image, ctx_pdp_ldw(n), static_cast<uint32_t>(pdps[n]));
    }
    // What the shadows name stays put until the GPU is done (write_back).
    if (env.ppgtt != nullptr) {
        env.ppgtt->hold_frames();
        w.holds_frames = true;
    }
    w.shadow_desc = (descriptor & kDescFlagsMask) | (ring_gm + ring_bytes_shadow);
    w.status = WorkloadStatus::Prepared;
}

void write_back(WorkloadEnv& env, Workload& w) {
    // Only a context the GPU ran has a saved image to give back.
    if (w.status == WorkloadStatus::Completed || w.status == WorkloadStatus::Faulted ||
        w.status == WorkloadStatus::Hung) {
        const std::byte* image = env.arena->cpu(w.window) + size_t{w.ring_pages} * kPageSize;
        // What the GPU saved, except the ring and PPGTT pointers: those are
        // the guest's own and are left untouched in its image, but for the
        // head, advanced to where the section ended (written last). The
        // guest may be writing the tail there this moment for its next
        // submission; writing its header back from a copy would undo that.
        const size_t state = size_t{kLrcStatePage} * kPageSize;
        const size_t after_header = state + size_t{kCtxHeaderDwords} * 4;
        const size_t bytes = size_t{w.context_pages} * kPageSize;
        const uint32_t head = w.status == WorkloadStatus::Completed ? w.ring_tail : w.ring_head;
        const bool ok = env.memory.write_gm(w.guest_lrca, {image, state}) &&
                        env.memory.write_gm(w.guest_lrca + after_header,
                                            {image + after_header, bytes - after_header}) &&
                        env.memory.write_gm(w.guest_lrca + state + kCtxRingHead * 4,
                                            std::as_bytes(std::span{&head, 1}));
        if (!ok) {
            XENGT_GUEST_LOG(env.log, LogLevel::Warn,
                            "%s context 0x%08x: image no longer mapped, not written back",
                            desc(w.engine).name, w.guest_lrca);
        }
    }
    if (w.ppgtt && env.ppgtt != nullptr) {
        env.ppgtt->destroy(*w.ppgtt);
    }
    w.ppgtt.reset();
    if (w.holds_frames && env.ppgtt != nullptr) {
        env.ppgtt->release_frames();
    }
    w.holds_frames = false;
}

}  // namespace xengt::mediator::exec
