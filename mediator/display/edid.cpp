// Byte layout per VESA E-EDID 1.4 (Release A, Rev. 2), section 3; offsets
// are given next to each field.
#include "mediator/display/edid.hpp"

#include <algorithm>
#include <cstring>

namespace xengt::mediator::display {
namespace {

constexpr uint8_t kHeader[8] = {0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
constexpr size_t kDescriptorBytes = 18;
constexpr size_t kDescriptor1 = 54;  // four 18-byte descriptors at 54, 72, 90, 108

// Display descriptor tags (byte 3 of a descriptor whose bytes 0-1 are zero).
constexpr uint8_t kTagRangeLimits = 0xFD;
constexpr uint8_t kTagProductName = 0xFC;
constexpr uint8_t kTagDummy = 0x10;

// Chromaticity of sRGB (red, green, blue, D65 white), x and y as 10-bit
// binary fractions (value * 1024).
constexpr uint16_t kSrgbChroma[8] = {655, 338, 307, 614, 154, 61, 320, 337};

uint8_t lo8(uint32_t v) {
    return static_cast<uint8_t>(v & 0xFF);
}

// Detailed timing descriptor (section 3.10.2).
void put_detailed_timing(uint8_t* d, const DisplayMode& m) {
    const uint32_t clock_10khz = m.pixel_clock_khz / 10;
    const uint32_t hblank = uint32_t{m.hfront} + m.hsync + m.hback;
    const uint32_t vblank = uint32_t{m.vfront} + m.vsync + m.vback;
    d[0] = lo8(clock_10khz);  // little endian, units of 10 kHz
    d[1] = lo8(clock_10khz >> 8);
    d[2] = lo8(m.hactive);
    d[3] = lo8(hblank);
    d[4] = static_cast<uint8_t>((m.hactive >> 8) << 4 | (hblank >> 8));
    d[5] = lo8(m.vactive);
    d[6] = lo8(vblank);
    d[7] = static_cast<uint8_t>((m.vactive >> 8) << 4 | (vblank >> 8));
    d[8] = lo8(m.hfront);
    d[9] = lo8(m.hsync);
    d[10] = static_cast<uint8_t>((m.vfront & 0xF) << 4 | (m.vsync & 0xF));
    d[11] = static_cast<uint8_t>((m.hfront >> 8) << 6 | (m.hsync >> 8) << 4 | (m.vfront >> 4) << 2 |
                                 (m.vsync >> 4));
    d[12] = lo8(m.width_mm);
    d[13] = lo8(m.height_mm);
    d[14] = static_cast<uint8_t>((m.width_mm >> 8) << 4 | (m.height_mm >> 8));
    // Flags: non-interlaced, digital separate sync (bits 4:3 = 11), sync
    // polarities in bits 2 (vertical) and 1 (horizontal).
    d[17] =
        static_cast<uint8_t>(0x18 | (m.vsync_positive ? 0x04 : 0) | (m.hsync_positive ? 0x02 : 0));
}

// Display range limits (section 3.10.3.3): refresh 50-75 Hz, the line rates
// and pixel clock those refreshes need at this mode's totals.
void put_range_limits(uint8_t* d, const DisplayMode& m) {
    constexpr uint32_t kMinHz = 50, kMaxHz = 75;
    const uint32_t per_frame = m.htotal() * m.vtotal();
    const uint32_t line_khz_at = m.vtotal();  // kHz of lines = Hz * vtotal / 1000
    d[3] = kTagRangeLimits;
    d[5] = kMinHz;
    d[6] = kMaxHz;
    d[7] = static_cast<uint8_t>(std::max<uint32_t>(1, kMinHz * line_khz_at / 1000));
    d[8] = static_cast<uint8_t>(std::min<uint32_t>(255, (kMaxHz * line_khz_at + 999) / 1000));
    const uint64_t max_clock_khz = uint64_t{kMaxHz} * per_frame / 1000;
    d[9] = static_cast<uint8_t>(std::min<uint64_t>(255, (max_clock_khz + 9999) / 10000));
    d[10] = 0x01;  // range limits only: no timing formula
    d[11] = 0x0A;
    std::fill(d + 12, d + kDescriptorBytes, uint8_t{0x20});
}

void put_name(uint8_t* d, const char* name) {
    d[3] = kTagProductName;
    const size_t n = std::min<size_t>(std::strlen(name), 13);
    for (size_t i = 0; i < 13; ++i) {  // text, then LF, then spaces
        d[5 + i] = i < n ? static_cast<uint8_t>(name[i]) : (i == n ? 0x0A : 0x20);
    }
}

}  // namespace

EdidBlock make_edid(const DisplayMode& mode) {
    EdidBlock e{};
    std::memcpy(e.data(), kHeader, sizeof kHeader);  // 0-7
    // 8-9: manufacturer "XEN", three 5-bit letters ('A' = 1), big endian.
    const unsigned mfg = ('X' - '@') << 10 | ('E' - '@') << 5 | ('N' - '@');
    e[8] = lo8(mfg >> 8);
    e[9] = lo8(mfg);
    e[10] = 0x02;  // 10-11: product code, little endian
    e[12] = 0x01;  // 12-15: serial number
    e[16] = 1;     // 16: week of manufacture
    e[17] = 26;    // 17: year - 1990 (2016)
    e[18] = 1;     // 18-19: EDID 1.4
    e[19] = 4;
    e[20] = 0xA5;  // 20: digital input, 8 bits per colour (110 -> 010), DisplayPort (0101)
    e[21] = lo8((mode.width_mm + 5) / 10);  // 21-22: screen size in cm
    e[22] = lo8((mode.height_mm + 5) / 10);
    e[23] = 120;   // 23: gamma 2.2, stored as gamma * 100 - 100
    e[24] = 0x06;  // 24: RGB 4:4:4, sRGB default colour space, preferred timing is native
    // 25-34: chromaticity, the low 2 bits of each value packed in 25-26.
    e[25] = static_cast<uint8_t>((kSrgbChroma[0] & 3) << 6 | (kSrgbChroma[1] & 3) << 4 |
                                 (kSrgbChroma[2] & 3) << 2 | (kSrgbChroma[3] & 3));
    e[26] = static_cast<uint8_t>((kSrgbChroma[4] & 3) << 6 | (kSrgbChroma[5] & 3) << 4 |
                                 (kSrgbChroma[6] & 3) << 2 | (kSrgbChroma[7] & 3));
    for (size_t i = 0; i < 8; ++i) {
        e[27 + i] = lo8(kSrgbChroma[i] >> 2);
    }
    // 35-37: established timings the mode covers: 640x480@60 (35 bit 5),
    // 800x600@60 (35 bit 0), 1024x768@60 (36 bit 3).
    if (mode.hactive >= 640 && mode.vactive >= 480) {
        e[35] |= 0x20;
    }
    if (mode.hactive >= 800 && mode.vactive >= 600) {
        e[35] |= 0x01;
    }
    if (mode.hactive >= 1024 && mode.vactive >= 768) {
        e[36] |= 0x08;
    }
    std::fill(&e[38], &e[54], uint8_t{0x01});  // 38-53: standard timings, all unused
    put_detailed_timing(&e[kDescriptor1], mode);
    put_range_limits(&e[kDescriptor1 + kDescriptorBytes], mode);
    put_name(&e[kDescriptor1 + 2 * kDescriptorBytes], "XenGT vDP");
    e[kDescriptor1 + 3 * kDescriptorBytes + 3] = kTagDummy;
    e[126] = 0;  // 126: no extension blocks
    uint8_t sum = 0;
    for (size_t i = 0; i < kEdidBlockBytes - 1; ++i) {
        sum = static_cast<uint8_t>(sum + e[i]);
    }
    e[127] = static_cast<uint8_t>(0x100 - sum);  // 127: the block sums to 0 mod 256
    return e;
}

bool edid_valid(std::span<const uint8_t, kEdidBlockBytes> block) {
    uint8_t sum = 0;
    for (uint8_t b : block) {
        sum = static_cast<uint8_t>(sum + b);
    }
    return sum == 0 && std::equal(std::begin(kHeader), std::end(kHeader), block.begin());
}

}  // namespace xengt::mediator::display
