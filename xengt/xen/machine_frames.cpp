#include "xengt/xen/machine_frames.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "kernel/xengt-mfn/xengt_mfn_uapi.h"

namespace xengt::xen {

namespace {

std::string open_failure(const std::string& path, int err) {
    std::string why = path + ": " + std::strerror(err) + " (errno " + std::to_string(err) + "): ";
    switch (err) {
        case ENOENT:
        case ENODEV:
        case ENXIO:
            return why +
                   "the xengt-mfn kernel module is not loaded; a real GPU needs it to learn "
                   "the machine frames of guest pages (modprobe xengt_mfn, see README "
                   "\"Running on real hardware\")";
        case EACCES:
        case EPERM:
            return why + "not allowed: the device is for root or the group xengt only";
        default:
            return why + "cannot open the xengt-mfn device";
    }
}

}  // namespace

XengtMfnDevice::XengtMfnDevice(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0) {
        const int err = errno;
        throw MachineFrameError(open_failure(path_, err), err);
    }
}

XengtMfnDevice::~XengtMfnDevice() {
    ::close(fd_);
}

int XengtMfnDevice::query(const void* addr, size_t pages, uint64_t* frames) {
    auto at = reinterpret_cast<uintptr_t>(addr);
    while (pages > 0) {
        const size_t n = std::min<size_t>(pages, XENGT_MFN_MAX_PAGES);
        xengt_mfn_query q{};
        q.addr = at;
        q.count = static_cast<uint32_t>(n);
        q.flags = 0;
        q.frames = reinterpret_cast<uintptr_t>(frames);
        if (::ioctl(fd_, XENGT_MFN_IOC_QUERY, &q) != 0) {
            return errno != 0 ? errno : EIO;
        }
        at += n * kPageSize;
        frames += n;
        pages -= n;
    }
    return 0;
}

bool MachineFrameRegistry::add(HostFrame frame, uint32_t domid, GuestFrame gfn,
                               const std::byte* view) {
    std::lock_guard lock(mutex_);
    return frames_.try_emplace(frame.value(), Entry{domid, gfn, view}).second;
}

void MachineFrameRegistry::remove(HostFrame frame) {
    std::lock_guard lock(mutex_);
    frames_.erase(frame.value());
}

size_t MachineFrameRegistry::size() const {
    std::lock_guard lock(mutex_);
    return frames_.size();
}

mediator::FrameOwner MachineFrameRegistry::owner(HostFrame frame) const {
    std::lock_guard lock(mutex_);
    auto it = frames_.find(frame.value());
    if (it == frames_.end()) {
        return {};
    }
    return {mediator::FrameOwner::Kind::Guest, it->second.domid, it->second.gfn};
}

const std::byte* MachineFrameRegistry::peek(HostFrame frame) const {
    std::lock_guard lock(mutex_);
    auto it = frames_.find(frame.value());
    return it == frames_.end() ? nullptr : it->second.view;
}

}  // namespace xengt::xen
