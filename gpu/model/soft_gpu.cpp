#include "gpu/model/soft_gpu.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "gpu/model/display.hpp"
#include "gpu/model/engine.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"
#include "gpu/model/register_table.hpp"

namespace xengt::gpu::model {
namespace {

// How many status polls reset_engine allows; the model completes at once, so
// running out means the handshake is broken, not slow.
constexpr int kResetPolls = 100;
// Commands an engine executes before it lets other threads at the lock.
constexpr unsigned kEngineBurst = 32;

}  // namespace

GpuIdentity skylake_gt2_identity() {
    GpuIdentity id;
    id.device_id = hw::kSklGt2DeviceId;
    id.revision = hw::kSklGt2Revision;
    id.mmio_bar_bytes = hw::kMmioBarBytes;
    id.aperture_bytes = hw::kApertureBytes;
    id.ggtt_bytes = hw::kGgttEntries * kPageSize;
    id.stolen_bytes = 0;
    return id;
}

SoftGpu::SoftGpu(MachineMemory& memory, SoftGpuConfig config)
    : memory_(memory), config_(std::move(config)), ggtt_(config_.identity.ggtt_bytes / kPageSize) {
    reset_registers(state_, 0, hw::kRegisterFileBytes);
    for (unsigned e = 0; e < kEngineCount; ++e) {
        engine_threads_[e] = std::thread([this, e] { engine_thread(e); });
    }
}

SoftGpu::~SoftGpu() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    work_.notify_all();
    for (std::thread& t : engine_threads_) {
        t.join();
    }
}

void SoftGpu::engine_thread(unsigned e) {
    const GpuMemory mem{memory_, ggtt_.get(), ggtt_.size()};
    std::unique_lock lock(mutex_);
    unsigned burst = 0;
    while (!stopping_) {
        if (!engine_step(state_, mem, e, config_.watchdog_commands)) {
            work_.wait(lock);  // a register write wakes it
            continue;
        }
        if (state_.msi_pending != 0) {
            deliver_interrupts(lock);
            lock.lock();
        } else if (++burst % kEngineBurst == 0) {
            lock.unlock();  // a busy engine must not starve the CPU's register accesses
            std::this_thread::yield();
            lock.lock();
        }
    }
}

uint64_t SoftGpu::ggtt_entries() const {
    return ggtt_.size();
}

// --- BAR0 ---------------------------------------------------------------

uint32_t SoftGpu::read32_locked(uint32_t offset) {
    if (offset % 4 != 0) {
        ++unclaimed_mmio_;  // the model decodes dword accesses only
        return 0;
    }
    if (offset < hw::kRegisterFileBytes) {
        return register_read(state_, offset);
    }
    if (offset >= hw::kGgttWindowOffset && offset - hw::kGgttWindowOffset < hw::kGgttWindowBytes) {
        // §2.2: entry i at BAR0 + 8 MiB + 8i; a dword is one half of it.
        const uint64_t rel = offset - hw::kGgttWindowOffset;
        const uint64_t index = rel / 8;
        if (index >= ggtt_entries()) {
            ++ggtt_out_of_range_;
            return 0;
        }
        return static_cast<uint32_t>(ggtt_.get()[index] >> (rel % 8 * 8));
    }
    // §1.2: BAR0 between 2 MiB and 8 MiB decodes to nothing the doc knows.
    ++unclaimed_mmio_;
    return 0;
}

void SoftGpu::write32_locked(uint32_t offset, uint32_t value) {
    if (offset % 4 != 0) {
        ++unclaimed_mmio_;
        return;
    }
    if (offset < hw::kRegisterFileBytes) {
        register_write(state_, offset, value);
        return;
    }
    if (offset >= hw::kGgttWindowOffset && offset - hw::kGgttWindowOffset < hw::kGgttWindowBytes) {
        // §2.3: a 64-bit PTE may arrive as two dword writes; each updates its half.
        const uint64_t rel = offset - hw::kGgttWindowOffset;
        const uint64_t index = rel / 8;
        if (index >= ggtt_entries()) {
            ++ggtt_out_of_range_;
            return;
        }
        const unsigned shift = static_cast<unsigned>(rel % 8 * 8);
        uint64_t& entry = ggtt_.get()[index];
        entry = (entry & ~(uint64_t{0xFFFFFFFF} << shift)) | (uint64_t{value} << shift);
        return;
    }
    ++unclaimed_mmio_;
}

uint32_t SoftGpu::read32(MmioOffset offset) {
    std::unique_lock lock(mutex_);
    return read32_locked(offset.value());
}

void SoftGpu::write32(MmioOffset offset, uint32_t value) {
    std::unique_lock lock(mutex_);
    write32_locked(offset.value(), value);
    work_.notify_all();  // the write may give an engine work
    deliver_interrupts(lock);
}

uint64_t SoftGpu::read64(MmioOffset offset) {
    // Two dword accesses, low dword first.
    const uint64_t low = read32(offset);
    const uint64_t high = read32(MmioOffset{offset.value() + 4});
    return low | high << 32;
}

void SoftGpu::write64(MmioOffset offset, uint64_t value) {
    write32(offset, static_cast<uint32_t>(value));
    write32(MmioOffset{offset.value() + 4}, static_cast<uint32_t>(value >> 32));
}

// --- GGTT ---------------------------------------------------------------

GgttEntry SoftGpu::read_ggtt(uint64_t index) {
    std::lock_guard lock(mutex_);
    if (index >= ggtt_entries()) {
        ++ggtt_out_of_range_;
        return {};
    }
    return {ggtt_.get()[index]};
}

void SoftGpu::write_ggtt(uint64_t index, GgttEntry entry) {
    std::lock_guard lock(mutex_);
    if (index >= ggtt_entries()) {
        ++ggtt_out_of_range_;
        return;
    }
    ggtt_.get()[index] = entry.raw;  // the table is memory: it keeps all 64 bits
}

std::optional<uint64_t> SoftGpu::translate(GmAddr address) {
    std::lock_guard lock(mutex_);
    const uint64_t index = address.value() >> kPageShift;
    if (index >= ggtt_entries()) {
        return std::nullopt;
    }
    const GgttEntry entry{ggtt_.get()[index]};
    if (!entry.present()) {  // §2.1 bit 0
        return std::nullopt;
    }
    return (entry.frame().value() << kPageShift) | (address.value() & kPageMask);
}

// --- Aperture (BAR2) ------------------------------------------------------

template <class Span, class Copy>
bool SoftGpu::aperture_access(uint64_t offset, Span data, Copy copy) {
    const uint64_t size = config_.identity.aperture_bytes;
    if (offset > size || data.size() > size - offset) {
        return false;
    }
    std::lock_guard lock(mutex_);
    size_t done = 0;
    while (done < data.size()) {
        // §1.2: BAR2 offset x is GGTT address x; translate one page at a time.
        const uint64_t gm = offset + done;
        const size_t chunk = static_cast<size_t>(
            std::min<uint64_t>(kPageSize - (gm & kPageMask), data.size() - done));
        const uint64_t index = gm >> kPageShift;
        const GgttEntry entry{index < ggtt_entries() ? ggtt_.get()[index] : 0};
        std::byte* frame = entry.present() ? memory_.frame(entry.frame()) : nullptr;
        if (frame == nullptr) {
            // Doc silent: a fault reads 0 and drops the write.
            ++aperture_faults_;
            copy(nullptr, data.subspan(done, chunk));
        } else {
            copy(frame + (gm & kPageMask), data.subspan(done, chunk));
        }
        done += chunk;
    }
    return true;
}

bool SoftGpu::aperture_read(uint64_t offset, std::span<std::byte> out) {
    return aperture_access(offset, out, [](const std::byte* src, std::span<std::byte> dst) {
        if (src == nullptr) {
            std::fill(dst.begin(), dst.end(), std::byte{0});
        } else {
            std::memcpy(dst.data(), src, dst.size());
        }
    });
}

bool SoftGpu::aperture_write(uint64_t offset, std::span<const std::byte> in) {
    return aperture_access(offset, in, [](std::byte* dst, std::span<const std::byte> src) {
        if (dst != nullptr) {
            std::memcpy(dst, src.data(), src.size());
        }
    });
}

// --- Interrupts -----------------------------------------------------------

void SoftGpu::set_interrupt_handler(std::function<void()> handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
}

void SoftGpu::raise_gt_interrupt(unsigned bank, uint32_t bits) {
    std::unique_lock lock(mutex_);
    raise_gt_event(state_, bank, bits);
    deliver_interrupts(lock);
}

void SoftGpu::deliver_interrupts(std::unique_lock<std::mutex>& lock) {
    const uint64_t count = std::exchange(state_.msi_pending, 0);
    if (count == 0 || !handler_) {
        return;  // with no handler the MSI goes nowhere, as with MSI disabled
    }
    interrupts_delivered_ += count;
    const std::function<void()> handler = handler_;
    lock.unlock();  // the handler will touch registers: never call it locked
    for (uint64_t i = 0; i < count; ++i) {
        handler();
    }
}

// --- Display ------------------------------------------------------------------

std::optional<PlaneCapture> SoftGpu::capture_primary_plane() {
    std::lock_guard lock(mutex_);
    const GpuMemory mem{memory_, ggtt_.get(), ggtt_.size()};
    return capture_plane_a(state_, mem);
}

void SoftGpu::vblank() {
    std::unique_lock lock(mutex_);
    display_vblank(state_);
    deliver_interrupts(lock);
}

// --- Engine reset -----------------------------------------------------------

bool SoftGpu::reset_engine(Engine engine) {
    // Exactly what a driver does (§4.2, §10.3): request reset, wait for
    // ready-to-reset, pulse the engine's GDRST bit, wait for it to clear,
    // withdraw the request.
    const auto e = static_cast<unsigned>(engine);
    const MmioOffset reset_ctl{hw::kEngineBase[e] + hw::kRingResetCtl};
    const MmioOffset gdrst{hw::kGdrst};
    const uint32_t bit = hw::kGdrstEngineBit[e];

    write32(reset_ctl, hw::kResetRequest << 16 | hw::kResetRequest);
    bool ready = false;
    for (int i = 0; i < kResetPolls && !ready; ++i) {
        ready = (read32(reset_ctl) & hw::kReadyToReset) != 0;
    }
    bool done = false;
    if (ready) {
        write32(gdrst, bit);
        for (int i = 0; i < kResetPolls && !done; ++i) {
            done = (read32(gdrst) & bit) == 0;
        }
    }
    write32(reset_ctl, hw::kResetRequest << 16);
    return done;
}

// --- Counters ----------------------------------------------------------------

uint64_t SoftGpu::tlb_invalidations() {
    std::lock_guard lock(mutex_);
    return state_.tlb_invalidations;
}
uint64_t SoftGpu::aperture_faults() {
    std::lock_guard lock(mutex_);
    return aperture_faults_;
}
uint64_t SoftGpu::ggtt_out_of_range() {
    std::lock_guard lock(mutex_);
    return ggtt_out_of_range_;
}
uint64_t SoftGpu::unclaimed_mmio() {
    std::lock_guard lock(mutex_);
    return unclaimed_mmio_;
}
uint64_t SoftGpu::engine_resets(Engine engine) {
    std::lock_guard lock(mutex_);
    return state_.engine_resets[static_cast<unsigned>(engine)];
}
uint64_t SoftGpu::interrupts_delivered() {
    std::lock_guard lock(mutex_);
    return interrupts_delivered_;
}

template <class F>
auto SoftGpu::engine_query(Engine engine, F f) {
    std::lock_guard lock(mutex_);
    return f(state_.engines[static_cast<unsigned>(engine)]);
}
uint64_t SoftGpu::engine_errors(Engine engine) {
    return engine_query(engine, [](const EngineExec& ex) { return ex.errors; });
}
uint64_t SoftGpu::engine_hangs(Engine engine) {
    return engine_query(engine, [](const EngineExec& ex) { return ex.hangs; });
}
EngineError SoftGpu::engine_last_error(Engine engine) {
    return engine_query(engine, [](const EngineExec& ex) { return ex.error; });
}
bool SoftGpu::engine_halted(Engine engine) {
    return engine_query(engine, [](const EngineExec& ex) { return ex.halted; });
}
uint64_t SoftGpu::engine_commands(Engine engine) {
    return engine_query(engine, [](const EngineExec& ex) { return ex.commands; });
}

}  // namespace xengt::gpu::model
