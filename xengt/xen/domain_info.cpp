#include "xengt/xen/domain_info.hpp"

extern "C" {
#include <xenctrl.h>
}

#include <algorithm>
#include <vector>

#include "xengt/xen/error.hpp"

namespace xengt::xen {

struct DomainInfo::Handle {
    xc_interface* xch;
};

const char* to_string(DomainLiveness l) {
    switch (l) {
        case DomainLiveness::Running:
            return "running";
        case DomainLiveness::Shutdown:
            return "shut down";
        case DomainLiveness::Dying:
            return "dying";
        case DomainLiveness::Gone:
            return "gone";
    }
    return "?";
}

DomainInfo::DomainInfo() : h_(new Handle{xc_interface_open(nullptr, nullptr, 0)}) {
    if (h_->xch == nullptr) {
        delete h_;
        throw_errno(0, "open xenctrl (xc_interface_open)");
    }
}

DomainInfo::~DomainInfo() {
    xc_interface_close(h_->xch);
    delete h_;
}

DomainLiveness DomainInfo::query(uint16_t domid) const {
    xc_domaininfo_t info{};
    int n = xc_domain_getinfolist(h_->xch, domid, 1, &info);
    if (n < 0) {
        throw_errno(domid, "query domain state (xc_domain_getinfolist)");
    }
    // The list starts at the first domain >= domid: a dead domid returns the next one.
    if (n == 0 || info.domain != domid) {
        return DomainLiveness::Gone;
    }
    if (info.flags & XEN_DOMINF_dying) {
        return DomainLiveness::Dying;
    }
    if (info.flags & XEN_DOMINF_shutdown) {
        return DomainLiveness::Shutdown;
    }
    return DomainLiveness::Running;
}

DomainMemory DomainInfo::memory(uint16_t domid) const {
    xc_domaininfo_t info{};
    int n = xc_domain_getinfolist(h_->xch, domid, 1, &info);
    if (n < 0) {
        throw_errno(domid, "query domain memory (xc_domain_getinfolist)");
    }
    if (n == 0 || info.domain != domid) {
        throw XenError(ESRCH, domid, "query domain memory (xc_domain_getinfolist)");
    }
    return DomainMemory{info.tot_pages, info.max_pages};
}

void DomainInfo::set_max_pages(uint16_t domid, uint64_t pages) const {
    // The domctl takes KiB; Xen keeps a 32-bit page count.
    const uint64_t kib = std::min<uint64_t>(pages, UINT32_MAX) * (XC_PAGE_SIZE / 1024);
    if (xc_domain_setmaxmem(h_->xch, domid, kib) != 0) {
        throw_errno(domid,
                    "set maximum memory to " + std::to_string(kib) + " KiB (xc_domain_setmaxmem)");
    }
}

void DomainInfo::populate(uint16_t domid, std::span<const uint64_t> gfns) const {
    std::vector<xen_pfn_t> list(gfns.begin(), gfns.end());
    if (xc_domain_populate_physmap_exact(h_->xch, domid, list.size(), 0, 0, list.data()) != 0) {
        throw_errno(domid, "populate " + std::to_string(list.size()) +
                               " frames (xc_domain_populate_physmap_exact)");
    }
}

void DomainInfo::release(uint16_t domid, std::span<const uint64_t> gfns) const {
    std::vector<xen_pfn_t> list(gfns.begin(), gfns.end());
    if (xc_domain_decrease_reservation_exact(h_->xch, domid, list.size(), 0, list.data()) != 0) {
        throw_errno(domid, "release " + std::to_string(list.size()) +
                               " frames (xc_domain_decrease_reservation_exact)");
    }
}

}  // namespace xengt::xen
