// Event channels: /dev/xen/evtchn masking, latching and fd readability.
#include <sys/mman.h>

#include <atomic>
#include <catch2/catch.hpp>

#include "tests/xensim/responder.hpp"
#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

// A server with one claimed port and its ioreq page mapped, not yet bound.
struct BareServer {
    Handles h;
    uint16_t domid;
    ioservid_t id = 0;
    xenforeignmemory_resource_handle* res = nullptr;
    ioreq_t* slot = nullptr;

    explicit BareServer(uint16_t d) : domid(d) {
        REQUIRE(xendevicemodel_create_ioreq_server(h.dm, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &id) ==
                0);
        void* addr = nullptr;
        res = xenforeignmemory_map_resource(h.fmem, domid, XENMEM_resource_ioreq_server, id,
                                            XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
                                            PROT_READ | PROT_WRITE, 0);
        REQUIRE(res != nullptr);
        slot = static_cast<ioreq_t*>(addr);
        REQUIRE(xendevicemodel_map_io_range_to_ioreq_server(h.dm, domid, id, 0, 0x100, 0x103) == 0);
        REQUIRE(xendevicemodel_set_ioreq_server_state(h.dm, domid, id, 1) == 0);
    }
    ~BareServer() {
        xenforeignmemory_unmap_resource(h.fmem, res);
        xendevicemodel_destroy_ioreq_server(h.dm, domid, id);
    }
};

}  // namespace

TEST_CASE("bind raises one event, and a delivered port stays masked and latches until unmask",
          "[xensim][evtchn]") {
    Host host;
    std::atomic<uint32_t> got{0};
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) { got = cpu.in(0x100, 4); });
    const uint16_t domid = host.create_domain(cfg);
    BareServer srv(domid);
    const int fd = xenevtchn_fd(srv.h.xce);

    CHECK_FALSE(readable(fd));
    const int local = xenevtchn_bind_interdomain(srv.h.xce, domid, srv.slot->vp_eport);
    REQUIRE(local > 0);
    CHECK(static_cast<uint32_t>(local) != srv.slot->vp_eport);
    CHECK(readable(fd));  // Xen sets the new local port pending on every bind
    CHECK(xenevtchn_pending(srv.h.xce) == local);
    CHECK_FALSE(readable(fd));

    // Not unmasked yet: the guest's request latches instead of queuing.
    host.unpause(domid);
    REQUIRE(host.wait_until([&] { return slot_state(srv.slot) == STATE_IOREQ_READY; }));
    CHECK_FALSE(readable(fd));
    REQUIRE(xenevtchn_unmask(srv.h.xce, local) == 0);
    CHECK(readable(fd));
    CHECK(xenevtchn_pending(srv.h.xce) == local);
    REQUIRE(xenevtchn_unmask(srv.h.xce, local) == 0);
    CHECK_FALSE(readable(fd));  // one latched event fires once

    CHECK(srv.slot->type == IOREQ_TYPE_PIO);
    CHECK(srv.slot->addr == 0x100);
    srv.slot->data = 0x12345678;
    set_slot_state(srv.slot, STATE_IORESP_READY);
    REQUIRE(xenevtchn_notify(srv.h.xce, local) == 0);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(got == 0x12345678);
    CHECK(slot_state(srv.slot) == STATE_IOREQ_NONE);  // Xen consumed the response
    CHECK(host.status(domid).state == DomainState::Running);
}

TEST_CASE("a port whose peer is gone takes notify and unbind silently and never fires",
          "[xensim][evtchn]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    auto srv = std::make_unique<BareServer>(domid);
    xenevtchn_handle* xce = xenevtchn_open(nullptr, 0);
    const int local = xenevtchn_bind_interdomain(xce, domid, srv->slot->vp_eport);
    REQUIRE(local > 0);
    REQUIRE(xenevtchn_pending(xce) == local);
    REQUIRE(xenevtchn_unmask(xce, local) == 0);

    SECTION("server destroyed") {
        srv.reset();
    }
    SECTION("domain destroyed") {
        host.destroy_domain(domid);
    }

    CHECK(xenevtchn_notify(xce, local) == 0);
    CHECK(xenevtchn_unmask(xce, local) == 0);
    CHECK_FALSE(readable(xenevtchn_fd(xce)));
    CHECK(xenevtchn_unbind(xce, local) == 0);
    CHECK(xenevtchn_close(xce) == 0);
}

TEST_CASE("binding needs an unbound port offered to dom0", "[xensim][evtchn]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    BareServer srv(domid);
    xenevtchn_handle* xce = xenevtchn_open(nullptr, 0);
    xenevtchn_handle* other = xenevtchn_open(nullptr, 0);

    errno = 0;
    CHECK(xenevtchn_bind_interdomain(xce, domid, 999) == -1);
    CHECK(errno == EINVAL);
    CHECK(xenevtchn_bind_interdomain(xce, 77, srv.slot->vp_eport) == -1);
    CHECK(errno == ESRCH);

    const int local = xenevtchn_bind_interdomain(xce, domid, srv.slot->vp_eport);
    REQUIRE(local > 0);
    CHECK(xenevtchn_bind_interdomain(other, domid, srv.slot->vp_eport) == -1);
    CHECK(errno == EINVAL);  // already bound
    CHECK(xenevtchn_notify(other, local) == -1);
    CHECK(errno == ENOTCONN);  // not this handle's port
    CHECK(xenevtchn_unbind(other, local) == -1);
    CHECK(errno == ENOTCONN);

    REQUIRE(xenevtchn_unbind(xce, local) == 0);
    const int again = xenevtchn_bind_interdomain(other, domid, srv.slot->vp_eport);
    CHECK(again > 0);  // unbinding returned the Xen side to "unbound"
    xenevtchn_close(other);
    xenevtchn_close(xce);
}

TEST_CASE("pending without an event gives up after the wait limit", "[xensim][evtchn]") {
    HostOptions opts;
    opts.wait_limit = std::chrono::milliseconds(20);
    Host host(opts);
    xenevtchn_handle* xce = xenevtchn_open(nullptr, 0);
    errno = 0;
    CHECK(xenevtchn_pending(xce) == -1);
    CHECK(errno == EAGAIN);
    xenevtchn_close(xce);
}
