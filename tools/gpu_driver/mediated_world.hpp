// A GPU world in one process for the workload path: the software GPU behind
// the real engine port and scheduler, and guests whose vGPUs run on it. Each
// guest plays its own i915 through the vGPU's registers and its RAM, from the
// hardware facts (intel-gpu.md §2–§5), as native_driver.hpp does on the bare
// model. Used by the workload tests and the mediated-vs-native benchmark.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "gpu/execlist_engines.hpp"
#include "gpu/mapped_frame_table.hpp"
#include "gpu/model/soft_gpu.hpp"
#include "gpu/port_ggtt.hpp"
#include "mediator/exec/scheduler.hpp"
#include "mediator/pvinfo.hpp"
#include "mediator/vgpu.hpp"
#include "tools/gpu_driver/memory_hypervisor.hpp"
#include "tools/gpu_driver/native_driver.hpp"

namespace xengt::gpu::mediated {

using namespace xengt::mediator;
namespace native = gpu::model::native;

// A broken promise of the world (a register the vGPU refused, a frame it
// could not map): the harness cannot go on.
inline void require(bool ok, const char* what) {
    if (!ok) {
        throw std::runtime_error(std::string("mediated world: ") + what);
    }
}

inline constexpr uint64_t kBar0 = 0xF000'0000;
inline constexpr uint64_t kBar2 = 0xE000'0000;

inline constexpr auto kWait = std::chrono::seconds(20);
inline constexpr uint64_t kHwspGm = MiB(8);                // host share: engine status pages
inline constexpr uint64_t kShadowGm = MiB(256) + MiB(16);  // host hidden: per-guest shadows

// The device: frame table, software GPU, engine port and scheduler.
struct World {
    explicit World(exec::SchedulerConfig config = {}, gpu::model::SoftGpuConfig model = {})
        : gpu(frames, model),
          ggtt(gpu),
          scratch(frames.allocate()->frame),
          engines(gpu, frames, ggtt, kHwspGm),
          scheduler(engines, config) {}

    gpu::MappedFrameTable frames{uint64_t{1} << 18};
    gpu::model::SoftGpu gpu;
    gpu::PortGgtt ggtt;
    HostFrame scratch;
    gpu::ExeclistEngines engines;
    exec::Scheduler scheduler;
};

// Guest frames reach the GPU as frame-table slots onto the fake guest RAM.
class TablePins final : public GuestFramePins {
public:
    TablePins(gpu::MappedFrameTable& frames, MemoryHypervisor& hv, uint32_t domid)
        : frames_(frames), hv_(hv), domid_(domid) {}
    ~TablePins() override {
        for (auto& [gfn, p] : pins_) {
            frames_.remove(p.frame);
        }
    }
    std::optional<HostFrame> pin(GuestFrame gfn) override {
        if ((gfn.value() + 1) * kPageSize > hv_.ram.size()) {
            return std::nullopt;
        }
        Pin& p = pins_[gfn.value()];
        if (p.count++ == 0) {
            auto f = frames_.add_guest_page(hv_.ram.data() + gfn.value() * kPageSize, domid_, gfn);
            require(f.has_value(), "frame table full");
            p.frame = *f;
        }
        return p.frame;
    }
    void unpin(GuestFrame gfn) override {
        auto it = pins_.find(gfn.value());
        if (it != pins_.end() && --it->second.count == 0) {
            frames_.remove(it->second.frame);
            pins_.erase(it);
        }
    }

private:
    struct Pin {
        HostFrame frame{};
        uint64_t count = 0;
    };
    gpu::MappedFrameTable& frames_;
    MemoryHypervisor& hv_;
    uint32_t domid_;
    std::map<uint64_t, Pin> pins_;
};

// A guest context as the guest driver keeps it.
struct GuestContext {
    exec::Engine engine;
    uint64_t lrca = 0;
    uint64_t ring = 0;
    uint32_t ring_bytes = 0;
    uint32_t tail = 0;
    uint32_t ctx_id = 0;
    uint64_t addr_mode = exec::kDescLegacy32;
};

class Guest {
public:
    // Guest n: GM slices and shadow memory of its own; `weight`/`cap` for the scheduler.
    Guest(World& world, unsigned n, uint32_t weight = 1, uint32_t cap = 0)
        : world_(world),
          hv_(MiB(48)),
          pins_(world.frames, hv_, 10 + n),
          vgpu_(config(n, weight, cap), hv_,
                GpuLink{&pins_, &world.ggtt, &world.frames, world.scratch,
                        kShadowGm + n * Vgpu::shadow_gm_bytes(config(n, weight, cap))}) {
        client_ =
            world.scheduler.attach({vgpu_.config().name, weight, cap, [this](exec::Workload* w) {
                                        std::lock_guard lock(mutex_);
                                        box_.push_back(w);
                                        cv_.notify_all();
                                    }});
        vgpu_.set_workload_sink(client_.get());
        // BARs and decode, as the guest's firmware would.
        vgpu_.config_write(0x10, AccessSize::dword(), kBar0 & 0xFFFFFFFF);
        vgpu_.config_write(0x14, AccessSize::dword(), kBar0 >> 32);
        vgpu_.config_write(0x18, AccessSize::dword(), kBar2 & 0xFFFFFFFF);
        vgpu_.config_write(0x1C, AccessSize::dword(), kBar2 >> 32);
        vgpu_.config_write(0x04, AccessSize::word(), 0x0006);
        gm_next_ = vgpu_.config().hidden.base.value();
    }
    ~Guest() {
        client_.reset();  // waits for anything still on the GPU
        vgpu_.set_workload_sink(nullptr);
    }

    static VgpuConfig config(unsigned n, uint32_t weight, uint32_t cap) {
        VgpuConfig c;
        c.name = "guest" + std::to_string(n);
        c.vgt_id = n + 1;
        c.mappable = {GmAddr{MiB(128) + n * MiB(16)}, MiB(16)};
        c.hidden = {GmAddr{GiB(1) + n * MiB(128)}, MiB(128)};
        c.ggtt_strategy = GgttStrategy::Trap;
        c.weight = weight;
        c.cap_percent = cap;
        return c;
    }

    Vgpu& vgpu() { return vgpu_; }
    MemoryHypervisor& hv() { return hv_; }
    exec::Scheduler::Client& client() { return *client_; }

    // Registers, as the guest's CPU reaches them.
    void wr(uint32_t offset, uint32_t v) {
        require(vgpu_.mmio_write(GuestPhysAddr{kBar0 + offset}, AccessSize::dword(), v) ==
                    TrapResult::Handled,
                "register write refused");
    }
    uint32_t rd(uint32_t offset) {
        return static_cast<uint32_t>(
            vgpu_.mmio_read(GuestPhysAddr{kBar0 + offset}, AccessSize::dword()).value);
    }

    // `pages` fresh RAM pages mapped at the next GM address of the hidden slice.
    uint64_t gm_alloc(uint64_t pages) {
        const uint64_t gm = gm_next_;
        for (uint64_t i = 0; i < pages; ++i) {
            const uint64_t gfn = gfn_next_++;
            map_gm(gm + i * kPageSize, gfn);
        }
        gm_next_ += pages * kPageSize;
        return gm;
    }
    void map_gm(uint64_t gm, uint64_t gfn) {
        const uint64_t pte = gfn << kPageShift | 1;
        const uint64_t at = kBar0 + MiB(8) + (gm >> kPageShift) * 8;
        require(
            vgpu_.mmio_write(GuestPhysAddr{at}, AccessSize::qword(), pte) == TrapResult::Handled,
            "GGTT write refused");
        gm_to_gfn_[gm >> kPageShift] = gfn;
    }
    // RAM pages not in the GGTT (page tables, PPGTT data); guest-physical address.
    uint64_t ram_alloc(uint64_t pages) {
        const uint64_t gfn = gfn_next_;
        gfn_next_ += pages;
        return gfn << kPageShift;
    }
    std::byte* ram(uint64_t gpa) { return hv_.ram.data() + gpa; }
    std::byte* cpu(uint64_t gm) {
        return ram(gm_to_gfn_.at(gm >> kPageShift) << kPageShift | (gm & kPageMask));
    }
    void poke(uint64_t gm, uint32_t v) { std::memcpy(cpu(gm), &v, 4); }
    uint32_t peek(uint64_t gm) {
        uint32_t v = 0;
        std::memcpy(&v, cpu(gm), 4);
        return v;
    }
    void poke_ram(uint64_t gpa, uint64_t v) { std::memcpy(ram(gpa), &v, 8); }

    // §4.3 enable_execlists plus interrupts, as i915 does per engine.
    void enable_engine(exec::Engine e) {
        const uint32_t base = exec::desc(e).base;
        wr(base + exec::kRingHwstam, 0xFFFFFFFF);
        wr(base + exec::kRingModeGen7, exec::kRunListEnable << 16 | exec::kRunListEnable);
        wr(base + exec::kRingMiMode, exec::kStopRing << 16);
        hwsp_[exec::index(e)] = gm_alloc(1);
        wr(base + exec::kRingHwsPga, static_cast<uint32_t>(hwsp_[exec::index(e)]));
        const uint32_t events = kIrqUserInterrupt | kIrqContextSwitch | kIrqCsError;
        wr(base + exec::kRingImr, ~events);
        const uint32_t bank = static_cast<uint32_t>(exec::desc(e).bank) * 0x10;
        wr(0x44304 + bank, rd(0x44304 + bank) & ~(events << exec::desc(e).irq_shift));
        wr(0x4430C + bank, rd(0x4430C + bank) | events << exec::desc(e).irq_shift);
        wr(0x44200, 1u << 31);
        wr(base + exec::kCsbPtr, 0xFFFF0000u | 5u << 8 | 5u);
        poke(hwsp_[exec::index(e)] + exec::kHwspCsbWritePtrByte, 5);
        csb_head_[exec::index(e)] = 5;
    }

    GuestContext make_context(exec::Engine e, uint32_t ctx_id, uint64_t pml4 = 0) {
        GuestContext c{e,
                       gm_alloc(exec::desc(e).context_pages),
                       gm_alloc(1),
                       4096,
                       0,
                       ctx_id,
                       pml4 != 0 ? exec::kDescLegacy64 : exec::kDescLegacy32};
        const uint64_t state = c.lrca + exec::kLrcStatePage * kPageSize;
        const uint32_t base = exec::desc(e).base;
        auto reg_value = [&](uint32_t dw, uint32_t reg, uint32_t value) {
            poke(state + (dw - 1) * 4, base + reg);
            poke(state + dw * 4, value);
        };
        poke(state + 4, 0x11000000 | 1u << 12 | (2 * 14 - 1));  // LRI header, force posted
        reg_value(exec::kCtxRingHead, exec::kRingHead, 0);
        reg_value(exec::kCtxRingTail, exec::kRingTail, 0);
        reg_value(exec::kCtxRingStart, exec::kRingStart, static_cast<uint32_t>(c.ring));
        reg_value(exec::kCtxRingCtl, exec::kRingCtl, (c.ring_bytes - 4096) | exec::kRingCtlValid);
        reg_value(exec::ctx_pdp_udw(0), 0x274, static_cast<uint32_t>(pml4 >> 32));
        reg_value(exec::ctx_pdp_ldw(0), 0x270, static_cast<uint32_t>(pml4));
        return c;
    }

    void emit(GuestContext& c, std::initializer_list<uint32_t> dws) {
        emit(c, std::span<const uint32_t>(dws.begin(), dws.size()));
    }
    void emit(GuestContext& c, std::span<const uint32_t> dws) {
        for (const uint32_t v : dws) {
            poke(c.ring + c.tail, v);
            c.tail = (c.tail + 4) % c.ring_bytes;
        }
        if (c.tail % 8 != 0) {
            poke(c.ring + c.tail, native::kMiNoop);
            c.tail = (c.tail + 4) % c.ring_bytes;
        }
    }
    // A GGTT batch in fresh pages holding `dws`.
    uint64_t batch(std::initializer_list<uint32_t> dws) {
        return batch(std::span<const uint32_t>(dws.begin(), dws.size()));
    }
    uint64_t batch(std::span<const uint32_t> dws) {
        const uint64_t pages = (dws.size() * 4 + kPageSize - 1) / kPageSize;
        const uint64_t gm = gm_alloc(pages);
        uint64_t at = gm;
        for (const uint32_t v : dws) {
            poke(at, v);
            at += 4;
        }
        return gm;
    }

    uint64_t descriptor(const GuestContext& c) const {
        return uint64_t{c.ctx_id} << 32 | c.lrca | c.addr_mode << exec::kDescAddrModeShift |
               exec::kDescValid;
    }
    void submit(GuestContext& c0, GuestContext* c1 = nullptr) {
        const uint32_t elsp = exec::desc(c0.engine).base + exec::kRingElsp;
        uint64_t d1 = 0;
        if (c1 != nullptr) {
            poke(c1->lrca + kPageSize + exec::kCtxRingTail * 4, c1->tail);
            d1 = descriptor(*c1);
        }
        poke(c0.lrca + kPageSize + exec::kCtxRingTail * 4, c0.tail);
        const uint64_t d0 = descriptor(c0);
        wr(elsp, static_cast<uint32_t>(d1 >> 32));
        wr(elsp, static_cast<uint32_t>(d1));
        wr(elsp, static_cast<uint32_t>(d0 >> 32));
        wr(elsp, static_cast<uint32_t>(d0));
    }
    uint32_t ring_head_in_image(const GuestContext& c) {
        return peek(c.lrca + kPageSize + exec::kCtxRingHead * 4);
    }

    // New CSB entries from the status page, as i915 reads them (§4.5).
    std::vector<uint64_t> read_csb(exec::Engine e) {
        const unsigned i = exec::index(e);
        std::vector<uint64_t> out;
        const uint32_t tail = peek(hwsp_[i] + exec::kHwspCsbWritePtrByte);
        while (csb_head_[i] != tail) {
            csb_head_[i] = (csb_head_[i] + 1) % exec::kCsbEntries;
            const uint64_t at = hwsp_[i] + exec::kHwspCsbByte + csb_head_[i] * 8;
            out.push_back(uint64_t{peek(at + 4)} << 32 | peek(at));
        }
        return out;
    }

    // Hands finished workloads back to the vGPU (on this, the vGPU's thread)
    // until `done()` holds; false after kWait.
    template <class Pred>
    bool pump_until(Pred done) {
        const auto deadline = std::chrono::steady_clock::now() + kWait;
        for (;;) {
            std::vector<exec::Workload*> got;
            {
                std::unique_lock lock(mutex_);
                if (box_.empty() && !done()) {
                    cv_.wait_until(lock, deadline, [&] { return !box_.empty(); });
                }
                got.swap(box_);
            }
            for (exec::Workload* w : got) {
                vgpu_.workload_done(w);
            }
            if (done()) {
                return true;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                return false;
            }
        }
    }
    // Waits until `n` workloads in all have retired (any outcome).
    bool wait_retired(uint64_t n) {
        return pump_until([&] {
            const exec::ExeclistCounters& c = *vgpu_.execlist_counters();
            return c.completed + c.rejected + c.faulted + c.cancelled >= n;
        });
    }
    uint32_t gt_iir(exec::Engine e) {
        return rd(0x44308 + static_cast<uint32_t>(exec::desc(e).bank) * 0x10) >>
                   exec::desc(e).irq_shift &
               0xFFFF;
    }

private:
    World& world_;
    MemoryHypervisor hv_;
    TablePins pins_;
    Vgpu vgpu_;
    std::unique_ptr<exec::Scheduler::Client> client_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<exec::Workload*> box_;
    uint64_t gm_next_ = 0;
    uint64_t gfn_next_ = 0x10;
    std::map<uint64_t, uint64_t> gm_to_gfn_;
    std::array<uint64_t, exec::kEngines> hwsp_{};
    std::array<uint32_t, exec::kEngines> csb_head_{};
};

}  // namespace xengt::gpu::mediated
