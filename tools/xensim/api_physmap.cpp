// The calls that shape a guest's physmap from dom0: populating and releasing
// frames (libxenctrl), moving them, write-protecting pages for an ioreq
// server and tracking dirty pages (libxendevicemodel). The semantics live in
// physmap.cpp; this file is argument checking and the libraries' return
// conventions.
#include <algorithm>
#include <cstdint>

#include "tools/xensim/dm_entry.hpp"

using namespace xengt::sim::detail;

extern "C" int xendevicemodel_map_mem_type_to_ioreq_server(xendevicemodel_handle* dmod,
                                                           domid_t domid, ioservid_t id,
                                                           uint16_t type, uint32_t flags) {
    return dm_op(dmod, domid,
                 [&](State& s, Domain& d) { return wp_map_type(s, d, id, type, flags); });
}

extern "C" int xendevicemodel_set_mem_type(xendevicemodel_handle* dmod, domid_t domid,
                                           hvmmem_type_t mem_type, uint64_t first_pfn,
                                           uint32_t nr) {
    return dm_op(dmod, domid, [&](State& s, Domain& d) {
        return wp_set_mem_type(s, d, static_cast<int>(mem_type), first_pfn, nr);
    });
}

extern "C" int xendevicemodel_relocate_memory(xendevicemodel_handle* dmod, domid_t domid,
                                              uint32_t size, uint64_t src_gfn, uint64_t dst_gfn) {
    return dm_op(dmod, domid, [&](State& s, Domain& d) {
        return physmap_relocate(s, d, size, src_gfn, dst_gfn);
    });
}

extern "C" int xendevicemodel_track_dirty_vram(xendevicemodel_handle* dmod, domid_t domid,
                                               uint64_t first_pfn, uint32_t nr,
                                               unsigned long* dirty_bitmap) {
    return dm_op(dmod, domid, [&](State&, Domain& d) {
        return dirty_vram_collect(d, first_pfn, nr, dirty_bitmap);
    });
}

// Xen only records these pages while global log-dirty mode (live migration)
// is on and returns 0 at once otherwise, before looking at the range. The
// simulator has no migration, so it only counts the pages for tests.
extern "C" int xendevicemodel_modified_memory(xendevicemodel_handle* dmod, domid_t domid, uint64_t,
                                              uint32_t nr) {
    return dm_op(dmod, domid, [&](State& s, Domain& d) {
        d.modified_pages += nr;
        s.changed();
        return 0;
    });
}

namespace {

// The *_exact wrappers turn a short count from the hypercall into -1 with
// the errno libxenctrl picks for that call.
template <class F>
int reservation_op(xc_interface* xch, uint32_t domid, unsigned long nr_extents,
                   unsigned int extent_order, const xen_pfn_t* extents, int short_errno, F&& op) {
    return xc_op(xch, domid, [&](State& s, Domain& d) -> int {
        if (extent_order != 0) {
            return EINVAL;  // superpage extents are not simulated
        }
        if (nr_extents != 0 && extents == nullptr) {
            return EINVAL;
        }
        return op(s, d, extents, static_cast<size_t>(nr_extents)) == nr_extents ? 0 : short_errno;
    });
}

}  // namespace

extern "C" int xc_domain_populate_physmap_exact(xc_interface* xch, uint32_t domid,
                                                unsigned long nr_extents, unsigned int extent_order,
                                                unsigned int mem_flags, xen_pfn_t* extent_start) {
    if (mem_flags != 0) {
        return fail(EINVAL);  // no PoD, NUMA node or address-width requests here
    }
    // A short count (over max_pages, heap empty, bad gfn) is EBUSY, as
    // libxenctrl reports it.
    return reservation_op(xch, domid, nr_extents, extent_order, extent_start, EBUSY,
                          [](State& s, Domain& d, const xen_pfn_t* gfns, size_t n) {
                              return physmap_populate(s, d, gfns, n);
                          });
}

extern "C" int xc_domain_decrease_reservation_exact(xc_interface* xch, uint32_t domid,
                                                    unsigned long nr_extents,
                                                    unsigned int extent_order,
                                                    xen_pfn_t* extent_start) {
    return reservation_op(xch, domid, nr_extents, extent_order, extent_start, EINVAL,
                          [](State& s, Domain& d, const xen_pfn_t* gfns, size_t n) {
                              return physmap_decrease(s, d, gfns, n);
                          });
}

// XEN_DOMCTL_max_mem: no check against current usage; a domain above its new
// limit just cannot allocate until it drops below.
extern "C" int xc_domain_setmaxmem(xc_interface* xch, uint32_t domid, uint64_t max_memkb) {
    return xc_op(xch, domid, [&](State& s, Domain& d) {
        d.max_pages = std::min<uint64_t>(max_memkb >> 2, UINT32_MAX);  // max_pages is 32-bit
        s.changed();
        return 0;
    });
}
