// libxendevicemodel: each call is one dm_op against the simulated hypervisor.
#include "tools/xensim/c_entry.hpp"
#include "tools/xensim/dm_entry.hpp"
#include "tools/xensim/state.hpp"

using namespace xengt::sim::detail;

namespace {

uint64_t pci_sbdf(uint16_t segment, uint8_t bus, uint8_t device, uint8_t function) {
    return uint64_t{segment} << 16 | uint64_t{bus} << 8 | uint64_t{device} << 3 | function;
}

}  // namespace

extern "C" xendevicemodel_handle* xendevicemodel_open(struct xentoollog_logger*, unsigned int) {
    return c_entry<xendevicemodel_handle*>(nullptr, []() -> xendevicemodel_handle* {
        auto state = installed_state();
        if (!state) {
            errno = ENODEV;
            return nullptr;
        }
        auto* h = new xendevicemodel_handle;
        h->state = state;
        return h;
    });
}

extern "C" int xendevicemodel_close(xendevicemodel_handle* dmod) {
    delete dmod;
    return 0;
}

extern "C" int xendevicemodel_nr_vcpus(xendevicemodel_handle* dmod, domid_t domid,
                                       unsigned int* vcpus) {
    return dm_op(dmod, domid, [&](State&, Domain& d) {
        *vcpus = static_cast<unsigned>(d.vcpus.size());
        return 0;
    });
}

extern "C" int xendevicemodel_create_ioreq_server(xendevicemodel_handle* dmod, domid_t domid,
                                                  int handle_bufioreq, ioservid_t* id) {
    return dm_op(dmod, domid, [&](State& s, Domain& d) {
        return ioreq_server_create(s, d, handle_bufioreq, id);
    });
}

extern "C" int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle* dmod, domid_t domid,
                                                    ioservid_t id, xen_pfn_t* ioreq_gfn,
                                                    xen_pfn_t* bufioreq_gfn,
                                                    evtchn_port_t* bufioreq_port) {
    return server_op(dmod, domid, id, [&](State& s, Domain& d, IoreqServer& srv) {
        // Asking for either gfn makes Xen place both pages in the p2m.
        if (ioreq_gfn != nullptr || bufioreq_gfn != nullptr) {
            if (int err = ioreq_server_legacy_gfns(d, srv)) {
                return err;
            }
            s.changed();
        }
        if (ioreq_gfn != nullptr) {
            *ioreq_gfn = *srv.ioreq_gfn;
        }
        // libxendevicemodel copies out whatever Xen left in the zeroed op.
        if (bufioreq_gfn != nullptr) {
            *bufioreq_gfn = srv.buf_gfn.value_or(0);
        }
        if (bufioreq_port != nullptr) {
            *bufioreq_port = srv.has_ring() ? srv.buf_port : 0;
        }
        return 0;
    });
}

extern "C" int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle* dmod, domid_t domid,
                                                     ioservid_t id, int enabled) {
    return server_op(dmod, domid, id, [&](State& s, Domain& d, IoreqServer& srv) {
        return ioreq_server_set_enabled(s, d, srv, enabled != 0);
    });
}

extern "C" int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle* dmod, domid_t domid,
                                                   ioservid_t id) {
    return server_op(dmod, domid, id, [&](State& s, Domain& d, IoreqServer&) {
        ioreq_server_destroy(s, d, id);
        return 0;
    });
}

extern "C" int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle* dmod,
                                                           domid_t domid, ioservid_t id,
                                                           int is_mmio, uint64_t start,
                                                           uint64_t end) {
    return server_op(dmod, domid, id, [&](State& s, Domain&, IoreqServer& srv) {
        if (start > end) {
            return EINVAL;
        }
        int err =
            srv.ranges[is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT].add(start, end);
        s.changed();
        return err;
    });
}

extern "C" int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle* dmod,
                                                               domid_t domid, ioservid_t id,
                                                               int is_mmio, uint64_t start,
                                                               uint64_t end) {
    return server_op(dmod, domid, id, [&](State& s, Domain&, IoreqServer& srv) {
        if (start > end) {
            return EINVAL;
        }
        int err = srv.ranges[is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT].remove(
            start, end);
        s.changed();
        return err;
    });
}

extern "C" int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle* dmod, domid_t domid,
                                                         ioservid_t id, uint16_t segment,
                                                         uint8_t bus, uint8_t device,
                                                         uint8_t function) {
    if (device > 0x1f || function > 0x7) {
        return fail(EINVAL);  // checked by the library before any hypercall
    }
    const uint64_t sbdf = pci_sbdf(segment, bus, device, function);
    return server_op(dmod, domid, id, [&](State& s, Domain&, IoreqServer& srv) {
        int err = srv.ranges[XEN_DMOP_IO_RANGE_PCI].add(sbdf, sbdf);
        s.changed();
        return err;
    });
}

extern "C" int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle* dmod,
                                                             domid_t domid, ioservid_t id,
                                                             uint16_t segment, uint8_t bus,
                                                             uint8_t device, uint8_t function) {
    if (device > 0x1f || function > 0x7) {
        return fail(EINVAL);
    }
    const uint64_t sbdf = pci_sbdf(segment, bus, device, function);
    return server_op(dmod, domid, id, [&](State& s, Domain&, IoreqServer& srv) {
        int err = srv.ranges[XEN_DMOP_IO_RANGE_PCI].remove(sbdf, sbdf);
        s.changed();
        return err;
    });
}

extern "C" int xendevicemodel_inject_msi(xendevicemodel_handle* dmod, domid_t domid,
                                         uint64_t msi_addr, uint32_t msi_data) {
    return dm_op(dmod, domid, [&](State& s, Domain& d) {
        d.msis.push_back(xengt::sim::MsiRecord{msi_addr, msi_data});
        s.changed();
        return 0;
    });
}
