// The workload half of Vgpu: ELSP writes into the virtual execlists, and
// what they need back from the vGPU (registers, interrupts, a GTT in step).
#include <array>

#include "mediator/irq/virtual_irq.hpp"
#include "mediator/vgpu_impl.hpp"

namespace xengt::mediator {

namespace {

uint32_t shadow_pages_per_engine(const VgpuConfig& c) {
    return c.execlists.windows * c.execlists.window_pages;
}

}  // namespace

void Vgpu::Impl::create_execlists() {
    if (!gpu || gpu->shadow_gm == 0 || config.execlists.windows == 0) {
        return;
    }
    gm_view = std::make_unique<exec::GuestMemoryView>(*ggtt_shadow, port);
    std::array<std::unique_ptr<exec::ShadowArena>, exec::kEngines> arenas;
    const uint64_t per_engine = uint64_t{shadow_pages_per_engine(config)} * kPageSize;
    for (unsigned e = 0; e < exec::kEngines; ++e) {
        arenas[e] = std::make_unique<exec::ShadowArena>(
            *gpu->pool, *gpu->ggtt, gpu->shadow_gm + e * per_engine, config.execlists.windows,
            config.execlists.window_pages);
    }
    cmd::ScanPolicy policy;
    policy.gm = {cmd::GmRange{config.mappable.base.value(), config.mappable.size},
                 cmd::GmRange{config.hidden.base.value(), config.hidden.size}};
    execlists = std::make_unique<exec::VirtualExeclists>(
        *this, log, *gm_view, ppgtt.get(), std::move(arenas), policy, config.execlists);
}

void Vgpu::Impl::elsp_write(unsigned engine, uint32_t value) {
    if (execlists && engine < exec::kEngines) {
        execlists->elsp_write(exec::kEngineDescs[engine].id, value);
    }
}

void Vgpu::Impl::raise(InterruptEvent event) {
    irq::raise(regs.context(), event);
}

void Vgpu::Impl::sync_before_submit() {
    sync_gtt();
    if (ppgtt) {
        ppgtt->sync();
    }
}

void Vgpu::Impl::reset_execlists(ResetScope scope) {
    if (!execlists) {
        return;
    }
    if (scope.kind == ResetScope::Kind::Device) {
        execlists->reset_all();
        return;
    }
    for (const exec::EngineDesc& d : exec::kEngineDescs) {
        if ((scope.mask & d.reset_mask) != 0) {
            execlists->reset(d.id);
        }
    }
}

uint64_t Vgpu::shadow_gm_bytes(const VgpuConfig& config) {
    return uint64_t{shadow_pages_per_engine(config)} * kPageSize * exec::kEngines;
}

void Vgpu::set_workload_sink(exec::WorkloadSink* sink) {
    if (impl_->execlists) {
        impl_->execlists->set_sink(sink);
    }
}

void Vgpu::workload_done(exec::Workload* w) {
    if (impl_->execlists) {
        impl_->execlists->on_done(w);
    }
}

const exec::ExeclistCounters* Vgpu::execlist_counters() const {
    return impl_->execlists ? &impl_->execlists->counters() : nullptr;
}

bool Vgpu::failsafe() const {
    return impl_->execlists && impl_->execlists->failsafe();
}

}  // namespace xengt::mediator
