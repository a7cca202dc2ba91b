// The vGPU's virtual DisplayPort monitor, as its AUX channel sees it: a
// DP 1.2 sink's DPCD (native AUX) and its EDID EEPROM behind I2C-over-AUX
// (intel-gpu.md §7.6).
//
// An AUX transaction arrives as the bytes the source put on the wire, which
// is what the DP_AUX_CH_DATA registers hold (display_ports.hpp unpacks
// them): a 3-byte header, request type in the high nibble of byte 0 and a
// 20-bit address below it, then (length - 1) and, for writes, the data. A
// request of just the 3-byte header is an address-only transaction (I2C
// start/stop). The reply is a status byte (bits 7:4: native ACK 0, NACK 1,
// DEFER 2; I2C ACK 0, NACK 4, DEFER 8 on top of a native ACK) followed by the
// data of a read.
//
// The sink trains any link at once: whatever lanes the source configures
// report clock recovery, channel equalisation and symbol lock, with
// interlane alignment, and request no other voltage swing or pre-emphasis.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "mediator/display/edid.hpp"

namespace xengt::mediator::display {

// An AUX message is at most 20 bytes (the five data registers).
inline constexpr size_t kAuxMessageBytes = 20;
// A DPCD or I2C read returns at most 16 bytes.
inline constexpr size_t kAuxMaxPayload = 16;

// AUX request types (byte 0 bits 7:4).
inline constexpr uint8_t kAuxNativeWrite = 0x8;
inline constexpr uint8_t kAuxNativeRead = 0x9;
inline constexpr uint8_t kAuxI2cWrite = 0x0;
inline constexpr uint8_t kAuxI2cRead = 0x1;
inline constexpr uint8_t kAuxI2cWriteStatusUpdate = 0x2;
inline constexpr uint8_t kAuxI2cMot = 0x4;  // middle of transaction: no STOP after it
// Reply status bytes.
inline constexpr uint8_t kAuxAck = 0x00;
inline constexpr uint8_t kAuxNativeNack = 0x10;
inline constexpr uint8_t kAuxI2cNack = 0x40;

// I2C slaves on the monitor's DDC: the EDID EEPROM and the E-DDC segment pointer.
inline constexpr uint8_t kDdcEdidAddress = 0x50;
inline constexpr uint8_t kDdcSegmentAddress = 0x30;

// DPCD addresses the sink gives meaning to (VESA DP 1.2, DPCD map).
inline constexpr uint32_t kDpcdRev = 0x000;
inline constexpr uint32_t kDpcdMaxLinkRate = 0x001;
inline constexpr uint32_t kDpcdMaxLaneCount = 0x002;
inline constexpr uint32_t kDpcdLaneCountSet = 0x101;
inline constexpr uint32_t kDpcdTrainingPatternSet = 0x102;
inline constexpr uint32_t kDpcdSinkCount = 0x200;
inline constexpr uint32_t kDpcdLane01Status = 0x202;
inline constexpr uint32_t kDpcdLane23Status = 0x203;
inline constexpr uint32_t kDpcdLaneAlignStatus = 0x204;
inline constexpr uint32_t kDpcdSinkStatus = 0x205;
inline constexpr uint32_t kDpcdAdjustRequest01 = 0x206;
inline constexpr uint32_t kDpcdAdjustRequest23 = 0x207;
inline constexpr uint32_t kDpcdSetPower = 0x600;

// What the sink says about itself: DPCD 1.2, 2.7 Gbps per lane (HBR), four
// lanes with enhanced framing, no TPS3, 0.5% down-spread, 8b/10b, no
// downstream ports, no MST.
inline constexpr uint8_t kSinkDpcdRev = 0x12;
inline constexpr uint8_t kSinkMaxLinkRate = 0x0A;   // 2.7 Gbps
inline constexpr uint8_t kSinkMaxLaneCount = 0x84;  // 4 lanes | enhanced frame cap

struct AuxReply {
    uint8_t size = 0;  // bytes in `bytes`, 1..17
    std::array<uint8_t, kAuxMessageBytes> bytes{};
};

class DpMonitor {
public:
    explicit DpMonitor(const DisplayMode& mode = kMode1024x768At60);

    // Whether a monitor is plugged in at all. Unplugged, nothing answers.
    bool connected() const { return connected_; }
    void set_connected(bool connected) { connected_ = connected; }

    // One AUX transaction. nullopt: no sink answered (the source times out).
    std::optional<AuxReply> transfer(std::span<const uint8_t> request);

    // The DPCD byte at `address` as a native read returns it.
    uint8_t dpcd(uint32_t address) const;

    const EdidBlock& edid() const { return edid_; }

    // The sink's own state back to power-on (link configuration, power state,
    // DDC read position); its connection and EDID stay.
    void reset_link();

private:
    std::optional<AuxReply> native(uint8_t request, uint32_t address, std::span<const uint8_t> data,
                                   size_t length, bool address_only);
    AuxReply i2c(uint8_t request, uint32_t address, std::span<const uint8_t> data, size_t length,
                 bool address_only);
    void dpcd_write(uint32_t address, uint8_t value);
    uint8_t link_status(uint32_t address) const;

    // DPCD 0x000-0x7FF: receiver caps, link configuration, sink status,
    // source/sink/branch OUI, power. Beyond it the sink reads as zeros and
    // ignores writes.
    static constexpr uint32_t kDpcdBytes = 0x800;

    EdidBlock edid_;
    std::array<uint8_t, kDpcdBytes> dpcd_{};
    bool connected_ = false;
    uint8_t ddc_offset_ = 0;  // next EDID byte the EEPROM returns
};

}  // namespace xengt::mediator::display
