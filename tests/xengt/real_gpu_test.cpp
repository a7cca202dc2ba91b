// RealGpuPrerequisites: xengtd's check before it would serve guests on a real
// GPU. The module comes first, and its absence is named as such.
#include <catch2/catch.hpp>

#include <cerrno>
#include <string>

#include "tests/gpu/pci/fake_sysfs.hpp"
#include "xengt/daemon/real_gpu.hpp"

using namespace xengt;
using gpu::pci::test::FakeDevice;

namespace {

constexpr const char* kBdf = "0000:00:02.0";

}  // namespace

TEST_CASE("without the xengt-mfn module no real GPU is opened, and the error says why",
          "[xengt][real-gpu]") {
    FakeDevice dev;  // a usable GPU: the module alone is missing
    daemon::RealGpuPaths paths{"/nonexistent/xengt-mfn", dev.root()};
    try {
        daemon::RealGpuPrerequisites real(kBdf, paths);
        FAIL("opened a real GPU without the module");
    } catch (const xen::MachineFrameError& e) {
        CHECK(e.error_number() == ENOENT);
        CHECK(std::string(e.what()).find("the xengt-mfn kernel module is not loaded") !=
              std::string::npos);
    }
    // Nothing of the GPU was touched: its command register is as it was.
    CHECK(dev.peek("config", 0x04, 2) == 0);
}

TEST_CASE("with the module, a missing or foreign device is the error", "[xengt][real-gpu]") {
    FakeDevice dev;
    // /dev/null stands in for the module's device: only opening it matters here.
    daemon::RealGpuPaths paths{"/dev/null", dev.root()};
    CHECK_THROWS_AS(daemon::RealGpuPrerequisites("0000:00:03.0", paths), gpu::pci::PciError);
    daemon::RealGpuPrerequisites real(kBdf, paths);
    CHECK(real.gpu().identity().device_id == 0x1912);
}
