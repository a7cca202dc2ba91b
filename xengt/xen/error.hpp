// Errors from Xen calls: errno plus what we were doing and for which guest.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace xengt::xen {

class XenError : public std::system_error {
public:
    // `what` reads e.g. "dom3: map ioreq page (xenforeignmemory_map_resource): Operation not
    // supported".
    XenError(int err, uint16_t domid, const std::string& operation)
        : std::system_error(err, std::generic_category(),
                            "dom" + std::to_string(domid) + ": " + operation),
          domid_(domid) {}
    uint16_t domid() const { return domid_; }

private:
    uint16_t domid_;
};

// Throw a XenError from the current errno (captured before anything else runs).
[[noreturn]] inline void throw_errno(uint16_t domid, const std::string& operation) {
    int err = errno;
    throw XenError(err != 0 ? err : EIO, domid, operation);
}

}  // namespace xengt::xen
