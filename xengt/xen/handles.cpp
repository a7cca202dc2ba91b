#include "xengt/xen/handles.hpp"

#include "mediator/base/log.hpp"
#include "xengt/xen/error.hpp"

namespace xengt::xen {

// Handles are process-wide rather than per guest, so their errors name dom0.
DeviceModel::DeviceModel() : h_(xendevicemodel_open(nullptr, 0)) {
    if (h_ == nullptr) {
        throw_errno(0, "open device-model handle (xendevicemodel_open)");
    }
}
DeviceModel::~DeviceModel() {
    if (h_ != nullptr) {
        xendevicemodel_close(h_);
    }
}

ForeignMemory::ForeignMemory() : h_(xenforeignmemory_open(nullptr, 0)) {
    if (h_ == nullptr) {
        throw_errno(0, "open foreign-memory handle (xenforeignmemory_open)");
    }
}
ForeignMemory::~ForeignMemory() {
    if (h_ != nullptr) {
        xenforeignmemory_close(h_);
    }
}

EventChannels::EventChannels() : h_(xenevtchn_open(nullptr, 0)) {
    if (h_ == nullptr) {
        throw_errno(0, "open event-channel handle (xenevtchn_open)");
    }
}
EventChannels::~EventChannels() {
    if (h_ != nullptr) {
        xenevtchn_close(h_);
    }
}

void ForeignMapping::reset() {
    if (addr_ != nullptr) {
        if (xenforeignmemory_unmap(fmem_, addr_, pages_) != 0) {
            XENGT_LOG(LogLevel::Error, "xengt", "xenforeignmemory_unmap(%p, %zu pages) failed: %m",
                      addr_, pages_);
        }
        addr_ = nullptr;
    }
}

void ResourceMapping::reset() {
    if (res_ != nullptr) {
        if (xenforeignmemory_unmap_resource(fmem_, res_) != 0) {
            XENGT_LOG(LogLevel::Error, "xengt", "xenforeignmemory_unmap_resource failed: %m");
        }
        res_ = nullptr;
        addr_ = nullptr;
    }
}

BoundPort::BoundPort(xenevtchn_handle* xce, uint16_t domid, evtchn_port_t remote) : xce_(xce) {
    xenevtchn_port_or_error_t port = xenevtchn_bind_interdomain(xce, domid, remote);
    if (port < 0) {
        throw_errno(domid, "bind event channel to remote port " + std::to_string(remote) +
                               " (xenevtchn_bind_interdomain)");
    }
    local_ = static_cast<evtchn_port_t>(port);
    bound_ = true;
}

BoundPort::~BoundPort() {
    if (bound_ && xenevtchn_unbind(xce_, local_) != 0) {
        XENGT_LOG(LogLevel::Error, "xengt", "xenevtchn_unbind(port %u) failed: %m", local_);
    }
}

}  // namespace xengt::xen
