// Routing of guest accesses: round trips, CF8/CFC decoding, server selection,
// the null handler, string instructions and INVALIDATE.
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>

#include "tests/xensim/responder.hpp"
#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

constexpr uint64_t kMmio = 0xf0000000;

// Runs one guest program to completion on a fresh domain and returns its domid.
uint16_t run_guest(Host& host, GuestProgram program, const std::function<void(uint16_t)>& setup) {
    DomainConfig cfg;
    cfg.programs.push_back(std::move(program));
    const uint16_t domid = host.create_domain(cfg);
    setup(domid);
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    INFO(host.status(domid).crash_reason);
    CHECK(host.status(domid).state == DomainState::Running);
    return domid;
}

Responder::Config answering(uint64_t value) {
    Responder::Config c;
    c.handler = [value](const ioreq_t&) { return value; };
    return c;
}

}  // namespace

TEST_CASE("a PIO read and an MMIO write make full round trips", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> srv;
    uint32_t got = 0;
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            got = cpu.in(0x102, 2);
            cpu.write(kMmio + 0x10, 8, 0x1122334455667788);
        },
        [&](uint16_t domid) {
            srv = std::make_unique<Responder>(domid, answering(0xbeef1234));
            srv->claim_pio(0x100, 0x103);
            srv->claim_mmio(kMmio, kMmio + 0xfff);
        });
    CHECK(got == 0x1234);  // Xen keeps the low `size` bytes
    const auto served = srv->served();
    REQUIRE(served.size() == 2);
    const ioreq_t& pio = served[0].req;
    CHECK(pio.type == IOREQ_TYPE_PIO);
    CHECK(pio.addr == 0x102);
    CHECK(pio.size == 2);
    CHECK(pio.count == 1);
    CHECK(pio.dir == IOREQ_READ);
    CHECK(pio.data_is_ptr == 0);
    const ioreq_t& mmio = served[1].req;
    CHECK(mmio.type == IOREQ_TYPE_COPY);
    CHECK(mmio.addr == kMmio + 0x10);
    CHECK(mmio.size == 8);
    CHECK(mmio.dir == IOREQ_WRITE);
    CHECK(mmio.data == 0x1122334455667788);
    CHECK(srv->error().empty());
}

TEST_CASE("CF8/CFC cycles become PCI_CONFIG ioreqs for the claimed SBDF", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> srv;
    uint32_t sub = 0, unclaimed = 0;
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            cpu.out(0xcf8, 4, 0x80001810);  // 00:03.0, register 0x10
            sub = cpu.in(0xcfe, 2);         // -> register 0x12
            cpu.out(0xcfd, 1, 0x5a);        // -> register 0x11
            cpu.out(0xcf8, 4, 0x80002000);  // 00:04.0: nobody claims it
            unclaimed = cpu.in(0xcfc, 4);
            cpu.out(0xcf8, 4, 0x00001810);  // enable bit clear: plain port I/O
            cpu.in(0xcfc, 4);
        },
        [&](uint16_t domid) {
            srv = std::make_unique<Responder>(domid, answering(0xabcd));
            srv->claim_pci(0, 3, 0);
            srv->claim_pio(0xcfc, 0xcff);
        });
    CHECK(sub == 0xabcd);
    CHECK(unclaimed == 0xffffffff);  // a config cycle for an unclaimed SBDF never becomes PIO
    const auto served = srv->served();
    REQUIRE(served.size() == 3);
    const uint64_t sbdf = 3 << 3;
    CHECK(served[0].req.type == IOREQ_TYPE_PCI_CONFIG);
    CHECK(served[0].req.addr == (sbdf << 32 | 0x12));
    CHECK(served[0].req.size == 2);
    CHECK(served[0].req.dir == IOREQ_READ);
    CHECK(served[1].req.type == IOREQ_TYPE_PCI_CONFIG);
    CHECK(served[1].req.addr == (sbdf << 32 | 0x11));
    CHECK(served[1].req.dir == IOREQ_WRITE);
    CHECK(served[1].req.data == 0x5a);
    CHECK(served[2].req.type == IOREQ_TYPE_PIO);
    CHECK(served[2].req.addr == 0xcfc);
}

TEST_CASE("the newest server wins, and only for accesses it contains whole", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> older, newer;
    uint32_t wide = 0, narrow = 0;
    uint64_t mmio = 0;
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            wide = cpu.in(0x200, 4);    // 0x200..0x203 is not inside the newer claim
            narrow = cpu.in(0x200, 2);  // 0x200..0x201 is
            mmio = cpu.read(kMmio + 0x800, 4);
        },
        [&](uint16_t domid) {
            older = std::make_unique<Responder>(domid, answering(1));
            newer = std::make_unique<Responder>(domid, answering(2));
            older->claim_pio(0x200, 0x20f);
            newer->claim_pio(0x200, 0x201);
            older->claim_mmio(kMmio, kMmio + 0xfff);
            newer->claim_mmio(kMmio, kMmio + 0xfff);
        });
    CHECK(wide == 1);
    CHECK(narrow == 2);
    CHECK(mmio == 2);
}

TEST_CASE("the null handler reads all-ones and drops writes", "[xensim][routing]") {
    Host host;
    uint32_t port = 0;
    uint64_t mem = 0;
    std::array<std::byte, 12> buf{};
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            port = cpu.in(0x300, 2);
            mem = cpu.read(kMmio, 8);
            cpu.out(0x300, 4, 1);
            cpu.write(kMmio, 4, 1);
            cpu.rep_ins(0x1000, 0x300, 4, 3);
            cpu.rep_movs_to_mmio(kMmio, 0x1000, 4, 3);
            cpu.ram_read(0x1000, buf);
        },
        [](uint16_t) {});
    CHECK(port == 0xffff);
    CHECK(mem == ~uint64_t{0});
    for (std::byte b : buf) {
        CHECK(b == std::byte{0xff});
    }
}

TEST_CASE("rep movs from MMIO splits the device side at pages, never the RAM side",
          "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> srv;
    std::array<uint32_t, 6> ram{};
    const uint64_t buffer = 0x10ff0;  // the second ioreq's buffer crosses into page 0x11
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            cpu.rep_movs_from_mmio(buffer, kMmio + 0xff8, 4, 6);
            cpu.ram_read(buffer, std::as_writable_bytes(std::span(ram)));
        },
        [&](uint16_t domid) {
            Responder::Config c;
            // Runs only once the guest runs, after srv is set.
            c.handler = [&srv](const ioreq_t& r) -> uint64_t {
                for (uint32_t i = 0; i < r.count; ++i) {
                    const uint32_t v = static_cast<uint32_t>(r.addr + i * r.size);
                    srv->write_guest(r.data + i * r.size, &v, sizeof v);
                }
                return 0;
            };
            srv = std::make_unique<Responder>(domid, c);
            srv->claim_mmio(kMmio, kMmio + 0x1fff);
        });
    REQUIRE(srv->error().empty());
    const auto served = srv->served();
    REQUIRE(served.size() == 2);
    CHECK(served[0].req.addr == kMmio + 0xff8);
    CHECK(served[0].req.count == 2);
    CHECK(served[0].req.data == buffer);
    CHECK(served[1].req.addr == kMmio + 0x1000);
    CHECK(served[1].req.count == 4);
    CHECK(served[1].req.data == buffer + 8);
    for (const auto& s : served) {
        CHECK(s.req.type == IOREQ_TYPE_COPY);
        CHECK(s.req.data_is_ptr == 1);
        CHECK(s.req.dir == IOREQ_READ);
        CHECK(s.req.size == 4);
    }
    for (uint32_t i = 0; i < 6; ++i) {
        CHECK(ram[i] == static_cast<uint32_t>(kMmio + 0xff8 + i * 4));
    }
}

TEST_CASE("rep movs to MMIO with df walks down from the highest element", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> srv;
    run_guest(
        host, [&](GuestCpu& cpu) { cpu.rep_movs_to_mmio(kMmio + 0x1004, 0x2010, 4, 4, true); },
        [&](uint16_t domid) {
            srv = std::make_unique<Responder>(domid, answering(0));
            srv->claim_mmio(kMmio, kMmio + 0x1fff);
        });
    const auto served = srv->served();
    REQUIRE(served.size() == 2);
    CHECK(served[0].req.addr == kMmio + 0x1004);  // 0x1004, 0x1000
    CHECK(served[0].req.count == 2);
    CHECK(served[0].req.data == 0x2010);
    CHECK(served[1].req.addr == kMmio + 0xffc);  // 0xffc, 0xff8
    CHECK(served[1].req.count == 2);
    CHECK(served[1].req.data == 0x2008);
    for (const auto& s : served) {
        CHECK(s.req.df == 1);
        CHECK(s.req.dir == IOREQ_WRITE);
        CHECK(s.req.data_is_ptr == 1);
    }
}

TEST_CASE("rep stos and rep ins/outs keep their documented shapes", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> srv;
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            cpu.rep_stos_mmio(kMmio + 0xff0, 8, 5, 0xaa55);
            cpu.rep_outs(0x400, 0x3000, 2, 7);
            cpu.rep_ins(0x3000, 0x400, 2, 7);
        },
        [&](uint16_t domid) {
            srv = std::make_unique<Responder>(domid, answering(0));
            srv->claim_mmio(kMmio, kMmio + 0x1fff);
            srv->claim_pio(0x400, 0x401);
        });
    const auto served = srv->served();
    REQUIRE(served.size() == 4);
    CHECK(served[0].req.addr == kMmio + 0xff0);
    CHECK(served[0].req.count == 2);
    CHECK(served[1].req.addr == kMmio + 0x1000);
    CHECK(served[1].req.count == 3);
    for (int i = 0; i < 2; ++i) {
        CHECK(served[i].req.data_is_ptr == 0);
        CHECK(served[i].req.data == 0xaa55);
        CHECK(served[i].req.dir == IOREQ_WRITE);
    }
    for (int i = 2; i < 4; ++i) {
        CHECK(served[i].req.type == IOREQ_TYPE_PIO);
        CHECK(served[i].req.addr == 0x400);
        CHECK(served[i].req.count == 7);
        CHECK(served[i].req.data_is_ptr == 1);
        CHECK(served[i].req.data == 0x3000);
    }
    CHECK(served[2].req.dir == IOREQ_WRITE);
    CHECK(served[3].req.dir == IOREQ_READ);
}

TEST_CASE("releasing a RAM page sends INVALIDATE to every enabled server", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> a, b, off;
    const uint16_t domid = run_guest(
        host, [](GuestCpu& cpu) { cpu.release_ram_page(5); },
        [&](uint16_t d) {
            a = std::make_unique<Responder>(d, answering(0));
            Responder::Config disabled = answering(0);
            disabled.enable = false;
            off = std::make_unique<Responder>(d, disabled);
            b = std::make_unique<Responder>(d, answering(0));
        });
    for (Responder* r : {a.get(), b.get()}) {
        const auto served = r->served();
        REQUIRE(served.size() == 1);
        const ioreq_t& q = served[0].req;
        CHECK(q.type == IOREQ_TYPE_INVALIDATE);
        CHECK(q.size == 4);
        CHECK(q.count == 1);
        CHECK(q.data == ~uint64_t{0});
        CHECK(q.dir == IOREQ_WRITE);
        CHECK(served[0].vcpu == 0);
    }
    CHECK(off->served().empty());
    Handles h;
    xen_pfn_t gfn = 5;
    CHECK(xenforeignmemory_map(h.fmem, domid, PROT_READ, 1, &gfn, nullptr) == nullptr);
    CHECK(errno == EINVAL);
}

TEST_CASE("port 0xE9 is Xen's console and never reaches a server", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> srv;
    const uint16_t domid = run_guest(
        host,
        [](GuestCpu& cpu) {
            cpu.print("hello");
            cpu.out(0xe9, 1, '\x01');  // unprintable: dropped
            cpu.print("world");
        },
        [&](uint16_t d) {
            srv = std::make_unique<Responder>(d, answering(0));
            srv->claim_pio(0xe9, 0xe9);
        });
    CHECK(host.console(domid) == std::vector<std::string>{"hello", "world"});
    CHECK(srv->served().empty());
}

TEST_CASE("send_raw hands any ioreq to the newest enabled server unrouted", "[xensim][routing]") {
    Host host;
    std::unique_ptr<Responder> older, newer;
    uint64_t got = 0;
    bool outside_ram = false;
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            RawIoreq raw;
            raw.type = 42;
            raw.addr = 0x1234;
            raw.size = 3;
            raw.count = 0;
            got = cpu.send_raw(raw);
            std::array<std::byte, 4> b{};
            try {
                cpu.ram_read((64ull << 20) - 2, b);
            } catch (const std::out_of_range&) {
                outside_ram = true;
            }
        },
        [&](uint16_t d) {
            older = std::make_unique<Responder>(d, answering(1));
            newer = std::make_unique<Responder>(d, answering(0x55));
        });
    CHECK(got == 0x55);
    CHECK(outside_ram);
    CHECK(older->served().empty());
    const auto served = newer->served();
    REQUIRE(served.size() == 1);
    CHECK(served[0].req.type == 42);
    CHECK(served[0].req.size == 3);
    CHECK(served[0].req.count == 0);

    bool refused = false;
    run_guest(
        host,
        [&](GuestCpu& cpu) {
            try {
                cpu.send_raw(RawIoreq{});
            } catch (const std::runtime_error&) {
                refused = true;  // no enabled server in this domain
            }
        },
        [](uint16_t) {});
    CHECK(refused);
}
