// Helpers for the C entry points: errno conventions and keeping C++
// exceptions from crossing into C callers.
#pragma once

#include <cerrno>
#include <new>

namespace xengt::sim::detail {

inline int fail(int err) {
    errno = err;
    return -1;
}

// Runs an entry point's body; an escaping exception becomes `failure` + errno.
template <class R, class F>
R c_entry(R failure, F&& body) noexcept {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        errno = ENOMEM;
    } catch (...) {
        errno = EIO;
    }
    return failure;
}

}  // namespace xengt::sim::detail
