// The scheduler's engine port over a GPU's registers: the host-driver half of
// execlist submission (intel-gpu.md §4.3–§4.6, §6), as i915 does it on bare
// metal. Each engine gets a hardware status page in the host's share of the
// GGTT; contexts go in through ELSP as one- or two-element lists; completion
// is read from the status page's CSB copy; a CS error interrupt reports a
// context the engine stopped on.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <mutex>

#include "gpu/port.hpp"
#include "mediator/exec/engine_port.hpp"
#include "mediator/gtt/host_frames.hpp"
#include "mediator/gtt/physical_ggtt.hpp"

namespace xengt::gpu {

class ExeclistEngines final : public mediator::exec::EnginePort {
public:
    // Status pages go at host GM `hwsp_gm` (4 pages, page aligned). Enables
    // execlists and interrupts on every engine and takes the GPU's
    // interrupt handler. Throws std::runtime_error without pages.
    ExeclistEngines(GpuPort& gpu, mediator::HostPagePool& pool, mediator::PhysicalGgtt& ggtt,
                    uint64_t hwsp_gm);
    ~ExeclistEngines() override;  // releases the handler and the pages
    ExeclistEngines(const ExeclistEngines&) = delete;
    ExeclistEngines& operator=(const ExeclistEngines&) = delete;

    unsigned depth() const override { return 2; }
    void start(mediator::exec::Engine e, std::span<const uint64_t> descriptors) override;
    size_t collect(mediator::exec::Engine e, std::span<mediator::exec::EngineEvent> out) override;
    void reset(mediator::exec::Engine e) override;
    uint32_t read(uint32_t offset) override { return gpu_.read32(MmioOffset{offset}); }
    void write(uint32_t offset, uint32_t value) override {
        gpu_.write32(MmioOffset{offset}, value);
    }
    void set_notify(std::function<void()> notify) override;

    uint64_t interrupts() const { return interrupts_.load(std::memory_order_relaxed); }

private:
    void enable(unsigned e);
    void on_interrupt();

    GpuPort& gpu_;
    mediator::HostPagePool& pool_;
    mediator::PhysicalGgtt& ggtt_;
    uint64_t hwsp_gm_;
    std::array<mediator::HostPage, mediator::exec::kEngines> hwsp_{};
    std::array<uint32_t, mediator::exec::kEngines> csb_head_{};
    std::array<std::atomic<bool>, mediator::exec::kEngines> error_{};
    std::mutex notify_mutex_;
    std::function<void()> notify_;
    std::atomic<uint64_t> interrupts_{0};
};

}  // namespace xengt::gpu
