// GMBUS, the display engine's I2C controller, with one DDC device: the EDID
// EEPROM of the model's monitor at slave 0x50 on pin pair 5 (DPB, port B)
// (intel-gpu.md §7.5). All controller state lives in the GMBUS registers:
// GMBUS1 keeps the latched command (byte count, index, cycle, address),
// GMBUS2 bits 8:0 count the bytes transferred so far.
#include <algorithm>

#include "gpu/model/edid.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"

namespace xengt::gpu::model {
namespace {

// §7.5 (GVT): an idle controller with a pin selected shows HW_RDY | HW_WAIT_PHASE.
constexpr uint32_t kIdle = hw::kGmbusHwRdy | hw::kGmbusHwWaitPhase;
constexpr uint32_t kGmbus5IndexEnable = 1u << 31;  // §7.5 GMBUS5 bit 31

uint32_t cycle_of(uint32_t gmbus1) {
    return gmbus1 >> hw::kGmbusCycleShift & 7;
}

// §7.5 pin pairs of Skylake: 4 DPC, 5 DPB, 6 DPD; anything else selects no bus.
bool pin_valid(uint32_t pin) {
    return pin == hw::kGmbusPinDpc || pin == hw::kGmbusPinDpb || pin == hw::kGmbusPinDpd;
}

// The monitor is HDMI on port B, so only pin pair 5 (DPB) has a DDC device.
bool device_present(ModelState& s) {
    return (s.reg(hw::kGmbus0) & hw::kGmbusPinMask) == hw::kGmbusPinDpb;
}

void set_status(ModelState& s, uint32_t status) {
    uint32_t& g2 = s.reg(hw::kGmbus2);
    g2 = (g2 & hw::kGmbusInUse) | status;
}

// Moves `n` bytes of the latched transfer; at its end the controller enters
// the wait phase (WAIT cycle) or goes idle (STOP in the same command).
void advance(ModelState& s, uint32_t n) {
    const uint32_t g1 = s.reg(hw::kGmbus1);
    const uint32_t total = g1 >> hw::kGmbusByteCountShift & hw::kGmbusByteCountMask;
    const uint32_t count = (s.reg(hw::kGmbus2) & hw::kGmbusCountMask) + n;
    if (count < total) {
        set_status(s, hw::kGmbusActive | hw::kGmbusHwRdy | count);
    } else if ((cycle_of(g1) & hw::kGmbusCycleStop) != 0) {
        set_status(s, kIdle | count);
    } else {
        set_status(s, hw::kGmbusActive | hw::kGmbusHwWaitPhase | count);
    }
}

// Bytes left in the current transfer in direction `read` (0 if none active).
uint32_t remaining(ModelState& s, bool read) {
    const uint32_t g1 = s.reg(hw::kGmbus1);
    const uint32_t g2 = s.reg(hw::kGmbus2);
    if ((g2 & hw::kGmbusActive) == 0 || ((g1 & hw::kGmbusSlaveRead) != 0) != read) {
        return 0;
    }
    const uint32_t total = g1 >> hw::kGmbusByteCountShift & hw::kGmbusByteCountMask;
    return total - std::min(total, g2 & hw::kGmbusCountMask);
}

void start_transfer(ModelState& s, uint32_t g1) {
    const uint32_t address = g1 >> 1 & 0x7F;  // §7.5 bits 7:1
    if (!device_present(s) || address != hw::kDdcEdidAddress) {
        // No device acknowledges the address byte: NAK (SATOER), bus released.
        set_status(s, hw::kGmbusSatoer);
        return;
    }
    set_status(s, 0);
    advance(s, 0);
}

}  // namespace

void gmbus0_write(ModelState& s, uint32_t offset, uint32_t value) {
    // §7.5 (GVT): selecting a pin resets the controller to idle; no pin → no status.
    s.reg(offset) = value;
    set_status(s, pin_valid(value & hw::kGmbusPinMask) ? kIdle : 0);
}

void gmbus1_write(ModelState& s, uint32_t offset, uint32_t value) {
    const uint32_t before = s.reg(offset);
    // §7.5: SW_RDY is taken by the hardware at once, so it never reads back set.
    s.reg(offset) = value & ~hw::kGmbusSwRdy;
    if ((value & hw::kGmbusSwClrInt) != 0) {
        set_status(s, 0);  // held in reset while SW_CLR_INT is set
        return;
    }
    if ((before & hw::kGmbusSwClrInt) != 0) {
        // §7.5: SW_CLR_INT 1 → 0 resets the controller.
        set_status(s, pin_valid(s.reg(hw::kGmbus0) & hw::kGmbusPinMask) ? kIdle : 0);
    }
    if ((value & hw::kGmbusSwRdy) == 0) {
        return;
    }
    const uint32_t cycle = cycle_of(value);
    if ((cycle & (hw::kGmbusCycleWait | hw::kGmbusCycleIndex)) != 0) {
        start_transfer(s, value);
    } else if ((cycle & hw::kGmbusCycleStop) != 0) {
        set_status(s, kIdle);  // §7.5: STOP returns to idle and clears ACTIVE
    }
}

uint32_t gmbus2_read(ModelState& s, uint32_t offset) {
    // §7.5: a read returns the status and then sets IN_USE.
    const uint32_t value = s.reg(offset);
    s.reg(offset) |= hw::kGmbusInUse;
    return value;
}

void gmbus2_write(ModelState& s, uint32_t offset, uint32_t value) {
    // §7.5: writing 1 to IN_USE clears it; the other bits are status.
    s.reg(offset) &= ~(value & hw::kGmbusInUse);
}

uint32_t gmbus3_read(ModelState& s, uint32_t /*offset*/) {
    const uint32_t n = std::min(4u, remaining(s, true));
    if (n == 0) {
        return 0;  // no read data pending
    }
    const uint32_t g1 = s.reg(hw::kGmbus1);
    const uint32_t g5 = s.reg(hw::kGmbus5);
    // The INDEX cycle sets the EEPROM's word address (GMBUS5 when it is
    // enabled, else GMBUS1 15:8); without one the model reads from 0.
    uint32_t index = 0;
    if ((cycle_of(g1) & hw::kGmbusCycleIndex) != 0) {
        index =
            (g5 & kGmbus5IndexEnable) != 0 ? (g5 & 0xFFFF) : (g1 >> hw::kGmbusIndexShift & 0xFF);
    }
    const uint32_t at = index + (s.reg(hw::kGmbus2) & hw::kGmbusCountMask);
    const EdidBlock& edid = monitor_edid();
    uint32_t value = 0;
    for (uint32_t i = 0; i < n; ++i) {
        // Doc silent past byte 127: a 128-byte (1 Kbit) DDC EEPROM wraps its address.
        value |= uint32_t{edid[(at + i) % hw::kEdidBytes]} << (8 * i);  // §7.5 LSB first
    }
    advance(s, n);
    return value;
}

void gmbus3_write(ModelState& s, uint32_t offset, uint32_t value) {
    // Write transfers are acknowledged and their data discarded: the model's
    // EEPROM is read-only and reads take their address from the INDEX cycle.
    s.reg(offset) = value;
    const uint32_t n = std::min(4u, remaining(s, false));
    if (n != 0) {
        advance(s, n);
    }
}

}  // namespace xengt::gpu::model
