#include <catch2/catch.hpp>

#include "mediator/pci/config_space.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {

uint64_t cfg(Vgpu& v, uint32_t reg, AccessSize size) {
    TrapRead r = v.config_read(reg, size);
    REQUIRE(r.result == TrapResult::Handled);
    return r.value;
}

}  // namespace

TEST_CASE("config space presents a Skylake GT2 identity from the config", "[pci]") {
    FakeHypervisor hv;
    VgpuConfig config;
    config.device_id = 0x1916;
    config.revision = 0x07;
    Vgpu v(config, hv);

    CHECK(cfg(v, 0x00, AccessSize::word()) == 0x8086);
    CHECK(cfg(v, 0x02, AccessSize::word()) == 0x1916);
    CHECK(cfg(v, 0x08, AccessSize::dword()) == 0x03000007);  // class 0x030000, revision
    CHECK(cfg(v, 0x2C, AccessSize::dword()) == 0x19168086);  // subsystem mirrors identity
    CHECK(cfg(v, 0x0E, AccessSize::byte()) == 0x00);         // header type 0
    CHECK(cfg(v, 0x06, AccessSize::word()) == 0x0010);       // capability list present
    CHECK(cfg(v, 0x34, AccessSize::byte()) == 0x70);         // PCI Express capability first
    CHECK(cfg(v, 0x3D, AccessSize::byte()) == 0x01);         // INTA
    CHECK(cfg(v, 0x50, AccessSize::word()) == 0x00C2);
    CHECK(cfg(v, 0x5C, AccessSize::dword()) == 0);
    CHECK(cfg(v, 0x10, AccessSize::dword()) == 0x4);  // 64-bit memory BAR
    CHECK(cfg(v, 0x18, AccessSize::dword()) == 0xC);  // 64-bit prefetchable
    CHECK(cfg(v, 0x20, AccessSize::dword()) == 0x1);  // I/O BAR
}

TEST_CASE("identity fields ignore writes", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(v.config_write(0x00, AccessSize::dword(), 0x12345678) == TrapResult::Handled);
    CHECK(cfg(v, 0x00, AccessSize::dword()) == 0x19128086);
    v.config_write(0x50, AccessSize::word(), 0);
    CHECK(cfg(v, 0x50, AccessSize::word()) == 0x00C2);
}

TEST_CASE("capability chain is PCI Express then MSI then PM then end", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(cfg(v, 0x70, AccessSize::word()) == 0xAC10);
    CHECK(cfg(v, 0xAC, AccessSize::word()) == 0xD005);
    CHECK(cfg(v, 0xAE, AccessSize::word()) == 0x0000);  // 1 vector, 32-bit, no masking
    CHECK(cfg(v, 0xD0, AccessSize::dword()) == 0x00020001);
    CHECK(cfg(v, 0xD4, AccessSize::word()) == 0x0008);  // D0, NoSoftReset
}

TEST_CASE("capability registers take only their writable bits", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0xAE, AccessSize::word(), 0xFFFF);
    CHECK(cfg(v, 0xAE, AccessSize::word()) == 0x0001);
    v.config_write(0xB0, AccessSize::dword(), 0xFEE01237);
    CHECK(cfg(v, 0xB0, AccessSize::dword()) == 0xFEE01234);
    v.config_write(0xB4, AccessSize::dword(), 0xFFFF4321);
    CHECK(cfg(v, 0xB4, AccessSize::dword()) == 0x4321);
    v.config_write(0xD4, AccessSize::word(), 0xFFFF);
    CHECK(cfg(v, 0xD4, AccessSize::word()) == 0x000B);
    v.config_write(0xFC, AccessSize::dword(), 0x7FFE0000);
    CHECK(cfg(v, 0xFC, AccessSize::dword()) == 0x7FFE0000);
    v.config_write(0xE8, AccessSize::dword(), 0x8001);
    CHECK(cfg(v, 0xE8, AccessSize::dword()) == 0x8001);
}

TEST_CASE("command register keeps only implemented bits", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0x04, AccessSize::word(), 0xFFFF);
    CHECK(cfg(v, 0x04, AccessSize::word()) == 0x0547);
}

TEST_CASE("sub-dword and unaligned config reads see the same bytes", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    // 0x00: 86 80 12 19 ...
    CHECK(cfg(v, 0x01, AccessSize::byte()) == 0x80);
    CHECK(cfg(v, 0x01, AccessSize::word()) == 0x1280);
    CHECK(cfg(v, 0x01, AccessSize::dword()) == 0x00191280);  // last byte: command low
    CHECK(cfg(v, 0x3F, AccessSize::byte()) == 0x00);
    // 0x3E..0x3F: unimplemented, 0x40: unimplemented.
    CHECK(cfg(v, 0x3D, AccessSize::word()) == 0x0001);
    CHECK(cfg(v, 0x11, AccessSize::dword()) == 0);
}

TEST_CASE("unaligned config writes land byte by byte", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    // Bytes 0x3B..0x3E: unimplemented, interrupt line, pin (RO), unimplemented.
    CHECK(v.config_write(0x3B, AccessSize::dword(), 0xAABBCCDD) == TrapResult::Handled);
    CHECK(cfg(v, 0x3C, AccessSize::byte()) == 0xCC);
    CHECK(cfg(v, 0x3D, AccessSize::byte()) == 0x01);
    CHECK(cfg(v, 0x3B, AccessSize::byte()) == 0x00);
    // A word write straddling the two MSI address bytes.
    v.config_write(0xB1, AccessSize::word(), 0xBEEF);
    CHECK(cfg(v, 0xB0, AccessSize::dword()) == 0x00BEEF00);
}

TEST_CASE("unimplemented config bytes read zero and ignore writes", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    LogCapture logs;
    CHECK(v.config_write(0x40, AccessSize::dword(), 0xFFFFFFFF) == TrapResult::Handled);
    CHECK(cfg(v, 0x40, AccessSize::dword()) == 0);
    CHECK(logs.contains("unimplemented"));
}

TEST_CASE("expansion ROM BAR sizes to zero", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    CHECK(v.config_write(0x30, AccessSize::dword(), 0xFFFFF800) == TrapResult::Handled);
    CHECK(cfg(v, 0x30, AccessSize::dword()) == 0);
    v.config_write(0x30, AccessSize::dword(), 0xFFFFFFFF);
    CHECK(cfg(v, 0x30, AccessSize::dword()) == 0);
}

TEST_CASE("config accesses past 0xFF are rejected with all-ones", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    TrapRead r = v.config_read(0xFE, AccessSize::dword());
    CHECK(r.result == TrapResult::Rejected);
    CHECK(r.value == 0xFFFFFFFF);
    CHECK(v.config_read(0x100, AccessSize::byte()).result == TrapResult::Rejected);
    CHECK(v.config_read(0xFFF, AccessSize::byte()).value == 0xFF);
    CHECK(v.config_read(0xFFFFFFFE, AccessSize::dword()).result == TrapResult::Rejected);
    CHECK(v.config_write(0xFD, AccessSize::dword(), 0) == TrapResult::Rejected);
    CHECK(v.config_write(0xFFFFFFFF, AccessSize::word(), 0) == TrapResult::Rejected);
    // The last byte itself is fine.
    CHECK(v.config_read(0xFF, AccessSize::byte()).result == TrapResult::Handled);
    CHECK(v.config_read(0xFC, AccessSize::dword()).result == TrapResult::Handled);
}

TEST_CASE("qword config accesses are rejected", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    TrapRead r = v.config_read(0x00, AccessSize::qword());
    CHECK(r.result == TrapResult::Rejected);
    CHECK(r.value == ~uint64_t{0});
    CHECK(v.config_write(0x00, AccessSize::qword(), 0) == TrapResult::Rejected);
}

TEST_CASE("RW1C bits clear where the write has ones and ignore zeros", "[pci]") {
    // A private table: the vGPU's status register starts with no error bits set.
    using pci::ConfigField;
    const ConfigField fields[] = {
        {0x06, 2, 0xF910, 0, 0xF900, "status"},
    };
    GuestLog log("test");
    pci::ConfigSpace space(fields, log);
    CHECK(space.write(0x07, AccessSize::byte(), 0x81) == TrapResult::Handled);
    CHECK(space.peek(0x06, 2) == 0x7810);
    space.write(0x06, AccessSize::word(), 0x0000);
    CHECK(space.peek(0x06, 2) == 0x7810);
    space.write(0x06, AccessSize::word(), 0xFFFF);
    CHECK(space.peek(0x06, 2) == 0x0010);  // bit 4 is read-only
}

TEST_CASE("vGPU status error bits cannot be set by the guest", "[pci]") {
    FakeHypervisor hv;
    Vgpu v({}, hv);
    v.config_write(0x06, AccessSize::word(), 0xFFFF);
    CHECK(cfg(v, 0x06, AccessSize::word()) == 0x0010);
}
