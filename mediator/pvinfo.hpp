// The PVINFO page: how a guest i915 learns it runs on a GVT-g vGPU, which
// slices of graphics memory are its own, and how it notifies the host.
//
// Layout per i915_pvinfo.h (intel-gpu.md §9, gvtg.md §3.2). The lower half of
// the page is host→guest and read-only; the upper half holds the few fields
// the guest writes. The page's bytes live in the register file's vregs.
#pragma once

#include <array>
#include <cstdint>

#include "mediator/mmio/mmio_context.hpp"
#include "mediator/trap.hpp"
#include "mediator/vgpu.hpp"

namespace xengt::mediator {

// BAR0 offset and size of the page (struct vgt_if is exactly 4 KiB).
inline constexpr uint32_t kPvinfoBase = 0x78000;
inline constexpr uint32_t kPvinfoSize = 0x1000;

namespace pvinfo {
// Field offsets within the page.
inline constexpr uint32_t kMagic = 0x000;         // u64
inline constexpr uint32_t kVersionMajor = 0x008;  // u16
inline constexpr uint32_t kVersionMinor = 0x00A;  // u16
inline constexpr uint32_t kVgtId = 0x00C;
inline constexpr uint32_t kVgtCaps = 0x010;
inline constexpr uint32_t kMappableBase = 0x040;  // avail_rs.mappable_gmadr
inline constexpr uint32_t kMappableSize = 0x044;
inline constexpr uint32_t kHiddenBase = 0x048;  // avail_rs.nonmappable_gmadr
inline constexpr uint32_t kHiddenSize = 0x04C;
inline constexpr uint32_t kFenceNum = 0x050;
inline constexpr uint32_t kDisplayReady = 0x804;
inline constexpr uint32_t kRsv5 = 0x808;  // rsv5[4]: once the guest's resource request
inline constexpr uint32_t kRsv5End = 0x818;
inline constexpr uint32_t kG2vNotify = 0x818;
inline constexpr uint32_t kCursorXHot = 0x830;
inline constexpr uint32_t kCursorYHot = 0x834;
inline constexpr uint32_t kPdp = 0x838;  // pdp[0..3].lo/hi, then the context descriptor
inline constexpr uint32_t kExeclistDescLo = 0x858;
inline constexpr uint32_t kExeclistDescHi = 0x85C;
inline constexpr uint32_t kGuestFieldsEnd = 0x860;

// "vGTvGTvG" as a little-endian u64: what i915 checks to detect a vGPU.
inline constexpr uint64_t kMagicValue = 0x4776544776544776;
// Interface version 1.0; i915 requires major >= 1.
inline constexpr uint16_t kVersionMajorValue = 1;
inline constexpr uint16_t kVersionMinorValue = 0;
// vgt_caps bit 2: full (48-bit) PPGTT, which modern i915 requires on a vGPU.
inline constexpr uint32_t kCapsFullPpgtt = 1u << 2;
// vgt_caps bit 3: the host emulates CSB updates in the HWSP (needed for execlists).
inline constexpr uint32_t kCapsHwspEmulation = 1u << 3;
// Cursor hotspots start as "unset" (UINT_MAX), as GVT-g initialises them.
inline constexpr uint32_t kCursorHotUnset = 0xFFFFFFFF;
// g2v_notify codes 1..7 exist (1 is a legacy no-op, 2..7 PPGTT/context
// create/destroy); VGT_G2V_MAX is 8.
inline constexpr uint32_t kG2vMax = 8;
inline constexpr uint32_t kG2vPpgttL3Create = 2;
inline constexpr uint32_t kG2vPpgttL3Destroy = 3;
inline constexpr uint32_t kG2vPpgttL4Create = 4;
inline constexpr uint32_t kG2vPpgttL4Destroy = 5;
}  // namespace pvinfo

struct PvInfoState {
    bool pv_aware = false;                               // the guest has read the page
    std::array<uint64_t, pvinfo::kG2vMax> g2v_counts{};  // per accepted g2v_notify code
};

// Writes the host→guest fields into the register file.
void pvinfo_populate(mmio::MmioContext& ctx, const VgpuConfig& config);

// MMIO table handlers for the page (dword granular; `offset` is in BAR0).
uint32_t pvinfo_read(mmio::MmioContext& ctx, uint32_t offset);
TrapResult pvinfo_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t byte_mask);

}  // namespace xengt::mediator
