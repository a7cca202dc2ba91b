// One RAII type per Xen library handle and per mapping made through one.
//
// Each destructor undoes exactly its own setup and nothing else; composition
// (who owns which handle, in which order) is spelled out by the owner, so
// teardown order is the reverse of declaration order. All types are move-only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "xengt/xen/xen_api.hpp"

namespace xengt::xen {

// libxendevicemodel handle (an fd on /dev/xen/privcmd).
class DeviceModel {
public:
    DeviceModel();  // throws XenError
    ~DeviceModel();
    DeviceModel(DeviceModel&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    DeviceModel& operator=(DeviceModel&&) = delete;
    xendevicemodel_handle* get() const { return h_; }

private:
    xendevicemodel_handle* h_;
};

// libxenforeignmemory handle.
class ForeignMemory {
public:
    ForeignMemory();  // throws XenError
    ~ForeignMemory();
    ForeignMemory(ForeignMemory&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    ForeignMemory& operator=(ForeignMemory&&) = delete;
    xenforeignmemory_handle* get() const { return h_; }

private:
    xenforeignmemory_handle* h_;
};

// libxenevtchn handle. Not shareable between threads: one per serving loop.
class EventChannels {
public:
    EventChannels();  // throws XenError
    ~EventChannels();
    EventChannels(EventChannels&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    EventChannels& operator=(EventChannels&&) = delete;
    xenevtchn_handle* get() const { return h_; }
    int fd() const { return xenevtchn_fd(h_); }

private:
    xenevtchn_handle* h_;
};

// Guest frames mapped into our address space through a foreign mapping.
// Holding the mapping also pins the frames (the guest cannot free them under us).
class ForeignMapping {
public:
    ForeignMapping() = default;
    ForeignMapping(xenforeignmemory_handle* fmem, void* addr, size_t pages)
        : fmem_(fmem), addr_(addr), pages_(pages) {}
    ~ForeignMapping() { reset(); }
    ForeignMapping(ForeignMapping&& o) noexcept
        : fmem_(o.fmem_), addr_(std::exchange(o.addr_, nullptr)), pages_(o.pages_) {}
    ForeignMapping& operator=(ForeignMapping&& o) noexcept {
        if (this != &o) {
            reset();
            fmem_ = o.fmem_;
            addr_ = std::exchange(o.addr_, nullptr);
            pages_ = o.pages_;
        }
        return *this;
    }
    void reset();
    std::byte* data() const { return static_cast<std::byte*>(addr_); }
    explicit operator bool() const { return addr_ != nullptr; }

private:
    xenforeignmemory_handle* fmem_ = nullptr;
    void* addr_ = nullptr;
    size_t pages_ = 0;
};

// A Xen resource (e.g. an ioreq server's page) mapped with
// xenforeignmemory_map_resource.
class ResourceMapping {
public:
    ResourceMapping() = default;
    ResourceMapping(xenforeignmemory_handle* fmem, xenforeignmemory_resource_handle* res,
                    void* addr)
        : fmem_(fmem), res_(res), addr_(addr) {}
    ~ResourceMapping() { reset(); }
    ResourceMapping(ResourceMapping&& o) noexcept
        : fmem_(o.fmem_), res_(std::exchange(o.res_, nullptr)), addr_(o.addr_) {}
    ResourceMapping& operator=(ResourceMapping&& o) noexcept {
        if (this != &o) {
            reset();
            fmem_ = o.fmem_;
            res_ = std::exchange(o.res_, nullptr);
            addr_ = o.addr_;
        }
        return *this;
    }
    void reset();
    void* data() const { return addr_; }
    explicit operator bool() const { return res_ != nullptr; }

private:
    xenforeignmemory_handle* fmem_ = nullptr;
    xenforeignmemory_resource_handle* res_ = nullptr;
    void* addr_ = nullptr;
};

// A local event-channel port bound to a remote (guest-side) port.
class BoundPort {
public:
    BoundPort(xenevtchn_handle* xce, uint16_t domid, evtchn_port_t remote);  // throws XenError
    ~BoundPort();
    BoundPort(BoundPort&& o) noexcept
        : xce_(o.xce_), local_(o.local_), bound_(std::exchange(o.bound_, false)) {}
    BoundPort& operator=(BoundPort&&) = delete;
    evtchn_port_t local() const { return local_; }

private:
    xenevtchn_handle* xce_;
    evtchn_port_t local_ = 0;
    bool bound_ = false;
};

}  // namespace xengt::xen
