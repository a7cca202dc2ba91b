#include "mediator/gtt/isolation.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

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

}  // namespace

std::string IsolationReport::summary() const {
    std::string s = std::to_string(violation_count) + " violation(s) in " +
                    std::to_string(ggtt_entries_checked) + " GGTT entries";
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
    return report;
}

}  // namespace xengt::mediator
