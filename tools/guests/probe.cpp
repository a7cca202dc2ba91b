#include "tools/guests/probe.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "tools/guests/pci.hpp"
#include "tools/guests/printer.hpp"

namespace xengt::guests {
namespace {

constexpr Bdf kGpu{0, 2, 0};
constexpr Bdf kEmptySlot{0, 3, 0};

// Standard PCI header offsets and command bits.
constexpr uint32_t kVendorId = 0x00;
constexpr uint32_t kCommand = 0x04;
constexpr uint32_t kClassRev = 0x08;
constexpr uint32_t kBar0 = 0x10;
constexpr uint32_t kBar2 = 0x18;
constexpr uint32_t kBar4 = 0x20;
constexpr uint32_t kCmdIo = 1u << 0;
constexpr uint32_t kCmdMemory = 1u << 1;

// GPU facts the probe checks against.
constexpr uint64_t kPvinfo = 0x78000;   // PVINFO page inside BAR0
constexpr uint64_t kFence0 = 0x100000;  // first fence register: plain read/write storage

// Size a 64-bit memory BAR the way firmware does: write all-ones to both
// halves, read back the address mask, restore.
uint64_t size_bar64(sim::GuestCpu& cpu, uint32_t reg, uint32_t* flags) {
    uint32_t lo = pci_read(cpu, kGpu, reg, 4);
    uint32_t hi = pci_read(cpu, kGpu, reg + 4, 4);
    pci_write(cpu, kGpu, reg, 4, 0xffffffff);
    pci_write(cpu, kGpu, reg + 4, 4, 0xffffffff);
    uint64_t mask = uint64_t{pci_read(cpu, kGpu, reg + 4, 4)} << 32 | pci_read(cpu, kGpu, reg, 4);
    pci_write(cpu, kGpu, reg, 4, lo);
    pci_write(cpu, kGpu, reg + 4, 4, hi);
    *flags = static_cast<uint32_t>(mask & 0xf);
    return ~(mask & ~uint64_t{0xf}) + 1;
}

uint64_t size_io_bar(sim::GuestCpu& cpu, uint32_t reg) {
    uint32_t orig = pci_read(cpu, kGpu, reg, 4);
    pci_write(cpu, kGpu, reg, 4, 0xffffffff);
    uint32_t mask = pci_read(cpu, kGpu, reg, 4) & ~3u;
    pci_write(cpu, kGpu, reg, 4, orig);
    // Only the implemented (16-bit on x86) part of an I/O BAR counts.
    return (~mask + 1) & 0xffff;
}

void place_bar64(sim::GuestCpu& cpu, uint32_t reg, uint64_t addr) {
    pci_write(cpu, kGpu, reg, 4, static_cast<uint32_t>(addr));
    pci_write(cpu, kGpu, reg + 4, 4, static_cast<uint32_t>(addr >> 32));
}

}  // namespace

ProbeReport run_probe(sim::GuestCpu& cpu, const ProbeLayout& layout) {
    ProbeReport r;
    Printer say(cpu, r.lines);

    r.empty_slot_id = pci_read(cpu, kEmptySlot, kVendorId, 4);
    uint32_t id = pci_read(cpu, kGpu, kVendorId, 4);
    r.vendor = static_cast<uint16_t>(id);
    r.device = static_cast<uint16_t>(id >> 16);
    r.class_code = pci_read(cpu, kGpu, kClassRev, 4) >> 8;
    r.found = r.vendor == 0x8086 && (r.class_code >> 16) == 0x03;
    say("probe: 00:02.0 id %04x:%04x class %06x (%s); 00:03.0 reads %08x", r.vendor, r.device,
        r.class_code, r.found ? "Intel display controller" : "no GPU", r.empty_slot_id);
    if (!r.found) {
        return r;
    }

    uint32_t flags0 = 0;
    uint32_t flags2 = 0;
    r.bar0_size = size_bar64(cpu, kBar0, &flags0);
    r.bar2_size = size_bar64(cpu, kBar2, &flags2);
    r.bar4_size = size_io_bar(cpu, kBar4);
    r.bar2_prefetchable = (flags2 & 0x8) != 0;
    say("probe: BAR0 %" PRIu64 " MiB, BAR2 %" PRIu64 " MiB%s, BAR4 %" PRIu64 " ports",
        r.bar0_size >> 20, r.bar2_size >> 20, r.bar2_prefetchable ? " prefetchable" : "",
        r.bar4_size);

    place_bar64(cpu, kBar0, layout.bar0);
    place_bar64(cpu, kBar2, layout.bar2);
    pci_write(cpu, kGpu, kBar4, 4, layout.bar4);
    uint32_t cmd = pci_read(cpu, kGpu, kCommand, 2);
    pci_write(cpu, kGpu, kCommand, 2, cmd | kCmdIo | kCmdMemory);
    say("probe: BAR0 at %#" PRIx64 ", BAR2 at %#" PRIx64 ", BAR4 at %#x, decode on", layout.bar0,
        layout.bar2, layout.bar4);

    r.pvinfo_magic = cpu.read(layout.bar0 + kPvinfo, 8);
    r.version_major = static_cast<uint16_t>(cpu.read(layout.bar0 + kPvinfo + 8, 2));
    r.version_minor = static_cast<uint16_t>(cpu.read(layout.bar0 + kPvinfo + 10, 2));
    r.vgt_id = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0xc, 4));
    r.caps = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0x10, 4));
    say("probe: PVINFO magic %#" PRIx64 " version %u.%u vgt_id %u caps %#x (%s)", r.pvinfo_magic,
        r.version_major, r.version_minor, r.vgt_id, r.caps,
        r.pvinfo_magic == kPvinfoMagic ? "GVT-g vGPU detected" : "not a vGPU");

    // avail_rs: the slices this guest may use; i915 balloons away the rest.
    r.mappable_base = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0x40, 4));
    r.mappable_size = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0x44, 4));
    r.hidden_base = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0x48, 4));
    r.hidden_size = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0x4c, 4));
    r.fence_num = static_cast<uint32_t>(cpu.read(layout.bar0 + kPvinfo + 0x50, 4));
    say("probe: graphics memory: mappable %#x+%u MiB, hidden %#x+%u MiB, %u fences",
        r.mappable_base, r.mappable_size >> 20, r.hidden_base, r.hidden_size >> 20, r.fence_num);

    r.register_written = 0x12345001;
    cpu.write(layout.bar0 + kFence0, 4, r.register_written);
    r.register_read = static_cast<uint32_t>(cpu.read(layout.bar0 + kFence0, 4));
    say("probe: FENCE0 wrote %#x read %#x", r.register_written, r.register_read);

    place_bar64(cpu, kBar0, layout.bar0_moved);
    r.magic_after_move = cpu.read(layout.bar0_moved + kPvinfo, 8);
    r.old_place_after_move = cpu.read(layout.bar0 + kPvinfo, 8);
    say("probe: BAR0 moved to %#" PRIx64 ": magic there %#" PRIx64 ", old place %#" PRIx64,
        layout.bar0_moved, r.magic_after_move, r.old_place_after_move);

    pci_write(cpu, kGpu, kCommand, 2, cmd | kCmdIo);
    r.magic_decode_off = cpu.read(layout.bar0_moved + kPvinfo, 8);
    pci_write(cpu, kGpu, kCommand, 2, cmd | kCmdIo | kCmdMemory);
    r.magic_decode_back_on = cpu.read(layout.bar0_moved + kPvinfo, 8);
    say("probe: memory decode off reads %#" PRIx64 ", back on %#" PRIx64, r.magic_decode_off,
        r.magic_decode_back_on);

    // Four dwords of PVINFO into a RAM buffer whose second element straddles a
    // page boundary: one ioreq, data_is_ptr, copied by the server.
    const uint64_t buf = layout.scratch_ram - 6;
    cpu.rep_movs_from_mmio(buf, layout.bar0_moved + kPvinfo, 4, 4);
    cpu.ram_read(buf, std::as_writable_bytes(std::span(r.rep_buffer)));
    say("probe: rep movs into RAM at %#" PRIx64 ": %08x %08x %08x %08x", buf, r.rep_buffer[0],
        r.rep_buffer[1], r.rep_buffer[2], r.rep_buffer[3]);

    std::string why;
    say("probe: %s%s", probe_passed(r, &why) ? "PASS" : "FAIL: ", why.c_str());
    return r;
}

bool probe_passed(const ProbeReport& r, std::string* why) {
    auto fail = [&](const char* reason) {
        if (why != nullptr) {
            *why = reason;
        }
        return false;
    };
    if (!r.found)
        return fail("no Intel display controller at 00:02.0");
    if (r.empty_slot_id != 0xffffffff)
        return fail("empty slot 00:03.0 did not read all-ones");
    if (r.bar0_size != (16u << 20))
        return fail("BAR0 is not 16 MiB");
    if (r.bar2_size == 0 || !r.bar2_prefetchable)
        return fail("BAR2 not a prefetchable aperture");
    if (r.bar4_size != 64)
        return fail("BAR4 is not 64 ports");
    if (r.pvinfo_magic != kPvinfoMagic)
        return fail("PVINFO magic wrong");
    if (r.version_major != 1 || r.version_minor != 0)
        return fail("PVINFO version not 1.0");
    if (r.register_read != r.register_written)
        return fail("register round trip lost the value");
    if (r.magic_after_move != kPvinfoMagic)
        return fail("BAR0 accesses did not follow the move");
    if (r.old_place_after_move != ~uint64_t{0})
        return fail("old BAR0 place still decodes");
    if (r.magic_decode_off != ~uint64_t{0})
        return fail("MMIO decoded with memory decode off");
    if (r.magic_decode_back_on != kPvinfoMagic)
        return fail("MMIO did not come back with decode");
    const uint32_t expect[4] = {
        static_cast<uint32_t>(kPvinfoMagic), static_cast<uint32_t>(kPvinfoMagic >> 32),
        uint32_t{r.version_major} | uint32_t{r.version_minor} << 16, r.vgt_id};
    if (std::memcmp(r.rep_buffer, expect, sizeof expect) != 0) {
        return fail("rep movs buffer differs from the registers read directly");
    }
    return true;
}

}  // namespace xengt::guests
