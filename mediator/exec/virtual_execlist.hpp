// The execlist submission interface a guest driver sees, emulated per vGPU
// and engine (intel-gpu.md §4.4, §4.5; gvtg.md §3.6).
//
// The guest writes two context descriptors through ELSP; each valid one
// becomes a Workload, shadowed and scanned at once (on the vGPU's thread,
// before the ELSP write returns) and handed to the device scheduler. Status
// goes back the way i915 reads it: context-status-buffer entries in the CSB
// registers and the guest's hardware status page, the CSB write pointer, and
// the context-switch interrupt. Completions are retired strictly in
// submission order, whatever order the GPU reports them in.
//
// Virtual state follows GVT-g's model of two slots (running, pending) of two
// elements each: a submission while idle is an idle-to-active switch; a
// resubmission of the running context is a lite restore (no event, the new
// tail is picked up); anything else waits as the pending list.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "mediator/exec/engines.hpp"
#include "mediator/exec/execlist_config.hpp"
#include "mediator/exec/workload.hpp"

namespace xengt::mediator::exec {

// What the execlist needs of its vGPU.
class ExeclistHost {
public:
    virtual ~ExeclistHost() = default;
    virtual uint32_t& vreg(uint32_t offset) = 0;
    virtual void raise(InterruptEvent event) = 0;
    // Bring the guest's GGTT (and PPGTT shadows) up to date before a submission.
    virtual void sync_before_submit() = 0;
};

// Where prepared workloads go: the device scheduler (scheduler.hpp). Each
// workload handed over comes back exactly once through
// VirtualExeclists::on_done, on the vGPU's thread.
class WorkloadSink {
public:
    virtual ~WorkloadSink() = default;
    virtual void submit(Workload* w) = 0;
    // Nothing of this vGPU runs on `engine` any more when this returns: its
    // queued workloads, and the list on the engine (stopped by an engine
    // reset), come back Cancelled.
    virtual void cancel(Engine engine) = 0;
};

class VirtualExeclists {
public:
    // `arenas[e]` is engine e's shadow memory (config.windows windows).
    VirtualExeclists(ExeclistHost& host, GuestLog& log, GuestMemoryView& memory, PpgttShadow* ppgtt,
                     std::array<std::unique_ptr<ShadowArena>, kEngines> arenas,
                     cmd::ScanPolicy policy, ExeclistConfig config);
    ~VirtualExeclists();

    void set_sink(WorkloadSink* sink) { sink_ = sink; }

    // A guest write to engine e's ELSP; the fourth dword submits.
    void elsp_write(Engine e, uint32_t value);
    // A workload handed to the sink is back (any status).
    void on_done(Workload* w);
    // Engine reset (GDRST or device reset): virtual state back to idle,
    // queued work cancelled; workloads already on the GPU finish unseen.
    void reset(Engine e);
    void reset_all();

    bool failsafe() const { return failsafe_; }
    const ExeclistCounters& counters() const { return counters_; }
    // Workloads handed to the sink and not yet back.
    uint32_t in_flight() const;

private:
    struct Slot {
        std::array<uint64_t, 2> desc{};  // element descriptors (0 = invalid)
        bool valid = false;
    };
    struct EngineState {
        std::array<uint32_t, 4> elsp{};
        uint32_t elsp_count = 0;
        Slot running;
        Slot pending;
        unsigned element = 0;  // running element
        std::unique_ptr<ShadowArena> arena;
        std::vector<Workload> workloads;  // one per arena window
        std::vector<uint32_t> order;      // windows in submission order (FIFO)
        std::vector<bool> done;           // per window: back from the sink
        std::vector<uint32_t> epoch;      // per window: reset generation it was made in
        uint32_t generation = 0;
        // A submission waiting for free windows (el0, el1): a driver may
        // resubmit its running context faster than the GPU retires work.
        std::optional<std::array<uint64_t, 2>> deferred;
    };

    void submit(Engine e, uint64_t el0, uint64_t el1);
    bool is_lite_restore(const EngineState& s, uint64_t el0) const;
    uint32_t free_windows(const EngineState& s) const;
    std::optional<uint32_t> free_window(EngineState& s) const;
    void create(Engine e, uint64_t desc);
    void retire(Engine e);
    void schedule_out(Engine e, const Workload& w);
    void write_csb(Engine e, uint32_t events, uint32_t ctx_id);
    void update_status(Engine e);

    ExeclistHost& host_;
    GuestLog& log_;
    WorkloadEnv env_;
    ExeclistConfig config_;
    WorkloadSink* sink_ = nullptr;
    std::array<EngineState, kEngines> engines_;
    ExeclistCounters counters_;
    uint32_t rejections_ = 0;
    bool failsafe_ = false;
};

}  // namespace xengt::mediator::exec
