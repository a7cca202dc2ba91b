// Requests an honest Xen would never send — or a compromised one might. Each
// is answered safely (reads all-ones, writes dropped), counted, and the very
// next ordinary request is still served.
#include <catch2/catch.hpp>

#include <vector>

#include "tests/xengt/harness.hpp"
#include "tools/guests/pci.hpp"
#include "tools/guests/probe.hpp"
#include "xengt/xen/xen_api.hpp"

using namespace xengt;

namespace {

constexpr uint64_t kBar0 = 0xd0000000;
constexpr uint64_t kPvinfo = kBar0 + 0x78000;
constexpr uint64_t kFence0 = kBar0 + 0x100000;
constexpr uint64_t kNotRam = 1ull << 40;  // far above the guest's 64 MiB

// Firmware's part: place BAR0 and turn on memory decode.
void enable_gpu(sim::GuestCpu& cpu) {
    guests::Bdf gpu{0, 2, 0};
    guests::pci_write(cpu, gpu, 0x10, 4, static_cast<uint32_t>(kBar0));
    guests::pci_write(cpu, gpu, 0x14, 4, 0);
    guests::pci_write(cpu, gpu, 0x04, 2, 0x2);
}

struct Outcome {
    uint64_t answer = 0;
    uint64_t next_read = 0;  // an ordinary access right after
    uint32_t fence_after = 0;
    uint8_t ram_after[16] = {};
};

// What the slot's `data` must hold afterwards. Xen reads it back only for
// direct reads; for pointer-mode requests it is the guest buffer's address and
// the server must leave it alone.
enum class Answer { AllOnes, Untouched };

struct Case {
    const char* rule;
    sim::RawIoreq req;
    Answer answer;
};

sim::RawIoreq mmio_read(uint64_t addr, uint32_t size, uint32_t count = 1) {
    sim::RawIoreq r;
    r.type = IOREQ_TYPE_COPY;
    r.addr = addr;
    r.size = size;
    r.count = count;
    r.dir_read = true;
    return r;
}

Outcome run_case(const sim::RawIoreq& req, xen::SessionStatus* status,
                 sim::DomainStatus* dom_status) {
    sim::Host host;
    Outcome out;
    sim::DomainConfig c;
    c.name = "hostile";
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        enable_gpu(cpu);
        cpu.write(kFence0, 4, 0x1000);
        out.answer = cpu.send_raw(req);
        out.next_read = cpu.read(kPvinfo, 8);
        out.fence_after = static_cast<uint32_t>(cpu.read(kFence0, 4));
        cpu.ram_read(0x3000, std::as_writable_bytes(std::span(out.ram_after)));
    });
    test::ServedGuest guest(host, std::move(c));
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    *dom_status = host.status(guest.domid());
    guest.stop();
    *status = guest.session().status();
    return out;
}

}  // namespace

TEST_CASE("hostile ioreqs are answered safely and serving continues", "[xengt][hostile]") {
    std::vector<Case> cases;
    {
        sim::RawIoreq r = mmio_read(kPvinfo, 4);
        r.type = 5;  // no such IOREQ_TYPE
        cases.push_back({"unknown type", r, Answer::AllOnes});
    }
    cases.push_back({"size 3", mmio_read(kPvinfo, 3), Answer::AllOnes});
    cases.push_back({"size 16", mmio_read(kPvinfo, 16), Answer::AllOnes});
    {
        sim::RawIoreq r = mmio_read(0xcfc, 8);
        r.type = IOREQ_TYPE_PIO;  // port I/O is at most 4 bytes wide
        cases.push_back({"8-byte port access", r, Answer::AllOnes});
    }
    {
        sim::RawIoreq r = mmio_read(uint64_t{0x10} << 32 | 0x100, 8);  // sbdf 00:02.0, reg 0x100
        r.type = IOREQ_TYPE_PCI_CONFIG;
        cases.push_back({"8-byte config access", r, Answer::AllOnes});
    }
    cases.push_back({"zero count", mmio_read(kPvinfo, 4, 0), Answer::AllOnes});
    {
        sim::RawIoreq r = mmio_read(kPvinfo, 8, 0xffffffffu);
        r.data_is_ptr = true;
        r.data = 0x3000;
        cases.push_back({"count overflowing a page (and 32 GiB in all)", r, Answer::Untouched});
    }
    {
        sim::RawIoreq r = mmio_read(kPvinfo, 4, 2);
        r.data_is_ptr = true;
        r.data = kNotRam;
        cases.push_back({"read into memory the guest does not have", r, Answer::Untouched});
    }
    {
        sim::RawIoreq r = mmio_read(kFence0, 4, 1);
        r.dir_read = false;
        r.data_is_ptr = true;
        r.data = kNotRam;
        cases.push_back({"write from memory the guest does not have", r, Answer::Untouched});
    }
    {
        sim::RawIoreq r = mmio_read(~uint64_t{0} - 7, 8, 2);
        cases.push_back({"MMIO span wrapping the address space", r, Answer::AllOnes});
    }
    cases.push_back(
        {"MMIO at an unclaimed address", mmio_read(0x100000000000ull, 4), Answer::AllOnes});
    {
        sim::RawIoreq r = mmio_read(uint64_t{0x18} << 32 | 0x0, 4);  // 00:03.0, not ours
        r.type = IOREQ_TYPE_PCI_CONFIG;
        cases.push_back({"config cycle for another device", r, Answer::AllOnes});
    }
    {
        sim::RawIoreq r = mmio_read(uint64_t{0x10} << 32 | 0x1000, 4);
        r.type = IOREQ_TYPE_PCI_CONFIG;
        cases.push_back({"config register beyond 0xfff", r, Answer::AllOnes});
    }
    {
        sim::RawIoreq r = mmio_read(0xd000, 4);
        r.type = IOREQ_TYPE_PIO;
        cases.push_back({"port nobody decodes", r, Answer::AllOnes});
    }

    for (const Case& k : cases) {
        DYNAMIC_SECTION(k.rule) {
            xen::SessionStatus s;
            sim::DomainStatus d;
            Outcome o = run_case(k.req, &s, &d);
            INFO("rule: " << k.rule);
            if (k.answer == Answer::AllOnes) {
                CHECK((o.answer & 0xffffffffu) == 0xffffffffu);
            } else {
                CHECK(o.answer == k.req.data);
            }
            CHECK(o.next_read == guests::kPvinfoMagic);  // still serving
            CHECK(o.fence_after == 0x1000);              // nothing written by the bad request
            for (uint8_t b : o.ram_after) {
                CHECK(b == 0);  // the guest's RAM untouched
            }
            CHECK(s.dispatch.hostile + s.dispatch.unclaimed + s.vgpu.rejected + s.vgpu.unclaimed >=
                  1);
            CHECK(d.crash_reason.empty());
        }
    }
}

TEST_CASE("INVALIDATE drops every cached guest mapping", "[xengt][hostile]") {
    sim::Host host;
    sim::DomainConfig c;
    c.name = "balloon";
    bool ok = false;
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        enable_gpu(cpu);
        // Make the server map a RAM page (pointer-mode copy), then give it back.
        cpu.rep_movs_from_mmio(0x5000, kPvinfo, 4, 2);
        cpu.release_ram_page(0x5);
        ok = cpu.read(kPvinfo, 8) == guests::kPvinfoMagic;
    });
    test::ServedGuest guest(host, std::move(c));
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    guest.stop();
    xen::SessionStatus s = guest.session().status();
    CHECK(ok);
    CHECK(s.dispatch.invalidate == 1);
    CHECK(s.guest_pages_mapped == 0);
    CHECK(host.status(guest.domid()).dom0_mappings == 1);  // just the ioreq page
}

TEST_CASE("a flood of bad requests is logged at a bounded rate", "[xengt][hostile]") {
    std::atomic<unsigned> lines{0};
    LogSink old = set_log_sink([&](LogLevel level, std::string_view, std::string_view) {
        if (level == LogLevel::Warn) {
            ++lines;
        }
    });
    sim::Host host;
    sim::DomainConfig c;
    c.name = "flood";
    auto started = std::chrono::steady_clock::now();
    c.programs.push_back([&](sim::GuestCpu& cpu) {
        for (int i = 0; i < 2000; ++i) {
            cpu.send_raw(mmio_read(kPvinfo, 3));
        }
    });
    test::ServedGuest guest(host, std::move(c));
    guest.start();
    REQUIRE(host.wait_programs_finished(guest.domid()));
    guest.stop();
    auto seconds =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
            .count();
    set_log_sink(std::move(old));
    CHECK(guest.session().status().dispatch.hostile == 2000);
    // 20 at once, then one a second.
    CHECK(lines.load() <= 20 + static_cast<unsigned>(seconds) + 1);
}
