#include <catch2/catch.hpp>

#include "gpu/model/hw_regs.hpp"
#include "model_rig.hpp"

namespace xengt::gpu::model {
namespace {

using test::Rig;

constexpr uint32_t kRcsUser = 1u << 0;   // GT0 bit 0: render user interrupt (§6.1)
constexpr uint32_t kBcsUser = 1u << 16;  // GT0 bit 16: blitter user interrupt (§6.1)

// A rig with an MSI counter and the GT0 render/blitter user interrupts
// unmasked and enabled, master still disabled.
struct IrqRig : Rig {
    int msis = 0;
    IrqRig() {
        gpu.set_interrupt_handler([this] { ++msis; });
        wr(hw::gt_imr(0), ~(kRcsUser | kBcsUser));
        wr(hw::gt_ier(0), kRcsUser | kBcsUser);
    }
};

TEST_CASE("An unmasked event latches into IIR, which is write-1-to-clear", "[gpu][model][irq]") {
    IrqRig rig;
    rig.gpu.raise_gt_interrupt(0, kRcsUser | kBcsUser);
    CHECK(rig.rd(hw::gt_iir(0)) == (kRcsUser | kBcsUser));
    rig.wr(hw::gt_iir(0), 0);  // zeros clear nothing
    CHECK(rig.rd(hw::gt_iir(0)) == (kRcsUser | kBcsUser));
    rig.wr(hw::gt_iir(0), kRcsUser);
    CHECK(rig.rd(hw::gt_iir(0)) == kBcsUser);
    rig.wr(hw::gt_iir(0), kBcsUser);
    CHECK(rig.rd(hw::gt_iir(0)) == 0);
}

TEST_CASE("An event masked in IMR does not latch into IIR", "[gpu][model][irq]") {
    IrqRig rig;
    rig.gpu.raise_gt_interrupt(0, 1u << 8);  // context switch: still masked
    CHECK(rig.rd(hw::gt_iir(0)) == 0);
    CHECK(rig.rd(hw::gt_isr(0)) == 0);  // events are pulses
}

TEST_CASE("MASTER_IRQ reports the pending level-1 banks and keeps only bit 31 of writes",
          "[gpu][model][irq]") {
    IrqRig rig;
    rig.wr(hw::gt_imr(1), 0);
    rig.wr(hw::gt_ier(1), 0xFFFFFFFF);
    rig.wr(hw::gt_imr(3), 0);
    rig.wr(hw::gt_ier(3), 0xFFFFFFFF);
    CHECK(rig.rd(hw::kMasterIrq) == 0);
    rig.wr(hw::kMasterIrq, 0x7FFFFFFF);  // level-1 bits are status
    CHECK(rig.rd(hw::kMasterIrq) == 0);
    rig.gpu.raise_gt_interrupt(0, kBcsUser);
    CHECK(rig.rd(hw::kMasterIrq) == 1u << 1);  // GT0 high half → BCS
    rig.gpu.raise_gt_interrupt(1, 1u << 16);
    rig.gpu.raise_gt_interrupt(3, 1u << 0);
    CHECK(rig.rd(hw::kMasterIrq) == (1u << 1 | 1u << 3 | 1u << 6));  // + VCS2, VECS
    rig.wr(hw::gt_iir(1), 0xFFFFFFFF);
    CHECK(rig.rd(hw::kMasterIrq) == (1u << 1 | 1u << 6));
    rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
    CHECK(rig.rd(hw::kMasterIrq) == (hw::kMasterIrqControl | 1u << 1 | 1u << 6));
}

TEST_CASE("A latched bit disabled in IER is not pending at level 1", "[gpu][model][irq]") {
    IrqRig rig;
    rig.wr(hw::gt_ier(0), kBcsUser);
    rig.gpu.raise_gt_interrupt(0, kRcsUser);
    CHECK(rig.rd(hw::gt_iir(0)) == kRcsUser);
    CHECK(rig.rd(hw::kMasterIrq) == 0);
}

TEST_CASE("An interrupt is delivered only when master-enabled, unmasked and enabled",
          "[gpu][model][irq]") {
    IrqRig rig;
    SECTION("master disabled: no MSI") {
        rig.gpu.raise_gt_interrupt(0, kRcsUser);
        CHECK(rig.msis == 0);
    }
    SECTION("masked event: no MSI") {
        rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
        rig.gpu.raise_gt_interrupt(0, 1u << 8);
        CHECK(rig.msis == 0);
    }
    SECTION("unmasked but not enabled in IER: no MSI") {
        rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
        rig.wr(hw::gt_ier(0), 0);
        rig.gpu.raise_gt_interrupt(0, kRcsUser);
        CHECK(rig.msis == 0);
    }
    SECTION("master enabled, unmasked, enabled: one MSI per event") {
        rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
        rig.gpu.raise_gt_interrupt(0, kRcsUser);
        CHECK(rig.msis == 1);
        rig.gpu.raise_gt_interrupt(0, kBcsUser);
        CHECK(rig.msis == 2);
        CHECK(rig.gpu.interrupts_delivered() == 2);
    }
}

TEST_CASE("Enabling the master with a bank pending delivers the held interrupt",
          "[gpu][model][irq]") {
    IrqRig rig;
    rig.gpu.raise_gt_interrupt(0, kRcsUser);
    CHECK(rig.msis == 0);
    rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
    CHECK(rig.msis == 1);
    rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);  // already asserted: no new MSI
    CHECK(rig.msis == 1);
}

TEST_CASE("An i915-style handler can service the interrupt from inside the MSI callback",
          "[gpu][model][irq]") {
    IrqRig rig;
    uint32_t seen_iir = 0;
    int calls = 0;
    // gen8_irq_handler: master off, read level 1, read+ack IIR, master on.
    rig.gpu.set_interrupt_handler([&] {
        ++calls;
        rig.wr(hw::kMasterIrq, 0);
        if ((rig.rd(hw::kMasterIrq) & 1u) != 0) {
            seen_iir = rig.rd(hw::gt_iir(0));
            rig.wr(hw::gt_iir(0), seen_iir);
        }
        rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
    });
    rig.wr(hw::kMasterIrq, hw::kMasterIrqControl);
    rig.gpu.raise_gt_interrupt(0, kRcsUser);
    CHECK(calls == 1);
    CHECK(seen_iir == kRcsUser);
    CHECK(rig.rd(hw::gt_iir(0)) == 0);
    CHECK(rig.rd(hw::kMasterIrq) == hw::kMasterIrqControl);
}

}  // namespace
}  // namespace xengt::gpu::model
