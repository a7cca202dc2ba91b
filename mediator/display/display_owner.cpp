#include "mediator/display/display_owner.hpp"

#include <stdexcept>
#include <utility>

#include "mediator/base/log.hpp"

namespace xengt::mediator::display {
namespace {

constexpr const char* kSubject = "display";

// Why the plane in `s` may not be shown: empty if it may (then nothing is
// allocated: this runs at every vblank).
std::string blank_reason(const DisplaySource& src, const PlaneSnapshot& s,
                         std::optional<Scanout>* scanout) {
    if (!s.display_ready) {
        return describe_guest(src.domid, src.name) +
               " has not set display_ready (its driver has not finished a modeset)";
    }
    const ScanoutCheck c = check_scanout(s);
    if (c.problem != ScanoutProblem::None) {
        return describe_guest(src.domid, src.name) + ": " + explain(c.problem, s);
    }
    if (scanout != nullptr) {
        *scanout = c.scanout;
    }
    return {};
}

}  // namespace

std::string describe_guest(uint16_t domid, const std::string& name) {
    std::string s = "dom" + std::to_string(domid);
    if (!name.empty() && name != s) {
        s += " (" + name + ")";
    }
    return s;
}

DisplayOwner::DisplayOwner(PhysicalDisplay* physical, GmView gm)
    : physical_(physical),
      gm_(gm),
      why_blank_(physical != nullptr ? "no vGPU is foreground" : "there is no physical display") {
    if (physical_ != nullptr) {
        physical_->blank();
    }
}

void DisplayOwner::attach(DisplaySource source) {
    const uint16_t domid = source.domid;
    if (!source.plane) {
        throw std::invalid_argument("dom" + std::to_string(domid) +
                                    ": display source without a plane mailbox");
    }
    if (!sources_.emplace(domid, std::move(source)).second) {
        throw std::invalid_argument("dom" + std::to_string(domid) +
                                    ": already attached to the display");
    }
}

void DisplayOwner::detach(uint16_t domid) {
    if (sources_.erase(domid) == 0) {
        return;
    }
    if (foreground_ == domid) {
        foreground_.reset();
        ++switches_;
    }
    if (shown_ == domid) {
        // Its graphics memory is about to be released and may be handed to
        // another guest: stop scanning it out now, not at the next vblank.
        physical_->blank();
        ++reprograms_;
        shown_.reset();
        scanout_.reset();
        why_blank_ = "dom" + std::to_string(domid) + " was detached while on show";
        XENGT_LOG(LogLevel::Info, kSubject, "dom%u detached: physical plane off", domid);
    }
}

bool DisplayOwner::attached(uint16_t domid) const {
    return sources_.count(domid) != 0;
}

const DisplaySource* DisplayOwner::find(uint16_t domid) const {
    auto it = sources_.find(domid);
    return it == sources_.end() ? nullptr : &it->second;
}

bool DisplayOwner::set_foreground(std::optional<uint16_t> domid) {
    if (domid && !attached(*domid)) {
        return false;
    }
    if (foreground_ != domid) {
        foreground_ = domid;
        ++switches_;
        if (domid) {
            XENGT_LOG(LogLevel::Info, kSubject, "foreground is now %s (from the next vblank)",
                      describe_guest(*domid, find(*domid)->name).c_str());
        } else {
            XENGT_LOG(LogLevel::Info, kSubject, "no foreground vGPU (from the next vblank)");
        }
    }
    return true;
}

DisplayOwner::Target DisplayOwner::target() const {
    if (physical_ == nullptr) {
        return {std::nullopt, "there is no physical display"};
    }
    if (!foreground_) {
        return {std::nullopt, "no vGPU is foreground"};
    }
    const DisplaySource& src = *find(*foreground_);
    Target t;
    t.why_blank = blank_reason(src, src.plane->read(), &t.scanout);
    return t;
}

std::string DisplayOwner::obstacle(uint16_t domid) const {
    const DisplaySource* src = find(domid);
    if (src == nullptr) {
        return {};
    }
    return blank_reason(*src, src->plane->read(), nullptr);
}

void DisplayOwner::vblank() {
    ++vblanks_;
    Target t = target();
    if (t.scanout) {
        if (shown_ == foreground_ && scanout_ == t.scanout) {
            return;  // the physical plane already shows exactly this
        }
        ++reprograms_;
        if (physical_->show(*t.scanout)) {
            if (shown_ != foreground_) {
                XENGT_LOG(LogLevel::Info, kSubject, "physical plane shows dom%u: %ux%u at %#llx",
                          *foreground_, t.scanout->width, t.scanout->height,
                          static_cast<unsigned long long>(t.scanout->surface.value()));
            }
            shown_ = foreground_;
            scanout_ = t.scanout;
            why_blank_.clear();
            return;
        }
        t.why_blank = "dom" + std::to_string(*foreground_) +
                      ": the physical plane cannot show its plane (stride or size beyond the "
                      "hardware's fields)";
    } else if (shown_ || why_blank_ != t.why_blank) {
        // Blank again also when only the reason changed: cheap, and the
        // physical state then never depends on what happened before.
        if (physical_ != nullptr) {
            physical_->blank();
        }
        ++reprograms_;
        if (t.why_blank != why_blank_) {
            XENGT_LOG(LogLevel::Info, kSubject, "physical plane off: %s", t.why_blank.c_str());
        }
    }
    shown_.reset();
    scanout_.reset();
    why_blank_ = std::move(t.why_blank);
}

DisplayStatus DisplayOwner::status() const {
    DisplayStatus s;
    s.foreground = foreground_;
    s.shown = shown_;
    s.scanout = scanout_;
    s.why_blank = why_blank_;
    s.vblanks = vblanks_;
    s.switches = switches_;
    s.reprograms = reprograms_;
    return s;
}

std::vector<SourceInfo> DisplayOwner::sources() const {
    std::vector<SourceInfo> out;
    out.reserve(sources_.size());
    for (const auto& [domid, src] : sources_) {
        SourceInfo info{domid, src.name, src.plane->read(), {}};
        info.check = check_scanout(info.plane);
        out.push_back(std::move(info));
    }
    return out;
}

CaptureResult DisplayOwner::capture(uint16_t domid) const {
    const DisplaySource* src = find(domid);
    if (src == nullptr) {
        return {std::nullopt, "dom" + std::to_string(domid) + ": no vGPU is attached to it"};
    }
    const std::string who = describe_guest(domid, src->name);
    const PlaneSnapshot s = src->plane->read();
    const ScanoutCheck c = check_scanout(s);
    if (c.problem != ScanoutProblem::None) {
        return {std::nullopt, who + ": " + explain(c.problem, s)};
    }
    CaptureResult r = read_scanout(c.scanout, domid, gm_);
    if (!r.image) {
        r.error = who + ": " + r.error;
    }
    return r;
}

CaptureResult DisplayOwner::capture_physical() {
    if (physical_ == nullptr) {
        return {std::nullopt, "there is no physical display"};
    }
    std::optional<Image> img = physical_->capture();
    if (!img) {
        return {std::nullopt, "the physical plane shows nothing: " +
                                  (why_blank_.empty() ? std::string("it is off") : why_blank_)};
    }
    return {std::move(img), {}};
}

}  // namespace xengt::mediator::display
