#include "xengt/xen/domain_info.hpp"

extern "C" {
#include <xenctrl.h>
}

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

}  // namespace xengt::xen
