// The configuration space a guest finds at 00:02.0, as data.
//
// Each field is one row {offset, size, initial value, writable mask, RW1C
// mask, name}, in the manner of Xen's vPCI handlers and QEMU's
// xen_pt_config_init tables. ConfigSpace turns the rows into per-byte masks;
// this file only says what the rows are for a given vGPU.
#pragma once

#include <cstdint>
#include <vector>

#include "mediator/vgpu.hpp"

namespace xengt::mediator::pci {

// A type-0 header plus device-specific space: the conventional 256 bytes.
inline constexpr uint32_t kConfigSpaceSize = 256;

// Offsets the mediator acts on (beyond serving bytes).
inline constexpr uint32_t kCommand = 0x04;
inline constexpr uint32_t kBar0 = 0x10;
inline constexpr uint32_t kBar2 = 0x18;
inline constexpr uint32_t kBar4 = 0x20;
// Bytes whose writes can change what the device decodes: COMMAND and BAR0..BAR5.
inline constexpr uint32_t kCommandEnd = 0x06;
inline constexpr uint32_t kBarsEnd = 0x28;
// Skylake's capability list (lspci of an HD 530, intel-gpu.md §1.5) is 0x40
// vendor-specific → 0x70 PCI Express → 0xAC MSI → 0xD0 PM. The vendor-specific
// capability's contents are not documented, so the list starts at 0x70.
inline constexpr uint32_t kPcieCap = 0x70;
// PCIe Device Control (capability + 8); bit 15 is "Initiate Function Level
// Reset": writing 1 resets the function, and the bit always reads 0.
inline constexpr uint32_t kPcieDevCtl = kPcieCap + 8;
inline constexpr uint32_t kPcieInitiateFlr = 1u << 15;
inline constexpr uint32_t kMsiCap = 0xAC;
inline constexpr uint32_t kMsiControl = kMsiCap + 2;
inline constexpr uint32_t kMsiAddress = kMsiCap + 4;
inline constexpr uint32_t kMsiData = kMsiCap + 8;

// Class codes (base class, sub-class, prog-if): VGA-compatible display
// controller for a primary vGPU, "other display controller" otherwise.
inline constexpr uint32_t kClassDisplayVga = 0x030000;
inline constexpr uint32_t kClassDisplayOther = 0x038000;

// COMMAND bit 0: I/O space decode; bit 1: memory space decode (PCI 3.0 §6.2.2).
inline constexpr uint16_t kCommandIo = 1u << 0;
inline constexpr uint16_t kCommandMemory = 1u << 1;
// MSI message control bit 0: MSI enable (PCI 3.0 §6.8.1.3).
inline constexpr uint16_t kMsiEnable = 1u << 0;

// BAR sizes: BAR0 per mmio::kBar0Size, BAR2 from the config; the I/O BAR is
// the 64-byte index/data block (intel-gpu.md §1.2).
inline constexpr uint64_t kBar4Size = 64;
// A memory BAR is at least a page in practice (and PCI needs >= 16 bytes);
// the aperture also has to hold whole GGTT pages.
inline constexpr uint64_t kMinApertureSize = KiB(4);
// Keep BAR2 placeable below the 52-bit x86 physical address limit.
inline constexpr uint64_t kMaxApertureSize = uint64_t{1} << 51;

struct ConfigField {
    uint8_t offset;
    uint8_t size;    // 1..4 bytes, little-endian
    uint32_t init;   // value after reset
    uint32_t wmask;  // bits the guest may write
    uint32_t rw1c;   // bits the guest clears by writing 1
    const char* name;
};

// BAR2's size as the device will present it: a power of two within
// [kMinApertureSize, kMaxApertureSize] (rounded up, or clamped).
uint64_t presented_aperture_size(uint64_t requested);

// The field table for one vGPU. `config.aperture_bytes` must already be a
// presented_aperture_size().
std::vector<ConfigField> vgpu_config_fields(const VgpuConfig& config);

// True if a config write of `size` bytes of `value` at `reg` sets PCIe
// Device Control's "Initiate FLR" bit.
bool requests_flr(uint32_t reg, unsigned size, uint64_t value);

}  // namespace xengt::mediator::pci
