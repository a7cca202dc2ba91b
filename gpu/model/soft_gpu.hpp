// SoftGpu: a software Intel Gen9 (Skylake GT2) GPU behind the GpuPort interface.
//
// It follows the hardware facts of /work/shared/docs/intel-gpu.md so that a
// driver written from them works on it unchanged: a BAR0 register file with
// hardware register semantics (register_table.hpp), the GGTT (also decoded at
// BAR0 + 8 MiB), the BAR2 aperture translated through the GGTT into machine
// memory, and the two-level interrupt scheme delivering an MSI callback.
//
// Thread safety: every access takes one mutex; the interrupt handler is
// always called after it has been released, on the thread that caused the
// interrupt.
#pragma once

#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <thread>

#include "gpu/machine_memory.hpp"
#include "gpu/model/model_state.hpp"
#include "gpu/port.hpp"

namespace xengt::gpu::model {

// Skylake GT2 desktop (§1.1, §1.2): 0x1912 rev 6, BAR0 16 MiB, 256 MiB
// aperture, 4 GiB GGTT (1M entries), no stolen memory.
GpuIdentity skylake_gt2_identity();

struct SoftGpuConfig {
    GpuIdentity identity = skylake_gt2_identity();
    // Hang detection (the doc has no hardware watchdog; this is the model's):
    // a context that executes this many commands without reaching its ring
    // tail makes no forward progress and is reported hung. 0 disables it.
    uint64_t watchdog_commands = uint64_t{1} << 24;
};

class SoftGpu final : public GpuPort {
public:
    SoftGpu(MachineMemory& memory, SoftGpuConfig config = {});
    ~SoftGpu() override;  // stops the engine threads
    SoftGpu(const SoftGpu&) = delete;
    SoftGpu& operator=(const SoftGpu&) = delete;

    // GpuPort
    const GpuIdentity& identity() const override { return config_.identity; }
    uint32_t read32(MmioOffset offset) override;
    void write32(MmioOffset offset, uint32_t value) override;
    uint64_t read64(MmioOffset offset) override;
    void write64(MmioOffset offset, uint64_t value) override;
    GgttEntry read_ggtt(uint64_t index) override;
    void write_ggtt(uint64_t index, GgttEntry entry) override;
    void set_interrupt_handler(std::function<void()> handler) override;
    bool reset_engine(Engine engine) override;
    // Plane 1 of pipe A as scanned out (display.hpp: capture_plane_a).
    std::optional<PlaneCapture> capture_primary_plane() override;

    // One vertical blank of every enabled pipe (§7.4): frame counter, flip
    // completion, vblank interrupt. The model has no timer thread: its owner
    // (tests, later a refresh timer) calls this at the refresh rate it wants.
    void vblank();

    // GGTT translation of a graphics address to a host physical address;
    // nullopt for a non-present entry or an address beyond the GGTT.
    std::optional<uint64_t> translate(GmAddr address);

    // CPU access through BAR2. False (and nothing done) if the range is not
    // inside the aperture. Pages whose GGTT entry is non-present or points
    // outside machine memory read as 0 and drop writes, counted as faults.
    bool aperture_read(uint64_t offset, std::span<std::byte> out);
    bool aperture_write(uint64_t offset, std::span<const std::byte> in);

    // Model-internal event source (engines, tests): an event on GT bank `bank`.
    void raise_gt_interrupt(unsigned bank, uint32_t bits);

    // Observability for tests and diagnostics.
    uint64_t tlb_invalidations();
    uint64_t aperture_faults();
    uint64_t ggtt_out_of_range();
    uint64_t unclaimed_mmio();
    uint64_t engine_resets(Engine engine);
    uint64_t interrupts_delivered();
    // Engine execution: errors (any cause), watchdog hangs, the last error,
    // whether the engine is stopped by one (until reset), commands executed.
    uint64_t engine_errors(Engine engine);
    uint64_t engine_hangs(Engine engine);
    EngineError engine_last_error(Engine engine);
    bool engine_halted(Engine engine);
    uint64_t engine_commands(Engine engine);

private:
    uint32_t read32_locked(uint32_t offset);
    void write32_locked(uint32_t offset, uint32_t value);
    // Sends the MSIs counted while the lock was held; call with `lock` held, returns unlocked.
    void deliver_interrupts(std::unique_lock<std::mutex>& lock);
    uint64_t ggtt_entries() const;
    template <class Span, class Copy>
    bool aperture_access(uint64_t offset, Span data, Copy copy);
    void engine_thread(unsigned engine);
    template <class F>
    auto engine_query(Engine engine, F f);

    MachineMemory& memory_;
    SoftGpuConfig config_;

    std::mutex mutex_;
    ModelState state_;
    ZeroedArray<uint64_t> ggtt_;
    std::function<void()> handler_;
    uint64_t aperture_faults_ = 0;
    uint64_t ggtt_out_of_range_ = 0;
    uint64_t unclaimed_mmio_ = 0;
    uint64_t interrupts_delivered_ = 0;
    // Engine threads wait on `work_` for a register write (ELSP, reset
    // release, STOP_RING clear); `stopping_` ends them.
    std::condition_variable work_;
    bool stopping_ = false;
    std::array<std::thread, kEngineCount> engine_threads_;
};

}  // namespace xengt::gpu::model
