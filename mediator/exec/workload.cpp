#include "mediator/exec/workload.hpp"

#include <algorithm>
#include <array>
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

// Shadow copies of the batches a scan starts, laid out one after another in
// the workload's window behind the ring and context. A privileged (GGTT)
// batch runs from its copy: the MI_BATCH_BUFFER_START that starts it is
// pointed at the copy. A PPGTT batch is scanned on a copy but runs in place,
// confined by the shadow PPGTT and the hardware's non-privileged batch rules,
// as GVT-g does; it may therefore not start a privileged batch.
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
        l = Level{call.address, call.ppgtt, parent_at,      call.parent_offset,
                  bump_,        0,          call.max_dwords};
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
        if (l.at + l.dwords * 4 != bump_) {
            // A batch it started was copied behind it: move it to the end, so
            // it stays one contiguous buffer, and re-point its start.
            if (bump_ + l.dwords * 4 > size_) {
                return fail("shadow window full");
            }
            std::memmove(window_ + bump_, window_ + l.at, l.dwords * 4);
            l.at = bump_;
            bump_ += l.dwords * 4;
            if (!l.ppgtt) {
                relocate(l);
            }
        }
        if (!grow(l)) {
            return std::nullopt;
        }
        return view(l);
    }

    const char* reason() const { return reason_; }

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

    // Copies the next piece of the batch (to the end of its current page).
    bool grow(Level& l) {
        const uint64_t from = l.address + l.dwords * 4;
        const size_t page_left = (kPageSize - (from & kPageMask)) / 4;
        const size_t n = std::min(page_left, l.max - l.dwords);
        if (n == 0) {
            return false;
        }
        if (bump_ + n * 4 > size_) {
            fail("shadow window full");
            return false;
        }
        const std::span<std::byte> out{window_ + bump_, n * 4};
        const bool ok =
            l.ppgtt ? env_.memory.read_ppgtt(*root_, from, out) : env_.memory.read_gm(from, out);
        if (!ok) {
            fail(l.ppgtt ? "batch page not mapped in the PPGTT"
                         : "batch page not mapped in the GGTT");
            return false;
        }
        bump_ += n * 4;
        l.dwords += n;
        return true;
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
    const char* reason_ = "";
};

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
        XENGT_GUEST_LOG(env.log, LogLevel::Warn,
                        "%s workload (context 0x%08x) rejected: %s%s%s at %s 0x%llx dword %zu "
                        "(0x%08x %s)",
                        e.name, w.guest_lrca, w.reason, *batches.reason() ? ": " : "",
                        batches.reason(), err.level == 0 ? "ring" : "batch",
                        static_cast<unsigned long long>(err.level == 0 ? ring_start + guest_head
                                                                       : err.buffer_address),
                        err.offset, err.dword0, *err.command ? err.command : "unknown");
        return;
    }

    // The shadow context: ring at the window start, PPGTT roots the shadow's.
    const uint64_t ring_gm = env.arena->gm(w.window);
    set_state_dword(image, kCtxRingHead, 0);
    set_state_dword(image, kCtxRingTail, section);
    set_state_dword(image, kCtxRingStart, static_cast<uint32_t>(ring_gm));
    set_state_dword(image, kCtxRingCtl, (w.ring_pages - 1) << kPageShift | kRingCtlValid);
    for (unsigned n = 0; n < 4; ++n) {
        const std::optional<HostFrame> t = shadow.tables[n];
        const uint64_t address = t ? t->value() << kPageShift : 0;
        set_state_dword(image, ctx_pdp_udw(n), static_cast<uint32_t>(address >> 32));
        set_state_dword(image, ctx_pdp_ldw(n), static_cast<uint32_t>(address));
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
}

}  // namespace xengt::mediator::exec
