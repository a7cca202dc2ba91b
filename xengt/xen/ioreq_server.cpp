#include "xengt/xen/ioreq_server.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <string>

#include "mediator/base/log.hpp"
#include "xengt/xen/error.hpp"

namespace xengt::xen {
namespace {

std::string subject(uint16_t domid) {
    return "dom" + std::to_string(domid);
}

// Once Xen has reaped a dead domain's servers, teardown calls fail with ENOENT
// (domain dying) or ESRCH (domain gone); that is expected, anything else is
// worth an error line.
void log_teardown_failure(uint16_t domid, const char* what) {
    int err = errno;
    LogLevel level = (err == ESRCH || err == ENOENT) ? LogLevel::Debug : LogLevel::Error;
    XENGT_LOG(level, subject(domid), "%s failed: %s", what, std::strerror(err));
}

const char* space_name(mediator::TrapSpace s) {
    return s == mediator::TrapSpace::Mmio ? "MMIO" : "port";
}

}  // namespace

IoreqServer::IoreqServer(xendevicemodel_handle* dm, uint16_t domid) : dm_(dm), domid_(domid) {
    // No buffered ring: Xen 4.17 only buffers writes below 1 MiB (stdvga), which
    // never reach a GPU whose BARs live in the MMIO hole.
    if (xendevicemodel_create_ioreq_server(dm_, domid_, HVM_IOREQSRV_BUFIOREQ_OFF, &id_) != 0) {
        throw_errno(domid_, "create ioreq server (xendevicemodel_create_ioreq_server)");
    }
    XENGT_LOG(LogLevel::Info, subject(domid_), "ioreq server %u created", id_);
}

IoreqServer::~IoreqServer() {
    if (xendevicemodel_destroy_ioreq_server(dm_, domid_, id_) != 0) {
        if (errno == ENOENT || errno == ESRCH) {
            XENGT_LOG(LogLevel::Info, subject(domid_),
                      "ioreq server %u already destroyed by Xen with the domain", id_);
        } else {
            log_teardown_failure(domid_, "destroy ioreq server");
        }
    } else {
        XENGT_LOG(LogLevel::Info, subject(domid_), "ioreq server %u destroyed", id_);
    }
}

IoreqPage::IoreqPage(xenforeignmemory_handle* fmem, const IoreqServer& server) {
    void* addr = nullptr;
    xenforeignmemory_resource_handle* res = xenforeignmemory_map_resource(
        fmem, server.domid(), XENMEM_resource_ioreq_server, server.id(),
        XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr, PROT_READ | PROT_WRITE, 0);
    if (res != nullptr) {
        resource_ = ResourceMapping(fmem, res, addr);
        page_ = static_cast<shared_iopage_t*>(addr);
        path_ = Path::ResourceMapping;
        return;
    }
    if (errno != EOPNOTSUPP) {
        throw_errno(server.domid(), "map ioreq page (xenforeignmemory_map_resource)");
    }
    // The dom0 kernel predates IOCTL_PRIVCMD_MMAP_RESOURCE: have Xen place the
    // page in the guest's p2m and map it from there.
    xen_pfn_t gfn = 0;
    if (xendevicemodel_get_ioreq_server_info(server.dm(), server.domid(), server.id(), &gfn,
                                             nullptr, nullptr) != 0) {
        throw_errno(server.domid(), "get ioreq page gfn (xendevicemodel_get_ioreq_server_info)");
    }
    void* legacy =
        xenforeignmemory_map(fmem, server.domid(), PROT_READ | PROT_WRITE, 1, &gfn, nullptr);
    if (legacy == nullptr) {
        throw_errno(server.domid(),
                    "map ioreq page gfn " + std::to_string(gfn) + " (xenforeignmemory_map)");
    }
    legacy_ = ForeignMapping(fmem, legacy, 1);
    page_ = static_cast<shared_iopage_t*>(legacy);
    path_ = Path::LegacyGfn;
    XENGT_LOG(LogLevel::Info, subject(server.domid()),
              "kernel lacks resource mapping; ioreq page mapped through legacy gfn %#lx",
              static_cast<unsigned long>(gfn));
}

ServerEnabled::ServerEnabled(const IoreqServer& server) : server_(server) {
    if (xendevicemodel_set_ioreq_server_state(server.dm(), server.domid(), server.id(), 1) != 0) {
        throw_errno(server.domid(), "enable ioreq server (xendevicemodel_set_ioreq_server_state)");
    }
}

ServerEnabled::~ServerEnabled() {
    if (xendevicemodel_set_ioreq_server_state(server_.dm(), server_.domid(), server_.id(), 0) !=
        0) {
        log_teardown_failure(server_.domid(), "disable ioreq server");
    }
}

ClaimedPciDevice::ClaimedPciDevice(const IoreqServer& server, PciAddress bdf)
    : server_(server), bdf_(bdf) {
    if (xendevicemodel_map_pcidev_to_ioreq_server(server.dm(), server.domid(), server.id(),
                                                  bdf.segment, bdf.bus, bdf.device,
                                                  bdf.function) != 0) {
        throw_errno(server.domid(),
                    "claim PCI device " + bdf.to_string() + " (map_pcidev_to_ioreq_server)");
    }
    XENGT_LOG(LogLevel::Info, subject(server.domid()), "claimed PCI device %s",
              bdf.to_string().c_str());
}

ClaimedPciDevice::~ClaimedPciDevice() {
    if (xendevicemodel_unmap_pcidev_from_ioreq_server(server_.dm(), server_.domid(), server_.id(),
                                                      bdf_.segment, bdf_.bus, bdf_.device,
                                                      bdf_.function) != 0) {
        log_teardown_failure(server_.domid(), "release PCI device");
    }
}

bool TrapClaims::claim(const mediator::TrapWindow& w) {
    int is_mmio = w.space == mediator::TrapSpace::Mmio ? 1 : 0;
    if (xendevicemodel_map_io_range_to_ioreq_server(server_.dm(), server_.domid(), server_.id(),
                                                    is_mmio, w.first, w.last) != 0) {
        ++refused_;
        XENGT_LOG(LogLevel::Warn, subject(server_.domid()),
                  "cannot trap %s range [%#" PRIx64 ", %#" PRIx64 "]: %s%s", space_name(w.space),
                  w.first, w.last, std::strerror(errno),
                  errno == EEXIST ? " (overlaps another BAR of this vGPU)" : "");
        return false;
    }
    XENGT_LOG(LogLevel::Debug, subject(server_.domid()),
              "trapping %s range [%#" PRIx64 ", %#" PRIx64 "]", space_name(w.space), w.first,
              w.last);
    return true;
}

void TrapClaims::release(const mediator::TrapWindow& w) {
    int is_mmio = w.space == mediator::TrapSpace::Mmio ? 1 : 0;
    if (xendevicemodel_unmap_io_range_from_ioreq_server(server_.dm(), server_.domid(), server_.id(),
                                                        is_mmio, w.first, w.last) != 0) {
        log_teardown_failure(server_.domid(), "release trapped range");
    }
}

void TrapClaims::reconcile(std::span<const mediator::TrapWindow> wanted) {
    // Release first, so that a BAR moving onto the spot another one left can be claimed.
    std::erase_if(claimed_, [&](const mediator::TrapWindow& have) {
        if (std::find(wanted.begin(), wanted.end(), have) != wanted.end()) {
            return false;
        }
        release(have);
        return true;
    });
    for (const auto& w : wanted) {
        if (std::find(claimed_.begin(), claimed_.end(), w) == claimed_.end() && claim(w)) {
            claimed_.push_back(w);
        }
    }
}

void TrapClaims::release_all() {
    for (const auto& w : claimed_) {
        release(w);
    }
    claimed_.clear();
}

}  // namespace xengt::xen
