#include "xengt/xen/guest_session.hpp"

#include <future>
#include <memory>

#include <boost/asio/post.hpp>
#include <system_error>

#include "mediator/base/log.hpp"
#include "xengt/xen/error.hpp"

namespace xengt::xen {
namespace {

// One ioreq page holds 4096 / sizeof(ioreq_t) slots, and Xen 4.17 provides only
// that one page (frame ioreq(0)).
constexpr unsigned kMaxVcpus = kPageSize / sizeof(ioreq_t);

// The emulated monitor refreshes at 60 Hz.
constexpr auto kVblankPeriod = std::chrono::microseconds(16667);

unsigned query_nr_vcpus(xendevicemodel_handle* dm, uint16_t domid) {
    unsigned n = 0;
    if (xendevicemodel_nr_vcpus(dm, domid, &n) != 0) {
        throw_errno(domid, "query vCPU count (xendevicemodel_nr_vcpus)");
    }
    if (n == 0 || n > kMaxVcpus) {
        throw XenError(ERANGE, domid,
                       "guest has " + std::to_string(n) + " vCPUs; one ioreq page serves 1 to " +
                           std::to_string(kMaxVcpus));
    }
    return n;
}

mediator::VgpuConfig named(mediator::VgpuConfig c, uint16_t domid) {
    if (c.name.empty() || c.name == "vgpu") {
        c.name = "dom" + std::to_string(domid);
    }
    return c;
}

}  // namespace

GuestSession::GuestSession(SessionOptions options)
    : options_(std::move(options)),
      subject_("dom" + std::to_string(options_.domid)),
      xenstore_dir_("/local/domain/0/device-model/" + std::to_string(options_.domid) + "/xengt"),
      guest_memory_(fmem_.get(), options_.domid),
      nr_vcpus_(query_nr_vcpus(dm_.get(), options_.domid)),
      server_(dm_.get(), options_.domid),
      page_(fmem_.get(), server_),
      enabled_(server_),
      ports_(bind_vcpu_ports()),
      claims_(server_),
      pci_(server_, options_.bdf),
      tracker_(server_, subject_),
      vgpu_(named(options_.vgpu, options_.domid), *this, gpu_link()),
      dispatcher_(subject_, options_.bdf, vgpu_, guest_memory_, &tracker_),
      vblank_timer_(io_),
      evtchn_fd_(io_),
      xenstore_fd_(io_) {
    // The descriptors belong to libxenevtchn / libxenstore; Asio only polls them
    // (released again in the destructor so Asio does not close them).
    evtchn_fd_.assign(evtchn_.fd());
    xenstore_fd_.assign(store_.fd());
    if (!store_.watch("@releaseDomain", subject_)) {
        throw std::system_error(errno, std::generic_category(),
                                subject_ + ": watch @releaseDomain");
    }
    store_.write(xenstore_dir_ + "/bdf", options_.bdf.to_string());
    publish_state("running");
    XENGT_LOG(LogLevel::Info, subject_,
              "vGPU attached at %s: ioreq server %u, %u vCPU(s), ioreq page via %s",
              options_.bdf.to_string().c_str(), server_.id(), nr_vcpus_,
              page_.path() == IoreqPage::Path::ResourceMapping ? "resource mapping" : "legacy gfn");
}

std::optional<mediator::GpuLink> GuestSession::gpu_link() {
    if (!options_.gpu) {
        return std::nullopt;
    }
    const SessionGpu& g = *options_.gpu;
    pins_.emplace(fmem_.get(), options_.domid, *g.frames);
    return mediator::GpuLink{&*pins_, g.ggtt, g.frames, g.scratch, g.shadow_gm};
}

void GuestSession::deliver_workload(mediator::exec::Workload* w) {
    boost::asio::post(io_, [this, w] { vgpu_.workload_done(w); });
}

std::vector<BoundPort> GuestSession::bind_vcpu_ports() {
    // vp_eport is valid only now that the server is enabled.
    std::vector<BoundPort> ports;
    ports.reserve(nr_vcpus_);
    for (unsigned v = 0; v < nr_vcpus_; ++v) {
        evtchn_port_t remote = __atomic_load_n(&page_.slot(v)->vp_eport, __ATOMIC_ACQUIRE);
        ports.emplace_back(evtchn_.get(), options_.domid, remote);
        evtchn_port_t local = ports.back().local();
        if (local >= vcpu_of_port_.size()) {
            vcpu_of_port_.resize(local + 1, -1);
        }
        vcpu_of_port_[local] = static_cast<int32_t>(v);
    }
    return ports;
}

GuestSession::~GuestSession() {
    answer_in_flight();
    store_.unwatch("@releaseDomain", subject_);
    store_.remove(xenstore_dir_);
    evtchn_fd_.release();
    xenstore_fd_.release();
    XENGT_LOG(
        LogLevel::Info, subject_,
        "tearing down vGPU: %llu requests served, %llu bad requests answered",
        static_cast<unsigned long long>(dispatcher_.counters().pio + dispatcher_.counters().mmio +
                                        dispatcher_.counters().pci_config),
        static_cast<unsigned long long>(dispatcher_.counters().hostile));
}

void GuestSession::publish_state(const char* state) {
    if (!store_.write(xenstore_dir_ + "/state", state)) {
        XENGT_LOG(LogLevel::Warn, subject_, "cannot publish state in xenstore (%s): %m",
                  xenstore_dir_.c_str());
    }
}

void GuestSession::answer_in_flight() {
    for (unsigned v = 0; v < nr_vcpus_; ++v) {
        if (service_slot(*page_.slot(v), dispatcher_)) {
            xenevtchn_notify(evtchn_.get(), ports_[v].local());
        }
    }
}

GuestSession::EndReason GuestSession::run() {
    end_reason_ = EndReason::Stopped;
    arm_event_channel();
    arm_xenstore();
    // A request may have been posted before we started polling.
    answer_in_flight();
    check_domain_alive();
    io_.run();
    io_.restart();
    evtchn_fd_.cancel();
    xenstore_fd_.cancel();
    vblank_timer_.cancel();
    vblank_armed_ = false;
    io_.poll();  // let the cancelled handlers complete
    io_.restart();
    return end_reason_;
}

void GuestSession::update_vblank_timer() {
    // 60 Hz, the refresh of the vGPU's emulated monitor; armed only while a
    // pipe is enabled so an idle guest costs no wakeups. Deadlines advance by
    // whole periods, so a late tick does not make the next one late too.
    if (vblank_armed_ || !vgpu_.display_active()) {
        return;
    }
    vblank_armed_ = true;
    vblank_timer_.expires_after(kVblankPeriod);
    vblank_timer_.async_wait([this](const boost::system::error_code& ec) { on_vblank(ec); });
}

void GuestSession::on_vblank(const boost::system::error_code& ec) {
    if (ec) {
        return;
    }
    if (!vgpu_.display_active()) {
        vblank_armed_ = false;
        return;
    }
    vgpu_.vblank();
    vblank_timer_.expires_at(vblank_timer_.expiry() + kVblankPeriod);
    vblank_timer_.async_wait([this](const boost::system::error_code& e) { on_vblank(e); });
}

void GuestSession::stop() {
    io_.stop();
}

void GuestSession::arm_event_channel() {
    evtchn_fd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                          [this](const boost::system::error_code& ec) {
                              if (ec) {
                                  return;
                              }
                              on_event_channel();
                              arm_event_channel();
                              update_vblank_timer();
                          });
}

void GuestSession::on_event_channel() {
    xenevtchn_port_or_error_t port = xenevtchn_pending(evtchn_.get());
    if (port < 0) {
        XENGT_LOG(LogLevel::Error, subject_, "xenevtchn_pending failed: %m");
        return;
    }
    ++events_;
    // Unmask before servicing: the slot state, not the event, is the truth, so
    // an event arriving meanwhile only causes a harmless re-check.
    xenevtchn_unmask(evtchn_.get(), static_cast<evtchn_port_t>(port));
    auto p = static_cast<size_t>(port);
    if (p >= vcpu_of_port_.size() || vcpu_of_port_[p] < 0) {
        return;
    }
    auto vcpu = static_cast<unsigned>(vcpu_of_port_[p]);
    if (service_slot(*page_.slot(vcpu), dispatcher_)) {
        xenevtchn_notify(evtchn_.get(), static_cast<evtchn_port_t>(port));
    }
}

void GuestSession::arm_xenstore() {
    xenstore_fd_.async_wait(boost::asio::posix::descriptor_base::wait_read,
                            [this](const boost::system::error_code& ec) {
                                if (ec) {
                                    return;
                                }
                                store_.take_events();
                                check_domain_alive();
                                arm_xenstore();
                            });
}

void GuestSession::check_domain_alive() {
    DomainLiveness l = DomainLiveness::Running;
    try {
        l = domains_.query(options_.domid);
    } catch (const XenError& e) {
        XENGT_LOG(LogLevel::Error, subject_, "%s", e.what());
        return;
    }
    if (l != DomainLiveness::Running) {
        XENGT_LOG(LogLevel::Info, subject_, "domain is %s: detaching vGPU", to_string(l));
        end_reason_ = EndReason::DomainGone;
        tracker_.domain_dying();
        io_.stop();
    }
}

SessionStatus GuestSession::status() const {
    SessionStatus s;
    s.domid = options_.domid;
    s.bdf = options_.bdf;
    s.vcpus = nr_vcpus_;
    s.page_path = page_.path();
    s.dispatch = dispatcher_.counters();
    s.vgpu = vgpu_.counters();
    s.guest_pages_mapped = guest_memory_.mapped_pages();
    s.gpu_frames_pinned = pins_ ? pins_->pinned() : 0;
    s.ggtt_strategy = vgpu_.ggtt_strategy();
    s.trapped_windows = claims_.claimed().size();
    s.events = events_;
    s.write_protect_available = tracker_.available();
    s.protected_pages = tracker_.protected_count();
    s.ggtt_backing = ggtt_backing_ != nullptr;
    return s;
}

std::optional<SessionStatus> GuestSession::query_status(std::chrono::milliseconds timeout,
                                                        size_t hot) {
    // Shared: the loop may run the handler after this caller gave up.
    auto answer = std::make_shared<std::promise<SessionStatus>>();
    std::future<SessionStatus> future = answer->get_future();
    boost::asio::post(io_, [this, answer, hot] {
        SessionStatus s = status();
        s.hot_registers = vgpu_.hottest_registers(hot);
        answer->set_value(std::move(s));
    });
    if (future.wait_for(timeout) != std::future_status::ready) {
        return std::nullopt;
    }
    return future.get();
}

void GuestSession::set_trap_windows(std::span<const mediator::TrapWindow> windows) {
    claims_.reconcile(windows);
}

bool GuestSession::read_guest(GuestPhysAddr addr, std::span<std::byte> out) {
    return guest_memory_.read(addr, out);
}

// Foreign-mapping stores are never trapped, so this also commits the guest's
// trapped stores into write-protected pages. Xen is told about the pages, as
// any device model writing guest memory must (for live migration's log-dirty
// mode; Xen returns at once otherwise).
bool GuestSession::write_guest(GuestPhysAddr addr, std::span<const std::byte> in) {
    if (!guest_memory_.write(addr, in)) {
        return false;
    }
    if (!in.empty()) {
        const uint64_t first = addr.value() >> kPageShift;
        const uint64_t last = (addr.value() + in.size() - 1) >> kPageShift;
        xendevicemodel_modified_memory(dm_.get(), options_.domid, first,
                                       static_cast<uint32_t>(last - first + 1));
    }
    return true;
}

void GuestSession::inject_msi(uint64_t address, uint32_t data) {
    if (xendevicemodel_inject_msi(dm_.get(), options_.domid, address, data) != 0) {
        XENGT_LOG(LogLevel::Error, subject_, "inject MSI (addr %#llx data %#x) failed: %m",
                  static_cast<unsigned long long>(address), data);
    }
}

bool GuestSession::protect_page(GuestFrame gfn) {
    return tracker_.protect(gfn);
}

void GuestSession::unprotect_page(GuestFrame gfn) {
    tracker_.unprotect(gfn);
}

mediator::GgttRamBacking* GuestSession::ggtt_ram_backing() {
    if (!ggtt_backing_ && !ggtt_backing_failed_) {
        try {
            ggtt_backing_ = std::make_unique<XenGgttBacking>(dm_.get(), fmem_.get(), domains_,
                                                             options_.domid, subject_);
        } catch (const std::exception& e) {
            ggtt_backing_failed_ = true;
            XENGT_LOG(LogLevel::Warn, subject_, "no GGTT RAM backing, the GGTT stays trapped: %s",
                      e.what());
        }
    }
    return ggtt_backing_.get();
}

}  // namespace xengt::xen
