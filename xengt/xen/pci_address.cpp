#include "xengt/xen/pci_address.hpp"

#include <charconv>
#include <cstdio>

namespace xengt::xen {
namespace {

std::optional<unsigned> parse_hex(std::string_view s, unsigned max) {
    if (s.empty() || s.size() > 4) {
        return std::nullopt;
    }
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (ec != std::errc() || end != s.data() + s.size() || v > max) {
        return std::nullopt;
    }
    return v;
}

}  // namespace

std::string PciAddress::to_string() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04x:%02x:%02x.%x", segment, bus, device, function);
    return buf;
}

std::optional<PciAddress> PciAddress::parse(std::string_view text) {
    PciAddress a;
    auto dot = text.rfind('.');
    if (dot == std::string_view::npos) {
        return std::nullopt;
    }
    auto fn = parse_hex(text.substr(dot + 1), 7);
    std::string_view head = text.substr(0, dot);
    auto last_colon = head.rfind(':');
    if (!fn || last_colon == std::string_view::npos) {
        return std::nullopt;
    }
    auto dev = parse_hex(head.substr(last_colon + 1), 31);
    head = head.substr(0, last_colon);
    std::optional<unsigned> seg = 0;
    auto seg_colon = head.rfind(':');
    if (seg_colon != std::string_view::npos) {
        seg = parse_hex(head.substr(0, seg_colon), 0xffff);
        head = head.substr(seg_colon + 1);
    }
    auto bus = parse_hex(head, 0xff);
    if (!dev || !bus || !seg) {
        return std::nullopt;
    }
    a.segment = static_cast<uint16_t>(*seg);
    a.bus = static_cast<uint8_t>(*bus);
    a.device = static_cast<uint8_t>(*dev);
    a.function = static_cast<uint8_t>(*fn);
    return a;
}

}  // namespace xengt::xen
