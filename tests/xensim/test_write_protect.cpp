// Write-protected guest pages (HVMMEM_ioreq_server): claiming the type,
// setting it per page, and what guest stores into such pages turn into.
#include <sys/mman.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>

#include "tests/xensim/responder.hpp"
#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kPt = 0x20;    // the write-protected page (gfn)
constexpr uint64_t kNext = 0x21;  // its neighbour, ordinary RAM
constexpr uint32_t kWrite = XEN_DMOP_IOREQ_MEM_ACCESS_WRITE;

Responder::Config quiet() {
    Responder::Config c;
    c.handler = [](const ioreq_t&) { return uint64_t{0}; };
    return c;
}

int protect(Responder& r, uint64_t gfn, uint32_t nr = 1) {
    return xendevicemodel_set_mem_type(r.dm(), r.domid(), HVMMEM_ioreq_server, gfn, nr);
}

int unprotect(Responder& r, uint64_t gfn, uint32_t nr = 1) {
    return xendevicemodel_set_mem_type(r.dm(), r.domid(), HVMMEM_ram_rw, gfn, nr);
}

int claim(Responder& r, uint32_t flags = kWrite) {
    return xendevicemodel_map_mem_type_to_ioreq_server(r.dm(), r.domid(), r.id(),
                                                       HVMMEM_ioreq_server, flags);
}

// errno of a failed call, 0 on success.
int err_of(int rc) {
    return rc == 0 ? 0 : errno;
}

uint64_t read_u64(GuestCpu& cpu, uint64_t gpa) {
    uint64_t v = 0;
    cpu.ram_read(gpa, std::as_writable_bytes(std::span(&v, 1)));
    return v;
}

}  // namespace

TEST_CASE("the ioreq_server type is claimed by one server, for writes only", "[xensim][wp]") {
    Host host;
    const uint16_t domid = host.create_domain({});
    Responder a(domid, quiet());
    Responder b(domid, quiet());
    CHECK(err_of(claim(a, XEN_DMOP_IOREQ_MEM_ACCESS_READ)) == EINVAL);
    CHECK(err_of(claim(a, kWrite | XEN_DMOP_IOREQ_MEM_ACCESS_READ)) == EINVAL);
    CHECK(err_of(xendevicemodel_map_mem_type_to_ioreq_server(a.dm(), domid, a.id(), HVMMEM_ram_rw,
                                                             kWrite)) == EINVAL);
    CHECK(err_of(xendevicemodel_map_mem_type_to_ioreq_server(a.dm(), domid, 7, HVMMEM_ioreq_server,
                                                             kWrite)) == ENOENT);
    CHECK(err_of(claim(a, 0)) == EINVAL);  // nothing to unclaim
    REQUIRE(claim(a) == 0);
    CHECK(host.status(domid).write_protect_server == a.id());
    CHECK(err_of(claim(b)) == EBUSY);
    CHECK(err_of(claim(a)) == EBUSY);      // not even twice by the owner
    CHECK(err_of(claim(b, 0)) == EINVAL);  // only the owner unclaims
    REQUIRE(protect(a, kPt, 2) == 0);
    CHECK(host.status(domid).write_protected_pages == 2);
    REQUIRE(claim(a, 0) == 0);  // unclaiming resets the pages to ram_rw
    CHECK(host.status(domid).write_protected_pages == 0);
    CHECK_FALSE(host.status(domid).write_protect_server);
    CHECK(claim(b) == 0);
    CHECK(err_of(xendevicemodel_map_mem_type_to_ioreq_server(
              a.dm(), 99, a.id(), HVMMEM_ioreq_server, kWrite)) == ESRCH);
}

TEST_CASE("set_mem_type changes only RAM between ram_rw and ioreq_server", "[xensim][wp]") {
    Host host;
    const uint16_t domid = host.create_domain({});  // 64 MiB: gfns 0..0x3fff
    Responder r(domid, quiet());
    CHECK(err_of(protect(r, kPt)) == EINVAL);  // type not claimed
    REQUIRE(claim(r) == 0);
    CHECK(err_of(protect(r, kPt, 0)) == EINVAL);
    CHECK(err_of(protect(r, 0x100000)) == EINVAL);  // beyond the highest gfn ever mapped
    CHECK(err_of(protect(r, 0x8000)) == EINVAL);    // a hole below it
    CHECK(err_of(xendevicemodel_set_mem_type(r.dm(), domid, HVMMEM_unused, kPt, 1)) == EINVAL);
    CHECK(err_of(xendevicemodel_set_mem_type(r.dm(), domid, static_cast<hvmmem_type_t>(5), kPt,
                                             1)) == EINVAL);
    CHECK(err_of(xendevicemodel_set_mem_type(r.dm(), domid, HVMMEM_ram_ro, kPt, 1)) == EOPNOTSUPP);
    REQUIRE(protect(r, kPt) == 0);
    CHECK(err_of(protect(r, kPt)) == EINVAL);  // ioreq_server -> ioreq_server
    CHECK(unprotect(r, kNext) == 0);           // ram_rw -> ram_rw is fine
    // Page by page: the last RAM page changes, then the hole stops the loop.
    CHECK(err_of(protect(r, 0x3fff, 2)) == EINVAL);
    CHECK(host.status(domid).write_protected_pages == 2);
    CHECK(unprotect(r, kPt) == 0);
    CHECK(unprotect(r, 0x3fff) == 0);
    CHECK(host.status(domid).write_protected_pages == 0);
}

TEST_CASE("without HAP the ioreq_server type is unavailable", "[xensim][wp]") {
    Host host;
    DomainConfig cfg;
    cfg.hap = false;
    const uint16_t domid = host.create_domain(cfg);
    Responder r(domid, quiet());
    CHECK(err_of(claim(r)) == EOPNOTSUPP);
    CHECK(err_of(protect(r, kPt)) == EOPNOTSUPP);
    CHECK(unprotect(r, kPt) == 0);
}

TEST_CASE("stores into a protected page go to the claimer; loads read RAM", "[xensim][wp]") {
    Host host;
    std::unique_ptr<Responder> srv;
    uint64_t before = 0, after = 0, committed = 0, neighbour = 0;
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        before = cpu.read(kPt * kPage + 0x10, 8);
        cpu.write(kPt * kPage + 0x10, 8, 0x1111222233334444);  // one 8-byte ioreq
        after = cpu.read(kPt * kPage + 0x10, 8);               // unchanged: nobody stored it
        cpu.write(kPt * kPage + 0x20, 4, 0xc0ffee);            // the server commits this one
        committed = cpu.read(kPt * kPage + 0x20, 4);
        cpu.write(kNext * kPage - 4, 8, 0x5555666677778888);  // straddles: 4 trapped, 4 direct
        neighbour = read_u64(cpu, kNext * kPage);
        cpu.write(kNext * kPage - 3, 4, 0xaabbccdd);  // 3 bytes in the page: 2 + 1
        const std::array<uint8_t, 20> twenty{};
        cpu.ram_write(kPt * kPage + 0x100, std::as_bytes(std::span(twenty)));  // 8 + 8 + 4
        cpu.rep_stos_mmio(kPt * kPage + 0x200, 4, 3, 0x77);  // one ioreq per element
    });
    const uint16_t domid = host.create_domain(cfg);
    Handles h;
    Responder::Config c;
    c.handler = [&](const ioreq_t& r) -> uint64_t {
        if (r.addr == kPt * kPage + 0x20) {  // store it, as a device model would
            xen_pfn_t gfn = kPt;
            auto* va = static_cast<std::byte*>(
                xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 1, &gfn, nullptr));
            std::memcpy(va + 0x20, &r.data, r.size);
            xenforeignmemory_unmap(h.fmem, va, 1);
        }
        return 0;
    };
    srv = std::make_unique<Responder>(domid, c);
    REQUIRE(claim(*srv) == 0);
    REQUIRE(protect(*srv, kPt) == 0);
    srv->write_guest(kPt * kPage + 0x10, "original", 8);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    INFO(host.status(domid).crash_reason);
    REQUIRE(host.status(domid).state == DomainState::Running);
    CHECK(before == after);
    CHECK(std::memcmp(&after, "original", 8) == 0);
    CHECK(committed == 0xc0ffee);
    CHECK(neighbour == 0x55556666);

    const auto served = srv->served();
    struct Want {
        uint64_t addr;
        uint32_t size;
        uint64_t data;
    };
    const Want want[] = {
        {kPt * kPage + 0x10, 8, 0x1111222233334444},
        {kPt * kPage + 0x20, 4, 0xc0ffee},
        {kNext * kPage - 4, 4, 0x77778888},
        {kNext * kPage - 3, 2, 0xccdd},
        {kNext * kPage - 1, 1, 0xbb},
        {kPt * kPage + 0x100, 8, 0},
        {kPt * kPage + 0x108, 8, 0},
        {kPt * kPage + 0x110, 4, 0},
        {kPt * kPage + 0x200, 4, 0x77},
        {kPt * kPage + 0x204, 4, 0x77},
        {kPt * kPage + 0x208, 4, 0x77},
    };
    REQUIRE(served.size() == std::size(want));
    for (size_t i = 0; i < served.size(); ++i) {
        INFO("request " << i);
        const ioreq_t& q = served[i].req;
        CHECK(q.type == IOREQ_TYPE_COPY);
        CHECK(q.dir == IOREQ_WRITE);
        CHECK(q.count == 1);
        CHECK(q.data_is_ptr == 0);
        CHECK(q.addr == want[i].addr);
        CHECK(q.size == want[i].size);
        CHECK(q.data == want[i].data);
    }
    CHECK(srv->error().empty());
}

TEST_CASE("unprotecting, unclaiming and destroying the claimer make stores direct again",
          "[xensim][wp]") {
    Host host;
    std::unique_ptr<Responder> a, b;
    std::array<uint64_t, 4> seen{};
    std::array<int, 7> rc{};  // dom0's calls between the guest's steps (checked afterwards)
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        const uint64_t at = kPt * kPage;
        cpu.write(at, 8, 1);  // trapped
        seen[0] = cpu.read(at, 8);
        rc[0] = unprotect(*a, kPt);
        cpu.write(at, 8, 2);
        seen[1] = cpu.read(at, 8);
        rc[1] = protect(*a, kPt);
        rc[2] = claim(*a, 0);  // leftovers become ram_rw
        cpu.write(at, 8, 3);
        seen[2] = cpu.read(at, 8);
        rc[3] = claim(*a);
        rc[4] = protect(*a, kPt);
        a.reset();  // destroying the claimer unclaims too
        rc[5] = claim(*b);
        rc[6] = protect(*b, kPt);
        cpu.write(at, 8, 4);  // now b's
        seen[3] = cpu.read(at, 8);
    });
    const uint16_t domid = host.create_domain(cfg);
    a = std::make_unique<Responder>(domid, quiet());
    b = std::make_unique<Responder>(domid, quiet());
    REQUIRE(claim(*a) == 0);
    REQUIRE(protect(*a, kPt) == 0);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    INFO(host.status(domid).crash_reason);
    CHECK(host.status(domid).state == DomainState::Running);
    CHECK(rc == std::array<int, 7>{});
    CHECK(seen == std::array<uint64_t, 4>{0, 2, 3, 3});
    const auto served = b->served();
    REQUIRE(served.size() == 1);
    CHECK(served[0].req.data == 4);
}

TEST_CASE("a disabled claimer's protected pages drop stores", "[xensim][wp]") {
    Host host;
    uint64_t seen = 1;
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        cpu.write(kPt * kPage, 8, 0xdead);
        seen = cpu.read(kPt * kPage, 8);
    });
    const uint16_t domid = host.create_domain(cfg);
    Responder::Config c = quiet();
    c.enable = false;
    Responder off(domid, c);
    REQUIRE(claim(off) == 0);
    REQUIRE(protect(off, kPt) == 0);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(host.status(domid).state == DomainState::Running);
    CHECK(seen == 0);
    CHECK(off.served().empty());
}

TEST_CASE("rep movs from RAM onto a protected page traps element by element", "[xensim][wp]") {
    Host host;
    std::unique_ptr<Responder> srv;
    DomainConfig cfg;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        const std::array<uint32_t, 3> src{10, 20, 30};
        cpu.ram_write(0x5000, std::as_bytes(std::span(src)));
        // The "device" side is RAM here, so this is a RAM-to-RAM copy.
        cpu.rep_movs_to_mmio(kPt * kPage + 0x40, 0x5000, 4, 3);
    });
    const uint16_t domid = host.create_domain(cfg);
    srv = std::make_unique<Responder>(domid, quiet());
    REQUIRE(claim(*srv) == 0);
    REQUIRE(protect(*srv, kPt) == 0);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    const auto served = srv->served();
    REQUIRE(served.size() == 3);
    for (uint32_t i = 0; i < 3; ++i) {
        CHECK(served[i].req.addr == kPt * kPage + 0x40 + 4 * i);
        CHECK(served[i].req.size == 4);
        CHECK(served[i].req.data == 10 * (i + 1));
    }
}
