#include "mediator/gtt/ppgtt_shadow.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>
#include <utility>

namespace xengt::mediator {
namespace {

// Entries are little-endian 64-bit words in both guest and shadow pages; they
// are copied with memcpy, which is only a conversion on a little-endian host.
static_assert(std::endian::native == std::endian::little);

constexpr unsigned kEntries = 512;
constexpr unsigned kLeafLevel = 1;  // PT; 2 = PD, 3 = PDP, 4 = PML4

constexpr uint64_t kPresent = uint64_t{1} << 0;
constexpr uint64_t kPageSizeBit = uint64_t{1} << 7;       // PS in a PDE (2 MiB) or PDPE (1 GiB)
constexpr uint64_t kIpsBit = uint64_t{1} << 11;           // IPS in a PDE: the PT holds 64 KiB pages
constexpr uint64_t kAddressMask = 0x00003ffffffff000ull;  // bits 45:12
constexpr uint64_t kLeafFlags = 0xffeull;                 // bits 11:1 (bit 7 is PAT here)
constexpr uint64_t kTableFlags = kLeafFlags & ~kPageSizeBit;

// We do not advertise VGT_CAPS_HUGE_GTT in PVINFO, so a well-behaved i915
// maps everything with 4 KiB PTEs; a huge or 64 KiB entry is refused rather
// than shadowed.
bool is_huge(unsigned level, uint64_t entry) {
    if (level == 2) {
        return (entry & (kPageSizeBit | kIpsBit)) != 0;
    }
    return level == 3 && (entry & kPageSizeBit) != 0;
}

GuestFrame target_of(uint64_t entry) {
    return GuestFrame{(entry & kAddressMask) >> kPageShift};
}

uint64_t make_entry(HostFrame frame, uint64_t flags) {
    return ((frame.value() << kPageShift) & kAddressMask) | flags | kPresent;
}

// What a shadow entry holds, so that it can be let go: 0 for nothing, else
// (payload << 1) | 1 with payload the pinned gfn (leaf) or the child's slot.
uint64_t hold(uint64_t payload) {
    return (payload << 1) | 1;
}

unsigned root_level(PpgttRoot::Levels levels) {
    return levels == PpgttRoot::Levels::Four ? 4 : 2;
}

const char* level_name(unsigned level) {
    static constexpr const char* kNames[] = {"?", "PT", "PD", "PDP", "PML4"};
    return level < 5 ? kNames[level] : "?";
}

unsigned long long ull(uint64_t v) {
    return static_cast<unsigned long long>(v);
}

// The root as it is keyed: address bits only, unused slots zero. nullopt if it
// names no table at all.
std::optional<PpgttRoot> normalize(const PpgttRoot& in) {
    PpgttRoot out{in.levels, {}};
    const size_t used = in.levels == PpgttRoot::Levels::Four ? 1 : 4;
    bool any = false;
    for (size_t i = 0; i < used; ++i) {
        out.pdp[i] = in.pdp[i] & kAddressMask;
        any = any || out.pdp[i] != 0;
    }
    return any ? std::optional(out) : std::nullopt;
}

}  // namespace

struct PpgttShadow::ShadowPage {
    GuestFrame gfn;
    unsigned level = 0;
    uint32_t slot = 0;  // index in pages_
    uint64_t refs = 0;
    HostPage host;
    bool queued = false;                    // in pending_pages_
    bool dying = false;                     // in deferred_frees_
    std::array<uint64_t, 8> pending{};      // entries awaiting sync(), one bit each
    std::array<uint64_t, kEntries> held{};  // see hold()

    void store(unsigned index, uint64_t entry) {
        std::memcpy(host.data + index * sizeof entry, &entry, sizeof entry);
    }
};

PpgttShadow::PpgttShadow(GuestLog& log, HypervisorPort& hv, GuestFramePins& pins,
                         HostPagePool& pool, HostFrame scratch, PpgttShadowLimits limits)
    : log_(log), hv_(hv), pins_(pins), pool_(pool), scratch_(scratch), limits_(limits) {
    by_gfn_.reserve(limits_.max_shadow_pages);
    roots_.reserve(limits_.max_roots);
}

PpgttShadow::~PpgttShadow() {
    reset();
    holds_ = 0;  // the owner has nothing on the GPU any more
    release_frames();
}

void PpgttShadow::release_frames() {
    if (holds_ > 1) {
        --holds_;
        return;
    }
    holds_ = 0;
    // Freeing a page releases what it holds, which (no hold left) happens at
    // once; only these lists can have been filled while held.
    std::vector<uint64_t> unpins;
    unpins.swap(deferred_unpins_);
    for (const uint64_t gfn : unpins) {
        pins_.unpin(GuestFrame{gfn});
    }
    std::vector<uint32_t> frees;
    frees.swap(deferred_frees_);
    for (const uint32_t slot : frees) {
        ShadowPage& page = *pages_[slot];
        page.dying = false;
        if (page.refs == 0) {
            free_page(slot);
        }
    }
    // Keep the capacity: the next hold defers into it without allocating.
    unpins.clear();
    frees.clear();
    if (deferred_unpins_.empty()) {
        deferred_unpins_.swap(unpins);
    }
    if (deferred_frees_.empty()) {
        deferred_frees_.swap(frees);
    }
}

size_t PpgttShadow::shadow_path(const PpgttRoot& requested, uint64_t va,
                                std::span<PathLevel, 4> out) const {
    const std::optional<PpgttRoot> root = normalize(requested);
    const auto it = std::find_if(roots_.begin(), roots_.end(),
                                 [&](const RootRecord& r) { return root && r.root == *root; });
    if (it == roots_.end()) {
        return 0;
    }
    const bool four = it->root.levels == PpgttRoot::Levels::Four;
    uint32_t slot = it->pages[four ? 0 : (va >> 30) & 3];
    unsigned level = four ? 4 : 2;
    size_t n = 0;
    while (slot != kNoPage) {
        const ShadowPage& page = *pages_[slot];
        out[n++] = {page.host.frame, page.host.data};
        if (level == kLeafLevel) {
            break;
        }
        const uint64_t held = page.held[(va >> (kPageShift + 9 * (level - 1))) & (kEntries - 1)];
        slot = held == 0 ? kNoPage : static_cast<uint32_t>(held >> 1);
        --level;
    }
    return n;
}

void PpgttShadow::refresh_gauges() {
    counters_.roots = roots_.size();
    counters_.shadow_pages = live_pages_;
    counters_.protected_pages = by_gfn_.size();
}

PpgttShadow::ShadowPage* PpgttShadow::find_page(GuestFrame gfn, unsigned level) {
    const auto it = by_gfn_.find(gfn.value());
    if (it == by_gfn_.end() || it->second[level - 1] == kNoPage) {
        return nullptr;
    }
    return pages_[it->second[level - 1]].get();
}

bool PpgttShadow::is_protected(GuestFrame gfn) const {
    return by_gfn_.contains(gfn.value());
}

// The shadow page for (gfn, level) with one more reference, built (protected,
// read, every entry shadowed) if it did not exist. Recurses once per level
// below, so at most four deep.
std::optional<uint32_t> PpgttShadow::acquire(GuestFrame gfn, unsigned level) {
    const auto found = by_gfn_.find(gfn.value());
    if (found != by_gfn_.end() && found->second[level - 1] != kNoPage) {
        const uint32_t slot = found->second[level - 1];
        ++pages_[slot]->refs;
        return slot;
    }
    if (live_pages_ >= limits_.max_shadow_pages) {
        ++counters_.limit_refusals;
        XENGT_GUEST_LOG(log_, LogLevel::Warn,
                        "ppgtt: %s at gfn %#llx not shadowed: limit of %zu shadow pages reached",
                        level_name(level), ull(gfn.value()), limits_.max_shadow_pages);
        return std::nullopt;
    }
    // Protect before reading, so that no write can fall between the two.
    const bool first_of_gfn = found == by_gfn_.end();
    if (first_of_gfn && !hv_.protect_page(gfn)) {
        ++counters_.unprotectable_tables;
        XENGT_GUEST_LOG(log_, LogLevel::Warn,
                        "ppgtt: %s at gfn %#llx not shadowed: cannot write-protect it",
                        level_name(level), ull(gfn.value()));
        return std::nullopt;
    }
    auto undo_protect = [&] {
        if (first_of_gfn) {
            hv_.unprotect_page(gfn);
        }
    };
    const std::optional<HostPage> host = pool_.allocate();
    if (!host) {
        ++counters_.pool_exhausted;
        XENGT_GUEST_LOG(log_, LogLevel::Warn,
                        "ppgtt: %s at gfn %#llx not shadowed: host page pool exhausted",
                        level_name(level), ull(gfn.value()));
        undo_protect();
        return std::nullopt;
    }
    auto& guest = read_buf_[level - 1];
    if (!hv_.read_guest(address_of(gfn), std::as_writable_bytes(std::span(guest)))) {
        ++counters_.guest_access_failures;
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "ppgtt: %s at gfn %#llx not shadowed: unreadable",
                        level_name(level), ull(gfn.value()));
        pool_.release(host->frame);
        undo_protect();
        return std::nullopt;
    }

    uint32_t slot;
    if (!free_slots_.empty()) {
        slot = free_slots_.back();
        free_slots_.pop_back();
    } else {
        slot = static_cast<uint32_t>(pages_.size());
        pages_.push_back(std::make_unique<ShadowPage>());
    }
    ShadowPage& page = *pages_[slot];
    page.gfn = gfn;
    page.level = level;
    page.slot = slot;
    page.refs = 1;
    page.host = *host;
    if (first_of_gfn) {
        GfnPages none;
        none.fill(kNoPage);
        by_gfn_.emplace(gfn.value(), none).first->second[level - 1] = slot;
    } else {
        found->second[level - 1] = slot;
    }
    ++live_pages_;
    refresh_gauges();

    // The pool's page is zeroed, which is what a not-present entry shadows to.
    for (unsigned i = 0; i < kEntries; ++i) {
        if ((guest[i] & kPresent) != 0) {
            set_entry(page, i, guest[i]);
        }
    }
    return slot;
}

void PpgttShadow::unref(uint32_t slot) {
    ShadowPage& page = *pages_[slot];
    if (--page.refs > 0) {
        return;
    }
    if (holds_ > 0) {
        // The GPU may still walk it: free it once the holds are gone (or
        // never, if the guest takes it into use again meanwhile).
        if (!page.dying) {
            page.dying = true;
            deferred_frees_.push_back(slot);
        }
        return;
    }
    free_page(slot);
}

void PpgttShadow::free_page(uint32_t slot) {
    ShadowPage& page = *pages_[slot];
    // Nothing points at the page any more; let go of what its entries hold.
    for (unsigned i = 0; i < kEntries; ++i) {
        if (page.held[i] != 0) {
            release_held(page.level, std::exchange(page.held[i], 0));
        }
    }
    if (page.queued) {
        const auto it = std::find(pending_pages_.begin(), pending_pages_.end(), slot);
        *it = pending_pages_.back();
        pending_pages_.pop_back();
        page.queued = false;
    }
    page.pending.fill(0);
    pool_.release(page.host.frame);
    page.host = {};

    const auto it = by_gfn_.find(page.gfn.value());
    it->second[page.level - 1] = kNoPage;
    if (std::all_of(it->second.begin(), it->second.end(),
                    [](uint32_t s) { return s == kNoPage; })) {
        by_gfn_.erase(it);
        hv_.unprotect_page(page.gfn);
    }
    free_slots_.push_back(slot);
    --live_pages_;
    refresh_gauges();
}

void PpgttShadow::release_held(unsigned level, uint64_t held) {
    if (held == 0) {
        return;
    }
    if (level == kLeafLevel) {
        if (holds_ > 0) {
            deferred_unpins_.push_back(held >> 1);
        } else {
            pins_.unpin(GuestFrame{held >> 1});
        }
    } else {
        unref(static_cast<uint32_t>(held >> 1));
    }
}

// Shadows guest entry `guest_entry` into `page`[index]: the new entry is
// written first, then whatever the old one held is released.
void PpgttShadow::set_entry(ShadowPage& page, unsigned index, uint64_t guest_entry) {
    uint64_t shadow = 0;
    uint64_t held = 0;
    if ((guest_entry & kPresent) != 0) {
        const GuestFrame target = target_of(guest_entry);
        if (page.level == kLeafLevel) {
            if (const auto frame = pins_.pin(target)) {
                shadow = make_entry(*frame, guest_entry & kLeafFlags);
                held = hold(target.value());
            } else {
                shadow = make_entry(scratch_, guest_entry & kLeafFlags);
                ++counters_.scratch_entries;
                XENGT_GUEST_LOG(log_, LogLevel::Warn,
                                "ppgtt: PTE %u of gfn %#llx names gfn %#llx, not guest RAM: "
                                "mapped to scratch",
                                index, ull(page.gfn.value()), ull(target.value()));
            }
        } else if (is_huge(page.level, guest_entry)) {
            ++counters_.huge_entries_refused;
            XENGT_GUEST_LOG(log_, LogLevel::Warn,
                            "ppgtt: %s entry %u of gfn %#llx is a huge/64K entry (%#llx), "
                            "not supported: not-present",
                            level_name(page.level), index, ull(page.gfn.value()), ull(guest_entry));
        } else if (const auto child = acquire(target, page.level - 1)) {
            shadow = make_entry(pages_[*child]->host.frame, guest_entry & kTableFlags);
            held = hold(*child);
        }
    }
    page.store(index, shadow);
    release_held(page.level, std::exchange(page.held[index], held));
}

void PpgttShadow::mark_pending(ShadowPage& page, unsigned index) {
    // Until sync() the entry is not-present; what it held stays held, so
    // that rewriting an entry in halves does not tear down its subtree.
    page.store(index, 0);
    page.pending[index / 64] |= uint64_t{1} << (index % 64);
    if (!page.queued) {
        page.queued = true;
        // Grows to at most the number of shadow pages, then never allocates.
        pending_pages_.push_back(page.slot);
    }
}

// `bytes` bytes at `offset` in protected guest frame `gfn` were just stored.
void PpgttShadow::apply_write(GuestFrame gfn, unsigned offset, unsigned bytes, uint64_t value) {
    const bool whole_entry = bytes == 8 && offset % 8 == 0;
    const unsigned first = offset / 8;
    const unsigned last = (offset + bytes - 1) / 8;
    // The frame may be a table at several levels. Each level is looked up
    // afresh: updating one may create or release the frame's other shadows.
    for (unsigned level = 4; level >= kLeafLevel; --level) {
        ShadowPage* page = find_page(gfn, level);
        if (page == nullptr) {
            continue;
        }
        if (whole_entry) {
            page->pending[first / 64] &= ~(uint64_t{1} << (first % 64));
            set_entry(*page, first, value);
        } else {
            for (unsigned i = first; i <= last; ++i) {
                mark_pending(*page, i);
            }
        }
    }
}

bool PpgttShadow::on_protected_write(GuestPhysAddr addr, AccessSize size, uint64_t value) {
    const unsigned len = size.bytes();
    if (addr.value() > ~uint64_t{0} - (len - 1)) {
        ++counters_.stale_writes;
        return false;
    }
    // At most two pieces: the access may cross into the next page.
    struct Piece {
        GuestPhysAddr addr;
        unsigned skip;
        unsigned bytes;
    };
    const unsigned head =
        static_cast<unsigned>(std::min<uint64_t>(len, kPageSize - page_offset(addr)));
    std::array<Piece, 2> pieces{
        {{addr, 0, head}, {GuestPhysAddr{addr.value() + head}, head, len - head}}};
    const size_t count = head == len ? 1 : 2;
    bool claimed = false;
    for (size_t i = 0; i < count; ++i) {
        claimed = claimed || is_protected(frame_of(pieces[i].addr));
    }
    if (!claimed) {
        ++counters_.stale_writes;
        return false;
    }
    if (len == 8 && addr.value() % 8 == 0) {
        ++counters_.full_writes;
    } else {
        ++counters_.partial_writes;
    }

    std::array<std::byte, 8> bytes;
    for (unsigned i = 0; i < len; ++i) {
        bytes[i] = static_cast<std::byte>(value >> (8 * i));
    }
    // The hypervisor did not perform the write (it may not, for a protected
    // page): store every byte, then bring the shadow up to date. All bytes go
    // first, since shadowing one piece may start shadowing the other's page.
    for (size_t i = 0; i < count; ++i) {
        const Piece& p = pieces[i];
        if (!hv_.write_guest(p.addr, std::span(bytes).subspan(p.skip, p.bytes))) {
            ++counters_.guest_access_failures;
            XENGT_GUEST_LOG(log_, LogLevel::Warn, "ppgtt: write of %u bytes at %#llx failed",
                            p.bytes, ull(p.addr.value()));
        }
    }
    for (size_t i = 0; i < count; ++i) {
        const Piece& p = pieces[i];
        apply_write(frame_of(p.addr), static_cast<unsigned>(page_offset(p.addr)), p.bytes, value);
    }
    return true;
}

void PpgttShadow::sync() {
    while (!pending_pages_.empty()) {
        ShadowPage& page = *pages_[pending_pages_.back()];
        pending_pages_.pop_back();
        page.queued = false;
        // Re-shadowing only touches the levels below this page, so the page
        // itself stays alive; pages below that it releases leave the list.
        const std::array<uint64_t, 8> bits = std::exchange(page.pending, {});
        for (unsigned word = 0; word < bits.size(); ++word) {
            for (uint64_t w = bits[word]; w != 0; w &= w - 1) {
                const unsigned index = word * 64 + static_cast<unsigned>(std::countr_zero(w));
                uint64_t entry = 0;
                const GuestPhysAddr at{address_of(page.gfn).value() + index * sizeof entry};
                if (!hv_.read_guest(at, std::as_writable_bytes(std::span(&entry, 1)))) {
                    ++counters_.guest_access_failures;
                    entry = 0;
                }
                set_entry(page, index, entry);
                ++counters_.resynced_entries;
            }
        }
    }
}

std::optional<ShadowRoot> PpgttShadow::create(const PpgttRoot& requested) {
    const std::optional<PpgttRoot> root = normalize(requested);
    if (!root) {
        ++counters_.roots_refused;
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "ppgtt: refused a root naming no table");
        return std::nullopt;
    }
    for (RootRecord& r : roots_) {
        if (r.root == *root) {
            ++r.refs;
            return r.shadow;
        }
    }
    if (roots_.size() >= limits_.max_roots) {
        ++counters_.roots_refused;
        ++counters_.limit_refusals;
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "ppgtt: refused root %#llx: limit of %zu roots",
                        ull(root->pdp[0]), limits_.max_roots);
        return std::nullopt;
    }
    RootRecord record{*root, ShadowRoot{root->levels, {}}, {}, 1};
    record.pages.fill(kNoPage);
    const unsigned level = root_level(root->levels);
    for (size_t i = 0; i < record.pages.size(); ++i) {
        if (root->pdp[i] == 0) {
            continue;
        }
        const auto slot = acquire(frame_of(GuestPhysAddr{root->pdp[i]}), level);
        if (!slot) {
            ++counters_.roots_refused;
            XENGT_GUEST_LOG(log_, LogLevel::Warn, "ppgtt: refused root: %s %#llx not shadowable",
                            level_name(level), ull(root->pdp[i]));
            drop_root(record);
            return std::nullopt;
        }
        record.pages[i] = *slot;
        record.shadow.tables[i] = pages_[*slot]->host.frame;
    }
    roots_.push_back(record);
    refresh_gauges();
    return record.shadow;
}

void PpgttShadow::drop_root(RootRecord& record) {
    for (uint32_t& slot : record.pages) {
        if (slot != kNoPage) {
            unref(std::exchange(slot, kNoPage));
        }
    }
}

bool PpgttShadow::destroy(const PpgttRoot& requested) {
    const std::optional<PpgttRoot> root = normalize(requested);
    const auto it = std::find_if(roots_.begin(), roots_.end(),
                                 [&](const RootRecord& r) { return root && r.root == *root; });
    if (it == roots_.end()) {
        ++counters_.unknown_destroys;
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "ppgtt: destroy of unknown root %#llx",
                        ull(requested.pdp[0]));
        return false;
    }
    if (--it->refs == 0) {
        drop_root(*it);
        *it = roots_.back();
        roots_.pop_back();
        refresh_gauges();
    }
    return true;
}

void PpgttShadow::reset() {
    for (RootRecord& r : roots_) {
        drop_root(r);
    }
    roots_.clear();
    refresh_gauges();
}

void PpgttShadow::for_each_root(
    const std::function<void(const PpgttRoot&, const ShadowRoot&)>& fn) const {
    for (const RootRecord& r : roots_) {
        fn(r.root, r.shadow);
    }
}

}  // namespace xengt::mediator
