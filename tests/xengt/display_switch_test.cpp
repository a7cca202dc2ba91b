// Acceptance for display switching on the simulator: guests draw their own
// pictures into their own graphics memory through the aperture, bring up
// pipe A and plane 1 and set display_ready. Through the control socket the
// foreground vGPU is switched; after exactly one physical vblank the
// physical plane shows the new guest's pixels, and a PNG capture of each
// guest's plane is what it drew. Guests whose plane is not theirs to show,
// or not ready, show nothing, and the reason is given.
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <future>
#include <sstream>

#include "gpu/png.hpp"
#include "tools/ctl/control_client.hpp"
#include "tools/guests/display_driver.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/daemon/daemon.hpp"

using namespace xengt;
namespace fs = std::filesystem;

namespace {

// A fresh directory for this test's socket and PNGs.
fs::path test_dir(const std::string& name) {
    const fs::path dir =
        fs::temp_directory_path() / ("xengt-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

// What a PNG of guest `seed`'s plane must decode to (read_png sets X to 0xFF).
std::vector<uint32_t> drawn(const guests::DisplayDriverLayout& l) {
    std::vector<uint32_t> px;
    for (uint32_t y = 0; y < l.height; ++y) {
        for (uint32_t x = 0; x < l.width; ++x) {
            px.push_back(0xFF000000u | guests::display_pattern(l.seed, x, y));
        }
    }
    return px;
}

// "" if the PNG at `path` holds exactly `expected` (width x height), else how not.
std::string png_differs(const fs::path& path, const guests::DisplayDriverLayout& l) {
    std::string error;
    const std::optional<gpu::PlaneCapture> png = gpu::read_png(path.string(), &error);
    if (!png) {
        return "cannot read " + path.string() + ": " + error;
    }
    if (png->width != l.width || png->height != l.height) {
        return "size " + std::to_string(png->width) + "x" + std::to_string(png->height);
    }
    const std::vector<uint32_t> want = drawn(l);
    for (size_t i = 0; i < want.size(); ++i) {
        if (png->pixels[i] != want[i]) {
            std::ostringstream s;
            s << "pixel (" << i % l.width << "," << i / l.width << ") is 0x" << std::hex
              << png->pixels[i] << ", drawn 0x" << want[i];
            return s.str();
        }
    }
    return {};
}

// The daemon serving simulated display guests, with its control socket.
struct DisplayRig {
    explicit DisplayRig(std::vector<guests::DisplayDriverLayout> layouts,
                        std::chrono::nanoseconds refresh = std::chrono::nanoseconds{0})
        : dir(test_dir("display")),
          socket((dir / "ctl.sock").string()),
          layout(layouts),
          reports(layouts.size()),
          daemon(options(refresh)) {
        for (size_t i = 0; i < layouts.size(); ++i) {
            sim::DomainConfig c;
            c.name = "display-" + std::string(1, static_cast<char>('a' + i));
            c.programs.push_back([this, i](sim::GuestCpu& cpu) {
                reports[i] = guests::run_display_driver(cpu, layout[i]);
            });
            domids.push_back(host.create_domain(std::move(c)));
            xen::SessionOptions s;
            s.domid = domids.back();
            s.vgpu.vgt_id = static_cast<uint32_t>(i + 1);
            daemon.attach(s, mediator::GmRequest{MiB(32), MiB(256), 4});  // three fit
        }
        daemon.listen(socket);
        exit_code = std::async(std::launch::async, [this] { return daemon.run(); });
        for (uint16_t id : domids) {
            host.unpause(id);
        }
        for (uint16_t id : domids) {
            REQUIRE(host.wait_programs_finished(id));
        }
        for (const auto& r : reports) {
            INFO("guest console: " << (r.lines.empty() ? "" : r.lines.back()));
            REQUIRE(r.framebuffer_written);
        }
    }
    ~DisplayRig() { fs::remove_all(dir); }
    static daemon::DaemonOptions options(std::chrono::nanoseconds refresh) {
        daemon::DaemonOptions o;
        o.handle_signals = false;
        o.display_refresh = refresh;
        return o;
    }
    control::Reply ask(const std::string& request) { return client().request(request); }
    control::ControlClient& client() {
        if (!ctl) {
            ctl.emplace(socket, std::chrono::seconds(10));
        }
        return *ctl;
    }
    std::string dom(size_t i) const { return std::to_string(domids[i]); }
    // Captures `target` into dir/<file> through the socket; the PNG path.
    fs::path capture(const std::string& target, const std::string& file) {
        const fs::path path = dir / file;
        const control::Reply r = ask("capture " + target + " " + path.string());
        INFO("capture " << target << ": " << r.error);
        REQUIRE(r.ok);
        return path;
    }

    sim::Host host;
    fs::path dir;
    std::string socket;
    std::vector<guests::DisplayDriverLayout> layout;
    std::vector<guests::DisplayDriverReport> reports;
    std::vector<uint16_t> domids;
    daemon::Daemon daemon;
    std::future<int> exit_code;
    // Destroyed before exit_code, whose destructor waits for run(): however
    // the test ends (a REQUIRE in the constructor too), the daemon stops.
    struct StopOnExit {
        daemon::Daemon& d;
        ~StopOnExit() { d.request_stop(); }
    } stop_on_exit{daemon};
    std::optional<control::ControlClient> ctl;
};

guests::DisplayDriverLayout guest_layout(uint32_t seed) {
    guests::DisplayDriverLayout l;
    l.seed = seed;
    return l;
}

// The `list` row of a domid (empty if none).
std::string row_of(const control::Reply& r, uint16_t domid) {
    for (const std::string& line : r.lines) {
        std::istringstream words(line.substr(1));
        unsigned id = 0;
        if (words >> id && id == domid) {
            return line;
        }
    }
    return {};
}

// Runs xengt-ctl; its exit status and what it printed (stdout and stderr).
std::pair<int, std::string> run_ctl(const std::string& args, const fs::path& cwd) {
    const std::string cmd = "cd '" + cwd.string() + "' && '" XENGT_CTL_PATH "' " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p != nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p) != nullptr) {
        out += buf;
    }
    const int status = ::pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace

TEST_CASE("a foreground switch shows the new guest's pixels after exactly one vblank",
          "[xengt][display]") {
    DisplayRig rig({guest_layout(1), guest_layout(2)});

    control::Reply list = rig.ask("list");
    REQUIRE(list.ok);
    for (size_t i = 0; i < 2; ++i) {
        const std::string row = row_of(list, rig.domids[i]);
        INFO(row);
        CHECK(row.starts_with("  "));  // not foreground: nothing is, unasked
        CHECK(row.find(std::string("display-") + static_cast<char>('a' + i)) != std::string::npos);
        CHECK(row.find("running") != std::string::npos);
        CHECK(row.find(" yes ") != std::string::npos);
        CHECK(row.find("64x48 XRGB8888") != std::string::npos);
    }
    CHECK(list.lines.at(3) == "physical: off: no vGPU is foreground");
    control::Reply phys = rig.ask("capture physical " + (rig.dir / "none.png").string());
    CHECK_FALSE(phys.ok);
    CHECK(phys.error == "the physical plane shows nothing: no vGPU is foreground");

    // Switch to the first guest: nothing changes before the vblank, all of
    // it after exactly one.
    control::Reply sw = rig.ask("switch " + rig.dom(0));
    REQUIRE(sw.ok);
    CHECK(sw.lines.at(0) == "dom" + rig.dom(0) + " is foreground from the next vblank");
    CHECK_FALSE(rig.ask("capture physical " + (rig.dir / "early.png").string()).ok);
    REQUIRE(rig.daemon.display_vblank());
    CHECK(png_differs(rig.capture("physical", "phys-a.png"), rig.layout[0]) == "");

    // Switch to the second: the first stays on show until the vblank.
    REQUIRE(rig.ask("switch dom" + rig.dom(1)).ok);
    CHECK(png_differs(rig.capture("physical", "phys-a-still.png"), rig.layout[0]) == "");
    REQUIRE(rig.daemon.display_vblank());
    CHECK(png_differs(rig.capture("physical", "phys-b.png"), rig.layout[1]) == "");

    // Each guest's plane, foreground or background, is what it drew.
    CHECK(png_differs(rig.capture(rig.dom(0), "plane-a.png"), rig.layout[0]) == "");
    CHECK(png_differs(rig.capture(rig.dom(1), "plane-b.png"), rig.layout[1]) == "");

    list = rig.ask("list");
    REQUIRE(list.ok);
    CHECK(row_of(list, rig.domids[1]).starts_with("* "));
    CHECK(row_of(list, rig.domids[0]).starts_with("  "));
    CHECK(list.lines.at(3).starts_with("physical: dom" + rig.dom(1) + "'s plane, 64x48 from GM"));

    // Errors name the guest and the reason.
    control::Reply bad = rig.ask("switch 999");
    CHECK_FALSE(bad.ok);
    CHECK(bad.error == "dom999: no vGPU is attached to it (attached: dom" + rig.dom(0) + " dom" +
                           rig.dom(1) + ")");
    bad = rig.ask("capture 999 " + (rig.dir / "x.png").string());
    CHECK(bad.error == "dom999: no vGPU is attached to it");
    bad = rig.ask("capture " + rig.dom(0) + " relative.png");
    CHECK(bad.error.starts_with("capture needs an absolute path"));
    bad = rig.ask("frobnicate");
    CHECK(bad.error == "unknown command 'frobnicate' (commands: list, stats, switch, capture)");

    // stats: the guest's trap counts so far, taken on its session's loop.
    control::Reply stats = rig.ask("stats dom" + rig.dom(0));
    REQUIRE(stats.ok);
    auto stat = [&](const std::string& name) -> uint64_t {
        for (const std::string& l : stats.lines) {
            if (l.starts_with(name + " ")) {
                return std::stoull(l.substr(name.size() + 1));
            }
        }
        FAIL("no " << name << " in the stats reply");
        return 0;
    };
    CHECK(stat("mmio_writes") > 0);  // the guest programmed its display
    CHECK(stat("mmio_reads") > 0);
    CHECK(stat("rejected") == 0);
    CHECK(stat("protected_pages") == 0);  // this guest builds no PPGTT
    CHECK(rig.ask("stats 999").error.starts_with("dom999: no vGPU is attached to it"));
    CHECK(rig.ask("stats").error == "usage: stats <domid>");
    CHECK(rig.ask("switch").error == "usage: switch <domid>|none");
    CHECK(rig.ask("list").ok);  // the connection survives errors

    // The foreground guest dies: the physical plane goes off with it.
    for (uint16_t id : rig.domids) {
        rig.host.destroy_domain(id);
    }
    REQUIRE(rig.exit_code.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK_FALSE(rig.daemon.gpu()->model().capture_primary_plane());
}

TEST_CASE("xengt-ctl lists, switches and captures, and names what it cannot do",
          "[xengt][display][ctl]") {
    DisplayRig rig({guest_layout(3), guest_layout(4)});
    const std::string sock = "--socket '" + rig.socket + "' ";

    auto [rc, out] = run_ctl(sock + "switch " + rig.dom(1), rig.dir);
    CHECK(rc == 0);
    CHECK(out == "dom" + rig.dom(1) + " is foreground from the next vblank\n");
    REQUIRE(rig.daemon.display_vblank());
    std::tie(rc, out) = run_ctl(sock + "list", rig.dir);
    CHECK(rc == 0);
    INFO(out);
    CHECK(out.find("* " + rig.dom(1)) != std::string::npos);
    CHECK(out.find("physical: dom" + rig.dom(1) + "'s plane") != std::string::npos);

    // A relative file name is the caller's, not the daemon's.
    std::tie(rc, out) = run_ctl(sock + "capture " + rig.dom(0) + " mine.png", rig.dir);
    CHECK(rc == 0);
    CHECK(png_differs(rig.dir / "mine.png", rig.layout[0]) == "");
    std::tie(rc, out) = run_ctl(sock + "capture physical shown.png", rig.dir);
    CHECK(rc == 0);
    CHECK(png_differs(rig.dir / "shown.png", rig.layout[1]) == "");

    std::tie(rc, out) = run_ctl(sock + "switch 999", rig.dir);
    CHECK(rc == 1);
    CHECK(out.starts_with("xengt-ctl: dom999: no vGPU is attached to it"));
    std::tie(rc, out) =
        run_ctl("--socket '" + (rig.dir / "nobody.sock").string() + "' list", rig.dir);
    CHECK(rc == 1);
    CHECK(out.find("xengtd is not running (no control socket at") != std::string::npos);
    std::tie(rc, out) = run_ctl(sock + "switch", rig.dir);
    CHECK(rc == 2);
}

TEST_CASE("a guest whose plane is not its own, or not ready, is not shown, and why is said",
          "[xengt][display][isolation]") {
    guests::DisplayDriverLayout outside = guest_layout(5);
    outside.surface_past_slice = true;
    guests::DisplayDriverLayout not_ready = guest_layout(6);
    not_ready.set_display_ready = false;
    DisplayRig rig({guest_layout(7), outside, not_ready});

    // Show the honest guest first: the physical plane must go off, not keep
    // its pixels, when the foreground moves to a guest that cannot be shown.
    REQUIRE(rig.ask("switch " + rig.dom(0)).ok);
    REQUIRE(rig.daemon.display_vblank());
    CHECK(png_differs(rig.capture("physical", "honest.png"), rig.layout[0]) == "");

    control::Reply sw = rig.ask("switch " + rig.dom(1));
    REQUIRE(sw.ok);
    REQUIRE(sw.lines.size() == 2);
    CHECK(sw.lines[1].starts_with("it shows nothing while dom" + rig.dom(1) +
                                  " (display-b): its surface"));
    REQUIRE(rig.daemon.display_vblank());
    control::Reply phys = rig.ask("capture physical " + (rig.dir / "p.png").string());
    CHECK_FALSE(phys.ok);
    CHECK(phys.error.find("lies outside its graphics memory") != std::string::npos);
    CHECK_FALSE(rig.daemon.gpu()->model().capture_primary_plane());
    control::Reply cap = rig.ask("capture " + rig.dom(1) + " " + (rig.dir / "b.png").string());
    CHECK_FALSE(cap.ok);
    CHECK(cap.error.starts_with("dom" + rig.dom(1) + " (display-b): its surface"));
    const control::Reply list = rig.ask("list");
    CHECK(row_of(list, rig.domids[1]).find("outside-gm") != std::string::npos);

    // Not ready: not shown, though its plane can be captured.
    REQUIRE(rig.ask("switch " + rig.dom(2)).ok);
    REQUIRE(rig.daemon.display_vblank());
    phys = rig.ask("capture physical " + (rig.dir / "p.png").string());
    CHECK(phys.error == "the physical plane shows nothing: dom" + rig.dom(2) +
                            " (display-c) has not set display_ready (its driver has not "
                            "finished a modeset)");
    CHECK(png_differs(rig.capture(rig.dom(2), "c.png"), rig.layout[2]) == "");
    CHECK(row_of(rig.ask("list"), rig.domids[2]).find(" no ") != std::string::npos);
}

TEST_CASE("the daemon's 60 Hz-style timer drives the physical vblanks while a vGPU is foreground",
          "[xengt][display][timer]") {
    DisplayRig rig({guest_layout(8)}, std::chrono::milliseconds(1));
    REQUIRE(rig.ask("switch " + rig.dom(0)).ok);
    REQUIRE(rig.daemon.wait_display_vblanks(3));
    CHECK(png_differs(rig.capture("physical", "timed.png"), rig.layout[0]) == "");
    const control::Reply list = rig.ask("list");
    REQUIRE(list.ok);
    CHECK(list.lines.back().starts_with("physical counters: "));
}
