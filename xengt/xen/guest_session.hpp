// One guest's vGPU served over Xen: everything from "create the ioreq server"
// to "answer the last request and destroy it".
//
// Construction performs the whole attach sequence (any failure unwinds what
// was done and throws a XenError naming the step). run() serves on the calling
// thread until the domain dies or stop() is called. Destruction answers any
// request still in flight — a vCPU left waiting on a destroyed server stays
// blocked for good — then tears down in exact reverse order.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mediator/hypervisor_port.hpp"
#include "mediator/vgpu.hpp"
#include "xengt/xen/domain_info.hpp"
#include "xengt/xen/foreign_frame_pins.hpp"
#include "xengt/xen/ggtt_backing.hpp"
#include "xengt/xen/guest_memory.hpp"
#include "xengt/xen/handles.hpp"
#include "xengt/xen/ioreq_dispatch.hpp"
#include "xengt/xen/ioreq_server.hpp"
#include "xengt/xen/page_tracker.hpp"
#include "xengt/xen/pci_address.hpp"
#include "xenstore/store.hpp"

namespace xengt::xen {

// The GPU behind a vGPU: device-wide parts the daemon owns and shares.
struct SessionGpu {
    gpu::MappedFrameTable* frames = nullptr;  // host frames: guest pins and host pages
    mediator::PhysicalGgtt* ggtt = nullptr;
    HostFrame scratch{};
    uint64_t shadow_gm = 0;  // host GM for the vGPU's shadow workloads (GpuLink::shadow_gm)
};

struct SessionOptions {
    uint16_t domid = 0;
    PciAddress bdf{};
    mediator::VgpuConfig vgpu{};  // an empty name becomes "dom<N>"
    // Absent: the vGPU serves config space and registers but reaches no GPU.
    std::optional<SessionGpu> gpu{};
};

struct SessionStatus {
    uint16_t domid = 0;
    PciAddress bdf{};
    unsigned vcpus = 0;
    IoreqPage::Path page_path = IoreqPage::Path::ResourceMapping;
    DispatchCounters dispatch{};
    mediator::VgpuCounters vgpu{};
    size_t guest_pages_mapped = 0;
    size_t gpu_frames_pinned = 0;  // guest frames a GPU table may name
    mediator::GgttStrategy ggtt_strategy = mediator::GgttStrategy::Trap;
    size_t trapped_windows = 0;
    uint64_t events = 0;
    bool write_protect_available = false;  // the p2m_ioreq_server type is ours
    size_t protected_pages = 0;            // guest pages write-protected for the mediator
    bool ggtt_backing = false;             // the GGTT RAM backing exists
    // query_status() only: the registers the guest accessed most.
    std::vector<mediator::Vgpu::HotRegister> hot_registers;
};

class GuestSession final : private mediator::HypervisorPort {
public:
    enum class EndReason : uint8_t { Stopped, DomainGone };

    explicit GuestSession(SessionOptions options);  // throws XenError / std::system_error
    ~GuestSession() override;
    GuestSession(const GuestSession&) = delete;
    GuestSession& operator=(const GuestSession&) = delete;

    EndReason run();
    void stop();  // from any thread

    // Only while run() is not executing (or from inside the loop).
    SessionStatus status() const;
    // From any other thread while run() executes: status() taken on the
    // session's loop between two requests. Nothing if the loop does not get
    // to it within `timeout` (it is ending, or stuck).
    // With `hot` > 0 it also lists that many of the guest's most accessed
    // registers.
    std::optional<SessionStatus> query_status(std::chrono::milliseconds timeout, size_t hot = 0);
    const std::string& subject() const { return subject_; }
    // Where the session publishes its state, mirroring QEMU's
    // /local/domain/0/device-model/<domid>/state convention.
    const std::string& xenstore_dir() const { return xenstore_dir_; }
    uint16_t domid() const { return options_.domid; }
    // The vGPU, for diagnostics (the isolation checker); only while the
    // session's loop is idle or from inside it.
    const mediator::Vgpu& vgpu() const { return vgpu_; }
    // The port the vGPU drives, for tests and diagnostics; same threading
    // rule as status().
    mediator::HypervisorPort& hypervisor_port() { return *this; }

    // The workload path: where the vGPU's prepared workloads go (before
    // run()), and the way finished ones come back: from any thread, handed
    // to the vGPU on the session's loop.
    void set_workload_sink(mediator::exec::WorkloadSink* sink) { vgpu_.set_workload_sink(sink); }
    void deliver_workload(mediator::exec::Workload* w);
    // A GPU backend's cache of guest-frame translations (a real GPU's
    // MachineFramePins) that must hear this guest's IOREQ_TYPE_INVALIDATE.
    // Before run() (or while it is stopped); `cache` outlives the session.
    void add_translation_cache(TranslationCache& cache) {
        dispatcher_.add_translation_cache(cache);
    }

private:
    // mediator::HypervisorPort
    void set_trap_windows(std::span<const mediator::TrapWindow> windows) override;
    bool read_guest(GuestPhysAddr addr, std::span<std::byte> out) override;
    bool write_guest(GuestPhysAddr addr, std::span<const std::byte> in) override;
    void inject_msi(uint64_t address, uint32_t data) override;
    bool protect_page(GuestFrame gfn) override;
    void unprotect_page(GuestFrame gfn) override;
    mediator::GgttRamBacking* ggtt_ram_backing() override;

    std::vector<BoundPort> bind_vcpu_ports();
    std::optional<mediator::GpuLink> gpu_link();
    void arm_event_channel();
    void update_vblank_timer();
    void on_vblank(const boost::system::error_code& ec);
    void on_event_channel();
    void arm_xenstore();
    void check_domain_alive();
    void answer_in_flight();
    void publish_state(const char* state);

    // Declaration order is the attach order; destruction runs it backwards.
    SessionOptions options_;
    std::string subject_;
    std::string xenstore_dir_;
    DeviceModel dm_;
    ForeignMemory fmem_;
    EventChannels evtchn_;
    DomainInfo domains_;
    xenstore::XenStore store_;
    GuestMemory guest_memory_;
    unsigned nr_vcpus_;
    IoreqServer server_;
    IoreqPage page_;
    ServerEnabled enabled_;
    std::vector<int32_t> vcpu_of_port_;  // index: local port; -1 = not ours (filled by binding)
    std::vector<BoundPort> ports_;       // index: vCPU id
    TrapClaims claims_;
    ClaimedPciDevice pci_;
    // Both outlive the vGPU, which may release pages or hold the backing
    // until its destructor, and go before the server: unclaiming the type
    // and giving the frames back need the server and the domain still there.
    PageTracker tracker_;
    std::unique_ptr<XenGgttBacking> ggtt_backing_;  // created on the vGPU's first ask
    bool ggtt_backing_failed_ = false;              // ... which is not repeated after a failure
    // Guest frames the GPU can reach; outlives the vGPU that pins them.
    std::optional<ForeignFramePins> pins_;
    mediator::Vgpu vgpu_;
    IoreqDispatcher dispatcher_;

    boost::asio::io_context io_;
    // Vertical blanks of the vGPU's enabled pipes: the mediator has no clock.
    boost::asio::steady_timer vblank_timer_;
    bool vblank_armed_ = false;
    boost::asio::posix::stream_descriptor evtchn_fd_;
    boost::asio::posix::stream_descriptor xenstore_fd_;
    EndReason end_reason_ = EndReason::Stopped;
    uint64_t events_ = 0;
};

}  // namespace xengt::xen
