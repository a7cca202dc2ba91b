// libFuzzer target: arbitrary ioreq slots through the shipping service path.
//
// The input is a sequence of 32-byte records, each laid into an ioreq slot
// exactly as Xen would leave it (state forced to READY), then served by
// service_slot() -> IoreqDispatcher -> Vgpu (config space, MMIO table, PVINFO,
// GGTT window, BAR4). Guest RAM is a small in-memory buffer, two pages of it
// write-protected so that stores into them take the write-protect path (and
// stores elsewhere the late write-protect path). Invariants
// checked: every request gets a response, nothing reads or writes outside the
// guest RAM buffer (ASan), no undefined behaviour (UBSan), and the device never
// reports a trap window that is empty or inverted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "mediator/base/log.hpp"
#include "mediator/vgpu.hpp"
#include "xengt/xen/ioreq_dispatch.hpp"

namespace {

using namespace xengt;

constexpr uint64_t kRamBytes = 64 * 1024;

class FakeRam final : public xen::GuestRamAccess {
public:
    bool read(GuestPhysAddr a, std::span<std::byte> out) override {
        if (a.value() > kRamBytes || out.size() > kRamBytes - a.value()) {
            return false;
        }
        std::memcpy(out.data(), ram_.data() + a.value(), out.size());
        return true;
    }
    bool write(GuestPhysAddr a, std::span<const std::byte> in) override {
        if (a.value() > kRamBytes || in.size() > kRamBytes - a.value()) {
            return false;
        }
        std::memcpy(ram_.data() + a.value(), in.data(), in.size());
        return true;
    }
    void invalidate() override {}

private:
    std::vector<std::byte> ram_ = std::vector<std::byte>(kRamBytes);
};

class FakeHypervisor final : public mediator::HypervisorPort {
public:
    explicit FakeHypervisor(FakeRam& ram) : ram_(ram) {}
    void set_trap_windows(std::span<const mediator::TrapWindow> windows) override {
        for (const auto& w : windows) {
            if (w.last < w.first) {
                std::abort();  // the device must never describe an inverted window
            }
        }
    }
    bool read_guest(GuestPhysAddr a, std::span<std::byte> out) override {
        return ram_.read(a, out);
    }
    bool write_guest(GuestPhysAddr a, std::span<const std::byte> in) override {
        return ram_.write(a, in);
    }
    void inject_msi(uint64_t, uint32_t) override {}
    bool protect_page(GuestFrame) override { return true; }
    void unprotect_page(GuestFrame) override {}

private:
    FakeRam& ram_;
};

// Frames 2 and 5 of the RAM buffer are write-protected.
class FakeProtection final : public xen::WriteProtectedPages {
public:
    bool claimed() const override { return true; }
    size_t protected_count() const override { return 2; }
    bool is_protected(GuestFrame gfn) const override {
        return gfn.value() == 2 || gfn.value() == 5;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool quiet = [] {
        set_log_sink([](LogLevel, std::string_view, std::string_view) {});
        return true;
    }();
    (void)quiet;

    FakeRam ram;
    FakeHypervisor hv(ram);
    mediator::Vgpu vgpu(mediator::VgpuConfig{}, hv);
    FakeProtection protection;
    xen::IoreqDispatcher dispatcher("fuzz", xen::PciAddress{}, vgpu, ram, &protection);

    ioreq_t slot{};
    for (size_t off = 0; off + sizeof(ioreq_t) <= size; off += sizeof(ioreq_t)) {
        std::memcpy(&slot, data + off, sizeof slot);
        slot.state = STATE_IOREQ_READY;
        if (!xen::service_slot(slot, dispatcher) || slot.state != STATE_IORESP_READY) {
            std::abort();  // every posted request must be answered
        }
    }
    return 0;
}
