#include <catch2/catch.hpp>

#include "xengt/xen/pci_address.hpp"

using xengt::xen::PciAddress;

TEST_CASE("PCI addresses parse as users write them", "[xengt][options]") {
    auto a = PciAddress::parse("00:02.0");
    REQUIRE(a);
    CHECK(a->sbdf() == (2u << 3));
    CHECK(a->to_string() == "0000:00:02.0");
    auto b = PciAddress::parse("0001:1f:1c.7");
    REQUIRE(b);
    CHECK(b->sbdf() == (1u << 16 | 0x1fu << 8 | 0x1cu << 3 | 7u));
    CHECK_FALSE(PciAddress::parse("00:20.0"));  // device > 31
    CHECK_FALSE(PciAddress::parse("00:02.8"));  // function > 7
    CHECK_FALSE(PciAddress::parse("0002.0"));
    CHECK_FALSE(PciAddress::parse("zz:02.0"));
    CHECK_FALSE(PciAddress::parse(""));
}
