#include <catch2/catch.hpp>

#include "mediator/mmio/power_management.hpp"
#include "tests/mediator/register_file_rig.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::mmio;

namespace {

struct Regs : test::RegisterFileRig {
    // A pcode transaction as i915 does it: data first, then the mailbox
    // with READY; returns the mailbox as read back afterwards.
    uint32_t pcode(uint32_t command, uint32_t data0, uint32_t data1 = 0) {
        write(pm::kPcodeData0, data0);
        write(pm::kPcodeData1, data1);
        write(pm::kPcodeMailbox, pm::kPcodeReady | command);
        return read32(pm::kPcodeMailbox);
    }
};

}  // namespace

TEST_CASE("pcode mailbox commands complete at once with the firmware's answer", "[mmio][pcode]") {
    Regs r;
    SECTION("memory latencies: two sets of four increasing levels") {
        const uint32_t mbox = r.pcode(pm::kPcodeReadMemLatency, 0);
        CHECK((mbox & pm::kPcodeReady) == 0);
        CHECK((mbox & pm::kPcodeCommandMask) == pm::kPcodeSuccess);
        const uint32_t low = r.read32(pm::kPcodeData0);
        r.pcode(pm::kPcodeReadMemLatency, 1);
        const uint32_t high = r.read32(pm::kPcodeData0);
        uint32_t previous = 0;
        for (unsigned level = 0; level < 8; ++level) {
            const uint32_t us = ((level < 4 ? low : high) >> (8 * (level % 4))) & 0xFF;
            INFO("level " << level);
            CHECK(us > previous);  // i915 disables a level whose latency is 0
            previous = us;
        }
    }
    SECTION("cdclk change: 'prepare' is answered 'ready', the voltage write succeeds") {
        CHECK((r.pcode(pm::kPcodeCdclkControl, pm::kCdclkPrepareForChange) & 0x800000FF) == 0);
        CHECK(r.read32(pm::kPcodeData0) == pm::kCdclkReadyForChange);
        CHECK((r.pcode(pm::kPcodeCdclkControl, 2) & 0x800000FF) == 0);
    }
    SECTION("a command the vGPU has no use for is illegal, as on parts without the feature") {
        constexpr uint32_t kSagvControl = 0x21;
        const uint32_t mbox = r.pcode(kSagvControl, 0);
        CHECK((mbox & pm::kPcodeReady) == 0);
        CHECK((mbox & pm::kPcodeCommandMask) == pm::kPcodeIllegalCommand);
        CHECK(r.read32(pm::kPcodeData0) == 0);  // data untouched
    }
    SECTION("without READY nothing is started") {
        r.write(pm::kPcodeData0, pm::kCdclkPrepareForChange);
        r.write(pm::kPcodeMailbox, pm::kPcodeCdclkControl);
        CHECK(r.read32(pm::kPcodeMailbox) == pm::kPcodeCdclkControl);
        CHECK(r.read32(pm::kPcodeData0) == pm::kCdclkPrepareForChange);
    }
    CHECK(r.untracked == 0);
}

TEST_CASE("power wells report the state of every well some control register requests",
          "[mmio][power]") {
    Regs r;
    const uint32_t ctl1 = pm::kPowerWellCtl1;  // BIOS
    const uint32_t ctl2 = ctl1 + 4;            // driver
    CHECK(r.read32(ctl2) == 0);
    // Request wells 1 (bit 3) and 15 (bit 31) from the driver register.
    r.write(ctl2, 1u << 3 | 1u << 31);
    CHECK(r.read32(ctl2) == (1u << 3 | 1u << 2 | 1u << 31 | 1u << 30));
    // The state is the well's, visible from the BIOS register too, whose own
    // request bits stay clear.
    CHECK(r.read32(ctl1) == (1u << 2 | 1u << 30));
    // State bits are not writable: writing them requests nothing.
    r.write(ctl1, 0x55555555);
    CHECK(r.read32(ctl1) == (1u << 2 | 1u << 30));
    // A well stays up while any register requests it.
    r.write(ctl1, 1u << 3);
    r.write(ctl2, 0);
    CHECK(r.read32(ctl2) == 1u << 2);
    r.write(ctl1, 0);
    CHECK(r.read32(ctl2) == 0);
}
