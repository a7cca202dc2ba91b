// The simulated xenstored: nodes, watches and the domain lifecycle watches.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

struct Event {
    std::string path, token;
    bool operator==(const Event&) const = default;
};

std::optional<Event> next_event(xs_handle* xs) {
    errno = 0;
    char** ev = xs_check_watch(xs);
    if (ev == nullptr) {
        return std::nullopt;
    }
    Event e{ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]};
    std::free(ev);
    return e;
}

std::optional<std::string> read(xs_handle* xs, const char* path) {
    unsigned len = 0;
    char* v = static_cast<char*>(xs_read(xs, XBT_NULL, path, &len));
    if (v == nullptr) {
        return std::nullopt;
    }
    std::string s(v, len);
    CHECK(v[len] == '\0');
    std::free(v);
    return s;
}

std::vector<std::string> list(xs_handle* xs, const char* path) {
    unsigned n = 0;
    char** dir = xs_directory(xs, XBT_NULL, path, &n);
    std::vector<std::string> out;
    if (dir != nullptr) {
        out.assign(dir, dir + n);
        std::free(dir);
    }
    return out;
}

}  // namespace

TEST_CASE("xenstore nodes: read, write, mkdir, rm, directory", "[xensim][xenstore]") {
    Host host;
    xs_handle* xs = xs_open(0);
    REQUIRE(xs != nullptr);
    CHECK_FALSE(read(xs, "/a/b"));
    CHECK(errno == ENOENT);
    REQUIRE(xs_write(xs, XBT_NULL, "/a/b/c", "hi", 2));
    CHECK(read(xs, "/a/b/c") == "hi");
    CHECK(read(xs, "/a/b") == "");  // parents were created
    REQUIRE(xs_write(xs, XBT_NULL, "/a/b/d", "", 0));
    CHECK(list(xs, "/a/b") == std::vector<std::string>{"c", "d"});
    CHECK(xs_directory(xs, XBT_NULL, "/nope", nullptr) == nullptr);
    CHECK(errno == ENOENT);

    // Relative paths live under dom0's home.
    REQUIRE(xs_write(xs, XBT_NULL, "device-model/1/state", "running", 7));
    CHECK(host.xenstore_read("/local/domain/0/device-model/1/state") == "running");
    host.xenstore_write("/vm/x", "42");
    CHECK(read(xs, "/vm/x") == "42");

    REQUIRE(xs_mkdir(xs, XBT_NULL, "/m/n"));
    CHECK(read(xs, "/m/n") == "");
    REQUIRE(xs_rm(xs, XBT_NULL, "/a"));
    CHECK_FALSE(read(xs, "/a/b/c"));
    CHECK(xs_rm(xs, XBT_NULL, "/a"));  // missing node, existing parent: fine
    CHECK_FALSE(xs_rm(xs, XBT_NULL, "/x/y"));
    CHECK(errno == ENOENT);
    CHECK_FALSE(xs_write(xs, XBT_NULL, "/bad//path", "", 0));
    CHECK(errno == EINVAL);

    char* path = xs_get_domain_path(xs, 7);
    REQUIRE(path != nullptr);
    CHECK(std::string(path) == "/local/domain/7");
    std::free(path);

    const xs_transaction_t t = xs_transaction_start(xs);
    CHECK(t != XBT_NULL);
    REQUIRE(xs_write(xs, t, "/t", "1", 1));
    CHECK(read(xs, "/t") == "1");  // applied at once
    CHECK(xs_transaction_end(xs, t, false));

    DomainConfig cfg;
    cfg.name = "vm1";
    const uint16_t domid = host.create_domain(cfg);
    const std::string name = "/local/domain/" + std::to_string(domid) + "/name";
    CHECK(read(xs, name.c_str()) == "vm1");
    CHECK(xs_is_domain_introduced(xs, domid));
    CHECK(xs_is_domain_introduced(xs, 0));
    CHECK_FALSE(xs_is_domain_introduced(xs, 99));
    xs_close(xs);
}

TEST_CASE("a watch fires once when set, then for changes at or below its path",
          "[xensim][xenstore]") {
    Host host;
    xs_handle* xs = xs_open(0);
    xs_handle* other = xs_open(0);
    const int fd = xs_fileno(xs);
    CHECK_FALSE(readable(fd));
    REQUIRE(xs_watch(xs, "/w", "tok"));
    CHECK(readable(fd));
    CHECK(next_event(xs) == Event{"/w", "tok"});
    CHECK_FALSE(next_event(xs));
    CHECK(errno == EAGAIN);
    CHECK_FALSE(readable(fd));

    REQUIRE(xs_write(other, XBT_NULL, "/w/x/y", "1", 1));
    REQUIRE(xs_write(other, XBT_NULL, "/other", "1", 1));
    REQUIRE(xs_write(other, XBT_NULL, "/w", "2", 1));
    CHECK(next_event(xs) == Event{"/w/x/y", "tok"});
    CHECK(next_event(xs) == Event{"/w", "tok"});
    CHECK_FALSE(next_event(xs));
    CHECK_FALSE(next_event(other));  // the writer did not watch

    REQUIRE(xs_watch(xs, "/p/q/r", "deep"));
    CHECK(next_event(xs) == Event{"/p/q/r", "deep"});
    REQUIRE(xs_write(other, XBT_NULL, "/p/q/r", "1", 1));
    CHECK(next_event(xs) == Event{"/p/q/r", "deep"});
    REQUIRE(xs_rm(other, XBT_NULL, "/p"));  // removing an ancestor reports the watched path
    CHECK(next_event(xs) == Event{"/p/q/r", "deep"});

    REQUIRE(xs_watch(xs, "backend", "rel"));
    CHECK(next_event(xs) == Event{"backend", "rel"});
    host.xenstore_write("/local/domain/0/backend/vgpu", "x");
    CHECK(next_event(xs) == Event{"backend/vgpu", "rel"});

    CHECK_FALSE(xs_watch(xs, "/w", "tok"));
    CHECK(errno == EEXIST);
    REQUIRE(xs_unwatch(xs, "/w", "tok"));
    CHECK_FALSE(xs_unwatch(xs, "/w", "tok"));
    CHECK(errno == ENOENT);
    REQUIRE(xs_write(other, XBT_NULL, "/w", "3", 1));
    CHECK_FALSE(next_event(xs));

    host.xenstore_write("/local/domain/0/backend/again", "y");
    unsigned num = 0;
    char** ev = xs_read_watch(xs, &num);  // an event is queued: returns at once
    REQUIRE(ev != nullptr);
    CHECK(num == 2);
    CHECK(std::string(ev[XS_WATCH_PATH]) == "backend/again");
    std::free(ev);
    xs_close(other);
    xs_close(xs);
}

TEST_CASE("@introduceDomain and @releaseDomain follow domains", "[xensim][xenstore]") {
    Host host;
    xs_handle* xs = xs_open(0);
    REQUIRE(xs_watch(xs, "@introduceDomain", "intro"));
    REQUIRE(xs_watch(xs, "@releaseDomain", "rel"));
    CHECK(next_event(xs) == Event{"@introduceDomain", "intro"});
    CHECK(next_event(xs) == Event{"@releaseDomain", "rel"});

    DomainConfig crashing;
    crashing.programs.push_back([](GuestCpu&) { throw std::runtime_error("down"); });
    const uint16_t domid = host.create_domain(crashing);
    CHECK(next_event(xs) == Event{"@introduceDomain", "intro"});
    CHECK_FALSE(next_event(xs));

    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(next_event(xs) == Event{"@releaseDomain", "rel"});  // a crash is a shutdown
    CHECK_FALSE(next_event(xs));

    const std::string home = "/local/domain/" + std::to_string(domid);
    REQUIRE(xs_watch(xs, home.c_str(), "home"));
    CHECK(next_event(xs) == Event{home, "home"});
    host.destroy_domain(domid);
    std::vector<Event> events;
    while (auto e = next_event(xs)) {
        events.push_back(*e);
    }
    CHECK(std::find(events.begin(), events.end(), Event{home, "home"}) != events.end());
    CHECK(std::find(events.begin(), events.end(), Event{"@releaseDomain", "rel"}) != events.end());
    CHECK(std::find(events.begin(), events.end(), Event{"@introduceDomain", "intro"}) ==
          events.end());
    CHECK_FALSE(xs_is_domain_introduced(xs, domid));
    xs_close(xs);
}
