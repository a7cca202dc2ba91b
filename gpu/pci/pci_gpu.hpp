// GpuPort on a real Intel Gen8/Gen9 iGPU in dom0, reached through sysfs:
// BAR0 (registers + GGTT) and BAR2 (aperture) are mmapped from resource0/2,
// config space is read/written through `config`, and interrupts come from
// uio_pci_generic (/dev/uioN). Everything is located under a SysfsRoot, so
// tests run it against a fake tree of ordinary files.
//
// Not done here (caller's job or later work): forcewake (§8.2) around GT
// register accesses, and display capture.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "gpu/pci/sysfs.hpp"
#include "gpu/pci/uio.hpp"
#include "gpu/port.hpp"

namespace xengt::gpu::pci {

// Register window of BAR0 and offset of the GGTT in it (doc §1.2, §2.2).
inline constexpr uint64_t kMmioWindowBytes = uint64_t{2} << 20;
inline constexpr uint64_t kGgttOffset = uint64_t{8} << 20;
inline constexpr uint64_t kMinBar0Bytes = uint64_t{16} << 20;
// GGTT TLB invalidate after PTE updates, as i915's gen8_ggtt_invalidate() (§2.3).
inline constexpr uint32_t kGfxFlushCntl = 0x101008;
// Engine reset request/status register (GEN6_GDRST, §4.2).
inline constexpr uint32_t kGdrst = 0x941C;

// MGGC (config 0x50) decoding, Gen8/Gen9 (§1.3): GGMS bits 7:6 give a table
// of 2^v MiB (0 = none), i.e. size/8 entries each mapping 4 KiB.
uint64_t ggtt_bytes_from_mggc(uint16_t mggc);
// GMS bits 15:8, Skylake encoding (identical to Broadwell's below 0xF0).
uint64_t stolen_bytes_from_mggc(uint16_t mggc);

// The GDRST bit that resets `e`: render 1, media 2, blitter 3, VECS 4.
uint32_t gdrst_bit(Engine e);

class PciGpu final : public GpuPort {
public:
    // `bdf` is "SSSS:BB:DD.F". Throws PciError (naming device, file, reason
    // and errno) if the device is not a usable Intel display device.
    explicit PciGpu(std::string bdf, SysfsRoot root = {},
                    std::chrono::milliseconds reset_timeout = std::chrono::milliseconds(500));
    ~PciGpu() override;

    const GpuIdentity& identity() const override { return identity_; }

    // Register accesses: offset must be < 2 MiB and naturally aligned, else
    // std::out_of_range (a bad offset is a mediator bug, never silently dropped).
    uint32_t read32(MmioOffset offset) override;
    void write32(MmioOffset offset, uint32_t value) override;
    uint64_t read64(MmioOffset offset) override;
    void write64(MmioOffset offset, uint64_t value) override;

    // index < ggtt_entries(), else std::out_of_range. write_ggtt flushes the
    // GGTT TLB itself (GFX_FLSH_CNTL = 1) after every entry: simple and
    // always correct; batching can come later if it shows up in profiles.
    GgttEntry read_ggtt(uint64_t index) override;
    void write_ggtt(uint64_t index, GgttEntry entry) override;
    uint64_t ggtt_entries() const { return ggtt_entries_; }

    // First call starts the uio interrupt thread; later calls swap the handler.
    void set_interrupt_handler(std::function<void()> handler) override;
    // Empty unless the interrupt thread stopped or a handler threw.
    std::string interrupt_error() const;

    bool reset_engine(Engine engine) override;

    // Display readback is not implemented yet on real hardware.
    std::optional<PlaneCapture> capture_primary_plane() override { return std::nullopt; }

    const std::string& bdf() const { return bdf_; }
    // The aperture (BAR2) mapping; nullptr if the device has no BAR2.
    uint8_t* aperture() const { return aperture_.data(); }

private:
    volatile uint8_t* reg(MmioOffset offset, unsigned width);

    std::string bdf_;
    SysfsRoot root_;
    std::filesystem::path dir_;
    std::chrono::milliseconds reset_timeout_;
    GpuIdentity identity_;
    UniqueFd config_;
    Mapping bar0_;
    Mapping aperture_;
    uint64_t ggtt_entries_ = 0;
    mutable std::mutex irq_mu_;
    std::unique_ptr<UioInterrupts> irq_;  // declared last: stopped first on destruction
};

}  // namespace xengt::gpu::pci
