#include "mediator/exec/virtual_execlist.hpp"

#include <algorithm>

namespace xengt::mediator::exec {
namespace {

// §4.4 "same context": LRCA and context ID, flags aside.
bool same_context(uint64_t a, uint64_t b) {
    return (a & kDescValid) != 0 && (b & kDescValid) != 0 && (a >> kPageShift) == (b >> kPageShift);
}

uint32_t ctx_id(uint64_t desc) {
    return static_cast<uint32_t>(desc >> kDescCtxIdShift);
}

// §4.4 RING_EXECLIST_STATUS_LO bits.
constexpr uint32_t kStatusQueueFull = 1u << 2;
constexpr uint32_t kStatusEl1Valid = 1u << 3;
constexpr uint32_t kStatusEl0Valid = 1u << 4;
constexpr uint32_t kStatusEl1Active = 1u << 17;
constexpr uint32_t kStatusEl0Active = 1u << 18;

}  // namespace

VirtualExeclists::VirtualExeclists(ExeclistHost& host, GuestLog& log, GuestMemoryView& memory,
                                   PpgttShadow* ppgtt,
                                   std::array<std::unique_ptr<ShadowArena>, kEngines> arenas,
                                   cmd::ScanPolicy policy, ExeclistConfig config)
    : host_(host), log_(log), env_{log, memory, ppgtt, nullptr, policy}, config_(config) {
    for (unsigned i = 0; i < kEngines; ++i) {
        EngineState& s = engines_[i];
        s.arena = std::move(arenas[i]);
        const uint32_t n = s.arena ? s.arena->windows() : 0;
        s.workloads.resize(n);
        s.done.assign(n, false);
        s.epoch.assign(n, 0);
        s.order.reserve(n);
    }
}

VirtualExeclists::~VirtualExeclists() {
    // The owner has taken every workload back from the sink; release what
    // the unretired ones still hold (PPGTT references).
    for (unsigned i = 0; i < kEngines; ++i) {
        EngineState& s = engines_[i];
        env_.arena = s.arena.get();
        for (Workload& w : s.workloads) {
            if (w.status != WorkloadStatus::Free) {
                w.status = WorkloadStatus::Cancelled;
                write_back(env_, w);
            }
        }
    }
}

uint32_t VirtualExeclists::in_flight() const {
    uint32_t n = 0;
    for (const EngineState& s : engines_) {
        for (const uint32_t w : s.order) {
            n += s.done[w] ? 0 : 1;
        }
    }
    return n;
}

void VirtualExeclists::elsp_write(Engine e, uint32_t value) {
    EngineState& s = engines_[index(e)];
    const uint32_t base = desc(e).base;
    // §4.3: the port does nothing until the driver enabled execlists.
    if ((host_.vreg(base + kRingModeGen7) & kRunListEnable) == 0) {
        ++counters_.dropped_submissions;
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "%s ELSP written with execlists disabled: ignored",
                        desc(e).name);
        return;
    }
    // §4.4: element 1 high, element 1 low, element 0 high, element 0 low.
    s.elsp[s.elsp_count++] = value;
    if (s.elsp_count < 4) {
        return;
    }
    s.elsp_count = 0;
    submit(e, uint64_t{s.elsp[2]} << 32 | s.elsp[3], uint64_t{s.elsp[0]} << 32 | s.elsp[1]);
}

std::optional<uint32_t> VirtualExeclists::free_window(EngineState& s) const {
    for (uint32_t i = 0; i < s.workloads.size(); ++i) {
        if (s.workloads[i].status == WorkloadStatus::Free) {
            return i;
        }
    }
    return std::nullopt;
}

bool VirtualExeclists::is_lite_restore(const EngineState& s, uint64_t el0) const {
    return s.running.valid &&
           ((s.running.desc[1] != 0 && s.element == 1 && same_context(s.running.desc[1], el0)) ||
            (s.running.desc[1] == 0 && same_context(s.running.desc[0], el0)));
}

uint32_t VirtualExeclists::free_windows(const EngineState& s) const {
    return static_cast<uint32_t>(
        std::count_if(s.workloads.begin(), s.workloads.end(),
                      [](const Workload& w) { return w.status == WorkloadStatus::Free; }));
}

void VirtualExeclists::submit(Engine e, uint64_t el0, uint64_t el1) {
    EngineState& s = engines_[index(e)];
    ++counters_.submissions;
    if ((el0 & kDescValid) == 0) {
        ++counters_.dropped_submissions;
        XENGT_GUEST_LOG(log_, LogLevel::Warn,
                        "%s ELSP submission without a valid element 0: ignored", desc(e).name);
        return;
    }
    if ((el1 & kDescValid) == 0) {
        el1 = 0;
    }
    const uint32_t needed = el1 != 0 ? 2 : 1;
    const bool lite = is_lite_restore(s, el0);
    if (free_windows(s) < needed || s.deferred) {
        // Every shadow window is busy: the submission waits for one. A later
        // resubmission of the same context supersedes it (its image holds
        // the newer tail); anything else has no place to wait.
        if (!s.deferred || same_context((*s.deferred)[0], el0)) {
            s.deferred = std::array<uint64_t, 2>{el0, el1};
            ++counters_.deferred;
            return;
        }
        ++counters_.dropped_submissions;
        XENGT_GUEST_LOG(log_, LogLevel::Warn,
                        "%s ELSP submission dropped: another is waiting for a shadow window",
                        desc(e).name);
        return;
    }
    if (s.running.valid && !lite && s.pending.valid) {
        ++counters_.dropped_submissions;
        XENGT_GUEST_LOG(log_, LogLevel::Warn, "%s ELSP submission dropped: both execlists busy",
                        desc(e).name);
        return;
    }
    const Slot slot{{el0, el1}, true};
    if (!s.running.valid) {
        s.running = slot;
        s.element = 0;
        write_csb(e, kCsbIdleToActive, 0);
        host_.raise(engine_event(e, kIrqContextSwitch));
    } else if (lite) {
        // Lite restore: the running context continues with its new tail.
        s.running = slot;
        s.element = 0;
        ++counters_.lite_restores;
    } else {
        s.pending = slot;
    }
    update_status(e);
    host_.sync_before_submit();
    create(e, el0);
    if (el1 != 0) {
        create(e, el1);
    }
    retire(e);
}

void VirtualExeclists::create(Engine e, uint64_t descriptor) {
    EngineState& s = engines_[index(e)];
    const uint32_t window = *free_window(s);  // submit() checked there is one
    Workload& w = s.workloads[window];
    w.engine = e;
    w.window = window;
    ++counters_.workloads;
    // A context already on its way: its image's head is not written back
    // yet, so this section starts where the last one of it ends.
    std::optional<uint32_t> head;
    for (auto it = s.order.rbegin(); it != s.order.rend(); ++it) {
        const Workload& prior = s.workloads[*it];
        if (same_context(prior.guest_desc, descriptor) &&
            prior.status != WorkloadStatus::Rejected) {
            head = prior.ring_tail;
            break;
        }
    }
    if (failsafe_) {
        w.guest_desc = descriptor;
        w.guest_lrca = static_cast<uint32_t>(descriptor & kDescLrcaMask);
        w.status = WorkloadStatus::Rejected;
        w.reason = "vGPU in failsafe mode";
    } else {
        env_.arena = s.arena.get();
        prepare(env_, w, descriptor, head);
        counters_.scanned_dwords += w.scan.counts.dwords;
    }
    s.order.push_back(window);
    s.epoch[window] = s.generation;
    if (w.status != WorkloadStatus::Prepared) {
        s.done[window] = true;
        ++counters_.rejected;
        if (!failsafe_ && ++rejections_ >= config_.failsafe_after) {
            failsafe_ = true;
            XENGT_LOG(LogLevel::Error, log_.subject(),
                      "%u workloads rejected: vGPU in failsafe mode, nothing more reaches the "
                      "GPU until the guest resets the device",
                      rejections_);
        }
        return;
    }
    s.done[window] = false;
    if (sink_ == nullptr) {
        w.status = WorkloadStatus::Cancelled;
        s.done[window] = true;
        return;
    }
    sink_->submit(&w);
}

void VirtualExeclists::on_done(Workload* w) {
    EngineState& s = engines_[index(w->engine)];
    s.done[w->window] = true;
    retire(w->engine);
}

void VirtualExeclists::retire(Engine e) {
    EngineState& s = engines_[index(e)];
    env_.arena = s.arena.get();
    uint32_t irq = 0;
    while (!s.order.empty() && s.done[s.order.front()]) {
        const uint32_t window = s.order.front();
        s.order.erase(s.order.begin());
        Workload& w = s.workloads[window];
        if (s.epoch[window] != s.generation) {
            // From before a reset: the guest no longer expects to hear of it.
            w.status = WorkloadStatus::Cancelled;
            write_back(env_, w);
            w.status = WorkloadStatus::Free;
            continue;
        }
        switch (w.status) {
            case WorkloadStatus::Completed:
                ++counters_.completed;
                irq |= w.scan.counts.user_interrupts != 0 ? kIrqUserInterrupt : 0;
                irq |= w.scan.counts.notifies != 0 ? kIrqFlushNotify : 0;
                break;
            case WorkloadStatus::Rejected:
                irq |= kIrqCsError;
                break;
            case WorkloadStatus::Faulted:
            case WorkloadStatus::Hung:
                ++counters_.faulted;
                irq |= kIrqCsError;
                break;
            default:
                ++counters_.cancelled;
                break;
        }
        write_back(env_, w);
        // A lite restore in the queue: the context keeps running, no event.
        const bool continues =
            !s.order.empty() && same_context(s.workloads[s.order.front()].guest_desc, w.guest_desc);
        if (!continues && w.status != WorkloadStatus::Cancelled) {
            schedule_out(e, w);
            irq |= kIrqContextSwitch;
        }
        w.status = WorkloadStatus::Free;
    }
    update_status(e);
    if (irq != 0) {
        host_.raise(engine_event(e, irq));
    }
    if (s.deferred && free_windows(s) >= ((*s.deferred)[1] != 0 ? 2u : 1u)) {
        const std::array<uint64_t, 2> d = *s.deferred;
        s.deferred.reset();
        --counters_.submissions;  // counted when it arrived
        submit(e, d[0], d[1]);
    }
}

void VirtualExeclists::schedule_out(Engine e, const Workload& w) {
    EngineState& s = engines_[index(e)];
    if (!s.running.valid) {
        return;
    }
    // §4.5: element 0 done with element 1 valid → complete + element switch;
    // the last element done → complete + active-to-idle, then the pending
    // list starts with its own idle-to-active.
    if (s.element == 0 && s.running.desc[1] != 0 && same_context(s.running.desc[0], w.guest_desc)) {
        write_csb(e, kCsbComplete | kCsbElementSwitch, ctx_id(w.guest_desc));
        s.element = 1;
        return;
    }
    write_csb(e, kCsbComplete | kCsbActiveToIdle, ctx_id(w.guest_desc));
    s.running = {};
    s.element = 0;
    if (s.pending.valid) {
        s.running = s.pending;
        s.pending = {};
        write_csb(e, kCsbIdleToActive, 0);
    }
}

void VirtualExeclists::write_csb(Engine e, uint32_t events, uint32_t id) {
    const uint32_t base = desc(e).base;
    uint32_t& ptr = host_.vreg(base + kCsbPtr);
    const uint32_t wp = ptr & kCsbWritePtrMask;
    // §4.5: wraps after entry 5; 6 and 7 (after a reset) mean "entry 0 next".
    const uint32_t next = wp + 1 >= kCsbEntries ? 0 : wp + 1;
    host_.vreg(base + kCsbBuffer + next * 8) = events;
    host_.vreg(base + kCsbBuffer + next * 8 + 4) = id;
    ptr = (ptr & ~kCsbWritePtrMask) | next;
    ++counters_.csb_events;
    // §4.5: i915 reads only the status page copy.
    const uint32_t hwsp = host_.vreg(base + kRingHwsPga) & ~static_cast<uint32_t>(kPageMask);
    const uint32_t entry[2] = {events, id};
    if (hwsp == 0 ||
        !env_.memory.write_gm(hwsp + kHwspCsbByte + next * 8, std::as_bytes(std::span{entry})) ||
        !env_.memory.write_gm(hwsp + kHwspCsbWritePtrByte, std::as_bytes(std::span{&next, 1}))) {
        XENGT_GUEST_LOG(log_, LogLevel::Warn,
                        "%s status page at GM 0x%08x not mapped: CSB event not mirrored",
                        desc(e).name, hwsp);
    }
}

void VirtualExeclists::update_status(Engine e) {
    const EngineState& s = engines_[index(e)];
    const uint32_t base = desc(e).base;
    uint32_t lo = s.pending.valid ? kStatusQueueFull : 0;
    uint32_t hi = 0;
    if (s.running.valid) {
        lo |= kStatusEl0Valid;
        lo |= s.running.desc[1] != 0 ? kStatusEl1Valid : 0;
        lo |= s.element == 0 ? kStatusEl0Active : kStatusEl1Active;
        hi = ctx_id(s.running.desc[s.element]);
    }
    host_.vreg(base + kExeclistStatusLo) = lo;
    host_.vreg(base + kExeclistStatusHi) = hi;
}

void VirtualExeclists::reset(Engine e) {
    EngineState& s = engines_[index(e)];
    ++s.generation;
    s.elsp_count = 0;
    s.deferred.reset();
    s.running = {};
    s.pending = {};
    s.element = 0;
    if (sink_ != nullptr) {
        sink_->cancel(e);
    }
    retire(e);
}

void VirtualExeclists::reset_all() {
    for (const EngineDesc& d : kEngineDescs) {
        reset(d.id);
    }
    failsafe_ = false;
    rejections_ = 0;
}

}  // namespace xengt::mediator::exec
