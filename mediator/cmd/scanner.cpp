#include "mediator/cmd/scanner.hpp"

#include <algorithm>

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

struct Frame {
    std::span<const uint32_t> buf;
    size_t pos = 0;
    uint64_t address = 0;
    bool ppgtt = false;
    bool budget_capped = false;  // the fetch was cut short by the budget
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

class Scanner {
public:
    Scanner(const ScanPolicy& p, BatchSource* src) : policy_(p), source_(src) {
        budget_ = p.batch_budget_dwords;
    }

    ScanResult run(std::span<const uint32_t> ring) {
        frames_[0] = Frame{ring, 0, 0, false, false};
        while (result_.ok()) {
            Frame& f = frames_[level_];
            if (f.pos == f.buf.size()) {
                if (level_ == 0) {
                    break;  // the ring section is done
                }
                fail(f.budget_capped ? ScanReason::BudgetExceeded : ScanReason::BatchUnterminated,
                     0, nullptr);
                break;
            }
            step(f);
        }
        return result_;
    }

private:
    void fail(ScanReason r, uint32_t dw0, const CommandDesc* d) {
        const Frame& f = frames_[level_];
        result_.error = {r,
                         static_cast<uint8_t>(level_),
                         f.address,
                         f.pos,
                         dw0,
                         d != nullptr ? d->name : "",
                         d != nullptr && d->why != nullptr ? d->why : ""};
    }

    void step(Frame& f) {
        const uint32_t dw0 = f.buf[f.pos];
        const CommandDesc* d = find_command(dw0);
        if (d == nullptr) {
            return fail(ScanReason::UnknownCommand, dw0, nullptr);
        }
        if ((d->engines & engine_bit(policy_.engine)) == 0) {
            return fail(ScanReason::WrongEngine, dw0, d);
        }
        const uint32_t len = command_length(*d, dw0);
        if (len < d->min_dw || len > d->max_dw) {
            return fail(ScanReason::BadLength, dw0, d);
        }
        if (len > f.buf.size() - f.pos) {
            return fail(ScanReason::Truncated, dw0, d);
        }
        if (d->action == Action::Reject) {
            return fail(ScanReason::Rejected, dw0, d);
        }
        const std::span<const uint32_t> cmd = f.buf.subspan(f.pos, len);
        if (d->forbidden.mask != 0 && d->forbidden.any(cmd)) {
            return fail(ScanReason::ForbiddenFlag, dw0, d);
        }
        ++result_.counts.commands;
        result_.counts.dwords += len;
        count_event(*d, cmd);
        if (d->action == Action::Audit) {
            const ScanReason r = audit(*d, cmd, f.ppgtt);
            if (r != ScanReason::None) {
                return fail(r, dw0, d);
            }
        }
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
                return start_batch(f, *d, cmd);
        }
    }

    void count_event(const CommandDesc& d, std::span<const uint32_t> cmd) {
        if (d.event == Event::None || (d.event_when.mask != 0 && !d.event_when.any(cmd))) {
            return;
        }
        ++(d.event == Event::UserInterrupt ? result_.counts.user_interrupts
                                           : result_.counts.notifies);
    }

    ScanReason audit(const CommandDesc& d, std::span<const uint32_t> cmd, bool in_ppgtt) {
        for (size_t i = 0; i < d.n_registers; ++i) {
            const ScanReason r = audit_register(d.registers[i], cmd);
            if (r != ScanReason::None) {
                return r;
            }
        }
        for (size_t i = 0; i < d.n_addresses; ++i) {
            const AddressField& a = d.addresses[i];
            if (a.extent == Extent::Batch) {
                continue;  // audited by the fetch (start_batch)
            }
            const ScanReason r = audit_address(a, cmd, in_ppgtt);
            if (r != ScanReason::None) {
                return r;
            }
        }
        return ScanReason::None;
    }

    ScanReason audit_register(const RegisterField& rf, std::span<const uint32_t> cmd) {
        if (rf.when_any.mask != 0 && !rf.when_any.any(cmd)) {
            return ScanReason::None;
        }
        const size_t stride = rf.stride == 0 ? cmd.size() : rf.stride;
        if (rf.stride != 0 && (cmd.size() - rf.dword) % rf.stride != 0) {
            return ScanReason::BadLength;  // LRI: 1 + 2n dwords
        }
        for (size_t i = rf.dword; i < cmd.size(); i += stride) {
            const AllowedRegister* r = find_allowed_register(cmd[i] & kRegOffsetMask, rf.use);
            if (r == nullptr) {
                return ScanReason::RegisterNotAllowed;
            }
            ++result_.counts.register_loads;
            result_.counts.ppgtt_root_loads += r->cls == RegClass::PpgttRoot ? 1 : 0;
        }
        return ScanReason::None;
    }

    static uint64_t address_of(const AddressField& a, std::span<const uint32_t> cmd) {
        const uint64_t low = cmd[a.dword] & a.low_mask;
        return a.width == 2 ? (uint64_t{cmd[a.dword + 1] & 0xFFFF} << 32 | low) : low;
    }

    static bool is_ppgtt(const AddressField& a, std::span<const uint32_t> cmd, bool in_ppgtt) {
        switch (a.rule) {
            case SpaceRule::GgttWhenSet:
                return !a.space.any(cmd);
            case SpaceRule::PpgttWhenSet:
                return a.space.any(cmd);
            case SpaceRule::Implicit:
                return in_ppgtt;
        }
        return false;
    }

    ScanReason audit_address(const AddressField& a, std::span<const uint32_t> cmd, bool in_ppgtt) {
        if ((a.when_any.mask != 0 && !a.when_any.any(cmd)) ||
            (a.unless_any.mask != 0 && a.unless_any.any(cmd))) {
            return ScanReason::None;  // the field is not an address in this form
        }
        if (a.hwsp_index.mask != 0 && a.hwsp_index.any(cmd)) {
            ++result_.counts.hwsp_index_stores;
            return ScanReason::None;
        }
        if (is_ppgtt(a, cmd, in_ppgtt)) {
            ++result_.counts.ppgtt_accesses;
            return ScanReason::None;
        }
        ++result_.counts.ggtt_accesses;
        const int64_t base = static_cast<int64_t>(address_of(a, cmd));
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
            case Extent::Batch:
                return ScanReason::None;
        }
        return in_gm(base + s.lo, base + s.hi) ? ScanReason::None : ScanReason::AddressOutOfRange;
    }

    // The bytes a blitter surface's rectangle covers, relative to its base
    // address; nullopt when it cannot be bounded (a tiled surface addressed
    // outside its pitch).
    static std::optional<Span64> blit_extent(const BlitGeometry& g, std::span<const uint32_t> cmd) {
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
    bool in_gm(int64_t lo, int64_t hi) const {
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
        const bool capped = budget_ <= policy_.max_batch_dwords;
        if (ppgtt) {
            ++result_.counts.ppgtt_accesses;
        } else {
            // A GGTT batch is fetched only from inside the guest's range.
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
        const std::optional<std::span<const uint32_t>> got =
            source_ != nullptr ? source_->fetch(address, ppgtt, max) : std::nullopt;
        if (!got || got->empty()) {
            return fail(ScanReason::BatchUnreadable, dw0, &d);
        }
        const std::span<const uint32_t> batch = got->first(std::min(got->size(), max));
        budget_ -= batch.size();
        result_.counts.fetched += batch.size();
        ++result_.counts.batches;
        f.pos += cmd.size();  // the return point (dropped by a chain)
        // From the ring or a first-level batch's call: one level down; a
        // first-level start inside a first-level batch chains (replaces it).
        level_ = second ? 2 : 1;
        frames_[level_] = Frame{batch, 0, address, ppgtt, capped && batch.size() == max};
    }

    const ScanPolicy& policy_;
    BatchSource* source_;
    size_t budget_;
    unsigned level_ = 0;
    std::array<Frame, kLevels> frames_{};
    ScanResult result_{};
};

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
