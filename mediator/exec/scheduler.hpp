// The device scheduler: time-slices each physical engine between the vGPUs
// that have work for it (gvtg.md §3.7).
//
// Policy, per engine and independent across engines:
//   - weighted fair share: each vGPU's engine time is charged to a virtual
//     clock scaled by 1/weight, and the engine goes to the runnable vGPU
//     whose clock is furthest behind; a vGPU that was idle rejoins at the
//     current front, so idleness is not banked as credit;
//   - time slices: the owner keeps the engine while it has work and its
//     slice (1 ms, GVT-g's) lasts; workloads are never preempted, so a
//     switch waits for the engine to drain, and starvation is bounded by
//     (vGPUs - 1) slices plus one workload each;
//   - work conserving: an engine idles only when no runnable vGPU has work;
//   - vgt_cap: a capped vGPU gets at most cap % of the engine per period
//     (100 ms, as the original vgt); an overrun is carried into the next
//     period, and capping is the one case where an engine may idle with work
//     queued;
//   - watchdog: a workload that holds its engine longer than the watchdog is
//     hung: the engine is reset, that workload fails, the work queued behind
//     it (its own vGPU's and everybody else's) runs as normal.
// On a change of owner the engine register context is switched
// (engine_context.hpp), and skipped while the same vGPU keeps the engine.
//
// Threads: clients submit from their vGPU threads; the engine port notifies
// from its interrupt thread; poll() does all the work under one mutex, on the
// scheduler's own thread (or the test's, without one). Completion callbacks
// run on the polling thread without the lock held.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mediator/exec/engine_port.hpp"
#include "mediator/exec/virtual_execlist.hpp"

namespace xengt::mediator::exec {

class SchedulerClock {
public:
    virtual ~SchedulerClock() = default;
    virtual uint64_t now_ns() = 0;
};

struct SchedulerConfig {
    uint64_t slice_ns = 1'000'000;         // GVT-g's time slice
    uint64_t cap_period_ns = 100'000'000;  // vgt_cap accounting period
    uint64_t watchdog_ns = 2'000'000'000;  // longest a workload may hold an engine
    // true: a thread of its own serves timers (watchdog, cap periods), and
    // submissions and engine events are handled at once on the thread that
    // brings them, saving a thread hop each way. false: the caller calls
    // poll() (deterministic tests).
    bool own_thread = true;
};

struct ClientEngineStats {
    uint64_t busy_ns = 0;  // engine time its workloads held
    uint64_t workloads = 0;
    uint64_t hangs = 0;
    uint64_t faults = 0;
};

class Scheduler {
public:
    struct ClientConfig {
        std::string name;
        uint32_t weight = 1;       // > 0
        uint32_t cap_percent = 0;  // 0 = uncapped
        // Where finished workloads go (any status), on the polling thread.
        std::function<void(Workload*)> done;
    };
    class Client;

    explicit Scheduler(EnginePort& port, SchedulerConfig config = {},
                       SchedulerClock* clock = nullptr);
    ~Scheduler();  // every client must be gone
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    std::unique_ptr<Client> attach(ClientConfig config);

    // Collects what the engines report, fails hung workloads and hands the
    // engines their next work. Any thread.
    void poll();

    struct EngineStats {
        uint64_t owner_switches = 0;    // engine register context switches
        uint64_t switches_skipped = 0;  // slices renewed for the same vGPU
        uint64_t resets = 0;
    };
    EngineStats engine_stats(Engine e) const;

private:
    struct ClientState;
    struct Flight {
        Workload* w = nullptr;
        ClientState* client = nullptr;
        uint32_t ctx_id = 0;
    };
    static constexpr unsigned kMaxDepth = 4;
    struct EngineSched {
        ClientState* owner = nullptr;    // whose slice it is
        ClientState* regs_of = nullptr;  // whose register context is loaded
        uint64_t slice_start = 0;
        std::array<Flight, kMaxDepth> flight{};
        unsigned flying = 0;
        uint64_t busy_since = 0;
        uint32_t next_ctx_id = 1;
        EngineStats stats;
    };
    struct Returned {
        ClientState* client;
        Workload* w;
    };

    uint64_t now();
    void poll_once();
    void on_event();
    void roll_period(uint64_t now);
    void collect(Engine e, uint64_t now);
    void retire_front(Engine e, WorkloadStatus status, uint64_t now);
    void fail_engine(Engine e, WorkloadStatus status, uint64_t now);
    void dispatch(Engine e, uint64_t now);
    ClientState* pick(Engine e, uint64_t now);
    bool runnable(const ClientState& c, Engine e) const;
    void switch_registers(Engine e, ClientState* to);
    void charge(ClientState& c, Engine e, uint64_t ns);
    void submit(ClientState& c, Workload* w);
    void cancel(ClientState& c, Engine e);
    void detach(ClientState& c);
    void kick();
    void thread_main();
    uint64_t next_deadline(uint64_t now) const;

    EnginePort& port_;
    SchedulerConfig config_;
    SchedulerClock* clock_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;  // kicks for the thread; in-flight drops for detach
    std::vector<std::unique_ptr<ClientState>> clients_;
    std::array<EngineSched, kEngines> engines_{};
    std::array<std::vector<uint32_t>, kEngines> golden_;  // register context before any guest
    uint64_t period_start_ = 0;
    std::vector<Returned> returned_;  // to hand back, reused
    std::vector<Returned> handing_;   // being handed back (outside the lock)
    bool kicked_ = false;
    std::atomic<bool> again_{false};  // an event arrived while polling: poll once more
    bool stopping_ = false;
    std::thread thread_;
};

class Scheduler::Client final : public WorkloadSink {
public:
    ~Client() override;  // detaches: queued work is dropped, in-flight work awaited
    void submit(Workload* w) override { owner_.submit(state_, w); }
    void cancel(Engine e) override { owner_.cancel(state_, e); }
    ClientEngineStats stats(Engine e) const;
    void set_weight(uint32_t weight);

private:
    friend class Scheduler;
    Client(Scheduler& owner, ClientState& state) : owner_(owner), state_(state) {}
    Scheduler& owner_;
    ClientState& state_;
};

}  // namespace xengt::mediator::exec
