// Engine resets (GEN6_GDRST, RING_RESET_CTL) and the device reset (PCIe FLR).
#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <stdexcept>

#include "irq_test_support.hpp"
#include "mediator/pvinfo.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

constexpr uint32_t kGdrst = 0x941C;
constexpr uint32_t kGdrstRender = 1u << 1;
constexpr uint32_t kRcsTail = 0x2030;
constexpr uint32_t kRcsHwsPga = 0x2080;
constexpr uint32_t kRcsMiMode = 0x209C;
constexpr uint32_t kRcsResetCtl = 0x20D0;
constexpr uint32_t kBcsTail = 0x22030;
constexpr uint32_t kVcsTail = 0x12030;
constexpr uint32_t kVecsTail = 0x1A030;
constexpr uint32_t kModeIdle = 1u << 9;
constexpr uint32_t kDisplayReady = kPvinfoBase + pvinfo::kDisplayReady;
constexpr uint32_t kDevCtl = 0x78;
constexpr uint16_t kInitiateFlr = 0x8000;

uint32_t cfg(Vgpu& v, uint32_t reg, AccessSize size = AccessSize::dword()) {
    const TrapRead r = v.config_read(reg, size);
    REQUIRE(r.result == TrapResult::Handled);
    return static_cast<uint32_t>(r.value);
}

// Busy render and blitter engines with pending interrupts and a PV-aware guest.
void make_busy(IrqVgpu& d) {
    d.set(kRcsTail, 0x100);
    d.set(kRcsHwsPga, 0x7000);
    d.set(kRcsMiMode, kModeIdle << 16);  // masked: clear MODE_IDLE
    d.set(kBcsTail, 0x200);
    d.set(kVcsTail, 0x300);
    d.set(kVecsTail, 0x400);
    d.enable(IrqBank::Gt0, 0xFFFFFFFF);
    d.enable(IrqBank::DePipeA, 1u);
    d.vgpu.raise_interrupt(kRenderUserInterrupt);
    d.vgpu.raise_interrupt(kBlitterUserInterrupt);
    d.vgpu.raise_interrupt(kPipeAVblank);
    d.set(kDisplayReady, 1);
    d.reg(kPvinfoBase);  // PV-aware
}

}  // namespace

TEST_CASE("GDRST resets the render engine's registers and interrupts, and nothing else",
          "[reset]") {
    IrqVgpu d;
    make_busy(d);
    LogCapture logs;
    const size_t windows = d.hv.window_updates.size();
    const uint32_t bar0 = cfg(d.vgpu, 0x10);

    CHECK(d.reg_write(kGdrst, kGdrstRender) == TrapResult::Handled);
    CHECK(d.reg(kGdrst) == 0);  // complete
    CHECK(d.reg(kRcsTail) == 0);
    CHECK(d.reg(kRcsHwsPga) == 0);
    CHECK(d.reg(kRcsMiMode) == kModeIdle);
    CHECK(d.reg(iir(IrqBank::Gt0)) == (kIrqUserInterrupt << 16));  // blitter's stays
    CHECK(d.reg(imr(IrqBank::Gt0)) == 0);                          // driver config stays
    CHECK(d.reg(ier(IrqBank::Gt0)) == 0xFFFFFFFF);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == 1u);
    CHECK(d.reg(kBcsTail) == 0x200);
    CHECK(d.reg(kVcsTail) == 0x300);
    CHECK(d.reg(kVecsTail) == 0x400);
    CHECK(d.reg(kDisplayReady) == 1);
    CHECK(d.vgpu.pv_aware());
    CHECK(cfg(d.vgpu, 0x10) == bar0);
    CHECK(cfg(d.vgpu, 0xAE, AccessSize::word()) == 1);  // MSI still enabled
    CHECK(d.hv.window_updates.size() == windows);
    CHECK(d.vgpu.counters().engine_resets == 1);
    CHECK(d.vgpu.counters().device_resets == 0);
    CHECK(logs.contains("engine reset (render)"));
}

TEST_CASE("GDRST full resets every engine but not display interrupts or PVINFO", "[reset]") {
    IrqVgpu d;
    make_busy(d);
    d.set(kGdrst, 1);
    CHECK(d.reg(kGdrst) == 0);
    for (uint32_t tail : {kRcsTail, kBcsTail, kVcsTail, kVecsTail}) {
        CHECK(d.reg(tail) == 0);
    }
    CHECK(d.reg(iir(IrqBank::Gt0)) == 0);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == 1u);
    CHECK(d.reg(kDisplayReady) == 1);
    CHECK(d.vgpu.counters().engine_resets == 1);
}

TEST_CASE("GDRST selects engines by bit, and undefined bits reset nothing", "[reset]") {
    IrqVgpu d;
    make_busy(d);
    d.set(kGdrst, 0xFFFFFFE0);
    CHECK(d.reg(kGdrst) == 0);
    CHECK(d.vgpu.counters().engine_resets == 0);
    CHECK(d.reg(kRcsTail) == 0x100);

    d.set(kGdrst, (1u << 3) | (1u << 4));  // blitter + VECS
    CHECK(d.reg(kBcsTail) == 0);
    CHECK(d.reg(kVecsTail) == 0);
    CHECK(d.reg(kRcsTail) == 0x100);
    CHECK(d.reg(kVcsTail) == 0x300);
    CHECK(d.reg(iir(IrqBank::Gt0)) == kIrqUserInterrupt);

    d.vgpu.reset(ResetScope::engines(kEngineMedia));  // host-side request
    CHECK(d.reg(kVcsTail) == 0);
    CHECK(d.vgpu.counters().engine_resets == 2);
}

TEST_CASE("RING_RESET_CTL reports ready to reset once a reset is requested", "[reset]") {
    IrqVgpu d;
    CHECK(d.reg(kRcsResetCtl) == 0);
    d.set(kRcsResetCtl, 0x00010001);  // masked enable of the request
    CHECK(d.reg(kRcsResetCtl) == 0x3);
    d.set(kRcsResetCtl, 0x00000000);  // no enable bits: no change
    CHECK(d.reg(kRcsResetCtl) == 0x3);
    d.set(kRcsResetCtl, 0xFFFE0006);  // status bits are not the guest's
    CHECK(d.reg(kRcsResetCtl) == 0x3);
    d.set(kRcsResetCtl, 0x00010000);  // masked disable
    CHECK(d.reg(kRcsResetCtl) == 0);

    d.set(kRcsResetCtl, 0x00010001);
    d.set(kGdrst, kGdrstRender);  // the reset completes the request
    CHECK(d.reg(kRcsResetCtl) == 0);
}

TEST_CASE("FLR puts registers, PVINFO, interrupts and config space back, and drops the windows",
          "[reset]") {
    VgpuConfig config;
    config.vgt_id = 3;
    IrqVgpu d(true, config);
    make_busy(d);
    d.master(true);
    d.set(0x7004, 0xCAFE);
    d.vgpu.pio_write(IoPort{kBar4Base}, AccessSize::dword(), 0x7004);
    const size_t msis = d.hv.msis.size();
    REQUIRE_FALSE(d.hv.current_windows().empty());
    LogCapture logs;

    CHECK(d.vgpu.config_write(kDevCtl, AccessSize::word(), kInitiateFlr) == TrapResult::Handled);
    CHECK(d.vgpu.counters().device_resets == 1);
    CHECK(logs.contains("device reset (FLR)"));
    // Config space: decode off, BARs and MSI at reset values, identity intact.
    CHECK(d.hv.current_windows().empty());
    CHECK(cfg(d.vgpu, 0x04, AccessSize::word()) == 0);
    CHECK(cfg(d.vgpu, 0x10) == 0x4);
    CHECK(cfg(d.vgpu, 0x14) == 0);
    CHECK(cfg(d.vgpu, 0x18) == 0xC);
    CHECK(cfg(d.vgpu, 0x20) == 0x1);
    CHECK(cfg(d.vgpu, 0xAC) == 0x0000D005);  // MSI disabled
    CHECK(cfg(d.vgpu, 0xB0) == 0);
    CHECK(cfg(d.vgpu, kDevCtl, AccessSize::word()) == 0x2810);
    CHECK(cfg(d.vgpu, 0x00) == 0x19128086);
    CHECK(d.reg_read(kPvinfoBase).result == TrapResult::Unclaimed);

    // Registers, seen once the guest has placed the BARs again.
    program_bars(d.vgpu);
    CHECK(d.hv.current_windows().size() == 3);
    CHECK(d.vgpu.pio_read(IoPort{kBar4Base}, AccessSize::dword()).value == 0);
    CHECK_FALSE(d.vgpu.pv_aware());
    CHECK(d.reg(0x7004) == 0);
    CHECK(d.reg(kRcsTail) == 0);
    CHECK(d.reg(kRcsMiMode) == kModeIdle);
    CHECK(d.reg(kDisplayReady) == 0);
    CHECK(d.reg(kMasterIrq) == 0);
    CHECK(d.reg(iir(IrqBank::Gt0)) == 0);
    CHECK(d.reg(imr(IrqBank::Gt0)) == 0xFFFFFFFF);
    CHECK(d.reg(ier(IrqBank::Gt0)) == 0);
    CHECK(d.reg(iir(IrqBank::DePipeA)) == 0);
    // PVINFO repopulated.
    CHECK(d.reg_read(kPvinfoBase, AccessSize::qword()).value == pvinfo::kMagicValue);
    CHECK(d.reg(kPvinfoBase + pvinfo::kVgtId) == 3);
    CHECK(d.reg(kPvinfoBase + pvinfo::kCursorXHot) == pvinfo::kCursorHotUnset);
    CHECK(d.vgpu.pv_aware());
    CHECK(d.hv.msis.size() == msis);
    // No event is delivered until the guest sets interrupts and MSI up again.
    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Dropped);
}

TEST_CASE("Initiate FLR always reads 0; the other device control bits are kept", "[reset][pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(cfg(v, kDevCtl, AccessSize::word()) == 0x2810);
    v.config_write(kDevCtl, AccessSize::word(), 0x200F);
    CHECK(cfg(v, kDevCtl, AccessSize::word()) == 0x200F);
    v.config_write(kDevCtl, AccessSize::word(), 0xFFFF);  // FLR plus every other bit
    CHECK(cfg(v, kDevCtl, AccessSize::word()) == 0x2810);
    CHECK(v.counters().device_resets == 1);
    CHECK(cfg(v, 0x7A, AccessSize::word()) == 0);  // device status
}

TEST_CASE("FLR is recognised in any access covering device control's high byte", "[reset][pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0x79, AccessSize::byte(), 0x80);
    CHECK(v.counters().device_resets == 1);
    v.config_write(0x78, AccessSize::dword(), 0x00008000);
    CHECK(v.counters().device_resets == 2);
    v.config_write(0x76, AccessSize::dword(), 0x80000000);  // crosses into device control
    CHECK(v.counters().device_resets == 3);
    v.config_write(0x78, AccessSize::byte(), 0x80);  // low byte: max payload bit, not FLR
    v.config_write(0x7A, AccessSize::word(), 0x8000);
    v.config_write(0x74, AccessSize::dword(), 0x80000000);
    CHECK(v.counters().device_resets == 3);
}

TEST_CASE("every capability is reachable and the list ends at 0", "[reset][pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK((cfg(v, 0x06, AccessSize::word()) & 0x10) != 0);
    std::vector<uint32_t> ids;
    std::set<uint32_t> seen;
    uint32_t at = cfg(v, 0x34, AccessSize::byte());
    while (at != 0) {
        INFO("capability at 0x" << std::hex << at);
        REQUIRE(at >= 0x40);
        REQUIRE(at % 4 == 0);
        REQUIRE(seen.insert(at).second);  // no loop
        ids.push_back(cfg(v, at, AccessSize::byte()));
        at = cfg(v, at + 1, AccessSize::byte());
    }
    CHECK(std::vector<uint32_t>(seen.begin(), seen.end()) ==
          std::vector<uint32_t>{0x70, 0xAC, 0xD0});
    CHECK(ids == std::vector<uint32_t>{0x10, 0x05, 0x01});
    // PCIe: version 2, Root Complex Integrated Endpoint, FLR capable.
    CHECK(cfg(v, 0x72, AccessSize::word()) == 0x0092);
    CHECK((cfg(v, 0x74) & (1u << 28)) != 0);
}

TEST_CASE("class code follows vgt_primary, also across a reset", "[pci]") {
    FakeHypervisor hv;
    Vgpu primary({}, hv);
    CHECK(primary.config().primary);
    CHECK(cfg(primary, 0x08) >> 8 == 0x030000);
    VgpuConfig c;
    c.primary = false;
    Vgpu secondary(c, hv);
    CHECK(cfg(secondary, 0x08) >> 8 == 0x038000);
    secondary.reset(ResetScope::device());
    CHECK(cfg(secondary, 0x08) >> 8 == 0x038000);
    CHECK(secondary.config_write(0x08, AccessSize::dword(), 0) == TrapResult::Handled);
    CHECK(cfg(secondary, 0x08) >> 8 == 0x038000);  // read-only
}

TEST_CASE("vgt_cap must be a percentage and is published as given", "[vgpu]") {
    FakeHypervisor hv;
    CHECK(Vgpu({}, hv).config().cap_percent == 0);
    VgpuConfig c;
    c.cap_percent = 100;
    CHECK(Vgpu(c, hv).config().cap_percent == 100);
    c.cap_percent = 101;
    CHECK_THROWS_AS(Vgpu(c, hv), std::invalid_argument);
    c.cap_percent = ~0u;
    CHECK_THROWS_WITH(Vgpu(c, hv), Catch::Contains("vgt_cap"));
}

TEST_CASE("garbage written to reset registers and device control never injects while MSI is off",
          "[reset][hostile]") {
    IrqVgpu d(false);
    d.enable(IrqBank::Gt0, 0xFFFFFFFF);
    d.master(true);
    std::mt19937 rng(99);
    const uint32_t regs[] = {kGdrst,  kRcsResetCtl, 0x220D0,           0x120D0,
                             0x1A0D0, kMasterIrq,   iir(IrqBank::Gt0), ier(IrqBank::Gt0)};
    for (int i = 0; i < 5000; ++i) {
        const uint32_t value = rng();
        switch (rng() % 4) {
            case 0:
                d.reg_write(regs[rng() % std::size(regs)], value);
                break;
            case 1:  // anywhere in the PCIe capability, any width
                d.vgpu.config_write(0x70 + rng() % 0x3C, AccessSize::byte(), value);
                d.vgpu.config_write(0x70 + rng() % 0x3A, AccessSize::word(), value);
                break;
            case 2:
                d.vgpu.raise_interrupt({static_cast<IrqBank>(rng() % kIrqBankCount), value});
                break;
            default:
                program_bars(d.vgpu);  // an FLR turned decode off; keep writes landing
                d.enable(IrqBank::Gt0, 0xFFFFFFFF);
                d.master(true);
                break;
        }
    }
    CHECK(d.hv.msis.empty());
    CHECK(d.vgpu.counters().msi_raised == 0);
    CHECK(d.vgpu.counters().engine_resets > 0);
    CHECK(d.vgpu.counters().device_resets > 0);
    CHECK(d.reg(kGdrst) == 0);
}
