// Acceptance for the workload path on the simulator: simulated guests drive
// their vGPUs' execlists through real traps into the shipping daemon, whose
// scheduler runs their shadowed workloads on the software GPU. Several
// guests render at once, each pixel-exact; a malicious guest is refused each
// way without disturbing the others; and engine time follows vgt_weight and
// vgt_cap.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <numeric>
#include <stdexcept>

#include "tools/guests/exec_driver.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/daemon/daemon.hpp"

using namespace xengt;
using mediator::exec::Engine;

namespace {

// Small enough slices that every guest here fits beside the host's share.
const mediator::GmRequest kSlices{MiB(16), MiB(256), 4};

struct GuestSpec {
    std::string name;
    sim::GuestProgram program;
    uint32_t weight = 1;
    uint32_t cap = 0;
};

// The daemon serving simulated guests; it stops however the test ends.
class Rig {
public:
    explicit Rig(std::vector<GuestSpec> specs) : daemon_(options()) {
        REQUIRE(daemon_.gpu() != nullptr);
        for (size_t i = 0; i < specs.size(); ++i) {
            sim::DomainConfig c;
            c.name = specs[i].name;
            c.programs.push_back(std::move(specs[i].program));
            domids.push_back(host.create_domain(std::move(c)));
            xen::SessionOptions s;
            s.domid = domids.back();
            s.vgpu.vgt_id = static_cast<uint32_t>(i + 1);
            s.vgpu.weight = specs[i].weight;
            s.vgpu.cap_percent = specs[i].cap;
            daemon_.attach(s, kSlices);
        }
        exit_code_ = std::async(std::launch::async, [this] { return daemon_.run(); });
    }
    ~Rig() {
        daemon_.request_stop();
        if (exit_code_.valid()) {
            exit_code_.wait();
        }
    }
    static daemon::DaemonOptions options() {
        daemon::DaemonOptions o;
        o.handle_signals = false;
        return o;
    }
    void start() {
        for (uint16_t id : domids) {
            host.unpause(id);
        }
    }
    void wait_finished() {
        for (uint16_t id : domids) {
            INFO("dom" << id << " console: " << console_tail(id));
            REQUIRE(host.wait_programs_finished(id));
        }
    }
    std::string console_tail(uint16_t id) const {
        const std::vector<std::string> lines = host.console(id);
        return lines.empty() ? "" : lines.back();
    }
    // (Thrown, not REQUIREd: it is also called inside wait predicates.)
    mediator::exec::ClientEngineStats stats(uint16_t id, Engine e) const {
        const auto s = daemon_.scheduler_stats(id, e);
        if (!s) {
            throw std::runtime_error("dom" + std::to_string(id) + " has no scheduler client");
        }
        return *s;
    }
    daemon::Daemon& daemon() { return daemon_; }

    sim::Host host;
    std::vector<uint16_t> domids;

private:
    daemon::Daemon daemon_;
    std::future<int> exit_code_;
};

void check_ran(Rig& rig, uint16_t id, const guests::ExecDriverReport& r,
               const guests::ExecDriverLayout& layout) {
    std::string why;
    const bool passed = guests::exec_driver_passed(r, &why);
    INFO("dom" << id << ": " << why);
    CHECK(passed);
    CHECK(r.checks.size() == 5);
    CHECK(r.hidden_size == kSlices.high_bytes);
    // The vGPU saw every submission, and every workload ran.
    const mediator::Vgpu* v = rig.daemon().vgpu(id);
    REQUIRE(v != nullptr);
    const mediator::exec::ExeclistCounters& c = *v->execlist_counters();
    CHECK(c.submissions == r.elsp_submissions);
    CHECK(c.rejected == 0);
    CHECK(c.faulted == 0);
    CHECK(c.completed == c.workloads);
    CHECK(c.workloads >= 3);  // lite restores may merge back-to-back rounds
    CHECK(!v->failsafe());
    // The scheduler ran them on both engines.
    const auto render = rig.stats(id, Engine::Render);
    const auto blit = rig.stats(id, Engine::Blitter);
    CHECK(render.workloads >= 1);
    CHECK(blit.workloads >= 2);  // GGTT rounds, then PPGTT rounds
    CHECK(render.workloads + blit.workloads == c.completed);
    CHECK(render.busy_ns > 0);
    CHECK(blit.busy_ns > 0);
    CHECK(render.hangs + blit.hangs + render.faults + blit.faults == 0);
    // Its user interrupts arrived as the MSI it programmed.
    CHECK(r.user_interrupts[0] >= 1);
    CHECK(r.user_interrupts[1] >= 1);
    CHECK(r.cs_errors[0] + r.cs_errors[1] == 0);
    const std::vector<sim::MsiRecord> msis = rig.host.msis(id);
    CHECK(!msis.empty());
    for (const sim::MsiRecord& m : msis) {
        CHECK(m.address == layout.msi_address);
        CHECK(m.data == layout.msi_data);
    }
}

}  // namespace

TEST_CASE("four guests render on both engines at once, each pixel-exact, isolated",
          "[xengt][exec][acceptance]") {
    constexpr unsigned kGuests = 4;
    std::vector<guests::ExecDriverReport> reports(kGuests);
    std::vector<guests::ExecDriverLayout> layouts(kGuests);
    std::vector<GuestSpec> specs;
    for (unsigned i = 0; i < kGuests; ++i) {
        layouts[i].seed = i + 1;  // each guest its own colours and values
        layouts[i].rounds = 6;
        specs.push_back({"exec-" + std::to_string(i), [&, i](sim::GuestCpu& cpu) {
                             reports[i] = guests::run_exec_driver(cpu, layouts[i]);
                         }});
    }
    Rig rig(std::move(specs));
    rig.start();
    rig.wait_finished();
    for (unsigned i = 0; i < kGuests; ++i) {
        INFO("guest " << i);
        check_ran(rig, rig.domids[i], reports[i], layouts[i]);
    }
    // Distinct slices; the GPU's tables reach only each guest's own frames.
    for (unsigned i = 1; i < kGuests; ++i) {
        CHECK(reports[i].hidden_base != reports[0].hidden_base);
    }
    const std::optional<mediator::IsolationReport> iso = rig.daemon().check_isolation();
    REQUIRE(iso);
    INFO(iso->summary());
    CHECK(iso->ok());
    CHECK(iso->ppgtt_tables_checked >= 4 * kGuests);
}

TEST_CASE("a malicious guest is refused each way while two others render pixel-exact",
          "[xengt][exec][acceptance]") {
    guests::ExecDriverReport bad;
    std::vector<guests::ExecDriverReport> good(2);
    guests::ExecDriverLayout bad_layout;
    bad_layout.seed = 9;
    bad_layout.malicious = true;
    std::vector<guests::ExecDriverLayout> good_layouts(2);
    std::vector<GuestSpec> specs;
    specs.push_back(
        {"exec-bad", [&](sim::GuestCpu& cpu) { bad = guests::run_exec_driver(cpu, bad_layout); }});
    for (unsigned i = 0; i < 2; ++i) {
        good_layouts[i].seed = i + 1;
        specs.push_back({"exec-good-" + std::to_string(i), [&, i](sim::GuestCpu& cpu) {
                             good[i] = guests::run_exec_driver(cpu, good_layouts[i]);
                         }});
    }
    Rig rig(std::move(specs));
    gpu::model::SoftGpu& gpu = rig.daemon().gpu()->model();
    const uint32_t master_irq = gpu.read32(MmioOffset{0x44200});
    rig.start();
    rig.wait_finished();

    // The bad guest saw each case refused, failsafe hold a valid fill back,
    // and a device reset let the next one run.
    {
        std::string why;
        const bool passed = guests::exec_driver_passed(bad, &why);
        INFO("bad guest: " << why);
        CHECK(passed);
        REQUIRE(bad.malicious.size() == 5);
        for (const guests::MaliciousCase& m : bad.malicious) {
            INFO(m.name);
            CHECK(m.completed);
            CHECK(m.cs_error);
            CHECK(m.nothing_written);
        }
        CHECK(bad.valid_refused_in_failsafe);
        CHECK(bad.valid_ran_after_flr);
    }
    const uint16_t bad_id = rig.domids[0];
    const mediator::Vgpu* v = rig.daemon().vgpu(bad_id);
    REQUIRE(v != nullptr);
    const mediator::exec::ExeclistCounters& c = *v->execlist_counters();
    CHECK(c.rejected == 6);  // five cases and the valid fill held back in failsafe
    CHECK(c.completed == 1);
    CHECK(v->counters().device_resets == 1);
    CHECK(!v->failsafe());
    // Nothing refused reached the GPU: only the fill after the reset ran.
    CHECK(rig.stats(bad_id, Engine::Render).workloads == 0);
    CHECK(rig.stats(bad_id, Engine::Blitter).workloads == 1);
    CHECK(gpu.read32(MmioOffset{0x44200}) == master_irq);

    for (unsigned i = 0; i < 2; ++i) {
        INFO("good guest " << i);
        check_ran(rig, rig.domids[i + 1], good[i], good_layouts[i]);
    }
    const std::optional<mediator::IsolationReport> iso = rig.daemon().check_isolation();
    REQUIRE(iso);
    INFO(iso->summary());
    CHECK(iso->ok());
}

namespace {

struct Share {
    uint16_t domid;
    std::string label;
    double share;
};

// Guests keeping the render engine busy; their engine time over a window
// once all are running, as shares of the whole. The guests stop when this
// returns, however it returns.
std::vector<Share> measure_render_shares(const std::vector<std::pair<uint32_t, uint32_t>>& vgpus,
                                         const std::vector<std::string>& labels) {
    const size_t n = vgpus.size();
    std::atomic<bool> stop{false};
    std::vector<guests::ExecLoadReport> reports(n);
    std::vector<guests::ExecLoadLayout> layouts(n);
    std::vector<GuestSpec> specs;
    for (size_t i = 0; i < n; ++i) {
        layouts[i].base.seed = static_cast<uint32_t>(i + 1);
        specs.push_back({"load-" + labels[i],
                         [&, i](sim::GuestCpu& cpu) {
                             reports[i] = guests::run_exec_load(cpu, layouts[i], stop);
                         },
                         vgpus[i].first, vgpus[i].second});
    }
    Rig rig(std::move(specs));
    struct StopOnExit {
        std::atomic<bool>& stop;
        ~StopOnExit() { stop = true; }
    } stop_on_exit{stop};
    rig.start();

    auto busy = [&] {
        std::vector<uint64_t> b;
        for (uint16_t id : rig.domids) {
            b.push_back(rig.stats(id, Engine::Render).busy_ns);
        }
        return b;
    };
    // Warm-up: every guest has had its work run a few times.
    REQUIRE(rig.host.wait_until([&] {
        for (uint16_t id : rig.domids) {
            if (rig.stats(id, Engine::Render).workloads < 8) {
                return false;
            }
        }
        return true;
    }));
    // The window: 1.5 s of engine time in all, long enough that one
    // workload stretched by a descheduled GPU thread (a busy machine) moves
    // a share by a few percent at most.
    const std::vector<uint64_t> start = busy();
    const auto wall_start = std::chrono::steady_clock::now();
    const uint64_t total_start = std::accumulate(start.begin(), start.end(), uint64_t{0});
    REQUIRE(rig.host.wait_until([&] {
        const std::vector<uint64_t> now = busy();
        return std::accumulate(now.begin(), now.end(), uint64_t{0}) - total_start >= 1'500'000'000;
    }));
    const std::vector<uint64_t> end = busy();
    const uint64_t wall =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now() - wall_start)
                                  .count());
    stop = true;
    rig.wait_finished();
    for (size_t i = 0; i < n; ++i) {
        INFO(labels[i] << ": " << (reports[i].failure.empty() ? "" : reports[i].failure));
        CHECK(reports[i].failure.empty());
        CHECK(reports[i].results_ok);
        CHECK(reports[i].consumed == reports[i].submissions);
        const mediator::exec::ExeclistCounters& c =
            *rig.daemon().vgpu(rig.domids[i])->execlist_counters();
        CHECK(c.rejected == 0);
        CHECK(c.completed == c.workloads);
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; ++i) {
        total += end[i] - start[i];
    }
    std::vector<Share> shares;
    for (size_t i = 0; i < n; ++i) {
        shares.push_back({rig.domids[i], labels[i],
                          static_cast<double>(end[i] - start[i]) / static_cast<double>(total)});
        // vgt_cap is a share of each 100 ms period, so of wall time too.
        std::printf(
            "render engine share of %-12s %5.1f%% of engine time (%llu of %llu ms), %5.1f%% of "
            "wall time (%llu ms); %llu submissions\n",
            labels[i].c_str(), 100.0 * shares.back().share,
            static_cast<unsigned long long>((end[i] - start[i]) / 1'000'000),
            static_cast<unsigned long long>(total / 1'000'000),
            100.0 * static_cast<double>(end[i] - start[i]) / static_cast<double>(wall),
            static_cast<unsigned long long>(wall / 1'000'000),
            static_cast<unsigned long long>(reports[i].submissions));
    }
    return shares;
}

}  // namespace

// Real engine time depends on the machine: the exact shares are asserted
// with a fake clock in tests/exec/scheduler_test.cpp; here only their order.
TEST_CASE("render engine time through the daemon follows vgt_weight 1:2:4",
          "[xengt][exec][fairness]") {
    const std::vector<Share> s =
        measure_render_shares({{1, 0}, {2, 0}, {4, 0}}, {"weight 1", "weight 2", "weight 4"});
    REQUIRE(s.size() == 3);
    CHECK(s[0].share < s[1].share);
    CHECK(s[1].share < s[2].share);
}

TEST_CASE("a guest with vgt_cap 25 gets at most about a quarter of the render engine",
          "[xengt][exec][fairness]") {
    const std::vector<Share> s =
        measure_render_shares({{1, 25}, {1, 0}}, {"vgt_cap 25", "uncapped"});
    REQUIRE(s.size() == 2);
    CHECK(s[0].share < 0.35);
    CHECK(s[0].share < s[1].share);
}
