// RAII wrapper over a libxenstore connection: reads, writes and watches.
//
// A XenStore is used from one thread (its owner's event loop), which polls
// fd() and then calls take_events() to drain fired watches without blocking.
#pragma once

#include <optional>
#include <string>
#include <vector>

struct xs_handle;

namespace xengt::xenstore {

struct WatchEvent {
    std::string path;
    std::string token;
};

class XenStore {
public:
    XenStore();  // throws std::system_error naming the failed call
    ~XenStore();
    XenStore(const XenStore&) = delete;
    XenStore& operator=(const XenStore&) = delete;

    std::optional<std::string> read(const std::string& path);
    bool write(const std::string& path, const std::string& value);
    bool remove(const std::string& path);

    // Watch `path` (or @releaseDomain / @introduceDomain). Fires once at once,
    // then on every change of the node or a descendant, sometimes spuriously.
    bool watch(const std::string& path, const std::string& token);
    bool unwatch(const std::string& path, const std::string& token);

    int fd() const;
    // Every event queued now; never blocks.
    std::vector<WatchEvent> take_events();

private:
    xs_handle* h_;
};

}  // namespace xengt::xenstore
