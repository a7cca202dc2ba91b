// End to end: a software GPU over the host's machine memory reaches guest RAM
// through GGTT entries holding the guest's machine frames, both ways.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <span>
#include <stdexcept>
#include <string>

#include "gpu/fd_machine_memory.hpp"
#include "gpu/model/soft_gpu.hpp"
#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"

using namespace xengt;
using namespace xengt::sim;

namespace {

constexpr uint64_t kPage = 4096;
constexpr auto kLimit = std::chrono::seconds(10);

}  // namespace

TEST_CASE("a GPU write through the GGTT lands in the guest's own RAM", "[xensim][memory][gpu]") {
    Host host;
    // Hand-offs between the guest's vCPU thread and the test ("GPU") thread.
    std::promise<void> guest_wrote;
    std::promise<void> gpu_wrote;
    std::future<void> gpu_done = gpu_wrote.get_future();
    std::string guest_saw(12, '\0');
    DomainConfig cfg;
    cfg.ram_bytes = 1 << 20;
    cfg.programs.push_back([&](GuestCpu& cpu) {
        cpu.ram_write(3 * kPage + 16, std::as_bytes(std::span{"from-guest", 10}));
        guest_wrote.set_value();
        if (gpu_done.wait_for(kLimit) != std::future_status::ready) {
            throw std::runtime_error("the GPU never wrote");
        }
        // Straddles gfns 3 and 4, two unrelated machine frames.
        cpu.ram_read(4 * kPage - 6, std::as_writable_bytes(std::span{guest_saw}));
    });
    const uint16_t domid = host.create_domain(std::move(cfg));

    gpu::FdMachineMemory mem(host.machine_memory_fd(), host.machine_memory_frames());
    gpu::model::SoftGpu soft_gpu(mem);
    const auto f3 = host.machine_frame(domid, 3);
    const auto f4 = host.machine_frame(domid, 4);
    REQUIRE((f3 && f4));
    CHECK(*f4 != *f3 + 1);
    soft_gpu.write_ggtt(0, gpu::GgttEntry::map(HostFrame{*f3}));
    soft_gpu.write_ggtt(1, gpu::GgttEntry::map(HostFrame{*f4}));

    std::future<void> guest_done = guest_wrote.get_future();
    host.unpause(domid);
    REQUIRE(guest_done.wait_for(kLimit) == std::future_status::ready);
    std::string gpu_saw(10, '\0');
    REQUIRE(soft_gpu.aperture_read(16, std::as_writable_bytes(std::span{gpu_saw})));
    CHECK(gpu_saw == "from-guest");
    REQUIRE(soft_gpu.aperture_write(kPage - 6, std::as_bytes(std::span{"GPU-wrote-it", 12})));
    CHECK(soft_gpu.aperture_faults() == 0);
    gpu_wrote.set_value();
    REQUIRE(host.wait_programs_finished(domid));
    INFO(host.status(domid).crash_reason);
    CHECK(host.status(domid).state == DomainState::Running);
    CHECK(guest_saw == "GPU-wrote-it");
}
