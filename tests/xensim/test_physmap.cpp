// The physmap beyond boot RAM: populating frames under max_pages, giving them
// back, moving them, and tracking which ones the guest dirtied.
#include <sys/mman.h>

#include <array>
#include <catch2/catch.hpp>
#include <cstring>
#include <vector>

#include "tests/xensim/responder.hpp"
#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kHigh = 0x7fff800;  // just below 512 GiB
constexpr uint64_t kBar = 0xd0800;     // a gfn in the MMIO hole

struct Xc {
    xc_interface* xch = xc_interface_open(nullptr, nullptr, 0);
    Xc() = default;
    Xc(const Xc&) = delete;
    Xc& operator=(const Xc&) = delete;
    ~Xc() { xc_interface_close(xch); }
};

std::vector<xen_pfn_t> range(uint64_t first, size_t n) {
    std::vector<xen_pfn_t> v(n);
    for (size_t i = 0; i < n; ++i) {
        v[i] = first + i;
    }
    return v;
}

int populate(Xc& xc, uint16_t domid, std::vector<xen_pfn_t> gfns) {
    return xc_domain_populate_physmap_exact(xc.xch, domid, gfns.size(), 0, 0, gfns.data());
}

int err_of(int rc) {
    return rc == 0 ? 0 : errno;
}

DomainConfig pages(uint64_t n) {
    DomainConfig c;
    c.ram_bytes = n * kPage;
    return c;
}

}  // namespace

TEST_CASE("populate adds RAM up to max_pages, and setmaxmem moves the limit", "[xensim][physmap]") {
    Host host;
    Xc xc;
    const uint16_t domid = host.create_domain(pages(64));
    CHECK(host.status(domid).max_pages == 64);
    CHECK(host.status(domid).tot_pages == 64);
    CHECK(err_of(populate(xc, domid, range(kHigh, 1))) == EBUSY);    // no room: libxc says EBUSY
    REQUIRE(xc_domain_setmaxmem(xc.xch, domid, (64 + 2) * 4) == 0);  // KiB
    xc_domaininfo_t info{};
    REQUIRE(xc_domain_getinfolist(xc.xch, domid, 1, &info) == 1);
    CHECK(info.max_pages == 66);
    // Three asked, room for two: the first two stay populated, the call fails.
    CHECK(err_of(populate(xc, domid, range(kHigh, 3))) == EBUSY);
    CHECK(host.status(domid).tot_pages == 66);
    CHECK(host.machine_frame(domid, kHigh));
    CHECK(host.machine_frame(domid, kHigh + 1));
    CHECK_FALSE(host.machine_frame(domid, kHigh + 2));
    REQUIRE(xc_domain_getinfolist(xc.xch, domid, 1, &info) == 1);
    CHECK(info.tot_pages == 66);

    // Lowering the limit below usage is allowed; allocation then stops.
    CHECK(xc_domain_setmaxmem(xc.xch, domid, 4) == 0);
    CHECK(err_of(populate(xc, domid, range(kHigh + 2, 1))) == EBUSY);
    CHECK(err_of(xc_domain_setmaxmem(xc.xch, 77, 4)) == ESRCH);

    std::vector<xen_pfn_t> one{kHigh + 5};
    CHECK(err_of(xc_domain_populate_physmap_exact(xc.xch, domid, 1, 9, 0, one.data())) == EINVAL);
    CHECK(err_of(xc_domain_populate_physmap_exact(xc.xch, domid, 1, 0, 1, one.data())) == EINVAL);
    CHECK(err_of(populate(xc, 77, one)) == ESRCH);
    CHECK(populate(xc, domid, {}) == 0);
}

TEST_CASE("populated frames are RAM to the guest even inside a claimed MMIO range",
          "[xensim][physmap]") {
    Host host;
    Xc xc;
    uint64_t got = 0, hole = 0;
    DomainConfig cfg = pages(64);
    cfg.programs.push_back([&](GuestCpu& cpu) {
        cpu.write(kBar * kPage + 8, 8, 0x0123456789abcdef);
        got = cpu.read(kBar * kPage + 8, 8);
        hole = cpu.read((kBar + 1) * kPage, 4);  // not populated: MMIO, to the server
    });
    const uint16_t domid = host.create_domain(cfg);
    Responder::Config c;
    c.handler = [](const ioreq_t&) { return uint64_t{0x5a5a5a5a}; };
    Responder srv(domid, c);
    srv.claim_mmio(kBar * kPage, (kBar + 2) * kPage - 1);
    REQUIRE(xc_domain_setmaxmem(xc.xch, domid, 65 * 4) == 0);
    REQUIRE(populate(xc, domid, {kBar}) == 0);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(got == 0x0123456789abcdef);
    CHECK(hole == 0x5a5a5a5a);
    const auto served = srv.served();
    REQUIRE(served.size() == 1);
    CHECK(served[0].req.addr == (kBar + 1) * kPage);
}

TEST_CASE("the pool running dry makes populate fail; death returns every frame",
          "[xensim][physmap]") {
    HostOptions opts;
    opts.machine_memory_bytes = 66 * kPage;
    Host host(opts);
    Xc xc;
    const uint16_t domid = host.create_domain(pages(64));
    REQUIRE(xc_domain_setmaxmem(xc.xch, domid, 1024 * 4) == 0);
    CHECK(err_of(populate(xc, domid, range(kHigh, 3))) == EBUSY);
    CHECK(host.status(domid).tot_pages == 66);
    CHECK(host.machine_memory_free_frames() == 0);
    host.destroy_domain(domid);
    CHECK(host.machine_memory_free_frames() == 66);
}

TEST_CASE("populating over RAM replaces the page; the old frame stays the domain's",
          "[xensim][physmap]") {
    Host host;
    Xc xc;
    const uint16_t domid = host.create_domain(pages(64));
    REQUIRE(xc_domain_setmaxmem(xc.xch, domid, 65 * 4) == 0);
    const auto old = host.machine_frame(domid, 3);
    const uint64_t free_before = host.machine_memory_free_frames();
    REQUIRE(populate(xc, domid, {3}) == 0);
    CHECK(host.machine_frame(domid, 3) != old);
    CHECK(host.status(domid).tot_pages == 65);
    CHECK(host.machine_memory_free_frames() == free_before - 1);
    host.destroy_domain(domid);
    CHECK(host.machine_memory_free_frames() == host.machine_memory_frames());
}

TEST_CASE("decrease_reservation frees populated pages and stops at a hole", "[xensim][physmap]") {
    Host host;
    Xc xc;
    const uint16_t domid = host.create_domain(pages(64));
    REQUIRE(xc_domain_setmaxmem(xc.xch, domid, 70 * 4) == 0);
    REQUIRE(populate(xc, domid, range(kHigh, 4)) == 0);
    const uint64_t free_before = host.machine_memory_free_frames();
    auto two = range(kHigh, 2);
    REQUIRE(xc_domain_decrease_reservation_exact(xc.xch, domid, 2, 0, two.data()) == 0);
    CHECK(host.machine_memory_free_frames() == free_before + 2);
    CHECK(host.status(domid).tot_pages == 66);
    auto mixed = range(kHigh + 2, 3);  // the third was never populated
    CHECK(err_of(xc_domain_decrease_reservation_exact(xc.xch, domid, 3, 0, mixed.data())) ==
          EINVAL);
    CHECK(host.status(domid).tot_pages == 64);
    CHECK(err_of(xc_domain_decrease_reservation_exact(xc.xch, domid, 1, 0, nullptr)) == EINVAL);
}

TEST_CASE("relocate moves frames with their contents and dom0 mappings follow",
          "[xensim][physmap]") {
    Host host;
    Xc xc;
    Handles h;
    uint64_t seen = 0;
    DomainConfig cfg = pages(64);
    cfg.programs.push_back([&](GuestCpu& cpu) { seen = cpu.read((kBar + 1) * kPage, 8); });
    const uint16_t domid = host.create_domain(cfg);
    REQUIRE(xc_domain_setmaxmem(xc.xch, domid, 70 * 4) == 0);
    REQUIRE(populate(xc, domid, range(kHigh, 4)) == 0);
    auto gfns = range(kHigh, 4);
    auto* va = static_cast<std::byte*>(
        xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 4, gfns.data(), nullptr));
    REQUIRE(va != nullptr);
    const auto frame1 = host.machine_frame(domid, kHigh + 1);

    CHECK(err_of(xendevicemodel_relocate_memory(h.dm, domid, 4, kHigh + 10, kBar)) == EINVAL);
    CHECK(err_of(xendevicemodel_relocate_memory(h.dm, domid, 4, kHigh, 0)) == EEXIST);  // RAM there
    CHECK(err_of(xendevicemodel_relocate_memory(h.dm, domid, 4, kHigh, kHigh + 2)) == EEXIST);
    CHECK(xendevicemodel_relocate_memory(h.dm, domid, 0, 0, 0) == 0);
    REQUIRE(xendevicemodel_relocate_memory(h.dm, domid, 4, kHigh, kBar) == 0);
    CHECK(host.machine_frame(domid, kBar + 1) == frame1);
    CHECK_FALSE(host.machine_frame(domid, kHigh + 1));
    CHECK(host.status(domid).tot_pages == 68);
    std::memcpy(va + kPage, "followed", 8);  // the old mapping still reaches the frame
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(std::memcmp(&seen, "followed", 8) == 0);
    CHECK(xenforeignmemory_unmap(h.fmem, va, 4) == 0);
}

TEST_CASE("track_dirty_vram reports guest stores since the previous call", "[xensim][physmap]") {
    Host host;
    Handles h;
    std::array<unsigned long, 2> bits{};
    std::array<unsigned long, 2> after_writes{};
    std::array<int, 2> rc{-1, -1};
    DomainConfig cfg = pages(64);
    cfg.programs.push_back([&](GuestCpu& cpu) {
        cpu.write(0x11 * kPage, 4, 1);         // page 1 of the range
        cpu.write(0x19 * kPage + 4092, 8, 1);  // pages 9 and 10 (straddles)
        cpu.write(0x30 * kPage, 4, 1);         // outside
        rc[0] = xendevicemodel_track_dirty_vram(h.dm, cpu.domid(), 0x10, 12, after_writes.data());
        cpu.rep_stos_mmio(0x12 * kPage, 8, 2, 0);  // page 2
        rc[1] = xendevicemodel_track_dirty_vram(h.dm, cpu.domid(), 0x10, 12, bits.data());
    });
    const uint16_t domid = host.create_domain(cfg);
    // The first call for a range calls it all dirty: ceil(12 / 8) = 2 bytes.
    std::array<unsigned long, 2> first{};
    std::memset(first.data(), 0x33, sizeof first);
    REQUIRE(xendevicemodel_track_dirty_vram(h.dm, domid, 0x10, 12, first.data()) == 0);
    CHECK(first[0] == 0x333333333333ffffull);
    CHECK(first[1] == 0x3333333333333333ull);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(rc == std::array<int, 2>{0, 0});
    CHECK(after_writes[0] == ((1ul << 1) | (1ul << 9) | (1ul << 10)));
    CHECK(bits[0] == (1ul << 2));

    // dom0's own writes are not the guest's; nothing new since the last call.
    xen_pfn_t gfn = 0x13;
    void* va = xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 1, &gfn, nullptr);
    REQUIRE(va != nullptr);
    std::memset(va, 1, 8);
    xenforeignmemory_unmap(h.fmem, va, 1);
    bits = {};
    REQUIRE(xendevicemodel_track_dirty_vram(h.dm, domid, 0x10, 12, bits.data()) == 0);
    CHECK(bits[0] == 0);
    // Another range starts over; nr = 0 stops tracking, so the next call starts over too.
    REQUIRE(xendevicemodel_track_dirty_vram(h.dm, domid, 0x10, 8, bits.data()) == 0);
    CHECK((bits[0] & 0xff) == 0xff);
    REQUIRE(xendevicemodel_track_dirty_vram(h.dm, domid, 0x10, 8, bits.data()) == 0);
    CHECK((bits[0] & 0xff) == 0);
    REQUIRE(xendevicemodel_track_dirty_vram(h.dm, domid, 0, 0, nullptr) == 0);
    REQUIRE(xendevicemodel_track_dirty_vram(h.dm, domid, 0x10, 8, bits.data()) == 0);
    CHECK((bits[0] & 0xff) == 0xff);

    CHECK(err_of(xendevicemodel_track_dirty_vram(h.dm, domid, 0, (1u << 18) + 1, bits.data())) ==
          EINVAL);
    CHECK(err_of(xendevicemodel_track_dirty_vram(h.dm, domid, 0x10, 8, nullptr)) == EFAULT);
    CHECK(err_of(xendevicemodel_track_dirty_vram(h.dm, 77, 0x10, 8, bits.data())) == ESRCH);
}

TEST_CASE("modified_memory is accepted and counted", "[xensim][physmap]") {
    Host host;
    Handles h;
    const uint16_t domid = host.create_domain(pages(64));
    CHECK(xendevicemodel_modified_memory(h.dm, domid, 3, 2) == 0);
    CHECK(xendevicemodel_modified_memory(h.dm, domid, 5, 1) == 0);
    CHECK(host.status(domid).modified_memory_pages == 3);
    CHECK(err_of(xendevicemodel_modified_memory(h.dm, 77, 0, 1)) == ESRCH);
}
