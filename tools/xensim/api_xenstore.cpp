// libxenstore over the simulated xenstored. Transactions are accepted but
// not isolated: operations inside one apply at once and ending one never
// fails (no conflict detection, no rollback on abort).
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "tools/xensim/c_entry.hpp"
#include "tools/xensim/state.hpp"

using namespace xengt::sim::detail;

namespace {

bool fail_bool(int err) {
    errno = err;
    return false;
}

// One malloc'd block: the pointer array followed by the strings, freed with
// a single free() as libxenstore's results are.
char** string_block(const std::vector<std::string>& items) {
    size_t bytes = items.size() * sizeof(char*);
    for (const auto& s : items) {
        bytes += s.size() + 1;
    }
    auto** block = static_cast<char**>(std::malloc(bytes == 0 ? 1 : bytes));
    if (block == nullptr) {
        errno = ENOMEM;
        return nullptr;
    }
    char* text = reinterpret_cast<char*>(block + items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        block[i] = text;
        std::memcpy(text, items[i].c_str(), items[i].size() + 1);
        text += items[i].size() + 1;
    }
    return block;
}

char** take_event(xs_handle* h) {
    auto [path, token] = std::move(h->events.front());
    h->events.pop_front();
    char byte;
    [[maybe_unused]] ssize_t n = read(h->read_fd, &byte, 1);
    std::vector<std::string> items(2);
    items[XS_WATCH_PATH] = std::move(path);
    items[XS_WATCH_TOKEN] = std::move(token);
    return string_block(items);
}

// The prologue every entry point on a handle shares: no exception reaches
// the C caller, a null handle is EBADF, and the body runs on the handle's
// locked session (its errno set by open_session when the Host is gone).
template <class R, class F>
R session_op(xs_handle* h, R failure, F&& body) {
    return c_entry<R>(failure, [&]() -> R {
        if (h == nullptr) {
            errno = EBADF;
            return failure;
        }
        Session s = open_session(h->state);
        if (!s) {
            return failure;
        }
        return body(s);
    });
}

// Runs a store operation on a locked session with an absolute path.
template <class R, class F>
R store_op(xs_handle* h, const char* path, R failure, F&& body) {
    return session_op<R>(h, failure, [&](Session& s) -> R {
        auto abs = xs_absolute(path);
        if (!abs) {
            errno = EINVAL;
            return failure;
        }
        return body(*s, *abs);
    });
}

}  // namespace

extern "C" struct xs_handle* xs_open(unsigned long) {
    return c_entry<xs_handle*>(nullptr, []() -> xs_handle* {
        Session s = open_installed_session();
        if (!s) {
            return nullptr;
        }
        int fds[2];
        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
            return nullptr;
        }
        auto* h = new xs_handle;
        h->state = s.state;
        h->read_fd = fds[0];
        h->write_fd = fds[1];
        s->xs_handles.insert(h);
        return h;
    });
}

extern "C" void xs_close(struct xs_handle* xsh) {
    if (xsh == nullptr) {
        return;
    }
    c_entry(0, [&] {
        if (Session s = open_session(xsh->state)) {
            s->xs_handles.erase(xsh);
        }
        return 0;
    });
    close(xsh->read_fd);
    close(xsh->write_fd);
    delete xsh;
}

extern "C" int xs_fileno(struct xs_handle* h) {
    return h == nullptr ? fail(EBADF) : h->read_fd;
}

namespace {

// xs_watch and xs_unwatch differ only in what they do to the watch list.
template <class Op>
bool watch_call(struct xs_handle* h, const char* path, const char* token, Op op) {
    if (h == nullptr || path == nullptr || token == nullptr) {
        return fail_bool(EINVAL);
    }
    return session_op(h, false, [&](Session& s) {
        const int e = op(*s, h, path, token);
        return e == 0 ? true : fail_bool(e);
    });
}

}  // namespace

extern "C" bool xs_watch(struct xs_handle* h, const char* path, const char* token) {
    return watch_call(h, path, token, [](auto& s, auto* hh, const char* p, const char* t) {
        return xs_add_watch(s, hh, p, t);
    });
}

extern "C" bool xs_unwatch(struct xs_handle* h, const char* path, const char* token) {
    return watch_call(h, path, token, [](auto& s, auto* hh, const char* p, const char* t) {
        return xs_remove_watch(s, hh, p, t);
    });
}

extern "C" char** xs_check_watch(struct xs_handle* h) {
    return session_op<char**>(h, nullptr, [&](Session&) -> char** {
        if (h->events.empty()) {
            errno = EAGAIN;
            return nullptr;
        }
        return take_event(h);
    });
}

// Blocks for the next event, at most the Host's wait limit (then ETIMEDOUT).
extern "C" char** xs_read_watch(struct xs_handle* h, unsigned int* num) {
    return session_op<char**>(h, nullptr, [&](Session& s) -> char** {
        State& st = *s;
        if (!st.cv.wait_until(s.lock, st.deadline(),
                              [&] { return !h->events.empty() || st.shut_down; })) {
            errno = ETIMEDOUT;
            return nullptr;
        }
        if (st.shut_down) {
            errno = ENODEV;
            return nullptr;
        }
        if (num != nullptr) {
            *num = 2;
        }
        return take_event(h);
    });
}

extern "C" void* xs_read(struct xs_handle* h, xs_transaction_t, const char* path,
                         unsigned int* len) {
    return store_op<void*>(h, path, nullptr, [&](State& s, const std::string& abs) -> void* {
        auto it = s.xenstore.find(abs);
        if (it == s.xenstore.end()) {
            errno = ENOENT;
            return nullptr;
        }
        const std::string& v = it->second;
        auto* out = static_cast<char*>(std::malloc(v.size() + 1));
        if (out == nullptr) {
            errno = ENOMEM;
            return nullptr;
        }
        std::memcpy(out, v.data(), v.size());
        out[v.size()] = '\0';
        if (len != nullptr) {
            *len = static_cast<unsigned>(v.size());
        }
        return out;
    });
}

extern "C" bool xs_write(struct xs_handle* h, xs_transaction_t, const char* path, const void* data,
                         unsigned int len) {
    return store_op(h, path, false, [&](State& s, const std::string& abs) {
        if (data == nullptr && len > 0) {
            return fail_bool(EINVAL);
        }
        const char* bytes = static_cast<const char*>(data);
        xs_write_locked(s, abs, len > 0 ? std::string(bytes, len) : std::string());
        return true;
    });
}

extern "C" bool xs_mkdir(struct xs_handle* h, xs_transaction_t, const char* path) {
    return store_op(h, path, false,
                    [&](State& s, const std::string& abs) { return xs_mkdir_locked(s, abs); });
}

extern "C" bool xs_rm(struct xs_handle* h, xs_transaction_t, const char* path) {
    return store_op(h, path, false, [&](State& s, const std::string& abs) {
        const int e = xs_rm_locked(s, abs);
        return e == 0 ? true : fail_bool(e);
    });
}

extern "C" char** xs_directory(struct xs_handle* h, xs_transaction_t, const char* path,
                               unsigned int* num) {
    return store_op<char**>(h, path, nullptr, [&](State& s, const std::string& abs) -> char** {
        auto children = xs_children(s, abs);
        if (!children) {
            errno = ENOENT;
            return nullptr;
        }
        char** block = string_block(*children);
        if (block != nullptr && num != nullptr) {
            *num = static_cast<unsigned>(children->size());
        }
        return block;
    });
}

extern "C" char* xs_get_domain_path(struct xs_handle* h, unsigned int domid) {
    return session_op<char*>(h, nullptr, [&](Session&) -> char* {
        const std::string path = "/local/domain/" + std::to_string(domid);
        char* out = strdup(path.c_str());
        if (out == nullptr) {
            errno = ENOMEM;
        }
        return out;
    });
}

extern "C" xs_transaction_t xs_transaction_start(struct xs_handle* h) {
    return session_op<xs_transaction_t>(h, XBT_NULL, [&](Session& s) -> xs_transaction_t {
        xs_transaction_t t = s->next_transaction++;
        if (t == XBT_NULL) {
            t = s->next_transaction++;  // wrapped: 0 means "no transaction"
        }
        return t;
    });
}

extern "C" bool xs_transaction_end(struct xs_handle* h, xs_transaction_t, bool) {
    return session_op(h, false, [](Session&) { return true; });
}

extern "C" bool xs_is_domain_introduced(struct xs_handle* h, unsigned int domid) {
    return session_op(h, false, [&](Session& s) {
        if (domid == 0) {
            return true;
        }
        // Released from xenstored once the toolstack destroyed it.
        Domain* d = domid <= 0xffff ? find_domain(*s, static_cast<uint16_t>(domid)) : nullptr;
        return d != nullptr && d->state != xengt::sim::DomainState::Dying;
    });
}
