// The device scheduler's policy against a fake engine port and a fake clock:
// the port "runs" a context for as long as its descriptor says, so engine
// time, fairness and caps are exact and independent of the machine.
#include <catch2/catch.hpp>
#include <deque>
#include <map>
#include <vector>

#include "mediator/exec/scheduler.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::exec;

namespace {

struct FakeClock final : SchedulerClock {
    uint64_t now = 1'000'000;
    uint64_t now_ns() override { return now; }
};

// A context's run time in µs is its descriptor's LRCA page number (test
// encoding); the fake runs lists element by element when step() is called.
class FakePort final : public EnginePort {
public:
    unsigned depth() const override { return 2; }
    void start(Engine e, std::span<const uint64_t> d) override {
        auto& q = running[index(e)];
        REQUIRE(q.empty());  // the scheduler starts a list only on an idle engine
        q.assign(d.begin(), d.end());
        ++starts;
    }
    size_t collect(Engine e, std::span<EngineEvent> out) override {
        auto& ev = events[index(e)];
        size_t n = 0;
        while (n < out.size() && !ev.empty()) {
            out[n++] = ev.front();
            ev.pop_front();
        }
        return n;
    }
    void reset(Engine e) override {
        running[index(e)].clear();
        events[index(e)].clear();
        ++resets;
    }
    uint32_t read(uint32_t offset) override { return regs[offset]; }
    void write(uint32_t offset, uint32_t value) override {
        regs[offset] = value;
        ++reg_writes;
    }
    void set_notify(std::function<void()>) override {}

    // Runs the front context of engine e to completion: the clock advances by
    // its cost. False if the engine is idle or `hang` is its context.
    bool step(Engine e, FakeClock& clock) {
        auto& q = running[index(e)];
        if (q.empty()) {
            return false;
        }
        const uint64_t d = q.front();
        if (static_cast<uint32_t>(d >> 32) == hang_ctx) {
            return false;
        }
        q.erase(q.begin());
        clock.now += (d >> 12 & 0xFFFFF) * 1000;
        events[index(e)].push_back({EngineEvent::Kind::Completed, static_cast<uint32_t>(d >> 32)});
        return true;
    }

    std::array<std::vector<uint64_t>, kEngines> running;
    std::array<std::deque<EngineEvent>, kEngines> events;
    std::map<uint32_t, uint32_t> regs;
    uint64_t starts = 0, resets = 0, reg_writes = 0;
    uint32_t hang_ctx = 0;
};

// A guest that keeps `depth` workloads of `cost_us` queued on one engine.
struct Guest {
    Guest(Scheduler& s, const char* name, uint32_t weight, uint32_t cap, uint32_t cost_us,
          Engine e = Engine::Render, unsigned depth = 3, bool saturate = true)
        : work(depth) {
        for (Workload& w : work) {
            w.engine = e;
            w.shadow_desc = uint64_t{cost_us} << 12 | kDescValid;
            w.status = WorkloadStatus::Prepared;
        }
        client = s.attach({name, weight, cap, [this, saturate](Workload* w) {
                               returned.push_back(w);
                               if (saturate && w->status == WorkloadStatus::Completed) {
                                   client->submit(w);
                               }
                           }});
        for (Workload& w : work) {
            client->submit(&w);
        }
    }
    std::vector<Workload> work;
    std::vector<Workload*> returned;
    std::unique_ptr<Scheduler::Client> client;
};

SchedulerConfig manual() {
    SchedulerConfig c;
    c.own_thread = false;
    return c;
}

// Runs engine e for `ns` of fake time.
void run_for(Scheduler& s, FakePort& port, FakeClock& clock, Engine e, uint64_t ns) {
    const uint64_t end = clock.now + ns;
    s.poll();
    while (clock.now < end) {
        if (!port.step(e, clock)) {
            clock.now += 10'000;  // idle (e.g. every client capped): time passes
        }
        s.poll();
    }
}

double share(const Guest& g, uint64_t total, Engine e = Engine::Render) {
    return static_cast<double>(g.client->stats(e).busy_ns) / static_cast<double>(total);
}

}  // namespace

TEST_CASE("weights 1:2:4 share an engine 1/7 : 2/7 : 4/7 within 5 %", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    Scheduler s(port, manual(), &clock);
    Guest a(s, "a", 1, 0, 100), b(s, "b", 2, 0, 100), c(s, "c", 4, 0, 100);
    run_for(s, port, clock, Engine::Render, 2'000'000'000);
    const uint64_t total = a.client->stats(Engine::Render).busy_ns +
                           b.client->stats(Engine::Render).busy_ns +
                           c.client->stats(Engine::Render).busy_ns;
    INFO("shares " << share(a, total) << " " << share(b, total) << " " << share(c, total));
    CHECK(share(a, total) > 1.0 / 7 * 0.95);
    CHECK(share(a, total) < 1.0 / 7 * 1.05);
    CHECK(share(b, total) > 2.0 / 7 * 0.95);
    CHECK(share(b, total) < 2.0 / 7 * 1.05);
    CHECK(share(c, total) > 4.0 / 7 * 0.95);
    CHECK(share(c, total) < 4.0 / 7 * 1.05);
    // Work conserving: the engine never idled.
    CHECK(total >= 2'000'000'000 - 200'000);
}

TEST_CASE("unequal workload costs still share by weight", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    Scheduler s(port, manual(), &clock);
    Guest a(s, "short", 1, 0, 30), b(s, "long", 1, 0, 700);
    run_for(s, port, clock, Engine::Render, 1'000'000'000);
    const uint64_t total =
        a.client->stats(Engine::Render).busy_ns + b.client->stats(Engine::Render).busy_ns;
    CHECK(share(a, total) > 0.5 * 0.95);
    CHECK(share(a, total) < 0.5 * 1.05);
}

TEST_CASE("vgt_cap=25 holds a saturating guest at 25 %", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    Scheduler s(port, manual(), &clock);
    SECTION("against an uncapped guest") {
        Guest capped(s, "capped", 1, 25, 100), other(s, "other", 1, 0, 100);
        run_for(s, port, clock, Engine::Render, 2'000'000'000);
        const double got = static_cast<double>(capped.client->stats(Engine::Render).busy_ns) / 2e9;
        INFO("capped share " << got);
        CHECK(got > 0.25 * 0.95);
        CHECK(got < 0.25 * 1.05);
    }
    SECTION("alone: the engine idles rather than exceed the cap") {
        Guest capped(s, "capped", 1, 25, 100);
        run_for(s, port, clock, Engine::Render, 2'000'000'000);
        const double got = static_cast<double>(capped.client->stats(Engine::Render).busy_ns) / 2e9;
        INFO("capped share " << got);
        CHECK(got > 0.25 * 0.95);
        CHECK(got < 0.25 * 1.05);
    }
}

TEST_CASE("a guest that was idle rejoins level, without banked credit", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    Scheduler s(port, manual(), &clock);
    Guest busy(s, "busy", 1, 0, 100);
    run_for(s, port, clock, Engine::Render, 500'000'000);
    Guest late(s, "late", 1, 0, 100);
    const uint64_t before = busy.client->stats(Engine::Render).busy_ns;
    run_for(s, port, clock, Engine::Render, 100'000'000);
    const uint64_t busy_ns = busy.client->stats(Engine::Render).busy_ns - before;
    const uint64_t late_ns = late.client->stats(Engine::Render).busy_ns;
    // Half each from the moment it joined, not the whole engine for 500 ms.
    CHECK(late_ns < busy_ns * 11 / 10);
    CHECK(busy_ns < late_ns * 11 / 10);
}

TEST_CASE("engine register context is switched on a change of owner only", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    port.regs[0x0C800] = 0x11;  // GFX_MOCS(0) as the host left it
    Scheduler s(port, manual(), &clock);
    Guest a(s, "a", 1, 0, 100, Engine::Render, 1, false);
    s.poll();
    CHECK(s.engine_stats(Engine::Render).owner_switches == 1);
    port.regs[0x0C800] = 0xAA;  // a's workload loaded MOCS(0)
    port.step(Engine::Render, clock);
    s.poll();
    // a runs again: same owner, no switch.
    a.client->submit(&a.work[0]);
    s.poll();
    CHECK(s.engine_stats(Engine::Render).owner_switches == 1);
    port.step(Engine::Render, clock);
    s.poll();
    Guest b(s, "b", 1, 0, 100, Engine::Render, 1, false);
    s.poll();
    CHECK(s.engine_stats(Engine::Render).owner_switches == 2);
    CHECK(port.regs[0x0C800] == 0x11);  // b starts from the host's value
    port.step(Engine::Render, clock);
    s.poll();
    a.client->submit(&a.work[0]);
    s.poll();
    CHECK(port.regs[0x0C800] == 0xAA);  // a's value is back
}

TEST_CASE("a hung workload resets its engine; the others' work completes", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    SchedulerConfig config = manual();
    config.watchdog_ns = 50'000'000;
    Scheduler s(port, config, &clock);
    Guest bad(s, "bad", 1, 0, 100, Engine::Blitter, 1, false);
    Guest good(s, "good", 1, 0, 100, Engine::Blitter, 2, false);
    s.poll();
    port.hang_ctx = static_cast<uint32_t>(port.running[index(Engine::Blitter)].front() >> 32);
    run_for(s, port, clock, Engine::Blitter, 100'000'000);
    REQUIRE(bad.returned.size() == 1);
    CHECK(bad.returned[0]->status == WorkloadStatus::Hung);
    CHECK(port.resets == 1);
    REQUIRE(good.returned.size() == 2);
    CHECK(good.returned[0]->status == WorkloadStatus::Completed);
    CHECK(good.returned[1]->status == WorkloadStatus::Completed);
    CHECK(bad.client->stats(Engine::Blitter).hangs == 1);
}

TEST_CASE("cancel stops a vGPU's list on the engine and returns its queue", "[exec][scheduler]") {
    FakeClock clock;
    FakePort port;
    Scheduler s(port, manual(), &clock);
    Guest a(s, "a", 1, 0, 100, Engine::Video, 4, false);
    s.poll();
    REQUIRE(port.running[index(Engine::Video)].size() == 2);
    a.client->cancel(Engine::Video);
    s.poll();
    CHECK(port.resets == 1);
    REQUIRE(a.returned.size() == 4);
    for (Workload* w : a.returned) {
        CHECK(w->status == WorkloadStatus::Cancelled);
    }
}
