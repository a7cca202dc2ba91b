#include "gpu/model/register_table.hpp"

#include <iterator>
#include <vector>

#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"
#include "mediator/base/register_rows.hpp"

namespace xengt::gpu::model {
namespace {

// Row factories keep the table one line per register.
constexpr RegRow plain(uint32_t offset, uint32_t size, const char* name, uint32_t reset) {
    return {offset, size, name, RegPolicy::Plain, reset, 0, nullptr, nullptr};
}
constexpr RegRow read_only(uint32_t offset, const char* name, uint32_t reset) {
    return {offset, 4, name, RegPolicy::ReadOnly, reset, 0, nullptr, nullptr};
}
constexpr RegRow read_only_block(uint32_t offset, uint32_t size, const char* name) {
    return {offset, size, name, RegPolicy::ReadOnly, 0, 0, nullptr, nullptr};
}
constexpr RegRow masked(uint32_t offset, const char* name, uint32_t reset, uint32_t hw_bits) {
    return {offset, 4, name, RegPolicy::Masked, reset, hw_bits, nullptr, nullptr};
}
constexpr RegRow rw1c(uint32_t offset, const char* name) {
    return {offset, 4, name, RegPolicy::Rw1c, 0, 0, nullptr, nullptr};
}
constexpr RegRow custom(uint32_t offset, const char* name, uint32_t reset, RegReadFn read,
                        RegWriteFn write) {
    return {offset, 4, name, RegPolicy::Custom, reset, 0, read, write};
}

constexpr uint32_t kRcs = hw::kEngineBase[0];
constexpr uint32_t kBcs = hw::kEngineBase[1];
constexpr uint32_t kVcs = hw::kEngineBase[2];
constexpr uint32_t kVecs = hw::kEngineBase[3];
// The doc gives no reset value for GT IMR or RING_IMR; all-masked matches what
// i915 writes before enabling, so nothing is latched until a driver unmasks it.
constexpr uint32_t kImrReset = 0xFFFFFFFFu;

constexpr RegRow kRows[] = {
    // Forcewake (§8.2): masked requests whose acks follow at once; acks are status.
    custom(hw::kFwGtReq, "FORCEWAKE_GT_GEN9", 0, stored_read, forcewake_write),
    custom(hw::kFwRenderReq, "FORCEWAKE_RENDER_GEN9", 0, stored_read, forcewake_write),
    custom(hw::kFwMediaReq, "FORCEWAKE_MEDIA_GEN9", 0, stored_read, forcewake_write),
    read_only(hw::kFwGtAck, "FORCEWAKE_ACK_GT_GEN9", 0),
    read_only(hw::kFwRenderAck, "FORCEWAKE_ACK_RENDER_GEN9", 0),
    read_only(hw::kFwMediaAck, "FORCEWAKE_ACK_MEDIA_GEN9", 0),

    // Fences (§8.1): 32 x 64-bit, plain storage.
    plain(hw::kFenceBase, hw::kFenceCount * 8, "FENCE_REG_GEN6", 0),
    // GFX_FLSH_CNTL_GEN6 (§2.3): a write invalidates the GGTT TLB.
    custom(hw::kGfxFlshCntlGen6, "GFX_FLSH_CNTL_GEN6", 0, stored_read, gfx_flush_write),

    // Interrupts (§6.1, §6.2).
    custom(hw::kMasterIrq, "GEN8_MASTER_IRQ", 0, master_irq_read, master_irq_write),
    // DE pipe A bank (§6.1); IER writes re-evaluate delivery like the GT banks'.
    read_only(hw::kDePipeIsrA, "GEN8_DE_PIPE_ISR_A", 0),
    plain(hw::kDePipeImrA, 4, "GEN8_DE_PIPE_IMR_A", kImrReset),
    rw1c(hw::kDePipeIirA, "GEN8_DE_PIPE_IIR_A"),
    custom(hw::kDePipeIerA, "GEN8_DE_PIPE_IER_A", 0, stored_read, gt_ier_write),
    read_only(hw::gt_isr(0), "GEN8_GT_ISR0", 0),
    plain(hw::gt_imr(0), 4, "GEN8_GT_IMR0", kImrReset),
    rw1c(hw::gt_iir(0), "GEN8_GT_IIR0"),
    custom(hw::gt_ier(0), "GEN8_GT_IER0", 0, stored_read, gt_ier_write),
    read_only(hw::gt_isr(1), "GEN8_GT_ISR1", 0),
    plain(hw::gt_imr(1), 4, "GEN8_GT_IMR1", kImrReset),
    rw1c(hw::gt_iir(1), "GEN8_GT_IIR1"),
    custom(hw::gt_ier(1), "GEN8_GT_IER1", 0, stored_read, gt_ier_write),
    read_only(hw::gt_isr(2), "GEN8_GT_ISR2", 0),
    plain(hw::gt_imr(2), 4, "GEN8_GT_IMR2", kImrReset),
    rw1c(hw::gt_iir(2), "GEN8_GT_IIR2"),
    custom(hw::gt_ier(2), "GEN8_GT_IER2", 0, stored_read, gt_ier_write),
    read_only(hw::gt_isr(3), "GEN8_GT_ISR3", 0),
    plain(hw::gt_imr(3), 4, "GEN8_GT_IMR3", kImrReset),
    rw1c(hw::gt_iir(3), "GEN8_GT_IIR3"),
    custom(hw::gt_ier(3), "GEN8_GT_IER3", 0, stored_read, gt_ier_write),

    // GEN6_GDRST (§4.2): engine reset bits self-clear once the reset is done.
    custom(hw::kGdrst, "GEN6_GDRST", 0, stored_read, gdrst_write),

    // RING_RESET_CTL (§4.2, §10.3): masked request, ready-to-reset status.
    custom(kRcs + hw::kRingResetCtl, "RCS_RESET_CTL", 0, reset_ctl_read, reset_ctl_write),
    custom(kBcs + hw::kRingResetCtl, "BCS_RESET_CTL", 0, reset_ctl_read, reset_ctl_write),
    custom(kVcs + hw::kRingResetCtl, "VCS_RESET_CTL", 0, reset_ctl_read, reset_ctl_write),
    custom(kVecs + hw::kRingResetCtl, "VECS_RESET_CTL", 0, reset_ctl_read, reset_ctl_write),

    // RING_MI_MODE (§4.2): masked; MODE_IDLE is hardware status, set while idle.
    masked(kRcs + hw::kRingMiMode, "RCS_MI_MODE", hw::kModeIdle, hw::kModeIdle),
    masked(kBcs + hw::kRingMiMode, "BCS_MI_MODE", hw::kModeIdle, hw::kModeIdle),
    masked(kVcs + hw::kRingMiMode, "VCS_MI_MODE", hw::kModeIdle, hw::kModeIdle),
    masked(kVecs + hw::kRingMiMode, "VECS_MI_MODE", hw::kModeIdle, hw::kModeIdle),

    // RING_MODE_GEN7 / GFX_MODE (§4.2): masked execlist/PPGTT enables.
    masked(kRcs + hw::kRingModeGen7, "RCS_MODE_GEN7", 0, 0),
    masked(kBcs + hw::kRingModeGen7, "BCS_MODE_GEN7", 0, 0),
    masked(kVcs + hw::kRingModeGen7, "VCS_MODE_GEN7", 0, 0),
    masked(kVecs + hw::kRingModeGen7, "VECS_MODE_GEN7", 0, 0),

    // Execlists (§4.4, §4.5): the submit port, computed status, the CSB
    // (hardware-written) and its masked pointer register whose write pointer
    // (bits 2:0) is the hardware's, 7 after reset.
    custom(kRcs + hw::kRingElsp, "RCS_ELSP", 0, elsp_read, elsp_write),
    custom(kRcs + hw::kRingExeclistStatusLo, "RCS_EXECLIST_STATUS_LO", 0, execlist_status_read,
           ignore_write),
    custom(kRcs + hw::kRingExeclistStatusHi, "RCS_EXECLIST_STATUS_HI", 0, execlist_status_read,
           ignore_write),
    read_only_block(kRcs + hw::kRingCsbBuf, hw::kCsbEntries * 8, "RCS_CSB"),
    masked(kRcs + hw::kRingContextStatusPtr, "RCS_CONTEXT_STATUS_PTR", hw::kCsbWritePtrReset,
           hw::kCsbWritePtrMask),
    plain(kRcs + hw::kRingImr, 4, "RCS_IMR", kImrReset),
    read_only(kRcs + hw::kRingActhd, "RCS_ACTHD", 0),
    custom(kBcs + hw::kRingElsp, "BCS_ELSP", 0, elsp_read, elsp_write),
    custom(kBcs + hw::kRingExeclistStatusLo, "BCS_EXECLIST_STATUS_LO", 0, execlist_status_read,
           ignore_write),
    custom(kBcs + hw::kRingExeclistStatusHi, "BCS_EXECLIST_STATUS_HI", 0, execlist_status_read,
           ignore_write),
    read_only_block(kBcs + hw::kRingCsbBuf, hw::kCsbEntries * 8, "BCS_CSB"),
    masked(kBcs + hw::kRingContextStatusPtr, "BCS_CONTEXT_STATUS_PTR", hw::kCsbWritePtrReset,
           hw::kCsbWritePtrMask),
    plain(kBcs + hw::kRingImr, 4, "BCS_IMR", kImrReset),
    read_only(kBcs + hw::kRingActhd, "BCS_ACTHD", 0),
    custom(kVcs + hw::kRingElsp, "VCS_ELSP", 0, elsp_read, elsp_write),
    custom(kVcs + hw::kRingExeclistStatusLo, "VCS_EXECLIST_STATUS_LO", 0, execlist_status_read,
           ignore_write),
    custom(kVcs + hw::kRingExeclistStatusHi, "VCS_EXECLIST_STATUS_HI", 0, execlist_status_read,
           ignore_write),
    read_only_block(kVcs + hw::kRingCsbBuf, hw::kCsbEntries * 8, "VCS_CSB"),
    masked(kVcs + hw::kRingContextStatusPtr, "VCS_CONTEXT_STATUS_PTR", hw::kCsbWritePtrReset,
           hw::kCsbWritePtrMask),
    plain(kVcs + hw::kRingImr, 4, "VCS_IMR", kImrReset),
    read_only(kVcs + hw::kRingActhd, "VCS_ACTHD", 0),
    custom(kVecs + hw::kRingElsp, "VECS_ELSP", 0, elsp_read, elsp_write),
    custom(kVecs + hw::kRingExeclistStatusLo, "VECS_EXECLIST_STATUS_LO", 0, execlist_status_read,
           ignore_write),
    custom(kVecs + hw::kRingExeclistStatusHi, "VECS_EXECLIST_STATUS_HI", 0, execlist_status_read,
           ignore_write),
    read_only_block(kVecs + hw::kRingCsbBuf, hw::kCsbEntries * 8, "VECS_CSB"),
    masked(kVecs + hw::kRingContextStatusPtr, "VECS_CONTEXT_STATUS_PTR", hw::kCsbWritePtrReset,
           hw::kCsbWritePtrMask),
    plain(kVecs + hw::kRingImr, 4, "VECS_IMR", kImrReset),
    read_only(kVecs + hw::kRingActhd, "VECS_ACTHD", 0),

    // Render context chicken/mode registers i915 (6.1) loads by LRI as its
    // Gen9 context workarounds (§10.3; PRM offsets). All masked; the doc
    // gives no reset values, 0 is assumed. The model keeps them as state
    // only (no 3D pipeline reads them).
    masked(0x2580, "GEN8_CS_CHICKEN1", 0, 0),
    masked(0x7004, "CACHE_MODE_1", 0, 0),
    masked(0x7008, "GEN7_GT_MODE", 0, 0),
    masked(0x7014, "COMMON_SLICE_CHICKEN2", 0, 0),
    masked(0x7300, "HDC_CHICKEN0", 0, 0),
    masked(0xE180, "HALF_SLICE_CHICKEN2", 0, 0),
    masked(0xE184, "HALF_SLICE_CHICKEN3", 0, 0),
    masked(0xE188, "GEN9_HALF_SLICE_CHICKEN5", 0, 0),
    masked(0xE194, "GEN9_HALF_SLICE_CHICKEN7", 0, 0),
    masked(0xE4F0, "GEN8_ROW_CHICKEN", 0, 0),

    // Display, pipe/transcoder A (§7.2): timings and source size are plain
    // storage; PIPECONF's state bit follows enable; the counters are the
    // hardware's (advanced by vblanks and flips).
    plain(hw::kTransHtotalA, 4, "TRANS_HTOTAL_A", 0),
    plain(hw::kTransHblankA, 4, "TRANS_HBLANK_A", 0),
    plain(hw::kTransHsyncA, 4, "TRANS_HSYNC_A", 0),
    plain(hw::kTransVtotalA, 4, "TRANS_VTOTAL_A", 0),
    plain(hw::kTransVblankA, 4, "TRANS_VBLANK_A", 0),
    plain(hw::kTransVsyncA, 4, "TRANS_VSYNC_A", 0),
    plain(hw::kPipeSrcA, 4, "PIPESRC_A", 0),
    custom(hw::kPipeConfA, "TRANSCONF_A", 0, stored_read, pipeconf_write),
    read_only(hw::kPipeFrmCountA, "PIPE_FRMCOUNT_A", 0),
    read_only(hw::kPipeFlipCountA, "PIPE_FLIPCOUNT_A", 0),
    // Universal plane 1 of pipe A (§7.1); a PLANE_SURF write is a flip (§7.4).
    plain(hw::kPlaneCtlA, 4, "PLANE_CTL_1_A", 0),
    plain(hw::kPlaneStrideA, 4, "PLANE_STRIDE_1_A", 0),
    plain(hw::kPlanePosA, 4, "PLANE_POS_1_A", 0),
    plain(hw::kPlaneSizeA, 4, "PLANE_SIZE_1_A", 0),
    custom(hw::kPlaneSurfA, "PLANE_SURF_1_A", 0, stored_read, plane_surf_write),
    plain(hw::kPlaneOffsetA, 4, "PLANE_OFFSET_1_A", 0),
    read_only(hw::kPlaneSurfLiveA, "PLANE_SURFLIVE_1_A", 0),
    // Presence of the monitor on port B (§7.3): live hotplug state and strap.
    read_only(hw::kSdeIsr, "SDEISR", hw::kSdeIsrPortB),
    read_only(hw::kSfuseStrap, "SFUSE_STRAP", hw::kSfuseStrapDdiB),
    // GMBUS (§7.5): the DDC controller serving the monitor's EDID.
    custom(hw::kGmbus0, "GMBUS0", 0, stored_read, gmbus0_write),
    custom(hw::kGmbus1, "GMBUS1", 0, stored_read, gmbus1_write),
    custom(hw::kGmbus2, "GMBUS2", 0, gmbus2_read, gmbus2_write),
    custom(hw::kGmbus3, "GMBUS3", 0, gmbus3_read, gmbus3_write),
    plain(hw::kGmbus4, 4, "GMBUS4", 0),
    plain(hw::kGmbus5, 4, "GMBUS5", 0),
};

// The table is code: a malformed row fails the build, not a driver's access.
consteval bool table_is_well_formed() {
    if (!register_rows_laid_out(std::span<const RegRow>(kRows), hw::kRegisterFileBytes)) {
        return false;  // aligned, in range, disjoint
    }
    for (const RegRow& r : kRows) {
        if (r.policy == RegPolicy::Masked && (r.reset > 0xFFFF || r.hw_bits > 0xFFFF)) {
            return false;  // masked registers hold no state in bits 31:16
        }
        // Only custom rows may carry handlers. (That custom rows have both is
        // checked by a test: under UBSan GCC cannot compare a function's
        // address with null at compile time.)
        if (r.policy != RegPolicy::Custom && (r.read != nullptr || r.write != nullptr)) {
            return false;
        }
    }
    return true;
}
static_assert(table_is_well_formed(), "register rows must be aligned, in range, disjoint");

// dword index → row number: O(1) lookup, built once and shared by every model.
const std::vector<uint16_t>& row_index() {
    static const std::vector<uint16_t> index =
        register_row_index(std::span<const RegRow>(kRows), hw::kRegisterDwords);
    return index;
}

}  // namespace

const char* to_string(RegPolicy policy) {
    switch (policy) {
        case RegPolicy::Plain:
            return "plain";
        case RegPolicy::ReadOnly:
            return "read-only";
        case RegPolicy::Masked:
            return "masked";
        case RegPolicy::Rw1c:
            return "rw1c";
        case RegPolicy::Custom:
            return "custom";
    }
    return "?";
}

std::span<const RegRow> register_table() {
    return kRows;
}

const RegRow* find_register(uint32_t offset) {
    if (offset >= hw::kRegisterFileBytes) {
        return nullptr;
    }
    const uint16_t row = row_index()[offset / 4];
    return row == kNoRegisterRow ? nullptr : &kRows[row];
}

uint32_t register_read(ModelState& s, uint32_t offset) {
    const RegRow* row = find_register(offset);
    if (row == nullptr) {
        return s.reg(offset);  // unlisted: plain storage
    }
    switch (row->policy) {
        case RegPolicy::Custom:
            return row->read(s, offset);
        case RegPolicy::Masked:
            return s.reg(offset) & 0xFFFFu;  // §10.3: reads return 0 in bits 31:16
        case RegPolicy::Plain:
        case RegPolicy::ReadOnly:
        case RegPolicy::Rw1c:
            break;
    }
    return s.reg(offset);
}

void register_write(ModelState& s, uint32_t offset, uint32_t value) {
    const RegRow* row = find_register(offset);
    uint32_t& reg = s.reg(offset);
    if (row == nullptr) {
        reg = value;
        return;
    }
    switch (row->policy) {
        case RegPolicy::Plain:
            reg = (reg & row->hw_bits) | (value & ~row->hw_bits);
            return;
        case RegPolicy::ReadOnly:
            return;
        case RegPolicy::Masked:
            reg = hw::apply_masked(reg, value, row->hw_bits);
            return;
        case RegPolicy::Rw1c:
            reg &= ~value;
            return;
        case RegPolicy::Custom:
            row->write(s, offset, value);
            return;
    }
}

void reset_registers(ModelState& s, uint32_t begin, uint32_t end) {
    for (const RegRow& r : kRows) {
        if (r.offset >= begin && r.offset + r.size <= end) {
            for (uint32_t off = r.offset; off < r.offset + r.size; off += 4) {
                s.reg(off) = r.reset;
            }
        }
    }
}

}  // namespace xengt::gpu::model
