#include "mediator/mmio/power_management.hpp"

#include <array>

namespace xengt::mediator::mmio::pm {
namespace {

// Memory latencies the vGPU's "firmware" reports, in microseconds, for
// watermark levels 0-7 (one byte each, as GEN9_PCODE_READ_MEM_LATENCY
// returns them). The guest's watermarks only shape its own virtual planes,
// so any increasing set is valid; these are of the order of SKL DDR4 parts.
constexpr std::array<uint8_t, 8> kMemLatencyUs = {2, 4, 8, 16, 24, 32, 48, 64};

uint32_t latency_word(unsigned first_level) {
    uint32_t v = 0;
    for (unsigned i = 0; i < 4; ++i) {
        v |= uint32_t{kMemLatencyUs[first_level + i]} << (8 * i);
    }
    return v;
}

// One row per command the vGPU's pcode answers: it may rewrite data0/data1
// and returns the mailbox error code. Anything else is an illegal command,
// as on hardware that lacks the feature (i915 then treats it as absent, e.g.
// "No SAGV found": a vGPU has no memory-bus power states to switch).
struct PcodeRow {
    uint32_t command;
    uint32_t (*answer)(uint32_t& data0, uint32_t& data1);
};

uint32_t answer_mem_latency(uint32_t& data0, uint32_t& data1) {
    const unsigned set = data0 == 0 ? 0 : 4;
    data0 = latency_word(set);
    data1 = 0;
    return kPcodeSuccess;
}

// SKL cdclk change: the driver asks "prepare for change" until the PCU says
// ready, then writes the new voltage level; nothing to wait for here.
uint32_t answer_cdclk(uint32_t& data0, uint32_t&) {
    if (data0 == kCdclkPrepareForChange) {
        data0 = kCdclkReadyForChange;
    }
    return kPcodeSuccess;
}

constexpr PcodeRow kPcodeRows[] = {
    {kPcodeReadMemLatency, answer_mem_latency},
    {kPcodeCdclkControl, answer_cdclk},
};

}  // namespace

TrapResult pcode_mailbox_write(MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t) {
    uint32_t& mailbox = ctx.vreg(offset);
    if ((value & kPcodeReady) == 0) {
        mailbox = value;  // staging a command without starting it
        return TrapResult::Handled;
    }
    const uint32_t command = value & kPcodeCommandMask;
    uint32_t error = kPcodeIllegalCommand;
    for (const PcodeRow& row : kPcodeRows) {
        if (row.command == command) {
            error = row.answer(ctx.vreg(kPcodeData0), ctx.vreg(kPcodeData1));
            break;
        }
    }
    if (error == kPcodeIllegalCommand) {
        XENGT_GUEST_LOG(ctx.log, LogLevel::Debug,
                        "pcode mailbox command 0x%02x (data 0x%08x) not supported by a vGPU",
                        command, ctx.vreg(kPcodeData0));
    }
    // Done at once: READY clear, the error code where the command was.
    mailbox = (value & ~kPcodeReady & ~kPcodeCommandMask) | error;
    return TrapResult::Handled;
}

uint32_t power_well_read(MmioContext& ctx, uint32_t offset) {
    uint32_t requested = 0;
    for (uint32_t i = 0; i < kPowerWellCtlCount; ++i) {
        requested |= ctx.vreg(kPowerWellCtl1 + 4 * i);
    }
    // Powering up is instant: every requested well reports its state bit.
    return ctx.vreg(offset) | (requested & kPowerWellRequestBits) >> 1;
}

TrapResult power_well_write(MmioContext& ctx, uint32_t offset, uint32_t value, uint32_t) {
    ctx.vreg(offset) = value & kPowerWellRequestBits;  // state bits are read-only
    return TrapResult::Handled;
}

}  // namespace xengt::mediator::mmio::pm
