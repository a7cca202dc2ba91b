// Fuzz target: streams of guest GTT activity against one vGPU with a GPU
// behind it — GGTT entry writes (whole, halves, through BAR4), aperture
// accesses, flushes, BAR0 moves with a RAM-backed table — with the isolation
// checker run over the physical GGTT at the end of every input. A violation,
// a leaked pin or a crash is a finding.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "../mediator/fake_gpu_memory.hpp"
#include "../mediator/fake_hypervisor.hpp"
#include "mediator/base/log.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/isolation.hpp"
#include "mediator/vgpu.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint32_t kDom = 5;
// 64 MiB of GM: the isolation check walks every entry twice per input, and
// this keeps that walk from dominating the run.
constexpr uint64_t kGgttEntries = uint64_t{1} << 14;
constexpr uint64_t kRamFrames = 256;  // FakeHypervisor's default 1 MiB

// Reads little-endian fields off the input; zeros once it runs out.
class Input {
public:
    Input(const uint8_t* d, size_t n) : d_(d), n_(n) {}
    bool more() const { return at_ < n_; }
    uint64_t take(unsigned bytes) {
        uint64_t v = 0;
        for (unsigned i = 0; i < bytes && at_ < n_; ++i) {
            v |= uint64_t{d_[at_++]} << (8 * i);
        }
        return v;
    }

private:
    const uint8_t* d_;
    size_t n_;
    size_t at_ = 0;
};

void program_bar0(Vgpu& v, uint64_t bar0) {
    v.config_write(0x10, AccessSize::dword(), bar0 & 0xffffffff);
    v.config_write(0x14, AccessSize::dword(), bar0 >> 32);
    v.config_write(0x18, AccessSize::dword(), 0xe000'0000);
    v.config_write(0x20, AccessSize::dword(), 0xc000);
    v.config_write(0x04, AccessSize::word(), 0x7);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool quiet = [] {
        set_log_sink([](LogLevel, std::string_view, std::string_view) {});
        return true;
    }();
    (void)quiet;

    Input in(data, size);
    FakeGgtt ggtt(kGgttEntries);
    FakeFrameWorld world;
    const HostFrame scratch = world.allocate()->frame;
    FakeHypervisor hv;
    const bool tracks_dirty = (in.take(1) & 1) != 0;
    const bool ram_backed = (in.take(1) & 1) != 0;
    std::optional<FakeBacking> backing;  // 8 MiB: only when used
    if (ram_backed) {
        hv.backing = &backing.emplace(tracks_dirty);
    }
    {
        FakePins pins(world, kDom, kRamFrames);
        VgpuConfig c;
        c.name = "fuzz";
        c.mappable = {GmAddr{MiB(16)}, MiB(4)};
        c.hidden = {GmAddr{MiB(32)}, MiB(8)};
        c.ggtt_strategy = ram_backed ? GgttStrategy::RamBacked : GgttStrategy::Trap;
        Vgpu vgpu(c, hv, GpuLink{&pins, &ggtt, &world, scratch});
        uint64_t bar0 = 0xf000'0000;
        program_bar0(vgpu, bar0);

        while (in.more()) {
            const uint8_t op = static_cast<uint8_t>(in.take(1));
            // Indices mostly near the slices so that the interesting paths run.
            const uint64_t index =
                (op & 0x80) ? in.take(3) % kGgttEntries : (MiB(16) >> 12) + in.take(2) % 8192;
            switch (op & 0x7) {
                case 0:
                    vgpu.mmio_write(GuestPhysAddr{bar0 + MiB(8) + index * 8}, AccessSize::qword(),
                                    in.take(8));
                    break;
                case 1:
                    vgpu.mmio_write(GuestPhysAddr{bar0 + MiB(8) + index * 8 + (op & 0x8 ? 4 : 0)},
                                    AccessSize::dword(), in.take(4));
                    break;
                case 2:
                    vgpu.pio_write(IoPort{0xc000}, AccessSize::dword(),
                                   static_cast<uint32_t>(index * 8) | 1);
                    vgpu.pio_write(IoPort{0xc004}, AccessSize::dword(), in.take(4));
                    break;
                case 3:
                    if (ram_backed) {
                        backing->guest_write(index % (uint64_t{GgttRamBacking::kPages} * 512),
                                             in.take(8));
                    }
                    break;
                case 4:
                    vgpu.sync_gtt();
                    break;
                case 5: {
                    const uint64_t off = in.take(4) % MiB(256);
                    const auto sz = AccessSize::from_bytes(uint64_t{1} << (op >> 3 & 3));
                    if (op & 0x40) {
                        vgpu.mmio_write(GuestPhysAddr{0xe000'0000 + off}, *sz, in.take(8));
                    } else {
                        (void)vgpu.mmio_read(GuestPhysAddr{0xe000'0000 + off}, *sz);
                    }
                    break;
                }
                case 6:
                    bar0 = (in.take(2) % 64) * MiB(16) + 0x1'0000'0000;
                    program_bar0(vgpu, bar0);
                    break;
                default:
                    vgpu.config_write(0x04, AccessSize::word(), in.take(1) & 0x7);
                    break;
            }
        }
        vgpu.sync_gtt();
        const IsolationSubject subject{kDom, vgpu.ggtt_shadow()};
        const IsolationReport report = check_isolation(ggtt, world, {&subject, 1});
        if (!report.ok() || pins.bad_unpins != 0 ||
            pins.outstanding != vgpu.ggtt_shadow()->pinned_entries()) {
            std::fprintf(stderr, "%s\n", report.summary().c_str());
            std::abort();
        }
    }
    // The vGPU is gone: nothing of the guest may stay reachable.
    if (!check_isolation(ggtt, world, {}).ok()) {
        std::abort();
    }
    return 0;
}
