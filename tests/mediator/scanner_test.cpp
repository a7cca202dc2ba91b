// The guest command scanner (intel-gpu.md §5, §10): its table agrees with the
// software GPU on lengths, realistic streams pass, hostile ones are stopped
// with the right reason.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gpu/model/engine.hpp"
#include "mediator/cmd/command_table.hpp"
#include "mediator/cmd/register_allowlist.hpp"
#include "mediator/cmd/scanner.hpp"

using namespace xengt::mediator::cmd;
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

// Batches by address; each fetch returns the whole stored batch (up to max).
class MapSource final : public BatchSource {
public:
    std::map<uint64_t, Dwords> batches;
    std::optional<std::span<const uint32_t>> fetch(uint64_t address, bool, size_t max) override {
        const auto it = batches.find(address);
        if (it == batches.end()) {
            return std::nullopt;
        }
        return std::span<const uint32_t>(it->second).first(std::min(max, it->second.size()));
    }
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

TEST_CASE("Hostile streams are stopped with the right reason", "[scanner]") {
    MapSource src;
    SECTION("privileged LRI") {
        const ScanResult r = run(lri({{0x2270, 0}, {0x2230, 0}}));  // RCS ELSP
        CHECK(r.error.reason == ScanReason::RegisterNotAllowed);
        CHECK(std::string(r.error.command) == "MI_LOAD_REGISTER_IMM");
        CHECK(run(lri({{0x44200, 0}})).error.reason == ScanReason::RegisterNotAllowed);
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
