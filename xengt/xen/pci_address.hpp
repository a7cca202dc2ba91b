// A PCI function address (segment:bus:device.function) as users write it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace xengt::xen {

struct PciAddress {
    uint16_t segment = 0;
    uint8_t bus = 0;
    uint8_t device = 2;  // the integrated GPU lives at 00:02.0; i915 and vBIOS assume it
    uint8_t function = 0;

    // The SBDF as Xen encodes it in dm_ops and PCI_CONFIG ioreqs:
    // segment << 16 | bus << 8 | device << 3 | function.
    uint32_t sbdf() const {
        return uint32_t{segment} << 16 | uint32_t{bus} << 8 | uint32_t{device} << 3 | function;
    }
    std::string to_string() const;

    // Accepts "BB:DD.F" or "SSSS:BB:DD.F" (hex). Rejects device > 31, function > 7.
    static std::optional<PciAddress> parse(std::string_view text);

    friend bool operator==(const PciAddress&, const PciAddress&) = default;
};

}  // namespace xengt::xen
