// libxenevtchn over the simulated /dev/xen/evtchn: each handle owns a pipe on
// which fired ports are queued, 4 bytes each, as the driver's read() returns them.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "tools/xensim/c_entry.hpp"
#include "tools/xensim/state.hpp"

using namespace xengt::sim::detail;

namespace {

template <class F>
int with_evtchn(xenevtchn_handle* xce, F&& body) {
    return c_entry(-1, [&]() -> int {
        if (xce == nullptr) {
            return fail(EBADF);
        }
        Session s = open_session(xce->state);
        if (!s) {
            return -1;
        }
        return body(*s);
    });
}

}  // namespace

extern "C" xenevtchn_handle* xenevtchn_open(struct xentoollog_logger*, unsigned int) {
    return c_entry<xenevtchn_handle*>(nullptr, []() -> xenevtchn_handle* {
        auto state = installed_state();
        if (!state) {
            errno = ENODEV;
            return nullptr;
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            return nullptr;
        }
        auto* h = new xenevtchn_handle;
        h->state = state;
        h->read_fd = fds[0];
        h->write_fd = fds[1];
        return h;
    });
}

extern "C" int xenevtchn_close(xenevtchn_handle* xce) {
    if (xce == nullptr) {
        return 0;
    }
    c_entry(0, [&] {
        if (Session s = open_session(xce->state)) {
            port_release_handle(*s, xce);  // like closing the fd: every binding goes
        }
        return 0;
    });
    close(xce->read_fd);
    close(xce->write_fd);
    delete xce;
    return 0;
}

extern "C" int xenevtchn_fd(xenevtchn_handle* xce) {
    return xce == nullptr ? fail(EBADF) : xce->read_fd;
}

extern "C" xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle* xce,
                                                                uint32_t domid,
                                                                evtchn_port_t remote_port) {
    return with_evtchn(xce, [&](State& s) -> int {
        if (domid > 0xffff) {
            return fail(ESRCH);
        }
        evtchn_port_t local = 0;
        const int e = port_bind(s, xce, static_cast<uint16_t>(domid), remote_port, &local);
        return e == 0 ? static_cast<int>(local) : fail(e);
    });
}

extern "C" int xenevtchn_unbind(xenevtchn_handle* xce, evtchn_port_t port) {
    return with_evtchn(xce, [&](State& s) {
        const int e = port_unbind(s, xce, port);
        return e == 0 ? 0 : fail(e);
    });
}

extern "C" int xenevtchn_notify(xenevtchn_handle* xce, evtchn_port_t port) {
    return with_evtchn(xce, [&](State& s) {
        const int e = port_notify(s, xce, port);
        return e == 0 ? 0 : fail(e);
    });
}

extern "C" int xenevtchn_unmask(xenevtchn_handle* xce, evtchn_port_t port) {
    return with_evtchn(xce, [&](State& s) {
        port_unmask(s, xce, port);
        return 0;
    });
}

// Returns the next fired port. Callers poll the fd first; without an event
// this waits at most the Host's wait limit, then fails with EAGAIN.
extern "C" xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle* xce) {
    return c_entry(-1, [&]() -> int {
        if (xce == nullptr) {
            return fail(EBADF);
        }
        std::chrono::milliseconds limit{};
        {
            Session s = open_session(xce->state);
            if (!s) {
                return -1;
            }
            limit = s->options.wait_limit;
        }
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            evtchn_port_t port = 0;
            const ssize_t n = read(xce->read_fd, &port, sizeof port);
            if (n == static_cast<ssize_t>(sizeof port)) {
                return static_cast<int>(port);
            }
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return -1;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                return fail(EAGAIN);
            }
            pollfd pfd{xce->read_fd, POLLIN, 0};
            poll(&pfd, 1, static_cast<int>(left.count()));
        }
    });
}
