// EDID 1.3 base block, laid out per VESA E-EDID 1.3 (byte offsets below). The
// §7.3 note that GVT's default monitor has a 1024x768 EDID sets the mode; the
// timing numbers are the VESA DMT 1024x768@60 mode (65 MHz, 1344x806 total).
#include "gpu/model/edid.hpp"

#include <cstring>

namespace xengt::gpu::model {
namespace {

// 1024x768@60 (VESA DMT): active, blanking, sync offset and pulse width.
constexpr uint32_t kPixelClock10kHz = 6500;
constexpr uint32_t kHActive = 1024, kHBlank = 320, kHSyncOffset = 24, kHSyncWidth = 136;
constexpr uint32_t kVActive = 768, kVBlank = 38, kVSyncOffset = 3, kVSyncWidth = 6;
constexpr uint32_t kWidthMm = 325, kHeightMm = 244;  // a 16" 4:3 panel

// Chromaticity as 10-bit binary fractions (x * 1024): sRGB primaries, D65 white.
constexpr uint32_t kChroma[8] = {655, 338, 307, 614, 154, 61, 320, 337};  // Rx Ry Gx Gy Bx By Wx Wy

void put_text_descriptor(uint8_t* d, uint8_t tag, const char* text) {
    d[3] = tag;  // bytes 0-2 and 4 zero: a display descriptor, not a timing
    const size_t n = std::strlen(text);
    for (size_t i = 0; i < 13; ++i) {
        d[5 + i] = i < n ? static_cast<uint8_t>(text[i]) : (i == n ? 0x0A : 0x20);
    }
}

EdidBlock build() {
    EdidBlock e{};
    const uint8_t header[8] = {0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00};
    std::memcpy(e.data(), header, 8);  // bytes 0-7: fixed header
    // Bytes 8-9: manufacturer "XEN", three 5-bit letters ('A' = 1), big endian.
    const uint16_t mfg = ('X' - '@') << 10 | ('E' - '@') << 5 | ('N' - '@');
    e[8] = static_cast<uint8_t>(mfg >> 8);
    e[9] = static_cast<uint8_t>(mfg);
    e[10] = 0x01;                                  // bytes 10-11: product code (LE)
    e[12] = 0x01;                                  // bytes 12-15: serial number (LE)
    e[16] = 1;                                     // week of manufacture
    e[17] = 26;                                    // year - 1990 (2016, Skylake's year)
    e[18] = 1;                                     // EDID version 1
    e[19] = 3;                                     // revision 3
    e[20] = 0x80;                                  // video input: digital
    e[21] = static_cast<uint8_t>(kWidthMm / 10);   // max image size, cm
    e[22] = static_cast<uint8_t>(kHeightMm / 10);  // (rounded down)
    e[23] = 120;                                   // gamma 2.2: (gamma * 100) - 100
    e[24] = 0x0A;  // features: RGB colour display (bits 4:3 = 01), preferred timing (bit 1)
    // Bytes 25-34: chromaticity, low 2 bits packed in 25/26, high 8 bits in 27-34.
    e[25] = static_cast<uint8_t>((kChroma[0] & 3) << 6 | (kChroma[1] & 3) << 4 |
                                 (kChroma[2] & 3) << 2 | (kChroma[3] & 3));
    e[26] = static_cast<uint8_t>((kChroma[4] & 3) << 6 | (kChroma[5] & 3) << 4 |
                                 (kChroma[6] & 3) << 2 | (kChroma[7] & 3));
    for (int i = 0; i < 8; ++i) {
        e[27 + i] = static_cast<uint8_t>(kChroma[i] >> 2);
    }
    e[35] = 0x21;  // established timings I: 640x480@60 (bit 5), 800x600@60 (bit 0)
    e[36] = 0x08;  // established timings II: 1024x768@60 (bit 3)
    for (int i = 38; i < 54; ++i) {
        e[i] = 0x01;  // bytes 38-53: eight unused standard timings (0x01 0x01)
    }
    // Bytes 54-71: detailed timing descriptor 1, the preferred mode.
    uint8_t* t = &e[54];
    t[0] = kPixelClock10kHz & 0xFF;
    t[1] = kPixelClock10kHz >> 8;
    t[2] = kHActive & 0xFF;
    t[3] = kHBlank & 0xFF;
    t[4] = static_cast<uint8_t>((kHActive >> 8) << 4 | (kHBlank >> 8));
    t[5] = kVActive & 0xFF;
    t[6] = kVBlank & 0xFF;
    t[7] = static_cast<uint8_t>((kVActive >> 8) << 4 | (kVBlank >> 8));
    t[8] = kHSyncOffset & 0xFF;
    t[9] = kHSyncWidth & 0xFF;
    t[10] = static_cast<uint8_t>((kVSyncOffset & 0xF) << 4 | (kVSyncWidth & 0xF));
    t[11] = static_cast<uint8_t>((kHSyncOffset >> 8) << 6 | (kHSyncWidth >> 8) << 4 |
                                 (kVSyncOffset >> 4) << 2 | (kVSyncWidth >> 4));
    t[12] = kWidthMm & 0xFF;
    t[13] = kHeightMm & 0xFF;
    t[14] = static_cast<uint8_t>((kWidthMm >> 8) << 4 | (kHeightMm >> 8));
    t[17] = 0x18;  // digital separate sync, negative vsync and hsync (DMT 1024x768)
    // Bytes 72-89: monitor range limits (tag 0xFD): 50-75 Hz, 30-80 kHz, 80 MHz max.
    uint8_t* r = &e[72];
    r[3] = 0xFD;
    r[5] = 50;
    r[6] = 75;
    r[7] = 30;
    r[8] = 80;
    r[9] = 8;  // max pixel clock / 10 MHz
    r[11] = 0x0A;
    for (int i = 12; i < 18; ++i) {
        r[i] = 0x20;
    }
    put_text_descriptor(&e[90], 0xFC, "XenGT vMon");  // bytes 90-107: monitor name
    e[108 + 3] = 0x10;                                // bytes 108-125: dummy descriptor (tag 0x10)
    e[126] = 0;                                       // no extension blocks
    uint8_t sum = 0;
    for (int i = 0; i < 127; ++i) {
        sum = static_cast<uint8_t>(sum + e[i]);
    }
    e[127] = static_cast<uint8_t>(0x100 - sum);  // byte 127: all 128 bytes sum to 0 mod 256
    return e;
}

}  // namespace

const EdidBlock& monitor_edid() {
    static const EdidBlock edid = build();
    return edid;
}

}  // namespace xengt::gpu::model
