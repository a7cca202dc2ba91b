#include "mediator/exec/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

#include "mediator/base/log.hpp"
#include "mediator/exec/engine_context.hpp"

namespace xengt::mediator::exec {
namespace {

// Virtual time advances by engine ns * kScale / weight.
constexpr uint64_t kScale = 1u << 16;
// Each queue holds at most one vGPU's windows for the engine.
constexpr size_t kQueueReserve = 64;

class SteadyClock final : public SchedulerClock {
public:
    uint64_t now_ns() override {
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                         std::chrono::steady_clock::now().time_since_epoch())
                                         .count());
    }
};
SteadyClock g_steady;

// Set while this thread is inside poll(): an event raised from within (an
// engine interrupt during a register write, a completion handler
// resubmitting) is left to that poll's next round instead of recursing.
thread_local bool t_polling = false;

}  // namespace

struct Scheduler::ClientState {
    std::string name;
    uint32_t weight = 1;
    uint32_t cap_percent = 0;
    std::function<void(Workload*)> done;
    std::array<std::vector<Workload*>, kEngines> queue;
    std::array<uint64_t, kEngines> vtime{};
    std::array<uint64_t, kEngines> used{};  // engine ns in this cap period (debt carried)
    std::array<uint32_t, kEngines> flying{};
    std::array<uint32_t, kEngines> returning{};  // in returned_/handing_, not yet handed back
    std::array<ClientEngineStats, kEngines> stats{};
    std::array<std::vector<uint32_t>, kEngines> regs;
    bool detached = false;
};

Scheduler::Scheduler(EnginePort& port, SchedulerConfig config, SchedulerClock* clock)
    : port_(port), config_(config), clock_(clock != nullptr ? clock : &g_steady) {
    // The register context every vGPU starts from: the engines' values now,
    // before any guest ran (the host driver's programming).
    for (const EngineDesc& d : kEngineDescs) {
        for (const ContextRegisters& r : engine_context_registers(d.id)) {
            for (uint32_t i = 0; i < r.dwords; ++i) {
                golden_[index(d.id)].push_back(port_.read(r.offset + 4 * i));
            }
        }
    }
    returned_.reserve(kEngines * kMaxDepth * 4);
    handing_.reserve(returned_.capacity());
    period_start_ = now();
    port_.set_notify([this] { on_event(); });
    if (config_.own_thread) {
        thread_ = std::thread([this] { thread_main(); });
    }
}

Scheduler::~Scheduler() {
    port_.set_notify(nullptr);
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
        thread_.join();
    }
}

uint64_t Scheduler::now() {
    return clock_->now_ns();
}

std::unique_ptr<Scheduler::Client> Scheduler::attach(ClientConfig config) {
    auto state = std::make_unique<ClientState>();
    state->name = std::move(config.name);
    state->weight = std::max<uint32_t>(1, config.weight);
    state->cap_percent = std::min<uint32_t>(100, config.cap_percent);
    state->done = std::move(config.done);
    for (unsigned e = 0; e < kEngines; ++e) {
        state->queue[e].reserve(kQueueReserve);
        state->regs[e] = golden_[e];
    }
    std::lock_guard lock(mutex_);
    clients_.push_back(std::move(state));
    return std::unique_ptr<Client>(new Client(*this, *clients_.back()));
}

Scheduler::Client::~Client() {
    owner_.detach(state_);
}

ClientEngineStats Scheduler::Client::stats(Engine e) const {
    std::lock_guard lock(owner_.mutex_);
    return state_.stats[index(e)];
}

void Scheduler::Client::set_weight(uint32_t weight) {
    std::lock_guard lock(owner_.mutex_);
    state_.weight = std::max<uint32_t>(1, weight);
}

Scheduler::EngineStats Scheduler::engine_stats(Engine e) const {
    std::lock_guard lock(mutex_);
    return engines_[index(e)].stats;
}

void Scheduler::submit(ClientState& c, Workload* w) {
    {
        std::lock_guard lock(mutex_);
        const unsigned e = index(w->engine);
        if (c.queue[e].empty() && c.flying[e] == 0) {
            // Rejoining: start level with the busiest, so idle time is no credit.
            uint64_t front = std::numeric_limits<uint64_t>::max();
            for (const auto& other : clients_) {
                if (other.get() != &c && (!other->queue[e].empty() || other->flying[e] != 0)) {
                    front = std::min(front, other->vtime[e]);
                }
            }
            if (front != std::numeric_limits<uint64_t>::max()) {
                c.vtime[e] = std::max(c.vtime[e], front);
            }
        }
        c.queue[e].push_back(w);
    }
    on_event();
}

void Scheduler::cancel(ClientState& c, Engine engine) {
    {
        std::lock_guard lock(mutex_);
        const unsigned e = index(engine);
        if (c.flying[e] != 0) {
            // Its list is on the engine: stop it there (a list is one client's).
            fail_engine(engine, WorkloadStatus::Cancelled, now());
        }
        for (Workload* w : c.queue[e]) {
            w->status = WorkloadStatus::Cancelled;
            returned_.push_back({&c, w});
            ++c.returning[e];
        }
        c.queue[e].clear();
    }
    on_event();
}

void Scheduler::detach(ClientState& c) {
    std::unique_lock lock(mutex_);
    c.detached = true;
    for (auto& q : c.queue) {
        q.clear();
    }
    auto busy = [&] {
        for (unsigned e = 0; e < kEngines; ++e) {
            if (c.flying[e] != 0 || c.returning[e] != 0) {
                return true;
            }
        }
        return false;
    };
    // In-flight work uses the client's shadow memory: wait for it (bounded
    // by the watchdog, which resets a hung engine), or reset now without a
    // thread to wait on.
    if (config_.own_thread) {
        const auto limit = std::chrono::nanoseconds(config_.watchdog_ns) + std::chrono::seconds(1);
        cv_.wait_for(lock, limit, [&] { return !busy(); });
    }
    for (unsigned i = 0; i < kEngines && busy(); ++i) {
        const Engine e = kEngineDescs[i].id;
        if (c.flying[i] != 0) {
            fail_engine(e, WorkloadStatus::Cancelled, now());
        }
    }
    // Whatever is still to be handed back goes nowhere now.
    std::erase_if(returned_, [&](const Returned& r) { return r.client == &c; });
    for (EngineSched& es : engines_) {
        if (es.owner == &c) {
            es.owner = nullptr;
        }
        if (es.regs_of == &c) {
            es.regs_of = nullptr;
        }
    }
    // A hand-back in progress (handing_) still names the client: wait it out.
    cv_.wait(lock, [&] {
        return std::none_of(handing_.begin(), handing_.end(),
                            [&](const Returned& r) { return r.client == &c; });
    });
    std::erase_if(clients_, [&](const auto& p) { return p.get() == &c; });
}

void Scheduler::on_event() {
    if (t_polling) {
        again_.store(true, std::memory_order_release);
    } else if (config_.own_thread) {
        poll();
    }
}

void Scheduler::kick() {
    {
        std::lock_guard lock(mutex_);
        kicked_ = true;
    }
    cv_.notify_all();
}

void Scheduler::thread_main() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        const uint64_t t = now();
        const uint64_t deadline = next_deadline(t);
        const auto wait = std::chrono::nanoseconds(deadline > t ? deadline - t : 0);
        cv_.wait_for(lock, wait, [&] { return kicked_ || stopping_; });
        if (stopping_) {
            break;
        }
        kicked_ = false;
        lock.unlock();
        poll();
        lock.lock();
    }
}

uint64_t Scheduler::next_deadline(uint64_t t) const {
    // The watchdog of each busy engine, and the next cap period if a capped
    // client is waiting for it; otherwise only a kick wakes us (bounded, so a
    // lost notification costs latency, never progress).
    uint64_t deadline = t + 100'000'000;
    for (const EngineSched& es : engines_) {
        if (es.flying != 0) {
            deadline = std::min(deadline, es.busy_since + config_.watchdog_ns);
        }
    }
    deadline = std::min(deadline, period_start_ + config_.cap_period_ns);
    return deadline;
}

void Scheduler::poll() {
    const bool outer = !t_polling;
    t_polling = true;
    do {
        again_.store(false, std::memory_order_relaxed);
        poll_once();
    } while (again_.exchange(false, std::memory_order_acq_rel));
    t_polling = !outer;
}

void Scheduler::poll_once() {
    std::unique_lock lock(mutex_);
    const uint64_t t = now();
    roll_period(t);
    for (const EngineDesc& d : kEngineDescs) {
        collect(d.id, t);
        dispatch(d.id, t);
    }
    if (returned_.empty() || !handing_.empty()) {
        lock.unlock();
        cv_.notify_all();  // a detach may be waiting for in-flight work
        return;
    }
    handing_.swap(returned_);
    lock.unlock();
    for (const Returned& r : handing_) {
        if (r.client->done) {
            r.client->done(r.w);
        }
    }
    lock.lock();
    for (const Returned& r : handing_) {
        --r.client->returning[index(r.w->engine)];
    }
    handing_.clear();
    lock.unlock();
    cv_.notify_all();
}

void Scheduler::roll_period(uint64_t t) {
    if (t - period_start_ < config_.cap_period_ns) {
        return;
    }
    const uint64_t periods = (t - period_start_) / config_.cap_period_ns;
    period_start_ += periods * config_.cap_period_ns;
    for (auto& c : clients_) {
        if (c->cap_percent == 0) {
            continue;
        }
        const uint64_t budget = config_.cap_period_ns * c->cap_percent / 100 * periods;
        for (uint64_t& u : c->used) {
            u = u > budget ? u - budget : 0;
        }
    }
}

void Scheduler::collect(Engine e, uint64_t t) {
    EngineSched& es = engines_[index(e)];
    std::array<EngineEvent, kMaxDepth * 2> events{};
    for (;;) {
        const size_t n = port_.collect(e, events);
        for (size_t i = 0; i < n; ++i) {
            if (es.flying == 0) {
                continue;  // from before a reset: nothing to retire
            }
            if (events[i].kind == EngineEvent::Kind::Failed) {
                // The engine stopped on the context it was running: the front.
                XENGT_LOG(LogLevel::Warn, es.flight[0].client->name,
                          "%s workload faulted on the GPU: engine reset", desc(e).name);
                fail_engine(e, WorkloadStatus::Faulted, t);
            } else if (events[i].ctx_id == es.flight[0].ctx_id) {
                retire_front(e, WorkloadStatus::Completed, t);
            }
        }
        if (n < events.size()) {
            break;
        }
    }
    if (es.flying != 0 && t - es.busy_since >= config_.watchdog_ns) {
        XENGT_LOG(LogLevel::Error, es.flight[0].client->name,
                  "%s workload held the engine past the %llu ms watchdog: engine reset",
                  desc(e).name, static_cast<unsigned long long>(config_.watchdog_ns / 1'000'000));
        fail_engine(e, WorkloadStatus::Hung, t);
    }
}

void Scheduler::retire_front(Engine e, WorkloadStatus status, uint64_t t) {
    EngineSched& es = engines_[index(e)];
    const Flight f = es.flight[0];
    std::move(es.flight.begin() + 1, es.flight.begin() + es.flying, es.flight.begin());
    --es.flying;
    const uint64_t ns = t - es.busy_since;
    es.busy_since = t;
    ClientState& c = *f.client;
    const unsigned i = index(e);
    --c.flying[i];
    charge(c, e, ns);
    f.w->status = status;
    f.w->engine_ns = ns;
    c.stats[i].hangs += status == WorkloadStatus::Hung;
    c.stats[i].faults += status == WorkloadStatus::Faulted;
    if (!c.detached) {
        returned_.push_back({&c, f.w});
        ++c.returning[i];
    }
}

void Scheduler::fail_engine(Engine e, WorkloadStatus status, uint64_t t) {
    EngineSched& es = engines_[index(e)];
    port_.reset(e);
    ++es.stats.resets;
    // The hardware register state went with the reset: reload on next use.
    es.regs_of = nullptr;
    retire_front(e, status, t);
    // Whatever was queued behind it never ran: back to the head of its queue.
    while (es.flying != 0) {
        const Flight f = es.flight[es.flying - 1];
        --es.flying;
        --f.client->flying[index(e)];
        if (!f.client->detached) {
            auto& q = f.client->queue[index(e)];
            q.insert(q.begin(), f.w);
        }
    }
}

bool Scheduler::runnable(const ClientState& c, Engine e) const {
    const unsigned i = index(e);
    if (c.detached || c.queue[i].empty()) {
        return false;
    }
    return c.cap_percent == 0 || c.used[i] * 100 < config_.cap_period_ns * c.cap_percent;
}

Scheduler::ClientState* Scheduler::pick(Engine e, uint64_t t) {
    EngineSched& es = engines_[index(e)];
    const unsigned i = index(e);
    if (es.owner != nullptr && runnable(*es.owner, e) && t - es.slice_start < config_.slice_ns) {
        return es.owner;
    }
    ClientState* best = nullptr;
    for (const auto& c : clients_) {
        if (runnable(*c, e) && (best == nullptr || c->vtime[i] < best->vtime[i])) {
            best = c.get();
        }
    }
    return best;
}

void Scheduler::dispatch(Engine e, uint64_t t) {
    EngineSched& es = engines_[index(e)];
    const unsigned i = index(e);
    // One execlist at a time (no preemption): the next goes in once the
    // engine reported everything before it.
    if (es.flying != 0) {
        return;
    }
    ClientState* c = pick(e, t);
    if (c == nullptr) {
        return;
    }
    if (c != es.owner) {
        es.owner = c;
        es.slice_start = t;
    } else if (t - es.slice_start >= config_.slice_ns) {
        es.slice_start = t;  // nobody else is runnable: a new slice, same owner
        ++es.stats.switches_skipped;
    }
    if (es.regs_of != c) {
        switch_registers(e, c);
    }
    std::array<uint64_t, kMaxDepth> list{};
    const unsigned depth = std::min(port_.depth(), kMaxDepth);
    while (es.flying < depth && !c->queue[i].empty()) {
        Workload* w = c->queue[i].front();
        c->queue[i].erase(c->queue[i].begin());
        const uint32_t id = es.next_ctx_id;
        // Gen9 context IDs are 21 bits wide (§4.4); 0 is never used.
        es.next_ctx_id = es.next_ctx_id >= 0x1FFFFF ? 1 : es.next_ctx_id + 1;
        w->hw_ctx_id = id;
        list[es.flying] = w->shadow_desc | uint64_t{id} << kDescCtxIdShift;
        es.flight[es.flying++] = {w, c, id};
        ++c->flying[i];
    }
    es.busy_since = t;
    port_.start(e, std::span<const uint64_t>(list.data(), es.flying));
}

void Scheduler::switch_registers(Engine e, ClientState* to) {
    EngineSched& es = engines_[index(e)];
    const unsigned i = index(e);
    if (es.regs_of != nullptr) {
        size_t k = 0;
        for (const ContextRegisters& r : engine_context_registers(e)) {
            for (uint32_t d = 0; d < r.dwords; ++d) {
                es.regs_of->regs[i][k++] = port_.read(r.offset + 4 * d);
            }
        }
    }
    size_t k = 0;
    for (const ContextRegisters& r : engine_context_registers(e)) {
        for (uint32_t d = 0; d < r.dwords; ++d) {
            port_.write(r.offset + 4 * d, to->regs[i][k++]);
        }
    }
    es.regs_of = to;
    ++es.stats.owner_switches;
}

void Scheduler::charge(ClientState& c, Engine e, uint64_t ns) {
    const unsigned i = index(e);
    c.vtime[i] += ns * kScale / c.weight;
    c.used[i] += ns;
    c.stats[i].busy_ns += ns;
    ++c.stats[i].workloads;
}

}  // namespace xengt::mediator::exec
