// What the driver negotiates with the GPU's power firmware: the PCU's pcode
// mailbox and the display power wells. A vGPU has no power to manage (the
// host owns it), so each answers as hardware that granted the request at once.
#pragma once

#include <cstdint>

#include "mediator/mmio/mmio_context.hpp"
#include "mediator/trap.hpp"

namespace xengt::mediator::mmio::pm {

// GEN6_PCODE_MAILBOX and its two data registers (MCHBAR mirror in BAR0).
// The driver writes the data, then the mailbox with READY (bit 31) and the
// command in bits 7:0; firmware answers in the data registers, puts an error
// code in bits 7:0 (0 = success) and clears READY.
inline constexpr uint32_t kPcodeMailbox = 0x138124;
inline constexpr uint32_t kPcodeData0 = 0x138128;
inline constexpr uint32_t kPcodeData1 = 0x13812C;
inline constexpr uint32_t kPcodeReady = 1u << 31;
inline constexpr uint32_t kPcodeCommandMask = 0xFF;
// Gen7+ mailbox error codes (bits 7:0 after completion).
inline constexpr uint32_t kPcodeSuccess = 0x0;
inline constexpr uint32_t kPcodeIllegalCommand = 0x1;

// Gen9 pcode commands the vGPU answers.
inline constexpr uint32_t kPcodeReadMemLatency = 0x06;   // data0 in: 0 → levels 0-3, 1 → 4-7
inline constexpr uint32_t kPcodeCdclkControl = 0x07;     // cdclk change handshake
inline constexpr uint32_t kCdclkPrepareForChange = 0x3;  // request in data0 ...
inline constexpr uint32_t kCdclkReadyForChange = 0x1;    // ... answered in data0 bit 0

TrapResult pcode_mailbox_write(MmioContext& ctx, uint32_t offset, uint32_t value,
                               uint32_t byte_mask);

// HSW_PWR_WELL_CTL1..4 (BIOS, driver, KVMR, debug): each power well i has a
// request bit 2i+1 and a state bit 2i. The state is the hardware's: a well is
// powered while any of the four registers requests it.
inline constexpr uint32_t kPowerWellCtl1 = 0x45400;
inline constexpr uint32_t kPowerWellCtlCount = 4;
inline constexpr uint32_t kPowerWellRequestBits = 0xAAAAAAAA;

uint32_t power_well_read(MmioContext& ctx, uint32_t offset);
TrapResult power_well_write(MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t byte_mask);

}  // namespace xengt::mediator::mmio::pm
