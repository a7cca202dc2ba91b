// Write protection of guest pages for the mediator (HypervisorPort::
// protect_page), with Xen's p2m_ioreq_server memory type (xen-ioreq.md §4.4):
//
//   construction   map_mem_type_to_ioreq_server(HVMMEM_ioreq_server, WRITE):
//                  guest stores into pages of that type now come to our
//                  server as IOREQ_TYPE_COPY writes and are not performed;
//   protect(gfn)   set_mem_type(HVMMEM_ioreq_server, gfn, 1);
//   unprotect(gfn) set_mem_type(HVMMEM_ram_rw, gfn, 1);
//   destruction    unprotects what is left, then unclaims the type
//                  (map_mem_type with flags 0), so that a later session can
//                  claim it again.
//
// Only one ioreq server per domain can own the type, and Xen offers it only
// with HAP. When the claim is refused (EOPNOTSUPP, EBUSY, ...) the session
// still works: the tracker says so once in the log and protect() returns
// false, so the mediator does without shadowed page tables.
//
// The set of protected frames tells a write-protect request from a stray one
// (IoreqDispatcher asks through WriteProtectedPages). Reads of protected
// pages never reach us, and our own foreign-mapping writes are not trapped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_set>

#include "mediator/base/log.hpp"
#include "mediator/base/types.hpp"
#include "xengt/xen/ioreq_dispatch.hpp"
#include "xengt/xen/ioreq_server.hpp"

namespace xengt::xen {

class PageTracker final : public WriteProtectedPages {
public:
    PageTracker(const IoreqServer& server, std::string subject);  // never throws for Xen refusals
    ~PageTracker() override;
    PageTracker(const PageTracker&) = delete;
    PageTracker& operator=(const PageTracker&) = delete;

    bool available() const { return claimed_; }
    int claim_error() const { return claim_errno_; }  // 0 when available

    // False if tracking is unavailable, the page is already protected (calls
    // do not nest), or Xen refused (not RAM, paged out, ...; logged).
    bool protect(GuestFrame gfn);
    // Releasing a page that is not protected does nothing.
    void unprotect(GuestFrame gfn);
    // The domain is dying: Xen refuses type changes on its memory (EINVAL),
    // which is expected now and no longer worth a warning.
    void domain_dying() { dying_ = true; }

    // WriteProtectedPages
    bool claimed() const override { return claimed_; }
    size_t protected_count() const override { return pages_.size(); }
    bool is_protected(GuestFrame gfn) const override { return pages_.count(gfn.value()) != 0; }

private:
    bool set_type(uint64_t first, uint32_t nr, bool protect);

    const IoreqServer& server_;
    std::string subject_;
    bool claimed_ = false;
    int claim_errno_ = 0;
    bool dying_ = false;
    std::unordered_set<uint64_t> pages_;
    RateLimiter log_limit_{20, std::chrono::seconds(1)};
};

}  // namespace xengt::xen
