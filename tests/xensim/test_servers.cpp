// Ioreq server lifecycle, rangesets and the two ways to map the ioreq page.
#include <sys/mman.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/xensim/util.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

void* map_ioreq_frame(Handles& h, uint16_t domid, ioservid_t id,
                      xenforeignmemory_resource_handle** res, unsigned long frame = 1,
                      unsigned long nr = 1) {
    void* addr = nullptr;
    *res = xenforeignmemory_map_resource(h.fmem, domid, XENMEM_resource_ioreq_server, id, frame, nr,
                                         &addr, PROT_READ | PROT_WRITE, 0);
    return *res == nullptr ? nullptr : addr;
}

bool all_zero(const void* p, size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

}  // namespace

TEST_CASE("vp_eport appears in each vCPU slot only once the server is enabled", "[xensim][ioreq]") {
    Host host;
    DomainConfig cfg;
    cfg.vcpus = 2;
    const uint16_t domid = host.create_domain(cfg);
    Handles h;
    unsigned vcpus = 0;
    REQUIRE(xendevicemodel_nr_vcpus(h.dm, domid, &vcpus) == 0);
    CHECK(vcpus == 2);
    ioservid_t id = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == 0);
    xenforeignmemory_resource_handle* res = nullptr;
    auto* page = static_cast<ioreq_t*>(map_ioreq_frame(h, domid, id, &res));
    REQUIRE(page != nullptr);
    CHECK(host.status(domid).dom0_mappings == 1);

    CHECK(all_zero(page, 4096));
    REQUIRE(xendevicemodel_set_ioreq_server_state(h.dm, domid, id, 1) == 0);
    CHECK(page[0].vp_eport != 0);
    CHECK(page[1].vp_eport != 0);
    CHECK(page[0].vp_eport != page[1].vp_eport);
    CHECK(all_zero(page + 2, 4096 - 2 * sizeof(ioreq_t)));

    REQUIRE(xenforeignmemory_unmap_resource(h.fmem, res) == 0);
    CHECK(host.status(domid).dom0_mappings == 0);
    REQUIRE(xendevicemodel_destroy_ioreq_server(h.dm, domid, id) == 0);
    CHECK(xendevicemodel_destroy_ioreq_server(h.dm, domid, id) == -1);
    CHECK(errno == ENOENT);
}

TEST_CASE("a domain takes at most 8 ioreq servers", "[xensim][ioreq]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Handles h;
    for (ioservid_t want = 0; want < 8; ++want) {
        ioservid_t id = 99;
        REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) ==
                0);
        CHECK(id == want);
    }
    ioservid_t id = 0;
    CHECK(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == -1);
    CHECK(errno == ENOSPC);
    CHECK(host.status(domid).ioreq_servers == 8);
    REQUIRE(xendevicemodel_destroy_ioreq_server(h.dm, domid, 3) == 0);
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == 0);
    CHECK(id == 3);  // the lowest free id, as Xen picks it
    CHECK(xendevicemodel_create_ioreq_server(h.dm, 42, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == -1);
    CHECK(errno == ESRCH);
}

TEST_CASE("io ranges follow Xen's rangeset rules", "[xensim][ioreq]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Handles h;
    ioservid_t a = 0, b = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &a) == 0);
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &b) == 0);
    auto map = [&](ioservid_t id, uint64_t s, uint64_t e) {
        errno = 0;
        return xendevicemodel_map_io_range_to_ioreq_server(h.dm, domid, id, 1, s, e) == 0 ? 0
                                                                                          : errno;
    };
    auto unmap = [&](ioservid_t id, uint64_t s, uint64_t e) {
        errno = 0;
        return xendevicemodel_unmap_io_range_from_ioreq_server(h.dm, domid, id, 1, s, e) == 0
                   ? 0
                   : errno;
    };

    CHECK(map(a, 0x1000, 0x1fff) == 0);
    CHECK(map(a, 0x1800, 0x27ff) == EEXIST);  // overlaps a range of this server
    CHECK(map(b, 0x1800, 0x27ff) == 0);       // another server may overlap
    CHECK(map(a, 0x2000, 0x2fff) == 0);       // adjacent: merges into [0x1000, 0x2fff]
    CHECK(map(a, 0x5, 0x4) == EINVAL);
    CHECK(unmap(a, 0x1800, 0x27ff) == 0);  // contained in the merged range: cuts a hole
    CHECK(unmap(a, 0x1000, 0x2fff) == ENOENT);
    CHECK(unmap(a, 0x1800, 0x1800) == ENOENT);
    CHECK(unmap(a, 0x1000, 0x17ff) == 0);
    CHECK(unmap(a, 0x2800, 0x2fff) == 0);
    CHECK(unmap(a, 0x2800, 0x2fff) == ENOENT);

    // 256 disjoint ranges per type; merging does not need a new one.
    for (uint64_t i = 0; i < 256; ++i) {
        REQUIRE(map(a, 0x100000 + i * 0x10, 0x100000 + i * 0x10 + 7) == 0);
    }
    CHECK(map(a, 0x900000, 0x900fff) == ENOSPC);
    CHECK(map(a, 0x100008, 0x10000f) == 0);         // joins two neighbours
    CHECK(unmap(a, 0x100002, 0x100003) == 0);       // back to 256 with a hole
    CHECK(unmap(a, 0x100034, 0x100035) == ENOMEM);  // a 257th piece is refused
    CHECK(unmap(a, 0x100030, 0x100031) == 0);       // trimming an end needs none
    CHECK(xendevicemodel_map_io_range_to_ioreq_server(h.dm, domid, 7, 1, 0, 1) == -1);
    CHECK(errno == ENOENT);
}

TEST_CASE("PCI devices are claimed per function by SBDF", "[xensim][ioreq]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Handles h;
    ioservid_t id = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == 0);
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(h.dm, domid, id, 0, 0, 32, 0) == -1);
    CHECK(errno == EINVAL);
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(h.dm, domid, id, 0, 0, 2, 8) == -1);
    CHECK(errno == EINVAL);
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(h.dm, domid, id, 0, 0, 2, 0) == 0);
    CHECK(xendevicemodel_map_pcidev_to_ioreq_server(h.dm, domid, id, 0, 0, 2, 0) == -1);
    CHECK(errno == EEXIST);
    CHECK(xendevicemodel_unmap_pcidev_from_ioreq_server(h.dm, domid, id, 0, 0, 2, 1) == -1);
    CHECK(errno == ENOENT);
    CHECK(xendevicemodel_unmap_pcidev_from_ioreq_server(h.dm, domid, id, 0, 0, 2, 0) == 0);
}

TEST_CASE("map_resource serves the ioreq page and, with a ring, the ring page", "[xensim][ioreq]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Handles h;
    size_t size = 0;
    REQUIRE(xenforeignmemory_resource_size(h.fmem, domid, XENMEM_resource_ioreq_server, 0, &size) ==
            0);
    CHECK(size == 2 * 4096);  // ring frame + one ioreq frame

    ioservid_t plain = 0, ring = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &plain) ==
            0);
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_ATOMIC, &ring) ==
            0);
    xenforeignmemory_resource_handle* res = nullptr;
    CHECK(map_ioreq_frame(h, domid, plain, &res, 0) == nullptr);
    CHECK(errno == ENOENT);  // no ring frame without a ring
    CHECK(map_ioreq_frame(h, domid, plain, &res, 2) == nullptr);
    CHECK(errno == EINVAL);
    CHECK(map_ioreq_frame(h, domid, plain, &res, 1, 2) == nullptr);
    CHECK(errno == EINVAL);
    CHECK(map_ioreq_frame(h, domid, 6, &res, 1) == nullptr);
    CHECK(errno == ENOENT);

    auto* both = static_cast<unsigned char*>(map_ioreq_frame(h, domid, ring, &res, 0, 2));
    REQUIRE(both != nullptr);
    evtchn_port_t buf_port = 0;
    REQUIRE(xendevicemodel_get_ioreq_server_info(h.dm, domid, ring, nullptr, nullptr, &buf_port) ==
            0);
    CHECK(buf_port != 0);
    REQUIRE(xendevicemodel_set_ioreq_server_state(h.dm, domid, ring, 1) == 0);
    const auto* ioreq_page = reinterpret_cast<const ioreq_t*>(both + 4096);
    CHECK(ioreq_page[0].vp_eport != 0);
    CHECK(ioreq_page[0].vp_eport != buf_port);
    CHECK(all_zero(both, 4096));  // 4.17 never posts to the ring for our accesses
    const int local = xenevtchn_bind_interdomain(h.xce, domid, buf_port);
    CHECK(local > 0);
    CHECK(host.status(domid).dom0_mappings == 2);
    REQUIRE(xenforeignmemory_unmap_resource(h.fmem, res) == 0);
}

TEST_CASE("without resource mapping the page comes through a legacy gfn", "[xensim][ioreq]") {
    HostOptions opts;
    opts.resource_mapping_supported = false;
    Host host(opts);
    const uint16_t domid = host.create_domain({});
    Handles h;
    ioservid_t id = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == 0);
    xenforeignmemory_resource_handle* res = nullptr;
    CHECK(map_ioreq_frame(h, domid, id, &res) == nullptr);
    CHECK(errno == EOPNOTSUPP);
    size_t size = 0;
    CHECK(xenforeignmemory_resource_size(h.fmem, domid, XENMEM_resource_ioreq_server, id, &size) ==
          -1);
    CHECK(errno == EOPNOTSUPP);

    xen_pfn_t gfn = 0;
    REQUIRE(xendevicemodel_get_ioreq_server_info(h.dm, domid, id, &gfn, nullptr, nullptr) == 0);
    CHECK(gfn >= 0xfeff0);
    CHECK(gfn < 0xfefff);
    auto* page = static_cast<ioreq_t*>(
        xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 1, &gfn, nullptr));
    REQUIRE(page != nullptr);
    CHECK(all_zero(page, 4096));

    host.options().resource_mapping_supported = true;
    CHECK(map_ioreq_frame(h, domid, id, &res) == nullptr);
    CHECK(errno == EPERM);  // gfns were handed out: no mixing

    REQUIRE(xendevicemodel_set_ioreq_server_state(h.dm, domid, id, 1) == 0);
    CHECK(page[0].vp_eport != 0);  // the existing mapping stays valid
    int err = 0;
    void* again = xenforeignmemory_map(h.fmem, domid, PROT_READ, 1, &gfn, &err);
    REQUIRE(again != nullptr);  // privcmd returns the address with per-page errors
    CHECK(err == -EINVAL);      // the gfn left the p2m
    REQUIRE(xenforeignmemory_unmap(h.fmem, again, 1) == 0);
    CHECK(xenforeignmemory_map(h.fmem, domid, PROT_READ, 1, &gfn, nullptr) == nullptr);
    CHECK(errno == EINVAL);

    REQUIRE(xenforeignmemory_unmap(h.fmem, page, 1) == 0);
    CHECK(xenforeignmemory_unmap(h.fmem, page, 1) == -1);
    CHECK(errno == EINVAL);
}

TEST_CASE("asking for gfns after map_resource is refused", "[xensim][ioreq]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Handles h;
    ioservid_t id = 0;
    REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == 0);
    // NULL gfn pointers keep the pages out of the p2m: map_resource still works.
    REQUIRE(xendevicemodel_get_ioreq_server_info(h.dm, domid, id, nullptr, nullptr, nullptr) == 0);
    xenforeignmemory_resource_handle* res = nullptr;
    REQUIRE(map_ioreq_frame(h, domid, id, &res) != nullptr);
    xen_pfn_t gfn = 0;
    CHECK(xendevicemodel_get_ioreq_server_info(h.dm, domid, id, &gfn, nullptr, nullptr) == -1);
    CHECK(errno == EPERM);
    REQUIRE(xenforeignmemory_unmap_resource(h.fmem, res) == 0);
}

TEST_CASE("foreign maps alias guest RAM and report holes per page", "[xensim][memory]") {
    Host host;
    DomainConfig cfg;
    cfg.ram_bytes = 1 << 20;
    const uint16_t domid = host.create_domain(cfg);
    Handles h;
    const xen_pfn_t gfns[3] = {7, 0x100000, 3};  // the middle one is no RAM
    int err[3] = {1, 1, 1};
    auto* va = static_cast<unsigned char*>(
        xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 3, gfns, err));
    REQUIRE(va != nullptr);
    CHECK(err[0] == 0);
    CHECK(err[1] == -EINVAL);
    CHECK(err[2] == 0);
    CHECK(host.status(domid).dom0_mappings == 2);
    std::memcpy(va + 2 * 4096 + 5, "xyz", 3);

    auto* whole = static_cast<unsigned char*>(
        xenforeignmemory_map(h.fmem, domid, PROT_READ, 1, &gfns[2], nullptr));
    REQUIRE(whole != nullptr);
    CHECK(std::memcmp(whole + 5, "xyz", 3) == 0);  // the same frame
    CHECK(xenforeignmemory_map(h.fmem, domid, PROT_READ, 3, gfns, nullptr) == nullptr);
    CHECK(errno == EINVAL);
    CHECK(xenforeignmemory_map(h.fmem, 99, PROT_READ, 1, gfns, nullptr) == nullptr);
    CHECK(errno == ESRCH);
    REQUIRE(xenforeignmemory_unmap(h.fmem, whole, 1) == 0);
    REQUIRE(xenforeignmemory_unmap(h.fmem, va, 3) == 0);
    CHECK(host.status(domid).dom0_mappings == 0);
}
