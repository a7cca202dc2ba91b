// PciGpu interrupts through a fake uio FIFO, and the GDRST engine reset.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "fake_sysfs.hpp"
#include "gpu/pci/pci_gpu.hpp"

using namespace std::chrono_literals;
using namespace xengt;
using namespace xengt::gpu;
using namespace xengt::gpu::pci;
using namespace xengt::gpu::pci::test;
using Catch::Matchers::Contains;

namespace {

// Counts handler calls; waits for a count with a bound.
struct IrqCounter {
    std::mutex mu;
    std::condition_variable cv;
    int calls = 0;
    void hit() {
        std::lock_guard lock(mu);
        ++calls;
        cv.notify_all();
    }
    bool wait_for(int n) {
        std::unique_lock lock(mu);
        return cv.wait_for(lock, 5s, [&] { return calls >= n; });
    }
};

// The writer end of the fake /dev/uio0; opened after PciGpu opened the reader.
struct FifoWriter {
    int fd;
    explicit FifoWriter(const std::filesystem::path& p)
        : fd(::open(p.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) {}
    ~FifoWriter() {
        if (fd >= 0) {
            ::close(fd);
        }
    }
    bool raise(uint32_t count) const { return ::write(fd, &count, 4) == 4; }
};

constexpr uint64_t kCommandHi = 0x05;
constexpr uint64_t kIntxDisableHi = 1u << 2;  // command bit 10

}  // namespace

TEST_CASE("an interrupt calls the handler and then clears INTx disable") {
    FakeSpec spec;
    spec.uio = true;
    FakeDevice dev(spec);
    dev.poke("config", 0x04, 0x0006, 2);                // MEM | BUS_MASTER
    dev.poke("config", kCommandHi, kIntxDisableHi, 1);  // masked, as uio leaves it
    PciGpu gpu(kBdf, dev.root());
    IrqCounter counter;
    gpu.set_interrupt_handler([&] { counter.hit(); });
    FifoWriter w(dev.uio_dev());
    REQUIRE(w.fd >= 0);

    REQUIRE(w.raise(1));
    REQUIRE(counter.wait_for(1));
    // The unmask follows the handler; a second interrupt's handler runs only
    // after the first unmask, so by then the bit must be clear.
    REQUIRE(w.raise(2));
    REQUIRE(counter.wait_for(2));
    CHECK((dev.peek("config", kCommandHi, 1) & kIntxDisableHi) == 0);
    CHECK(dev.peek("config", 0x04, 1) == 0x06);  // other command bits untouched
    CHECK(gpu.interrupt_error().empty());
}

TEST_CASE("a second set_interrupt_handler swaps the handler") {
    FakeSpec spec;
    spec.uio = true;
    FakeDevice dev(spec);
    PciGpu gpu(kBdf, dev.root());
    IrqCounter first, second;
    gpu.set_interrupt_handler([&] { first.hit(); });
    gpu.set_interrupt_handler([&] { second.hit(); });
    FifoWriter w(dev.uio_dev());
    REQUIRE(w.raise(1));
    REQUIRE(second.wait_for(1));
    CHECK(first.calls == 0);
}

TEST_CASE("the destructor stops the interrupt thread promptly") {
    FakeSpec spec;
    spec.uio = true;
    FakeDevice dev(spec);
    auto gpu = std::make_unique<PciGpu>(kBdf, dev.root());
    IrqCounter counter;
    gpu->set_interrupt_handler([&] { counter.hit(); });
    FifoWriter w(dev.uio_dev());  // a live writer: the thread sits in poll()
    REQUIRE(w.raise(1));
    REQUIRE(counter.wait_for(1));
    const auto t0 = std::chrono::steady_clock::now();
    gpu.reset();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
}

TEST_CASE("without a uio binding set_interrupt_handler says to bind uio_pci_generic") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root());
    REQUIRE_THROWS_WITH(gpu.set_interrupt_handler([] {}),
                        Contains(kBdf) && Contains("/uio") && Contains("uio_pci_generic"));
}

TEST_CASE("GDRST bits per engine follow the documented layout") {
    CHECK(gdrst_bit(Engine::Render) == 0x2);
    CHECK(gdrst_bit(Engine::Video) == 0x4);
    CHECK(gdrst_bit(Engine::Blitter) == 0x8);
    CHECK(gdrst_bit(Engine::VideoEnhance) == 0x10);
}

TEST_CASE("reset_engine succeeds once the hardware clears the GDRST bit") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root(), 5s);
    // Play the hardware: a second mapping of resource0 keeps GDRST clear.
    const int fd = ::open((dev.dir() / "resource0").c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    void* p = ::mmap(nullptr, MiB(16), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    REQUIRE(p != MAP_FAILED);
    auto* gdrst = reinterpret_cast<volatile uint32_t*>(static_cast<uint8_t*>(p) + kGdrst);
    std::atomic<bool> stop{false};
    std::thread hw([&] {
        while (!stop.load()) {
            *gdrst = 0;
            std::this_thread::yield();
        }
    });
    const bool ok = gpu.reset_engine(Engine::Blitter);
    stop = true;
    hw.join();
    ::munmap(p, MiB(16));
    CHECK(ok);
}

TEST_CASE("reset_engine writes the engine bit and times out if it stays set") {
    FakeDevice dev;
    PciGpu gpu(kBdf, dev.root(), 20ms);
    const auto t0 = std::chrono::steady_clock::now();
    CHECK_FALSE(gpu.reset_engine(Engine::VideoEnhance));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    CHECK(dev.peek("resource0", kGdrst, 4) == 0x10);
}
