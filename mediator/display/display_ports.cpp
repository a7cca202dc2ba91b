#include "mediator/display/display_ports.hpp"

#include <algorithm>
#include <array>

#include "mediator/display/display_timing.hpp"
#include "mediator/irq/virtual_irq.hpp"

namespace xengt::mediator::display {
namespace {

constexpr uint32_t kAuxStatusBits = kAuxDone | kAuxTimeoutError | kAuxReceiveError;
constexpr uint32_t kSdePortDHotplugIir = kSdePortDHotplug;  // SDEIIR uses the SDEISR bit

// The PLL control registers in DPLL order (DPLL0..3).
constexpr std::array<uint32_t, 4> kPllCtl = {kLcpll1Ctl, kLcpll2Ctl, kWrpll1Ctl, kWrpll2Ctl};

DpMonitor* monitor_of(mmio::MmioContext& ctx) {
    return ctx.display != nullptr ? &ctx.display->monitor : nullptr;
}

// AUX data registers carry the message most significant byte first:
// byte 4i is bits 31:24 of DATA(i+1).
void unpack(const mmio::MmioContext& ctx, uint32_t data0, std::span<uint8_t> out) {
    for (size_t i = 0; i < out.size(); ++i) {
        const uint32_t word = ctx.vreg(data0 + static_cast<uint32_t>(i / 4) * 4);
        out[i] = static_cast<uint8_t>(word >> (24 - 8 * (i % 4)));
    }
}
void pack(mmio::MmioContext& ctx, uint32_t data0, std::span<const uint8_t> in) {
    for (size_t w = 0; w * 4 < in.size(); ++w) {
        uint32_t word = 0;
        for (size_t b = 0; b < 4 && w * 4 + b < in.size(); ++b) {
            word |= uint32_t{in[w * 4 + b]} << (24 - 8 * b);
        }
        ctx.vreg(data0 + static_cast<uint32_t>(w) * 4) = word;
    }
}

}  // namespace

uint32_t aux_done_irq_bit(unsigned channel) {
    return channel == 0 ? 1u << 0 : 1u << (24 + channel);
}

void monitor_hotplug(mmio::MmioContext& ctx, bool connected) {
    DpMonitor* m = monitor_of(ctx);
    if (m == nullptr || m->connected() == connected) {
        return;  // no change on the wire: no pulse
    }
    m->set_connected(connected);
    if (!connected) {
        m->reset_link();  // a monitor plugged in later starts untrained
    }
    if ((ctx.vreg(kPchPortHotplug) & kPortDHotplugEnable) != 0) {
        ctx.vreg(kPchPortHotplug) |= kPortDLongPulse;
        irq::raise(ctx, {IrqBank::Pch, kSdePortDHotplugIir});
    }
}

// DP_AUX_CH_CTL (§7.6). The message goes out when SEND_BUSY is written as 1
// and, the channel being virtual, completes before the write returns: busy
// is never seen set. Only the monitor's channel has a sink; the others
// report a timeout error, as hardware does when nothing answers.
TrapResult aux_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                         uint32_t byte_mask) {
    const uint32_t old = ctx.vreg(offset);
    const uint32_t cleared = value & byte_mask & kAuxStatusBits;
    uint32_t ctl = (value & ~(kAuxStatusBits | kAuxSendBusy)) | (old & kAuxStatusBits & ~cleared);
    if ((value & byte_mask & kAuxSendBusy) == 0) {
        ctx.vreg(offset) = ctl;
        return TrapResult::Handled;
    }
    const unsigned channel = (offset - kAuxCtlA) / kPortStride;
    const uint32_t data0 = offset + kAuxDataOffset;
    std::array<uint8_t, kAuxMessageBytes> request{};
    const size_t send =
        std::min<size_t>((value & kAuxMessageSizeMask) >> kAuxMessageSizeShift, kAuxMessageBytes);
    unpack(ctx, data0, std::span<uint8_t>(request.data(), send));

    DpMonitor* m = monitor_of(ctx);
    std::optional<AuxReply> reply;
    if (channel == kMonitorPort && m != nullptr) {
        reply = m->transfer(std::span<const uint8_t>(request.data(), send));
    }
    ctl &= ~(kAuxStatusBits | kAuxMessageSizeMask);
    if (reply) {
        pack(ctx, data0, std::span<const uint8_t>(reply->bytes.data(), reply->size));
        ctl |= kAuxDone | uint32_t{reply->size} << kAuxMessageSizeShift;
    } else {
        ctl |= kAuxDone | kAuxTimeoutError;
    }
    ctx.vreg(offset) = ctl;
    if ((value & kAuxInterrupt) != 0) {  // "interrupt on done"
        irq::raise(ctx, {IrqBank::DePort, aux_done_irq_bit(channel)});
    }
    return TrapResult::Handled;
}

// DDI_BUF_CTL (§7.3): a disabled buffer is idle; an enabled one is not.
TrapResult ddi_buf_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                             uint32_t /*byte_mask*/) {
    ctx.vreg(offset) = (value & kDdiBufEnable) != 0 ? value & ~kDdiBufIdle : value | kDdiBufIdle;
    return TrapResult::Handled;
}

// DP_TP_STATUS: "idle done" once the port sends idle patterns (DP_TP_CTL
// enabled with pattern IDLE); the link needs no minimum count here.
uint32_t dp_tp_status_read(mmio::MmioContext& ctx, uint32_t offset) {
    const uint32_t tp_ctl = ctx.vreg(offset - (kDpTpStatusA - kDpTpCtlA));
    const bool idle =
        (tp_ctl & kDpTpEnable) != 0 && (tp_ctl & kDpTpPatternMask) == kDpTpPatternIdle;
    return (ctx.vreg(offset) & ~kDpTpIdleDone) | (idle ? kDpTpIdleDone : 0);
}

// LCPLL1/2_CTL, WRPLL_CTL1/2: an enabled PLL locks at once, a disabled one
// loses lock.
TrapResult pll_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                         uint32_t /*byte_mask*/) {
    ctx.vreg(offset) = (value & kPllEnable) != 0 ? value | kPllLock : value & ~kPllLock;
    return TrapResult::Handled;
}

uint32_t dpll_status_read(mmio::MmioContext& ctx, uint32_t /*offset*/) {
    uint32_t status = 0;
    for (unsigned dpll = 0; dpll < kPllCtl.size(); ++dpll) {
        if ((ctx.vreg(kPllCtl[dpll]) & kPllLock) != 0) {
            status |= dpll_locked(dpll);
        }
    }
    return status;
}

// DBUF_CTL: the buffer powers up or down as soon as asked.
TrapResult dbuf_ctl_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                          uint32_t /*byte_mask*/) {
    ctx.vreg(offset) =
        (value & kDbufPowerRequest) != 0 ? value | kDbufPowerState : value & ~kDbufPowerState;
    return TrapResult::Handled;
}

// GMBUS1 (§7.5). SW_READY hands a cycle to the controller, which takes it at
// once (SW_READY never reads back set). A STOP on its own frees the bus; any
// cycle that addresses a slave gets no acknowledge, since no pin pair has an
// I2C device behind it: GMBUS2 reports SATOER with the bus inactive, which
// i915 takes as "no device" (-ENXIO) without waiting. SW_CLR_INT resets the
// controller, clearing the error.
TrapResult gmbus1_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                        uint32_t /*byte_mask*/) {
    uint32_t& status = ctx.vreg(kGmbus2);
    if ((value & kGmbusSwClrInt) != 0) {
        status = 0;
    } else if ((value & kGmbusSwReady) != 0) {
        const uint32_t cycle = (value >> kGmbusCycleShift) & 7;
        status = cycle == kGmbusCycleStop ? status & ~(kGmbusActive | kGmbusNak) : kGmbusNak;
    }
    ctx.vreg(offset) = value & ~kGmbusSwReady;
    return TrapResult::Handled;
}

TrapResult gmbus2_write(mmio::MmioContext&, uint32_t, uint32_t, uint32_t) {
    return TrapResult::Handled;  // i915 never writes it; the in-use handshake is not modelled
}

uint32_t sde_isr_read(mmio::MmioContext& ctx, uint32_t offset) {
    const DpMonitor* m = monitor_of(ctx);
    return ctx.vreg(offset) | (m != nullptr && m->connected() ? kSdePortDHotplug : 0);
}

TrapResult pch_port_hotplug_write(mmio::MmioContext& ctx, uint32_t offset, uint32_t value,
                                  uint32_t byte_mask) {
    const uint32_t old = ctx.vreg(offset);
    const uint32_t cleared = value & byte_mask & kPchHotplugStatusBits;
    ctx.vreg(offset) = (value & ~kPchHotplugStatusBits) | (old & kPchHotplugStatusBits & ~cleared);
    return TrapResult::Handled;
}

}  // namespace xengt::mediator::display
