// A small xenstored: the node tree, watches and their per-connection queues.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

// Relative paths are relative to the caller's home; the process is dom0.
const std::string kHome = "/local/domain/0/";

// `child` is `parent` or lies below it.
bool is_under(const std::string& child, const std::string& parent) {
    if (parent == "/") {
        return true;
    }
    return child.compare(0, parent.size(), parent) == 0 &&
           (child.size() == parent.size() || child[parent.size()] == '/');
}

std::string parent_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

void queue_event(State& s, xs_handle* h, const std::string& path, const std::string& token) {
    h->events.emplace_back(path, token);
    const char byte = 0;  // the fd is readable while events are queued, one byte each
    [[maybe_unused]] ssize_t n = write(h->write_fd, &byte, 1);
    s.changed();
}

std::string reported(const XsWatch& w, const std::string& path) {
    if (w.relative && path.compare(0, kHome.size(), kHome) == 0) {
        return path.substr(kHome.size());
    }
    return path;
}

void fire_watches(State& s, const std::string& changed, bool removed) {
    for (xs_handle* h : s.xs_handles) {
        for (const XsWatch& w : h->watches) {
            if (w.path.empty() || w.path[0] == '@') {
                continue;
            }
            if (is_under(changed, w.path)) {
                queue_event(s, h, reported(w, changed), w.token);
            } else if (removed && is_under(w.path, changed)) {
                queue_event(s, h, reported(w, w.path), w.token);  // an ancestor went away
            }
        }
    }
}

void create_parents(State& s, const std::string& path) {
    for (std::string p = parent_of(path);; p = parent_of(p)) {
        s.xenstore.emplace(p, std::string());
        if (p == "/") {
            break;
        }
    }
}

}  // namespace

std::optional<std::string> xs_absolute(const char* path) {
    if (path == nullptr || *path == '\0') {
        return std::nullopt;
    }
    std::string p = path[0] == '/' ? std::string(path) : kHome + path;
    if (p != "/" && p.back() == '/') {
        return std::nullopt;
    }
    if (p.find("//") != std::string::npos) {
        return std::nullopt;
    }
    for (char c : p) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '-' && c != '_' &&
            c != '@') {
            return std::nullopt;
        }
    }
    return p;
}

void xs_write_locked(State& s, const std::string& path, const std::string& value) {
    create_parents(s, path);
    s.xenstore[path] = value;
    fire_watches(s, path, false);
    s.changed();
}

bool xs_mkdir_locked(State& s, const std::string& path) {
    if (s.xenstore.count(path) != 0) {
        return true;  // already there: nothing changes, nothing fires
    }
    xs_write_locked(s, path, std::string());
    return true;
}

int xs_rm_locked(State& s, const std::string& path) {
    if (path == "/") {
        return EINVAL;
    }
    if (s.xenstore.count(path) == 0) {
        // xenstored: removing a missing node succeeds if its parent exists
        return s.xenstore.count(parent_of(path)) != 0 ? 0 : ENOENT;
    }
    s.xenstore.erase(path);
    const std::string prefix = path + "/";
    auto it = s.xenstore.lower_bound(prefix);
    while (it != s.xenstore.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
        it = s.xenstore.erase(it);
    }
    fire_watches(s, path, true);
    s.changed();
    return 0;
}

std::optional<std::vector<std::string>> xs_children(const State& s, const std::string& path) {
    if (s.xenstore.count(path) == 0) {
        return std::nullopt;
    }
    const std::string prefix = path == "/" ? "/" : path + "/";
    std::vector<std::string> out;
    for (auto it = s.xenstore.lower_bound(prefix);
         it != s.xenstore.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        const std::string rest = it->first.substr(prefix.size());
        if (!rest.empty() && rest.find('/') == std::string::npos) {
            out.push_back(rest);
        }
    }
    return out;
}

void xs_fire_special(State& s, const char* name) {
    for (xs_handle* h : s.xs_handles) {
        for (const XsWatch& w : h->watches) {
            if (w.path == name) {
                queue_event(s, h, w.path, w.token);
            }
        }
    }
}

int xs_add_watch(State& s, xs_handle* h, const std::string& given, const std::string& token) {
    XsWatch w;
    if (!given.empty() && given[0] == '@') {
        w.path = given;  // @introduceDomain, @releaseDomain
    } else {
        auto abs = xs_absolute(given.c_str());
        if (!abs) {
            return EINVAL;
        }
        w.path = *abs;
        w.relative = given[0] != '/';
    }
    w.token = token;
    for (const XsWatch& have : h->watches) {
        if (have.path == w.path && have.token == w.token) {
            return EEXIST;
        }
    }
    h->watches.push_back(w);
    queue_event(s, h, given, token);  // every new watch fires once straight away
    return 0;
}

int xs_remove_watch(State& s, xs_handle* h, const std::string& given, const std::string& token) {
    std::string path = given;
    if (given.empty() || given[0] != '@') {
        auto abs = xs_absolute(given.c_str());
        if (!abs) {
            return EINVAL;
        }
        path = *abs;
    }
    auto it = std::find_if(h->watches.begin(), h->watches.end(),
                           [&](const XsWatch& w) { return w.path == path && w.token == token; });
    if (it == h->watches.end()) {
        return ENOENT;
    }
    h->watches.erase(it);
    s.changed();
    return 0;
}

}  // namespace xengt::sim::detail
