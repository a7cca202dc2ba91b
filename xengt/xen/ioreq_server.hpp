// The pieces of one ioreq server's lifecycle, each undone by its destructor:
//   IoreqServer      create / destroy
//   IoreqPage        map the synchronous ioreq page (resource mapping, or the
//                    legacy gfn mapping on kernels without it) / unmap
//   ServerEnabled    enable / disable
//   ClaimedPciDevice claim / release the vGPU's config space (one SBDF)
//   TrapClaims       claim / release the MMIO and port ranges the vGPU decodes,
//                    reconciled whenever the guest moves a BAR or toggles decode
// Xen requires the order create -> map -> enable (vp_eports become valid) ->
// bind ports -> claim; the owner declares members in that order so teardown
// runs in reverse.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "mediator/hypervisor_port.hpp"
#include "xengt/xen/handles.hpp"
#include "xengt/xen/pci_address.hpp"
#include "xengt/xen/xen_api.hpp"

namespace xengt::xen {

class IoreqServer {
public:
    IoreqServer(xendevicemodel_handle* dm, uint16_t domid);  // throws XenError
    ~IoreqServer();
    IoreqServer(const IoreqServer&) = delete;
    IoreqServer& operator=(const IoreqServer&) = delete;

    ioservid_t id() const { return id_; }
    uint16_t domid() const { return domid_; }
    xendevicemodel_handle* dm() const { return dm_; }

private:
    xendevicemodel_handle* dm_;
    uint16_t domid_;
    ioservid_t id_ = 0;
};

class IoreqPage {
public:
    enum class Path { ResourceMapping, LegacyGfn };

    // Maps the page with xenforeignmemory_map_resource; when the dom0 kernel
    // lacks IOCTL_PRIVCMD_MMAP_RESOURCE (EOPNOTSUPP) falls back to asking Xen
    // for the page's gfn and mapping that, as QEMU does. Must run before the
    // server is enabled (enabling removes the legacy gfn from the guest p2m).
    IoreqPage(xenforeignmemory_handle* fmem, const IoreqServer& server);  // throws XenError

    shared_iopage_t* page() const { return page_; }
    ioreq_t* slot(unsigned vcpu) const { return &page_->vcpu_ioreq[vcpu]; }
    Path path() const { return path_; }

private:
    ResourceMapping resource_;
    ForeignMapping legacy_;
    shared_iopage_t* page_ = nullptr;
    Path path_ = Path::ResourceMapping;
};

class ServerEnabled {
public:
    explicit ServerEnabled(const IoreqServer& server);  // throws XenError
    ~ServerEnabled();
    ServerEnabled(const ServerEnabled&) = delete;
    ServerEnabled& operator=(const ServerEnabled&) = delete;

private:
    const IoreqServer& server_;
};

class ClaimedPciDevice {
public:
    ClaimedPciDevice(const IoreqServer& server, PciAddress bdf);  // throws XenError
    ~ClaimedPciDevice();
    ClaimedPciDevice(const ClaimedPciDevice&) = delete;
    ClaimedPciDevice& operator=(const ClaimedPciDevice&) = delete;
    PciAddress address() const { return bdf_; }

private:
    const IoreqServer& server_;
    PciAddress bdf_;
};

// The MMIO and port ranges currently claimed for the vGPU. Tracks exactly what
// Xen accepted, so releasing never cuts holes in a range we did not claim.
class TrapClaims {
public:
    explicit TrapClaims(const IoreqServer& server) : server_(server) {}
    ~TrapClaims() { release_all(); }
    TrapClaims(const TrapClaims&) = delete;
    TrapClaims& operator=(const TrapClaims&) = delete;

    // Make the claimed set equal `wanted`: release what vanished, then claim
    // what is new. A window Xen refuses (e.g. EEXIST because the guest made two
    // BARs overlap) is logged and left unclaimed; its accesses reach Xen's
    // other handlers, never us.
    void reconcile(std::span<const mediator::TrapWindow> wanted);
    void release_all();
    std::span<const mediator::TrapWindow> claimed() const { return claimed_; }
    uint64_t refused() const { return refused_; }

private:
    bool claim(const mediator::TrapWindow& w);
    void release(const mediator::TrapWindow& w);

    const IoreqServer& server_;
    std::vector<mediator::TrapWindow> claimed_;
    uint64_t refused_ = 0;
};

}  // namespace xengt::xen
