#include "xenstore/store.hpp"

extern "C" {
#include <xenstore.h>
}

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <system_error>

namespace xengt::xenstore {
namespace {

struct FreeDeleter {
    void operator()(void* p) const { std::free(p); }
};

}  // namespace

XenStore::XenStore() : h_(xs_open(0)) {
    if (h_ == nullptr) {
        throw std::system_error(errno, std::generic_category(), "connect to xenstore (xs_open)");
    }
}

XenStore::~XenStore() {
    xs_close(h_);
}

std::optional<std::string> XenStore::read(const std::string& path) {
    unsigned len = 0;
    std::unique_ptr<char, FreeDeleter> v(
        static_cast<char*>(xs_read(h_, XBT_NULL, path.c_str(), &len)));
    if (!v) {
        return std::nullopt;
    }
    return std::string(v.get(), len);
}

bool XenStore::write(const std::string& path, const std::string& value) {
    return xs_write(h_, XBT_NULL, path.c_str(), value.data(), static_cast<unsigned>(value.size()));
}

bool XenStore::remove(const std::string& path) {
    return xs_rm(h_, XBT_NULL, path.c_str());
}

bool XenStore::watch(const std::string& path, const std::string& token) {
    return xs_watch(h_, path.c_str(), token.c_str());
}

bool XenStore::unwatch(const std::string& path, const std::string& token) {
    return xs_unwatch(h_, path.c_str(), token.c_str());
}

int XenStore::fd() const {
    return xs_fileno(h_);
}

std::vector<WatchEvent> XenStore::take_events() {
    std::vector<WatchEvent> events;
    for (;;) {
        std::unique_ptr<char*, FreeDeleter> ev(xs_check_watch(h_));
        if (!ev) {
            break;  // EAGAIN: nothing more queued (or the connection failed)
        }
        events.push_back({ev.get()[XS_WATCH_PATH], ev.get()[XS_WATCH_TOKEN]});
    }
    return events;
}

}  // namespace xengt::xenstore
