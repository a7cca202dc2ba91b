// Virtual display timing (intel-gpu.md §7.4): pipe enable state, vblanks,
// frame and flip counters, and flips.
#include <catch2/catch.hpp>

#include <random>

#include "irq_test_support.hpp"
#include "mediator/display/display_timing.hpp"
#include "mediator/mmio/register_file.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint32_t kEnable = display::kPipeConfEnable;
constexpr uint32_t kState = display::kPipeConfState;
constexpr uint32_t kVblank = display::kVblank;
constexpr uint32_t kFlipDone = display::kFlipDoneSkl;  // the default vGPU is a Skylake
constexpr uint32_t kSurface = 0x00123000;

uint32_t pipeconf(unsigned p) {
    return display::pipe_reg(display::kPipeConf, p);
}
uint32_t frmcount(unsigned p) {
    return display::pipe_reg(display::kFrmCount, p);
}
uint32_t flipcount(unsigned p) {
    return display::pipe_reg(display::kFlipCount, p);
}
uint32_t plane_ctl(unsigned p) {
    return display::pipe_reg(display::kPlaneCtl, p);
}
uint32_t surf(unsigned p) {
    return display::pipe_reg(display::kPlaneSurf, p);
}
uint32_t surflive(unsigned p) {
    return display::pipe_reg(display::kSurfLive, p);
}
IrqBank pipe_bank(unsigned p) {
    return static_cast<IrqBank>(static_cast<unsigned>(IrqBank::DePipeA) + p);
}

}  // namespace

TEST_CASE("PIPECONF enable sets the state bit and clearing it clears it", "[display]") {
    IrqVgpu d;
    for (unsigned p = 0; p < display::kPipeCount; ++p) {
        INFO("pipe " << p);
        CHECK(d.reg(pipeconf(p)) == 0);
        d.set(pipeconf(p), kEnable | 0x10);  // dither bit 4 is kept
        CHECK(d.reg(pipeconf(p)) == (kEnable | kState | 0x10));
        d.set(pipeconf(p), 0x10);
        CHECK(d.reg(pipeconf(p)) == 0x10);
        d.set(pipeconf(p), kState);  // the state bit alone does not stick
        CHECK(d.reg(pipeconf(p)) == 0);
        // A byte write to the top byte enables too.
        CHECK(d.reg_write(pipeconf(p) + 3, 0x80, AccessSize::byte()) == TrapResult::Handled);
        CHECK(d.reg(pipeconf(p)) == (kEnable | kState));
        d.set(pipeconf(p), 0);
    }
}

TEST_CASE("display_active follows PIPECONF of any pipe", "[display]") {
    IrqVgpu d;
    CHECK_FALSE(d.vgpu.display_active());
    d.set(pipeconf(1), kEnable);
    CHECK(d.vgpu.display_active());
    d.set(pipeconf(2), kEnable);
    d.set(pipeconf(1), 0);
    CHECK(d.vgpu.display_active());
    d.set(pipeconf(2), 0);
    CHECK_FALSE(d.vgpu.display_active());
}

TEST_CASE("a vblank advances the frame counter and latches the vblank bit when unmasked",
          "[display][irq]") {
    IrqVgpu d;
    d.set(pipeconf(0), kEnable);
    // Masked (the reset state): counted, but nothing latched.
    d.vgpu.vblank();
    CHECK(d.reg(frmcount(0)) == 1);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == 0);
    CHECK(d.vgpu.counters().vblanks == 1);
    // Unmasked, not enabled in IER: latched without an MSI.
    d.set(imr(IrqBank::DePipeA), ~kVblank);
    d.master(true);
    d.vgpu.vblank();
    CHECK(d.reg(frmcount(0)) == 2);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == kVblank);
    CHECK(d.hv.msis.empty());
    // Enabling IER delivers the latched vblank (§6.2 rule 4), and the next
    // vblank sends its own MSI.
    d.set(ier(IrqBank::DePipeA), kVblank);
    CHECK(d.hv.msis.size() == 1);
    d.vgpu.vblank();
    CHECK(d.hv.msis.size() == 2);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | (1u << 16)));  // level-1: DE pipe A
    // Master off: latched only.
    d.set(iir(IrqBank::DePipeA), kVblank);
    d.master(false);
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeA)) == kVblank);
    CHECK(d.hv.msis.size() == 2);
    CHECK(d.reg(frmcount(0)) == 4);
    // The frame counter is the vGPU's: guest writes are refused.
    CHECK(d.reg_write(frmcount(0), 0) == TrapResult::Rejected);
    CHECK(d.reg(frmcount(0)) == 4);
}

TEST_CASE("a vblank MSI goes out only if the guest enabled MSI", "[display][irq]") {
    IrqVgpu d(false);
    d.set(pipeconf(2), kEnable);
    d.enable(IrqBank::DePipeC, kVblank);
    d.master(true);
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeC)) == kVblank);
    CHECK(d.hv.msis.empty());
    CHECK(d.vgpu.counters().msi_suppressed_disabled == 1);
    d.set(iir(IrqBank::DePipeC), kVblank);
    d.set_msi(true);
    d.vgpu.vblank();
    REQUIRE(d.hv.msis.size() == 1);
    CHECK(d.hv.msis[0].address == kMsiAddress);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | (1u << 18)));  // level-1: DE pipe C
}

TEST_CASE("a vblank leaves disabled pipes alone", "[display][irq]") {
    IrqVgpu d;
    for (unsigned p = 0; p < display::kPipeCount; ++p) {
        d.enable(pipe_bank(p), kVblank | kFlipDone);
    }
    d.master(true);
    d.set(surf(0), kSurface);  // a flip pending on a disabled pipe
    d.set(pipeconf(1), kEnable);
    d.vgpu.vblank();
    CHECK(d.reg(frmcount(0)) == 0);
    CHECK(d.reg(frmcount(1)) == 1);
    CHECK(d.reg(frmcount(2)) == 0);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == 0);
    CHECK(d.reg(iir(IrqBank::DePipeB)) == kVblank);
    CHECK(d.reg(iir(IrqBank::DePipeC)) == 0);
    CHECK(d.hv.msis.size() == 1);
    CHECK(d.vgpu.counters().vblanks == 1);

    d.set(pipeconf(1), 0);
    d.vgpu.vblank();
    CHECK(d.reg(frmcount(1)) == 1);
    CHECK(d.hv.msis.size() == 1);
    CHECK(d.vgpu.counters().vblanks == 1);
    // The flip waits for its pipe.
    d.set(pipeconf(0), kEnable);
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeA)) == (kVblank | kFlipDone));
}

TEST_CASE(
    "a surface write flips: SURFLIVE and the flip count at once, flip-done at the next "
    "vblank",
    "[display][irq]") {
    IrqVgpu d;
    d.set(pipeconf(1), kEnable);
    d.enable(IrqBank::DePipeB, kVblank | kFlipDone);
    d.master(true);

    d.set(surf(1), kSurface);
    CHECK(d.reg(surf(1)) == kSurface);
    CHECK(d.reg(surflive(1)) == kSurface);
    CHECK(d.reg(flipcount(1)) == 1);
    CHECK(d.reg(surflive(0)) == 0);  // other pipes untouched
    CHECK(d.reg(flipcount(0)) == 0);
    CHECK(d.reg(iir(IrqBank::DePipeB)) == 0);
    CHECK(d.hv.msis.empty());

    // Flip-done and vblank arrive together, in one MSI.
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeB)) == (kVblank | kFlipDone));
    CHECK(d.hv.msis.size() == 1);
    // Once only.
    d.set(iir(IrqBank::DePipeB), kVblank | kFlipDone);
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeB)) == kVblank);

    // SURFLIVE and FLIPCOUNT are the vGPU's.
    CHECK(d.reg_write(surflive(1), 0) == TrapResult::Rejected);
    CHECK(d.reg_write(flipcount(1), 0) == TrapResult::Rejected);
    CHECK(d.reg(surflive(1)) == kSurface);
    CHECK(d.reg(flipcount(1)) == 1);
}

TEST_CASE("an async flip raises flip-done at once", "[display][irq]") {
    IrqVgpu d;
    d.set(pipeconf(0), kEnable);
    d.enable(IrqBank::DePipeA, kVblank | kFlipDone);
    d.master(true);
    d.set(plane_ctl(0), (1u << 31) | display::kPlaneAsyncFlip);
    d.set(surf(0), kSurface);
    CHECK(d.reg(surflive(0)) == kSurface);
    CHECK(d.reg(flipcount(0)) == 1);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == kFlipDone);
    CHECK(d.hv.msis.size() == 1);
    d.set(iir(IrqBank::DePipeA), kFlipDone);
    d.vgpu.vblank();  // nothing left pending
    CHECK(d.reg(iir(IrqBank::DePipeA)) == kVblank);
}

TEST_CASE("a Broadwell vGPU reports primary flip done in bit 4", "[display][irq]") {
    VgpuConfig config;
    config.device_id = 0x1616;
    IrqVgpu d(true, config);
    d.set(pipeconf(0), kEnable);
    d.set(imr(IrqBank::DePipeA), 0);
    d.set(surf(0), kSurface);
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeA)) == (kVblank | display::kFlipDoneBdw));
}

TEST_CASE("FLR resets pipes, counters, surfaces and pending flips", "[display][reset]") {
    IrqVgpu d;
    for (unsigned p = 0; p < display::kPipeCount; ++p) {
        d.set(pipeconf(p), kEnable);
        d.set(surf(p), kSurface);
    }
    d.vgpu.vblank();
    d.set(surf(0), kSurface + 0x1000);  // pending at the reset

    d.vgpu.reset(ResetScope::device());
    program_bars(d.vgpu);
    CHECK_FALSE(d.vgpu.display_active());
    for (unsigned p = 0; p < display::kPipeCount; ++p) {
        INFO("pipe " << p);
        CHECK(d.reg(pipeconf(p)) == 0);
        CHECK(d.reg(frmcount(p)) == 0);
        CHECK(d.reg(flipcount(p)) == 0);
        CHECK(d.reg(surf(p)) == 0);
        CHECK(d.reg(surflive(p)) == 0);
    }
    // The flip pending before the reset is gone.
    d.set(imr(IrqBank::DePipeA), 0);
    d.set(pipeconf(0), kEnable);
    d.vgpu.vblank();
    CHECK(d.reg(iir(IrqBank::DePipeA)) == kVblank);
}

TEST_CASE("hostile writes to the display registers never crash", "[display][fuzz]") {
    IrqVgpu d;
    d.master(true);
    std::mt19937 rng(7);
    const uint32_t bases[] = {display::kPipeConf, display::kFrmCount,  display::kFlipCount,
                              display::kPlaneCtl, display::kPlaneSurf, display::kSurfLive};
    const AccessSize sizes[] = {AccessSize::byte(), AccessSize::word(), AccessSize::dword(),
                                AccessSize::qword()};
    for (int i = 0; i < 20000; ++i) {
        const uint32_t reg = display::pipe_reg(bases[rng() % std::size(bases)], rng() % 3);
        const AccessSize size = sizes[rng() % std::size(sizes)];
        const uint32_t at = reg + (rng() % 4 & ~(size.bytes() - 1) & 3);
        const uint64_t value = (uint64_t{rng()} << 32) | rng();
        switch (rng() % 4) {
            case 0:
                d.vgpu.vblank();
                break;
            case 1:
                d.set(imr(pipe_bank(rng() % 3)), static_cast<uint32_t>(value));
                d.set(ier(pipe_bank(rng() % 3)), static_cast<uint32_t>(value >> 32));
                break;
            default:
                d.reg_write(at, value, size);
                d.reg_read(at, size);
                break;
        }
    }
    // Whatever happened, state still follows enable.
    for (unsigned p = 0; p < display::kPipeCount; ++p) {
        const uint32_t conf = d.reg(pipeconf(p));
        CHECK(((conf & kEnable) != 0) == ((conf & kState) != 0));
    }
    CHECK(d.vgpu.counters().vblanks > 0);
}

TEST_CASE("a running pipe's scan line moves on every read and wraps at vtotal", "[display]") {
    GuestLog log("test");
    uint64_t untracked = 0;
    mmio::RegisterFile regs(log, untracked);
    const auto line = [&] {
        return static_cast<uint32_t>(regs.read(display::kPipeDsl, AccessSize::dword()).value);
    };
    CHECK(line() == 0);  // stopped
    regs.write(display::kTransVtotal, AccessSize::dword(), (4u - 1) << 16 | (3u - 1));
    regs.write(display::kPipeConf, AccessSize::dword(), display::kPipeConfEnable);
    CHECK(line() == 1);
    CHECK(line() == 2);
    CHECK(line() == 3);
    CHECK(line() == 0);  // vtotal 4: lines 0-3
    CHECK(regs.write(display::kPipeDsl, AccessSize::dword(), 7) == TrapResult::Rejected);
    regs.write(display::kPipeConf, AccessSize::dword(), 0);
    CHECK(line() == 0);
    CHECK(untracked == 1);  // TRANS_VTOTAL is plain storage
}
