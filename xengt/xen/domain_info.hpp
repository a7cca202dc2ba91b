// Is a guest still alive, and how much memory may it have? The one place xengt
// uses libxenctrl, whose ABI changes with every Xen release (xc_domain_getinfo()
// is gone in 4.18), so it is kept behind this small interface and uses only
// xc_domain_getinfolist() and the long-stable reservation calls.
#pragma once

#include <cstdint>
#include <span>

namespace xengt::xen {

enum class DomainLiveness : uint8_t {
    Running,   // exists and is not shutting down (may be paused)
    Shutdown,  // shut down or crashed, not yet destroyed
    Dying,     // being destroyed (lingers while anyone maps its memory)
    Gone,      // no such domain
};

const char* to_string(DomainLiveness l);

struct DomainMemory {
    uint64_t tot_pages = 0;  // frames the domain owns now
    uint64_t max_pages = 0;  // the most it may own (XEN_DOMCTL_max_mem)
};

class DomainInfo {
public:
    DomainInfo();  // throws XenError
    ~DomainInfo();
    DomainInfo(const DomainInfo&) = delete;
    DomainInfo& operator=(const DomainInfo&) = delete;

    DomainLiveness query(uint16_t domid) const;  // throws XenError if Xen cannot be asked

    // Memory accounting and reservation changes made on the guest's behalf.
    // Each throws XenError naming the call and the domain.
    DomainMemory memory(uint16_t domid) const;  // ESRCH if there is no such domain
    void set_max_pages(uint16_t domid, uint64_t pages) const;
    // Gives the domain one new frame at each gfn (all or error; a partial
    // success leaves the first frames populated, as Xen does).
    void populate(uint16_t domid, std::span<const uint64_t> gfns) const;
    // Takes the frames at these gfns back from the domain.
    void release(uint16_t domid, std::span<const uint64_t> gfns) const;

private:
    struct Handle;
    Handle* h_;
};

}  // namespace xengt::xen
