// Strong types for the address spaces a GPU mediator juggles.
//
// A guest-physical address, a guest frame, a host frame, a graphics-memory
// address and a register offset are all "just integers" to the compiler; here
// each is its own type so that one can never be passed where another is meant.
// Conversions between them are named functions, never casts.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

namespace xengt {

inline constexpr uint64_t kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
inline constexpr uint64_t kPageMask = kPageSize - 1;

inline constexpr uint64_t KiB(uint64_t n) {
    return n << 10;
}
inline constexpr uint64_t MiB(uint64_t n) {
    return n << 20;
}
inline constexpr uint64_t GiB(uint64_t n) {
    return n << 30;
}

// An integer that only compares with, and converts to, its own kind.
template <class Tag, class Rep = uint64_t>
class StrongInt {
public:
    using rep_type = Rep;
    constexpr StrongInt() = default;
    constexpr explicit StrongInt(Rep v) : value_(v) {}
    constexpr Rep value() const { return value_; }
    friend constexpr auto operator<=>(StrongInt, StrongInt) = default;

private:
    Rep value_{};
};

// Address in a guest's physical address space (what the guest's CPU puts on its bus).
struct GuestPhysAddrTag {};
using GuestPhysAddr = StrongInt<GuestPhysAddrTag>;
// Guest frame number: GuestPhysAddr >> 12.
struct GuestFrameTag {};
using GuestFrame = StrongInt<GuestFrameTag>;
// A frame the GPU can reach (meaning depends on the GPU backend; see architecture).
struct HostFrameTag {};
using HostFrame = StrongInt<HostFrameTag>;
// Graphics-memory address: an offset into the global GTT address space.
struct GmAddrTag {};
using GmAddr = StrongInt<GmAddrTag>;
// Byte offset into a device BAR or register file.
struct MmioOffsetTag {};
using MmioOffset = StrongInt<MmioOffsetTag, uint32_t>;
// An x86 I/O port.
struct IoPortTag {};
using IoPort = StrongInt<IoPortTag, uint16_t>;

constexpr GuestFrame frame_of(GuestPhysAddr a) {
    return GuestFrame{a.value() >> kPageShift};
}
constexpr GuestPhysAddr address_of(GuestFrame f) {
    return GuestPhysAddr{f.value() << kPageShift};
}
constexpr uint64_t page_offset(GuestPhysAddr a) {
    return a.value() & kPageMask;
}

// The width of one register or memory access. Only 1, 2, 4 and 8 bytes exist;
// the factory is the single place a guest-supplied size becomes trusted.
class AccessSize {
public:
    static constexpr std::optional<AccessSize> from_bytes(uint64_t bytes) {
        if (bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8) {
            return AccessSize(static_cast<uint8_t>(bytes));
        }
        return std::nullopt;
    }
    static constexpr AccessSize byte() { return AccessSize(1); }
    static constexpr AccessSize word() { return AccessSize(2); }
    static constexpr AccessSize dword() { return AccessSize(4); }
    static constexpr AccessSize qword() { return AccessSize(8); }

    constexpr unsigned bytes() const { return bytes_; }
    // All-ones in the low `bytes()` bytes: what an unclaimed read returns.
    constexpr uint64_t mask() const {
        return bytes_ == 8 ? ~uint64_t{0} : (uint64_t{1} << (8 * bytes_)) - 1;
    }
    friend constexpr bool operator==(AccessSize, AccessSize) = default;

private:
    constexpr explicit AccessSize(uint8_t b) : bytes_(b) {}
    uint8_t bytes_;
};

}  // namespace xengt
