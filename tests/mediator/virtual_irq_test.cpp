// The virtual two-level interrupt scheme and its delivery rule (intel-gpu.md §6.2).
#include <catch2/catch.hpp>

#include <random>

#include "irq_test_support.hpp"
#include "mediator/display/display_ports.hpp"
#include "mediator/mmio/mmio_table.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

TEST_CASE("an enabled event with the master on sends one MSI as programmed", "[irq]") {
    IrqVgpu d;
    d.enable(IrqBank::Gt0, kIrqUserInterrupt);
    d.master(true);
    CHECK(d.hv.msis.empty());

    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Delivered);
    REQUIRE(d.hv.msis.size() == 1);
    CHECK(d.hv.msis[0].address == kMsiAddress);
    CHECK(d.hv.msis[0].data == kMsiData);
    CHECK(d.reg(iir(IrqBank::Gt0)) == kIrqUserInterrupt);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | 1u));  // level-1 bit 0: RCS
    CHECK(d.vgpu.counters().msi_raised == 1);
    CHECK(d.vgpu.counters().msi_suppressed_disabled == 0);
}

TEST_CASE("interrupt banks start masked and disabled", "[irq]") {
    IrqVgpu d;
    for (unsigned b = 0; b < kIrqBankCount; ++b) {
        const auto bank = static_cast<IrqBank>(b);
        INFO("bank " << b);
        // SDEISR shows the virtual monitor's live hotplug state (port D).
        CHECK(d.reg(isr(bank)) == (bank == IrqBank::Pch ? display::kSdePortDHotplug : 0));
        CHECK(d.reg(imr(bank)) == 0xFFFFFFFF);
        CHECK(d.reg(iir(bank)) == 0);
        CHECK(d.reg(ier(bank)) == 0);
    }
    CHECK(d.reg(kMasterIrq) == 0);
    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Dropped);
}

TEST_CASE("an event masked in IMR is not latched, and unmasking later does not revive it",
          "[irq]") {
    IrqVgpu d;
    d.set(ier(IrqBank::Gt0), kIrqUserInterrupt);  // enabled, but still masked
    d.master(true);
    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Dropped);
    CHECK(d.reg(iir(IrqBank::Gt0)) == 0);
    d.set(imr(IrqBank::Gt0), ~kIrqUserInterrupt);
    CHECK(d.reg(iir(IrqBank::Gt0)) == 0);
    CHECK(d.hv.msis.empty());
    // Only the unmasked bits of a multi-bit event are latched.
    CHECK(d.vgpu.raise_interrupt({IrqBank::Gt0, kIrqUserInterrupt | kIrqContextSwitch}) ==
          IrqOutcome::Delivered);
    CHECK(d.reg(iir(IrqBank::Gt0)) == kIrqUserInterrupt);
}

TEST_CASE("an event not enabled in IER is latched silently; enabling IER delivers it", "[irq]") {
    IrqVgpu d;
    d.set(imr(IrqBank::Gt0), 0);
    d.master(true);
    CHECK(d.vgpu.raise_interrupt(kRenderContextSwitch) == IrqOutcome::Latched);
    CHECK(d.reg(iir(IrqBank::Gt0)) == kIrqContextSwitch);
    CHECK(d.reg(kMasterIrq) == kMasterEnable);  // latched but not pending
    CHECK(d.hv.msis.empty());

    d.set(ier(IrqBank::Gt0), kIrqContextSwitch);
    CHECK(d.hv.msis.size() == 1);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | 1u));
    // Enabling more bits while already pending changes nothing.
    d.set(ier(IrqBank::Gt0), 0xFFFFFFFF);
    CHECK(d.hv.msis.size() == 1);
}

TEST_CASE("master disabled suppresses delivery; enabling it with something pending sends one MSI",
          "[irq]") {
    IrqVgpu d;
    d.enable(IrqBank::Gt0, kIrqUserInterrupt);
    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Latched);
    CHECK(d.hv.msis.empty());
    CHECK(d.reg(kMasterIrq) == 1u);  // status is visible with the master off
    d.master(true);
    CHECK(d.hv.msis.size() == 1);
    d.master(true);  // already on: the condition did not change
    CHECK(d.hv.msis.size() == 1);
}

TEST_CASE("i915's handler sequence loses no event that arrives while it runs", "[irq]") {
    IrqVgpu d;
    d.enable(IrqBank::Gt0, kIrqUserInterrupt | kIrqContextSwitch);
    d.master(true);
    REQUIRE(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Delivered);

    // Handler: master off, read level 1, read and ack the bank...
    d.master(false);
    CHECK(d.reg(kMasterIrq) == 1u);
    const uint32_t identity = d.reg(iir(IrqBank::Gt0));
    CHECK(identity == kIrqUserInterrupt);
    d.set(iir(IrqBank::Gt0), identity);
    // ...an event arrives before it re-enables the master...
    CHECK(d.vgpu.raise_interrupt(kRenderContextSwitch) == IrqOutcome::Latched);
    d.master(true);
    // ...and is delivered when it does.
    CHECK(d.hv.msis.size() == 2);

    // A handler run with nothing new arriving ends without another MSI.
    d.master(false);
    d.set(iir(IrqBank::Gt0), d.reg(iir(IrqBank::Gt0)));
    d.master(true);
    CHECK(d.hv.msis.size() == 2);
    CHECK(d.reg(kMasterIrq) == kMasterEnable);
}

TEST_CASE("IIR is write-1-to-clear for the bytes written only", "[irq]") {
    IrqVgpu d;
    d.set(imr(IrqBank::Gt0), 0);
    const uint32_t bits = kIrqUserInterrupt | kIrqContextSwitch | (kIrqUserInterrupt << 16);
    d.vgpu.raise_interrupt({IrqBank::Gt0, bits});
    REQUIRE(d.reg(iir(IrqBank::Gt0)) == bits);

    d.set(iir(IrqBank::Gt0), 0);  // zeros clear nothing
    CHECK(d.reg(iir(IrqBank::Gt0)) == bits);
    d.set(iir(IrqBank::Gt0), kIrqContextSwitch);
    CHECK(d.reg(iir(IrqBank::Gt0)) == (kIrqUserInterrupt | (kIrqUserInterrupt << 16)));
    // A byte write to byte 2 clears bit 16 only, whatever the other bytes hold.
    CHECK(d.reg_write(iir(IrqBank::Gt0) + 2, 0x01, AccessSize::byte()) == TrapResult::Handled);
    CHECK(d.reg(iir(IrqBank::Gt0)) == kIrqUserInterrupt);
    // Writing ones never sets a bit.
    d.set(iir(IrqBank::Gt0), 0xFFFFFFFF);
    CHECK(d.reg(iir(IrqBank::Gt0)) == 0);
}

TEST_CASE("clearing one pending bit while another stays keeps the condition and sends nothing",
          "[irq]") {
    IrqVgpu d;
    d.enable(IrqBank::Gt0, kIrqUserInterrupt | kIrqContextSwitch);
    d.enable(IrqBank::DePipeA, 1u);
    d.master(true);
    d.vgpu.raise_interrupt(kRenderUserInterrupt);
    d.vgpu.raise_interrupt(kRenderContextSwitch);  // merges into the pending bank: one more MSI
    d.vgpu.raise_interrupt(kPipeAVblank);
    CHECK(d.hv.msis.size() == 3);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | 1u | (1u << 16)));

    d.set(iir(IrqBank::Gt0), kIrqUserInterrupt);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | 1u | (1u << 16)));
    d.set(iir(IrqBank::Gt0), kIrqContextSwitch);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | (1u << 16)));
    d.set(iir(IrqBank::DePipeA), 1u);
    CHECK(d.reg(kMasterIrq) == kMasterEnable);
    CHECK(d.hv.msis.size() == 3);
}

TEST_CASE("an event already set in IIR merges into it: one bit, cleared once", "[irq]") {
    IrqVgpu d;
    d.enable(IrqBank::Gt0, kIrqUserInterrupt);
    d.master(true);
    d.vgpu.raise_interrupt(kRenderUserInterrupt);
    d.vgpu.raise_interrupt(kRenderUserInterrupt);
    CHECK(d.hv.msis.size() == 2);  // rule 3: one MSI per event
    d.set(iir(IrqBank::Gt0), kIrqUserInterrupt);
    CHECK(d.reg(iir(IrqBank::Gt0)) == 0);  // no second copy queued behind it
}

TEST_CASE("writes to GEN8_MASTER_IRQ change only bit 31", "[irq]") {
    IrqVgpu d;
    d.set(kMasterIrq, 0x7FFFFFFF);
    CHECK(d.reg(kMasterIrq) == 0);
    d.set(kMasterIrq, 0xFFFFFFFF);
    CHECK(d.reg(kMasterIrq) == kMasterEnable);
    CHECK(d.vgpu.peek_register(MmioOffset{kMasterIrq}) == kMasterEnable);
    CHECK(d.hv.msis.empty());
}

TEST_CASE(
    "MSI disabled in config: state stays pending, nothing is injected, and a later trigger "
    "delivers once MSI is on",
    "[irq]") {
    IrqVgpu d(false);
    d.enable(IrqBank::Gt0, kIrqUserInterrupt);
    d.master(true);
    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Suppressed);
    CHECK(d.hv.msis.empty());
    CHECK(d.reg(iir(IrqBank::Gt0)) == kIrqUserInterrupt);
    CHECK(d.reg(kMasterIrq) == (kMasterEnable | 1u));
    CHECK(d.vgpu.counters().msi_suppressed_disabled == 1);

    d.set_msi(true);  // enabling MSI alone is not an event
    CHECK(d.hv.msis.empty());
    CHECK(d.vgpu.raise_interrupt(kRenderUserInterrupt) == IrqOutcome::Delivered);
    CHECK(d.hv.msis.size() == 1);
    // Re-arming the master also re-triggers the pending condition.
    d.master(false);
    d.master(true);
    CHECK(d.hv.msis.size() == 2);
    CHECK(d.vgpu.counters().msi_raised == 2);
}

TEST_CASE("each bank lights its own GEN8_MASTER_IRQ bit", "[irq]") {
    struct Case {
        IrqBank bank;
        uint32_t bits;
        uint32_t level1;  // 0: no level-1 bit, so no delivery
    };
    const Case cases[] = {
        {IrqBank::Gt0, 0x0001, 1u << 0},    {IrqBank::Gt0, 0x10000, 1u << 1},
        {IrqBank::Gt1, 0x0100, 1u << 2},    {IrqBank::Gt1, 0x80000000, 1u << 3},
        {IrqBank::Gt2, 0x0010, 1u << 4},    {IrqBank::Gt2, 0x00100000, 1u << 5},
        {IrqBank::Gt3, 0x0001, 1u << 6},    {IrqBank::Gt3, 0x00010000, 0},
        {IrqBank::DePipeA, 0x1, 1u << 16},  {IrqBank::DePipeB, 0x80000000, 1u << 17},
        {IrqBank::DePipeC, 0x8, 1u << 18},  {IrqBank::DePort, 1u << 25, 1u << 20},
        {IrqBank::DeMisc, 0x1, 1u << 22},   {IrqBank::Pcu, 0x1, 1u << 30},
        {IrqBank::Pch, 1u << 17, 1u << 23},
    };
    for (const Case& c : cases) {
        INFO("bank " << static_cast<unsigned>(c.bank) << " bits 0x" << std::hex << c.bits);
        IrqVgpu d;
        d.enable(c.bank, 0xFFFFFFFF);
        d.master(true);
        const IrqOutcome out = d.vgpu.raise_interrupt({c.bank, c.bits});
        CHECK(out == (c.level1 != 0 ? IrqOutcome::Delivered : IrqOutcome::Latched));
        CHECK(d.reg(kMasterIrq) == (kMasterEnable | c.level1));
        CHECK(d.hv.msis.size() == (c.level1 != 0 ? 1u : 0u));
    }
}

TEST_CASE("every interrupt bank has its four table rows", "[irq][mmio]") {
    for (unsigned b = 0; b < kIrqBankCount; ++b) {
        const auto bank = static_cast<IrqBank>(b);
        INFO("bank " << b);
        REQUIRE(irq::bank_base(bank) != 0);
        const mmio::MmioRow* status = mmio::find_mmio_row(isr(bank));
        REQUIRE(status != nullptr);
        CHECK(status->policy == mmio::RegPolicy::ReadOnly);
        if (bank == IrqBank::Pch) {  // plus the monitor's live state
            CHECK(status->read == &display::sde_isr_read);
        }
        for (uint32_t off : {imr(bank), iir(bank), ier(bank)}) {
            const mmio::MmioRow* row = mmio::find_mmio_row(off);
            REQUIRE(row != nullptr);
            CHECK(row->offset == off);
            CHECK(row->write == &irq::bank_write);
        }
    }
    const mmio::MmioRow* master = mmio::find_mmio_row(kMasterIrq);
    REQUIRE(master != nullptr);
    CHECK(master->read == &irq::master_read);
    CHECK(master->write == &irq::master_write);
}

TEST_CASE("an event for no bank changes nothing", "[irq]") {
    IrqVgpu d;
    d.master(true);
    CHECK(d.vgpu.raise_interrupt({static_cast<IrqBank>(kIrqBankCount), 1}) == IrqOutcome::Invalid);
    CHECK(d.vgpu.raise_interrupt({static_cast<IrqBank>(0xFF), ~0u}) == IrqOutcome::Invalid);
    CHECK(d.reg(kMasterIrq) == kMasterEnable);
    CHECK(d.hv.msis.empty());
    CHECK(std::string(to_string(IrqOutcome::Suppressed)) == "suppressed");
}

TEST_CASE("ISR is read-only status", "[irq]") {
    IrqVgpu d;
    CHECK(d.reg_write(isr(IrqBank::Gt0), 0xFFFFFFFF) == TrapResult::Rejected);
    CHECK(d.reg(isr(IrqBank::Gt0)) == 0);
}

TEST_CASE("garbage written to every interrupt register never injects while MSI is disabled",
          "[irq][hostile]") {
    IrqVgpu d(false);
    std::mt19937 rng(1234);
    std::vector<uint32_t> offsets{kMasterIrq};
    for (unsigned b = 0; b < kIrqBankCount; ++b) {
        for (uint32_t r = 0; r < irq::kBankRegs; r += 4) {
            offsets.push_back(irq::bank_base(static_cast<IrqBank>(b)) + r);
        }
    }
    const AccessSize sizes[] = {AccessSize::byte(), AccessSize::word(), AccessSize::dword(),
                                AccessSize::qword()};
    for (int i = 0; i < 20000; ++i) {
        const uint32_t off = offsets[rng() % offsets.size()];
        const AccessSize size = sizes[rng() % 4];
        const uint32_t at = off + (static_cast<uint32_t>(rng()) & 7 & ~(size.bytes() - 1));
        const uint64_t value = (uint64_t{rng()} << 32) | rng();
        if (rng() % 2 != 0) {
            d.reg_write(at, value, size);
        } else {
            d.reg_read(at, size);
        }
        if (rng() % 8 == 0) {
            d.vgpu.raise_interrupt(
                {static_cast<IrqBank>(rng() % (kIrqBankCount + 2)), static_cast<uint32_t>(rng())});
        }
    }
    CHECK(d.hv.msis.empty());
    CHECK(d.vgpu.counters().msi_raised == 0);
    CHECK(d.vgpu.counters().msi_suppressed_disabled > 0);  // it did try
}
