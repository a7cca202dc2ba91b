// Machine memory: guest RAM is scattered frames of the host's pool, reached
// identically by the guest, by dom0's foreign mappings and by machine frame.
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/xensim/util.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt::sim;
using namespace xensim_test;

namespace {

constexpr uint64_t kPage = 4096;

constexpr auto kLimit = std::chrono::seconds(10);

std::string pool_bytes(const Host& host, uint64_t frame, uint64_t off, size_t len) {
    std::string out(len, '\0');
    const auto n =
        pread(host.machine_memory_fd(), out.data(), len, static_cast<off_t>(frame * kPage + off));
    REQUIRE(n == static_cast<ssize_t>(len));
    return out;
}

DomainConfig small_guest(uint64_t pages) {
    DomainConfig cfg;
    cfg.ram_bytes = pages * kPage;
    return cfg;
}

}  // namespace

TEST_CASE("guest RAM frames are scattered, unique and stable", "[xensim][memory]") {
    Host host;
    const uint64_t total = host.machine_memory_frames();
    CHECK(total == (1ull << 30) / kPage);
    CHECK(host.machine_memory_free_frames() == total);
    const uint16_t a = host.create_domain(small_guest(256));
    const uint16_t b = host.create_domain(small_guest(256));
    CHECK(host.machine_memory_free_frames() == total - 512);

    std::set<uint64_t> seen;
    for (uint16_t domid : {a, b}) {
        std::vector<uint64_t> frames;
        for (uint64_t gfn = 0; gfn < 256; ++gfn) {
            const auto f = host.machine_frame(domid, gfn);
            REQUIRE(f);
            CHECK(*f < total);
            CHECK(host.machine_frame(domid, gfn) == f);  // stable
            frames.push_back(*f);
            seen.insert(*f);
        }
        unsigned adjacent = 0;
        for (size_t i = 1; i < frames.size(); ++i) {
            adjacent += frames[i] == frames[i - 1] + 1 ? 1 : 0;
        }
        CHECK(adjacent < 8);                              // code assuming contiguity must break
        CHECK_FALSE(host.machine_frame(domid, 256));      // beyond RAM
        CHECK_FALSE(host.machine_frame(domid, 0xfeff0));  // not RAM
    }
    CHECK(seen.size() == 512);  // no frame shared, within or across domains
    CHECK_FALSE(host.machine_frame(99, 0));
}

TEST_CASE("guest, dom0 mappings and the machine frame see the same bytes", "[xensim][memory]") {
    Host host;
    // Hand-offs between the guest's vCPU thread and the test (dom0) thread.
    std::promise<void> guest_wrote;
    std::promise<void> dom0_wrote;
    std::future<void> dom0_done = dom0_wrote.get_future();
    std::string guest_saw(8, '\0');
    DomainConfig cfg = small_guest(64);
    cfg.programs.push_back([&](GuestCpu& cpu) {
        // Straddles gfns 2 and 3, which are not adjacent frames.
        cpu.ram_write(3 * kPage - 4, std::as_bytes(std::span{"guest-wr", 8}));
        guest_wrote.set_value();
        if (dom0_done.wait_for(kLimit) != std::future_status::ready) {
            throw std::runtime_error("test never signalled the guest");
        }
        cpu.ram_read(10 * kPage + 4092, std::as_writable_bytes(std::span{guest_saw}));
    });
    const uint16_t domid = host.create_domain(std::move(cfg));
    std::future<void> guest_done = guest_wrote.get_future();
    host.unpause(domid);

    Handles h;
    xen_pfn_t gfns[3] = {2, 3, 10};
    int errs[3] = {};
    auto* va = static_cast<char*>(
        xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 3, gfns, errs));
    REQUIRE(va != nullptr);
    const auto f2 = host.machine_frame(domid, 2);
    const auto f3 = host.machine_frame(domid, 3);
    REQUIRE((f2 && f3));
    CHECK(*f3 != *f2 + 1);
    REQUIRE(guest_done.wait_for(kLimit) == std::future_status::ready);
    CHECK(std::memcmp(va + kPage - 4, "guest-wr", 8) == 0);  // contiguous to dom0
    CHECK(pool_bytes(host, *f2, kPage - 4, 4) == "gues");
    CHECK(pool_bytes(host, *f3, 0, 4) == "t-wr");

    std::memcpy(va + 2 * kPage + 4092, "dom0", 4);  // end of gfn 10
    xen_pfn_t g11 = 11;
    auto* va11 = static_cast<char*>(
        xenforeignmemory_map(h.fmem, domid, PROT_READ | PROT_WRITE, 1, &g11, nullptr));
    REQUIRE(va11 != nullptr);
    std::memcpy(va11, "-wr!", 4);  // start of gfn 11, a separate mapping
    dom0_wrote.set_value();
    REQUIRE(host.wait_programs_finished(domid));
    CHECK(guest_saw == "dom0-wr!");
    CHECK(xenforeignmemory_unmap(h.fmem, va, 3) == 0);
    CHECK(xenforeignmemory_unmap(h.fmem, va11, 1) == 0);
}

TEST_CASE("a released page's frame returns to the pool only after dom0 unmaps it",
          "[xensim][memory]") {
    Host host;
    const uint16_t domid = host.create_domain([] {
        DomainConfig cfg = small_guest(16);
        cfg.programs.push_back([](GuestCpu& cpu) {
            cpu.ram_write(5 * kPage, std::as_bytes(std::span{"keep", 4}));
            cpu.release_ram_page(5);
            CHECK_THROWS_AS(cpu.ram_write(5 * kPage, std::as_bytes(std::span{"gone", 4})),
                            std::out_of_range);
        });
        return cfg;
    }());
    Handles h;
    xen_pfn_t gfn = 5;
    auto* va = static_cast<char*>(xenforeignmemory_map(h.fmem, domid, PROT_READ, 1, &gfn, nullptr));
    REQUIRE(va != nullptr);
    const uint64_t free_before = host.machine_memory_free_frames();
    host.unpause(domid);
    REQUIRE(host.wait_programs_finished(domid));
    CHECK_FALSE(host.machine_frame(domid, 5));
    CHECK(host.machine_memory_free_frames() == free_before);  // still mapped
    CHECK(std::memcmp(va, "keep", 4) == 0);
    REQUIRE(xenforeignmemory_unmap(h.fmem, va, 1) == 0);
    CHECK(host.machine_memory_free_frames() == free_before + 1);
}

TEST_CASE("a destroyed domain's frames return to the pool once dom0 unmaps them",
          "[xensim][memory]") {
    Host host;
    const uint64_t total = host.machine_memory_frames();
    const uint16_t domid = host.create_domain(small_guest(32));
    Handles h;
    xen_pfn_t gfns[2] = {7, 8};
    void* va = xenforeignmemory_map(h.fmem, domid, PROT_READ, 2, gfns, nullptr);
    REQUIRE(va != nullptr);
    host.destroy_domain(domid);
    CHECK(host.status(domid).state == DomainState::Dying);
    CHECK_FALSE(host.machine_frame(domid, 0));
    CHECK(host.machine_memory_free_frames() == total - 2);
    REQUIRE(xenforeignmemory_unmap(h.fmem, va, 2) == 0);
    CHECK(host.status(domid).state == DomainState::Gone);
    CHECK(host.machine_memory_free_frames() == total);
}

TEST_CASE("frames come back zeroed and the pool can run out", "[xensim][memory]") {
    HostOptions opts;
    opts.machine_memory_bytes = 64 * kPage;
    Host host(opts);
    CHECK(host.machine_memory_frames() == 64);
    CHECK_THROWS_AS(host.create_domain(small_guest(65)), std::runtime_error);
    CHECK(host.machine_memory_free_frames() == 64);
    DomainConfig cfg = small_guest(64);
    cfg.programs.push_back([](GuestCpu& cpu) {
        for (uint64_t gfn = 0; gfn < 64; ++gfn) {
            cpu.ram_write(gfn * kPage, std::as_bytes(std::span{"dirt", 4}));
        }
    });
    const uint16_t a = host.create_domain(std::move(cfg));
    host.unpause(a);
    REQUIRE(host.wait_programs_finished(a));
    CHECK_THROWS_AS(host.create_domain(small_guest(1)), std::runtime_error);
    host.destroy_domain(a);
    CHECK(host.machine_memory_free_frames() == 64);
    const uint16_t b = host.create_domain(small_guest(64));
    for (uint64_t gfn = 0; gfn < 64; ++gfn) {
        const auto f = host.machine_frame(b, gfn);
        REQUIRE(f);
        CHECK(pool_bytes(host, *f, 0, 4) == std::string(4, '\0'));
    }
}
