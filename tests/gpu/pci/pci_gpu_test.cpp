// PciGpu against a fake sysfs tree: identity, refusals, registers, GGTT.
#include <catch2/catch.hpp>

#include "fake_sysfs.hpp"
#include "gpu/pci/pci_gpu.hpp"

using namespace xengt;
using namespace xengt::gpu;
using namespace xengt::gpu::pci;
using namespace xengt::gpu::pci::test;
using Catch::Matchers::Contains;

TEST_CASE("identity is parsed from config space, resource and MGGC") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root());
    const GpuIdentity& id = gpu.identity();
    CHECK(id.vendor_id == 0x8086);
    CHECK(id.device_id == 0x1912);
    CHECK(id.revision == 0x06);
    CHECK(id.mmio_bar_bytes == MiB(16));
    CHECK(id.aperture_bytes == MiB(256));
    CHECK(id.ggtt_bytes == GiB(4));     // GGMS 3: 8 MiB table, 1 Mi entries
    CHECK(id.stolen_bytes == MiB(64));  // GMS 2 * 32 MiB
    CHECK(gpu.ggtt_entries() == (uint64_t{1} << 20));
    CHECK(gpu.aperture() != nullptr);
    CHECK_FALSE(gpu.capture_primary_plane().has_value());
}

TEST_CASE("MGGC decoding follows the Gen8/Gen9 tables") {
    CHECK(ggtt_bytes_from_mggc(0) == 0);
    CHECK(ggtt_bytes_from_mggc(1 << 6) == GiB(1));
    CHECK(ggtt_bytes_from_mggc(2 << 6) == GiB(2));
    CHECK(ggtt_bytes_from_mggc(3 << 6) == GiB(4));
    CHECK(stolen_bytes_from_mggc(0x0000) == 0);
    CHECK(stolen_bytes_from_mggc(0x0100) == MiB(32));
    CHECK(stolen_bytes_from_mggc(0xEF00) == MiB(32) * 0xEF);
    CHECK(stolen_bytes_from_mggc(0xF000) == MiB(4));
    CHECK(stolen_bytes_from_mggc(0xF100) == MiB(8));
    CHECK(stolen_bytes_from_mggc(0xFE00) == MiB(60));
}

TEST_CASE("absent BAR2 means no aperture") {
    FakeSpec spec;
    spec.bar2_bytes = 0;
    FakeDevice dev(spec);
    PciGpu gpu(kBdf, dev.root());
    CHECK(gpu.identity().aperture_bytes == 0);
    CHECK(gpu.aperture() == nullptr);
}

TEST_CASE("a non-Intel vendor is refused naming the vendor file") {
    FakeSpec spec;
    spec.vendor_text = "0x10de\n";
    FakeDevice dev(spec);
    REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()),
                        Contains(kBdf) && Contains("/vendor") && Contains("not Intel"));
}

TEST_CASE("a non-display class is refused naming the class file") {
    FakeSpec spec;
    spec.class_text = "0x020000\n";
    FakeDevice dev(spec);
    REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()),
                        Contains("/class") && Contains("not a display controller"));
}

TEST_CASE("a BAR0 smaller than 16 MiB is refused naming the resource file") {
    FakeSpec spec;
    spec.bar0_bytes = MiB(4);
    FakeDevice dev(spec);
    REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()), Contains("/resource:") && Contains("16 MiB"));
}

TEST_CASE("config space disagreeing with the vendor file is refused") {
    FakeSpec spec;
    spec.config_vendor = 0x1234;
    FakeDevice dev(spec);
    REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()), Contains("/config") && Contains("0x1234"));
}

TEST_CASE("each missing file is refused with its name and errno") {
    for (const char* name : {"vendor", "class", "config", "resource", "resource0", "resource2"}) {
        FakeDevice dev;
        dev.remove(name);
        INFO(name);
        REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()),
                            Contains(std::string("/") + name + ":") && Contains("errno 2"));
    }
}

TEST_CASE("a missing device directory and a bad BDF are refused") {
    FakeDevice dev;
    REQUIRE_THROWS_WITH(PciGpu("0000:00:03.0", dev.root()), Contains("no such PCI device"));
    REQUIRE_THROWS_WITH(PciGpu("../../etc", dev.root()), Contains("SSSS:BB:DD.F"));
}

TEST_CASE("malformed sysfs files are refused, not crashed on") {
    SECTION("vendor") {
        FakeDevice dev;
        dev.write_text("vendor", "intel\n");
        REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()), Contains("/vendor") && Contains("0x<hex>"));
    }
    SECTION("resource line") {
        FakeDevice dev;
        dev.write_text("resource", "0x0 0xzz 0x0\n0x0 0x0 0x0\n0x0 0x0 0x0\n");
        REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()),
                            Contains("/resource") && Contains("malformed line 1"));
    }
    SECTION("resource too short") {
        FakeDevice dev;
        dev.write_text("resource", "0x0 0x0 0x0\n");
        REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()), Contains("need at least 3"));
    }
    SECTION("resource0 shorter than the BAR") {
        FakeSpec spec;
        spec.resource0_file_bytes = MiB(1);
        FakeDevice dev(spec);
        REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()),
                            Contains("/resource0") && Contains("BAR needs"));
    }
    SECTION("truncated config") {
        FakeDevice dev;
        std::filesystem::resize_file(dev.dir() / "config", 64);
        REQUIRE_THROWS_WITH(PciGpu(kBdf, dev.root()), Contains("/config") && Contains("64 bytes"));
    }
}

TEST_CASE("32-bit register writes land in resource0 and read back") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root());
    gpu.write32(MmioOffset{0x2030}, 0xdeadbeef);
    CHECK(dev.peek("resource0", 0x2030, 4) == 0xdeadbeef);
    CHECK(gpu.read32(MmioOffset{0x2030}) == 0xdeadbeef);
    dev.poke("resource0", 0x1FFFFC, 0x12345678, 4);  // last dword of the window
    CHECK(gpu.read32(MmioOffset{0x1FFFFC}) == 0x12345678);
}

TEST_CASE("64-bit register access is one qword at the offset") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root());
    gpu.write64(MmioOffset{0x4400}, 0x0123456789abcdefull);
    CHECK(dev.peek("resource0", 0x4400, 8) == 0x0123456789abcdefull);
    CHECK(gpu.read32(MmioOffset{0x4400}) == 0x89abcdef);
    CHECK(gpu.read32(MmioOffset{0x4404}) == 0x01234567);
    CHECK(gpu.read64(MmioOffset{0x4400}) == 0x0123456789abcdefull);
}

TEST_CASE("register offsets outside the 2 MiB window or misaligned are refused") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root());
    CHECK_THROWS_AS(gpu.read32(MmioOffset{0x200000}), std::out_of_range);
    CHECK_THROWS_AS(gpu.write32(MmioOffset{0x800000}, 1), std::out_of_range);
    CHECK_THROWS_AS(gpu.read64(MmioOffset{0x1FFFFC}), std::out_of_range);
    CHECK_THROWS_AS(gpu.write32(MmioOffset{0x2002}, 1), std::out_of_range);
    CHECK_THROWS_WITH(gpu.read32(MmioOffset{0xFFFFFFFF}), Contains(kBdf));
}

TEST_CASE("a GGTT write lands at 8 MiB + 8 * index and flushes") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root());
    const GgttEntry e = GgttEntry::map(HostFrame{0x12345});
    gpu.write_ggtt(5, e);
    CHECK(dev.peek("resource0", MiB(8) + 8 * 5, 8) == e.raw);
    CHECK(gpu.read_ggtt(5).frame() == HostFrame{0x12345});
    CHECK(gpu.read_ggtt(5).present());
    CHECK(dev.peek("resource0", kGfxFlushCntl, 4) == 1);
    const uint64_t last = gpu.ggtt_entries() - 1;
    gpu.write_ggtt(last, e);
    CHECK(dev.peek("resource0", MiB(8) + 8 * last, 8) == e.raw);
}

TEST_CASE("out-of-range GGTT indices are refused") {
    FakeSpec spec;
    spec.mggc = 1 << 6;  // 2 MiB table: 256 Ki entries
    FakeDevice dev(spec);
    PciGpu gpu(kBdf, dev.root());
    REQUIRE(gpu.ggtt_entries() == 256 * 1024);
    CHECK_THROWS_AS(gpu.write_ggtt(256 * 1024, GgttEntry{}), std::out_of_range);
    CHECK_THROWS_AS(gpu.read_ggtt(~uint64_t{0}), std::out_of_range);
    CHECK_NOTHROW(gpu.read_ggtt(256 * 1024 - 1));
}

TEST_CASE("no GGTT (GGMS 0) refuses every index") {
    FakeSpec spec;
    spec.mggc = 0;
    FakeDevice dev(spec);
    PciGpu gpu(kBdf, dev.root());
    CHECK(gpu.ggtt_entries() == 0);
    CHECK_THROWS_AS(gpu.read_ggtt(0), std::out_of_range);
}
