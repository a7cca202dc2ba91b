#include <catch2/catch.hpp>

#include "mediator/pci/config_layout.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::pci;

TEST_CASE("config fields lie inside 256 bytes and never overlap", "[pci]") {
    const auto fields = vgpu_config_fields(VgpuConfig{});
    std::array<bool, kConfigSpaceSize> used{};
    for (const ConfigField& f : fields) {
        INFO(f.name);
        REQUIRE(f.size >= 1);
        REQUIRE(f.size <= 4);
        REQUIRE(f.offset + f.size <= kConfigSpaceSize);
        for (unsigned i = 0; i < f.size; ++i) {
            REQUIRE_FALSE(used[f.offset + i]);
            used[f.offset + i] = true;
        }
    }
}

TEST_CASE("config fields never mark a bit both writable and write-1-to-clear", "[pci]") {
    for (const ConfigField& f : vgpu_config_fields(VgpuConfig{})) {
        INFO(f.name);
        CHECK((f.wmask & f.rw1c) == 0);
        // Masks and values stay within the field's bytes.
        const uint32_t width = f.size == 4 ? ~0u : (1u << (8 * f.size)) - 1;
        CHECK((f.init & ~width) == 0);
        CHECK((f.wmask & ~width) == 0);
        CHECK((f.rw1c & ~width) == 0);
    }
}

TEST_CASE("presented aperture size is a power of two of at least 4 KiB", "[pci]") {
    CHECK(presented_aperture_size(MiB(256)) == MiB(256));
    CHECK(presented_aperture_size(GiB(8)) == GiB(8));
    CHECK(presented_aperture_size(0) == KiB(4));
    CHECK(presented_aperture_size(MiB(200)) == MiB(256));
    CHECK(presented_aperture_size(~uint64_t{0}) == kMaxApertureSize);
}
