// Machine frames behind this process's own foreign mappings, for a real GPU.
//
// A real GPU's GGTT and PPGTT entries hold machine addresses. Xen 4.17 gives
// dom0 userspace no way to learn them, so a small PV-dom0 kernel module
// (kernel/xengt-mfn) reads the frame from the page-table entry Xen installed
// for a foreign mapping xengtd already holds (architecture: "Host frames").
//
//   - MachineFrameSource: the port. The shipping implementation is
//     XengtMfnDevice (the module's ioctl); the simulator answers the same
//     question from its own machine memory in tests.
//   - MachineFrameRegistry: device-wide, who each machine frame the GPU may
//     reach belongs to (the isolation checker's FrameOwnership).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "mediator/gtt/host_frames.hpp"

namespace xengt::xen {

class MachineFrameSource {
public:
    virtual ~MachineFrameSource() = default;
    // Writes the machine frame of each of the `pages` pages from `addr` into
    // `frames`. `addr` must be page aligned and every page must lie in a
    // foreign mapping this process holds. Returns 0 or the errno of
    // xengt_mfn_uapi.h: EINVAL (malformed), ENXIO (not a foreign mapping of
    // this process), ENOENT (nothing mapped there), EOPNOTSUPP (dom0 is not
    // PV). On error `frames` holds unspecified values.
    virtual int query(const void* addr, size_t pages, uint64_t* frames) = 0;
};

// Opening the module's device failed, with what the operator should do.
class MachineFrameError : public std::runtime_error {
public:
    MachineFrameError(const std::string& what, int err) : std::runtime_error(what), err_(err) {}
    int error_number() const noexcept { return err_; }

private:
    int err_;
};

// /dev/xengt-mfn, opened once. query() is thread-safe (one ioctl per up to
// 512 pages, no state of ours).
class XengtMfnDevice final : public MachineFrameSource {
public:
    static constexpr const char* kDefaultPath = "/dev/xengt-mfn";

    // Throws MachineFrameError naming the device, the reason and the fix:
    // module not loaded (ENOENT/ENODEV/ENXIO), not allowed (EACCES/EPERM), or
    // anything else with its strerror.
    explicit XengtMfnDevice(std::string path = kDefaultPath);
    ~XengtMfnDevice() override;
    XengtMfnDevice(const XengtMfnDevice&) = delete;
    XengtMfnDevice& operator=(const XengtMfnDevice&) = delete;

    int query(const void* addr, size_t pages, uint64_t* frames) override;
    const std::string& path() const { return path_; }

private:
    std::string path_;
    int fd_ = -1;
};

// Every machine frame some guest's pins currently hold, with its owner and
// the CPU's view of it. Thread-safe: pins of every guest add and remove
// concurrently while the isolation checker asks. O(1) per call.
class MachineFrameRegistry final : public mediator::FrameOwnership {
public:
    // False (nothing changed) if `frame` is already registered: one machine
    // frame can never be two guests' pages at once, and a resolver that says
    // otherwise must not be believed.
    bool add(HostFrame frame, uint32_t domid, GuestFrame gfn, const std::byte* view);
    void remove(HostFrame frame);
    size_t size() const;

    mediator::FrameOwner owner(HostFrame frame) const override;
    const std::byte* peek(HostFrame frame) const override;

private:
    struct Entry {
        uint32_t domid;
        GuestFrame gfn;
        const std::byte* view;
    };
    mutable std::mutex mutex_;
    std::unordered_map<uint64_t, Entry> frames_;
};

}  // namespace xengt::xen
