#include "mediator/cmd/scanner.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "mediator/cmd/command_rows.hpp"
#include "mediator/cmd/register_allowlist.hpp"

namespace xengt::mediator::cmd {
namespace {

// §5.2: register offsets in LRI/SRM/LRM/LRR sit in bits 22:2.
constexpr uint32_t kRegOffsetMask = 0x007FFFFC;
// §5.2 MI_BATCH_BUFFER_START DW0 bit 22: second-level batch.
constexpr uint32_t kBbsSecondLevel = 1u << 22;
// §5.4: the destination rectangle of every blit is DW2 (y1:x1) and DW3 (y2:x2).
constexpr uint8_t kDstTopLeft = 2;
constexpr uint8_t kDstBottomRight = 3;
// §5.4 colour depth → bytes per pixel. XY: BR13 25:24; fast copy: DW1 26:24
// (reserved encodings count as the widest, 16 bytes).
constexpr unsigned kXyBpp[4] = {1, 2, 2, 4};
constexpr unsigned kFastBpp[8] = {1, 2, 16, 4, 8, 16, 16, 16};
// Deepest batch: ring → first level → second level (§5.2 bit 22).
constexpr unsigned kLevels = 3;

// A buffer being scanned: the ring section or a batch, as far as the source
// has copied it so far.
struct Frame {
    const uint32_t* data = nullptr;
    size_t size = 0;  // dwords obtained so far
    size_t pos = 0;   // the next command
    size_t max = 0;   // the most the batch may grow to (the ring: its size)
    uint64_t address = 0;
    bool ppgtt = false;
    bool budget_capped = false;  // `max` is what the budget had left
};

// Byte interval [lo, hi) relative to nothing in particular; signed so that a
// surface reaching below its base address shows.
struct Span64 {
    int64_t lo;
    int64_t hi;
};

int64_t s16(uint32_t v) {
    return static_cast<int16_t>(v & 0xFFFF);
}

// The command checks are written once, as always-inlined functions of a
// row: step() runs them on a row looked up at run time, and the fast path
// on each row as a compile-time constant, where the compiler folds the row's
// dword indexes, masks and field kinds into straight-line code.

class Scanner {
public:
    Scanner(const ScanPolicy& p, BatchSource* src)
        : policy_(p), source_(src), budget_(p.batch_budget_dwords), engine_(engine_bit(p.engine)) {}

    ScanResult run(std::span<const uint32_t> ring) {
        frames_[0] = Frame{ring.data(), ring.size(), 0, ring.size(), 0, false, false};
        while (result_.ok()) {
            Frame& f = frames_[level_];
            scan_fast(f);
            if (f.pos < f.size) {
                step(f);  // a command the fast path left for a closer look
            } else if (level_ == 0) {
                break;  // the ring section is done
            } else if (const ScanReason r = grow(f); r != ScanReason::None) {
                fail(r, 0, nullptr);
            }
        }
        return result_;
    }

    // Row R's fast path: the command's length when it fits in what the frame
    // has, passes every check and leaves the IP to the next command; 0 for
    // anything else (unknown, rejected, batch start or end, failed checks,
    // straddling), which step() then judges and reports in full. Counts go
    // straight into the result: a command that fails has ended the scan.
    template <size_t R>
    static uint32_t fast(Scanner& s, const uint32_t* cmd, size_t avail, bool in_ppgtt) {
        constexpr const CommandDesc& d = rows::kCommands[R];
        if constexpr (d.action == Action::Reject || d.flow != Flow::Next) {
            return 0;
        } else {
            const uint32_t len = command_length(d, cmd[0]);
            if (((d.engines & s.engine_) == 0) | (len < d.min_dw) | (len > d.max_dw) |
                (len > avail)) {
                return 0;
            }
            if (s.check(d, cmd, len, in_ppgtt, s.result_.counts) != ScanReason::None) {
                return 0;
            }
            return len;
        }
    }
    static uint32_t fast_unknown(Scanner&, const uint32_t*, size_t, bool) { return 0; }

private:
    void fail(ScanReason r, uint32_t dw0, const CommandDesc* d) {
        const Frame& f = frames_[level_];
        result_.error = {r,
                         static_cast<uint8_t>(level_),
                         f.address,
                         f.pos,
                         dw0,
                         d != nullptr ? d->name : "",
                         d != nullptr && d->why != nullptr ? d->why : "",
                         r == ScanReason::RegisterNotAllowed ? refused_register_ : 0};
    }

    void scan_fast(Frame& f);

    // One command, every check in the order of the reasons' precedence.
    void step(Frame& f) {
        const uint32_t dw0 = f.data[f.pos];
        const CommandDesc* d = find_command(dw0);
        if (d == nullptr) {
            return fail(ScanReason::UnknownCommand, dw0, nullptr);
        }
        if ((d->engines & engine_) == 0) {
            return fail(ScanReason::WrongEngine, dw0, d);
        }
        const uint32_t len = command_length(*d, dw0);
        if (len < d->min_dw || len > d->max_dw) {
            return fail(ScanReason::BadLength, dw0, d);
        }
        if (len > f.size - f.pos) {
            // Straddles the end of what the source gave: Truncated only if
            // the batch cannot grow (the caller retries after growth).
            const ScanReason r = level_ == 0 ? ScanReason::Truncated : grow(f);
            if (r != ScanReason::None) {
                fail(r == ScanReason::BudgetExceeded ? r : ScanReason::Truncated, dw0, d);
            }
            return;
        }
        if (d->action == Action::Reject) {
            return fail(ScanReason::Rejected, dw0, d);
        }
        const uint32_t* const cmd = f.data + f.pos;
        // A row that moves on to the next command and got this far has been
        // through the fast path's checks already, which counted what they
        // passed before failing: counting again would count it twice.
        ScanCounts scratch;
        ScanCounts& counts = d->flow == Flow::Next ? scratch : result_.counts;
        if (const ScanReason r = check(*d, cmd, len, f.ppgtt, counts); r != ScanReason::None) {
            return fail(r, dw0, d);
        }
        ++result_.counts.commands;
        result_.counts.dwords += len;
        switch (d->flow) {
            case Flow::Next:
                f.pos += len;
                return;
            case Flow::BatchEnd:
                if (level_ == 0) {
                    return fail(ScanReason::BatchEndInRing, dw0, d);
                }
                --level_;  // the parent already points past its BB_START
                return;
            case Flow::BatchStart:
                return start_batch(f, *d, std::span<const uint32_t>(cmd, len));
        }
    }

    // More of the current batch: None, or why there is no more.
    ScanReason grow(Frame& f) {
        if (f.size >= f.max) {
            return f.budget_capped ? ScanReason::BudgetExceeded : ScanReason::BatchUnterminated;
        }
        if (budget_ == 0) {
            return ScanReason::BudgetExceeded;  // spent by a second-level batch meanwhile
        }
        const std::optional<std::span<const uint32_t>> got =
            source_->extend(static_cast<uint8_t>(level_), f.size);
        if (!got) {
            return ScanReason::BatchUnterminated;
        }
        const size_t n = std::min({got->size(), f.max, f.size + budget_});
        if (n <= f.size) {
            return ScanReason::BatchUnterminated;  // no growth is no more
        }
        budget_ -= n - f.size;
        result_.counts.fetched += n - f.size;
        f.data = got->data();
        f.size = n;
        return ScanReason::None;
    }

    // Forbidden flags, events and audits of a command known to fit.
    [[gnu::always_inline]] inline ScanReason check(const CommandDesc& d, const uint32_t* dw,
                                                   uint32_t len, bool in_ppgtt, ScanCounts& t) {
        const std::span<const uint32_t> cmd(dw, len);
        if (d.forbidden.mask != 0 && d.forbidden.any(cmd)) {
            return ScanReason::ForbiddenFlag;
        }
        if (d.event != Event::None && (d.event_when.mask == 0 || d.event_when.any(cmd))) {
            ++(d.event == Event::UserInterrupt ? t.user_interrupts : t.notifies);
        }
        if (d.action != Action::Audit) {
            return ScanReason::None;
        }
        for (size_t i = 0; i < d.n_registers; ++i) {
            const ScanReason r = audit_register(d.registers[i], cmd, t);
            if (r != ScanReason::None) {
                return r;
            }
        }
        for (size_t i = 0; i < d.n_addresses; ++i) {
            const AddressField& a = d.addresses[i];
            if (a.extent == Extent::Batch) {
                continue;  // audited by the fetch (start_batch)
            }
            const ScanReason r = audit_address(a, cmd, in_ppgtt, t);
            if (r != ScanReason::None) {
                return r;
            }
        }
        return ScanReason::None;
    }

    // On a refusal, the register refused is kept for the error report.
    [[gnu::always_inline]] inline ScanReason audit_register(const RegisterField& rf,
                                                            std::span<const uint32_t> cmd,
                                                            ScanCounts& t) {
        if (rf.when_any.mask != 0 && !rf.when_any.any(cmd)) {
            return ScanReason::None;
        }
        const size_t stride = rf.stride == 0 ? cmd.size() : rf.stride;
        if (rf.stride != 0 && (cmd.size() - rf.dword) % rf.stride != 0) {
            return ScanReason::BadLength;  // LRI: 1 + 2n dwords
        }
        // Local counts: the counters are uint32_t like the command, so the
        // compiler could not keep them in registers across the loop.
        uint32_t loads = 0, roots = 0;
        for (size_t i = rf.dword; i < cmd.size(); i += stride) {
            const uint8_t facts =
                kRegisterIndex.facts[allowed_register_row(cmd[i] & kRegOffsetMask)];
            if ((facts & rf.use) == 0) {
                refused_register_ = cmd[i] & kRegOffsetMask;
                return ScanReason::RegisterNotAllowed;
            }
            ++loads;
            roots += (facts & kFactPpgttRoot) != 0 ? 1 : 0;
        }
        t.register_loads += loads;
        t.ppgtt_root_loads += roots;
        return ScanReason::None;
    }

    [[gnu::always_inline]] inline static uint64_t address_of(const AddressField& a,
                                                             std::span<const uint32_t> cmd,
                                                             size_t off = 0) {
        const uint64_t low = cmd[a.dword + off] & a.low_mask;
        return a.width == 2 ? (uint64_t{cmd[a.dword + off + 1] & 0xFFFF} << 32 | low) : low;
    }

    [[gnu::always_inline]] inline static bool is_ppgtt(const AddressField& a,
                                                       std::span<const uint32_t> cmd, bool in_ppgtt,
                                                       size_t off = 0) {
        switch (a.rule) {
            case SpaceRule::GgttWhenSet:
                return !a.space.any_at(cmd, off);
            case SpaceRule::PpgttWhenSet:
                return a.space.any_at(cmd, off);
            case SpaceRule::Implicit:
                return in_ppgtt;
        }
        return false;
    }

    // Every instance of a field (one unless it repeats, AddressField::stride).
    [[gnu::always_inline]] inline ScanReason audit_address(const AddressField& a,
                                                           std::span<const uint32_t> cmd,
                                                           bool in_ppgtt, ScanCounts& t) const {
        if (a.stride == 0) {
            return audit_instance(a, cmd, 0, in_ppgtt, t);
        }
        if ((cmd.size() - 1) % a.stride != 0) {
            return ScanReason::BadLength;  // DW0 then whole instances
        }
        for (size_t off = 0; off + a.stride < cmd.size(); off += a.stride) {
            const ScanReason r = audit_instance(a, cmd, off, in_ppgtt, t);
            if (r != ScanReason::None) {
                return r;
            }
        }
        return ScanReason::None;
    }

    // One instance of a field, `off` dwords after the first.
    [[gnu::always_inline]] inline ScanReason audit_instance(const AddressField& a,
                                                            std::span<const uint32_t> cmd,
                                                            size_t off, bool in_ppgtt,
                                                            ScanCounts& t) const {
        if ((a.when_any.mask != 0 && !a.when_any.any_at(cmd, off)) ||
            (a.unless_any.mask != 0 && a.unless_any.any_at(cmd, off))) {
            return ScanReason::None;  // the field is not an address in this form
        }
        if (a.hwsp_index.mask != 0 && a.hwsp_index.any_at(cmd, off)) {
            ++t.hwsp_index_stores;
            return ScanReason::None;
        }
        const uint64_t address = address_of(a, cmd, off);
        if (a.zero_is_null && address == 0) {
            return ScanReason::None;  // no surface
        }
        if (is_ppgtt(a, cmd, in_ppgtt, off)) {
            ++t.ppgtt_accesses;
            return ScanReason::None;
        }
        ++t.ggtt_accesses;
        const int64_t base = static_cast<int64_t>(address);
        Span64 s{0, 0};
        switch (a.extent) {
            case Extent::Dword:
                s = {0, 4};
                break;
            case Extent::Qword:
                s = {0, 8};
                break;
            case Extent::Data: {
                const int64_t data = 4 * static_cast<int64_t>(cmd.size() - a.data_dword);
                const int64_t wide = a.wide.mask != 0 && a.wide.any(cmd) ? 8 : 4;
                s = {0, std::max(data, wide)};
                break;
            }
            case Extent::Blit: {
                const std::optional<Span64> b = blit_extent(a.blit, cmd);
                if (!b) {
                    return ScanReason::AddressOutOfRange;
                }
                if (b->hi <= b->lo) {
                    return ScanReason::None;  // an empty rectangle touches nothing
                }
                s = *b;
                break;
            }
            case Extent::Sized: {
                const bool set = a.size_valid.mask == 0 || a.size_valid.any_at(cmd, off);
                const int64_t size = set ? int64_t{cmd[a.data_dword + off] & a.size_mask} : 4;
                if (size == 0) {
                    return ScanReason::None;  // an empty buffer is never accessed
                }
                s = {0, size};
                break;
            }
            case Extent::Batch:
                return ScanReason::None;
        }
        return in_gm(base + s.lo, base + s.hi) ? ScanReason::None : ScanReason::AddressOutOfRange;
    }

    // The bytes a blitter surface's rectangle covers, relative to its base
    // address; nullopt when it cannot be bounded (a tiled surface addressed
    // outside its pitch).
    [[gnu::always_inline]] inline static std::optional<Span64> blit_extent(
        const BlitGeometry& g, std::span<const uint32_t> cmd) {
        const int64_t x1 = s16(cmd[kDstTopLeft]), y1 = s16(cmd[kDstTopLeft] >> 16);
        const int64_t x2 = s16(cmd[kDstBottomRight]), y2 = s16(cmd[kDstBottomRight] >> 16);
        const int64_t w = x2 - x1, h = y2 - y1;
        if (w <= 0 || h <= 0) {
            return Span64{0, 0};
        }
        const uint32_t corner = cmd[g.top_left];
        const int64_t xs = s16(corner), ys = s16(corner >> 16);
        const int64_t bpp =
            g.depth == BlitDepth::Xy ? kXyBpp[cmd[1] >> 24 & 3] : kFastBpp[cmd[1] >> 24 & 7];
        const uint32_t pitch = cmd[g.pitch_dword] & 0xFFFF;
        if (g.tiled.any(cmd)) {
            // Tiled: pitch in dwords (§5.4); whole tile rows are touched.
            const int64_t pitch_bytes = int64_t{pitch} * 4;
            if (xs < 0 || ys < 0 || (xs + w) * bpp > pitch_bytes) {
                return std::nullopt;
            }
            const int64_t t = g.tile_rows;
            return Span64{ys / t * t * pitch_bytes, (ys + h + t - 1) / t * t * pitch_bytes};
        }
        // Linear: the doc gives the pitch as bits 15:0; the PRM's is signed.
        // Cover both readings.
        Span64 s{INT64_MAX, INT64_MIN};
        for (const int64_t p : {int64_t{pitch}, s16(pitch)}) {
            const int64_t first = ys * p, last = (ys + h - 1) * p;
            s.lo = std::min(s.lo, std::min(first, last) + xs * bpp);
            s.hi = std::max(s.hi, std::max(first, last) + (xs + w) * bpp);
        }
        return s;
    }

    // The GM range [lo, hi) lies in one of the guest's ranges.
    [[gnu::always_inline]] inline bool in_gm(int64_t lo, int64_t hi) const {
        if (lo < 0 || hi < lo) {
            return false;
        }
        for (const GmRange& r : policy_.gm) {
            const uint64_t ulo = static_cast<uint64_t>(lo), uhi = static_cast<uint64_t>(hi);
            if (ulo >= r.base && uhi - r.base <= r.size && ulo - r.base < r.size) {
                return true;
            }
        }
        return false;
    }

    // The bytes of the guest range holding a GGTT address from it on, or 0.
    uint64_t gm_room(uint64_t address) const {
        for (const GmRange& r : policy_.gm) {
            if (address >= r.base && address - r.base < r.size) {
                return r.size - (address - r.base);
            }
        }
        return 0;
    }

    void start_batch(Frame& f, const CommandDesc& d, std::span<const uint32_t> cmd) {
        const uint32_t dw0 = cmd[0];
        const bool second = (dw0 & kBbsSecondLevel) != 0;
        if (level_ == 2) {
            return fail(ScanReason::NestedBatch, dw0, &d);
        }
        if (second && level_ == 0) {
            return fail(ScanReason::SecondLevelFromRing, dw0, &d);
        }
        const AddressField& a = d.addresses[0];
        const uint64_t address = address_of(a, cmd);
        const bool ppgtt = is_ppgtt(a, cmd, f.ppgtt);
        size_t max = std::min(policy_.max_batch_dwords, budget_);
        if (ppgtt) {
            ++result_.counts.ppgtt_accesses;
        } else {
            // A GGTT batch is read only from inside the guest's range.
            ++result_.counts.ggtt_accesses;
            const uint64_t room = gm_room(address) / 4;
            if (room == 0) {
                return fail(ScanReason::AddressOutOfRange, dw0, &d);
            }
            max = static_cast<size_t>(std::min<uint64_t>(max, room));
        }
        if (max == 0) {
            return fail(ScanReason::BudgetExceeded, dw0, &d);
        }
        const bool capped = max == budget_;  // reaching max is then the budget's doing
        const uint8_t level = second ? 2 : 1;
        const BatchCall call{address, ppgtt, level, static_cast<uint8_t>(level_), f.pos, max};
        const std::optional<std::span<const uint32_t>> got =
            source_ != nullptr ? source_->fetch(call) : std::nullopt;
        if (!got || got->empty()) {
            return fail(ScanReason::BatchUnreadable, dw0, &d);
        }
        const size_t n = std::min(got->size(), max);
        budget_ -= n;
        result_.counts.fetched += n;
        ++result_.counts.batches;
        f.pos += cmd.size();  // the return point (dropped by a chain)
        // From the ring or a first-level batch's call: one level down; a
        // first-level start inside a first-level batch chains (replaces it).
        level_ = level;
        frames_[level_] = Frame{got->data(), n, 0, max, address, ppgtt, capped};
    }

    const ScanPolicy& policy_;
    BatchSource* source_;
    size_t budget_;
    EngineMask engine_;
    unsigned level_ = 0;
    std::array<Frame, kLevels> frames_{};
    ScanResult result_{};
    uint32_t refused_register_ = 0;  // the last register audit_register refused
};

using Fast = uint32_t (*)(Scanner&, const uint32_t*, size_t, bool);

template <size_t... R>
constexpr std::array<Fast, sizeof...(R) + 1> fast_paths(std::index_sequence<R...>) {
    return {&Scanner::fast_unknown, &Scanner::fast<R>...};
}
// By row number + 1, like the index: [0] for unknown headers.
constexpr std::array<Fast, std::size(rows::kCommands) + 1> kFast =
    fast_paths(std::make_index_sequence<std::size(rows::kCommands)>{});

// The hot loop: one indexed call per command, whose target the branch
// predictor learns from the stream (drivers repeat the same sequences); the
// length and every check come from constants of the row. No allocation.
void Scanner::scan_fast(Frame& f) {
    const uint32_t* const start = f.data + f.pos;
    const uint32_t* const end = f.data + f.size;
    const bool ppgtt = f.ppgtt;
    const uint32_t* p = start;
    uint64_t commands = 0;
    while (p != end) {
        const uint32_t len = kFast[kCommandIndex.row_of_high[*p >> 16]](
            *this, p, static_cast<size_t>(end - p), ppgtt);
        if (len == 0) {
            break;
        }
        p += len;
        ++commands;
    }
    result_.counts.commands += commands;
    result_.counts.dwords += static_cast<uint64_t>(p - start);
    f.pos = static_cast<size_t>(p - f.data);
}

}  // namespace

const char* to_string(ScanReason r) {
    switch (r) {
        case ScanReason::None:
            return "ok";
        case ScanReason::UnknownCommand:
            return "unknown command";
        case ScanReason::WrongEngine:
            return "command not valid on this engine";
        case ScanReason::BadLength:
            return "invalid command length";
        case ScanReason::Truncated:
            return "command runs past the end of its buffer";
        case ScanReason::Rejected:
            return "command not allowed from a guest";
        case ScanReason::ForbiddenFlag:
            return "command flag not allowed from a guest";
        case ScanReason::AddressOutOfRange:
            return "graphics address outside the guest's memory";
        case ScanReason::RegisterNotAllowed:
            return "register not allowed for this command";
        case ScanReason::SecondLevelFromRing:
            return "second-level batch started from the ring";
        case ScanReason::NestedBatch:
            return "second-level batch starts another batch";
        case ScanReason::BatchEndInRing:
            return "batch buffer end outside a batch";
        case ScanReason::BatchUnreadable:
            return "batch buffer cannot be read";
        case ScanReason::BatchUnterminated:
            return "batch buffer without an end";
        case ScanReason::BudgetExceeded:
            return "batch dword budget exceeded";
    }
    return "?";
}

ScanResult scan(std::span<const uint32_t> commands, const ScanPolicy& policy,
                BatchSource* batches) {
    return Scanner(policy, batches).run(commands);
}

}  // namespace xengt::mediator::cmd
