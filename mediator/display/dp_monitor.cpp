#include "mediator/display/dp_monitor.hpp"

#include <algorithm>

namespace xengt::mediator::display {
namespace {

// Per-lane status nibble (DPCD 0x202/0x203): clock recovery done (bit 0),
// channel equalisation done (bit 1), symbol locked (bit 2).
constexpr uint8_t kLaneTrained = 0x7;
constexpr uint8_t kInterlaneAlignDone = 0x01;  // 0x204 bit 0
constexpr uint8_t kReceivePort0InSync = 0x01;  // 0x205 bit 0
constexpr uint8_t kLaneCountMask = 0x1F;       // 0x101 bits 4:0
constexpr unsigned kMaxLanes = 4;

constexpr size_t kAuxHeaderBytes = 3;  // request/address; then length - 1
constexpr size_t kAuxLengthByte = 3;
constexpr size_t kAuxDataStart = 4;

// DPCD ranges a source may write: link configuration (0x100-0x1FF), source
// OUI (0x300-0x3FF) and power/ control (0x600-0x6FF). Capability and status
// bytes are the sink's; writes to them are acknowledged and dropped.
bool writable(uint32_t address) {
    return (address >= 0x100 && address < 0x200) || (address >= 0x300 && address < 0x400) ||
           (address >= 0x600 && address < 0x700);
}

AuxReply status_only(uint8_t status) {
    AuxReply r;
    r.size = 1;
    r.bytes[0] = status;
    return r;
}

}  // namespace

DpMonitor::DpMonitor(const DisplayMode& mode) : edid_(make_edid(mode)) {
    reset_link();
}

void DpMonitor::reset_link() {
    dpcd_.fill(0);
    dpcd_[kDpcdRev] = kSinkDpcdRev;
    dpcd_[kDpcdMaxLinkRate] = kSinkMaxLinkRate;
    dpcd_[kDpcdMaxLaneCount] = kSinkMaxLaneCount;
    dpcd_[0x003] = 0x01;  // MAX_DOWNSPREAD: 0.5% down-spread supported
    dpcd_[0x004] = 0x00;  // NORP: one receiver port
    dpcd_[0x005] = 0x00;  // DOWNSTREAMPORT_PRESENT: none (a monitor, not a branch)
    dpcd_[0x006] = 0x01;  // MAIN_LINK_CHANNEL_CODING: 8b/10b
    dpcd_[0x008] = 0x02;  // RECEIVE_PORT0_CAP_0: local EDID present
    dpcd_[kDpcdSinkCount] = 0x01;
    dpcd_[kDpcdSetPower] = 0x01;  // D0
    ddc_offset_ = 0;
}

uint8_t DpMonitor::link_status(uint32_t address) const {
    const unsigned lanes = std::min<unsigned>(dpcd_[kDpcdLaneCountSet] & kLaneCountMask, kMaxLanes);
    auto lane = [lanes](unsigned n) -> uint8_t { return n < lanes ? kLaneTrained : 0; };
    switch (address) {
        case kDpcdLane01Status:
            return static_cast<uint8_t>(lane(0) | lane(1) << 4);
        case kDpcdLane23Status:
            return static_cast<uint8_t>(lane(2) | lane(3) << 4);
        case kDpcdLaneAlignStatus:
            return lanes != 0 ? kInterlaneAlignDone : 0;
        case kDpcdSinkStatus:
            return lanes != 0 ? kReceivePort0InSync : 0;
        default:
            return 0;  // adjust requests: voltage swing and pre-emphasis level 0 are fine
    }
}

uint8_t DpMonitor::dpcd(uint32_t address) const {
    if (address >= kDpcdLane01Status && address <= kDpcdAdjustRequest23) {
        return link_status(address);
    }
    return address < kDpcdBytes ? dpcd_[address] : 0;
}

void DpMonitor::dpcd_write(uint32_t address, uint8_t value) {
    if (writable(address)) {
        dpcd_[address] = value;
    }
}

std::optional<AuxReply> DpMonitor::transfer(std::span<const uint8_t> request) {
    if (!connected_ || request.size() < kAuxHeaderBytes || request.size() > kAuxMessageBytes) {
        return std::nullopt;  // nobody there, or nothing a sink could decode
    }
    const uint8_t type = request[0] >> 4;
    const uint32_t address =
        uint32_t{request[0] & 0xFu} << 16 | uint32_t{request[1]} << 8 | request[2];
    const bool address_only = request.size() == kAuxHeaderBytes;
    const size_t length = address_only ? 0 : size_t{request[kAuxLengthByte]} + 1;
    const auto data = request.size() > kAuxDataStart ? request.subspan(kAuxDataStart)
                                                     : std::span<const uint8_t>{};
    if ((type & kAuxNativeWrite) != 0) {
        return native(type, address, data, length, address_only);
    }
    return i2c(type, address, data, length, address_only);
}

std::optional<AuxReply> DpMonitor::native(uint8_t type, uint32_t address,
                                          std::span<const uint8_t> data, size_t length,
                                          bool address_only) {
    if (address_only) {
        return status_only(kAuxNativeNack);  // native transactions always carry a length
    }
    if (type == kAuxNativeRead) {
        AuxReply r = status_only(kAuxAck);
        const size_t n = std::min(length, kAuxMaxPayload);
        for (size_t i = 0; i < n; ++i) {
            r.bytes[1 + i] = dpcd(address + static_cast<uint32_t>(i));
        }
        r.size = static_cast<uint8_t>(1 + n);
        return r;
    }
    if (type == kAuxNativeWrite) {
        const size_t n = std::min(length, data.size());
        for (size_t i = 0; i < n; ++i) {
            dpcd_write(address + static_cast<uint32_t>(i), data[i]);
        }
        return status_only(kAuxAck);
    }
    return status_only(kAuxNativeNack);  // reserved native request types
}

AuxReply DpMonitor::i2c(uint8_t type, uint32_t address, std::span<const uint8_t> data,
                        size_t length, bool address_only) {
    // I2C-over-AUX puts the 7-bit slave address in the address field. Only
    // the EDID EEPROM answers: this monitor has one 128-byte EDID block and
    // no E-DDC segment pointer (0x30), so every other slave NACKs.
    if ((address & 0x7F) != kDdcEdidAddress) {
        return status_only(kAuxI2cNack);
    }
    const uint8_t kind = type & ~kAuxI2cMot;
    if (address_only || kind == kAuxI2cWriteStatusUpdate) {
        return status_only(kAuxAck);  // START/STOP framing, or "all bytes written"
    }
    if (kind == kAuxI2cWrite) {
        if (!data.empty()) {
            ddc_offset_ = data[0];  // the word address; an EDID EEPROM is read-only after it
        }
        return status_only(kAuxAck);
    }
    if (kind == kAuxI2cRead) {
        AuxReply r = status_only(kAuxAck);
        const size_t n = std::min(length, kAuxMaxPayload);
        for (size_t i = 0; i < n; ++i) {
            r.bytes[1 + i] = edid_[ddc_offset_ % kEdidBlockBytes];  // 128 bytes, wrapping
            ++ddc_offset_;
        }
        r.size = static_cast<uint8_t>(1 + n);
        return r;
    }
    return status_only(kAuxI2cNack);
}

}  // namespace xengt::mediator::display
