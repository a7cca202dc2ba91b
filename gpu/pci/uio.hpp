// Interrupt delivery through uio_pci_generic: a thread blocks on /dev/uioN,
// calls the handler for every interrupt and then unmasks INTx again.
#pragma once

#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "gpu/pci/sysfs.hpp"

namespace xengt::gpu::pci {

// The /dev node of the uio device bound to the PCI device at `device_dir`
// (the single "uioN" entry of <device_dir>/uio). Throws a PciError telling the
// user to bind uio_pci_generic if there is none.
std::filesystem::path find_uio_device(const std::string& bdf,
                                      const std::filesystem::path& device_dir,
                                      const std::filesystem::path& dev_root);

class UioInterrupts {
public:
    // Opens `uio_dev` (throws on failure) and starts the thread. `config_fd`
    // is the device's sysfs config file, open read/write; it must outlive this.
    UioInterrupts(std::string bdf, const std::filesystem::path& uio_dev, int config_fd,
                  const std::filesystem::path& config_path, std::function<void()> handler);
    // Wakes the thread through an eventfd and joins it; returns as soon as a
    // running handler does.
    ~UioInterrupts();
    UioInterrupts(const UioInterrupts&) = delete;
    UioInterrupts& operator=(const UioInterrupts&) = delete;

    void set_handler(std::function<void()> handler);
    // Why the thread stopped early, or the last handler exception; empty if none.
    std::string last_error() const;

private:
    void run();
    void reenable_intx();
    void record_error(std::string what);

    std::string bdf_;
    std::filesystem::path uio_path_;
    std::filesystem::path config_path_;  // for messages only
    int config_fd_;
    UniqueFd uio_;
    UniqueFd stop_;
    mutable std::mutex mu_;
    std::function<void()> handler_;
    std::string error_;
    std::thread thread_;
};

}  // namespace xengt::gpu::pci
