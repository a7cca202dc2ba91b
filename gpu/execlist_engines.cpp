#include "gpu/execlist_engines.hpp"

#include <cstring>
#include <stdexcept>

namespace xengt::gpu {
namespace {

namespace exec = mediator::exec;

// §6.1 interrupt registers.
constexpr uint32_t kMasterIrq = 0x44200;
constexpr uint32_t kMasterIrqEnable = 1u << 31;
constexpr uint32_t kGtBankStride = 0x10;
constexpr uint32_t kGtImr = 0x44304;
constexpr uint32_t kGtIir = 0x44308;
constexpr uint32_t kGtIer = 0x4430C;
// Level-1 bits of the GT banks' halves (§6.1): RCS, BCS, VCS1, VCS2, VECS.
constexpr uint32_t kMasterGtBits = 0x4F;

unsigned gt_bank(exec::Engine e) {
    return static_cast<unsigned>(exec::desc(e).bank);  // Gt0..Gt3 are 0..3
}

// Engine events the host driver wants (§6.1): context switch, CS error.
constexpr uint32_t kEvents = mediator::kIrqContextSwitch | mediator::kIrqCsError;

uint64_t pte_for(HostFrame f) {
    return (f.value() << kPageShift & GgttEntry::kAddressMask) | GgttEntry::kPresent;
}

}  // namespace

ExeclistEngines::ExeclistEngines(GpuPort& gpu, mediator::HostPagePool& pool,
                                 mediator::PhysicalGgtt& ggtt, uint64_t hwsp_gm)
    : gpu_(gpu), pool_(pool), ggtt_(ggtt), hwsp_gm_(hwsp_gm) {
    for (unsigned e = 0; e < exec::kEngines; ++e) {
        const auto page = pool_.allocate();
        if (!page) {
            for (unsigned k = 0; k < e; ++k) {
                pool_.release(hwsp_[k].frame);
            }
            throw std::runtime_error("engine status pages: host page pool exhausted");
        }
        hwsp_[e] = *page;
        ggtt_.write((hwsp_gm_ >> kPageShift) + e, pte_for(page->frame));
    }
    ggtt_.flush();
    gpu_.set_interrupt_handler([this] { on_interrupt(); });
    for (unsigned e = 0; e < exec::kEngines; ++e) {
        enable(e);
    }
    write(kMasterIrq, kMasterIrqEnable);
}

ExeclistEngines::~ExeclistEngines() {
    gpu_.set_interrupt_handler(nullptr);
    for (unsigned e = 0; e < exec::kEngines; ++e) {
        ggtt_.write((hwsp_gm_ >> kPageShift) + e, 0);
    }
    ggtt_.flush();
    for (const mediator::HostPage& p : hwsp_) {
        pool_.release(p.frame);
    }
}

void ExeclistEngines::enable(unsigned i) {
    const exec::EngineDesc& d = exec::kEngineDescs[i];
    const uint32_t base = d.base;
    // §4.3 enable_execlists.
    write(base + exec::kRingHwstam, 0xFFFFFFFF);
    write(base + exec::kRingModeGen7, exec::kRunListEnable << 16 | exec::kRunListEnable);
    write(base + exec::kRingMiMode, exec::kStopRing << 16);
    write(base + exec::kRingHwsPga, static_cast<uint32_t>(hwsp_gm_ + i * kPageSize));
    (void)read(base + exec::kRingHwsPga);  // posting read
    write(base + exec::kRingImr, ~kEvents);
    const uint32_t bank = gt_bank(d.id) * kGtBankStride;
    const uint32_t bits = kEvents << d.irq_shift;
    write(kGtImr + bank, read(kGtImr + bank) & ~bits);
    write(kGtIer + bank, read(kGtIer + bank) | bits);
    // §4.5 reset_csb_pointers: both pointers at 5, the status page's too.
    write(base + exec::kCsbPtr, 0xFFFF0000u | 5u << 8 | 5u);
    const uint32_t five = 5;
    std::memcpy(hwsp_[i].data + exec::kHwspCsbWritePtrByte, &five, 4);
    csb_head_[i] = 5;
    error_[i].store(false, std::memory_order_relaxed);
}

void ExeclistEngines::set_notify(std::function<void()> notify) {
    std::lock_guard lock(notify_mutex_);
    notify_ = std::move(notify);
}

void ExeclistEngines::on_interrupt() {
    // gen8_irq_handler: master off, read level 1, ack each flagged GT IIR,
    // master back on.
    write(kMasterIrq, 0);
    const uint32_t level1 = read(kMasterIrq);
    if ((level1 & kMasterGtBits) != 0) {
        for (const exec::EngineDesc& d : exec::kEngineDescs) {
            const uint32_t iir_reg = kGtIir + gt_bank(d.id) * kGtBankStride;
            const uint32_t iir = read(iir_reg);
            const uint32_t mine = iir & (0xFFFFu << d.irq_shift);
            if (mine == 0) {
                continue;
            }
            write(iir_reg, mine);
            if ((mine >> d.irq_shift & mediator::kIrqCsError) != 0) {
                error_[exec::index(d.id)].store(true, std::memory_order_release);
            }
        }
    }
    write(kMasterIrq, kMasterIrqEnable);
    interrupts_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(notify_mutex_);
    if (notify_) {
        notify_();
    }
}

void ExeclistEngines::start(exec::Engine e, std::span<const uint64_t> descriptors) {
    const uint32_t elsp = exec::desc(e).base + exec::kRingElsp;
    const uint64_t el0 = descriptors.empty() ? 0 : descriptors[0];
    const uint64_t el1 = descriptors.size() > 1 ? descriptors[1] : 0;
    // §4.4: element 1 high, low, element 0 high, low; the last write submits.
    write(elsp, static_cast<uint32_t>(el1 >> 32));
    write(elsp, static_cast<uint32_t>(el1));
    write(elsp, static_cast<uint32_t>(el0 >> 32));
    write(elsp, static_cast<uint32_t>(el0));
}

size_t ExeclistEngines::collect(exec::Engine e, std::span<exec::EngineEvent> out) {
    const unsigned i = exec::index(e);
    size_t n = 0;
    if (!out.empty() && error_[i].exchange(false, std::memory_order_acquire)) {
        out[n++] = {exec::EngineEvent::Kind::Failed, 0};
    }
    // §4.5: entries up to the status page's write pointer, as i915 reads them.
    const std::byte* page = hwsp_[i].data;
    uint32_t tail = 0;
    std::memcpy(&tail, page + exec::kHwspCsbWritePtrByte, 4);
    std::atomic_thread_fence(std::memory_order_acquire);
    tail &= exec::kCsbWritePtrMask;
    while (n < out.size() && tail < exec::kCsbEntries && csb_head_[i] != tail) {
        csb_head_[i] = csb_head_[i] + 1 >= exec::kCsbEntries ? 0 : csb_head_[i] + 1;
        uint32_t entry[2];
        std::memcpy(entry, page + exec::kHwspCsbByte + csb_head_[i] * 8, 8);
        if ((entry[0] & exec::kCsbComplete) != 0) {
            out[n++] = {exec::EngineEvent::Kind::Completed, entry[1]};
        }
    }
    return n;
}

void ExeclistEngines::reset(exec::Engine e) {
    gpu_.reset_engine(static_cast<Engine>(exec::index(e)));
    enable(exec::index(e));
}

}  // namespace xengt::gpu
