// The display owner: the one physical display, and which vGPU it shows.
//
// Device-wide (one per GPU) and hypervisor-neutral. It reads each vGPU's
// primary plane from the mailbox the vGPU publishes (primary_plane.hpp) and
// drives the physical pipe A / plane 1 through the PhysicalDisplay port.
//
// Policy:
//  * Nothing is foreground until set_foreground() (`xengt-ctl switch`):
//    dom0 has no vGPU of its own, and showing a guest nobody chose would
//    put its screen on the monitor unasked.
//  * The foreground vGPU's plane is shown while its guest has set PVINFO
//    display_ready and the plane can be scanned out (check_scanout: linear
//    XRGB8888, inside its own graphics memory). Otherwise the physical plane
//    is off and status() says why.
//  * Every change lands at vblank(): a switch, or a flip or plane change of
//    the foreground vGPU, is programmed in one go right after a physical
//    vblank, so each frame scans out one vGPU's complete plane.
//  * detach() of the vGPU on show turns the physical plane off at once: its
//    graphics memory is about to go back to the allocator.
//
// Threading: not thread-safe. One thread (the daemon's control loop) owns
// it; the mailboxes are the only state it shares with vGPU threads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mediator/display/plane_capture.hpp"
#include "mediator/display/primary_plane.hpp"

namespace xengt::mediator::display {

// Port: the physical pipe A with its plane 1.
class PhysicalDisplay {
public:
    virtual ~PhysicalDisplay() = default;

    // Scan out `scanout`, whose surface the physical GGTT already maps: the
    // pipe sized to the plane and enabled, the plane programmed, its surface
    // written last. False (and the display left blank) if the hardware
    // cannot show it.
    virtual bool show(const Scanout& scanout) = 0;
    // Plane and pipe off.
    virtual void blank() = 0;
    // What the physical plane scans out now; nullopt when it shows nothing.
    virtual std::optional<Image> capture() = 0;
};

struct DisplaySource {
    uint16_t domid = 0;
    std::string name;  // for status output, e.g. the domain's name
    std::shared_ptr<const PlaneMailbox> plane;
};

// One vGPU as the owner sees it now.
struct SourceInfo {
    uint16_t domid = 0;
    std::string name;
    PlaneSnapshot plane;
    ScanoutCheck check;
};

struct DisplayStatus {
    std::optional<uint16_t> foreground;  // chosen; shown from the next vblank on
    std::optional<uint16_t> shown;       // whose plane the physical plane shows now
    std::optional<Scanout> scanout;      // ... and which part of its memory
    std::string why_blank;               // when nothing is shown: why
    uint64_t vblanks = 0;                // physical vblanks seen
    uint64_t switches = 0;               // foreground changes
    uint64_t reprograms = 0;             // times the physical display was shown or blanked
};

class DisplayOwner {
public:
    // `physical` may be null (no display: nothing is ever shown, and status
    // says so); it is blanked now, so the owner starts from a known state.
    // `gm` is what vGPU captures read through (ggtt null: no captures).
    DisplayOwner(PhysicalDisplay* physical, GmView gm);
    DisplayOwner(const DisplayOwner&) = delete;
    DisplayOwner& operator=(const DisplayOwner&) = delete;

    // Throws std::invalid_argument if `source.domid` is already attached or
    // the source has no mailbox.
    void attach(DisplaySource source);
    // Forgets the vGPU (unknown domids are ignored). If its plane is on
    // show, the physical display is blanked now; if it was foreground,
    // nothing is.
    void detach(uint16_t domid);
    bool attached(uint16_t domid) const;

    // Chooses the foreground vGPU (nullopt: none), shown from the next
    // vblank(). False, and nothing changes, for a domid not attached.
    bool set_foreground(std::optional<uint16_t> domid);
    std::optional<uint16_t> foreground() const { return foreground_; }

    // True while vblanks matter: something is foreground, or the physical
    // display still shows a plane that the next vblank will turn off.
    bool wants_vblanks() const { return foreground_.has_value() || shown_.has_value(); }

    // A physical vblank has just happened: bring the physical display up to
    // date with the foreground vGPU's plane (or blank it), in one go.
    void vblank();

    // What would keep vGPU `domid`'s plane off the physical display were it
    // foreground ("dom3 has not set display_ready ..."); empty if nothing
    // would, or if it is not attached.
    std::string obstacle(uint16_t domid) const;

    DisplayStatus status() const;
    // Every attached vGPU, by domid.
    std::vector<SourceInfo> sources() const;

    // A vGPU's plane, foreground or background, read through the physical
    // GGTT; an error names the guest and the reason.
    CaptureResult capture(uint16_t domid) const;
    // What the physical plane scans out now.
    CaptureResult capture_physical();

private:
    struct Target {
        std::optional<Scanout> scanout;
        std::string why_blank;
    };
    Target target() const;
    const DisplaySource* find(uint16_t domid) const;

    PhysicalDisplay* physical_;
    GmView gm_;
    std::map<uint16_t, DisplaySource> sources_;
    std::optional<uint16_t> foreground_;
    std::optional<uint16_t> shown_;
    std::optional<Scanout> scanout_;
    std::string why_blank_;
    uint64_t vblanks_ = 0;
    uint64_t switches_ = 0;
    uint64_t reprograms_ = 0;
};

// "dom3" or "dom3 (name)" for messages.
std::string describe_guest(uint16_t domid, const std::string& name);

}  // namespace xengt::mediator::display
