// Is a guest still alive? The one place xengt uses libxenctrl, whose ABI changes
// with every Xen release (xc_domain_getinfo() is gone in 4.18), so it is kept
// behind this small interface and uses only xc_domain_getinfolist().
#pragma once

#include <cstdint>

namespace xengt::xen {

enum class DomainLiveness : uint8_t {
    Running,   // exists and is not shutting down (may be paused)
    Shutdown,  // shut down or crashed, not yet destroyed
    Dying,     // being destroyed (lingers while anyone maps its memory)
    Gone,      // no such domain
};

const char* to_string(DomainLiveness l);

class DomainInfo {
public:
    DomainInfo();  // throws XenError
    ~DomainInfo();
    DomainInfo(const DomainInfo&) = delete;
    DomainInfo& operator=(const DomainInfo&) = delete;

    DomainLiveness query(uint16_t domid) const;  // throws XenError if Xen cannot be asked

private:
    struct Handle;
    Handle* h_;
};

}  // namespace xengt::xen
