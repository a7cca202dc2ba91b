// Trap-path benchmark: an ioreq slot served in process by the shipping code
// (service_slot -> IoreqDispatcher -> Vgpu -> MMIO table / config space /
// PVINFO) and the reply written back, in nanoseconds per access.
//
// This is the part of a trap xengtd controls. The rest — the guest's VM exit,
// Xen's decode and the two event-channel notifications — is hypervisor cost
// (tens of microseconds on real hardware) and is not measured here.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "mediator/base/log.hpp"
#include "mediator/vgpu.hpp"
#include "tools/bench/bench_args.hpp"
#include "xengt/xen/ioreq_dispatch.hpp"

using namespace xengt;

namespace {

class NoRam final : public xen::GuestRamAccess {
public:
    bool read(GuestPhysAddr, std::span<std::byte>) override { return false; }
    bool write(GuestPhysAddr, std::span<const std::byte>) override { return false; }
    void invalidate() override {}
};

class NullHypervisor final : public mediator::HypervisorPort {
public:
    void set_trap_windows(std::span<const mediator::TrapWindow>) override {}
    bool read_guest(GuestPhysAddr, std::span<std::byte>) override { return false; }
    bool write_guest(GuestPhysAddr, std::span<const std::byte>) override { return false; }
    void inject_msi(uint64_t, uint32_t) override {}
    bool protect_page(GuestFrame) override { return false; }
    void unprotect_page(GuestFrame) override {}
};

constexpr uint64_t kBar0 = 0xd0000000;
constexpr uint64_t kSbdf = uint64_t{0x10} << 32;  // 00:02.0

ioreq_t make(uint8_t type, uint64_t addr, uint32_t size, bool read, uint64_t data = 0) {
    ioreq_t r{};
    r.type = type;
    r.addr = addr;
    r.size = size;
    r.count = 1;
    r.dir = read ? IOREQ_READ : IOREQ_WRITE;
    r.data = data;
    return r;
}

struct Case {
    const char* name;
    ioreq_t req;
    std::optional<uint64_t> expect;  // a read's answer, so the benchmark times correct work
};

// One request through the path, checked: answered, and with the right data.
bool answered_correctly(xen::IoreqDispatcher& d, const Case& c) {
    ioreq_t slot = c.req;
    slot.state = STATE_IOREQ_READY;
    if (!xen::service_slot(slot, d) || slot.state != STATE_IORESP_READY) {
        std::fprintf(stderr, "xengt-trap-bench: %s: request not answered\n", c.name);
        return false;
    }
    if (c.expect && slot.data != *c.expect) {
        std::fprintf(stderr, "xengt-trap-bench: %s: read %#llx, expected %#llx\n", c.name,
                     static_cast<unsigned long long>(slot.data),
                     static_cast<unsigned long long>(*c.expect));
        return false;
    }
    return true;
}

double ns_per_access(xen::IoreqDispatcher& d, const ioreq_t& proto, uint64_t iterations) {
    ioreq_t slot = proto;
    uint64_t sink = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < iterations; ++i) {
        slot.state = STATE_IOREQ_READY;  // what Xen does when it posts the request
        xen::service_slot(slot, d);
        sink += slot.data;
    }
    auto t1 = std::chrono::steady_clock::now();
    asm volatile("" : : "r"(sink));
    return std::chrono::duration<double, std::nano>(t1 - t0).count() /
           static_cast<double>(iterations);
}

}  // namespace

int main(int argc, char** argv) {
    int exit_code = 0;
    auto args = bench::parse_bench_args(argc, argv, "xengt-trap-bench", 2'000'000, &exit_code);
    if (!args) {
        return exit_code;
    }
    const uint64_t iterations = args->iterations;
    const unsigned runs = args->runs;
    set_log_sink([](LogLevel, std::string_view, std::string_view) {});

    NoRam ram;
    NullHypervisor hv;
    mediator::Vgpu vgpu(mediator::VgpuConfig{}, hv);
    xen::IoreqDispatcher d("bench", xen::PciAddress{}, vgpu, ram);
    // Firmware's part: place BAR0 and enable memory decode.
    for (ioreq_t r : {make(IOREQ_TYPE_PCI_CONFIG, kSbdf | 0x10, 4, false, kBar0),
                      make(IOREQ_TYPE_PCI_CONFIG, kSbdf | 0x04, 2, false, 0x2)}) {
        r.state = STATE_IOREQ_READY;
        xen::service_slot(r, d);
    }

    const Case cases[] = {
        // RING_MI_MODE resets to MODE_IDLE (bit 9); this case runs before the write below.
        {"MMIO read, tracked register (RING_MI_MODE)",
         make(IOREQ_TYPE_COPY, kBar0 + 0x209c, 4, true), 0x200},
        {"MMIO write, masked register (RING_MI_MODE)",
         make(IOREQ_TYPE_COPY, kBar0 + 0x209c, 4, false, 0x00010001), std::nullopt},
        {"MMIO read, untracked register", make(IOREQ_TYPE_COPY, kBar0 + 0x4000, 4, true), 0},
        {"MMIO read, PVINFO magic (8 bytes)", make(IOREQ_TYPE_COPY, kBar0 + 0x78000, 8, true),
         0x4776544776544776},
        {"MMIO write, GGTT entry (8 bytes)",
         make(IOREQ_TYPE_COPY, kBar0 + 0x800000 + 8 * 1234, 8, false, 0x12345001), std::nullopt},
        {"PCI config read, vendor/device", make(IOREQ_TYPE_PCI_CONFIG, kSbdf | 0x00, 4, true),
         0x19128086},
        {"MMIO read, unclaimed address", make(IOREQ_TYPE_COPY, 0x100000, 4, true), 0xffffffff},
    };
    std::printf("trap path in process: slot -> dispatcher -> vGPU -> reply\n");
    std::printf("%-48s %10s\n", "case", "ns/access");
    for (const Case& c : cases) {
        if (!answered_correctly(d, c)) {
            return 1;
        }
        std::vector<double> samples;
        for (unsigned r = 0; r < runs; ++r) {
            samples.push_back(ns_per_access(d, c.req, iterations));
        }
        std::sort(samples.begin(), samples.end());
        std::printf("%-48s %10.1f\n", c.name, samples[samples.size() / 2]);
    }
    return 0;
}
