#include "mediator/mmio/mmio_table.hpp"

#include <array>
#include <vector>

#include "mediator/base/register_rows.hpp"
#include "mediator/display/display_ports.hpp"
#include "mediator/display/display_timing.hpp"
#include "mediator/exec/engines.hpp"
#include "mediator/irq/virtual_irq.hpp"
#include "mediator/mmio/power_management.hpp"
#include "mediator/pvinfo.hpp"
#include "mediator/reset/engine_reset.hpp"

namespace xengt::mediator::mmio {
namespace {

// Row factories keep the table one line per register.
constexpr MmioRow plain(uint32_t offset, uint32_t size, const char* name) {
    return {offset, size, name, RegPolicy::Vreg, 0, 0, nullptr, nullptr};
}
constexpr MmioRow read_only(uint32_t offset, const char* name, uint32_t init) {
    return {offset, 4, name, RegPolicy::ReadOnly, init, 0, nullptr, nullptr};
}
// Plain storage that starts at a value the hardware has out of reset.
constexpr MmioRow preset(uint32_t offset, const char* name, uint32_t init) {
    return {offset, 4, name, RegPolicy::Vreg, init, 0, nullptr, nullptr};
}
// Status the hardware computes (from other registers or vGPU state) and the
// guest only reads: writes are dropped and logged like any read-only row's.
constexpr MmioRow computed(uint32_t offset, const char* name, RegReadFn read) {
    return {offset, 4, name, RegPolicy::ReadOnly, 0, 0, read, nullptr};
}
constexpr MmioRow masked(uint32_t offset, const char* name, uint32_t init) {
    return {offset, 4, name, RegPolicy::Masked, init, 0, nullptr, nullptr};
}
constexpr MmioRow custom(uint32_t offset, uint32_t size, const char* name, RegReadFn read,
                         RegWriteFn write) {
    return {offset, size, name, RegPolicy::Custom, 0, 0, read, write};
}
// Interrupt bank registers (intel-gpu.md §6): ISR is status the guest only
// reads; IMR, IIR and IER writes go through the delivery rule.
constexpr MmioRow irq_isr(uint32_t offset, const char* name) {
    return read_only(offset, name, 0);
}
constexpr MmioRow irq_imr(uint32_t offset, const char* name) {
    return {offset, 4, name, RegPolicy::Custom, irq::kImrReset, 0, nullptr, irq::bank_write};
}
constexpr MmioRow irq_iir(uint32_t offset, const char* name) {
    return {offset, 4, name, RegPolicy::Custom, 0, 0, nullptr, irq::bank_write};
}
constexpr MmioRow irq_ier(uint32_t offset, const char* name) {
    return {offset, 4, name, RegPolicy::Custom, 0, 0, nullptr, irq::bank_write};
}
constexpr MmioRow reset_ctl(uint32_t engine_base, const char* name) {
    return custom(engine_base + reset::kResetCtl, 4, name, reset::reset_ctl_read,
                  reset::reset_ctl_write);
}
constexpr MmioRow pipe_conf(unsigned pipe, const char* name) {
    return custom(display::pipe_reg(display::kPipeConf, pipe), 4, name, nullptr,
                  display::pipeconf_write);
}
constexpr MmioRow plane_surf(unsigned pipe, const char* name) {
    return custom(display::pipe_reg(display::kPlaneSurf, pipe), 4, name, nullptr,
                  display::plane_surf_write);
}
constexpr MmioRow pipe_src(unsigned pipe, const char* name) {
    return custom(display::pipe_reg(display::kPipeSrc, pipe), 4, name, nullptr,
                  display::pipesrc_write);
}
// Plane registers the surface write arms (display_timing.hpp): plain storage.
constexpr MmioRow plane_reg(uint32_t pipe_a_offset, unsigned pipe, const char* name) {
    return plain(display::pipe_reg(pipe_a_offset, pipe), 4, name);
}

// ---- Display ports (display/display_ports.hpp): the virtual DP monitor's
// path from the pipes to the wire, per port/channel/PLL.
constexpr MmioRow ddi_buf_ctl(unsigned port, const char* name) {
    return {display::port_reg(display::kDdiBufCtlA, port),
            4,
            name,
            RegPolicy::Custom,
            display::kDdiBufIdle,  // disabled, hence idle, after reset
            0,
            nullptr,
            display::ddi_buf_ctl_write};
}
constexpr MmioRow dp_tp_ctl(unsigned port, const char* name) {
    return plain(display::port_reg(display::kDpTpCtlA, port), 4, name);
}
constexpr MmioRow dp_tp_status(unsigned port, const char* name) {
    return custom(display::port_reg(display::kDpTpStatusA, port), 4, name,
                  display::dp_tp_status_read, nullptr);
}
constexpr MmioRow aux_ctl(unsigned channel, const char* name) {
    return custom(display::port_reg(display::kAuxCtlA, channel), 4, name, nullptr,
                  display::aux_ctl_write);
}
constexpr MmioRow aux_data(unsigned channel, const char* name) {
    return plain(display::port_reg(display::kAuxCtlA, channel) + display::kAuxDataOffset,
                 display::kAuxDataRegs * 4, name);
}
constexpr MmioRow pll_ctl(uint32_t offset, const char* name) {
    return custom(offset, 4, name, nullptr, display::pll_ctl_write);
}

// Engine MMIO bases (intel-gpu.md §4.1).
constexpr uint32_t kRcs = reset::kRcsBase;
constexpr uint32_t kVcs = reset::kVcsBase;
constexpr uint32_t kVecs = reset::kVecsBase;
constexpr uint32_t kBcs = reset::kBcsBase;
// Per-engine register offsets from the base (§4.2).
constexpr uint32_t kMiMode = 0x09C;
constexpr uint32_t kModeGen7 = 0x29C;
constexpr uint32_t kCsbPtr = 0x3A0;
// RING_MI_MODE bit 9 MODE_IDLE: an engine with nothing to do reports idle.
constexpr uint32_t kModeIdle = 1u << 9;
// GEN8_FUSE2 as the lab's i915 wanted it: slice 0 with subslices 0-2 present
// (24 EUs); zeros make i915 WARN in its SSEU setup.
constexpr uint32_t kFuse2Skl = 0x02800000;
// SKL_FUSE_STATUS: bit 31 fuse download done, bits 27/26/25 power gates 0/1/2
// distributed. The driver waits for these before it touches the power wells.
constexpr uint32_t kSklFuseStatus = 1u << 31 | 1u << 27 | 1u << 26 | 1u << 25;
// GUC_STATUS bit 0 MIA_IN_RESET: with GuC submission off (the vGPU offers no
// GuC), the microcontroller stays in reset, which i915 checks after sanitize.
constexpr uint32_t kGucMiaInReset = 1u << 0;
// SKL_DFSM: display pipes fused off (A bit 30, B bit 21, C bit 28) on a
// headless vGPU: i915 then brings up its display core but no pipes, and
// never probes ports. With a display, nothing is fused off.
constexpr uint32_t kDfsmPipesFusedOff = 1u << 30 | 1u << 21 | 1u << 28;
uint32_t dfsm_read(MmioContext& ctx, uint32_t) {
    return ctx.display != nullptr && ctx.display->pipes_fused_off ? kDfsmPipesFusedOff : 0;
}
// PCH_RAWCLK_FREQ bits 9:0: the south display's raw clock in MHz; SKL's PCH
// runs it at 24 MHz.
constexpr uint32_t kRawclkMhz = 24;

TrapResult gfx_flush_write(MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t) {
    ctx.vreg(offset) = value;
    if (ctx.events != nullptr) {
        ctx.events->ggtt_flush();
    }
    return TrapResult::Handled;
}

// RING_ELSP (§4.4): write-only; four dwords make a submission, which the
// vGPU's virtual execlists take from here. Reads return 0.
uint32_t elsp_read(MmioContext&, uint32_t) {
    return 0;
}
TrapResult elsp_write(MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t byte_mask) {
    if (byte_mask != 0xFFFFFFFF) {
        return TrapResult::Rejected;  // a descriptor dword is written whole
    }
    const auto engine = exec::engine_of_elsp(offset);
    if (engine && ctx.events != nullptr) {
        ctx.events->elsp_write(exec::index(*engine), value);
    }
    return TrapResult::Handled;
}
constexpr MmioRow elsp(uint32_t engine_base, const char* name) {
    return custom(engine_base + exec::kRingElsp, 4, name, elsp_read, elsp_write);
}

// GEN8 TLB control (intel-gpu.md §2.3): the driver writes 1 to invalidate an
// engine's TLBs and waits for the bit to clear (i915 gives up after 4 ms and
// says "TLB invalidation did not complete"). The GPU walks shadows that are
// brought up to date before every submission, so the invalidation is done
// as soon as it is asked for: the register reads 0 again at once.
TrapResult tlb_control_write(MmioContext& ctx, uint32_t offset, uint32_t, uint32_t) {
    ctx.vreg(offset) = 0;
    return TrapResult::Handled;
}
constexpr MmioRow tlb_control(uint32_t offset, const char* name) {
    return custom(offset, 4, name, nullptr, tlb_control_write);
}

constexpr MmioRow kRows[] = {
    // PVINFO page: vGPU detection, GM slices, g2v notifications (§9).
    custom(kPvinfoBase, kPvinfoSize, "PVINFO", pvinfo_read, pvinfo_write),

    // RING_MI_MODE: masked; preset MODE_IDLE like idle hardware (§4.2, §10.3).
    masked(kRcs + kMiMode, "RCS_MI_MODE", kModeIdle),
    masked(kBcs + kMiMode, "BCS_MI_MODE", kModeIdle),
    masked(kVcs + kMiMode, "VCS_MI_MODE", kModeIdle),
    masked(kVecs + kMiMode, "VECS_MI_MODE", kModeIdle),

    // RING_MODE_GEN7 / GFX_MODE: masked; execlist and PPGTT enables (§4.2).
    masked(kRcs + kModeGen7, "RCS_MODE_GEN7", 0),
    masked(kBcs + kModeGen7, "BCS_MODE_GEN7", 0),
    masked(kVcs + kModeGen7, "VCS_MODE_GEN7", 0),
    masked(kVecs + kModeGen7, "VECS_MODE_GEN7", 0),

    // RING_CONTEXT_STATUS_PTR: masked CSB read/write pointers (§4.2, §10.3).
    masked(kRcs + kCsbPtr, "RCS_CONTEXT_STATUS_PTR", 0),
    masked(kBcs + kCsbPtr, "BCS_CONTEXT_STATUS_PTR", 0),
    masked(kVcs + kCsbPtr, "VCS_CONTEXT_STATUS_PTR", 0),
    masked(kVecs + kCsbPtr, "VECS_CONTEXT_STATUS_PTR", 0),

    // TLB invalidation, self-clearing (§2.3).
    tlb_control(0x4260, "GEN8_RTCR"),
    tlb_control(0x4264, "GEN8_M1TCR"),
    tlb_control(0x4268, "GEN8_M2TCR"),
    tlb_control(0x426C, "GEN8_BTCR"),
    tlb_control(0x4270, "GEN8_VTCR"),

    // Execlist submit ports (§4.4).
    elsp(kRcs, "RCS_ELSP"),
    elsp(kBcs, "BCS_ELSP"),
    elsp(kVcs, "VCS_ELSP"),
    elsp(kVecs, "VECS_ELSP"),

    // RING_RESET_CTL: masked reset request / ready-to-reset handshake (§4.2).
    reset_ctl(kRcs, "RCS_RESET_CTL"),
    reset_ctl(kBcs, "BCS_RESET_CTL"),
    reset_ctl(kVcs, "VCS_RESET_CTL"),
    reset_ctl(kVecs, "VECS_RESET_CTL"),
    // GEN6_GDRST: engine reset; reads back 0 once done, i.e. at once (§4.2).
    custom(reset::kGdrst, 4, "GEN6_GDRST", nullptr, reset::gdrst_write),

    // GEN8_MASTER_IRQ: bit 31 enable, bits 30:0 computed level-1 status (§6.1, §6.2).
    custom(irq::kMasterIrq, 4, "GEN8_MASTER_IRQ", irq::master_read, irq::master_write),
    // GT banks 0..3 (§6.1).
    irq_isr(0x44300, "GEN8_GT_ISR0"),
    irq_imr(0x44304, "GEN8_GT_IMR0"),
    irq_iir(0x44308, "GEN8_GT_IIR0"),
    irq_ier(0x4430C, "GEN8_GT_IER0"),
    irq_isr(0x44310, "GEN8_GT_ISR1"),
    irq_imr(0x44314, "GEN8_GT_IMR1"),
    irq_iir(0x44318, "GEN8_GT_IIR1"),
    irq_ier(0x4431C, "GEN8_GT_IER1"),
    irq_isr(0x44320, "GEN8_GT_ISR2"),
    irq_imr(0x44324, "GEN8_GT_IMR2"),
    irq_iir(0x44328, "GEN8_GT_IIR2"),
    irq_ier(0x4432C, "GEN8_GT_IER2"),
    irq_isr(0x44330, "GEN8_GT_ISR3"),
    irq_imr(0x44334, "GEN8_GT_IMR3"),
    irq_iir(0x44338, "GEN8_GT_IIR3"),
    irq_ier(0x4433C, "GEN8_GT_IER3"),
    // Display engine: pipes A/B/C, port, misc (§6.1).
    irq_isr(0x44400, "GEN8_DE_PIPE_ISR_A"),
    irq_imr(0x44404, "GEN8_DE_PIPE_IMR_A"),
    irq_iir(0x44408, "GEN8_DE_PIPE_IIR_A"),
    irq_ier(0x4440C, "GEN8_DE_PIPE_IER_A"),
    irq_isr(0x44410, "GEN8_DE_PIPE_ISR_B"),
    irq_imr(0x44414, "GEN8_DE_PIPE_IMR_B"),
    irq_iir(0x44418, "GEN8_DE_PIPE_IIR_B"),
    irq_ier(0x4441C, "GEN8_DE_PIPE_IER_B"),
    irq_isr(0x44420, "GEN8_DE_PIPE_ISR_C"),
    irq_imr(0x44424, "GEN8_DE_PIPE_IMR_C"),
    irq_iir(0x44428, "GEN8_DE_PIPE_IIR_C"),
    irq_ier(0x4442C, "GEN8_DE_PIPE_IER_C"),
    irq_isr(0x44440, "GEN8_DE_PORT_ISR"),
    irq_imr(0x44444, "GEN8_DE_PORT_IMR"),
    irq_iir(0x44448, "GEN8_DE_PORT_IIR"),
    irq_ier(0x4444C, "GEN8_DE_PORT_IER"),
    irq_isr(0x44460, "GEN8_DE_MISC_ISR"),
    irq_imr(0x44464, "GEN8_DE_MISC_IMR"),
    irq_iir(0x44468, "GEN8_DE_MISC_IIR"),
    irq_ier(0x4446C, "GEN8_DE_MISC_IER"),
    // PCU (§6.1).
    irq_isr(0x444E0, "GEN8_PCU_ISR"),
    irq_imr(0x444E4, "GEN8_PCU_IMR"),
    irq_iir(0x444E8, "GEN8_PCU_IIR"),
    irq_ier(0x444EC, "GEN8_PCU_IER"),
    // Panel self refresh (eDP PSR, SKL): a flat interrupt pair outside the
    // two-level scheme; i915 resets it by writing all ones to both and checks
    // that the IIR then reads 0 (write-1-to-clear). No PSR panel: no events.
    preset(0x64834, "EDP_PSR_IMR", ~0u),
    {0x64838, 4, "EDP_PSR_IIR", RegPolicy::Rw1c, 0, 0, nullptr, nullptr},
    // South display (PCH): GMBUS and hotplug (§6.1).
    // SDEISR also shows the virtual monitor's live hotplug state (display_ports.hpp).
    computed(display::kSdeIsr, "SDEISR", display::sde_isr_read),
    irq_imr(0xC4004, "SDEIMR"),
    irq_iir(0xC4008, "SDEIIR"),
    irq_ier(0xC400C, "SDEIER"),

    // Display pipes A/B/C (§7.1, §7.2, §7.4): PIPECONF state follows enable;
    // the frame and flip counters and SURFLIVE are the vGPU's to change;
    // a plane surface write is a flip and arms the plane registers. DSPCNTR/
    // PLANE_CTL and the other plane registers are plain storage (the async-
    // flip bit 9 is read by the flip). PIPESRC sizes the pipe.
    computed(display::pipe_reg(display::kPipeDsl, 0), "PIPEDSL_A", display::pipedsl_read),
    computed(display::pipe_reg(display::kPipeDsl, 1), "PIPEDSL_B", display::pipedsl_read),
    computed(display::pipe_reg(display::kPipeDsl, 2), "PIPEDSL_C", display::pipedsl_read),
    pipe_src(0, "PIPESRC_A"),
    pipe_src(1, "PIPESRC_B"),
    pipe_src(2, "PIPESRC_C"),
    pipe_conf(0, "PIPECONF_A"),
    read_only(display::pipe_reg(display::kFrmCount, 0), "PIPE_FRMCOUNT_A", 0),
    read_only(display::pipe_reg(display::kFlipCount, 0), "PIPE_FLIPCOUNT_A", 0),
    plain(display::pipe_reg(display::kPlaneCtl, 0), 4, "PLANE_CTL_1_A"),
    plane_reg(display::kPlaneStride, 0, "PLANE_STRIDE_1_A"),
    plane_reg(display::kPlanePos, 0, "PLANE_POS_1_A"),
    plane_reg(display::kPlaneSize, 0, "PLANE_SIZE_1_A"),
    plane_surf(0, "PLANE_SURF_1_A"),
    plane_reg(display::kPlaneOffset, 0, "PLANE_OFFSET_1_A"),
    read_only(display::pipe_reg(display::kSurfLive, 0), "PLANE_SURFLIVE_1_A", 0),
    pipe_conf(1, "PIPECONF_B"),
    read_only(display::pipe_reg(display::kFrmCount, 1), "PIPE_FRMCOUNT_B", 0),
    read_only(display::pipe_reg(display::kFlipCount, 1), "PIPE_FLIPCOUNT_B", 0),
    plain(display::pipe_reg(display::kPlaneCtl, 1), 4, "PLANE_CTL_1_B"),
    plane_reg(display::kPlaneStride, 1, "PLANE_STRIDE_1_B"),
    plane_reg(display::kPlanePos, 1, "PLANE_POS_1_B"),
    plane_reg(display::kPlaneSize, 1, "PLANE_SIZE_1_B"),
    plane_surf(1, "PLANE_SURF_1_B"),
    plane_reg(display::kPlaneOffset, 1, "PLANE_OFFSET_1_B"),
    read_only(display::pipe_reg(display::kSurfLive, 1), "PLANE_SURFLIVE_1_B", 0),
    pipe_conf(2, "PIPECONF_C"),
    read_only(display::pipe_reg(display::kFrmCount, 2), "PIPE_FRMCOUNT_C", 0),
    read_only(display::pipe_reg(display::kFlipCount, 2), "PIPE_FLIPCOUNT_C", 0),
    plain(display::pipe_reg(display::kPlaneCtl, 2), 4, "PLANE_CTL_1_C"),
    plane_reg(display::kPlaneStride, 2, "PLANE_STRIDE_1_C"),
    plane_reg(display::kPlanePos, 2, "PLANE_POS_1_C"),
    plane_reg(display::kPlaneSize, 2, "PLANE_SIZE_1_C"),
    plane_surf(2, "PLANE_SURF_1_C"),
    plane_reg(display::kPlaneOffset, 2, "PLANE_OFFSET_1_C"),
    read_only(display::pipe_reg(display::kSurfLive, 2), "PLANE_SURFLIVE_1_C", 0),

    // ---- Display ports, PLLs, GMBUS and hotplug (display/display_ports.hpp,
    // intel-gpu.md §7.3, §7.5, §7.6): what a Skylake i915 waits on while it
    // initialises its display and lights the virtual DP monitor on DDI D.
    // DDI_BUF_CTL: idle follows !enable. DP_TP_CTL: plain; DP_TP_STATUS:
    // idle-done while idle patterns are sent.
    ddi_buf_ctl(0, "DDI_BUF_CTL_A"),
    ddi_buf_ctl(1, "DDI_BUF_CTL_B"),
    ddi_buf_ctl(2, "DDI_BUF_CTL_C"),
    ddi_buf_ctl(3, "DDI_BUF_CTL_D"),
    ddi_buf_ctl(4, "DDI_BUF_CTL_E"),
    dp_tp_ctl(0, "DP_TP_CTL_A"),
    dp_tp_ctl(1, "DP_TP_CTL_B"),
    dp_tp_ctl(2, "DP_TP_CTL_C"),
    dp_tp_ctl(3, "DP_TP_CTL_D"),
    dp_tp_ctl(4, "DP_TP_CTL_E"),
    dp_tp_status(0, "DP_TP_STATUS_A"),
    dp_tp_status(1, "DP_TP_STATUS_B"),
    dp_tp_status(2, "DP_TP_STATUS_C"),
    dp_tp_status(3, "DP_TP_STATUS_D"),
    dp_tp_status(4, "DP_TP_STATUS_E"),
    // DP AUX A-D: SEND_BUSY runs the transaction at once; the monitor answers
    // on D, the others time out. DATA1-5 are plain storage.
    aux_ctl(0, "DP_AUX_CH_CTL_A"),
    aux_data(0, "DP_AUX_CH_DATA_A"),
    aux_ctl(1, "DP_AUX_CH_CTL_B"),
    aux_data(1, "DP_AUX_CH_DATA_B"),
    aux_ctl(2, "DP_AUX_CH_CTL_C"),
    aux_data(2, "DP_AUX_CH_DATA_C"),
    aux_ctl(3, "DP_AUX_CH_CTL_D"),
    aux_data(3, "DP_AUX_CH_DATA_D"),
    // CDCLK_CTL: plain; the cdclk follows DPLL0's VCO and this divider.
    plain(display::kCdclkCtl, 4, "CDCLK_CTL"),
    // DPLL0-3 control: lock follows enable; DPLL_STATUS gathers the locks.
    pll_ctl(display::kLcpll1Ctl, "LCPLL1_CTL"),
    pll_ctl(display::kLcpll2Ctl, "LCPLL2_CTL"),
    pll_ctl(display::kWrpll1Ctl, "WRPLL_CTL1"),
    pll_ctl(display::kWrpll2Ctl, "WRPLL_CTL2"),
    plain(display::kDpllCtrl1, 4, "DPLL_CTRL1"),
    preset(display::kDpllCtrl2, "DPLL_CTRL2", display::kDpllCtrl2Reset),  // DDI clocks gated
    computed(display::kDpllStatus, "DPLL_STATUS", display::dpll_status_read),
    // DBUF_CTL: power state follows the request.
    custom(display::kDbufCtl, 4, "DBUF_CTL", nullptr, display::dbuf_ctl_write),
    // GMBUS: every addressed cycle NAKs at once (no I2C device on any pin).
    plain(display::kGmbus0, 4, "GMBUS0"),
    custom(display::kGmbus1, 4, "GMBUS1", nullptr, display::gmbus1_write),
    custom(display::kGmbus2, 4, "GMBUS2", nullptr, display::gmbus2_write),
    plain(display::kGmbus3, 4, "GMBUS3"),
    plain(display::kGmbus4, 4, "GMBUS4"),
    plain(display::kGmbus5, 4, "GMBUS5"),
    // PCH_PORT_HOTPLUG: detect enables plain, latched pulse status W1C.
    custom(display::kPchPortHotplug, 4, "PCH_PORT_HOTPLUG", nullptr,
           display::pch_port_hotplug_write),
    // ---- end of display ports

    // GEN8_FUSE2: fused-off slices/subslices are a fact of the part (lab notes #6).
    read_only(0x09120, "GEN8_FUSE2", kFuse2Skl),
    read_only(0x0C000, "GUC_STATUS", kGucMiaInReset),
    read_only(0x42000, "SKL_FUSE_STATUS", kSklFuseStatus),
    computed(0x51000, "SKL_DFSM", dfsm_read),
    preset(0xC6204, "PCH_RAWCLK_FREQ", kRawclkMhz),

    // Display power wells: a request is granted at once (power_management.hpp).
    custom(pm::kPowerWellCtl1 + 0x0, 4, "HSW_PWR_WELL_CTL1", pm::power_well_read,
           pm::power_well_write),
    custom(pm::kPowerWellCtl1 + 0x4, 4, "HSW_PWR_WELL_CTL2", pm::power_well_read,
           pm::power_well_write),
    custom(pm::kPowerWellCtl1 + 0x8, 4, "HSW_PWR_WELL_CTL3", pm::power_well_read,
           pm::power_well_write),
    custom(pm::kPowerWellCtl1 + 0xC, 4, "HSW_PWR_WELL_CTL4", pm::power_well_read,
           pm::power_well_write),
    // PCU mailbox: commands complete at once (power_management.hpp).
    custom(pm::kPcodeMailbox, 4, "GEN6_PCODE_MAILBOX", nullptr, pm::pcode_mailbox_write),
    plain(pm::kPcodeData0, 8, "GEN6_PCODE_DATA0/1"),

    // Fence registers: 32 x 64-bit at 0x100000 (§8.1); plain until remapped.
    plain(0x100000, 32 * 8, "FENCE_REG_GEN6"),
    // GFX_FLSH_CNTL_GEN6: i915 writes 1 after GGTT updates (§2.3); that is
    // when a RAM-backed GGTT is applied.
    custom(0x101008, 4, "GFX_FLSH_CNTL_GEN6", nullptr, gfx_flush_write),
};

// The table is code; a malformed row fails the build, not a guest access.
consteval bool table_is_well_formed() {
    if (!register_rows_laid_out(std::span<const MmioRow>(kRows), kRegisterFileSize)) {
        return false;  // aligned, in range, disjoint
    }
    for (const MmioRow& r : kRows) {
        if (r.policy == RegPolicy::Masked && r.init > 0xFFFF) {
            return false;  // masked registers have no state in bits 31:16
        }
        if ((r.policy != RegPolicy::Custom && r.write != nullptr) ||
            (r.policy != RegPolicy::Custom && r.policy != RegPolicy::ReadOnly &&
             r.read != nullptr)) {
            return false;  // handlers would be silently ignored
        }
    }
    return true;
}
static_assert(table_is_well_formed(), "MMIO table rows must be aligned, in range, disjoint");

// dword index → row number, built once on first use and shared by every vGPU.
const std::vector<uint16_t>& row_index() {
    static const std::vector<uint16_t> index =
        register_row_index(std::span<const MmioRow>(kRows), kRegisterDwords);
    return index;
}

}  // namespace

const char* to_string(RegPolicy policy) {
    switch (policy) {
        case RegPolicy::Vreg:
            return "vreg";
        case RegPolicy::ReadOnly:
            return "read-only";
        case RegPolicy::RoMask:
            return "ro-mask";
        case RegPolicy::Masked:
            return "masked";
        case RegPolicy::Rw1c:
            return "rw1c";
        case RegPolicy::Custom:
            return "custom";
    }
    return "?";
}

std::span<const MmioRow> mmio_table() {
    return kRows;
}

const MmioRow* find_mmio_row(uint32_t offset) {
    if (offset >= kRegisterFileSize) {
        return nullptr;
    }
    const uint16_t row = row_index()[offset / 4];
    return row == kNoRegisterRow ? nullptr : &kRows[row];
}

}  // namespace xengt::mediator::mmio
