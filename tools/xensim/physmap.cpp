// The guest physmap beyond boot RAM, and the p2m types dom0 can set on it:
//   * populate / decrease reservation / relocate (XENMEM_populate_physmap,
//     XENMEM_decrease_reservation, XENMAPSPACE_gmfn_range), bounded by the
//     domain's max_pages;
//   * p2m_ioreq_server: the one server that claimed the type and the pages
//     that have it (xen/arch/x86/hvm/dm.c set_mem_type, p2m_set_ioreq_server);
//   * track_dirty_vram's tracked range (xen/arch/x86/mm/hap/hap.c).
// Boot RAM stays in Domain::p2m (a vector); anything populated at a gfn past
// it lives in Domain::extra_p2m. Both are "RAM" to guest and dom0 alike.
#include <algorithm>
#include <cerrno>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

// EPT with a 4-level walk maps 48-bit guest-physical addresses; Xen refuses
// p2m entries beyond that.
constexpr uint64_t kMaxGfn = (uint64_t{1} << (48 - 12)) - 1;

// p2m_ioreq_server is claimable only for writes (p2m_set_ioreq_server).
constexpr uint32_t kWpFlags = XEN_DMOP_IOREQ_MEM_ACCESS_WRITE;

// Drops whatever p2m type a gfn had: it is plain RAM (or nothing) from now on.
void forget_type(Domain& d, uint64_t gfn) {
    d.wp.pages.erase(gfn);
}

// Points `gfn` at `frame` (present or not before; the caller dealt with any old frame).
void p2m_install(Domain& d, uint64_t gfn, uint64_t frame) {
    forget_type(d, gfn);
    if (gfn < d.p2m.size()) {
        if (d.p2m[gfn] == kNoFrame) {
            ++d.ram_pages_present;
        }
        d.p2m[gfn] = frame;
    } else {
        d.extra_p2m[gfn] = frame;
    }
    d.max_mapped_gfn = std::max(d.max_mapped_gfn, gfn);
}

// Removes `gfn` from the p2m and returns its frame (the caller owns it now).
std::optional<uint64_t> p2m_take(Domain& d, uint64_t gfn) {
    auto frame = p2m_frame(d, gfn);
    if (!frame) {
        return std::nullopt;
    }
    forget_type(d, gfn);
    if (gfn < d.p2m.size()) {
        d.p2m[gfn] = kNoFrame;
        --d.ram_pages_present;
    } else {
        d.extra_p2m.erase(gfn);
    }
    return frame;
}

}  // namespace

std::optional<uint64_t> p2m_frame(const Domain& d, uint64_t gfn) {
    if (gfn < d.p2m.size()) {
        return d.p2m[gfn] == kNoFrame ? std::nullopt : std::optional<uint64_t>(d.p2m[gfn]);
    }
    auto it = d.extra_p2m.find(gfn);
    return it == d.extra_p2m.end() ? std::nullopt : std::optional<uint64_t>(it->second);
}

uint64_t tot_pages(const Domain& d) {
    return d.ram_pages_present + d.extra_p2m.size() + d.displaced_frames.size();
}

bool p2m_release(State& s, Domain& d, uint64_t gfn) {
    auto frame = p2m_take(d, gfn);
    if (!frame) {
        return false;
    }
    pool_release(s, *frame);  // free now, or once dom0 unmaps it
    s.changed();
    return true;
}

void p2m_release_all(State& s, Domain& d) {
    for (uint64_t& frame : d.p2m) {
        if (frame != kNoFrame) {
            pool_release(s, frame);
            frame = kNoFrame;
        }
    }
    d.ram_pages_present = 0;
    for (const auto& [gfn, frame] : d.extra_p2m) {
        pool_release(s, frame);
    }
    d.extra_p2m.clear();
    for (uint64_t frame : d.displaced_frames) {
        pool_release(s, frame);
    }
    d.displaced_frames.clear();
    d.wp = {};
    d.dirty_vram.reset();
}

// ---- reservation --------------------------------------------------------------

size_t physmap_populate(State& s, Domain& d, const xen_pfn_t* gfns, size_t n) {
    size_t done = 0;
    for (; done < n && d.state != DomainState::Dying; ++done) {
        const uint64_t gfn = gfns[done];
        // assign_pages refuses to go past max_pages (-E2BIG, the hypercall
        // then reports how far it got); the heap may simply be empty.
        if (tot_pages(d) >= d.max_pages || s.pool.free.empty() || gfn > kMaxGfn ||
            d.special_p2m.count(gfn) != 0) {
            break;
        }
        const uint64_t frame = pool_alloc(s, 1, gfn)[0];
        // p2m_add_page over a RAM entry just replaces it: the old page stays
        // the domain's, unreachable, until the domain dies.
        if (auto old = p2m_take(d, gfn)) {
            d.displaced_frames.push_back(*old);
        }
        p2m_install(d, gfn, frame);
    }
    if (done != 0) {
        s.changed();
    }
    return done;
}

size_t physmap_decrease(State& s, Domain& d, const xen_pfn_t* gfns, size_t n) {
    size_t done = 0;
    // guest_remove_page fails on a gfn with nothing behind it, ending the batch.
    while (done < n && p2m_release(s, d, gfns[done])) {
        ++done;
    }
    return done;
}

int physmap_relocate(State& s, Domain& d, uint32_t size, uint64_t src, uint64_t dst) {
    if (size == 0) {
        return 0;
    }
    if (src > kMaxGfn - (size - 1) || dst > kMaxGfn - (size - 1)) {
        return EINVAL;
    }
    // Checked up front, so a refused move changes nothing (Xen moves page by
    // page and can stop half-way). Every source must be RAM. Unlike Xen,
    // which would free any page found at a destination, the simulator insists
    // on an empty destination, so that a test notices RAM dropped onto RAM.
    for (uint32_t i = 0; i < size; ++i) {
        if (!p2m_frame(d, src + i)) {
            return EINVAL;
        }
        if (p2m_frame(d, dst + i) || d.special_p2m.count(dst + i) != 0) {
            return EEXIST;
        }
    }
    for (uint32_t i = 0; i < size; ++i) {
        p2m_install(d, dst + i, *p2m_take(d, src + i));  // arrives as plain ram_rw
    }
    s.changed();
    return 0;
}

// ---- p2m_ioreq_server -------------------------------------------------------

int wp_map_type(State& s, Domain& d, uint16_t server, uint16_t type, uint32_t flags) {
    if (!d.hap) {
        return EOPNOTSUPP;  // dm.c refuses the op outright without HAP
    }
    if (type != HVMMEM_ioreq_server || (flags & ~kWpFlags) != 0) {
        return EINVAL;  // reads cannot be claimed
    }
    if (d.servers.count(server) == 0) {
        return ENOENT;
    }
    if (flags == 0) {
        if (d.wp.server != server) {
            return EINVAL;  // only the owner can unclaim
        }
        // Unclaiming resets every leftover page to ram_rw before returning
        // (the dm_op continues until p2m_finish_type_change is done).
        d.wp = {};
    } else {
        // One owner at a time, and not while pages of a previous claim remain.
        if (d.wp.server || !d.wp.pages.empty()) {
            return EBUSY;
        }
        d.wp.server = server;
    }
    s.changed();
    return 0;
}

void wp_server_gone(State& s, Domain& d, uint16_t server) {
    if (d.wp.server == server) {
        d.wp = {};  // destruction unclaims, and leftovers read as ram_rw again
        s.changed();
    }
}

int wp_set_mem_type(State& s, Domain& d, int type, uint64_t first, uint32_t nr) {
    const uint64_t last = first + nr - 1;
    if (nr == 0 || last < first || last > d.max_mapped_gfn) {
        return EINVAL;
    }
    if (type != HVMMEM_ram_rw && type != HVMMEM_ioreq_server) {
        // ram_ro and mmio_dm exist in Xen but not here; 3 (unused) and
        // anything past ioreq_server are invalid.
        return type == HVMMEM_ram_ro || type == HVMMEM_mmio_dm ? EOPNOTSUPP : EINVAL;
    }
    if (type == HVMMEM_ioreq_server) {
        if (!d.hap) {
            return EOPNOTSUPP;
        }
        if (!d.wp.server) {
            return EINVAL;  // nobody claimed the type
        }
    }
    // Page by page; an invalid transition stops there with earlier pages
    // already changed, as Xen's loop does.
    int err = 0;
    for (uint64_t gfn = first; gfn <= last; ++gfn) {
        const bool ram = p2m_frame(d, gfn).has_value();
        const bool is_wp = d.wp.pages.count(gfn) != 0;
        if (!ram || (type == HVMMEM_ioreq_server && is_wp)) {
            err = EINVAL;  // holes, MMIO and ioreq_server -> ioreq_server are refused
            break;
        }
        if (type == HVMMEM_ioreq_server) {
            d.wp.pages.insert(gfn);
        } else {
            d.wp.pages.erase(gfn);  // ram_rw -> ram_rw is allowed and changes nothing
        }
    }
    s.changed();
    return err;
}

std::optional<uint16_t> wp_target(const Domain& d, uint64_t gfn) {
    if (!d.wp.server || d.wp.pages.count(gfn) == 0) {
        return std::nullopt;
    }
    return d.wp.server;
}

// ---- track_dirty_vram ---------------------------------------------------------

int dirty_vram_collect(Domain& d, uint64_t first, uint32_t nr, unsigned long* bitmap) {
    constexpr uint32_t kMaxFrames = (1u << 30) / kPageSize;  // 1 GiB, as dm.c allows
    if (nr > kMaxFrames) {
        return EINVAL;
    }
    if (d.state == DomainState::Dying) {
        return ESRCH;
    }
    if (nr == 0) {
        d.dirty_vram.reset();  // stop tracking
        return 0;
    }
    if (bitmap == nullptr || first + nr < first) {
        return EFAULT;
    }
    // Xen copies out exactly ceil(nr / 8) bytes; the rest of the caller's
    // last word is left as it was.
    auto* out = reinterpret_cast<unsigned char*>(bitmap);
    const size_t bytes = (nr + 7) / 8;
    if (!d.dirty_vram || d.dirty_vram->first != first || d.dirty_vram->nr != nr) {
        // A new range: start tracking it and call every page dirty.
        d.dirty_vram = DirtyVram{first, nr, std::vector<bool>(nr, false)};
        std::fill(out, out + bytes, static_cast<unsigned char>(0xff));
        return 0;
    }
    std::fill(out, out + bytes, static_cast<unsigned char>(0));
    for (uint32_t i = 0; i < nr; ++i) {
        if (d.dirty_vram->dirty[i]) {
            out[i / 8] = static_cast<unsigned char>(out[i / 8] | (1u << (i % 8)));
            d.dirty_vram->dirty[i] = false;
        }
    }
    return 0;
}

void dirty_vram_mark(Domain& d, uint64_t gfn) {
    if (d.dirty_vram && gfn >= d.dirty_vram->first &&
        gfn - d.dirty_vram->first < d.dirty_vram->nr) {
        d.dirty_vram->dirty[gfn - d.dirty_vram->first] = true;
    }
}

}  // namespace xengt::sim::detail
