// The daemon's control requests (control_protocol.hpp) and the physical
// display's vblank, all on the control loop.
#include <boost/asio/post.hpp>
#include <charconv>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <future>
#include <memory>

#include "gpu/png.hpp"
#include "mediator/base/log.hpp"
#include "xengt/daemon/control_protocol.hpp"
#include "xengt/daemon/control_server.hpp"
#include "xengt/daemon/daemon.hpp"

namespace xengt::daemon {
namespace {

namespace display = mediator::display;

std::string ok(const std::string& body = {}) {
    std::string r(control::kOk);
    if (!body.empty()) {
        r += "\n" + body;
    }
    return r;
}

std::string error(const std::string& reason) {
    return std::string(control::kErrorPrefix) + reason;
}

// The first word of `s` (split on spaces), and `s` after it.
std::string_view next_word(std::string_view& s) {
    const size_t start = s.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        s = {};
        return {};
    }
    s.remove_prefix(start);
    const size_t end = std::min(s.find(' '), s.size());
    const std::string_view word = s.substr(0, end);
    s.remove_prefix(end);
    return word;
}

std::string_view trimmed(std::string_view s) {
    const size_t start = s.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        return {};
    }
    const size_t end = s.find_last_not_of(' ');
    return s.substr(start, end - start + 1);
}

// "3" or "dom3".
std::optional<uint16_t> parse_domid(std::string_view s) {
    if (s.starts_with("dom")) {
        s.remove_prefix(3);
    }
    uint16_t v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
        return std::nullopt;
    }
    return v;
}

std::string printf_string(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

// The PLANE column: size and format, or why there is nothing to show.
std::string plane_summary(const display::SourceInfo& s) {
    const display::PlaneLayout l = display::decode(s.plane);
    if (!l.pipe_enabled) {
        return "pipe-off";
    }
    if (!l.plane_enabled) {
        return "plane-off";
    }
    std::string out =
        std::to_string(l.width) + "x" + std::to_string(l.height) + " " + to_string(l.format);
    switch (s.check.problem) {
        case display::ScanoutProblem::Tiled:
            out += " " + std::string(to_string(l.tiling));
            break;
        case display::ScanoutProblem::Rotated:
            out += " rotated-" + std::to_string(l.rotation);
            break;
        case display::ScanoutProblem::RowOutsideStride:
            out += " bad-stride";
            break;
        case display::ScanoutProblem::OutsideGm:
            out += " outside-gm";
            break;
        default:
            break;
    }
    return out;
}

std::string attached_list(const std::vector<display::SourceInfo>& sources) {
    if (sources.empty()) {
        return "no vGPU is attached";
    }
    std::string s = "attached:";
    for (const auto& src : sources) {
        s += " dom" + std::to_string(src.domid);
    }
    return s;
}

}  // namespace

void Daemon::listen(const std::string& path) {
    control_ = std::make_unique<ControlServer>(
        io_, path, [this](std::string_view line) { return control_request(line); });
}

std::string Daemon::control_request(std::string_view line) {
    std::string_view rest = line;
    const std::string_view command = next_word(rest);
    if (command.empty()) {
        return error("empty request (commands: list, stats, switch, capture)");
    }
    if (command == "list") {
        if (!trimmed(rest).empty()) {
            return error("list takes no arguments");
        }
        return control_list();
    }
    if (command == "switch") {
        const std::string_view arg = next_word(rest);
        if (arg.empty() || !trimmed(rest).empty()) {
            return error("usage: switch <domid>|none");
        }
        return control_switch(arg);
    }
    if (command == "stats") {
        const std::string_view arg = next_word(rest);
        if (arg.empty() || !trimmed(rest).empty()) {
            return error("usage: stats <domid>");
        }
        return control_stats(arg);
    }
    if (command == "capture") {
        const std::string_view target = next_word(rest);
        const std::string_view path = trimmed(rest);  // may hold spaces
        if (target.empty() || path.empty()) {
            return error("usage: capture <domid>|physical <absolute path.png>");
        }
        return control_capture(target, path);
    }
    return error("unknown command '" + std::string(command) +
                 "' (commands: list, stats, switch, capture)");
}

std::string Daemon::control_list() {
    const std::vector<display::SourceInfo> sources = display_.sources();
    const display::DisplayStatus st = display_.status();
    std::string body = printf_string("  %-6s %-16s %-8s %-5s %-24s %10s %8s", "DOMID", "NAME",
                                     "STATE", "READY", "PLANE", "FRAMES", "FLIPS");
    for (const display::SourceInfo& s : sources) {
        bool running = false;
        {
            std::lock_guard lock(mutex_);
            running = sessions_.count(s.domid) != 0;
        }
        body += "\n" + printf_string("%c %-6u %-16s %-8s %-5s %-24s %10" PRIu32 " %8" PRIu32,
                                     st.foreground == s.domid ? '*' : ' ', s.domid, s.name.c_str(),
                                     running ? "running" : "ended",
                                     s.plane.display_ready ? "yes" : "no", plane_summary(s).c_str(),
                                     s.plane.frame_count, s.plane.flip_count);
    }
    std::string physical;
    if (st.shown && st.scanout) {
        physical = printf_string("physical: dom%u's plane, %ux%u from GM %#llx (stride %llu)",
                                 *st.shown, st.scanout->width, st.scanout->height,
                                 static_cast<unsigned long long>(st.scanout->surface.value()),
                                 static_cast<unsigned long long>(st.scanout->stride_bytes));
    } else {
        physical = "physical: off: " + st.why_blank;
    }
    if (st.foreground != st.shown && st.foreground) {
        physical +=
            "; dom" + std::to_string(*st.foreground) + " is foreground from the next vblank";
    }
    body += "\n" + physical;
    body += printf_string("\nphysical counters: %llu vblanks, %llu switches, %llu reprograms",
                          static_cast<unsigned long long>(st.vblanks),
                          static_cast<unsigned long long>(st.switches),
                          static_cast<unsigned long long>(st.reprograms));
    return ok(body);
}

// What the guest has made its vGPU do so far: the trap counts by kind and
// the workload path's counters, one "name value" per line.
std::string Daemon::control_stats(std::string_view arg) {
    const std::optional<uint16_t> domid = parse_domid(arg);
    if (!domid) {
        return error("stats takes a domid, not '" + std::string(arg) + "'");
    }
    xen::GuestSession* session = nullptr;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(*domid);
        if (it != sessions_.end()) {
            session = it->second.session.get();
        }
    }
    // reap() runs on this loop too: the session stays while this request runs.
    if (session == nullptr) {
        return error("dom" + std::to_string(*domid) + ": no vGPU is attached to it (" +
                     attached_list(display_.sources()) + ")");
    }
    const std::optional<xen::SessionStatus> s = session->query_status(std::chrono::seconds(1), 8);
    if (!s) {
        return error("dom" + std::to_string(*domid) + ": its session did not answer within 1 s");
    }
    using ull = unsigned long long;
    const mediator::VgpuCounters& c = s->vgpu;
    std::string body = printf_string(
        "config_reads %llu\nconfig_writes %llu\nmmio_reads %llu\nmmio_writes %llu\n"
        "ggtt_strategy %s\nggtt_reads %llu\nggtt_writes %llu\nggtt_flushes %llu\n"
        "pio_reads %llu\npio_writes %llu\naperture_accesses %llu\nuntracked %llu\n"
        "rejected %llu\nmsis %llu",
        static_cast<ull>(c.config_reads), static_cast<ull>(c.config_writes),
        static_cast<ull>(c.mmio_reads), static_cast<ull>(c.mmio_writes),
        mediator::to_string(s->ggtt_strategy), static_cast<ull>(c.ggtt_reads),
        static_cast<ull>(c.ggtt_writes), static_cast<ull>(c.ggtt_flushes),
        static_cast<ull>(c.pio_reads), static_cast<ull>(c.pio_writes),
        static_cast<ull>(c.aperture_reads + c.aperture_writes), static_cast<ull>(c.untracked),
        static_cast<ull>(c.rejected), static_cast<ull>(c.msi_raised));
    // Guest page tables the vGPU shadows are write-protected: their stores
    // come here as requests.
    body += printf_string("\nprotected_pages %zu\nprotected_writes %llu\nlate_protected %llu",
                          s->protected_pages, static_cast<ull>(s->dispatch.protected_writes),
                          static_cast<ull>(s->dispatch.late_protected));
    for (const mediator::Vgpu::HotRegister& h : s->hot_registers) {
        body += printf_string("\nhot_register 0x%05x %u %s", h.offset, h.accesses,
                              *h.name != 0 ? h.name : "(untracked)");
    }
    return ok(body);
}

std::string Daemon::control_switch(std::string_view arg) {
    if (arg == "none") {
        display_.set_foreground(std::nullopt);
        arm_display_timer();  // one more vblank turns the plane off
        return ok("no vGPU is foreground from the next vblank");
    }
    const std::optional<uint16_t> domid = parse_domid(arg);
    if (!domid) {
        return error("switch takes a domid or 'none', not '" + std::string(arg) + "'");
    }
    if (!display_.set_foreground(*domid)) {
        return error("dom" + std::to_string(*domid) + ": no vGPU is attached to it (" +
                     attached_list(display_.sources()) + ")");
    }
    arm_display_timer();
    std::string body = "dom" + std::to_string(*domid) + " is foreground from the next vblank";
    if (const std::string why = display_.obstacle(*domid); !why.empty()) {
        body += "\nit shows nothing while " + why;
    }
    return ok(body);
}

std::string Daemon::control_capture(std::string_view target, std::string_view path) {
    if (!path.starts_with('/')) {
        return error(
            "capture needs an absolute path (xengtd's working directory is not "
            "yours), not '" +
            std::string(path) + "'");
    }
    display::CaptureResult r;
    std::string what;
    if (target == "physical") {
        r = display_.capture_physical();
        const display::DisplayStatus st = display_.status();
        what = st.shown ? "the physical plane (dom" + std::to_string(*st.shown) + "'s)"
                        : "the physical plane";
    } else if (const std::optional<uint16_t> domid = parse_domid(target)) {
        r = display_.capture(*domid);
        what = "dom" + std::to_string(*domid) + "'s plane";
    } else {
        return error("capture takes a domid or 'physical', not '" + std::string(target) + "'");
    }
    if (!r.image) {
        return error(r.error);
    }
    const gpu::PlaneCapture png{r.image->width, r.image->height, std::move(r.image->pixels)};
    std::string why;
    if (!gpu::write_png(png, std::string(path), &why)) {
        return error("cannot write " + std::string(path) + ": " + why);
    }
    return ok(printf_string("wrote %s, %ux%u, to %.*s", what.c_str(), png.width, png.height,
                            static_cast<int>(path.size()), path.data()));
}

void Daemon::display_tick() {
    if (gpu_) {
        gpu_->model().vblank();  // the frame boundary of the physical pipe
    }
    display_.vblank();
    {
        std::lock_guard lock(vblank_mutex_);
        ++display_vblanks_;
    }
    vblank_cv_.notify_all();
}

void Daemon::arm_display_timer() {
    // Only while something is (or was just) foreground: an idle display
    // costs no wakeups. Deadlines advance by whole periods (see on_display_timer).
    if (options_.display_refresh.count() == 0 || display_timer_armed_ ||
        !display_.wants_vblanks()) {
        return;
    }
    display_timer_armed_ = true;
    display_timer_.expires_after(options_.display_refresh);
    display_timer_.async_wait(
        [this](const boost::system::error_code& ec) { on_display_timer(ec); });
}

void Daemon::on_display_timer(const boost::system::error_code& ec) {
    if (ec) {
        display_timer_armed_ = false;
        return;
    }
    display_tick();
    if (!display_.wants_vblanks()) {
        display_timer_armed_ = false;
        return;
    }
    display_timer_.expires_at(display_timer_.expiry() + options_.display_refresh);
    display_timer_.async_wait([this](const boost::system::error_code& e) { on_display_timer(e); });
}

bool Daemon::display_vblank(std::chrono::milliseconds limit) {
    auto done = std::make_shared<std::promise<void>>();
    std::future<void> finished = done->get_future();
    boost::asio::post(io_, [this, done] {
        display_tick();
        done->set_value();
    });
    return finished.wait_for(limit) == std::future_status::ready;
}

bool Daemon::wait_display_vblanks(uint64_t count, std::chrono::milliseconds limit) {
    std::unique_lock lock(vblank_mutex_);
    return vblank_cv_.wait_for(lock, limit, [&] { return display_vblanks_ >= count; });
}

}  // namespace xengt::daemon
