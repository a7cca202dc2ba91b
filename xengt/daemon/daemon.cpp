#include "xengt/daemon/daemon.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <csignal>
#include <stdexcept>
#include <utility>

#include "mediator/base/log.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "xengt/daemon/control_server.hpp"
#include "xenstore/store.hpp"

namespace xengt::daemon {

namespace {

std::unique_ptr<GpuHost> make_gpu(const DaemonOptions& o) {
    return o.model_gpu ? std::make_unique<GpuHost>() : nullptr;
}

// The domain's name as the toolstack recorded it, for `xengt-ctl list`.
std::string domain_name(uint16_t domid) {
    try {
        xenstore::XenStore store;
        if (auto name = store.read("/local/domain/" + std::to_string(domid) + "/name")) {
            return *name;
        }
    } catch (const std::exception& e) {
        XENGT_LOG(LogLevel::Warn, "dom" + std::to_string(domid), "no name from xenstore: %s",
                  e.what());
    }
    return "dom" + std::to_string(domid);
}

}  // namespace

Daemon::Daemon(DaemonOptions options)
    : options_(options),
      gpu_(make_gpu(options_)),
      gm_(gpu_ ? gpu_->resources() : options_.gpu, options_.host_share),
      display_(gpu_ ? &gpu_->display() : nullptr,
               gpu_ ? gpu_->gm_view() : mediator::display::GmView{}),
      display_timer_(io_) {
    if (gpu_) {
        gpu_->start_workloads(gm_.host_slices(),
                              mediator::Vgpu::shadow_gm_bytes(mediator::VgpuConfig{}),
                              options_.scheduler);
        XENGT_LOG(LogLevel::Info, "xengtd",
                  "workload path: %zu vGPU shadow slots, %llu us time slice, %llu ms watchdog",
                  gpu_->shadow_slots(),
                  static_cast<unsigned long long>(options_.scheduler.slice_ns / 1000),
                  static_cast<unsigned long long>(options_.scheduler.watchdog_ns / 1000000));
    }
    if (options_.handle_signals) {
        signals_.emplace(io_, SIGTERM, SIGINT);
        signals_->async_wait([this](const boost::system::error_code& ec, int signo) {
            if (!ec) {
                XENGT_LOG(LogLevel::Info, "xengtd", "signal %d: detaching all guests", signo);
                request_stop();
            }
        });
    }
}

Daemon::~Daemon() {
    stop_all();
}

void Daemon::attach(xen::SessionOptions options, const mediator::GmRequest& request) {
    const uint16_t domid = options.domid;
    {
        std::lock_guard lock(mutex_);
        if (sessions_.count(domid) != 0) {
            throw std::invalid_argument("dom" + std::to_string(domid) +
                                        ": a vGPU is already attached");
        }
    }
    // Admission control before touching Xen: a refusal leaves nothing behind.
    mediator::GmPartition partition = gm_.allocate(request);
    const mediator::GmSlices& slices = partition.slices();
    options.vgpu.mappable = slices.mappable;
    options.vgpu.hidden = slices.hidden;
    options.vgpu.fences = slices.fence_count;
    std::optional<uint64_t> slot;
    if (gpu_) {
        if (mediator::Vgpu::shadow_gm_bytes(options.vgpu) >
            mediator::Vgpu::shadow_gm_bytes(mediator::VgpuConfig{})) {
            throw mediator::AdmissionRefused("dom" + std::to_string(domid) +
                                             ": shadow workload memory larger than a slot");
        }
        slot = gpu_->take_shadow_slot();
        if (!slot) {
            throw mediator::AdmissionRefused(
                "dom" + std::to_string(domid) + ": no shadow workload memory left (" +
                std::to_string(gpu_->shadow_slots()) + " vGPUs at most)");
        }
        options.gpu = xen::SessionGpu{&gpu_->frames(), &gpu_->ggtt(), gpu_->scratch(), *slot};
    }
    // The slot goes back if anything below throws.
    struct SlotGuard {
        GpuHost* gpu;
        std::optional<uint64_t>* slot;
        ~SlotGuard() {
            if (gpu != nullptr && slot->has_value()) {
                gpu->give_back_shadow_slot(**slot);
            }
        }
    } guard{gpu_.get(), &slot};
    const bool primary = options.vgpu.primary;
    const uint32_t cap = options.vgpu.cap_percent;
    const uint32_t weight = options.vgpu.weight;
    auto session = std::make_unique<xen::GuestSession>(std::move(options));
    std::unique_ptr<mediator::exec::Scheduler::Client> client;
    if (gpu_) {
        xen::GuestSession* s = session.get();
        client =
            gpu_->scheduler()->attach({s->subject(), weight, cap, [s](mediator::exec::Workload* w) {
                                           s->deliver_workload(w);
                                       }});
        s->set_workload_sink(client.get());
    }
    XENGT_LOG(LogLevel::Info, "dom" + std::to_string(domid),
              "graphics memory: mappable %#llx+%llu MiB, hidden %#llx+%llu MiB, fences %u-%u",
              static_cast<unsigned long long>(slices.mappable.base.value()),
              static_cast<unsigned long long>(slices.mappable.size >> 20),
              static_cast<unsigned long long>(slices.hidden.base.value()),
              static_cast<unsigned long long>(slices.hidden.size >> 20), slices.fence_base,
              slices.fence_base + slices.fence_count - 1);
    XENGT_LOG(LogLevel::Info, "dom" + std::to_string(domid),
              "vGPU is the guest's %s display; scheduler weight %u, vgt_cap %u%%%s",
              primary ? "primary (VGA class)" : "secondary (other-display class)", weight, cap,
              cap == 0 ? " (no cap)" : "");
    xen::GuestSession* s = session.get();
    // The display owner belongs to the control loop: hand it the vGPU's plane
    // there. Posted before the session's thread starts, so it is in place
    // before that thread's reap() can be.
    mediator::display::DisplaySource source{domid, domain_name(domid),
                                            session->vgpu().primary_plane()};
    boost::asio::post(io_, [this, source = std::move(source)]() mutable {
        try {
            display_.attach(std::move(source));
        } catch (const std::invalid_argument& e) {
            XENGT_LOG(LogLevel::Error, "display", "%s", e.what());  // a bug, not fatal
        }
    });
    std::lock_guard lock(mutex_);
    Running& r = sessions_[domid];
    r.partition = std::make_unique<mediator::GmPartition>(std::move(partition));
    r.session = std::move(session);
    r.client = std::move(client);
    r.shadow_slot = std::exchange(slot, std::nullopt);
    r.thread = std::thread([this, s, domid, &r] {
        r.reason = s->run();
        // Hand the finished session to the control loop, which owns teardown.
        boost::asio::post(io_, [this, domid] { reap(domid); });
    });
}

std::optional<mediator::IsolationReport> Daemon::check_isolation() const {
    if (!gpu_) {
        return std::nullopt;
    }
    std::vector<mediator::IsolationSubject> subjects;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [domid, r] : sessions_) {
            const mediator::Vgpu& v = r.session->vgpu();
            subjects.push_back({domid, v.ggtt_shadow(), v.ppgtt_shadow()});
        }
    }
    return mediator::check_isolation(gpu_->ggtt(), gpu_->frames(), subjects);
}

const mediator::Vgpu* Daemon::vgpu(uint16_t domid) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(domid);
    return it == sessions_.end() ? nullptr : &it->second.session->vgpu();
}

std::optional<mediator::exec::ClientEngineStats> Daemon::scheduler_stats(
    uint16_t domid, mediator::exec::Engine engine) const {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(domid);
    if (it == sessions_.end() || !it->second.client) {
        return std::nullopt;
    }
    return it->second.client->stats(engine);
}

void Daemon::reap(uint16_t domid) {
    Running r;
    {
        std::lock_guard lock(mutex_);
        auto it = sessions_.find(domid);
        if (it == sessions_.end()) {
            return;
        }
        r = std::move(it->second);
        sessions_.erase(it);
    }
    finish(domid, r);
    if (options_.exit_when_idle && active_sessions() == 0) {
        io_.stop();
    }
}

int Daemon::run() {
    auto work = boost::asio::make_work_guard(io_);
    if (options_.exit_when_idle && active_sessions() == 0) {
        return 0;
    }
    io_.run();
    stop_all();
    return 0;
}

void Daemon::request_stop() {
    boost::asio::post(io_, [this] {
        {
            std::lock_guard lock(mutex_);
            for (auto& [domid, r] : sessions_) {
                r.session->stop();
            }
        }
        io_.stop();
    });
}

void Daemon::stop_all() {
    std::map<uint16_t, Running> all;
    {
        std::lock_guard lock(mutex_);
        all.swap(sessions_);
    }
    for (auto& [domid, r] : all) {
        r.session->stop();
    }
    for (auto& [domid, r] : all) {
        finish(domid, r);
    }
}

namespace {

// What the guest made its vGPU do, once, as it goes.
void log_final_counters(uint16_t domid, const xen::SessionStatus& s, const mediator::Vgpu& v) {
    using ull = unsigned long long;
    const mediator::PpgttShadow* ppgtt = v.ppgtt_shadow();
    const mediator::PpgttCounters none{};
    const mediator::PpgttCounters& p = ppgtt != nullptr ? ppgtt->counters() : none;
    XENGT_LOG(LogLevel::Info, "dom" + std::to_string(domid),
              "final counters: config reads %llu writes %llu; MMIO reads %llu writes %llu; "
              "GGTT (%s) writes %llu flushes %llu; "
              "page-table writes trapped %llu (whole %llu, partial %llu) on %llu protected pages; "
              "MSIs %llu; unclaimed accesses %llu; guest frames pinned %zu",
              static_cast<ull>(s.vgpu.config_reads), static_cast<ull>(s.vgpu.config_writes),
              static_cast<ull>(s.vgpu.mmio_reads), static_cast<ull>(s.vgpu.mmio_writes),
              mediator::to_string(s.ggtt_strategy), static_cast<ull>(s.vgpu.ggtt_writes),
              static_cast<ull>(s.vgpu.ggtt_flushes),
              static_cast<ull>(p.full_writes + p.partial_writes), static_cast<ull>(p.full_writes),
              static_cast<ull>(p.partial_writes), static_cast<ull>(p.protected_pages),
              static_cast<ull>(s.vgpu.msi_raised), static_cast<ull>(s.vgpu.unclaimed),
              s.gpu_frames_pinned);
    if (const mediator::exec::ExeclistCounters* e = v.execlist_counters()) {
        XENGT_LOG(LogLevel::Info, "dom" + std::to_string(domid),
                  "final counters: ELSP submissions %llu; workloads %llu (completed %llu, "
                  "rejected %llu, failed on the GPU %llu, cancelled %llu); lite restores %llu; "
                  "CSB events %llu; dwords scanned %llu%s",
                  static_cast<ull>(e->submissions), static_cast<ull>(e->workloads),
                  static_cast<ull>(e->completed), static_cast<ull>(e->rejected),
                  static_cast<ull>(e->faulted), static_cast<ull>(e->cancelled),
                  static_cast<ull>(e->lite_restores), static_cast<ull>(e->csb_events),
                  static_cast<ull>(e->scanned_dwords), v.failsafe() ? "; in failsafe mode" : "");
    }
}

}  // namespace

void Daemon::finish(uint16_t domid, Running& r) {
    // Off the display before its graphics memory can go to another guest.
    display_.detach(domid);
    if (r.thread.joinable()) {
        r.thread.join();
    }
    SessionReport report{r.session->status(), r.reason};
    log_final_counters(domid, report.status, r.session->vgpu());
    r.client.reset();  // waits for its work still on the GPU
    r.session->set_workload_sink(nullptr);
    r.session.reset();  // teardown: answer in-flight requests, release, destroy the server
    if (r.shadow_slot && gpu_) {
        gpu_->give_back_shadow_slot(*r.shadow_slot);
    }
    r.partition.reset();  // its graphics memory and fences are free again
    XENGT_LOG(LogLevel::Info, "dom" + std::to_string(domid),
              "vGPU torn down: server, claims, ports and mappings released");
    std::lock_guard lock(mutex_);
    reports_.push_back(report);
}

size_t Daemon::active_sessions() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
}

std::vector<SessionReport> Daemon::reports() const {
    std::lock_guard lock(mutex_);
    return reports_;
}

}  // namespace xengt::daemon
