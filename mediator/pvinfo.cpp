#include "mediator/pvinfo.hpp"

#include <limits>

namespace xengt::mediator {
namespace {

using namespace pvinfo;

void put(mmio::MmioContext& ctx, uint32_t field, uint32_t value) {
    ctx.vreg(kPvinfoBase + field) = value;
}

// PVINFO fields are u32; a GM range or fence count that does not fit is a
// host configuration error, reported once here.
uint32_t narrow(mmio::MmioContext& ctx, const char* what, uint64_t value) {
    if (value > std::numeric_limits<uint32_t>::max()) {
        XENGT_LOG(LogLevel::Error, ctx.log.subject(),
                  "PVINFO %s 0x%llx does not fit 32 bits; truncated", what,
                  static_cast<unsigned long long>(value));
    }
    return static_cast<uint32_t>(value);
}

// Fields the guest owns: display_ready, the cursor hotspots, pdp[] and the
// execlist context descriptor (g2v_notify is validated separately).
bool guest_writable(uint32_t field) {
    return field == kDisplayReady || field == kCursorXHot || field == kCursorYHot ||
           (field >= kPdp && field < kGuestFieldsEnd);
}

}  // namespace

void pvinfo_populate(mmio::MmioContext& ctx, const VgpuConfig& config) {
    put(ctx, kMagic, static_cast<uint32_t>(kMagicValue));
    put(ctx, kMagic + 4, static_cast<uint32_t>(kMagicValue >> 32));
    put(ctx, kVersionMajor, kVersionMajorValue | (uint32_t{kVersionMinorValue} << 16));
    put(ctx, kVgtId, config.vgt_id);
    // No HUGE_GTT (bit 4) yet: the GGTT/PPGTT shadowing handles 4 KiB pages only.
    put(ctx, kVgtCaps, kCapsFullPpgtt | kCapsHwspEmulation);
    put(ctx, kMappableBase, narrow(ctx, "mappable base", config.mappable.base.value()));
    put(ctx, kMappableSize, narrow(ctx, "mappable size", config.mappable.size));
    put(ctx, kHiddenBase, narrow(ctx, "hidden base", config.hidden.base.value()));
    put(ctx, kHiddenSize, narrow(ctx, "hidden size", config.hidden.size));
    put(ctx, kFenceNum, config.fences);
    put(ctx, kCursorXHot, kCursorHotUnset);
    put(ctx, kCursorYHot, kCursorHotUnset);
}

uint32_t pvinfo_read(mmio::MmioContext& ctx, uint32_t offset) {
    // GVT-g requires a guest to have read the page before it may enable
    // PPGTT/execlists; remember that it did.
    ctx.pvinfo.pv_aware = true;
    return ctx.vreg(offset);
}

TrapResult pvinfo_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t /*byte_mask*/) {
    const uint32_t field = offset - kPvinfoBase;
    if (field >= kRsv5 && field < kRsv5End) {
        // Old guests asked for more resources here; GVT-g takes any write as
        // "insufficient resource" and fails the vGPU safe.
        XENGT_GUEST_LOG(ctx.log, LogLevel::Warn,
                        "PVINFO +0x%03x: insufficient resource request (0x%08x) rejected", field,
                        value);
        return TrapResult::Rejected;
    }
    if (field == kG2vNotify) {
        if (value == 0 || value >= kG2vMax) {
            XENGT_GUEST_LOG(ctx.log, LogLevel::Warn, "PVINFO g2v_notify %u unknown; rejected",
                            value);
            return TrapResult::Rejected;
        }
        ++ctx.pvinfo.g2v_counts[value];
        ctx.vreg(offset) = value;
        if (ctx.events != nullptr) {
            uint64_t pdp[4];
            for (uint32_t i = 0; i < 4; ++i) {
                const uint32_t at = kPvinfoBase + kPdp + 8 * i;
                pdp[i] = uint64_t{ctx.vreg(at + 4)} << 32 | ctx.vreg(at);
            }
            if (!ctx.events->g2v_notify(value, pdp)) {
                return TrapResult::Rejected;
            }
        }
        return TrapResult::Handled;
    }
    if (guest_writable(field)) {
        ctx.vreg(offset) = value;
        if (field == kDisplayReady && ctx.events != nullptr) {
            ctx.events->display_changed();  // the guest's display may be shown now
        }
        return TrapResult::Handled;
    }
    XENGT_GUEST_LOG(ctx.log, LogLevel::Warn,
                    "PVINFO +0x%03x is not guest-writable; write 0x%08x rejected", field, value);
    return TrapResult::Rejected;
}

}  // namespace xengt::mediator
