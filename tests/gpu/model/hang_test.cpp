#include <catch2/catch.hpp>

#include "test_driver.hpp"

namespace xengt::gpu::model {
namespace {

using namespace test;

TEST_CASE("A self-referencing batch is reported hung, reset recovers the engine",
          "[gpu][model][hang]") {
    SoftGpuConfig config;
    config.watchdog_commands = 1000;
    Driver d(config);
    d.enable_engine(kRcs);
    Context bad = d.make_context(kRcs, 1);
    const uint32_t loop = d.alloc(1), mem = d.alloc(1);
    d.poke(loop, {kMiArbCheck, kMiBatchBufferStart, loop, 0});  // jumps to itself
    d.emit(bad, {kMiBatchBufferStart, loop, 0});
    d.submit(bad);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqCsError));
    CHECK(d.gpu.engine_hangs(Engine::Render) == 1);
    CHECK(d.gpu.engine_last_error(Engine::Render) == EngineError::Hang);
    CHECK(d.gpu.engine_halted(Engine::Render));
    CHECK((d.erd(kRcs, hw::kRingMiMode) & hw::kModeIdle) == 0);

    REQUIRE(d.gpu.reset_engine(Engine::Render));
    CHECK_FALSE(d.gpu.engine_halted(Engine::Render));
    CHECK(d.erd(kRcs, hw::kRingMiMode) & hw::kModeIdle);
    // The reset put the engine's registers back: the driver re-enables it.
    d.enable_engine(kRcs);
    Context good = d.make_context(kRcs, 2);
    d.emit(good, {kMiStoreDataImmGgtt, mem, 0, 0x5AFE, kMiUserInterrupt});
    d.submit(good);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqUser));
    REQUIRE(d.wait_idle(kRcs));
    CHECK(d.peek(mem) == 0x5AFE);
    CHECK(d.gpu.engine_hangs(Engine::Render) == 1);
    CHECK(d.gpu.engine_errors(Engine::Render) == 1);
}

TEST_CASE("An unknown opcode is an engine error and nothing after it executes",
          "[gpu][model][errors]") {
    Driver d;
    d.enable_engine(kBcs);
    Context ctx = d.make_context(kBcs, 4);
    const uint32_t batch = d.alloc(1), mem = d.alloc(1);
    constexpr uint32_t kUnknownMi = 0x3F << 23;  // MI opcode 0x3F: not a command (§5.2)
    d.poke(batch, {kMiStoreDataImmGgtt, mem, 0, 1, kUnknownMi, kMiStoreDataImmGgtt, mem + 4, 0, 2,
                   kMiUserInterrupt, kMiBatchBufferEnd});
    d.emit(ctx, {kMiBatchBufferStart, batch, 0, kMiStoreDataImmGgtt, mem + 8, 0, 3});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqCsError));
    CHECK(d.gpu.engine_last_error(Engine::Blitter) == EngineError::UnknownCommand);
    CHECK(d.peek(mem) == 1);
    CHECK(d.peek(mem + 4) == 0);
    CHECK(d.peek(mem + 8) == 0);
    CHECK((d.seen(0) & hw::kIrqUser << 16) == 0);
    CHECK(d.read_csb(kBcs).size() == 1);  // idle→active only: the context never completed
    CHECK(d.ring_head_in_image(ctx) == 0);
}

}  // namespace
}  // namespace xengt::gpu::model
