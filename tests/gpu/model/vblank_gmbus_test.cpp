#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <numeric>

#include "gpu/model/edid.hpp"
#include "gpu/model/hw_regs.hpp"
#include "model_rig.hpp"

namespace xengt::gpu::model {
namespace {

using test::Rig;

// A rig whose MSI handler services the DE pipe A bank as gen8_irq_handler
// does: master off, read level 1, read and ack GEN8_DE_PIPE_IIR(A), master on.
struct DisplayIrqRig : Rig {
    int msis = 0;
    uint32_t seen = 0;
    DisplayIrqRig() {
        gpu.set_interrupt_handler([this] {
            ++msis;
            wr(hw::kMasterIrq, 0);
            if ((rd(hw::kMasterIrq) & hw::kMasterDePipeA) != 0) {
                const uint32_t iir = rd(hw::kDePipeIirA);
                wr(hw::kDePipeIirA, iir);
                seen |= iir;
            }
            wr(hw::kMasterIrq, hw::kMasterIrqControl);
        });
        const uint32_t events = hw::kDePipeVblank | hw::kDePipePlane1FlipDone;
        wr(hw::kDePipeImrA, ~events);
        wr(hw::kDePipeIerA, events);
        wr(hw::kMasterIrq, hw::kMasterIrqControl);
    }
};

TEST_CASE("Vblank advances the frame counter and interrupts only on an enabled pipe",
          "[gpu][model][display][vblank]") {
    DisplayIrqRig rig;
    rig.gpu.vblank();  // pipe disabled: no vblank at all
    CHECK(rig.rd(hw::kPipeFrmCountA) == 0);
    CHECK(rig.msis == 0);
    rig.wr(hw::kPipeConfA, hw::kPipeConfEnable);
    for (int i = 1; i <= 3; ++i) {
        rig.gpu.vblank();
        CHECK(rig.rd(hw::kPipeFrmCountA) == static_cast<uint32_t>(i));
        CHECK(rig.msis == i);
    }
    CHECK(rig.seen == hw::kDePipeVblank);
    CHECK(rig.rd(hw::kDePipeIirA) == 0);  // the handler acked it
    rig.wr(hw::kPipeFrmCountA, 0);        // read-only
    CHECK(rig.rd(hw::kPipeFrmCountA) == 3);
}

TEST_CASE("A masked vblank neither latches nor interrupts, a disabled one only latches",
          "[gpu][model][display][vblank]") {
    DisplayIrqRig rig;
    rig.wr(hw::kPipeConfA, hw::kPipeConfEnable);
    rig.wr(hw::kDePipeImrA, 0xFFFFFFFF);
    rig.gpu.vblank();
    CHECK(rig.rd(hw::kDePipeIirA) == 0);
    CHECK(rig.msis == 0);
    rig.wr(hw::kDePipeImrA, 0);
    rig.wr(hw::kDePipeIerA, 0);
    rig.gpu.vblank();
    CHECK(rig.rd(hw::kDePipeIirA) == hw::kDePipeVblank);
    CHECK((rig.rd(hw::kMasterIrq) & hw::kMasterDePipeA) == 0);
    CHECK(rig.msis == 0);
    rig.wr(hw::kDePipeIerA, hw::kDePipeVblank);  // enabling delivers the held event
    CHECK(rig.msis == 1);
    CHECK(rig.seen == hw::kDePipeVblank);
}

TEST_CASE("A synchronous flip completes at the next vblank, an async flip at once",
          "[gpu][model][display][vblank]") {
    DisplayIrqRig rig;
    rig.wr(hw::kPipeConfA, hw::kPipeConfEnable);
    rig.wr(hw::kPlaneSurfA, 0x00123000);
    CHECK(rig.rd(hw::kPlaneSurfLiveA) == 0x00123000);
    CHECK(rig.rd(hw::kPipeFlipCountA) == 1);
    CHECK(rig.msis == 0);
    rig.gpu.vblank();
    CHECK(rig.seen == (hw::kDePipeVblank | hw::kDePipePlane1FlipDone));
    rig.seen = 0;
    rig.gpu.vblank();  // no flip pending any more
    CHECK(rig.seen == hw::kDePipeVblank);
    rig.seen = 0;
    rig.wr(hw::kPlaneCtlA, hw::kPlaneAsyncFlip);
    rig.wr(hw::kPlaneSurfA, 0x00456000);
    CHECK(rig.seen == hw::kDePipePlane1FlipDone);
    CHECK(rig.rd(hw::kPipeFlipCountA) == 2);
}

TEST_CASE("The monitor is present on port B", "[gpu][model][display]") {
    Rig rig;
    CHECK((rig.rd(hw::kSdeIsr) & (7u << 21)) == hw::kSdeIsrPortB);  // B, not C or D
    CHECK((rig.rd(hw::kSfuseStrap) & hw::kSfuseStrapDdiB) != 0);
}

// --- GMBUS, driven like i915's do_gmbus_xfer (§7.5) ---

constexpr uint32_t kGo = hw::kGmbusSwRdy;
constexpr uint32_t kIndexWait = (hw::kGmbusCycleIndex | hw::kGmbusCycleWait)
                                << hw::kGmbusCycleShift;
constexpr uint32_t kStop = hw::kGmbusCycleStop << hw::kGmbusCycleShift;

uint32_t read_command(uint32_t bytes, uint32_t index, uint32_t address) {
    return kGo | kIndexWait | bytes << hw::kGmbusByteCountShift | index << hw::kGmbusIndexShift |
           address << 1 | hw::kGmbusSlaveRead;
}

// Reads `out.size()` bytes at `index`; false on NAK or if the controller stalls.
template <size_t N>
bool gmbus_read(Rig& rig, uint32_t pin, uint32_t address, uint32_t index,
                std::array<uint8_t, N>& out) {
    rig.wr(hw::kGmbus0, pin);
    rig.wr(hw::kGmbus1, read_command(N, index, address));
    const uint32_t ready_or_nak = hw::kGmbusHwRdy | hw::kGmbusSatoer;
    for (size_t i = 0; i < N; i += 4) {
        if (!rig.poll(hw::kGmbus2, ready_or_nak, hw::kGmbusHwRdy) ||
            (rig.rd(hw::kGmbus2) & hw::kGmbusSatoer) != 0) {
            return false;
        }
        const uint32_t v = rig.rd(hw::kGmbus3);
        for (size_t b = 0; b < 4 && i + b < N; ++b) {
            out[i + b] = static_cast<uint8_t>(v >> (8 * b));  // LSB first
        }
    }
    if (!rig.poll(hw::kGmbus2, hw::kGmbusHwWaitPhase, hw::kGmbusHwWaitPhase)) {
        return false;
    }
    rig.wr(hw::kGmbus1, kStop | kGo);
    const bool idle = rig.poll(hw::kGmbus2, hw::kGmbusActive, 0);
    rig.wr(hw::kGmbus0, 0);
    return idle;
}

TEST_CASE("GMBUS reads the monitor's 128-byte EDID 1.3 block from slave 0x50 on pin 5",
          "[gpu][model][gmbus]") {
    Rig rig;
    std::array<uint8_t, 128> edid{};
    REQUIRE(gmbus_read(rig, hw::kGmbusPinDpb, 0x50, 0, edid));
    const std::array<uint8_t, 8> header = {0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
    CHECK(std::equal(header.begin(), header.end(), edid.begin()));
    CHECK(std::accumulate(edid.begin(), edid.end(), 0u) % 256 == 0);  // checksum rule
    CHECK(edid[18] == 1);
    CHECK(edid[19] == 3);
    CHECK(edid[126] == 0);  // no extensions
    // Preferred timing: the first detailed timing descriptor, at byte 54.
    const uint8_t* t = &edid[54];
    CHECK((t[0] | t[1] << 8) == 6500);                                      // 65.00 MHz
    CHECK((t[2] | (t[4] >> 4) << 8) == 1024);                               // H active
    CHECK((t[2] | (t[4] >> 4) << 8) + (t[3] | (t[4] & 0xF) << 8) == 1344);  // H total
    CHECK((t[5] | (t[7] >> 4) << 8) == 768);                                // V active
    CHECK((edid[24] & 0x02) != 0);  // preferred timing mode flag
    CHECK(edid == monitor_edid());
    CHECK((rig.rd(hw::kGmbus1) & hw::kGmbusSwRdy) == 0);  // SW_RDY never reads back set

    SECTION("an INDEX read starts at its offset") {
        std::array<uint8_t, 6> part{};
        REQUIRE(gmbus_read(rig, hw::kGmbusPinDpb, 0x50, 54, part));
        CHECK(std::equal(part.begin(), part.end(), edid.begin() + 54));
    }
}

TEST_CASE("GMBUS NAKs an absent pin pair or slave, and SW_CLR_INT recovers",
          "[gpu][model][gmbus]") {
    Rig rig;
    std::array<uint8_t, 128> edid{};
    for (const uint32_t pin : {0u, hw::kGmbusPinDpc, hw::kGmbusPinDpd}) {
        INFO("pin " << pin);
        CHECK_FALSE(gmbus_read(rig, pin, 0x50, 0, edid));
        CHECK((rig.rd(hw::kGmbus2) & (hw::kGmbusSatoer | hw::kGmbusHwRdy)) == hw::kGmbusSatoer);
        CHECK((rig.rd(hw::kGmbus2) & hw::kGmbusActive) == 0);
        // i915's NAK path: SW_CLR_INT, then 0, then deselect the pin.
        rig.wr(hw::kGmbus1, hw::kGmbusSwClrInt);
        rig.wr(hw::kGmbus1, 0);
        rig.wr(hw::kGmbus0, 0);
        CHECK((rig.rd(hw::kGmbus2) & hw::kGmbusSatoer) == 0);
    }
    CHECK_FALSE(gmbus_read(rig, hw::kGmbusPinDpb, 0x51, 0, edid));  // no such slave
    rig.wr(hw::kGmbus1, hw::kGmbusSwClrInt);
    rig.wr(hw::kGmbus1, 0);
    REQUIRE(gmbus_read(rig, hw::kGmbusPinDpb, 0x50, 0, edid));  // works after the reset
    CHECK(edid == monitor_edid());
}

TEST_CASE("GMBUS2 IN_USE is set by a read and cleared by writing 1", "[gpu][model][gmbus]") {
    Rig rig;
    CHECK((rig.rd(hw::kGmbus2) & hw::kGmbusInUse) == 0);
    CHECK((rig.rd(hw::kGmbus2) & hw::kGmbusInUse) != 0);
    rig.wr(hw::kGmbus2, hw::kGmbusInUse);
    CHECK((rig.rd(hw::kGmbus2) & hw::kGmbusInUse) == 0);
}

}  // namespace
}  // namespace xengt::gpu::model
