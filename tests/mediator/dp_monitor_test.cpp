// The virtual DP monitor on its own (dp_monitor.hpp) and its EDID (edid.hpp).
#include <catch2/catch.hpp>

#include <vector>

#include "mediator/display/dp_monitor.hpp"
#include "mediator/display/edid.hpp"

using namespace xengt::mediator::display;

TEST_CASE("the EDID is a valid 1.4 block describing the mode", "[display][edid]") {
    const EdidBlock e = make_edid(kMode1024x768At60);
    CHECK(edid_valid(e));
    CHECK(e[18] == 1);
    CHECK(e[19] == 4);
    CHECK(e[20] == 0xA5);  // digital, 8 bpc, DisplayPort
    CHECK(e[126] == 0);
    const uint8_t* t = &e[54];
    CHECK((t[0] | t[1] << 8) == 6500);  // 65 MHz in 10 kHz units
    CHECK((t[2] | (t[4] >> 4) << 8) == 1024);
    CHECK((t[3] | (t[4] & 0xF) << 8) == 320);  // horizontal blanking
    CHECK((t[5] | (t[7] >> 4) << 8) == 768);
    CHECK((t[6] | (t[7] & 0xF) << 8) == 38);  // vertical blanking
    CHECK(t[8] == 24);
    CHECK(t[9] == 136);
    CHECK(t[10] == (3 << 4 | 6));
    CHECK((t[17] & 0x06) == 0);  // both syncs negative
    CHECK(e[72 + 3] == 0xFD);    // range limits follow
    CHECK(e[72 + 5] <= 60);
    CHECK(e[72 + 6] >= 60);
    CHECK(e[90 + 3] == 0xFC);  // monitor name

    EdidBlock broken = e;
    broken[100] ^= 1;
    CHECK_FALSE(edid_valid(broken));
}

TEST_CASE("an unplugged monitor answers nothing", "[display]") {
    DpMonitor m;
    CHECK_FALSE(m.connected());
    const std::vector<uint8_t> read = {0x90, 0x00, 0x00, 0x00};
    CHECK_FALSE(m.transfer(read).has_value());
    m.set_connected(true);
    const auto r = m.transfer(read);
    REQUIRE(r.has_value());
    CHECK(r->size == 2);
    CHECK(r->bytes[0] == kAuxAck);
    CHECK(r->bytes[1] == kSinkDpcdRev);
    // Too short to be a request: nothing a sink could answer.
    CHECK_FALSE(m.transfer(std::vector<uint8_t>{0x90, 0x00}).has_value());
    // Native transactions carry a length.
    CHECK(m.transfer(std::vector<uint8_t>{0x90, 0x00, 0x00})->bytes[0] == kAuxNativeNack);
}

TEST_CASE("EDID reads continue from the last offset and wrap at 128", "[display][edid]") {
    DpMonitor m;
    m.set_connected(true);
    REQUIRE(m.transfer(std::vector<uint8_t>{0x40, 0x00, 0x50, 0x00, 0x7E})->bytes[0] == kAuxAck);
    const auto r = m.transfer(std::vector<uint8_t>{0x10, 0x00, 0x50, 0x03});  // 4 bytes, STOP
    REQUIRE(r.has_value());
    CHECK(r->size == 5);
    CHECK(r->bytes[1] == m.edid()[126]);
    CHECK(r->bytes[2] == m.edid()[127]);
    CHECK(r->bytes[3] == m.edid()[0]);
    CHECK(r->bytes[4] == m.edid()[1]);
}
