// A vGPU's graphics memory as the guest sees it, for the workload path:
// guest GM addresses through the guest's own GGTT entries (GgttShadow), and
// PPGTT virtual addresses through the guest's page tables in its RAM. Every
// byte is copied through the hypervisor port; nothing here is trusted to
// stay put after it was read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/ppgtt_shadow.hpp"
#include "mediator/hypervisor_port.hpp"

namespace xengt::mediator::exec {

class GuestMemoryView {
public:
    GuestMemoryView(const GgttShadow& ggtt, HypervisorPort& hv) : ggtt_(ggtt), hv_(hv) {}

    // Guest GM (GGTT) access, split at pages. False if any page is not
    // mapped to the guest's RAM (nothing is trusted of a partial read).
    bool read_gm(uint64_t gm, std::span<std::byte> out) const;
    bool write_gm(uint64_t gm, std::span<const std::byte> in) const;

    // The guest-physical address PPGTT virtual address `va` maps under
    // `root` (intel-gpu.md §3.1, §3.2), walking the guest's own tables;
    // nullopt if any level is not present or is a huge entry (never
    // shadowed, so never reachable by the GPU either).
    std::optional<GuestPhysAddr> translate_ppgtt(const PpgttRoot& root, uint64_t va) const;

    // Reads through a PPGTT, split at pages.
    bool read_ppgtt(const PpgttRoot& root, uint64_t va, std::span<std::byte> out) const;

private:
    std::optional<GuestPhysAddr> gm_target(uint64_t gm) const;

    const GgttShadow& ggtt_;
    HypervisorPort& hv_;
};

}  // namespace xengt::mediator::exec
