// Acceptance for graphics-memory isolation on the simulator: two guests each
// map their own pages through the GGTT and a PPGTT and use the aperture; the
// GPU reaches exactly those pages, and neither guest reaches the other's.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <future>

#include "mediator/gtt/ppgtt_shadow.hpp"
#include "tools/guests/gtt_driver.hpp"
#include "tools/xensim/host.hpp"
#include "xengt/daemon/daemon.hpp"

using namespace xengt;

namespace {

constexpr uint32_t kPatterns[2] = {0xa1000000, 0xb2000000};

// A dword of guest RAM, read straight from machine memory (not through xengtd).
uint32_t guest_ram32(sim::Host& host, uint16_t domid, uint64_t gpa) {
    const std::optional<uint64_t> mfn = host.machine_frame(domid, gpa >> 12);
    REQUIRE(mfn);
    uint32_t v = 0;
    REQUIRE(pread(host.machine_memory_fd(), &v, 4,
                  static_cast<off_t>(*mfn * 4096 + (gpa & 4095))) == 4);
    return v;
}

// Walk a 4-level shadow PPGTT as the GPU does, through the frame table.
std::optional<HostFrame> shadow_translate(gpu::MappedFrameTable& frames, HostFrame pml4,
                                          uint64_t va) {
    HostFrame table = pml4;
    for (int level = 4; level >= 1; --level) {
        const std::byte* bytes = frames.peek(table);
        if (bytes == nullptr) {
            return std::nullopt;
        }
        const unsigned index = (va >> (12 + 9 * (level - 1))) & 511;
        uint64_t e = 0;
        std::memcpy(&e, bytes + index * 8, 8);
        if ((e & 1) == 0) {
            return std::nullopt;
        }
        table = HostFrame{(e & 0x00003ffffffff000ull) >> 12};
    }
    return table;
}

}  // namespace

TEST_CASE("two guests map, share nothing, and the GPU reaches exactly their pages",
          "[xengt][gtt][isolation]") {
    const mediator::GgttStrategy strategy =
        GENERATE(mediator::GgttStrategy::Trap, mediator::GgttStrategy::RamBacked);
    INFO("GGTT strategy " << mediator::to_string(strategy));
    sim::Host host;
    guests::GttDriverReport reports[2];
    uint16_t domids[2];
    for (int i = 0; i < 2; ++i) {
        sim::DomainConfig c;
        c.name = "gtt" + std::to_string(i);
        c.programs.push_back([&reports, i](sim::GuestCpu& cpu) {
            guests::GttDriverLayout l;
            l.pattern = kPatterns[i];
            reports[i] = guests::run_gtt_driver(cpu, l);
        });
        domids[i] = host.create_domain(std::move(c));
    }
    daemon::DaemonOptions opts;
    opts.handle_signals = false;
    daemon::Daemon d(opts);
    REQUIRE(d.gpu() != nullptr);
    for (int i = 0; i < 2; ++i) {
        xen::SessionOptions s;
        s.domid = domids[i];
        s.vgpu.vgt_id = static_cast<uint32_t>(i + 1);
        s.vgpu.ggtt_strategy = strategy;
        d.attach(s);
    }
    auto exit_code = std::async(std::launch::async, [&] { return d.run(); });
    // However the checks below end, the daemon stops before anything is torn down.
    struct StopOnExit {
        daemon::Daemon& d;
        ~StopOnExit() { d.request_stop(); }
    } stop_on_exit{d};
    for (uint16_t id : domids) {
        host.unpause(id);
    }
    for (uint16_t id : domids) {
        REQUIRE(host.wait_programs_finished(id));
    }

    // What each guest could check itself.
    for (int i = 0; i < 2; ++i) {
        std::string why;
        const bool passed = guests::gtt_driver_passed(reports[i], &why);
        INFO("guest " << i << ": " << why);
        CHECK(passed);
    }
    CHECK(reports[0].mappable_base != reports[1].mappable_base);
    for (const auto& r : reports) {
        CHECK(r.foreign_entry_readback ==
              (strategy == mediator::GgttStrategy::Trap ? 0 : r.foreign_entry_written));
    }

    // What the GPU reaches: through the aperture (GGTT), each guest's pages.
    gpu::model::SoftGpu& gpu = d.gpu()->model();
    const guests::GttDriverLayout layout;
    for (int i = 0; i < 2; ++i) {
        for (unsigned page = 0; page < layout.buffer_pages; ++page) {
            uint32_t v = 0;
            REQUIRE(gpu.aperture_read(reports[i].mappable_base + page * 4096 + 64,
                                      std::as_writable_bytes(std::span(&v, 1))));
            CHECK(v == (kPatterns[i] | page));
        }
    }
    // A GPU write through guest 0's slice lands in guest 0's RAM only.
    const uint32_t marker = 0x600dcafe;
    REQUIRE(
        gpu.aperture_write(reports[0].mappable_base + 256, std::as_bytes(std::span(&marker, 1))));
    CHECK(guest_ram32(host, domids[0], layout.buffer_gfn * 4096 + 256) == marker);
    CHECK(guest_ram32(host, domids[1], layout.buffer_gfn * 4096 + 256) != marker);

    // Through each guest's shadow PPGTT: VA 0 is now its second buffer page
    // (the guest swapped the first two entries under write protection).
    const std::optional<mediator::IsolationReport> iso = d.check_isolation();
    REQUIRE(iso);
    INFO(iso->summary());
    CHECK(iso->ok());
    CHECK(iso->ppgtt_tables_checked == 8);  // 4 tables per guest
    CHECK(iso->ppgtt_leaves_checked == 2 * layout.buffer_pages);

    for (int i = 0; i < 2; ++i) {
        const mediator::PpgttShadow* shadow = d.vgpu(domids[i])->ppgtt_shadow();
        REQUIRE(shadow != nullptr);
        std::optional<HostFrame> pml4;
        shadow->for_each_root([&](const mediator::PpgttRoot& root, const mediator::ShadowRoot& s) {
            CHECK(root.pdp[0] == reports[i].pml4_gpa);
            pml4 = s.tables[0];
        });
        REQUIRE(pml4);
        for (unsigned page = 0; page < 2; ++page) {
            const std::optional<HostFrame> f =
                shadow_translate(d.gpu()->frames(), *pml4, page * 4096);
            REQUIRE(f);
            const mediator::FrameOwner o = d.gpu()->frames().owner(*f);
            CHECK(o.kind == mediator::FrameOwner::Kind::Guest);
            CHECK(o.guest == domids[i]);
            CHECK(o.gfn == GuestFrame{layout.buffer_gfn + (page == 0 ? 1 : 0)});
            uint32_t v = 0;
            std::memcpy(&v, d.gpu()->frames().frame(*f) + 64, 4);
            CHECK(v == (kPatterns[i] | (page == 0 ? 1u : 0u)));
        }
    }

    d.request_stop();
    REQUIRE(exit_code.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    for (uint16_t id : domids) {
        host.destroy_domain(id);
    }
}
