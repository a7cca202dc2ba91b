// The daemon: a control loop plus one serving thread per attached guest.
//
// Each guest's GuestSession runs its own event loop on its own thread (Xen
// event-channel handles are not shared between threads). When a guest dies
// its thread ends and the control loop reaps it: joins the thread, records a
// final report and tears the session down. SIGTERM/SIGINT stop everything.
//
// The control loop also owns the physical display (mediator::display::
// DisplayOwner: which vGPU is foreground, reading each vGPU's published
// plane), runs its vblank timer, and serves the control socket.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "mediator/display/display_owner.hpp"
#include "mediator/gm_allocator.hpp"
#include "mediator/gtt/isolation.hpp"
#include "xengt/daemon/gpu_host.hpp"
#include "xengt/xen/guest_session.hpp"

namespace xengt::daemon {

class ControlServer;

// 60 Hz, the refresh of the physical display the GPU model drives.
inline constexpr std::chrono::nanoseconds kDisplayRefresh60Hz{16'666'667};

struct DaemonOptions {
    bool handle_signals = true;  // SIGTERM / SIGINT end run()
    bool exit_when_idle = true;  // run() returns once the last guest is gone
    // Serve every vGPU from the software GPU model (GpuHost). Without it the
    // vGPUs emulate config space and registers only, and `gpu` says what
    // graphics memory there is to partition.
    bool model_gpu = true;
    mediator::GmResources gpu{};
    mediator::GmRequest host_share = mediator::kDefaultHostShare;
    // The device scheduler (time slice, cap period, watchdog).
    mediator::exec::SchedulerConfig scheduler{};

    // Period of the physical vblank timer, which runs only while a vGPU is
    // foreground. Zero: no timer; the Daemon's owner calls display_vblank().
    std::chrono::nanoseconds display_refresh = kDisplayRefresh60Hz;
};

// What is known about a guest once its session has ended.
struct SessionReport {
    xen::SessionStatus status;
    xen::GuestSession::EndReason reason;
};

class Daemon {
public:
    explicit Daemon(DaemonOptions options = {});
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Attach a vGPU to a guest and start serving it. Its graphics-memory and
    // fence partition is taken first (mediator::AdmissionRefused if it does not
    // fit) and is what the guest's PVINFO reports. The attach runs on the
    // caller's thread so errors surface here (nothing is left half-created).
    void attach(xen::SessionOptions options, const mediator::GmRequest& request = {});

    // Serve until a stop signal, request_stop(), or (exit_when_idle) until no
    // guest is left. Returns the process exit status.
    int run();
    void request_stop();  // any thread

    size_t active_sessions() const;

    // Serve the control socket at `path` (control_protocol.hpp) on the
    // control loop: list vGPUs, switch the foreground one, capture planes.
    // Call before run(). Throws std::system_error naming the path.
    void listen(const std::string& path);

    // One physical vblank, run on the control loop: the GPU model's vblank,
    // then the display owner brings the physical plane up to date. For
    // display_refresh zero (tests); not from the control loop itself. False
    // if the loop has not run it within `limit`.
    bool display_vblank(std::chrono::milliseconds limit = std::chrono::seconds(10));
    // Waits until at least `count` physical vblanks have happened since
    // construction (timer or display_vblank()); false after `limit`.
    bool wait_display_vblanks(uint64_t count,
                              std::chrono::milliseconds limit = std::chrono::seconds(10));

    // The isolation checker over the physical GGTT and every vGPU's shadow
    // PPGTTs (nullopt without a GPU). Reads the sessions' state unlocked:
    // call it only while the guests are idle (tests, diagnostics).
    std::optional<mediator::IsolationReport> check_isolation() const;
    // A guest's vGPU for diagnostics, under the same rule (nullptr if none).
    const mediator::Vgpu* vgpu(uint16_t domid) const;
    // What the device scheduler counted for a guest on `engine` (engine
    // time, workloads run, hangs); nullopt without a GPU or such a guest.
    // Any thread.
    std::optional<mediator::exec::ClientEngineStats> scheduler_stats(
        uint16_t domid, mediator::exec::Engine engine) const;
    GpuHost* gpu() { return gpu_.get(); }
    // Reports of sessions that ended, oldest first.
    std::vector<SessionReport> reports() const;

private:
    struct Running {
        std::unique_ptr<mediator::GmPartition> partition;  // released after the session
        std::unique_ptr<xen::GuestSession> session;
        // The vGPU's place in the scheduler; gone before the session is.
        std::unique_ptr<mediator::exec::Scheduler::Client> client;
        std::optional<uint64_t> shadow_slot;  // host GM of its shadow workloads
        std::thread thread;
        xen::GuestSession::EndReason reason = xen::GuestSession::EndReason::Stopped;
    };
    void reap(uint16_t domid);
    void stop_all();
    // Control requests (daemon_control.cpp), on the control loop.
    std::string control_request(std::string_view line);
    std::string control_list();
    std::string control_stats(std::string_view arg);
    std::string control_switch(std::string_view arg);
    std::string control_capture(std::string_view target, std::string_view path);
    // The physical display's vblank, and its timer.
    void display_tick();
    void arm_display_timer();
    void on_display_timer(const boost::system::error_code& ec);
    // Join a session's thread, record its report and tear it down.
    void finish(uint16_t domid, Running& r);

    DaemonOptions options_;
    std::unique_ptr<GpuHost> gpu_;  // outlives every session (they pin into it)
    mediator::GmAllocator gm_;      // outlives every session's partition
    boost::asio::io_context io_;
    std::optional<boost::asio::signal_set> signals_;
    mutable std::mutex mutex_;  // guards sessions_ and reports_
    std::map<uint16_t, Running> sessions_;
    std::vector<SessionReport> reports_;
    // Owned by the control loop (see display_owner.hpp); drives gpu_'s pipe.
    mediator::display::DisplayOwner display_;
    boost::asio::steady_timer display_timer_;
    bool display_timer_armed_ = false;
    std::mutex vblank_mutex_;  // guards display_vblanks_ for wait_display_vblanks()
    std::condition_variable vblank_cv_;
    uint64_t display_vblanks_ = 0;
    std::unique_ptr<ControlServer> control_;  // closed before io_ goes
};

}  // namespace xengt::daemon
