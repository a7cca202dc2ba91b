// The software GPU runs what an unmodified Linux 6.1 i915 submits on a Gen9
// vGPU (tests/i915_gen9_streams.hpp): the default-context recording (context
// workarounds by LRI, the golden render state as a privileged batch) and
// execbuf requests on the render and copy engines, with their breadcrumbs'
// post-sync writes landing where i915 looks for them.
#include <catch2/catch.hpp>

#include "test_driver.hpp"
#include "tests/i915_gen9_streams.hpp"

namespace xengt::gpu::model {
namespace {

using namespace test;
namespace i915 = xengt::test::i915;

TEST_CASE("The golden render state and i915's breadcrumbs run on the render engine",
          "[gpu][model][i915]") {
    Driver d;
    d.enable_engine(kRcs);
    Context ctx = d.make_context(kRcs, 0x10);
    const uint32_t timeline = d.alloc(1);  // a timeline's HWSP cacheline
    const uint32_t state = d.alloc(1);     // the render state page
    const auto batch = i915::null_render_state(state);
    d.poke(state, std::span<const uint32_t>(batch));
    // The flushes' store-index post-syncs land in the context's PPHWSP
    // scratch slot (a qword of 0).
    d.poke64(ctx.lrca + i915::kPphwspScratch, ~uint64_t{0});
    d.poke(timeline, 0xFFFFFFFF);

    d.emit(ctx, i915::flush_rcs(true, false));
    d.emit(ctx, i915::ctx_workarounds());
    d.emit(ctx, i915::bb_start_noarb(state, true));
    d.emit(ctx, i915::fini_breadcrumb_rcs(timeline, 1));
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kRcs, hw::kIrqUser));
    REQUIRE(d.wait_idle(kRcs));
    CHECK(d.gpu.engine_errors(Engine::Render) == 0);
    CHECK_FALSE(d.gpu.engine_halted(Engine::Render));
    CHECK(d.peek(timeline) == 1);
    CHECK(d.peek(timeline + 4) == 0);  // the qword write's upper half
    CHECK(d.peek(ctx.lrca + i915::kPphwspScratch) == 0);
    CHECK(d.peek(ctx.lrca + i915::kPphwspScratch + 4) == 0);
    CHECK(d.ring_head_in_image(ctx) == ctx.tail);
    // The workarounds are masked writes: the registers hold the enabled bits.
    for (const auto& [reg, value] : i915::kSklCtxWorkarounds) {
        INFO(std::hex << reg);
        CHECK(d.rd(reg) == (value & value >> 16));
    }

    // A user execbuf on the same context: initial breadcrumb, a privileged
    // batch (the model's PPGTT is not set up here) storing a dword, final
    // breadcrumb.
    const uint32_t user = d.alloc(1);
    const uint32_t out = d.alloc(1);
    d.poke(user, {i915::kSdiGgtt, out, 0, 0x600D, i915::kBbe});
    d.emit(ctx, i915::flush_rcs(true, false));
    d.emit(ctx, i915::init_breadcrumb(timeline + 8, 2));
    d.emit(ctx, i915::bb_start_noarb(user, true));
    d.emit(ctx, i915::fini_breadcrumb_rcs(timeline + 8, 2));
    d.submit(ctx);
    REQUIRE(d.wait_idle(kRcs));
    CHECK(d.gpu.engine_errors(Engine::Render) == 0);
    CHECK(d.peek(out) == 0x600D);
    CHECK(d.peek(timeline + 8) == 2);
}

TEST_CASE("i915's copy and video engine requests run, seqnos land in the HWSP",
          "[gpu][model][i915]") {
    for (const unsigned e : {kBcs, kVcs}) {
        Driver d;
        d.enable_engine(e);
        Context ctx = d.make_context(e, 0x20);
        const uint32_t timeline = d.alloc(1);
        const uint32_t user = d.alloc(1);
        d.poke(user, {i915::kNoop, i915::kBbe});
        d.poke(timeline, 0xFFFFFFFF);
        d.poke(ctx.lrca + i915::kPphwspScratch, 0xFFFFFFFF);
        d.emit(ctx, i915::flush_xcs(true, e == kVcs));
        d.emit(ctx, i915::init_breadcrumb(timeline, 5));
        d.emit(ctx, i915::bb_start_noarb(user, true));
        d.emit(ctx, i915::fini_breadcrumb_xcs(timeline, 5));
        d.submit(ctx);
        REQUIRE(d.wait_engine_irq(e, hw::kIrqUser));
        REQUIRE(d.wait_idle(e));
        CHECK(d.gpu.engine_errors(static_cast<Engine>(e)) == 0);
        CHECK(d.peek(timeline) == 5);
        CHECK(d.peek(ctx.lrca + i915::kPphwspScratch) == 0);
    }
}

TEST_CASE("3D state off the render engine is an engine error", "[gpu][model][i915]") {
    Driver d;
    d.enable_engine(kBcs);
    Context ctx = d.make_context(kBcs, 0x30);
    d.emit(ctx, {i915::op::kPipelineSelect | 3u << 8});
    d.submit(ctx);
    REQUIRE(d.wait_engine_irq(kBcs, hw::kIrqCsError));
    CHECK(d.gpu.engine_errors(Engine::Blitter) == 1);
}

}  // namespace
}  // namespace xengt::gpu::model
