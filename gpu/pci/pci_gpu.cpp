#include "gpu/pci/pci_gpu.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <thread>

namespace xengt::gpu::pci {

namespace {

constexpr uint16_t kIntelVendor = 0x8086;
constexpr uint32_t kDisplayBaseClass = 0x03;
constexpr uint16_t kMggc = 0x50;
// Enough config space to reach MGGC; sysfs gives unprivileged readers only 64 bytes.
constexpr std::size_t kConfigBytesNeeded = 0x60;

std::string hex(uint64_t v, int digits) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
    return buf;
}

uint16_t le16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

}  // namespace

uint64_t ggtt_bytes_from_mggc(uint16_t mggc) {
    const unsigned ggms = (mggc >> 6) & 0x3;
    if (ggms == 0) {
        return 0;
    }
    const uint64_t table_bytes = (uint64_t{1} << ggms) << 20;
    return table_bytes / 8 * kPageSize;
}

uint64_t stolen_bytes_from_mggc(uint16_t mggc) {
    const uint64_t gms = mggc >> 8;
    if (gms < 0xF0) {
        return gms * (uint64_t{32} << 20);
    }
    if (gms == 0xFF) {
        return 0;  // 0xFF is outside the documented 0xF0..0xFE range: report no stolen memory
    }
    return (gms - 0xF0) * (uint64_t{4} << 20) + (uint64_t{4} << 20);
}

uint32_t gdrst_bit(Engine e) {
    switch (e) {
        case Engine::Render:
            return 1u << 1;
        case Engine::Video:
            return 1u << 2;
        case Engine::Blitter:
            return 1u << 3;
        case Engine::VideoEnhance:
            return 1u << 4;
    }
    return 0;
}

PciGpu::PciGpu(std::string bdf, SysfsRoot root, std::chrono::milliseconds reset_timeout)
    : bdf_(std::move(bdf)), root_(std::move(root)), reset_timeout_(reset_timeout) {
    dir_ = root_.sys / "bus" / "pci" / "devices" / bdf_;
    if (!valid_bdf(bdf_)) {
        throw PciError(bdf_, dir_, "not a PCI address of the form SSSS:BB:DD.F");
    }
    std::error_code ec;
    if (!std::filesystem::is_directory(dir_, ec)) {
        throw PciError(bdf_, dir_, "no such PCI device", ec ? ec.value() : ENOENT);
    }

    // The sysfs text files first: the cheapest way to refuse the wrong device.
    const auto vendor_path = dir_ / "vendor";
    const auto vendor = parse_hex(bdf_, vendor_path, read_text(bdf_, vendor_path), 0xFFFF);
    if (vendor != kIntelVendor) {
        throw PciError(bdf_, vendor_path, "vendor " + hex(vendor, 4) + " is not Intel (0x8086)");
    }
    const auto class_path = dir_ / "class";
    const auto cls = parse_hex(bdf_, class_path, read_text(bdf_, class_path), 0xFFFFFF);
    if ((cls >> 16) != kDisplayBaseClass) {
        throw PciError(bdf_, class_path,
                       "class " + hex(cls, 6) + " is not a display controller (0x03xxxx)");
    }

    // Config space: identity and MGGC. Read/write, for INTx re-enable later.
    const auto config_path = dir_ / "config";
    config_ = open_file(bdf_, config_path, O_RDWR | O_CLOEXEC);
    uint8_t cfg[256] = {};
    const ssize_t got = ::pread(config_.get(), cfg, sizeof cfg, 0);
    if (got < 0) {
        throw PciError(bdf_, config_path, "read failed", errno);
    }
    if (static_cast<std::size_t>(got) < kConfigBytesNeeded) {
        throw PciError(bdf_, config_path,
                       "only " + std::to_string(got) + " bytes of config space, need " +
                           std::to_string(kConfigBytesNeeded) + " (run as root)");
    }
    identity_.vendor_id = le16(cfg + 0x00);
    identity_.device_id = le16(cfg + 0x02);
    identity_.revision = cfg[0x08];
    if (identity_.vendor_id != kIntelVendor) {
        throw PciError(bdf_, config_path,
                       "vendor " + hex(identity_.vendor_id, 4) + " disagrees with sysfs vendor");
    }
    const uint16_t mggc = le16(cfg + kMggc);
    identity_.ggtt_bytes = ggtt_bytes_from_mggc(mggc);
    identity_.stolen_bytes = stolen_bytes_from_mggc(mggc);

    // BAR sizes; `resource` lists BAR0..BAR5 then the ROM, so BAR2 is line 3.
    const auto resource_path = dir_ / "resource";
    const auto bars = parse_resource(bdf_, resource_path, read_text(bdf_, resource_path), 3);
    identity_.mmio_bar_bytes = bars[0].size();
    identity_.aperture_bytes = bars[2].size();
    if (identity_.mmio_bar_bytes < kMinBar0Bytes) {
        throw PciError(bdf_, resource_path,
                       "BAR0 is " + std::to_string(identity_.mmio_bar_bytes) +
                           " bytes, need at least 16 MiB (Gen8+ GTTMMADR)");
    }

    bar0_ = Mapping::map_file(bdf_, dir_ / "resource0", identity_.mmio_bar_bytes);
    if (identity_.aperture_bytes != 0) {
        aperture_ = Mapping::map_file(bdf_, dir_ / "resource2", identity_.aperture_bytes);
    }
    // Bounded by both what MGGC says and what BAR0 actually holds past +8 MiB.
    ggtt_entries_ = std::min(identity_.ggtt_bytes / kPageSize,
                             (identity_.mmio_bar_bytes - kGgttOffset) / sizeof(uint64_t));
}

PciGpu::~PciGpu() {
    // Stop the interrupt thread before the mappings and config fd go away.
    irq_.reset();
}

volatile uint8_t* PciGpu::reg(MmioOffset offset, unsigned width) {
    const uint64_t off = offset.value();
    if (off + width > kMmioWindowBytes || off % width != 0) {
        throw std::out_of_range("pci " + bdf_ + ": resource0: register offset " + hex(off, 6) +
                                " (" + std::to_string(width * 8) +
                                "-bit) outside the 2 MiB MMIO window or misaligned");
    }
    return bar0_.data() + off;
}

uint32_t PciGpu::read32(MmioOffset offset) {
    return *reinterpret_cast<volatile uint32_t*>(reg(offset, 4));
}

void PciGpu::write32(MmioOffset offset, uint32_t value) {
    *reinterpret_cast<volatile uint32_t*>(reg(offset, 4)) = value;
}

uint64_t PciGpu::read64(MmioOffset offset) {
    return *reinterpret_cast<volatile uint64_t*>(reg(offset, 8));
}

void PciGpu::write64(MmioOffset offset, uint64_t value) {
    *reinterpret_cast<volatile uint64_t*>(reg(offset, 8)) = value;
}

GgttEntry PciGpu::read_ggtt(uint64_t index) {
    if (index >= ggtt_entries_) {
        throw std::out_of_range("pci " + bdf_ + ": resource0: GGTT index " + std::to_string(index) +
                                " >= " + std::to_string(ggtt_entries_) + " entries");
    }
    auto* p = reinterpret_cast<volatile uint64_t*>(bar0_.data() + kGgttOffset + 8 * index);
    return GgttEntry{*p};
}

void PciGpu::write_ggtt(uint64_t index, GgttEntry entry) {
    if (index >= ggtt_entries_) {
        throw std::out_of_range("pci " + bdf_ + ": resource0: GGTT index " + std::to_string(index) +
                                " >= " + std::to_string(ggtt_entries_) + " entries");
    }
    // One 64-bit store, as i915's gen8_set_pte(); then the uncached flush
    // register write, which also drains write-combining and invalidates the GGTT TLB.
    auto* p = reinterpret_cast<volatile uint64_t*>(bar0_.data() + kGgttOffset + 8 * index);
    *p = entry.raw;
    write32(MmioOffset{kGfxFlushCntl}, 1);
}

void PciGpu::set_interrupt_handler(std::function<void()> handler) {
    std::lock_guard lock(irq_mu_);
    if (irq_) {
        irq_->set_handler(std::move(handler));
        return;
    }
    const auto uio = find_uio_device(bdf_, dir_, root_.dev);
    irq_ = std::make_unique<UioInterrupts>(bdf_, uio, config_.get(), dir_ / "config",
                                           std::move(handler));
}

std::string PciGpu::interrupt_error() const {
    std::lock_guard lock(irq_mu_);
    return irq_ ? irq_->last_error() : std::string();
}

bool PciGpu::reset_engine(Engine engine) {
    // i915's gen6_hw_domain_reset(): write the domain bit, wait for the
    // hardware to clear it (500 ms in i915).
    const uint32_t bit = gdrst_bit(engine);
    write32(MmioOffset{kGdrst}, bit);
    const auto deadline = std::chrono::steady_clock::now() + reset_timeout_;
    for (;;) {
        if ((read32(MmioOffset{kGdrst}) & bit) == 0) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
}

}  // namespace xengt::gpu::pci
