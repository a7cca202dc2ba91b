#include <catch2/catch.hpp>

#include "test_driver.hpp"

namespace xengt::gpu::model {
namespace {

using namespace test;

constexpr uint64_t kCsbIdleToActive = 1u << 0;
constexpr uint64_t kCsbElementSwitch = 1u << 2;
constexpr uint64_t kCsbActiveToIdle = 1u << 3;
constexpr uint64_t kCsbComplete = 1u << 4;
uint64_t csb(uint64_t events, uint32_t ctx_id) {
    return uint64_t{ctx_id} << 32 | events;
}

TEST_CASE("A GGTT batch with MI_STORE_DATA_IMM and MI_USER_INTERRUPT runs through ELSP",
          "[gpu][model][execlists]") {
    for (const unsigned e : {kRcs, kBcs}) {
        Driver d;
        d.enable_engine(e);
        Context ctx = d.make_context(e, 0x42);
        const uint32_t batch = d.alloc(1);
        const uint32_t target = d.alloc(1);
        d.poke(batch, {kMiStoreDataImmGgtt, target + 8, 0, 0xCAFEF00D, kMiUserInterrupt,
                       kMiBatchBufferEnd});
        d.emit(ctx, {kMiArbCheck, kMiBatchBufferStart, batch, 0});
        CHECK(d.erd(e, hw::kRingMiMode) & hw::kModeIdle);
        d.submit(ctx);
        REQUIRE(d.wait_engine_irq(e, hw::kIrqUser));
        REQUIRE(d.wait_engine_irq(e, hw::kIrqContextSwitch));
        REQUIRE(d.wait_idle(e));
        CHECK(d.peek(target + 8) == 0xCAFEF00D);
        // §4.5: {idle_to_active}, then {complete | active_to_idle} for context 0x42.
        REQUIRE(d.wait_engine_irq(e, hw::kIrqContextSwitch));
        const auto entries = d.read_csb(e);
        REQUIRE(entries.size() == 2);
        CHECK(entries[0] == csb(kCsbIdleToActive, 0));
        CHECK(entries[1] == csb(kCsbComplete | kCsbActiveToIdle, 0x42));
        // The registers hold the same entries (first entry at index 0 after wrap from 5).
        CHECK(d.erd(e, hw::kRingCsbBuf) == kCsbIdleToActive);
        CHECK(d.erd(e, hw::kRingCsbBuf + 8) == (kCsbComplete | kCsbActiveToIdle));
        CHECK(d.erd(e, hw::kRingCsbBuf + 12) == 0x42);
        CHECK((d.erd(e, hw::kRingContextStatusPtr) & 7) == 1);
        CHECK(d.peek(d.hwsp(e) + hw::kHwspCsbWritePtrByte) == 1);
        // §4.7: the head is written back into the image.
        CHECK(d.ring_head_in_image(ctx) == ctx.tail);
        CHECK(d.erd(e, hw::kRingExeclistStatusLo) == 0);
        CHECK(d.gpu.engine_errors(static_cast<Engine>(e)) == 0);
    }
}

TEST_CASE("Two elements run in order with an element switch, and registers load through LRI",
          "[gpu][model][execlists]") {
    Driver d;
    d.enable_engine(kRcs);
    Context a = d.make_context(kRcs, 1);
    Context b = d.make_context(kRcs, 2);
    const uint32_t mem = d.alloc(1);
    constexpr uint32_t kGpr0 = 0x2600;  // §4.2 CS_GPR(0) of RCS
    d.emit(a, {kMiLoadRegisterImm1, kGpr0, 0x1234, kMiStoreRegisterMemGgtt, kGpr0, mem, 0});
    d.emit(b, {kMiStoreDataImmGgtt, mem + 4, 0, 7, kMiLoadRegisterMemGgtt, kGpr0 + 4, mem + 4, 0,
               kPipeControl, kPcWriteImm | kPcGgtt, mem + 16, 0, 0xAB, 0, kMiFlushDwImm,
               (mem + 32) | 4, 0, 0x77, kMiUserInterrupt});
    d.submit(a, &b);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqUser));
    REQUIRE(d.wait_idle(kRcs));
    CHECK(d.peek(mem) == 0x1234);
    CHECK(d.rd(kGpr0 + 4) == 7);
    CHECK(d.peek(mem + 16) == 0xAB);
    CHECK(d.peek(mem + 32) == 0x77);
    CHECK(d.ring_head_in_image(a) == a.tail);
    CHECK(d.ring_head_in_image(b) == b.tail);
    const auto entries = d.read_csb(kRcs);
    REQUIRE(entries.size() == 3);
    CHECK(entries[0] == csb(kCsbIdleToActive, 0));
    CHECK(entries[1] == csb(kCsbComplete | kCsbElementSwitch, 1));
    CHECK(entries[2] == csb(kCsbComplete | kCsbActiveToIdle, 2));
}

TEST_CASE("Second-level and chained batches return to the right place", "[gpu][model][execlists]") {
    Driver d;
    d.enable_engine(kBcs);
    Context ctx = d.make_context(kBcs, 9);
    const uint32_t first = d.alloc(1), second = d.alloc(1), chained = d.alloc(1);
    const uint32_t mem = d.alloc(1);
    d.poke(first, {kMiBatchBufferStart | kBbsSecondLevel, second, 0, kMiStoreDataImmGgtt, mem + 4,
                   0, 2, kMiBatchBufferStart, chained, 0});
    d.poke(second, {kMiStoreDataImmGgtt, mem, 0, 1, kMiBatchBufferEnd});
    d.poke(chained, {kMiStoreDataImmGgtt, mem + 8, 0, 3, kMiBatchBufferEnd});
    d.emit(ctx, {kMiBatchBufferStart, first, 0, kMiStoreDataImmGgtt, mem + 12, 0, 4});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqContextSwitch));
    REQUIRE(d.wait_idle(kBcs));
    CHECK(d.peek(mem) == 1);
    CHECK(d.peek(mem + 4) == 2);
    CHECK(d.peek(mem + 8) == 3);
    CHECK(d.peek(mem + 12) == 4);
    CHECK_FALSE(d.gpu.engine_halted(Engine::Blitter));
}

TEST_CASE("A later submission to an idle engine runs from the written-back head",
          "[gpu][model][execlists]") {
    Driver d;
    d.enable_engine(kRcs);
    Context ctx = d.make_context(kRcs, 3);
    const uint32_t mem = d.alloc(1);
    for (uint32_t i = 1; i <= 3; ++i) {
        d.emit(ctx, {kMiStoreDataImmGgtt, mem, 0, i});
        d.submit(ctx);  // ELSP clears MODE_IDLE at once, so waiting for idle is sound
        REQUIRE(d.wait_idle(kRcs));
        CHECK(d.peek(mem) == i);
        CHECK(d.ring_head_in_image(ctx) == ctx.tail);
        CHECK(d.read_csb(kRcs).size() == 2);
    }
}

TEST_CASE("Commands on the wrong engine and page faults are engine errors",
          "[gpu][model][execlists][errors]") {
    Driver d;
    d.enable_engine(kBcs);
    Context ctx = d.make_context(kBcs, 5);
    const uint32_t mem = d.alloc(1);
    SECTION("PIPE_CONTROL on BCS") {
        d.emit(ctx, {kPipeControl, kPcWriteImm | kPcGgtt, mem, 0, 1, 0, kMiStoreDataImmGgtt,
                     mem + 4, 0, 9});
        d.submit(ctx);
        REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqCsError));
        CHECK(d.gpu.engine_last_error(Engine::Blitter) == EngineError::WrongEngine);
    }
    SECTION("a store to an unmapped GGTT page") {
        d.emit(ctx, {kMiStoreDataImmGgtt, 0x10, 0, 1, kMiStoreDataImmGgtt, mem + 4, 0, 9});
        d.submit(ctx);
        REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqCsError));
        CHECK(d.gpu.engine_last_error(Engine::Blitter) == EngineError::PageFault);
    }
    SECTION("a length running past the ring tail") {
        d.emit(ctx, {kMiStoreDataImmGgtt | 1, mem, 0});  // 5 DWs claimed, 4 before the tail
        d.submit(ctx);
        REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqCsError));
        CHECK(d.gpu.engine_last_error(Engine::Blitter) == EngineError::BadLength);
    }
    CHECK(d.gpu.engine_halted(Engine::Blitter));
    CHECK(d.peek(mem + 4) == 0);  // nothing after the failing command ran
    CHECK((d.erd(kBcs, hw::kRingMiMode) & hw::kModeIdle) == 0);  // fault-and-hang
    CHECK((d.erd(kBcs, hw::kRingResetCtl) & hw::kCatastrophicError) != 0);
}

}  // namespace
}  // namespace xengt::gpu::model
