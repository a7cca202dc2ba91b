// FdMachineMemory: machine memory over someone else's fd aliases its frames.
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <system_error>

#include "gpu/fd_machine_memory.hpp"

using namespace xengt;

TEST_CASE("fd machine memory sees writes made through another mapping", "[gpu][memory]") {
    gpu::MemfdMachineMemory owner(4 * kPageSize);
    gpu::FdMachineMemory mem(owner.fd(), owner.frames());
    CHECK(mem.frames() == 4);
    CHECK(mem.frame(HostFrame{3}) != nullptr);
    CHECK(mem.frame(HostFrame{4}) == nullptr);

    std::memcpy(owner.frame(HostFrame{2}) + 100, "marker", 6);
    std::array<std::byte, 6> out{};
    REQUIRE(mem.read(2 * kPageSize + 100, out));
    CHECK(std::memcmp(out.data(), "marker", 6) == 0);

    const std::array<std::byte, 4> in{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
    REQUIRE(mem.write(kPageSize - 2, in));  // straddles frames 0 and 1
    CHECK(std::memcmp(owner.frame(HostFrame{0}) + kPageSize - 2, in.data(), 2) == 0);
    CHECK(std::memcmp(owner.frame(HostFrame{1}), in.data() + 2, 2) == 0);
}

TEST_CASE("fd machine memory reports a failed mapping naming the call", "[gpu][memory]") {
    try {
        gpu::FdMachineMemory mem(-1, 1);
        FAIL("mapping a bad fd succeeded");
    } catch (const std::system_error& e) {
        CHECK(e.code().value() == EBADF);
        CHECK(std::string(e.what()).find("mmap") != std::string::npos);
    }
    CHECK_THROWS_AS(gpu::FdMachineMemory(-1, 0), std::system_error);
}
