// The sliver of libxenctrl the backend uses: the domain list.
#include <cstring>

#include "tools/xensim/c_entry.hpp"
#include "tools/xensim/state.hpp"

using namespace xengt::sim::detail;
using xengt::sim::DomainState;

namespace {

constexpr uint64_t kDom0Pages = (1ull << 30) / kPageSize;  // dom0_mem=1024M

void fill_dom0(xc_domaininfo_t& info) {
    std::memset(&info, 0, sizeof info);
    info.domain = 0;
    info.flags = XEN_DOMINF_running;
    info.tot_pages = kDom0Pages;
    info.max_pages = kDom0Pages;
    info.nr_online_vcpus = 1;
    info.max_vcpu_id = 0;
}

void fill_domain(xc_domaininfo_t& info, const Domain& d) {
    std::memset(&info, 0, sizeof info);
    info.domain = d.domid;
    uint32_t flags = XEN_DOMINF_hvm_guest | (d.hap ? XEN_DOMINF_hap : 0u);
    switch (d.state) {
        case DomainState::Paused:
            flags |= XEN_DOMINF_paused;
            break;
        case DomainState::Running:
            flags |= XEN_DOMINF_running;
            break;
        case DomainState::Crashed:
        case DomainState::Dying:
        case DomainState::Gone:
            break;
    }
    if (d.crashed) {
        flags |= XEN_DOMINF_shutdown | (SHUTDOWN_crash << XEN_DOMINF_shutdownshift);
    }
    if (d.state == DomainState::Dying) {
        flags |= XEN_DOMINF_dying;
    }
    info.flags = flags;
    info.tot_pages = tot_pages(d);
    info.max_pages = d.max_pages;
    info.nr_online_vcpus = static_cast<uint32_t>(d.vcpus.size());
    info.max_vcpu_id = static_cast<uint32_t>(d.vcpus.size() - 1);
}

}  // namespace

extern "C" xc_interface* xc_interface_open(xentoollog_logger*, xentoollog_logger*, unsigned) {
    return c_entry<xc_interface*>(nullptr, []() -> xc_interface* {
        auto state = installed_state();
        if (!state) {
            errno = ENODEV;
            return nullptr;
        }
        auto* h = new xc_interface;
        h->state = state;
        return h;
    });
}

extern "C" int xc_interface_close(xc_interface* xch) {
    delete xch;
    return 0;
}

// Domains with domid >= first_domain, ascending, dom0 included, Gone ones not.
extern "C" int xc_domain_getinfolist(xc_interface* xch, uint32_t first_domain,
                                     unsigned int max_domains, xc_domaininfo_t* info) {
    return c_entry(-1, [&]() -> int {
        if (xch == nullptr) {
            return fail(EBADF);
        }
        if (info == nullptr && max_domains > 0) {
            return fail(EFAULT);
        }
        Session s = open_session(xch->state);
        if (!s) {
            return -1;
        }
        unsigned n = 0;
        if (first_domain == 0 && n < max_domains) {
            fill_dom0(info[n++]);
        }
        for (auto it = s->domains.lower_bound(
                 static_cast<uint16_t>(std::min<uint32_t>(first_domain, 0xffff)));
             it != s->domains.end() && n < max_domains && first_domain <= 0xffff; ++it) {
            if (it->second->listed()) {
                fill_domain(info[n++], *it->second);
            }
        }
        return static_cast<int>(n);
    });
}
