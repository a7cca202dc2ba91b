// Machine memory: frames exist or they do not; copies cross frames correctly
// and never touch memory outside the pool.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>

#include "gpu/machine_memory.hpp"

using namespace xengt;

TEST_CASE("machine memory has exactly the frames it was sized for", "[gpu][memory]") {
    gpu::MemfdMachineMemory mem(3 * kPageSize + 1);  // rounds up to 4 frames
    CHECK(mem.frames() == 4);
    CHECK(mem.frame(HostFrame{3}) != nullptr);
    CHECK(mem.frame(HostFrame{4}) == nullptr);
    CHECK(mem.frame(HostFrame{~uint64_t{0}}) == nullptr);
    CHECK(mem.fd() >= 0);
}

TEST_CASE("machine memory copies cross frame boundaries and refuse missing frames",
          "[gpu][memory]") {
    gpu::MemfdMachineMemory mem(2 * kPageSize);
    std::array<std::byte, 8> in{};
    for (size_t i = 0; i < in.size(); ++i) {
        in[i] = std::byte(0xa0 + i);
    }
    REQUIRE(mem.write(kPageSize - 4, in));  // straddles frames 0 and 1
    CHECK(std::memcmp(mem.frame(HostFrame{0}) + kPageSize - 4, in.data(), 4) == 0);
    CHECK(std::memcmp(mem.frame(HostFrame{1}), in.data() + 4, 4) == 0);
    std::array<std::byte, 8> out{};
    REQUIRE(mem.read(kPageSize - 4, out));
    CHECK(out == in);

    // Ending in a frame that does not exist: nothing is written at all.
    std::memset(mem.frame(HostFrame{1}) + kPageSize - 4, 0, 4);
    CHECK_FALSE(mem.write(2 * kPageSize - 4, in));
    CHECK(std::to_integer<int>(mem.frame(HostFrame{1})[kPageSize - 4]) == 0);
    CHECK_FALSE(mem.read(2 * kPageSize - 4, out));
    CHECK_FALSE(mem.read(~uint64_t{0} - 2, out));  // wrapping the address space
    CHECK_FALSE(mem.write(~uint64_t{0} - 2, in));
}
