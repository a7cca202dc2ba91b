#include <catch2/catch.hpp>

#include "gpu/model/hw_regs.hpp"
#include "model_rig.hpp"

namespace xengt::gpu::model {
namespace {

using test::masked_disable;
using test::masked_enable;
using test::Rig;

constexpr Engine kEngines[] = {Engine::Render, Engine::Blitter, Engine::Video,
                               Engine::VideoEnhance};

TEST_CASE("GDRST engine bits reset the engine and self-clear", "[gpu][model][reset]") {
    Rig rig;
    for (const Engine e : kEngines) {
        const auto i = static_cast<unsigned>(e);
        const uint32_t mode = hw::kEngineBase[i] + hw::kRingModeGen7;
        rig.wr(mode, masked_enable(1u << 15));
        rig.wr(hw::kGdrst, hw::kGdrstEngineBit[i]);
        CHECK(rig.poll(hw::kGdrst, hw::kGdrstEngineBit[i], 0, 1));
        CHECK(rig.gpu.engine_resets(e) == 1);
        CHECK(rig.rd(mode) == 0);  // the engine's registers are back at reset values
    }
}

TEST_CASE("GDRST full reset resets every engine", "[gpu][model][reset]") {
    Rig rig;
    rig.wr(hw::kGdrst, hw::kGdrstFull);
    CHECK(rig.rd(hw::kGdrst) == 0);
    for (const Engine e : kEngines) {
        CHECK(rig.gpu.engine_resets(e) == 1);
    }
}

TEST_CASE("RING_RESET_CTL reports ready-to-reset once requested", "[gpu][model][reset]") {
    Rig rig;
    for (const uint32_t base : hw::kEngineBase) {
        const uint32_t ctl = base + hw::kRingResetCtl;
        CHECK(rig.rd(ctl) == 0);
        rig.wr(ctl, hw::kResetRequest);  // no write-enable: ignored
        CHECK(rig.rd(ctl) == 0);
        rig.wr(ctl, masked_enable(hw::kResetRequest));
        REQUIRE(rig.poll(ctl, hw::kReadyToReset, hw::kReadyToReset));
        CHECK(rig.rd(ctl) == (hw::kResetRequest | hw::kReadyToReset));
        // Status bits are the hardware's: writing them changes nothing.
        rig.wr(ctl, masked_disable(hw::kReadyToReset | hw::kCatastrophicError));
        CHECK(rig.rd(ctl) == (hw::kResetRequest | hw::kReadyToReset));
        rig.wr(ctl, masked_disable(hw::kResetRequest));
        CHECK(rig.rd(ctl) == 0);
    }
}

TEST_CASE("reset_engine completes for every engine through the register handshake",
          "[gpu][model][reset]") {
    Rig rig;
    for (const Engine e : kEngines) {
        INFO(to_string(e));
        CHECK(rig.gpu.reset_engine(e));
        CHECK(rig.gpu.engine_resets(e) == 1);
        const auto i = static_cast<unsigned>(e);
        CHECK(rig.rd(hw::kEngineBase[i] + hw::kRingResetCtl) == 0);  // request withdrawn
        CHECK(rig.rd(hw::kGdrst) == 0);
    }
}

}  // namespace
}  // namespace xengt::gpu::model
