// Guests submitting through their vGPUs' execlists, scanned, shadowed,
// scheduled and run on the software GPU: results checked in guest RAM,
// status as the guest driver sees it (CSB in its status page, interrupts,
// the context image written back).
#include <catch2/catch.hpp>

#include "tools/gpu_driver/mediated_world.hpp"

using namespace xengt;
using namespace xengt::gpu::mediated;
using exec::Engine;
namespace n = xengt::gpu::model::native;

namespace {

constexpr uint32_t kPitch = 64 * 4;  // 64 XRGB pixels a row

uint32_t xy(uint32_t x, uint32_t y) {
    return y << 16 | x;
}

// XY_COLOR_BLT of a w x h rectangle at the surface's origin.
std::vector<uint32_t> fill(uint64_t surface, uint32_t w, uint32_t h, uint32_t colour) {
    return {n::kXyColorBlt32,
            n::kBr13Depth32 | n::kRopPatCopy | kPitch,
            xy(0, 0),
            xy(w, h),
            static_cast<uint32_t>(surface),
            static_cast<uint32_t>(surface >> 32),
            colour};
}
// XY_SRC_COPY_BLT of a w x h rectangle between two surfaces.
std::vector<uint32_t> copy(uint64_t dst, uint64_t src, uint32_t w, uint32_t h) {
    return {
        n::kXySrcCopyBlt32,         n::kBr13Depth32 | n::kRopSrcCopy | kPitch, xy(0, 0), xy(w, h),
        static_cast<uint32_t>(dst), static_cast<uint32_t>(dst >> 32),          xy(0, 0), kPitch,
        static_cast<uint32_t>(src), static_cast<uint32_t>(src >> 32)};
}

bool rect_is(Guest& g, uint64_t surface, uint32_t w, uint32_t h, uint32_t colour) {
    for (uint32_t y = 0; y < h; ++y) {
        for (uint32_t x = 0; x < w; ++x) {
            if (g.peek(surface + y * kPitch + x * 4) != colour) {
                return false;
            }
        }
    }
    return true;
}

}  // namespace

TEST_CASE("a blitter fill from the ring runs on the GPU and completes as i915 expects",
          "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Blitter);
    GuestContext ctx = g.make_context(Engine::Blitter, 7);
    const uint64_t surface = g.gm_alloc(4);
    const auto cmds = fill(surface, 16, 8, 0xFF123456);
    g.emit(ctx, cmds);
    g.emit(ctx, {n::kMiUserInterrupt});
    g.submit(ctx);
    REQUIRE(g.wait_retired(1));

    CHECK(rect_is(g, surface, 16, 8, 0xFF123456));
    CHECK(g.peek(surface + 16 * 4) == 0);  // nothing beyond the rectangle
    // §4.5: idle→active, then complete|active→idle for context 7.
    const auto csb = g.read_csb(Engine::Blitter);
    REQUIRE(csb.size() == 2);
    CHECK((csb[0] & exec::kCsbIdleToActive) != 0);
    CHECK((csb[1] & 0xFFFFFFFF) == (exec::kCsbComplete | exec::kCsbActiveToIdle));
    CHECK(csb[1] >> 32 == 7);
    // §4.7: the image's ring head is where the section ended.
    CHECK(g.ring_head_in_image(ctx) == ctx.tail);
    // Context switch and user interrupt are in the blitter's GT IIR half.
    CHECK((g.gt_iir(Engine::Blitter) & (kIrqContextSwitch | kIrqUserInterrupt)) ==
          (kIrqContextSwitch | kIrqUserInterrupt));
    CHECK(g.vgpu().execlist_counters()->completed == 1);
    CHECK(g.client().stats(Engine::Blitter).workloads == 1);
}

TEST_CASE("a privileged batch runs from its shadow, not from guest memory", "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Render);
    GuestContext ctx = g.make_context(Engine::Render, 3);
    const uint64_t data = g.gm_alloc(1);
    const uint64_t bb = g.batch({n::kMiStoreDataImmGgtt, static_cast<uint32_t>(data), 0, 0xC0FFEE,
                                 n::kMiBatchBufferEnd, n::kMiNoop});
    g.emit(ctx, {n::kMiBatchBufferStart, static_cast<uint32_t>(bb), 0});
    g.submit(ctx);
    // The guest rewrites its batch right after the ELSP write: too late, the
    // scanned copy is what runs.
    g.poke(bb + 12, 0xBAD);
    REQUIRE(g.wait_retired(1));
    CHECK(g.peek(data) == 0xC0FFEE);
    CHECK(g.vgpu().execlist_counters()->completed == 1);
}

TEST_CASE("a second submission of a running context is a lite restore", "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Render);
    GuestContext ctx = g.make_context(Engine::Render, 5);
    const uint64_t data = g.gm_alloc(1);
    g.emit(ctx, {n::kMiStoreDataImmGgtt, static_cast<uint32_t>(data), 0, 1});
    g.submit(ctx);
    g.emit(ctx, {n::kMiStoreDataImmGgtt, static_cast<uint32_t>(data + 4), 0, 2});
    g.submit(ctx);  // before the first completed was handed back
    REQUIRE(g.wait_retired(2));
    CHECK(g.peek(data) == 1);
    CHECK(g.peek(data + 4) == 2);
    CHECK(g.ring_head_in_image(ctx) == ctx.tail);
    CHECK(g.vgpu().execlist_counters()->lite_restores == 1);
    // One idle→active, one complete|active→idle: the restore is silent.
    const auto csb = g.read_csb(Engine::Render);
    REQUIRE(csb.size() == 2);
    CHECK((csb[1] & 0xFFFFFFFF) == (exec::kCsbComplete | exec::kCsbActiveToIdle));
}

TEST_CASE("a tail the guest stores while its image is written back is kept", "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Render);
    GuestContext ctx = g.make_context(Engine::Render, 5);
    const uint64_t data = g.gm_alloc(1);
    g.emit(ctx, {n::kMiStoreDataImmGgtt, static_cast<uint32_t>(data), 0, 1});
    g.submit(ctx);
    // The next section is in the ring; the guest's store of its tail into
    // the image lands while the host writes the first workload's image back
    // (between reading and writing it, were it read first).
    g.emit(ctx, {n::kMiStoreDataImmGgtt, static_cast<uint32_t>(data + 4), 0, 2});
    const uint64_t image = static_cast<uint64_t>(g.cpu(ctx.lrca) - g.hv().ram.data());
    const uint64_t tail_at = image + kPageSize + exec::kCtxRingTail * 4;
    bool stored = false;
    g.hv().before_write = [&](uint64_t gpa, size_t) {
        if (!stored && gpa >= image && gpa < image + 2 * kPageSize) {
            stored = true;
            std::memcpy(g.ram(tail_at), &ctx.tail, 4);
        }
    };
    REQUIRE(g.wait_retired(1));
    g.hv().before_write = nullptr;
    REQUIRE(stored);
    CHECK(g.peek(ctx.lrca + kPageSize + exec::kCtxRingTail * 4) == ctx.tail);
    // ELSP without touching the image again: the section runs.
    const uint64_t d = g.descriptor(ctx);
    const uint32_t elsp = exec::desc(Engine::Render).base + exec::kRingElsp;
    for (const uint32_t v : {0u, 0u, static_cast<uint32_t>(d >> 32), static_cast<uint32_t>(d)}) {
        g.wr(elsp, v);
    }
    REQUIRE(g.wait_retired(2));
    CHECK(g.peek(data) == 1);
    CHECK(g.peek(data + 4) == 2);
    CHECK(g.ring_head_in_image(ctx) == ctx.tail);
}

TEST_CASE("two elements complete with an element switch between them", "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Blitter);
    GuestContext a = g.make_context(Engine::Blitter, 1);
    GuestContext b = g.make_context(Engine::Blitter, 2);
    const uint64_t s1 = g.gm_alloc(1), s2 = g.gm_alloc(1);
    g.emit(a, fill(s1, 4, 4, 0xFF0000AA));
    g.emit(b, fill(s2, 4, 4, 0xFF0000BB));
    g.submit(a, &b);
    REQUIRE(g.wait_retired(2));
    CHECK(rect_is(g, s1, 4, 4, 0xFF0000AA));
    CHECK(rect_is(g, s2, 4, 4, 0xFF0000BB));
    const auto csb = g.read_csb(Engine::Blitter);
    REQUIRE(csb.size() == 3);
    CHECK((csb[1] & 0xFFFFFFFF) == (exec::kCsbComplete | exec::kCsbElementSwitch));
    CHECK(csb[1] >> 32 == 1);
    CHECK((csb[2] & 0xFFFFFFFF) == (exec::kCsbComplete | exec::kCsbActiveToIdle));
    CHECK(csb[2] >> 32 == 2);
}

TEST_CASE("a PPGTT context copies through its shadow page tables", "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Blitter);
    // A 4-level PPGTT in guest RAM mapping VA 0x100000.. onto fresh pages.
    const uint64_t pml4 = g.ram_alloc(1), pdp = g.ram_alloc(1), pd = g.ram_alloc(1),
                   pt = g.ram_alloc(1);
    g.poke_ram(pml4, pdp | 3);
    g.poke_ram(pdp, pd | 3);
    g.poke_ram(pd, pt | 3);
    const uint64_t va_src = 0x100000, va_dst = 0x110000, va_bb = 0x120000;
    const uint64_t src = g.ram_alloc(16), dst = g.ram_alloc(16), bb = g.ram_alloc(1);
    for (uint64_t i = 0; i < 16; ++i) {
        g.poke_ram(pt + ((va_src >> 12) + i) * 8, (src + i * kPageSize) | 3);
        g.poke_ram(pt + ((va_dst >> 12) + i) * 8, (dst + i * kPageSize) | 3);
    }
    g.poke_ram(pt + (va_bb >> 12) * 8, bb | 3);
    for (uint32_t i = 0; i < 64 * 8; ++i) {
        const uint32_t v = 0xFF000000u | i * 2654435761u >> 8;
        std::memcpy(g.ram(src + i * 4), &v, 4);
    }
    const auto c = copy(va_dst, va_src, 64, 8);
    std::memcpy(g.ram(bb), c.data(), c.size() * 4);
    const uint32_t end = n::kMiBatchBufferEnd;
    std::memcpy(g.ram(bb + c.size() * 4), &end, 4);
    // Announce the PPGTT (PVINFO g2v), as i915 does on a vGPU.
    g.wr(kPvinfoBase + pvinfo::kPdp, static_cast<uint32_t>(pml4));
    g.wr(kPvinfoBase + pvinfo::kPdp + 4, 0);
    g.wr(kPvinfoBase + pvinfo::kG2vNotify, pvinfo::kG2vPpgttL4Create);

    GuestContext ctx = g.make_context(Engine::Blitter, 9, pml4);
    g.emit(ctx, {n::kMiBatchBufferStart | n::kBbsPpgtt, static_cast<uint32_t>(va_bb), 0});
    g.submit(ctx);
    REQUIRE(g.wait_retired(1));
    CHECK(g.vgpu().execlist_counters()->completed == 1);
    CHECK(std::memcmp(g.ram(dst), g.ram(src), 64 * 4 * 8) == 0);
}

TEST_CASE("four guests render and blit at once, each pixel-exact", "[exec][gpu][acceptance]") {
    World world;
    std::vector<std::unique_ptr<Guest>> guests;
    for (unsigned i = 0; i < 4; ++i) {
        guests.push_back(std::make_unique<Guest>(world, i));
    }
    constexpr unsigned kRounds = 8;
    struct Work {
        GuestContext blit, render;
        std::vector<uint64_t> fills, copies, data;
    };
    std::vector<Work> work(guests.size());
    for (unsigned i = 0; i < guests.size(); ++i) {
        Guest& g = *guests[i];
        g.enable_engine(Engine::Blitter);
        g.enable_engine(Engine::Render);
        work[i].blit = g.make_context(Engine::Blitter, 100 + i);
        work[i].render = g.make_context(Engine::Render, 200 + i);
    }
    // Every guest submits a round on both engines before anyone waits.
    for (unsigned r = 0; r < kRounds; ++r) {
        for (unsigned i = 0; i < guests.size(); ++i) {
            Guest& g = *guests[i];
            Work& w = work[i];
            const uint64_t a = g.gm_alloc(8), b = g.gm_alloc(8), d = g.gm_alloc(1);
            const uint32_t colour = 0xFF000000u | i << 16 | r << 8 | 0x5A;
            const auto f = fill(a, 64, 32, colour);
            const auto c = copy(b, a, 64, 32);
            g.emit(w.blit, f);
            g.emit(w.blit, c);
            const uint64_t bb = g.batch({n::kMiStoreDataImmGgtt, static_cast<uint32_t>(d), 0,
                                         colour, n::kMiBatchBufferEnd, n::kMiNoop});
            g.emit(w.render, {n::kMiBatchBufferStart, static_cast<uint32_t>(bb), 0});
            g.submit(w.blit);
            g.submit(w.render);
            w.fills.push_back(a);
            w.copies.push_back(b);
            w.data.push_back(d);
            // Hand back what finished so far, as a guest's interrupt handler would.
            REQUIRE(g.pump_until([] { return true; }));
        }
    }
    for (unsigned i = 0; i < guests.size(); ++i) {
        Guest& g = *guests[i];
        INFO("guest " << i);
        // Done when both rings are consumed, as the guest's driver would see
        // it. Resubmissions that waited for a shadow window were merged, so
        // there may be fewer workloads than submissions.
        REQUIRE(g.pump_until([&] {
            const exec::ExeclistCounters& c = *g.vgpu().execlist_counters();
            return g.ring_head_in_image(work[i].blit) == work[i].blit.tail &&
                   g.ring_head_in_image(work[i].render) == work[i].render.tail &&
                   c.completed == c.workloads;
        }));
        CHECK(g.vgpu().execlist_counters()->rejected == 0);
        CHECK(g.vgpu().execlist_counters()->submissions == 2 * kRounds);
        for (unsigned r = 0; r < kRounds; ++r) {
            const uint32_t colour = 0xFF000000u | i << 16 | r << 8 | 0x5A;
            CHECK(rect_is(g, work[i].fills[r], 64, 32, colour));
            CHECK(rect_is(g, work[i].copies[r], 64, 32, colour));
            CHECK(g.peek(work[i].data[r]) == colour);
        }
        CHECK(g.ring_head_in_image(work[i].blit) == work[i].blit.tail);
        CHECK(g.ring_head_in_image(work[i].render) == work[i].render.tail);
    }
}

TEST_CASE("a malicious guest is stopped each way; the others finish pixel-exact",
          "[exec][gpu][acceptance]") {
    World world;
    Guest bad(world, 0), good(world, 1);
    for (Guest* g : {&bad, &good}) {
        g->enable_engine(Engine::Blitter);
        g->enable_engine(Engine::Render);
    }
    GuestContext good_ctx = good.make_context(Engine::Blitter, 1);
    const uint64_t good_surface = good.gm_alloc(4);
    const uint64_t victim = good.gm_alloc(1);  // in good's slice: bad must never reach it
    good.poke(victim, 0x600D);

    GuestContext r = bad.make_context(Engine::Render, 1);
    GuestContext b = bad.make_context(Engine::Blitter, 2);
    uint64_t expected_rejects = 0;
    auto expect_rejected = [&](const char* what, GuestContext& ctx) {
        INFO(what);
        bad.submit(ctx);
        ++expected_rejects;
        REQUIRE(bad.wait_retired(expected_rejects));
        CHECK(bad.vgpu().execlist_counters()->rejected == expected_rejects);
        // §6.1: the guest sees a CS error on that engine, and completion.
        CHECK((bad.gt_iir(ctx.engine) & kIrqCsError) != 0);
        bad.wr(0x44308 + static_cast<uint32_t>(exec::desc(ctx.engine).bank) * 0x10,
               kIrqCsError << exec::desc(ctx.engine).irq_shift);
        ctx.tail = bad.ring_head_in_image(ctx);  // nothing ran; start afresh
    };

    SECTION("privileged LRI, out-of-slice blit, truncated command") {
        // MI_LOAD_REGISTER_IMM of GEN8_MASTER_IRQ: not on the allow-list.
        bad.emit(r, {n::kMiLoadRegisterImm1, 0x44200, 0, n::kMiNoop});
        expect_rejected("privileged LRI", r);
        // A fill aimed at the other guest's slice.
        bad.emit(b, fill(victim, 1, 1, 0xBAD));
        expect_rejected("out-of-slice blit", b);
        CHECK(bad.vgpu().failsafe() == false);
        // A blit cut short by the end of the ring section.
        const auto f = fill(bad.gm_alloc(1), 1, 1, 1);
        bad.emit(b, std::span<const uint32_t>(f.data(), 4));
        expect_rejected("truncated command", b);
        // Three strikes: failsafe; the next (valid) submission is refused too.
        CHECK(bad.vgpu().failsafe());
        bad.emit(b, fill(bad.gm_alloc(1), 1, 1, 1));
        expect_rejected("after failsafe", b);
    }
    SECTION("self-looping batch") {
        const uint64_t loop = bad.gm_alloc(1);
        bad.poke(loop, n::kMiBatchBufferStart);
        bad.poke(loop + 4, static_cast<uint32_t>(loop));
        bad.poke(loop + 8, 0);
        bad.emit(r, {n::kMiBatchBufferStart, static_cast<uint32_t>(loop), 0});
        expect_rejected("self-looping batch", r);
    }
    SECTION("second-level batch chaining further") {
        const uint64_t second = bad.gm_alloc(1), third = bad.batch({n::kMiBatchBufferEnd, 0});
        bad.poke(second, n::kMiBatchBufferStart | n::kBbsSecondLevel);
        bad.poke(second + 4, static_cast<uint32_t>(third));
        bad.poke(second + 8, 0);
        const uint64_t first = bad.batch({n::kMiBatchBufferStart | n::kBbsSecondLevel,
                                          static_cast<uint32_t>(second), 0, n::kMiBatchBufferEnd});
        bad.emit(r, {n::kMiBatchBufferStart, static_cast<uint32_t>(first), 0});
        expect_rejected("chained second-level batch", r);
    }
    // The good guest's work is unaffected.
    good.emit(good_ctx, fill(good_surface, 32, 16, 0xFF00C0DE));
    good.submit(good_ctx);
    REQUIRE(good.wait_retired(1));
    CHECK(rect_is(good, good_surface, 32, 16, 0xFF00C0DE));
    CHECK(good.peek(victim) == 0x600D);
    CHECK(good.vgpu().execlist_counters()->rejected == 0);
    // Nothing rejected reached the GPU.
    CHECK(bad.client().stats(Engine::Render).workloads == 0);
    CHECK(bad.client().stats(Engine::Blitter).workloads == 0);
}

// Host-side fault injection: STOP_RING on the physical engine (§4.2) holds
// it, as a hung engine would be, without depending on how fast it runs.
void stop_physical(World& world, Engine e, bool stop) {
    world.gpu.write32(MmioOffset{exec::desc(e).base + exec::kRingMiMode},
                      exec::kStopRing << 16 | (stop ? exec::kStopRing : 0));
}

// A 4-level PPGTT in guest RAM mapping pages below 2 MiB, announced through
// PVINFO (after which its tables are write-protected).
uint64_t announce_ppgtt(Guest& g, std::initializer_list<std::pair<uint64_t, uint64_t>> maps) {
    const uint64_t pml4 = g.ram_alloc(1), pdp = g.ram_alloc(1), pd = g.ram_alloc(1),
                   pt = g.ram_alloc(1);
    g.poke_ram(pml4, pdp | 3);
    g.poke_ram(pdp, pd | 3);
    g.poke_ram(pd, pt | 3);
    for (const auto& [va, gpa] : maps) {
        g.poke_ram(pt + (va >> 12) * 8, gpa | 3);
    }
    g.wr(kPvinfoBase + pvinfo::kPdp, static_cast<uint32_t>(pml4));
    g.wr(kPvinfoBase + pvinfo::kPdp + 4, 0);
    g.wr(kPvinfoBase + pvinfo::kG2vNotify, pvinfo::kG2vPpgttL4Create);
    return pml4;
}

TEST_CASE("a PPGTT batch runs from its scanned copy, not from guest memory", "[exec][gpu]") {
    World world;
    Guest g(world, 0);
    g.enable_engine(Engine::Render);
    constexpr uint64_t kBatchVa = 0x1F0000, kDataVa = 0x1F1000;
    const uint64_t bb = g.ram_alloc(1), target = g.ram_alloc(1);
    const uint64_t pml4 = announce_ppgtt(g, {{kBatchVa, bb}, {kDataVa, target}});
    const uint32_t scanned[] = {n::kMiStoreDataImmPpgtt,
                                static_cast<uint32_t>(kDataVa),
                                0,
                                0x600D,
                                n::kMiBatchBufferEnd,
                                n::kMiNoop};
    std::memcpy(g.ram(bb), scanned, sizeof scanned);
    GuestContext ctx = g.make_context(Engine::Render, 4, pml4);
    g.emit(ctx, {n::kMiBatchBufferStart | n::kBbsPpgtt, static_cast<uint32_t>(kBatchVa), 0});
    // Hold the physical engine so that the guest's rewrite certainly comes
    // after the scan and before the GPU fetches a single command.
    stop_physical(world, Engine::Render, true);
    g.submit(ctx);
    const uint32_t rewritten[] = {n::kMiStoreDataImmPpgtt, static_cast<uint32_t>(kDataVa), 0,
                                  0xBAD};
    std::memcpy(g.ram(bb), rewritten, sizeof rewritten);
    stop_physical(world, Engine::Render, false);
    REQUIRE(g.wait_retired(1));
    CHECK(g.vgpu().execlist_counters()->completed == 1);
    uint32_t got = 0;
    std::memcpy(&got, g.ram(target), 4);
    CHECK(got == 0x600D);
    // The overlay was the workload's own: the live shadow still maps the
    // guest's page (the isolation checker would say otherwise).
    CHECK(g.vgpu().ppgtt_shadow()->counters().roots == 1);
}

TEST_CASE("a workload that hangs the GPU is reset by the watchdog; others complete",
          "[exec][gpu][acceptance]") {
    exec::SchedulerConfig sched;
    sched.watchdog_ns = 200'000'000;
    World world(sched);
    Guest bad(world, 0), good(world, 1);
    bad.enable_engine(Engine::Blitter);
    good.enable_engine(Engine::Blitter);

    // bad's workload goes to an engine that makes no progress (held with
    // STOP_RING, standing in for a GPU hang); good queues work behind it.
    GuestContext hung = bad.make_context(Engine::Blitter, 1);
    bad.emit(hung, fill(bad.gm_alloc(4), 32, 16, 0xFF111111));
    stop_physical(world, Engine::Blitter, true);
    bad.submit(hung);
    GuestContext g = good.make_context(Engine::Blitter, 3);
    const uint64_t surface = good.gm_alloc(4);
    good.emit(g, fill(surface, 32, 16, 0xFF0000EE));
    good.submit(g);

    REQUIRE(bad.wait_retired(1));
    CHECK(bad.vgpu().execlist_counters()->faulted == 1);
    CHECK(bad.client().stats(Engine::Blitter).hangs == 1);
    // The guest sees its context fail: a CS error, and completion.
    CHECK((bad.gt_iir(Engine::Blitter) & kIrqCsError) != 0);
    REQUIRE(good.wait_retired(1));
    CHECK(rect_is(good, surface, 32, 16, 0xFF0000EE));
    CHECK(good.vgpu().execlist_counters()->completed == 1);
    CHECK(world.scheduler.engine_stats(Engine::Blitter).resets == 1);
}
