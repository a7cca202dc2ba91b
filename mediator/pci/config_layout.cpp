#include "mediator/pci/config_layout.hpp"

#include <algorithm>
#include <bit>

#include "mediator/mmio/bar0_layout.hpp"

namespace xengt::mediator::pci {
namespace {

// Intel's PCI vendor ID.
constexpr uint32_t kIntelVendor = 0x8086;
// COMMAND bits the iGPU implements: I/O space (0), memory space (1), bus
// master (2), parity error response (6), SERR# enable (8), INTx disable (10).
constexpr uint32_t kCommandWritable = 0x0547;
// STATUS bit 4: a capability list is present (CAP_PTR is valid).
constexpr uint32_t kStatusCapList = 1u << 4;
// STATUS high byte error bits (parity, signalled/received aborts, SERR#,
// detected parity) are RW1C; GVT uses the same 0xF9 mask on byte 0x07.
constexpr uint32_t kStatusRw1c = 0xF9u << 8;
// Memory BAR type bits: bits 2:1 = 0b10 means 64-bit; bit 3 = prefetchable.
constexpr uint32_t kBarMem64 = 0x4;
constexpr uint32_t kBarMem64Prefetch = 0xC;
// Memory BAR bits 3:0 are type flags, never address bits.
constexpr uint32_t kBarMemFlagBits = 0xF;
// I/O BAR bit 0 = 1 marks I/O space.
constexpr uint32_t kBarIo = 0x1;
// 64-byte I/O BAR decoded on a 16-bit I/O bus: address bits 15:6.
constexpr uint32_t kBar4Writable = 0x0000FFC0;
// First capability: PCI Express (Skylake layout, without the undocumented
// vendor-specific capability at 0x40).
constexpr uint32_t kCapPointer = kPcieCap;
// INTA#: the iGPU's only legacy interrupt pin.
constexpr uint32_t kInterruptPinA = 1;
// MGGC (0x50): GGMS (bits 7:6) = 3 → 8 MiB of GTT → 4 GiB of GGTT; GMS
// (bits 15:8) = 0 → no stolen memory, as GVT-g gives guests; bit 1 = VGA
// disable, since no legacy VGA is emulated.
constexpr uint32_t kMggc = (3u << 6) | (1u << 1);
// Capability IDs (PCI 3.0 appendix H): 0x10 PCI Express, 0x05 MSI, 0x01
// power management.
constexpr uint32_t kCapIdPcie = 0x10;
constexpr uint32_t kCapIdMsi = 0x05;
// PCI Express Capabilities register: version 2 (bits 3:0), device/port type
// 9 = Root Complex Integrated Endpoint (bits 7:4), as Skylake's iGPU.
constexpr uint32_t kPcieCapsRciep = (9u << 4) | 2u;
// Device Capabilities: bit 28 Function Level Reset capable; max payload 128
// bytes (bits 2:0 = 0); no phantom functions, no extended tags.
constexpr uint32_t kPcieDevCapFlr = 1u << 28;
// Device Control after reset: relaxed ordering (bit 4) and no snoop (bit 11)
// enabled, max read request 512 bytes (bits 14:12 = 2), as the PCIe spec
// defines. Writable: error reporting enables (3:0), relaxed ordering, max
// payload (7:5), no snoop, max read request. Bit 15 (Initiate FLR) is a
// command, never stored: see requests_flr().
constexpr uint32_t kPcieDevCtlInit = (2u << 12) | (1u << 11) | (1u << 4);
constexpr uint32_t kPcieDevCtlWritable = 0x78FF;
// Device Status bits 3:0 (errors detected) are RW1C; a vGPU never sets them.
constexpr uint32_t kPcieDevStaRw1c = 0x000F;
constexpr uint32_t kCapIdPm = 0x01;
// The PM capability follows MSI at 0xD0, as on Skylake; it ends the list.
constexpr uint32_t kPmCap = 0xD0;
constexpr uint32_t kCapListEnd = 0x00;
// MSI message address is dword aligned (bits 1:0 reserved, read 0).
constexpr uint32_t kMsiAddressWritable = 0xFFFFFFFC;
// MSI message data is 16 bits wide in the 32-bit-address layout.
constexpr uint32_t kMsiDataWritable = 0xFFFF;
// PMC: version 2 (bits 2:0 = 010), no D1/D2, no PME.
constexpr uint32_t kPmc = 0x0002;
// PMCSR: bit 3 NoSoftReset = 1 (D3hot→D0 keeps state); bits 1:0 power state.
constexpr uint32_t kPmcsrInit = 1u << 3;
constexpr uint32_t kPmcsrWritable = 0x0003;
// Intel IGD dwords: SWSCI (0xE8) and ASLS, the OpRegion address (0xFC).
constexpr uint8_t kSwsci = 0xE8;
constexpr uint8_t kAsls = 0xFC;

constexpr uint32_t lo32(uint64_t v) {
    return static_cast<uint32_t>(v);
}
constexpr uint32_t hi32(uint64_t v) {
    return static_cast<uint32_t>(v >> 32);
}

}  // namespace

uint64_t presented_aperture_size(uint64_t requested) {
    uint64_t size = std::clamp(requested, kMinApertureSize, kMaxApertureSize);
    return std::bit_ceil(size);
}

std::vector<ConfigField> vgpu_config_fields(const VgpuConfig& config) {
    // A BAR's writable bits are the address bits at or above its size; the
    // guest sizes it by writing all-ones and reading ~(size-1) | flags back.
    const uint64_t bar0_mask = ~(mmio::kBar0Size - 1);
    const uint64_t bar2_mask = ~(config.aperture_bytes - 1);
    const uint32_t device = config.device_id;

    return {
        {0x00, 2, kIntelVendor, 0, 0, "vendor id"},
        {0x02, 2, device, 0, 0, "device id"},
        {0x04, 2, 0, kCommandWritable, 0, "command"},
        {0x06, 2, kStatusCapList, 0, kStatusRw1c, "status"},
        {0x08, 1, config.revision, 0, 0, "revision id"},
        // A primary vGPU is the VGA-compatible boot display; a secondary one
        // is "other display", so firmware keeps its emulated VGA. No legacy
        // VGA is emulated either way; i915 binds to any display class.
        {0x09, 3, config.primary ? kClassDisplayVga : kClassDisplayOther, 0, 0, "class code"},
        {0x0C, 1, 0, 0xFF, 0, "cache line size"},
        {0x0D, 1, 0, 0, 0, "latency timer"},
        {0x0E, 1, 0, 0, 0, "header type"},  // type 0, single function
        {0x0F, 1, 0, 0, 0, "bist"},         // no built-in self test
        {0x10, 4, kBarMem64, lo32(bar0_mask) & ~kBarMemFlagBits, 0, "bar0 low"},
        {0x14, 4, 0, hi32(bar0_mask), 0, "bar0 high"},
        {0x18, 4, kBarMem64Prefetch, lo32(bar2_mask) & ~kBarMemFlagBits, 0, "bar2 low"},
        {0x1C, 4, 0, hi32(bar2_mask), 0, "bar2 high"},
        {0x20, 4, kBarIo, kBar4Writable, 0, "bar4 io"},
        {0x24, 4, 0, 0, 0, "bar5"},  // unimplemented BAR: reads 0, sizes to 0
        // Subsystem IDs mirror the identity: a vGPU has no board vendor.
        {0x2C, 2, kIntelVendor, 0, 0, "subsystem vendor id"},
        {0x2E, 2, device, 0, 0, "subsystem id"},
        // No option ROM, as under GVT-g: firmware sizing finds size 0.
        {0x30, 4, 0, 0, 0, "expansion rom bar"},
        {0x34, 1, kCapPointer, 0, 0, "capability pointer"},
        {0x3C, 1, 0, 0xFF, 0, "interrupt line"},  // firmware scratch for the IRQ routing
        {0x3D, 1, kInterruptPinA, 0, 0, "interrupt pin"},
        {0x50, 2, kMggc, 0, 0, "mggc"},
        {0x5C, 4, 0, 0, 0, "bdsm"},  // no stolen memory, so no base either
        // PCI Express capability; link registers are absent on an RCiEP.
        {kPcieCap, 1, kCapIdPcie, 0, 0, "pcie cap id"},
        {kPcieCap + 1, 1, kMsiCap, 0, 0, "pcie next"},
        {kPcieCap + 2, 2, kPcieCapsRciep, 0, 0, "pcie capabilities"},
        {kPcieCap + 4, 4, kPcieDevCapFlr, 0, 0, "pcie device capabilities"},
        {kPcieDevCtl, 2, kPcieDevCtlInit, kPcieDevCtlWritable, 0, "pcie device control"},
        {kPcieCap + 10, 2, 0, 0, kPcieDevStaRw1c, "pcie device status"},
        {kMsiCap, 1, kCapIdMsi, 0, 0, "msi cap id"},
        {kMsiCap + 1, 1, kPmCap, 0, 0, "msi next"},
        // One vector, 32-bit address, no per-vector masking: only enable is writable.
        {kMsiControl, 2, 0, kMsiEnable, 0, "msi control"},
        {kMsiAddress, 4, 0, kMsiAddressWritable, 0, "msi address"},
        {kMsiData, 2, 0, kMsiDataWritable, 0, "msi data"},
        {kPmCap, 1, kCapIdPm, 0, 0, "pm cap id"},
        {kPmCap + 1, 1, kCapListEnd, 0, 0, "pm next"},
        {kPmCap + 2, 2, kPmc, 0, 0, "pmc"},
        {kPmCap + 4, 2, kPmcsrInit, kPmcsrWritable, 0, "pmcsr"},
        // Plain storage for now; hvmloader and i915 write them.
        {kSwsci, 4, 0, 0xFFFFFFFF, 0, "swsci"},
        {kAsls, 4, 0, 0xFFFFFFFF, 0, "asls"},
    };
}

bool requests_flr(uint32_t reg, unsigned size, uint64_t value) {
    // The bit is bit 7 of Device Control's high byte; any access width may
    // carry that byte.
    const uint32_t flr_byte = kPcieDevCtl + 1;
    if (reg > flr_byte || flr_byte - reg >= size) {
        return false;
    }
    const unsigned shift = 8 * (flr_byte - reg);
    return ((value >> shift) & (kPcieInitiateFlr >> 8)) != 0;
}

}  // namespace xengt::mediator::pci
