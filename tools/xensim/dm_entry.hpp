// The common frame of the simulator's hypercall-style entry points: find the
// handle's Host, lock it, find the domain, run the body, map its errno.
#pragma once

#include "tools/xensim/c_entry.hpp"
#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {

// Runs a dm_op: the body returns 0 or an errno value.
template <class F>
int dm_op(xendevicemodel_handle* dmod, domid_t domid, F&& body) {
    return c_entry(-1, [&]() -> int {
        if (dmod == nullptr) {
            return fail(EBADF);
        }
        Session s = open_session(dmod->state);
        if (!s) {
            return -1;
        }
        Domain* d = find_domain(*s, domid);
        if (d == nullptr) {
            return fail(ESRCH);
        }
        const int err = body(*s, *d);
        return err == 0 ? 0 : fail(err);
    });
}

// As dm_op, for an existing ioreq server of the domain (ENOENT otherwise).
template <class F>
int server_op(xendevicemodel_handle* dmod, domid_t domid, ioservid_t id, F&& body) {
    return dm_op(dmod, domid, [&](State& s, Domain& d) -> int {
        auto it = d.servers.find(id);
        if (it == d.servers.end()) {
            return ENOENT;
        }
        return body(s, d, *it->second);
    });
}

// As dm_op, for a libxenctrl call about one domain.
template <class F>
int xc_op(xc_interface* xch, uint32_t domid, F&& body) {
    return c_entry(-1, [&]() -> int {
        if (xch == nullptr) {
            return fail(EBADF);
        }
        Session s = open_session(xch->state);
        if (!s) {
            return -1;
        }
        Domain* d =
            domid < DOMID_FIRST_RESERVED ? find_domain(*s, static_cast<uint16_t>(domid)) : nullptr;
        if (d == nullptr) {
            return fail(ESRCH);
        }
        const int err = body(*s, *d);
        return err == 0 ? 0 : fail(err);
    });
}

}  // namespace xengt::sim::detail
