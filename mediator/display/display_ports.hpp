// The display-side hardware between the pipes and the monitor, as a Skylake
// i915 drives it (intel-gpu.md §7.3, §7.5, §7.6): DDI buffers and DP link
// training control, DP AUX channels A-D, the display PLLs, CDCLK and DBUF
// power, GMBUS, and the south-display hotplug logic.
//
// Like GVT-g on Skylake, the vGPU has one virtual DisplayPort monitor on DDI
// D (display/dp_monitor.hpp), present when VgpuConfig::display is set. The
// vGPU starts the way hardware comes out of reset with no firmware having
// lit anything: PLLs off, DDI buffers disabled and idle, DDI clocks gated,
// pipes off. The guest driver does its own modeset; everything it waits for
// (PLL lock, DBUF power, buffer idle, idle patterns, AUX completion) happens
// at once.
//
// Per-vGPU state beyond the vregs is the monitor, in DisplayState.
#pragma once

#include <cstdint>

#include "mediator/mmio/mmio_context.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::display {

// DDI ports A-E; the monitor sits on D, GVT-g's virtual DP port on SKL (§7.3).
inline constexpr unsigned kDdiPorts = 5;
inline constexpr unsigned kMonitorPort = 3;
inline constexpr uint32_t kPortStride = 0x100;

// DDI_BUF_CTL(port): bit 31 enable, bit 7 idle (read-only status).
inline constexpr uint32_t kDdiBufCtlA = 0x64000;
inline constexpr uint32_t kDdiBufEnable = 1u << 31;
inline constexpr uint32_t kDdiBufIdle = 1u << 7;
// DP_TP_CTL(port) / DP_TP_STATUS(port): link training pattern and status.
inline constexpr uint32_t kDpTpCtlA = 0x64040;
inline constexpr uint32_t kDpTpStatusA = 0x64044;
inline constexpr uint32_t kDpTpEnable = 1u << 31;
inline constexpr uint32_t kDpTpPatternMask = 7u << 8;
inline constexpr uint32_t kDpTpPatternIdle = 2u << 8;
inline constexpr uint32_t kDpTpIdleDone = 1u << 25;

constexpr uint32_t port_reg(uint32_t port_a_offset, unsigned port) {
    return port_a_offset + port * kPortStride;
}

// DP_AUX_CH_CTL(ch) and its five DATA registers, channels A-D (§7.6).
inline constexpr unsigned kAuxChannels = 4;
inline constexpr uint32_t kAuxCtlA = 0x64010;
inline constexpr uint32_t kAuxDataOffset = 0x4;  // DATA1..5 follow CTL
inline constexpr unsigned kAuxDataRegs = 5;
inline constexpr uint32_t kAuxSendBusy = 1u << 31;
inline constexpr uint32_t kAuxDone = 1u << 30;
inline constexpr uint32_t kAuxInterrupt = 1u << 29;
inline constexpr uint32_t kAuxTimeoutError = 1u << 28;
inline constexpr uint32_t kAuxReceiveError = 1u << 25;
inline constexpr unsigned kAuxMessageSizeShift = 20;
inline constexpr uint32_t kAuxMessageSizeMask = 0x1Fu << kAuxMessageSizeShift;
// GEN8_DE_PORT_IIR bits of the AUX channels on SKL (§6.1): A bit 0, B-D 25-27.
uint32_t aux_done_irq_bit(unsigned channel);

// Display PLLs (§7.3): DPLL0 is LCPLL1 (it also feeds CDCLK), DPLL1 LCPLL2,
// DPLL2/3 the two WRPLLs. Control bit 31 enable, bit 30 lock.
inline constexpr uint32_t kCdclkCtl = 0x46000;
inline constexpr uint32_t kLcpll1Ctl = 0x46010;
inline constexpr uint32_t kLcpll2Ctl = 0x46014;
inline constexpr uint32_t kWrpll1Ctl = 0x46040;
inline constexpr uint32_t kWrpll2Ctl = 0x46060;
inline constexpr uint32_t kPllEnable = 1u << 31;
inline constexpr uint32_t kPllLock = 1u << 30;
inline constexpr uint32_t kDpllCtrl1 = 0x6C058;
inline constexpr uint32_t kDpllCtrl2 = 0x6C05C;
inline constexpr uint32_t kDpllStatus = 0x6C060;
// DPLL_STATUS: DPLLn locked at bit 8n.
constexpr uint32_t dpll_locked(unsigned dpll) {
    return 1u << (8 * dpll);
}
// DPLL_CTRL2 bits 19:15: the clocks of DDI A-E are gated (off) after reset.
inline constexpr uint32_t kDpllCtrl2Reset = 0x1Fu << 15;

// DBUF_CTL: bit 31 power request, bit 30 power state.
inline constexpr uint32_t kDbufCtl = 0x45008;
inline constexpr uint32_t kDbufPowerRequest = 1u << 31;
inline constexpr uint32_t kDbufPowerState = 1u << 30;

// GMBUS (§7.5).
inline constexpr uint32_t kGmbus0 = 0xC5100;
inline constexpr uint32_t kGmbus1 = 0xC5104;
inline constexpr uint32_t kGmbus2 = 0xC5108;
inline constexpr uint32_t kGmbus3 = 0xC510C;
inline constexpr uint32_t kGmbus4 = 0xC5110;
inline constexpr uint32_t kGmbus5 = 0xC5120;
inline constexpr uint32_t kGmbusSwClrInt = 1u << 31;
inline constexpr uint32_t kGmbusSwReady = 1u << 30;
inline constexpr unsigned kGmbusCycleShift = 25;
inline constexpr uint32_t kGmbusCycleStop = 4u;
inline constexpr uint32_t kGmbusNak = 1u << 10;  // GMBUS2 SATOER
inline constexpr uint32_t kGmbusActive = 1u << 9;

// South display hotplug (§6.1, §7.3): SDEISR live state of port D, and
// PCH_PORT_HOTPLUG (SHOTPLUG_CTL) with per-port detect enable and latched
// pulse status (write 1 to clear); port D: enable bit 20, status 17:16
// (long pulse 2, short 1). The ports' status fields are A 25:24, B 1:0,
// C 9:8, D 17:16.
inline constexpr uint32_t kSdeIsr = 0xC4000;
inline constexpr uint32_t kSdePortDHotplug = 1u << 23;
inline constexpr uint32_t kPchPortHotplug = 0xC4030;
inline constexpr uint32_t kPortDHotplugEnable = 1u << 20;
inline constexpr uint32_t kPortDLongPulse = 2u << 16;
inline constexpr uint32_t kPchHotplugStatusBits = (3u << 24) | (3u << 16) | (3u << 8) | 3u;

// The monitor on port D is plugged in (true) or pulled out. SDEISR follows at
// once; if the guest enabled port D detection, PCH_PORT_HOTPLUG latches a
// long pulse and the port D hotplug event goes to SDEIIR (subject to SDEIMR).
void monitor_hotplug(mmio::MmioContext& ctx, bool connected);

// MMIO table handlers; each names its hardware rule.
// AUX CTL: a write with SEND_BUSY runs the transaction in DATA1-5 at once.
// Done, timeout and receive error are write-1-to-clear.
TrapResult aux_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                         uint32_t byte_mask);
// DDI_BUF_CTL: idle is the inverse of enable.
TrapResult ddi_buf_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                             uint32_t byte_mask);
// DP_TP_STATUS: idle done while DP_TP_CTL sends idle patterns.
uint32_t dp_tp_status_read(mmio::MmioContext& ctx, uint32_t offset);
// PLL control: lock follows enable.
TrapResult pll_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                         uint32_t byte_mask);
// DPLL_STATUS: each PLL's lock bit, computed; read-only.
uint32_t dpll_status_read(mmio::MmioContext& ctx, uint32_t offset);
// DBUF_CTL: power state follows the request.
TrapResult dbuf_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                          uint32_t byte_mask);
// GMBUS1: no I2C device answers on any pin (the monitor is DP; its DDC is on
// AUX), so an addressed cycle NAKs at once; SW_CLR_INT resets the controller.
TrapResult gmbus1_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t byte_mask);
// GMBUS2: status the controller owns; guest writes are dropped.
TrapResult gmbus2_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t byte_mask);
// SDEISR: the stored bits plus port D's live hotplug state.
uint32_t sde_isr_read(mmio::MmioContext& ctx, uint32_t offset);
// PCH_PORT_HOTPLUG: status fields write-1-to-clear, the rest plain.
TrapResult pch_port_hotplug_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                                  uint32_t byte_mask);

}  // namespace xengt::mediator::display
