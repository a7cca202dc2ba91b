#include "gpu/pci/uio.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace xengt::gpu::pci {

namespace {

// PCI command register high byte (offset 0x05); bit 2 of it is command bit 10,
// INTx disable, which uio_pci_generic sets after every interrupt.
constexpr off_t kCommandHighByte = 0x05;
constexpr uint8_t kIntxDisableInHighByte = 1u << 2;

bool is_uio_name(const std::string& name) {
    if (name.size() <= 3 || name.compare(0, 3, "uio") != 0) {
        return false;
    }
    for (std::size_t i = 3; i < name.size(); ++i) {
        if (name[i] < '0' || name[i] > '9') {
            return false;
        }
    }
    return true;
}

}  // namespace

std::filesystem::path find_uio_device(const std::string& bdf,
                                      const std::filesystem::path& device_dir,
                                      const std::filesystem::path& dev_root) {
    const auto dir = device_dir / "uio";
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
        throw PciError(bdf, dir, "no uio binding; bind the device to uio_pci_generic first",
                       ec.value());
    }
    std::string found;
    for (const auto& entry : it) {
        const std::string name = entry.path().filename().string();
        if (!is_uio_name(name)) {
            continue;
        }
        if (!found.empty()) {
            throw PciError(bdf, dir, "more than one uio device (" + found + ", " + name + ")");
        }
        found = name;
    }
    if (found.empty()) {
        throw PciError(bdf, dir, "no uioN entry; bind the device to uio_pci_generic first");
    }
    return dev_root / found;
}

UioInterrupts::UioInterrupts(std::string bdf, const std::filesystem::path& uio_dev, int config_fd,
                             const std::filesystem::path& config_path,
                             std::function<void()> handler)
    : bdf_(std::move(bdf)),
      uio_path_(uio_dev),
      config_path_(config_path),
      config_fd_(config_fd),
      handler_(std::move(handler)) {
    // Non-blocking so a spurious poll wake-up can never wedge the thread in read().
    uio_ = open_file(bdf_, uio_path_, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) {
        throw PciError(bdf_, "eventfd", "cannot create stop event", errno);
    }
    stop_ = UniqueFd(efd);
    thread_ = std::thread([this] { run(); });
}

UioInterrupts::~UioInterrupts() {
    const uint64_t one = 1;
    // An eventfd write of 1 cannot fail short of counter overflow; nothing to do if it did.
    [[maybe_unused]] ssize_t n = ::write(stop_.get(), &one, sizeof one);
    if (thread_.joinable()) {
        thread_.join();
    }
}

void UioInterrupts::set_handler(std::function<void()> handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
}

std::string UioInterrupts::last_error() const {
    std::lock_guard lock(mu_);
    return error_;
}

void UioInterrupts::record_error(std::string what) {
    std::lock_guard lock(mu_);
    error_ = std::move(what);
}

void UioInterrupts::run() {
    for (;;) {
        pollfd fds[2] = {{uio_.get(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            record_error(PciError(bdf_, uio_path_, "poll failed", errno).what());
            return;
        }
        if ((fds[1].revents & POLLIN) != 0) {
            return;
        }
        if (fds[0].revents == 0) {
            continue;
        }
        // uio read() yields the 32-bit count of interrupts so far.
        uint32_t count = 0;
        ssize_t n = ::read(uio_.get(), &count, sizeof count);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            record_error(PciError(bdf_, uio_path_, "read failed", errno).what());
            return;
        }
        if (n == 0) {
            // The device went away (or, in tests, the FIFO's writer closed).
            record_error(PciError(bdf_, uio_path_, "end of file; interrupt thread stopped").what());
            return;
        }
        if (n != sizeof count) {
            record_error(PciError(bdf_, uio_path_, "short read of interrupt count").what());
            continue;
        }
        std::function<void()> h;
        {
            std::lock_guard lock(mu_);
            h = handler_;
        }
        // Handle first, unmask after: the handler acks the GPU's IIRs, so a
        // still-asserted level-triggered INTx does not re-fire at once.
        try {
            if (h) {
                h();
            }
        } catch (const std::exception& e) {
            record_error(std::string("interrupt handler threw: ") + e.what());
        } catch (...) {
            record_error("interrupt handler threw a non-exception");
        }
        reenable_intx();
    }
}

void UioInterrupts::reenable_intx() {
    // Only the command register's high byte is rewritten, so no other command bit is touched.
    uint8_t hi = 0;
    if (::pread(config_fd_, &hi, 1, kCommandHighByte) != 1) {
        record_error(PciError(bdf_, config_path_, "cannot read command register", errno).what());
        return;
    }
    if ((hi & kIntxDisableInHighByte) == 0) {
        return;
    }
    hi = static_cast<uint8_t>(hi & ~kIntxDisableInHighByte);
    if (::pwrite(config_fd_, &hi, 1, kCommandHighByte) != 1) {
        record_error(PciError(bdf_, config_path_, "cannot re-enable INTx", errno).what());
    }
}

}  // namespace xengt::gpu::pci
