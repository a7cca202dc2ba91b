#include "mediator/gtt/isolation.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <set>
#include <utility>

namespace xengt::mediator {
namespace {

// Enough to diagnose; a broken mediator could otherwise produce millions.
constexpr size_t kMaxDescribed = 16;

class Recorder {
public:
    explicit Recorder(IsolationReport& r) : report_(r) {}

    __attribute__((format(printf, 2, 3))) void violation(const char* fmt, ...) {
        ++report_.violation_count;
        if (report_.violations.size() < kMaxDescribed) {
            char line[256];
            va_list args;
            va_start(args, fmt);
            std::vsnprintf(line, sizeof line, fmt, args);
            va_end(args);
            report_.violations.emplace_back(line);
        }
    }

private:
    IsolationReport& report_;
};

const char* kind_name(FrameOwner::Kind k) {
    switch (k) {
        case FrameOwner::Kind::None:
            return "no owner";
        case FrameOwner::Kind::Guest:
            return "a guest";
        case FrameOwner::Kind::HostPage:
            return "the host";
    }
    return "?";
}

void check_ggtt_entry(Recorder& rec, const FrameOwnership& frames, uint64_t index, uint64_t pte,
                      const IsolationSubject* subject) {
    using ull = unsigned long long;
    if (!GgttPte::present(pte)) {
        return;
    }
    const HostFrame frame{GgttPte::frame_number(pte)};
    const FrameOwner owner = frames.owner(frame);
    if (subject == nullptr) {
        if (owner.kind == FrameOwner::Kind::Guest) {
            rec.violation("GGTT[%#llx] outside every partition maps dom%u gfn %#llx",
                          static_cast<ull>(index), owner.guest,
                          static_cast<ull>(owner.gfn.value()));
        }
        return;
    }
    if (frame == subject->ggtt->scratch()) {
        return;
    }
    if (owner.kind != FrameOwner::Kind::Guest || owner.guest != subject->guest) {
        rec.violation("GGTT[%#llx] of dom%u maps host frame %#llx owned by %s (dom%u)",
                      static_cast<ull>(index), subject->guest, static_cast<ull>(frame.value()),
                      kind_name(owner.kind), owner.guest);
        return;
    }
    const std::optional<GuestFrame> wanted = subject->ggtt->mapped_frame(index);
    if (!wanted || *wanted != owner.gfn) {
        rec.violation(
            "GGTT[%#llx] of dom%u maps its gfn %#llx, but the guest's entry asks for %#llx",
            static_cast<ull>(index), subject->guest, static_cast<ull>(owner.gfn.value()),
            static_cast<ull>(wanted ? wanted->value() : ~0ull));
    }
}

// Walks one shadow table (level 4 = PML4 .. 1 = PT) and everything below it.
class PpgttWalker {
public:
    PpgttWalker(Recorder& rec, IsolationReport& report, const FrameOwnership& frames,
                const IsolationSubject& subject)
        : rec_(rec), report_(report), frames_(frames), subject_(subject) {}

    void walk(HostFrame table, unsigned level) {
        using ull = unsigned long long;
        // Shared subtrees are checked once.
        if (!seen_.insert({table.value(), level}).second) {
            return;
        }
        ++report_.ppgtt_tables_checked;
        const FrameOwner owner = frames_.owner(table);
        const std::byte* bytes = frames_.peek(table);
        if (owner.kind != FrameOwner::Kind::HostPage || bytes == nullptr) {
            rec_.violation("PPGTT of dom%u: level-%u table at host frame %#llx is owned by %s",
                           subject_.guest, level, static_cast<ull>(table.value()),
                           kind_name(owner.kind));
            return;
        }
        for (unsigned i = 0; i < 512; ++i) {
            uint64_t e = 0;
            std::memcpy(&e, bytes + i * 8, 8);
            if ((e & 1) == 0) {
                continue;
            }
            const HostFrame next{GgttPte::frame_number(e)};
            if (level > 1 && (e & kPageSizeBit) != 0) {
                rec_.violation("PPGTT of dom%u: huge entry %u in a level-%u shadow table",
                               subject_.guest, i, level);
            } else if (level > 1) {
                walk(next, level - 1);
            } else {
                check_leaf(next, i);
            }
        }
    }

private:
    static constexpr uint64_t kPageSizeBit = uint64_t{1} << 7;

    void check_leaf(HostFrame frame, unsigned index) {
        ++report_.ppgtt_leaves_checked;
        if (frame == subject_.ppgtt->scratch()) {
            return;
        }
        const FrameOwner o = frames_.owner(frame);
        if (o.kind != FrameOwner::Kind::Guest || o.guest != subject_.guest) {
            rec_.violation("PPGTT of dom%u: PTE %u maps host frame %#llx owned by %s (dom%u)",
                           subject_.guest, index, static_cast<unsigned long long>(frame.value()),
                           kind_name(o.kind), o.guest);
        }
    }

    Recorder& rec_;
    IsolationReport& report_;
    const FrameOwnership& frames_;
    const IsolationSubject& subject_;
    std::set<std::pair<uint64_t, unsigned>> seen_;
};

}  // namespace

std::string IsolationReport::summary() const {
    std::string s = std::to_string(violation_count) + " violation(s) in " +
                    std::to_string(ggtt_entries_checked) + " GGTT entries, " +
                    std::to_string(ppgtt_tables_checked) + " PPGTT tables";
    for (const std::string& v : violations) {
        s += "\n  " + v;
    }
    return s;
}

IsolationReport check_isolation(const PhysicalGgtt& ggtt, const FrameOwnership& frames,
                                std::span<const IsolationSubject> subjects) {
    IsolationReport report;
    Recorder rec(report);
    // Partitions as sorted entry intervals, so the walk finds each entry's
    // owner by advancing a cursor instead of asking every subject.
    struct Interval {
        uint64_t first;
        uint64_t end;
        const IsolationSubject* subject;
    };
    std::vector<Interval> intervals;
    for (const IsolationSubject& s : subjects) {
        if (s.ggtt == nullptr) {
            continue;
        }
        for (const GgttShadow::EntryRange& r : s.ggtt->ranges()) {
            if (r.count != 0) {
                intervals.push_back({r.first, r.first + r.count, &s});
            }
        }
    }
    std::sort(intervals.begin(), intervals.end(),
              [](const Interval& a, const Interval& b) { return a.first < b.first; });
    for (size_t i = 1; i < intervals.size(); ++i) {
        if (intervals[i].first < intervals[i - 1].end) {
            rec.violation("GGTT entries from %#llx lie in the partitions of dom%u and dom%u",
                          static_cast<unsigned long long>(intervals[i].first),
                          intervals[i - 1].subject->guest, intervals[i].subject->guest);
        }
    }
    const uint64_t entries = ggtt.entries();
    size_t cursor = 0;
    for (uint64_t index = 0; index < entries; ++index) {
        while (cursor < intervals.size() && intervals[cursor].end <= index) {
            ++cursor;
        }
        const IsolationSubject* owner =
            cursor < intervals.size() && intervals[cursor].first <= index
                ? intervals[cursor].subject
                : nullptr;
        check_ggtt_entry(rec, frames, index, ggtt.read(index), owner);
        ++report.ggtt_entries_checked;
    }
    for (const IsolationSubject& s : subjects) {
        if (s.ppgtt == nullptr) {
            continue;
        }
        PpgttWalker walker(rec, report, frames, s);
        s.ppgtt->for_each_root([&](const PpgttRoot&, const ShadowRoot& shadow) {
            const unsigned level = shadow.levels == PpgttRoot::Levels::Four ? 4 : 2;
            for (const std::optional<HostFrame>& table : shadow.tables) {
                if (table) {
                    walker.walk(*table, level);
                }
            }
        });
    }
    return report;
}

}  // namespace xengt::mediator
