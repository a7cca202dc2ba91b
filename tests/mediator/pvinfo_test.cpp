#include <catch2/catch.hpp>

#include "mediator/pvinfo.hpp"
#include "test_support.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;

namespace {
constexpr uint32_t kPv = 0x78000;
}  // namespace

TEST_CASE("PVINFO magic reads as one 8-byte access", "[pvinfo]") {
    DecodedVgpu d;
    CHECK_FALSE(d.vgpu.pv_aware());
    TrapRead r = d.reg_read(kPv, AccessSize::qword());
    CHECK(r.result == TrapResult::Handled);
    CHECK(r.value == 0x4776544776544776);
    CHECK(d.vgpu.pv_aware());
}

TEST_CASE("PVINFO version reads as 2-byte accesses", "[pvinfo]") {
    DecodedVgpu d;
    CHECK(d.reg_read(kPv + 0x8, AccessSize::word()).value == 1);
    CHECK(d.reg_read(kPv + 0xA, AccessSize::word()).value == 0);
    CHECK(d.vgpu.pv_aware());
}

TEST_CASE("PVINFO caps announce full PPGTT and HWSP emulation only", "[pvinfo]") {
    DecodedVgpu d;
    CHECK(d.reg_read(kPv + 0x10).value == 0xC);
}

TEST_CASE("PVINFO id and avail_rs come from the config", "[pvinfo]") {
    VgpuConfig config;
    config.vgt_id = 5;
    config.mappable = {GmAddr{MiB(192)}, MiB(128)};
    config.hidden = {GmAddr{MiB(1024)}, MiB(512)};
    config.fences = 8;
    DecodedVgpu d(config);
    CHECK(d.reg_read(kPv + 0x0C).value == 5);
    CHECK(d.reg_read(kPv + 0x40).value == MiB(192));
    CHECK(d.reg_read(kPv + 0x44).value == MiB(128));
    CHECK(d.reg_read(kPv + 0x48).value == MiB(1024));
    CHECK(d.reg_read(kPv + 0x4C).value == MiB(512));
    CHECK(d.reg_read(kPv + 0x50).value == 8);
    CHECK(d.reg_read(kPv + 0x40, AccessSize::qword()).value == (MiB(128) << 32 | MiB(192)));
}

TEST_CASE("PVINFO default avail_rs matches GVT-g's smallest type", "[pvinfo]") {
    DecodedVgpu d;
    CHECK(d.reg_read(kPv + 0x40).value == 0x08000000);
    CHECK(d.reg_read(kPv + 0x44).value == MiB(64));
    CHECK(d.reg_read(kPv + 0x48).value == 0x20000000);
    CHECK(d.reg_read(kPv + 0x4C).value == MiB(384));
    CHECK(d.reg_read(kPv + 0x50).value == 4);
}

TEST_CASE("PVINFO host fields are read-only", "[pvinfo]") {
    DecodedVgpu d;
    LogCapture logs;
    for (uint32_t field : {0x0u, 0x4u, 0x8u, 0xCu, 0x10u, 0x40u, 0x44u, 0x48u, 0x4Cu, 0x50u, 0x100u,
                           0x800u, 0x81Cu, 0x860u, 0xFFCu}) {
        INFO("+0x" << std::hex << field);
        const uint64_t before = d.reg_read(kPv + field).value;
        CHECK(d.reg_write(kPv + field, 0x5A5A5A5A) == TrapResult::Rejected);
        CHECK(d.reg_read(kPv + field).value == before);
    }
    CHECK(d.reg_write(kPv, 0, AccessSize::qword()) == TrapResult::Rejected);
    CHECK(d.reg_write(kPv + 0x8, 2, AccessSize::word()) == TrapResult::Rejected);
    CHECK(d.reg_read(kPv, AccessSize::qword()).value == 0x4776544776544776);
    CHECK(logs.contains("not guest-writable"));
}

TEST_CASE("PVINFO guest fields take guest writes", "[pvinfo]") {
    DecodedVgpu d;
    CHECK(d.reg_read(kPv + 0x830).value == 0xFFFFFFFF);  // cursor hotspots start unset
    CHECK(d.reg_read(kPv + 0x834).value == 0xFFFFFFFF);
    uint32_t value = 0x1000;
    for (uint32_t field = 0x830; field < 0x860; field += 4) {
        INFO("+0x" << std::hex << field);
        CHECK(d.reg_write(kPv + field, value) == TrapResult::Handled);
        CHECK(d.reg_read(kPv + field).value == value);
        ++value;
    }
    CHECK(d.reg_write(kPv + 0x804, 1) == TrapResult::Handled);  // display_ready
    CHECK(d.reg_read(kPv + 0x804).value == 1);
    // A PDP written with one qword store.
    CHECK(d.reg_write(kPv + 0x838, 0x00000001'23456000, AccessSize::qword()) ==
          TrapResult::Handled);
    CHECK(d.reg_read(kPv + 0x838, AccessSize::qword()).value == 0x00000001'23456000);
}

TEST_CASE("PVINFO rsv5 writes are rejected as insufficient resource requests", "[pvinfo]") {
    DecodedVgpu d;
    LogCapture logs;
    for (uint32_t field = 0x808; field < 0x818; field += 4) {
        CHECK(d.reg_write(kPv + field, 1) == TrapResult::Rejected);
        CHECK(d.reg_read(kPv + field).value == 0);
    }
    CHECK(logs.contains("insufficient resource request"));
}

TEST_CASE("PVINFO g2v_notify records known codes and rejects others", "[pvinfo]") {
    DecodedVgpu d;
    CHECK(d.reg_write(kPv + 0x818, 4) == TrapResult::Handled);
    CHECK(d.reg_write(kPv + 0x818, 4) == TrapResult::Handled);
    CHECK(d.reg_write(kPv + 0x818, 5) == TrapResult::Handled);
    CHECK(d.reg_write(kPv + 0x818, 1) == TrapResult::Handled);
    CHECK(d.reg_write(kPv + 0x818, 7) == TrapResult::Handled);
    CHECK(d.reg_read(kPv + 0x818).value == 7);
    CHECK(d.reg_write(kPv + 0x818, 0) == TrapResult::Rejected);
    CHECK(d.reg_write(kPv + 0x818, 8) == TrapResult::Rejected);
    CHECK(d.reg_write(kPv + 0x818, 0xFFFFFFFF) == TrapResult::Rejected);
    CHECK(d.reg_read(kPv + 0x818).value == 7);
    CHECK(d.vgpu.g2v_notify_count(4) == 2);
    CHECK(d.vgpu.g2v_notify_count(5) == 1);
    CHECK(d.vgpu.g2v_notify_count(1) == 1);
    CHECK(d.vgpu.g2v_notify_count(2) == 0);
    CHECK(d.vgpu.g2v_notify_count(0) == 0);
    CHECK(d.vgpu.g2v_notify_count(1000) == 0);
}

TEST_CASE("peeking at PVINFO does not make the guest PV-aware", "[pvinfo]") {
    DecodedVgpu d;
    CHECK(d.vgpu.peek_register(MmioOffset{kPv}) == 0x76544776);
    CHECK_FALSE(d.vgpu.pv_aware());
}
