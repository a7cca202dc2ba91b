// The physical-GPU port: everything the mediator may do to the one real GPU.
//
// It is deliberately register-level, as the hardware is: work is submitted by
// writing an engine's ELSP register, the GGTT is a table of 64-bit entries,
// interrupts arrive as a callback (the MSI). Two implementations: the
// software Gen9 model (gpu/model, used by tests and the demo) and a real
// Intel GPU in dom0 bound to uio_pci_generic (gpu/pci).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "mediator/base/types.hpp"

namespace xengt::gpu {

// What the device is, as its PCI identity and BARs describe it.
struct GpuIdentity {
    uint16_t vendor_id = 0x8086;
    uint16_t device_id = 0;
    uint8_t revision = 0;
    uint64_t mmio_bar_bytes = 0;  // BAR0 (GTTMMADR): registers + GGTT
    uint64_t aperture_bytes = 0;  // BAR2 (GMADR): CPU window onto the low GGTT range
    uint64_t ggtt_bytes = 0;      // graphics address space the GGTT maps (entries * 4 KiB)
    uint64_t stolen_bytes = 0;    // memory the BIOS reserved for the GPU
};

// The engines of a Gen9 GT that i915 uses.
enum class Engine : uint8_t { Render, Blitter, Video, VideoEnhance };
inline constexpr unsigned kEngineCount = 4;
const char* to_string(Engine e);

// One captured frame of a display plane, 32-bit pixels in XRGB8888 order.
struct PlaneCapture {
    uint32_t width = 0;
    uint32_t height = 0;
    std::vector<uint32_t> pixels;  // row-major, width * height
};

// A GGTT entry (Gen8+): bit 0 present, bits 45:12 the host frame.
struct GgttEntry {
    uint64_t raw = 0;
    static constexpr uint64_t kPresent = 1;
    static constexpr uint64_t kAddressMask = 0x00003ffffffff000ull;
    bool present() const { return (raw & kPresent) != 0; }
    HostFrame frame() const { return HostFrame{(raw & kAddressMask) >> kPageShift}; }
    static GgttEntry map(HostFrame f) {
        return {(f.value() << kPageShift & kAddressMask) | kPresent};
    }
};

class GpuPort {
public:
    virtual ~GpuPort() = default;

    virtual const GpuIdentity& identity() const = 0;

    // BAR0 registers (offset < 2 MiB), as the CPU would access them.
    virtual uint32_t read32(MmioOffset offset) = 0;
    virtual void write32(MmioOffset offset, uint32_t value) = 0;
    virtual uint64_t read64(MmioOffset offset) = 0;
    virtual void write64(MmioOffset offset, uint64_t value) = 0;

    // GGTT entry `index` (maps graphics address index * 4 KiB).
    virtual GgttEntry read_ggtt(uint64_t index) = 0;
    virtual void write_ggtt(uint64_t index, GgttEntry entry) = 0;

    // Called (on an unspecified thread) whenever the device raises its MSI.
    virtual void set_interrupt_handler(std::function<void()> handler) = 0;

    // Reset one engine (GDRST); true once the engine reports reset complete.
    virtual bool reset_engine(Engine engine) = 0;

    // The primary plane of pipe A as currently programmed, or nullopt if it
    // is disabled or cannot be read.
    virtual std::optional<PlaneCapture> capture_primary_plane() = 0;
};

}  // namespace xengt::gpu
