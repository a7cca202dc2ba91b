// The vGPU's display ports as a Skylake i915 drives them (display_ports.hpp):
// DP AUX to the virtual monitor on DDI D, timeouts elsewhere, GMBUS NAKs,
// PLL lock, DBUF power, DDI buffer idle, hotplug.
#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include "irq_test_support.hpp"
#include "mediator/display/display_ports.hpp"
#include "mediator/display/dp_monitor.hpp"
#include "mediator/display/edid.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;
using namespace xengt::mediator::display;

namespace {

constexpr uint32_t kAuxClearStatus = kAuxDone | kAuxTimeoutError | kAuxReceiveError;

struct AuxResult {
    uint32_t ctl = 0;
    std::vector<uint8_t> reply;
};

// One AUX transaction the way i915 runs it: message into DATA1-5 (MSB
// first), CTL with SEND_BUSY and the stale status bits to clear, read CTL,
// unload the reply, write the status back to clear it.
AuxResult aux(IrqVgpu& d, unsigned channel, const std::vector<uint8_t>& msg,
              bool interrupt = false) {
    const uint32_t ctl = port_reg(kAuxCtlA, channel);
    for (size_t w = 0; w * 4 < msg.size(); ++w) {
        uint32_t word = 0;
        for (size_t b = 0; b < 4 && w * 4 + b < msg.size(); ++b) {
            word |= uint32_t{msg[w * 4 + b]} << (24 - 8 * b);
        }
        d.set(ctl + kAuxDataOffset + static_cast<uint32_t>(w) * 4, word);
    }
    d.set(ctl, kAuxSendBusy | kAuxClearStatus | (interrupt ? kAuxInterrupt : 0) |
                   static_cast<uint32_t>(msg.size()) << kAuxMessageSizeShift);
    AuxResult r;
    r.ctl = d.reg(ctl);
    const uint32_t n = (r.ctl & kAuxMessageSizeMask) >> kAuxMessageSizeShift;
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t word = d.reg(ctl + kAuxDataOffset + (i / 4) * 4);
        r.reply.push_back(static_cast<uint8_t>(word >> (24 - 8 * (i % 4))));
    }
    d.set(ctl, r.ctl | kAuxClearStatus);
    return r;
}

std::vector<uint8_t> native_read(uint32_t address, uint8_t length) {
    return {static_cast<uint8_t>(kAuxNativeRead << 4 | address >> 16),
            static_cast<uint8_t>(address >> 8), static_cast<uint8_t>(address),
            static_cast<uint8_t>(length - 1)};
}
std::vector<uint8_t> native_write(uint32_t address, std::vector<uint8_t> data) {
    std::vector<uint8_t> m = {static_cast<uint8_t>(kAuxNativeWrite << 4 | address >> 16),
                              static_cast<uint8_t>(address >> 8), static_cast<uint8_t>(address),
                              static_cast<uint8_t>(data.size() - 1)};
    m.insert(m.end(), data.begin(), data.end());
    return m;
}
// An I2C-over-AUX message; no length byte makes it address-only.
std::vector<uint8_t> i2c(uint8_t type, uint8_t slave, std::vector<uint8_t> rest = {}) {
    std::vector<uint8_t> m = {static_cast<uint8_t>(type << 4), 0, slave};
    m.insert(m.end(), rest.begin(), rest.end());
    return m;
}

void check_ack(const AuxResult& r) {
    INFO("ctl 0x" << std::hex << r.ctl);
    CHECK((r.ctl & kAuxSendBusy) == 0);
    CHECK((r.ctl & kAuxDone) != 0);
    CHECK((r.ctl & (kAuxTimeoutError | kAuxReceiveError)) == 0);
    REQUIRE(!r.reply.empty());
    CHECK(r.reply[0] == kAuxAck);
}

constexpr uint32_t kWriteMot = kAuxI2cWrite | kAuxI2cMot;
constexpr uint32_t kReadMot = kAuxI2cRead | kAuxI2cMot;

}  // namespace

TEST_CASE("a native AUX read on DDI D returns the monitor's DPCD receiver caps", "[display]") {
    IrqVgpu d;
    const AuxResult r = aux(d, kMonitorPort, native_read(0x000, 15));
    check_ack(r);
    REQUIRE(r.reply.size() == 16);  // status byte + 15 bytes
    CHECK(r.reply[1] == 0x12);      // DPCD 1.2
    CHECK(r.reply[2] == 0x0A);      // 2.7 Gbps
    CHECK(r.reply[3] == 0x84);      // 4 lanes, enhanced framing
    CHECK(r.reply[6] == 0x00);      // no downstream port: a monitor, not a branch
    // Sink count and the MST capability i915 reads during detect.
    CHECK(aux(d, kMonitorPort, native_read(0x200, 1)).reply.at(1) == 0x01);
    CHECK(aux(d, kMonitorPort, native_read(0x021, 1)).reply.at(1) == 0x00);
}

TEST_CASE("I2C-over-AUX at 0x50 reads the 128-byte EDID the way drm does", "[display]") {
    IrqVgpu d;
    // Offset write: START (address-only, MOT), the offset byte, then a
    // repeated START for the read and 16-byte chunks, and a STOP.
    check_ack(aux(d, kMonitorPort, i2c(kWriteMot, kDdcEdidAddress)));
    check_ack(aux(d, kMonitorPort, i2c(kWriteMot, kDdcEdidAddress, {0x00, 0x00})));
    check_ack(aux(d, kMonitorPort, i2c(kReadMot, kDdcEdidAddress)));
    std::vector<uint8_t> edid;
    for (int chunk = 0; chunk < 8; ++chunk) {
        const AuxResult r = aux(d, kMonitorPort, i2c(kReadMot, kDdcEdidAddress, {15}));
        check_ack(r);
        REQUIRE(r.reply.size() == 17);
        edid.insert(edid.end(), r.reply.begin() + 1, r.reply.end());
    }
    check_ack(aux(d, kMonitorPort, i2c(kAuxI2cRead, kDdcEdidAddress)));  // STOP
    REQUIRE(edid.size() == kEdidBlockBytes);
    EdidBlock block{};
    std::copy(edid.begin(), edid.end(), block.begin());
    CHECK(edid_valid(block));
    CHECK(block == make_edid(kMode1024x768At60));
    CHECK(block[18] == 1);
    CHECK(block[19] == 4);
    // The preferred mode is 1024x768.
    CHECK((block[56] | (block[58] >> 4) << 8) == 1024);
    CHECK((block[59] | (block[61] >> 4) << 8) == 768);

    // Other slaves do not answer: I2C NACK on top of a native ACK.
    const AuxResult none = aux(d, kMonitorPort, i2c(kWriteMot, 0x37));
    CHECK((none.ctl & kAuxDone) != 0);
    CHECK(none.reply.at(0) == kAuxI2cNack);
    CHECK(aux(d, kMonitorPort, i2c(kWriteMot, kDdcSegmentAddress, {0, 1})).reply.at(0) ==
          kAuxI2cNack);
}

TEST_CASE("native AUX writes configure the link and it reports trained", "[display]") {
    IrqVgpu d;
    // Before any configuration: no lane trained.
    CHECK(aux(d, kMonitorPort, native_read(0x202, 6)).reply ==
          std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0});
    // LINK_BW_SET 2.7 Gbps, LANE_COUNT_SET 2 with enhanced framing.
    check_ack(aux(d, kMonitorPort, native_write(0x100, {0x0A, 0x82})));
    // TRAINING_PATTERN_SET TPS1 + lane drive settings.
    check_ack(aux(d, kMonitorPort, native_write(0x102, {0x21, 0x00, 0x00})));
    const AuxResult link = aux(d, kMonitorPort, native_read(0x202, 6));
    check_ack(link);
    // Lanes 0-1 CR|EQ|symbol lock, lanes 2-3 unused, interlane aligned, in
    // sync, no adjustment requested.
    CHECK(link.reply == std::vector<uint8_t>{0, 0x77, 0x00, 0x01, 0x01, 0x00, 0x00});
    CHECK(aux(d, kMonitorPort, native_read(0x100, 3)).reply ==
          std::vector<uint8_t>{0, 0x0A, 0x82, 0x21});
    // SET_POWER D3 then D0 sticks; capabilities are the sink's own.
    check_ack(aux(d, kMonitorPort, native_write(0x600, {0x02})));
    CHECK(aux(d, kMonitorPort, native_read(0x600, 1)).reply.at(1) == 0x02);
    check_ack(aux(d, kMonitorPort, native_write(0x001, {0x14})));
    CHECK(aux(d, kMonitorPort, native_read(0x001, 1)).reply.at(1) == 0x0A);

    // A device reset puts the sink's link state back; the monitor stays.
    d.vgpu.reset(ResetScope::device());
    program_bars(d.vgpu);
    CHECK(aux(d, kMonitorPort, native_read(0x101, 1)).reply.at(1) == 0x00);
    CHECK(d.vgpu.monitor_connected());
}

TEST_CASE("AUX on a port without a monitor times out at once", "[display]") {
    IrqVgpu d;
    for (unsigned ch = 0; ch < kAuxChannels; ++ch) {
        if (ch == kMonitorPort) {
            continue;
        }
        INFO("channel " << ch);
        const uint32_t ctl = port_reg(kAuxCtlA, ch);
        d.set(ctl + kAuxDataOffset, 0x9000000E);  // native read of 15 bytes at 0
        d.set(ctl, kAuxSendBusy | kAuxClearStatus | 4u << kAuxMessageSizeShift);
        const uint32_t status = d.reg(ctl);
        CHECK((status & kAuxSendBusy) == 0);
        CHECK((status & kAuxDone) != 0);
        CHECK((status & kAuxTimeoutError) != 0);
        CHECK((status & kAuxReceiveError) == 0);
        // Done and timeout are write-1-to-clear; writing the status back clears them.
        d.set(ctl, status);
        CHECK((d.reg(ctl) & kAuxClearStatus) == 0);
    }

    // Headless: DDI D has no monitor either.
    VgpuConfig headless;
    headless.display = false;
    IrqVgpu h(true, headless);
    const AuxResult r = aux(h, kMonitorPort, native_read(0x000, 1));
    CHECK((r.ctl & kAuxTimeoutError) != 0);
    CHECK((h.reg(kSdeIsr) & kSdePortDHotplug) == 0);
}

TEST_CASE("AUX completion raises the channel's DE port interrupt when asked", "[display]") {
    IrqVgpu d;
    const uint32_t aux_d = aux_done_irq_bit(kMonitorPort);
    CHECK(aux_d == 1u << 27);
    CHECK(aux_done_irq_bit(0) == 1u << 0);
    d.enable(IrqBank::DePort, aux_d | aux_done_irq_bit(0));
    d.master(true);
    const size_t msis = d.hv.msis.size();
    aux(d, kMonitorPort, native_read(0x000, 1), /*interrupt=*/false);
    CHECK(d.reg(iir(IrqBank::DePort)) == 0);
    aux(d, kMonitorPort, native_read(0x000, 1), /*interrupt=*/true);
    CHECK(d.reg(iir(IrqBank::DePort)) == aux_d);
    CHECK(d.hv.msis.size() == msis + 1);
    d.set(iir(IrqBank::DePort), aux_d);
    aux(d, 0, native_read(0x000, 1), /*interrupt=*/true);  // a timeout is "done" too
    CHECK(d.reg(iir(IrqBank::DePort)) == aux_done_irq_bit(0));
}

TEST_CASE("GMBUS NAKs at once on every pin pair and SW_CLR_INT clears it", "[display]") {
    IrqVgpu d;
    for (uint32_t pin : {4u, 5u, 6u}) {
        INFO("pin " << pin);
        d.set(kGmbus0, pin);
        // EDID read as i915 folds it: INDEX|WAIT, 128 bytes, slave 0x50, read.
        d.set(kGmbus1, kGmbusSwReady | 3u << kGmbusCycleShift | 128u << 16 | 0x50u << 1 | 1u);
        const uint32_t status = d.reg(kGmbus2);
        CHECK((status & kGmbusNak) != 0);
        CHECK((status & kGmbusActive) == 0);
        CHECK((d.reg(kGmbus1) & kGmbusSwReady) == 0);  // the controller took the cycle
        // i915's recovery: SW_CLR_INT, then 0, then GMBUS0 = 0.
        d.set(kGmbus1, kGmbusSwClrInt);
        d.set(kGmbus1, 0);
        d.set(kGmbus0, 0);
        CHECK(d.reg(kGmbus2) == 0);
    }
}

TEST_CASE("display PLLs lock when enabled and DPLL_STATUS shows it", "[display]") {
    IrqVgpu d;
    CHECK(d.reg(kDpllStatus) == 0);
    const uint32_t ctl[] = {kLcpll1Ctl, kLcpll2Ctl, kWrpll1Ctl, kWrpll2Ctl};
    uint32_t expected = 0;
    for (unsigned dpll = 0; dpll < 4; ++dpll) {
        INFO("DPLL" << dpll);
        d.set(ctl[dpll], kPllEnable);
        CHECK(d.reg(ctl[dpll]) == (kPllEnable | kPllLock));
        expected |= dpll_locked(dpll);
        CHECK(d.reg(kDpllStatus) == expected);
    }
    d.set(kLcpll1Ctl, 0);  // DPLL0 off: lock goes (i915 waits for that too)
    CHECK(d.reg(kLcpll1Ctl) == 0);
    CHECK(d.reg(kDpllStatus) == (expected & ~dpll_locked(0)));
    d.set(kLcpll1Ctl, kPllLock);  // lock alone does not stick
    CHECK(d.reg(kLcpll1Ctl) == 0);
    CHECK(d.reg_write(kDpllStatus, ~0u) == TrapResult::Rejected);
    // DPLL_CTRL1/2 are plain, DPLL_CTRL2 starting with every DDI clock gated.
    CHECK(d.reg(kDpllCtrl2) == 0x000F8000);
    d.set(kDpllCtrl1, 0x00000005);
    CHECK(d.reg(kDpllCtrl1) == 0x00000005);
}

TEST_CASE("DBUF power state follows the request", "[display]") {
    IrqVgpu d;
    CHECK(d.reg(kDbufCtl) == 0);
    d.set(kDbufCtl, kDbufPowerRequest);
    CHECK(d.reg(kDbufCtl) == (kDbufPowerRequest | kDbufPowerState));
    d.set(kDbufCtl, 0);
    CHECK(d.reg(kDbufCtl) == 0);
}

TEST_CASE("DDI buffers are idle while disabled; DP_TP_STATUS reports idle patterns", "[display]") {
    IrqVgpu d;
    for (unsigned port = 0; port < kDdiPorts; ++port) {
        INFO("port " << port);
        const uint32_t buf = port_reg(kDdiBufCtlA, port);
        CHECK(d.reg(buf) == kDdiBufIdle);  // and port A reports no eDP strap (bit 0)
        d.set(buf, kDdiBufEnable | 0x6);   // 4 lanes
        CHECK(d.reg(buf) == (kDdiBufEnable | 0x6));
        d.set(buf, 0x6);
        CHECK(d.reg(buf) == (kDdiBufIdle | 0x6));

        const uint32_t tp = port_reg(kDpTpCtlA, port);
        const uint32_t tp_status = port_reg(kDpTpStatusA, port);
        d.set(tp, kDpTpEnable);  // pattern 1
        CHECK((d.reg(tp_status) & kDpTpIdleDone) == 0);
        d.set(tp, kDpTpEnable | kDpTpPatternIdle);
        CHECK((d.reg(tp_status) & kDpTpIdleDone) != 0);
        d.set(tp, kDpTpEnable | 3u << 8);  // normal
        CHECK((d.reg(tp_status) & kDpTpIdleDone) == 0);
    }
}

TEST_CASE("the monitor's hotplug state is in SDEISR and a replug raises the event", "[display]") {
    IrqVgpu d;
    CHECK(d.vgpu.monitor_connected());
    CHECK((d.reg(kSdeIsr) & kSdePortDHotplug) != 0);
    CHECK(d.reg_write(kSdeIsr, 0) == TrapResult::Rejected);
    CHECK((d.reg(kSdeIsr) & kSdePortDHotplug) != 0);

    // i915's SPT hotplug setup: detect enabled on port D, the event unmasked.
    d.set(kPchPortHotplug, kPortDHotplugEnable);
    d.enable(IrqBank::Pch, kSdePortDHotplug);
    d.master(true);
    const size_t msis = d.hv.msis.size();

    d.vgpu.set_monitor_connected(false);
    CHECK((d.reg(kSdeIsr) & kSdePortDHotplug) == 0);
    CHECK(d.reg(iir(IrqBank::Pch)) == kSdePortDHotplug);
    CHECK(d.reg(kPchPortHotplug) == (kPortDHotplugEnable | kPortDLongPulse));
    CHECK(d.hv.msis.size() == msis + 1);
    CHECK((aux(d, kMonitorPort, native_read(0, 1)).ctl & kAuxTimeoutError) != 0);
    // The handler's acknowledge: write the pulse status back, clear IIR.
    d.set(kPchPortHotplug, d.reg(kPchPortHotplug));
    CHECK(d.reg(kPchPortHotplug) == kPortDHotplugEnable);
    d.set(iir(IrqBank::Pch), kSdePortDHotplug);

    d.vgpu.set_monitor_connected(false);  // no change: no pulse
    CHECK(d.reg(iir(IrqBank::Pch)) == 0);
    d.vgpu.set_monitor_connected(true);
    CHECK((d.reg(kSdeIsr) & kSdePortDHotplug) != 0);
    CHECK(d.reg(iir(IrqBank::Pch)) == kSdePortDHotplug);
    check_ack(aux(d, kMonitorPort, native_read(0, 1)));

    // Detection disabled: live state changes, nothing is latched.
    d.set(iir(IrqBank::Pch), kSdePortDHotplug);
    d.set(kPchPortHotplug, d.reg(kPchPortHotplug) & ~kPortDHotplugEnable);
    d.vgpu.set_monitor_connected(false);
    CHECK(d.reg(iir(IrqBank::Pch)) == 0);
    CHECK(d.reg(kPchPortHotplug) == 0);
}

TEST_CASE("hostile AUX messages on every channel always complete with a reply that fits",
          "[display][hostile]") {
    // The guest controls every byte of a message and its announced size (the
    // 5-bit field says up to 31, the data registers hold 20): requests of
    // any type, address (up to the top of the 20-bit space) and length,
    // truncated headers, address-only frames, oversized sizes.
    IrqVgpu d;
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) {
        const unsigned channel = rng() % kAuxChannels;
        const uint32_t ctl = port_reg(kAuxCtlA, channel);
        for (unsigned w = 0; w < kAuxDataRegs; ++w) {
            d.set(ctl + kAuxDataOffset + w * 4, static_cast<uint32_t>(rng()));
        }
        const uint32_t size = rng() % 32;
        d.set(ctl, kAuxSendBusy | kAuxClearStatus | size << kAuxMessageSizeShift);
        const uint32_t after = d.reg(ctl);
        INFO("channel " << channel << " size " << size << " ctl 0x" << std::hex << after);
        REQUIRE((after & kAuxSendBusy) == 0);  // never left busy
        REQUIRE((after & kAuxDone) != 0);      // always completes
        const uint32_t reply = (after & kAuxMessageSizeMask) >> kAuxMessageSizeShift;
        REQUIRE(reply <= kAuxMessageBytes);  // a reply fits the data registers
        if (channel != kMonitorPort) {
            REQUIRE((after & kAuxTimeoutError) != 0);  // nobody on the other ports
        }
        d.set(ctl, after | kAuxClearStatus);
    }
    // The monitor still answers a well-formed read afterwards.
    const AuxResult caps = aux(d, kMonitorPort, native_read(0x000, 1));
    check_ack(caps);
}
