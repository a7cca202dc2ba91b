// The guest command scanner (intel-gpu.md §5, §10): its table agrees with the
// software GPU on lengths, realistic streams pass, hostile ones are stopped
// with the right reason.
#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gpu/model/engine.hpp"
#include "mediator/cmd/command_table.hpp"
#include "mediator/cmd/register_allowlist.hpp"
#include "mediator/cmd/scanner.hpp"
#include "scanner_test_support.hpp"

using namespace xengt::mediator::cmd;
using xengt::mediator::cmd::test::MapSource;
using Dwords = std::vector<uint32_t>;

namespace {

// The guest's slices: 64 MiB mappable at 16 MiB, 256 MiB hidden at 1 GiB.
constexpr uint64_t kAperture = 16u << 20;
constexpr uint64_t kHidden = 1u << 30;

ScanPolicy policy(Engine e) {
    ScanPolicy p;
    p.engine = e;
    p.gm = {GmRange{kAperture, 64u << 20}, GmRange{kHidden, 256u << 20}};
    p.max_batch_dwords = 1024;
    p.batch_budget_dwords = 16384;
    return p;
}

// Like the shadowing source of the workload path: each fetch copies up to
// the end of the batch's first 4 KiB page, each extension one more page,
// into a fresh host buffer (so the span moves, and reading past it is
// caught by the sanitizers). Records what the scanner asked for.
class PagedSource final : public BatchSource {
public:
    std::map<uint64_t, Dwords> batches;
    std::vector<BatchCall> calls;
    std::vector<std::pair<uint8_t, size_t>> extends;
    uint64_t returned = 0;     // dwords handed out, growth only
    uint8_t refuse_level = 0;  // extend() of this level says no more

    std::optional<std::span<const uint32_t>> fetch(const BatchCall& call) override {
        calls.push_back(call);
        const auto it = batches.find(call.address);
        if (it == batches.end()) {
            return std::nullopt;
        }
        current_[call.level] = {call.address, call.max_dwords, &it->second};
        return copy(call.level, 0);
    }
    std::optional<std::span<const uint32_t>> extend(uint8_t level, size_t have) override {
        extends.emplace_back(level, have);
        REQUIRE((level == 1 || level == 2));
        REQUIRE(current_[level].stored != nullptr);
        REQUIRE(have < current_[level].max);
        if (level == refuse_level) {
            return std::nullopt;
        }
        return copy(level, have);
    }

private:
    struct Current {
        uint64_t address = 0;
        size_t max = 0;
        const Dwords* stored = nullptr;
    };
    std::optional<std::span<const uint32_t>> copy(uint8_t level, size_t have) {
        const Current& c = current_[level];
        const uint64_t end = c.address + 4 * have;
        const size_t page_end = static_cast<size_t>(((end | 0xFFF) + 1 - c.address) / 4);
        const size_t n = std::min({page_end, c.max, c.stored->size()});
        if (n <= have) {
            return std::nullopt;
        }
        returned += n - have;
        copies_.emplace_back(c.stored->begin(), c.stored->begin() + static_cast<ptrdiff_t>(n));
        return std::span<const uint32_t>(copies_.back());
    }
    std::array<Current, 3> current_{};
    std::deque<Dwords> copies_;
};

// Encoders (§5.2-§5.4).
constexpr uint32_t kNoop = 0x00000000;
constexpr uint32_t kUserInterrupt = 0x01000000;
constexpr uint32_t kBbe = 0x05000000;
constexpr uint32_t lo(uint64_t a) {
    return static_cast<uint32_t>(a);
}
constexpr uint32_t hi(uint64_t a) {
    return static_cast<uint32_t>(a >> 32);
}
Dwords sdi_ggtt(uint64_t a, uint32_t v) {
    return {0x10000000 | 1u << 22 | 2, lo(a), hi(a), v};
}
Dwords lri(std::initializer_list<std::pair<uint32_t, uint32_t>> regs) {
    Dwords d{0x11000000 | static_cast<uint32_t>(2 * regs.size() - 1)};
    for (const auto& [r, v] : regs) {
        d.push_back(r);
        d.push_back(v);
    }
    return d;
}
Dwords pipe_control_qw_ggtt(uint64_t a) {
    // CS stall + post-sync write immediate + GGTT + notify.
    return {0x7A000004, 1u << 20 | 1u << 14 | 1u << 24 | 1u << 8, lo(a), hi(a), 7, 0};
}
Dwords bb_start(uint64_t a, bool ppgtt, bool second = false) {
    return {0x18800001 | (ppgtt ? 1u << 8 : 0) | (second ? 1u << 22 : 0), lo(a), hi(a)};
}
Dwords color_blt(uint64_t dst, uint32_t pitch, uint32_t w, uint32_t h) {
    return {0x54000000 | 3u << 20 | 5,
            3u << 24 | 0xF0u << 16 | pitch,
            0,
            h << 16 | w,
            lo(dst),
            hi(dst),
            0xFF00FF00};
}
Dwords src_copy_blt(uint64_t dst, uint64_t src, uint32_t pitch, uint32_t w, uint32_t h) {
    return {0x54C00000 | 3u << 20 | 8,
            3u << 24 | 0xCCu << 16 | pitch,
            0,
            h << 16 | w,
            lo(dst),
            hi(dst),
            0,
            pitch,
            lo(src),
            hi(src)};
}
Dwords cat(std::initializer_list<Dwords> parts) {
    Dwords out;
    for (const Dwords& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

ScanResult run(const Dwords& ring, Engine e = Engine::Render, BatchSource* src = nullptr) {
    const ScanPolicy p = policy(e);
    return scan(ring, p, src);
}

std::string describe(const ScanResult& r) {
    return std::string(to_string(r.error.reason)) + " at level " + std::to_string(r.error.level) +
           " offset " + std::to_string(r.error.offset) + " " + r.error.command;
}

}  // namespace

TEST_CASE("Every scanner row agrees with the software GPU on lengths", "[scanner]") {
    namespace model = xengt::gpu::model;
    for (const model::CmdDesc& m : model::command_table()) {
        INFO(m.name);
        const CommandDesc* d = find_command(m.header);
        REQUIRE(d != nullptr);
        CHECK(std::string(d->name) == m.name);
        CHECK(d->len_bits == m.len_bits);
        CHECK(d->min_dw == m.min_dw);
        CHECK(d->max_dw == m.max_dw);
        CHECK(d->engines == m.engines);
        // A sample encoding of each allowed length decodes alike in both.
        for (uint32_t len = m.min_dw; len <= m.max_dw; len += len < 16 ? 1 : 61) {
            const uint32_t header = m.header | (m.len_bits == 0 ? 0 : len - 2);
            REQUIRE(model::find_command(header) == &m);
            REQUIRE(find_command(header) == d);
            CHECK(command_length(*d, header) == len);
        }
    }
}

TEST_CASE("The scanner table covers section 5 and finds rows by opcode only", "[scanner]") {
    for (const char* name : {"MI_NOOP",
                             "MI_USER_INTERRUPT",
                             "MI_ARB_CHECK",
                             "MI_ARB_ON_OFF",
                             "MI_BATCH_BUFFER_END",
                             "MI_STORE_DATA_IMM",
                             "MI_STORE_DATA_INDEX",
                             "MI_LOAD_REGISTER_IMM",
                             "MI_STORE_REGISTER_MEM",
                             "MI_FLUSH_DW",
                             "MI_LOAD_REGISTER_MEM",
                             "MI_LOAD_REGISTER_REG",
                             "MI_BATCH_BUFFER_START",
                             "MI_SEMAPHORE_WAIT",
                             "MI_CONDITIONAL_BATCH_BUFFER_END",
                             "MI_DISPLAY_FLIP",
                             "PIPE_CONTROL",
                             "XY_COLOR_BLT",
                             "XY_SRC_COPY_BLT",
                             "XY_FAST_COPY_BLT"}) {
        INFO(name);
        bool found = false;
        for (const CommandDesc& d : command_table()) {
            if (std::string(d.name) == name) {
                found = true;
                // Flags and length bits do not change the row.
                CHECK(find_command(d.header | (d.len_bits == 0 ? 0 : 0x3F)) == &d);
            }
        }
        CHECK(found);
    }
    CHECK(find_command(0x0E000002)->action == Action::Reject);  // §5.5 semaphore wait
    CHECK(find_command(0x50800008)->action == Action::Reject);  // §5.4 not in GVT's table
    CHECK(find_command(0x20000000) == nullptr);                 // type 1
    CHECK(find_command(0xE0000000) == nullptr);                 // type 7
}

TEST_CASE("The scanner's O(1) command index finds exactly the rows the keys name", "[scanner]") {
    // §5.1 key bits by type: MI 31:23, 2D 31:22, 3D 31:16; other types none.
    const auto key_mask = [](uint32_t header) -> uint32_t {
        switch (header >> 29) {
            case kTypeMi:
                return 0xFF800000;
            case kType2d:
                return 0xFFC00000;
            case kType3d:
                return 0xFFFF0000;
            default:
                return 0;
        }
    };
    for (uint32_t high = 0; high < (1u << 16); ++high) {
        const uint32_t header = high << 16;
        const CommandDesc* want = nullptr;
        for (const CommandDesc& d : command_table()) {
            if (key_mask(header) != 0 && (header & key_mask(header)) == d.header) {
                want = &d;
            }
        }
        if (find_command(header) != want || find_command(header | 0xFFFF) != want) {
            FAIL("header " << header);
        }
    }
}

TEST_CASE("The register allow-list answers per command", "[scanner]") {
    CHECK(find_allowed_register(0x2270, kUseLri)->cls == RegClass::PpgttRoot);
    CHECK(find_allowed_register(0x228C, kUseLri) != nullptr);
    CHECK(find_allowed_register(0x2290, kUseLri) == nullptr);
    CHECK(find_allowed_register(0x21F0, kUseSrm) != nullptr);
    CHECK(find_allowed_register(0x21F0, kUseLri) == nullptr);
    CHECK(find_allowed_register(0x215C, kUseLrr) != nullptr);
    CHECK(find_allowed_register(0x2600, kUseSrm) == nullptr);  // GPRs: LRI only
    CHECK(find_allowed_register(0x0, kUseLri) == nullptr);
    CHECK(find_allowed_register(0x7FFFFC, kUseLri) == nullptr);
}

TEST_CASE("Realistic render and blitter streams pass the scanner", "[scanner]") {
    MapSource src;
    const uint64_t batch = kHidden + 0x10000;
    src.batches[batch] = cat({lri({{0x7004, 0x00010001}}), sdi_ggtt(kAperture + 0x40, 1),
                              pipe_control_qw_ggtt(kHidden + 0x100), Dwords{kNoop, kBbe}});
    const Dwords ring = cat({Dwords{0x04000001},  // arbitration on
                             bb_start(batch, false), Dwords{0x04000000, kNoop},
                             lri({{0x2270, 0x1000}, {0x2274, 0}, {0xC800, 0}}),
                             pipe_control_qw_ggtt(kAperture + 0x1000), Dwords{kUserInterrupt}});
    const ScanResult r = run(ring, Engine::Render, &src);
    INFO(to_string(r.error.reason) << " at " << r.error.offset << " " << r.error.command);
    REQUIRE(r.ok());
    CHECK(r.counts.batches == 1);
    CHECK(r.counts.user_interrupts == 1);
    CHECK(r.counts.notifies == 2);
    CHECK(r.counts.ppgtt_root_loads == 2);
    CHECK(r.counts.register_loads == 4);
    CHECK(r.counts.ggtt_accesses == 4);  // 2 PIPE_CONTROLs, SDI, the batch
    CHECK(r.counts.dwords == ring.size() + src.batches[batch].size());

    // Blits inside the slice; a PPGTT batch with a PPGTT store.
    src.batches[0x7000'0000] = cat({Dwords{0x10000002, 0x1234, 0, 5}, Dwords{kBbe}});
    const Dwords blt = cat({color_blt(kAperture, 4096, 1024, 768),
                            src_copy_blt(kHidden, kAperture, 4096, 1024, 768),
                            Dwords{0x13000002 | 1u << 14, lo(kHidden + 8) | 1u << 2, 0, 1},
                            bb_start(0x7000'0000, true)});
    const ScanResult b = run(blt, Engine::Blitter, &src);
    INFO(to_string(b.error.reason) << " at " << b.error.offset << " " << b.error.command);
    REQUIRE(b.ok());
    CHECK(b.counts.ggtt_accesses == 4);
    CHECK(b.counts.ppgtt_accesses == 2);
}

TEST_CASE("Hostile streams are stopped by the scanner with the right reason", "[scanner]") {
    MapSource src;
    SECTION("privileged LRI") {
        const ScanResult r = run(lri({{0x2270, 0}, {0x2230, 0}}));  // RCS ELSP
        CHECK(r.error.reason == ScanReason::RegisterNotAllowed);
        CHECK(std::string(r.error.command) == "MI_LOAD_REGISTER_IMM");
        const ScanResult master = run(lri({{0x44200, 0}}));
        CHECK(master.error.reason == ScanReason::RegisterNotAllowed);
        CHECK(master.error.register_offset == 0x44200);  // the log names it
        // PIPE_CONTROL's LRI post-sync writes a register too.
        CHECK(run({0x7A000004, 1u << 23 | 1u << 14, 0x941C, 0, 1, 0}).error.reason ==
              ScanReason::RegisterNotAllowed);
        // SRM/LRM/LRR: only the tiny whitelist.
        CHECK(run({0x12000002 | 1u << 22, 0x7004, lo(kAperture), 0}).error.reason ==
              ScanReason::RegisterNotAllowed);
        CHECK(run({0x12000002 | 1u << 22, 0x21F0, lo(kAperture), 0}).ok());
        CHECK(run({0x15000001, 0x215C, 0x2600}).error.reason == ScanReason::RegisterNotAllowed);
        CHECK(run({0x11000002, 0x7004, 0, 0}).error.reason == ScanReason::BadLength);  // even
    }
    SECTION("self-looping batch") {
        src.batches[kHidden] = cat({Dwords{kNoop}, bb_start(kHidden, false)});
        const ScanResult r = run(bb_start(kHidden, false), Engine::Render, &src);
        CHECK(r.error.reason == ScanReason::BudgetExceeded);
        CHECK(r.counts.fetched <= policy(Engine::Render).batch_budget_dwords);
        // A PPGTT batch that never ends.
        src.batches[0x1000] = Dwords(2048, kNoop);
        const ScanResult u = run(bb_start(0x1000, true), Engine::Render, &src);
        CHECK(u.error.reason == ScanReason::BatchUnterminated);
        CHECK(u.error.level == 1);
    }
    SECTION("out-of-slice blits") {
        // Destination starts inside, runs past the end of the aperture slice.
        const uint64_t end = kAperture + (64u << 20);
        CHECK(run(color_blt(end - 4096, 4096, 64, 2), Engine::Blitter).error.reason ==
              ScanReason::AddressOutOfRange);
        CHECK(run(color_blt(end - 8192, 4096, 1024, 2), Engine::Blitter).ok());
        // Source outside, destination inside.
        CHECK(run(src_copy_blt(kAperture, 0x1000, 4096, 16, 16), Engine::Blitter).error.reason ==
              ScanReason::AddressOutOfRange);
        CHECK(run(src_copy_blt(0x1000, kAperture, 4096, 16, 16), Engine::Blitter).error.reason ==
              ScanReason::AddressOutOfRange);
        // A negative pitch walks below the base.
        CHECK(run(color_blt(kAperture, 0xF000, 16, 16), Engine::Blitter).error.reason ==
              ScanReason::AddressOutOfRange);
        // Stores: SDI and PIPE_CONTROL to another VM's GM.
        CHECK(run(sdi_ggtt(0x100, 1)).error.reason == ScanReason::AddressOutOfRange);
        CHECK(run(pipe_control_qw_ggtt(end - 4)).error.reason == ScanReason::AddressOutOfRange);
    }
    SECTION("truncated command") {
        Dwords r = pipe_control_qw_ggtt(kAperture);
        r.pop_back();
        const ScanResult t = run(r);
        CHECK(t.error.reason == ScanReason::Truncated);
        CHECK(std::string(t.error.command) == "PIPE_CONTROL");
        CHECK(run({0x10000000 | 1u << 22 | 7, 0, 0, 0}).error.reason == ScanReason::BadLength);
    }
    SECTION("chained second-level batch") {
        src.batches[kHidden] = cat({bb_start(kHidden + 0x1000, false, true), Dwords{kBbe}});
        src.batches[kHidden + 0x1000] = cat({bb_start(kHidden + 0x2000, false), Dwords{kBbe}});
        src.batches[kHidden + 0x2000] = Dwords{kBbe};
        const ScanResult r = run(bb_start(kHidden, false), Engine::Render, &src);
        CHECK(r.error.reason == ScanReason::NestedBatch);
        CHECK(r.error.level == 2);
        CHECK(r.error.buffer_address == kHidden + 0x1000);
        // A second-level jump straight from the ring.
        CHECK(run(bb_start(kHidden, false, true), Engine::Render, &src).error.reason ==
              ScanReason::SecondLevelFromRing);
        // A proper call: ring → first → second level, back, end.
        src.batches[kHidden + 0x1000] = Dwords{kNoop, kBbe};
        CHECK(run(bb_start(kHidden, false), Engine::Render, &src).ok());
        // GGTT batches outside the slice are not fetched at all.
        CHECK(run(bb_start(0x2000, false), Engine::Render, &src).error.reason ==
              ScanReason::AddressOutOfRange);
    }
    SECTION("unknown opcode") {
        const ScanResult r = run({kNoop, 0x3F800000});
        CHECK(r.error.reason == ScanReason::UnknownCommand);
        CHECK(r.error.offset == 1);
        CHECK(r.error.dword0 == 0x3F800000);
        CHECK(run({0x20000000}).error.reason == ScanReason::UnknownCommand);
    }
    SECTION("wrong engine") {
        CHECK(run(color_blt(kAperture, 64, 1, 1), Engine::Render).error.reason ==
              ScanReason::WrongEngine);
        CHECK(run(pipe_control_qw_ggtt(kAperture), Engine::Blitter).error.reason ==
              ScanReason::WrongEngine);
    }
    SECTION("semaphore wait and other rejected commands") {
        const ScanResult r = run({0x0E000002, 0, lo(kAperture), 0});
        CHECK(r.error.reason == ScanReason::Rejected);
        CHECK(std::string(r.error.command) == "MI_SEMAPHORE_WAIT");
        CHECK(std::string(r.error.detail) != "");
        CHECK(run({0x50800008, 0, 0, 0, 0, 0, 0, 0, 0, 0}, Engine::Blitter).error.reason ==
              ScanReason::Rejected);
        CHECK(run({kBbe}).error.reason == ScanReason::BatchEndInRing);
        CHECK(run(cat({Dwords{0x18810001}, Dwords{lo(kHidden), 0}})).error.reason ==
              ScanReason::ForbiddenFlag);  // add-offset
    }
}

TEST_CASE("The scanner's O(1) register lookup agrees with the allow-list everywhere", "[scanner]") {
    for (uint32_t offset = 0; offset < (8u << 20); offset += 4) {
        for (const RegUse use : {kUseLri, kUseSrm, kUseLrm, kUseLrr}) {
            const AllowedRegister* want = nullptr;
            for (const AllowedRegister& r : register_allowlist()) {
                if (offset - r.offset < r.size && (r.uses & use) != 0) {
                    want = &r;
                }
            }
            if (find_allowed_register(offset, use) != want) {
                FAIL("offset " << offset << " use " << int{use});
            }
        }
    }
    CHECK(find_allowed_register(0x7004 + (8u << 20), kUseLri) == nullptr);
}

TEST_CASE("The scanner scans batches handed out a page at a time like whole ones", "[scanner]") {
    // A first-level batch starting 0xF00 into a page, over four pages: a
    // PIPE_CONTROL straddles the first page boundary (the first piece is
    // 64 dwords), then LRIs, stores and NOOPs run over two more boundaries.
    const uint64_t at = kHidden + 0x10F00;
    Dwords batch = Dwords(61, kNoop);
    batch = cat({batch, pipe_control_qw_ggtt(kHidden + 0x100)});
    while (batch.size() < 2900) {
        batch = cat({batch, lri({{0x7004, 1}, {0x2600, 2}}), sdi_ggtt(kAperture + 0x40, 3),
                     Dwords{kNoop}, pipe_control_qw_ggtt(kAperture + 0x80)});
    }
    batch.push_back(kBbe);
    const Dwords ring = cat({Dwords{kNoop}, bb_start(at, false), Dwords{kUserInterrupt}});

    ScanPolicy p = policy(Engine::Render);
    p.max_batch_dwords = 4096;
    MapSource whole;
    whole.batches[at] = batch;
    PagedSource paged;
    paged.batches[at] = batch;
    const ScanResult w = scan(ring, p, &whole);
    const ScanResult r = scan(ring, p, &paged);
    INFO(describe(r));
    REQUIRE(w.ok());
    REQUIRE(r.ok());
    CHECK(r.counts.commands == w.counts.commands);
    CHECK(r.counts.dwords == ring.size() + batch.size());
    CHECK(r.counts.register_loads == w.counts.register_loads);
    CHECK(r.counts.ggtt_accesses == w.counts.ggtt_accesses);
    CHECK(r.counts.notifies == w.counts.notifies);
    // Fetched: the batch's pages as handed out, 64 + 1024 + 1024 + the rest.
    CHECK(r.counts.fetched == paged.returned);
    CHECK(r.counts.fetched == batch.size());
    REQUIRE(paged.extends.size() == 3);
    CHECK(paged.extends[0] == std::pair<uint8_t, size_t>{1, 64});
    CHECK(paged.extends[1] == std::pair<uint8_t, size_t>{1, 64 + 1024});
    CHECK(paged.extends[2] == std::pair<uint8_t, size_t>{1, 64 + 2048});
}

TEST_CASE("The scanner extends a batch under a straddling command, then judges it", "[scanner]") {
    const uint64_t at = kHidden + 0x20000;
    PagedSource src;
    // PIPE_CONTROL in dwords 1022..1027: across the first page boundary.
    src.batches[at] = cat({Dwords(1022, kNoop), pipe_control_qw_ggtt(kAperture), Dwords{kBbe}});
    ScanPolicy p = policy(Engine::Render);
    p.max_batch_dwords = 4096;
    const ScanResult r = scan(bb_start(at, false), p, &src);
    INFO(describe(r));
    CHECK(r.ok());
    CHECK(src.extends.size() == 1);
    CHECK(r.counts.notifies == 1);

    SECTION("the batch cannot grow: Truncated") {
        src.batches[at].resize(1024);  // the batch's memory ends inside the command
        const ScanResult t = scan(bb_start(at, false), p, &src);
        CHECK(t.error.reason == ScanReason::Truncated);
        CHECK(t.error.level == 1);
        CHECK(t.error.offset == 1022);
        CHECK(std::string(t.error.command) == "PIPE_CONTROL");
    }
    SECTION("extend says no more: Truncated") {
        src.refuse_level = 1;
        CHECK(scan(bb_start(at, false), p, &src).error.reason == ScanReason::Truncated);
    }
    SECTION("the batch's max ends inside the command: Truncated") {
        p.max_batch_dwords = 1024;
        CHECK(scan(bb_start(at, false), p, &src).error.reason == ScanReason::Truncated);
    }
    SECTION("the budget ends inside the command: BudgetExceeded") {
        p.batch_budget_dwords = 1025;
        const ScanResult b = scan(bb_start(at, false), p, &src);
        CHECK(b.error.reason == ScanReason::BudgetExceeded);
        CHECK(b.counts.fetched == 1025);
    }
    SECTION("the ring is never extended") {
        const Dwords ring = pipe_control_qw_ggtt(kAperture);
        CHECK(scan(std::span<const uint32_t>(ring).first(4), p, &src).error.reason ==
              ScanReason::Truncated);
        CHECK(src.extends.size() == 1);  // only the batch above
    }
}

TEST_CASE("The scanner finds a batch whose source has no more unterminated", "[scanner]") {
    const uint64_t at = 0x40'0000;  // PPGTT
    PagedSource src;
    src.batches[at] = Dwords(512, kNoop);
    ScanPolicy p = policy(Engine::Render);
    p.max_batch_dwords = 4096;
    const ScanResult r = scan(bb_start(at, true), p, &src);
    CHECK(r.error.reason == ScanReason::BatchUnterminated);
    CHECK(r.error.level == 1);
    CHECK(r.error.offset == 512);
    CHECK(r.error.buffer_address == at);
    REQUIRE(src.extends.size() == 1);
    CHECK(src.extends[0] == std::pair<uint8_t, size_t>{1, 512});

    // The same at the second level, through a refusing extend().
    src.batches[at] = cat({bb_start(at + 0x4000, true, true), Dwords{kBbe}});
    src.batches[at + 0x4000] = Dwords(1500, kNoop);
    src.refuse_level = 2;
    const ScanResult s = scan(bb_start(at, true), p, &src);
    CHECK(s.error.reason == ScanReason::BatchUnterminated);
    CHECK(s.error.level == 2);
    CHECK(s.error.offset == 1024);

    // A GGTT batch is read no further than the guest's slice: its max is
    // the room left, and reaching it is not the budget's doing.
    const uint64_t end = kAperture + (64u << 20);
    src.batches[end - 256] = Dwords(64, kNoop);
    src.calls.clear();
    const ScanResult g = scan(bb_start(end - 256, false), p, &src);
    CHECK(g.error.reason == ScanReason::BatchUnterminated);
    REQUIRE(src.calls.size() == 1);
    CHECK(src.calls[0].max_dwords == 64);
}

TEST_CASE("The scanner's batch calls say where their MI_BATCH_BUFFER_START is", "[scanner]") {
    const uint64_t a = kHidden + 0x1000, b = kHidden + 0x3000, c = 0x70'0000;
    PagedSource src;
    // Ring → A (first level) → B (second level) and back; A chains to C (PPGTT).
    src.batches[a] = cat({Dwords{kNoop}, bb_start(b, false, true), Dwords(1100, kNoop),
                          bb_start(c, true), Dwords{kBbe}});
    src.batches[b] = Dwords{kNoop, kBbe};
    src.batches[c] = Dwords{kNoop, kNoop, kBbe};
    const Dwords ring = cat({Dwords{kNoop, kNoop}, bb_start(a, false), Dwords{kNoop}});
    ScanPolicy p = policy(Engine::Render);
    p.max_batch_dwords = 2048;
    const ScanResult r = scan(ring, p, &src);
    INFO(describe(r));
    REQUIRE(r.ok());
    CHECK(r.counts.batches == 3);
    REQUIRE(src.calls.size() == 3);
    const BatchCall& to_a = src.calls[0];
    CHECK(to_a.address == a);
    CHECK_FALSE(to_a.ppgtt);
    CHECK(to_a.level == 1);
    CHECK(to_a.parent_level == 0);
    CHECK(to_a.parent_offset == 2);
    CHECK(to_a.max_dwords == 2048);
    const BatchCall& to_b = src.calls[1];
    CHECK(to_b.address == b);
    CHECK(to_b.level == 2);
    CHECK(to_b.parent_level == 1);
    CHECK(to_b.parent_offset == 1);
    // The chain is found after A was extended past its first page.
    const BatchCall& to_c = src.calls[2];
    CHECK(to_c.address == c);
    CHECK(to_c.ppgtt);
    CHECK(to_c.level == 1);
    CHECK(to_c.parent_level == 1);
    CHECK(to_c.parent_offset == 1104);
    CHECK(src.extends == std::vector<std::pair<uint8_t, size_t>>{{1, 1024}});
    // Every budget dword handed out is counted, and no more.
    CHECK(r.counts.fetched == src.returned);
    CHECK(r.counts.fetched == 1024 + 84 + 2 + 3);
}

TEST_CASE("The scanner's budget counts every extension, across levels", "[scanner]") {
    PagedSource src;
    ScanPolicy p = policy(Engine::Render);
    p.max_batch_dwords = 8192;

    SECTION("one batch, extended to the budget") {
        p.batch_budget_dwords = 3000;
        src.batches[kHidden] = Dwords(4096, kNoop);
        const ScanResult r = scan(bb_start(kHidden, false), p, &src);
        CHECK(r.error.reason == ScanReason::BudgetExceeded);
        CHECK(r.error.offset == 3000);
        CHECK(r.counts.fetched == 3000);
        CHECK(src.extends.size() == 2);  // 1024 + 1024 + 952 of the third page
        REQUIRE(src.calls.size() == 1);
        CHECK(src.calls[0].max_dwords == 3000);
    }
    SECTION("a second-level batch spends what its caller would have extended into") {
        // A: 1 page, then B takes 1024 + 177, then A gets only what is left.
        p.batch_budget_dwords = 2560;
        src.batches[kHidden] = cat({bb_start(kHidden + 0x10000, false, true), Dwords(2000, kNoop)});
        src.batches[kHidden + 0x10000] = cat({Dwords(1200, kNoop), Dwords{kBbe}});
        const ScanResult r = scan(bb_start(kHidden, false), p, &src);
        CHECK(r.error.reason == ScanReason::BudgetExceeded);
        CHECK(r.error.level == 1);
        CHECK(r.error.offset == 1024 + 335);
        CHECK(r.counts.fetched == 2560);
        CHECK(src.returned > 2560);  // A's last page: only the budget's part is used
        CHECK(src.calls.at(1).max_dwords == 1536);
    }
    SECTION("a chain of short batches stops at the budget") {
        p.batch_budget_dwords = 1000;
        src.batches[kHidden] = cat({Dwords(7, kNoop), bb_start(kHidden, false)});  // 10 dwords
        const ScanResult r = scan(bb_start(kHidden, false), p, &src);
        CHECK(r.error.reason == ScanReason::BudgetExceeded);
        CHECK(r.counts.fetched == 1000);
        CHECK(r.counts.batches == 100);
    }
}
