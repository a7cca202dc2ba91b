// Fuzz target: streams of guest GTT activity against one vGPU with a GPU
// behind it — GGTT entry writes (whole, halves, through BAR4), aperture
// accesses, flushes, BAR0 moves with a RAM-backed table, PPGTT announcements
// and stores into guest page tables (delivered to the vGPU as Xen would when
// the page is protected), resets — with the isolation checker run over the
// physical GGTT and every shadow PPGTT at the end of every input. A
// violation, a leaked pin, page or protection, or a crash is a finding.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>

#include "../mediator/fake_gpu_memory.hpp"
#include "../mediator/fake_hypervisor.hpp"
#include "fuzz_input.hpp"
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

using fuzz::Input;

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
        std::optional<Vgpu> vgpu_slot;
        Vgpu& vgpu = vgpu_slot.emplace(c, hv, GpuLink{&pins, &ggtt, &world, scratch});
        uint64_t bar0 = 0xf000'0000;
        program_bar0(vgpu, bar0);

        while (in.more()) {
            const uint8_t op = static_cast<uint8_t>(in.take(1));
            // Indices mostly near the slices so that the interesting paths run.
            const uint64_t index =
                (op & 0x80) ? in.take(3) % kGgttEntries : (MiB(16) >> 12) + in.take(2) % 8192;
            switch (op & 0x80 ? op & 0x7 : op & 0xf) {
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
                case 7:
                    vgpu.config_write(0x04, AccessSize::word(), in.take(1) & 0x7);
                    break;
                case 8: {
                    // pdp[] then g2v_notify 2..5 (PPGTT create/destroy, 3 or 4 levels).
                    const uint64_t pv = bar0 + 0x78000;
                    for (uint32_t i = 0; i < 4; ++i) {
                        vgpu.mmio_write(GuestPhysAddr{pv + 0x838 + 8 * i}, AccessSize::dword(),
                                        (in.take(1) % (kRamFrames + 8)) << 12);
                    }
                    vgpu.mmio_write(GuestPhysAddr{pv + 0x818}, AccessSize::dword(),
                                    2 + in.take(1) % 4);
                    break;
                }
                case 9:
                case 10: {
                    // A guest store into its RAM: trapped if the page is protected.
                    const uint64_t gpa =
                        in.take(1) % kRamFrames * kPageSize + in.take(2) % kPageSize;
                    const auto sz = (op & 0xf) == 9 ? AccessSize::qword()
                                                    : *AccessSize::from_bytes(1u << (op >> 4 & 3));
                    const uint64_t value = in.take(sz.bytes());
                    const uint64_t aligned = gpa & ~uint64_t{sz.bytes() - 1};
                    if (hv.protected_pages.contains(aligned >> kPageShift)) {
                        vgpu.mmio_write(GuestPhysAddr{aligned}, sz, value);
                    } else {
                        hv.write_guest(GuestPhysAddr{aligned},
                                       std::as_bytes(std::span(&value, 1)).first(sz.bytes()));
                    }
                    break;
                }
                case 11:
                    vgpu.config_write(0x70 + 8, AccessSize::word(), 0x8000);  // FLR
                    program_bar0(vgpu, bar0);
                    break;
                default:
                    vgpu.sync_gtt();
                    break;
            }
        }
        vgpu.sync_gtt();
        const IsolationSubject subject{kDom, vgpu.ggtt_shadow(), vgpu.ppgtt_shadow()};
        const IsolationReport report = check_isolation(ggtt, world, {&subject, 1});
        // Pins are shared by the GGTT and the shadow PPGTT, so only the GGTT's
        // own can be told apart here: it can never hold more than all of them.
        if (!report.ok() || pins.bad_unpins != 0 ||
            pins.outstanding < vgpu.ggtt_shadow()->pinned_entries()) {
            std::fprintf(stderr, "%s\n", report.summary().c_str());
            std::abort();
        }
        vgpu_slot.reset();
        // Every pin the vGPU took, it gave back.
        if (pins.outstanding != 0 || pins.bad_unpins != 0) {
            std::abort();
        }
    }
    // The vGPU is gone: nothing of the guest may stay reachable, protected
    // or allocated (the scratch page is the world's only page left).
    if (!check_isolation(ggtt, world, {}).ok() || !hv.protected_pages.empty() ||
        world.live_pages() != 1) {
        std::abort();
    }
    return 0;
}
