// The scanner against what an unmodified Linux 6.1 i915 submits on a Gen9
// vGPU (tests/i915_gen9_streams.hpp): every request shape and the golden
// render state batch pass; each address-carrying command pointed outside
// the guest's graphics memory is refused, naming the command.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>

#include "mediator/cmd/command_table.hpp"
#include "mediator/cmd/scanner.hpp"
#include "scanner_test_support.hpp"
#include "tests/i915_gen9_streams.hpp"

using namespace xengt::mediator::cmd;
using xengt::mediator::cmd::test::MapSource;
namespace i915 = xengt::test::i915;
using i915::Dwords;

namespace {

// The guest's slices: 64 MiB mappable at 16 MiB, 256 MiB hidden at 1 GiB;
// everything below 16 MiB is the host's.
constexpr uint64_t kAperture = 16u << 20;
constexpr uint64_t kHidden = 1u << 30;
constexpr uint32_t kHwsp = kAperture + 0x3000;          // a timeline's seqno slot
constexpr uint32_t kRenderState = kAperture + 0x10000;  // the golden batch's page
constexpr uint64_t kUserBatch = 0x0000'7F00'0000'1000;  // a PPGTT batch
constexpr uint32_t kOutside = 0x00200000;               // host GM

ScanPolicy policy(Engine e) {
    ScanPolicy p;
    p.engine = e;
    p.gm = {GmRange{kAperture, 64u << 20}, GmRange{kHidden, 256u << 20}};
    return p;
}

Dwords cat(std::initializer_list<Dwords> parts) {
    Dwords out;
    for (const Dwords& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

std::string describe(const ScanResult& r) {
    return std::string(to_string(r.error.reason)) + " at level " + std::to_string(r.error.level) +
           " offset " + std::to_string(r.error.offset) + " " + r.error.command;
}

// Dword offset of the `nth` command named `name` in a batch, walked with
// the scanner's own table.
size_t find(const Dwords& b, const std::string& name, unsigned nth = 0) {
    for (size_t i = 0; i < b.size();) {
        const CommandDesc* d = find_command(b[i]);
        REQUIRE(d != nullptr);
        if (name == d->name && nth-- == 0) {
            return i;
        }
        i += command_length(*d, b[i]);
    }
    FAIL("no " << name);
    return 0;
}

// The request i915 builds when it records the default render context: the
// preamble's invalidate, the context workarounds, the golden render state
// as a privileged batch, the final breadcrumb.
Dwords record_defaults_ring(uint32_t hwsp) {
    return cat({i915::flush_rcs(true, false), i915::ctx_workarounds(),
                i915::bb_start_noarb(kRenderState, true), i915::fini_breadcrumb_rcs(hwsp, 1)});
}

// A user execbuf: invalidate, initial breadcrumb, the PPGTT batch, final breadcrumb.
Dwords execbuf_ring(Engine e, uint32_t hwsp, uint32_t seqno) {
    if (e == Engine::Render) {
        return cat({i915::flush_rcs(true, false), i915::init_breadcrumb(hwsp, seqno),
                    i915::bb_start_noarb(kUserBatch, false),
                    i915::fini_breadcrumb_rcs(hwsp, seqno)});
    }
    return cat({i915::flush_xcs(true, e == Engine::Video), i915::init_breadcrumb(hwsp, seqno),
                i915::bb_start_noarb(kUserBatch, false), i915::fini_breadcrumb_xcs(hwsp, seqno)});
}

}  // namespace

TEST_CASE("i915's default-context recording passes the scanner on the render engine",
          "[scanner][i915]") {
    MapSource src;
    src.batches[kRenderState] = i915::null_render_state(kRenderState);
    const Dwords ring = record_defaults_ring(kHwsp);
    const ScanResult r = scan(ring, policy(Engine::Render), &src);
    INFO(describe(r));
    REQUIRE(r.ok());
    CHECK(r.counts.batches == 1);
    CHECK(r.counts.user_interrupts == 1);
    CHECK(r.counts.register_loads == std::size(i915::kSklCtxWorkarounds));
    // Store-index flushes: the preamble, two barriers (none in the batch).
    CHECK(r.counts.hwsp_index_stores == 3);
    // The breadcrumb, the batch, the render state's loaded bases (general,
    // surface, dynamic, indirect object (size 0), instruction), and its
    // 33 vertex buffers and index buffer of 0 bytes.
    CHECK(r.counts.ggtt_accesses == 2 + 5 + 33 + 1);
    CHECK(r.counts.ppgtt_accesses == 0);
}

TEST_CASE("i915's execbuf requests pass the scanner on every engine", "[scanner][i915]") {
    MapSource src;
    // A simple user batch: a PPGTT store and the end.
    src.batches[kUserBatch] = {0x10000002, 0x1000, 0, 5, i915::kNoop, i915::kBbe};
    for (const Engine e : {Engine::Render, Engine::Blitter, Engine::Video, Engine::VideoEnhance}) {
        INFO(static_cast<int>(e));
        const ScanResult r = scan(execbuf_ring(e, kHwsp, 7), policy(e), &src);
        INFO(describe(r));
        REQUIRE(r.ok());
        CHECK(r.counts.batches == 1);
        CHECK(r.counts.user_interrupts == 1);
        CHECK(r.counts.ggtt_accesses == 2);   // the two breadcrumbs' HWSP writes
        CHECK(r.counts.ppgtt_accesses == 2);  // the batch and its store
        CHECK(r.counts.hwsp_index_stores == 1);
    }
    // 3D state in a user (PPGTT) batch names PPGTT addresses: the shadow
    // PPGTT confines them, so they are not audited, wherever they point.
    Dwords user = i915::null_render_state(kOutside);
    user[find(user, "3DSTATE_DEPTH_BUFFER") + 2] = kOutside;
    src.batches[kUserBatch] = user;
    const ScanResult r = scan(execbuf_ring(Engine::Render, kHwsp, 8), policy(Engine::Render), &src);
    INFO(describe(r));
    REQUIRE(r.ok());
    CHECK(r.counts.ppgtt_accesses == 1 + 5 + 33 + 1 + 1);
}

TEST_CASE("i915 6.1 emits no semaphore wait in a vGPU, and the scanner still refuses one",
          "[scanner][i915]") {
    for (const Engine e : {Engine::Render, Engine::Blitter}) {
        const Dwords ring = execbuf_ring(e, kHwsp, 1);
        for (size_t i = 0; i < ring.size(); ++i) {
            CHECK((ring[i] & 0xFF800000u) != 0x0E000000u);  // no MI_SEMAPHORE_WAIT header
        }
    }
    // The busy-wait a bare-metal i915 adds (poll the HWSP preempt slot).
    const Dwords wait{0x0E000000 | 1u << 22 | 1u << 15 | 4u << 12 | 2, 0, kHwsp + 0x100, 0};
    const ScanResult r = scan(wait, policy(Engine::Render), nullptr);
    CHECK(r.error.reason == ScanReason::Rejected);
    CHECK(std::string(r.error.command) == "MI_SEMAPHORE_WAIT");
}

TEST_CASE("Every address-carrying command i915 emits is refused when it points outside the guest",
          "[scanner][i915]") {
    MapSource src;
    src.batches[kUserBatch] = {i915::kBbe};
    const auto refused = [](const ScanResult& r, const char* name, uint8_t level) {
        INFO(describe(r));
        CHECK(r.error.reason == ScanReason::AddressOutOfRange);
        CHECK(std::string(r.error.command) == name);
        CHECK(r.error.level == level);
    };
    SECTION("ring commands") {
        // The initial breadcrumb's store, the final breadcrumbs' writes.
        refused(scan(execbuf_ring(Engine::Render, kOutside, 1), policy(Engine::Render), &src),
                "MI_STORE_DATA_IMM", 0);
        Dwords rcs = execbuf_ring(Engine::Render, kHwsp, 1);
        rcs[find(rcs, "PIPE_CONTROL", 3) + 2] = kOutside;  // the seqno write
        refused(scan(rcs, policy(Engine::Render), &src), "PIPE_CONTROL", 0);
        Dwords bcs = execbuf_ring(Engine::Blitter, kHwsp, 1);
        bcs[find(bcs, "MI_FLUSH_DW", 1) + 1] = kOutside | i915::kFlushUseGtt;
        refused(scan(bcs, policy(Engine::Blitter), &src), "MI_FLUSH_DW", 0);
        // A privileged batch outside the guest.
        const Dwords bb = i915::bb_start_noarb(kOutside, true);
        refused(scan(bb, policy(Engine::Render), &src), "MI_BATCH_BUFFER_START", 0);
    }
    SECTION("render state commands") {
        const Dwords good = i915::null_render_state(kRenderState);
        struct Case {
            const char* name;
            unsigned nth;
            std::initializer_list<std::pair<unsigned, uint32_t>> fields;
        };
        const Case cases[] = {
            // A base, and a base loaded inside whose size runs past the slice.
            {"STATE_BASE_ADDRESS", 0, {{1, kOutside | 1}}},
            {"STATE_BASE_ADDRESS", 0, {{4, kOutside | 1}}},
            {"STATE_BASE_ADDRESS", 0, {{8, kOutside | 1}, {14, 0x1000 | 1}}},
            {"STATE_BASE_ADDRESS", 0, {{10, kRenderState | 1}, {15, 0x04000000 | 1}}},
            {"STATE_BASE_ADDRESS", 0, {{16, kOutside | 1}}},
            {"3DSTATE_DEPTH_BUFFER", 0, {{2, kOutside}}},
            {"3DSTATE_STENCIL_BUFFER", 0, {{2, kOutside}}},
            {"3DSTATE_HIER_DEPTH_BUFFER", 0, {{2, kOutside}}},
            {"3DSTATE_INDEX_BUFFER", 0, {{2, kOutside}, {4, 64}}},
            {"3DSTATE_VERTEX_BUFFERS", 0, {{4 * 32 + 2, kOutside}, {4 * 32 + 4, 64}}},
            {"3DSTATE_SO_BUFFER", 2, {{1, 1u << 31}, {2, kOutside}}},
            {"3DSTATE_CONSTANT_PS", 0, {{2, 0x10000}, {9, kOutside}}},
            {"3DSTATE_BINDING_TABLE_POOL_ALLOC", 0, {{1, kOutside | 1u << 11}, {3, 0x1000}}},
        };
        for (const Case& c : cases) {
            INFO(c.name << " " << c.fields.begin()->first);
            Dwords bad = good;
            const size_t at = find(bad, c.name, c.nth);
            for (const auto& [i, v] : c.fields) {
                bad[at + i] = v;
            }
            src.batches[kRenderState] = bad;
            const ScanResult r =
                scan(i915::bb_start_noarb(kRenderState, true), policy(Engine::Render), &src);
            refused(r, c.name, 1);
            CHECK(r.error.offset == at);
        }
        // Disabled or unloaded fields pointing anywhere are no access.
        Dwords quiet = good;
        quiet[find(quiet, "3DSTATE_SO_BUFFER", 1) + 2] = kOutside;              // disabled
        quiet[find(quiet, "3DSTATE_BINDING_TABLE_POOL_ALLOC") + 1] = kOutside;  // disabled
        quiet[find(quiet, "3DSTATE_CONSTANT_VS") + 3] = kOutside;               // read length 0
        quiet[find(quiet, "STATE_BASE_ADDRESS") + 16] = kOutside;               // not loaded
        quiet[find(quiet, "3DSTATE_VERTEX_BUFFERS") + 1] = 1u << 13;            // null buffer
        quiet[find(quiet, "3DSTATE_VERTEX_BUFFERS") + 2] = kOutside;
        quiet[find(quiet, "3DSTATE_VERTEX_BUFFERS") + 4] = 64;
        src.batches[kRenderState] = quiet;
        const ScanResult r =
            scan(i915::bb_start_noarb(kRenderState, true), policy(Engine::Render), &src);
        INFO(describe(r));
        CHECK(r.ok());
    }
    SECTION("render state commands off the render engine") {
        src.batches[kRenderState] = i915::null_render_state(kRenderState);
        const ScanResult r =
            scan(i915::bb_start_noarb(kRenderState, true), policy(Engine::Blitter), &src);
        CHECK(r.error.reason == ScanReason::WrongEngine);
    }
    SECTION("vertex buffers must be whole") {
        Dwords bad = i915::null_render_state(kRenderState);
        const size_t at = find(bad, "3DSTATE_VERTEX_BUFFERS");
        bad[at] -= 1;  // 132 dwords: 33 buffers less a dword (the next is an MI_NOOP)
        src.batches[kRenderState] = bad;
        const ScanResult r =
            scan(i915::bb_start_noarb(kRenderState, true), policy(Engine::Render), &src);
        CHECK(r.error.reason == ScanReason::BadLength);
        CHECK(std::string(r.error.command) == "3DSTATE_VERTEX_BUFFERS");
    }
}
