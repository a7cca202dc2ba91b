// Small helpers shared by the simulator tests.
#pragma once

#include <poll.h>

#include "tools/xensim/xen_headers.hpp"

namespace xensim_test {

// Whether a read on fd would return data right now.
inline bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// The handles a device model opens, closed in reverse.
struct Handles {
    xendevicemodel_handle* dm = xendevicemodel_open(nullptr, 0);
    xenforeignmemory_handle* fmem = xenforeignmemory_open(nullptr, 0);
    xenevtchn_handle* xce = xenevtchn_open(nullptr, 0);
    Handles() = default;
    Handles(const Handles&) = delete;
    Handles& operator=(const Handles&) = delete;
    ~Handles() {
        xenevtchn_close(xce);
        xenforeignmemory_close(fmem);
        xendevicemodel_close(dm);
    }
};

}  // namespace xensim_test
