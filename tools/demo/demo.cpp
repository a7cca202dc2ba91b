// xengt-demo: the daemon on a simulated Xen host.
//
// Creates two HVM guests (paused, as `xl create -p`), attaches a vGPU to each
// through the same daemon code xengtd runs, unpauses them so they probe their
// GPUs concurrently, prints what each guest reported on its debug console and
// what the daemon counted, then destroys the guests and shows the teardown.
// Each guest also draws a picture and brings up its display; the demo then
// switches the physical display between them over the control socket, as
// xengt-ctl does, and captures every plane as PNG. Last, each guest renders
// a little on its render and blitter engines through its virtual execlists;
// the daemon scans, shadows and schedules that work onto the software GPU.
#include <unistd.h>
#include <boost/program_options.hpp>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <future>
#include <iostream>

#include "gpu/png.hpp"
#include "mediator/base/log.hpp"
#include "tools/ctl/control_client.hpp"
#include "tools/guests/display_driver.hpp"
#include "tools/guests/exec_driver.hpp"
#include "tools/guests/gtt_driver.hpp"
#include "tools/guests/probe.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/daemon/daemon.hpp"

namespace po = boost::program_options;
using namespace xengt;

namespace {

const char* reason_name(xen::GuestSession::EndReason r) {
    return r == xen::GuestSession::EndReason::DomainGone ? "domain gone" : "stopped";
}

// True if the PNG at `path` holds exactly what the guest with `layout` drew.
bool png_shows(const std::string& path, const guests::DisplayDriverLayout& layout) {
    const std::optional<gpu::PlaneCapture> png = gpu::read_png(path);
    if (!png || png->width != layout.width || png->height != layout.height) {
        return false;
    }
    for (uint32_t y = 0; y < layout.height; ++y) {
        for (uint32_t x = 0; x < layout.width; ++x) {
            if (png->pixels[size_t{y} * layout.width + x] !=
                (0xFF000000u | guests::display_pattern(layout.seed, x, y))) {
                return false;
            }
        }
    }
    return true;
}

// Sends one control request and prints the reply as xengt-ctl would.
bool ctl(control::ControlClient& client, const std::string& request) {
    std::printf("   # xengt-ctl %s\n", request.c_str());
    const control::Reply r = client.request(request);
    if (!r.ok) {
        std::printf("   xengt-ctl: %s\n", r.error.c_str());
        return false;
    }
    for (const std::string& line : r.lines) {
        std::printf("   %s\n", line.c_str());
    }
    return true;
}

// The display part: list, switch to each guest in turn (one physical vblank
// later its pixels are on the physical plane), capture every plane.
bool show_displays(daemon::Daemon& d, const std::string& socket, const std::string& dir,
                   const std::vector<uint16_t>& domids,
                   const std::vector<guests::DisplayDriverLayout>& layouts) {
    control::ControlClient client(socket);
    bool ok = ctl(client, "list");
    for (size_t i = 0; i < domids.size(); ++i) {
        const std::string dom = std::to_string(domids[i]);
        ok = ctl(client, "switch " + dom) && ok;
        ok = d.display_vblank() && ok;
        const std::string phys = dir + "/physical-after-switch-to-dom" + dom + ".png";
        ok = ctl(client, "capture physical " + phys) && ok;
        const bool shows = png_shows(phys, layouts[i]);
        std::printf("   one vblank after the switch the physical plane shows dom%s's pixels: %s\n",
                    dom.c_str(), shows ? "yes" : "NO");
        ok = ok && shows;
    }
    for (size_t i = 0; i < domids.size(); ++i) {
        const std::string dom = std::to_string(domids[i]);
        const std::string plane = dir + "/dom" + dom + ".png";
        ok = ctl(client, "capture " + dom + " " + plane) && ok;
        const bool same = png_shows(plane, layouts[i]);
        std::printf("   dom%s's plane (%s) is what it drew: %s\n", dom.c_str(),
                    i + 1 == domids.size() ? "foreground" : "background", same ? "yes" : "NO");
        ok = ok && same;
    }
    return ctl(client, "list") && ok;
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description desc("Usage: xengt-demo [options]\nOptions");
    desc.add_options()("help,h", "show this help")(
        "guests", po::value<unsigned>()->default_value(2), "number of guests (1-7)")(
        "verbose,v", "show the daemon's debug log")(
        "capture-dir", po::value<std::string>(),
        "where to write the PNG captures (default: a new directory under /tmp)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
    } catch (const po::error& e) {
        std::fprintf(stderr, "xengt-demo: %s\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    const unsigned n = vm["guests"].as<unsigned>();
    if (n < 1 || n > 7) {
        std::fprintf(stderr, "xengt-demo: --guests must be 1 to 7 (GVT-g's limit)\n");
        return 2;
    }
    set_log_level(vm.count("verbose") ? LogLevel::Debug : LogLevel::Info);
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep our lines in order with the daemon's log

    std::printf(
        "== simulated Xen host: %u HVM guest(s), each probing its vGPU at 00:02.0,\n"
        "   then using its graphics memory: GGTT, aperture, a write-protected PPGTT,\n"
        "   and rendering on its render and blitter engines through virtual execlists\n",
        n);
    sim::Host host;
    std::vector<guests::ProbeReport> reports(n);
    std::vector<guests::GttDriverReport> gtt_reports(n);
    std::vector<guests::DisplayDriverLayout> display_layouts(n);
    std::vector<guests::DisplayDriverReport> display_reports(n);
    std::vector<guests::ExecDriverReport> exec_reports(n);
    std::vector<uint16_t> domids;
    for (unsigned i = 0; i < n; ++i) {
        sim::DomainConfig c;
        c.name = "demo-guest-" + std::to_string(i + 1);
        c.ram_bytes = 128ull << 20;
        display_layouts[i].seed = i + 1;  // each guest's own picture
        c.programs.push_back([&, i](sim::GuestCpu& cpu) {
            reports[i] = guests::run_probe(cpu);
            guests::GttDriverLayout layout;
            layout.pattern = 0x10000000u * (i + 1);  // each guest's own data
            gtt_reports[i] = guests::run_gtt_driver(cpu, layout);
            display_reports[i] = guests::run_display_driver(cpu, display_layouts[i]);
            guests::ExecDriverLayout exec;
            exec.seed = i + 1;  // each guest's own colours
            exec.rounds = 2;
            exec.stores = 16;
            exec_reports[i] = guests::run_exec_driver(cpu, exec);
        });
        domids.push_back(host.create_domain(std::move(c)));
    }

    daemon::DaemonOptions opts;
    opts.handle_signals = false;
    opts.display_refresh = std::chrono::nanoseconds{0};  // the demo steps the vblanks itself
    daemon::Daemon d(opts);
    for (unsigned i = 0; i < n; ++i) {
        xen::SessionOptions s;
        s.domid = domids[i];
        s.vgpu.vgt_id = i + 1;
        // Small enough slices that all seven guests GVT-g allows fit beside the
        // host's share; the daemon carves them out and PVINFO reports them.
        d.attach(s, mediator::GmRequest{MiB(16), MiB(448), 4});
    }
    const std::string capture_dir =
        vm.count("capture-dir")
            ? vm["capture-dir"].as<std::string>()
            : (std::filesystem::temp_directory_path() / ("xengt-demo-" + std::to_string(getpid())))
                  .string();
    std::filesystem::create_directories(capture_dir);
    const std::string socket = capture_dir + "/xengtd.sock";
    d.listen(socket);
    auto daemon_exit = std::async(std::launch::async, [&] { return d.run(); });

    std::printf("== unpausing; guests run concurrently\n");
    for (uint16_t id : domids) {
        host.unpause(id);
    }
    bool all_finished = true;
    for (uint16_t id : domids) {
        all_finished = host.wait_programs_finished(id) && all_finished;
    }

    bool all_passed = all_finished;
    for (unsigned i = 0; i < n; ++i) {
        std::printf("\n== what dom%u saw (its debug console, port 0xE9):\n", domids[i]);
        for (const std::string& line : host.console(domids[i])) {
            std::printf("   (d%u) %s\n", domids[i], line.c_str());
        }
        std::string why;
        bool ok = guests::probe_passed(reports[i], &why) &&
                  guests::gtt_driver_passed(gtt_reports[i], &why);
        if (ok && !display_reports[i].framebuffer_written) {
            ok = false;
            why = "its framebuffer did not receive what it drew";
        }
        ok = ok && guests::exec_driver_passed(exec_reports[i], &why);
        all_passed = all_passed && ok;
        if (!ok) {
            std::printf("   dom%u FAILED: %s\n", domids[i], why.c_str());
        }
    }

    // The proof, from what the GPU would walk: every GGTT and shadow PPGTT
    // entry maps its own guest's frame or the scratch page.
    const std::optional<mediator::IsolationReport> iso = d.check_isolation();
    std::printf("\n== isolation check over the physical GGTT and every shadow PPGTT:\n   %s\n",
                iso ? iso->summary().c_str() : "no GPU");
    all_passed = all_passed && iso && iso->ok();

    std::printf("\n== workloads: ELSP writes -> scanned shadow workloads -> scheduler -> GPU\n");
    for (unsigned i = 0; i < n; ++i) {
        const mediator::Vgpu* v = d.vgpu(domids[i]);
        const mediator::exec::ExeclistCounters* c = v != nullptr ? v->execlist_counters() : nullptr;
        const auto render = d.scheduler_stats(domids[i], mediator::exec::Engine::Render);
        const auto blit = d.scheduler_stats(domids[i], mediator::exec::Engine::Blitter);
        if (c == nullptr || !render || !blit) {
            std::printf("   dom%u: no workload path\n", domids[i]);
            all_passed = false;
            continue;
        }
        uint64_t verified = 0;
        for (const guests::ExecCheck& check : exec_reports[i].checks) {
            verified += check.checked;
        }
        std::printf("   dom%u: %" PRIu64 " ELSP submissions, %" PRIu64 " workloads (%" PRIu64
                    " completed, %" PRIu64 " rejected, %" PRIu64
                    " lite restores); on the GPU: render %" PRIu64 " in %" PRIu64
                    " us, blitter %" PRIu64 " in %" PRIu64 " us; %" PRIu64
                    " pixels and dwords checked by the guest\n",
                    domids[i], c->submissions, c->workloads, c->completed, c->rejected,
                    c->lite_restores, render->workloads, render->busy_ns / 1000, blit->workloads,
                    blit->busy_ns / 1000, verified);
        all_passed = all_passed && c->rejected == 0 && c->completed == c->workloads &&
                     render->workloads != 0 && blit->workloads != 0;
    }

    std::printf("\n== display: the control socket (%s), as xengt-ctl uses it\n", socket.c_str());
    bool displays_ok = false;
    try {
        displays_ok = show_displays(d, socket, capture_dir, domids, display_layouts);
    } catch (const control::ControlError& e) {
        std::printf("   %s\n", e.what());
    }
    std::printf("   PNG captures are in %s\n", capture_dir.c_str());
    all_passed = all_passed && displays_ok;

    std::printf("\n== destroying the guests (as `xl destroy`)\n");
    for (uint16_t id : domids) {
        host.destroy_domain(id);
    }
    if (daemon_exit.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        std::printf("daemon did not notice the guests died\n");
        return 1;
    }
    std::printf("\n== daemon's per-guest counters\n");
    for (const daemon::SessionReport& r : d.reports()) {
        const auto& s = r.status;
        std::printf("   dom%u: ended (%s); %" PRIu64 " config, %" PRIu64 " MMIO, %" PRIu64
                    " port requests; %" PRIu64 " events; %" PRIu64 " bad requests; %" PRIu64
                    " trap-window updates\n",
                    s.domid, reason_name(r.reason), s.dispatch.pci_config, s.dispatch.mmio,
                    s.dispatch.pio, s.events, s.dispatch.hostile, s.vgpu.trap_window_updates);
    }
    bool clean = true;
    for (uint16_t id : domids) {
        bool gone =
            host.wait_until([&] { return host.status(id).state == sim::DomainState::Gone; });
        clean = clean && gone;
        std::printf("   dom%u after teardown: %s, %u dom0 mappings left\n", id,
                    gone ? "gone" : "STILL PRESENT", host.status(id).dom0_mappings);
    }
    std::printf("\n== %s\n", all_passed && clean ? "demo PASSED" : "demo FAILED");
    return all_passed && clean ? 0 : 1;
}
