// libxenforeignmemory: dom0 mappings of guest frames and ioreq server pages,
// as privcmd's IOCTL_PRIVCMD_MMAPBATCH_V2 and IOCTL_PRIVCMD_MMAP_RESOURCE give them.
#include "tools/xensim/c_entry.hpp"
#include "tools/xensim/state.hpp"

using namespace xengt::sim::detail;

namespace {

// ioreq_server_max_frames: the ring frame plus one frame per 128 vCPU slots.
unsigned long ioreq_resource_frames(const Domain& d) {
    return 1 + (d.vcpus.size() * sizeof(ioreq_t) + kPageSize - 1) / kPageSize;
}

}  // namespace

extern "C" xenforeignmemory_handle* xenforeignmemory_open(struct xentoollog_logger*, unsigned) {
    return c_entry<xenforeignmemory_handle*>(nullptr, []() -> xenforeignmemory_handle* {
        auto state = installed_state();
        if (!state) {
            errno = ENODEV;
            return nullptr;
        }
        auto* h = new xenforeignmemory_handle;
        h->state = state;
        return h;
    });
}

// Like closing the privcmd fd: mappings made through the handle stay valid.
extern "C" int xenforeignmemory_close(xenforeignmemory_handle* fmem) {
    delete fmem;
    return 0;
}

extern "C" void* xenforeignmemory_map(xenforeignmemory_handle* fmem, uint32_t dom, int prot,
                                      size_t pages, const xen_pfn_t arr[], int err[]) {
    return c_entry<void*>(nullptr, [&]() -> void* {
        if (fmem == nullptr || arr == nullptr || pages == 0) {
            errno = EINVAL;
            return nullptr;
        }
        Session s = open_session(fmem->state);
        if (!s) {
            return nullptr;
        }
        Domain* d = dom <= 0xffff ? find_domain(*s, static_cast<uint16_t>(dom)) : nullptr;
        if (d == nullptr) {
            errno = ESRCH;
            return nullptr;
        }
        std::vector<std::optional<PageRef>> frames;
        frames.reserve(pages);
        for (size_t i = 0; i < pages; ++i) {
            frames.push_back(p2m_lookup(*d, arr[i]));
        }
        std::vector<int> errs;
        void* va = dom0_map(*s, *d, frames, prot, nullptr, 0, errs);
        if (va == nullptr) {
            return nullptr;
        }
        if (err != nullptr) {
            std::copy(errs.begin(), errs.end(), err);  // privcmd: per-page errors, address kept
            return va;
        }
        for (int e : errs) {
            if (e != 0) {
                dom0_unmap(*s, va, pages);
                errno = -e;
                return nullptr;
            }
        }
        return va;
    });
}

extern "C" int xenforeignmemory_unmap(xenforeignmemory_handle* fmem, void* addr, size_t pages) {
    return c_entry(-1, [&]() -> int {
        if (fmem == nullptr) {
            return fail(EBADF);
        }
        Session s = open_session(fmem->state);
        if (!s) {
            return -1;
        }
        const int e = dom0_unmap(*s, addr, pages);
        return e == 0 ? 0 : fail(e);
    });
}

extern "C" xenforeignmemory_resource_handle* xenforeignmemory_map_resource(
    xenforeignmemory_handle* fmem, domid_t domid, unsigned int type, unsigned int id,
    unsigned long frame, unsigned long nr_frames, void** paddr, int prot, int flags) {
    return c_entry<xenforeignmemory_resource_handle*>(
        nullptr, [&]() -> xenforeignmemory_resource_handle* {
            if (fmem == nullptr || paddr == nullptr) {
                errno = EINVAL;
                return nullptr;
            }
            Session s = open_session(fmem->state);
            if (!s) {
                return nullptr;
            }
            if (!s->options.resource_mapping_supported) {
                errno = EOPNOTSUPP;  // dom0 kernel without IOCTL_PRIVCMD_MMAP_RESOURCE
                return nullptr;
            }
            Domain* d = find_domain(*s, domid);
            if (d == nullptr) {
                errno = ESRCH;
                return nullptr;
            }
            // acquire_resource: only ioreq servers are simulated (others have no frames).
            const unsigned long max =
                type == XENMEM_resource_ioreq_server ? ioreq_resource_frames(*d) : 0;
            if (max == 0 || nr_frames == 0 || frame >= max || nr_frames > max - frame) {
                errno = EINVAL;
                return nullptr;
            }
            auto it = d->servers.find(static_cast<uint16_t>(id));
            if (id > 0xffff || it == d->servers.end()) {
                errno = ENOENT;
                return nullptr;
            }
            IoreqServer& srv = *it->second;
            if (srv.ioreq_gfn) {
                errno = EPERM;  // pages already handed out at legacy gfns
                return nullptr;
            }
            std::vector<std::optional<PageRef>> frames;
            for (unsigned long f = frame; f < frame + nr_frames; ++f) {
                if (f == XENMEM_resource_ioreq_server_frame_bufioreq) {
                    if (!srv.has_ring()) {
                        errno = ENOENT;
                        return nullptr;
                    }
                    frames.push_back(PageRef{srv.buf_page, 0});
                } else if (f == XENMEM_resource_ioreq_server_frame_ioreq(0)) {
                    frames.push_back(PageRef{srv.ioreq_page, 0});
                } else {
                    errno = EINVAL;
                    return nullptr;
                }
            }
            std::vector<int> errs;
            void* va = dom0_map(*s, *d, frames, prot, *paddr, flags, errs);
            if (va == nullptr) {
                return nullptr;
            }
            srv.resource_mapped = true;
            auto* res = new xenforeignmemory_resource_handle;
            res->addr = va;
            res->nr_frames = nr_frames;
            *paddr = va;
            return res;
        });
}

extern "C" int xenforeignmemory_unmap_resource(xenforeignmemory_handle* fmem,
                                               xenforeignmemory_resource_handle* fres) {
    if (fres == nullptr) {
        return 0;
    }
    return c_entry(-1, [&]() -> int {
        // The library frees the handle whatever the unmap says.
        std::unique_ptr<xenforeignmemory_resource_handle> owned(fres);
        if (fmem == nullptr) {
            return fail(EBADF);
        }
        Session s = open_session(fmem->state);
        if (!s) {
            return -1;
        }
        const int e = dom0_unmap(*s, owned->addr, owned->nr_frames);
        return e == 0 ? 0 : fail(e);
    });
}

extern "C" int xenforeignmemory_resource_size(xenforeignmemory_handle* fmem, domid_t domid,
                                              unsigned int type, unsigned int, size_t* size) {
    return c_entry(-1, [&]() -> int {
        if (fmem == nullptr || size == nullptr) {
            return fail(EINVAL);
        }
        Session s = open_session(fmem->state);
        if (!s) {
            return -1;
        }
        if (!s->options.resource_mapping_supported) {
            return fail(EOPNOTSUPP);  // the size query is the same ioctl
        }
        Domain* d = find_domain(*s, domid);
        if (d == nullptr) {
            return fail(ESRCH);
        }
        if (type != XENMEM_resource_ioreq_server) {
            return fail(EINVAL);
        }
        *size = ioreq_resource_frames(*d) * kPageSize;
        return 0;
    });
}
