#include "tools/guests/gtt_driver.hpp"

#include <cstdio>

#include "tools/guests/pci.hpp"
#include "tools/guests/printer.hpp"

namespace xengt::guests {
namespace {

constexpr Bdf kGpu{0, 2, 0};
constexpr uint64_t kPage = 4096;
// BAR0 layout and registers (intel-gpu.md §1.2, §2.3, §9).
constexpr uint64_t kGgtt = 0x800000;
constexpr uint64_t kGfxFlushCntl = 0x101008;
constexpr uint64_t kPvinfo = 0x78000;
constexpr uint64_t kMappableBase = kPvinfo + 0x40;
constexpr uint64_t kMappableSize = kPvinfo + 0x44;
constexpr uint64_t kHiddenBase = kPvinfo + 0x48;
constexpr uint64_t kHiddenSize = kPvinfo + 0x4c;
constexpr uint64_t kG2vNotify = kPvinfo + 0x818;
constexpr uint64_t kPdp0Lo = kPvinfo + 0x838;
constexpr uint64_t kPdp0Hi = kPvinfo + 0x83c;
constexpr uint32_t kG2vL4Create = 4;
// Gen8 page-table entry bits: present, writable.
constexpr uint64_t kPresentRw = 0x3;

void place_bars(sim::GuestCpu& cpu, const GttDriverLayout& l) {
    pci_write(cpu, kGpu, 0x10, 4, static_cast<uint32_t>(l.bar0));
    pci_write(cpu, kGpu, 0x14, 4, static_cast<uint32_t>(l.bar0 >> 32));
    pci_write(cpu, kGpu, 0x18, 4, static_cast<uint32_t>(l.bar2));
    pci_write(cpu, kGpu, 0x1c, 4, static_cast<uint32_t>(l.bar2 >> 32));
    pci_write(cpu, kGpu, 0x20, 4, l.bar4);
    pci_write(cpu, kGpu, 0x04, 2, 0x7);  // I/O + memory decode + bus master
}

void ram_write64(sim::GuestCpu& cpu, uint64_t gpa, uint64_t v) {
    cpu.write(gpa, 8, v);
}

}  // namespace

GttDriverReport run_gtt_driver(sim::GuestCpu& cpu, const GttDriverLayout& l) {
    GttDriverReport r;
    Printer print(cpu, r.lines);
    place_bars(cpu, l);
    r.mappable_base = static_cast<uint32_t>(cpu.read(l.bar0 + kMappableBase, 4));
    r.mappable_size = static_cast<uint32_t>(cpu.read(l.bar0 + kMappableSize, 4));
    r.hidden_base = static_cast<uint32_t>(cpu.read(l.bar0 + kHiddenBase, 4));
    r.hidden_size = static_cast<uint32_t>(cpu.read(l.bar0 + kHiddenSize, 4));
    print("gtt: mappable %#x+%#x hidden %#x+%#x", r.mappable_base, r.mappable_size, r.hidden_base,
          r.hidden_size);

    // Map the buffer pages at the start of the mappable slice, then flush.
    const uint64_t first = r.mappable_base / kPage;
    for (unsigned i = 0; i < l.buffer_pages; ++i) {
        cpu.write(l.bar0 + kGgtt + (first + i) * 8, 8, (l.buffer_gfn + i) * kPage | 1);
    }
    cpu.write(l.bar0 + kGfxFlushCntl, 4, 1);

    // Aperture -> RAM: the CPU writes through the aperture, the pages change.
    bool ok = true;
    for (unsigned i = 0; i < l.buffer_pages; ++i) {
        cpu.write(l.bar2 + r.mappable_base + i * kPage + 64, 4, l.pattern | i);
    }
    for (unsigned i = 0; i < l.buffer_pages; ++i) {
        ok &= cpu.read((l.buffer_gfn + i) * kPage + 64, 4) == (l.pattern | i);
    }
    r.aperture_to_ram = ok;
    // RAM -> aperture.
    ok = true;
    for (unsigned i = 0; i < l.buffer_pages; ++i) {
        cpu.write((l.buffer_gfn + i) * kPage + 128, 4, ~(l.pattern | i));
    }
    for (unsigned i = 0; i < l.buffer_pages; ++i) {
        ok &= cpu.read(l.bar2 + r.mappable_base + i * kPage + 128, 4) == ~(l.pattern | i);
    }
    r.ram_to_aperture = ok;
    print("gtt: aperture->ram %s, ram->aperture %s", r.aperture_to_ram ? "ok" : "FAILED",
          r.ram_to_aperture ? "ok" : "FAILED");

    // Hostile: an entry just below the slice, and the aperture just below it.
    const uint64_t outside = first - 1;
    r.foreign_entry_written = l.buffer_gfn * kPage | 1;
    cpu.write(l.bar0 + kGgtt + outside * 8, 8, r.foreign_entry_written);
    r.foreign_entry_readback = cpu.read(l.bar0 + kGgtt + outside * 8, 8);
    r.foreign_aperture_read =
        static_cast<uint32_t>(cpu.read(l.bar2 + r.mappable_base - kPage + 64, 4));
    print("gtt: entry written outside the slice reads back %#llx, aperture outside reads %#x",
          static_cast<unsigned long long>(r.foreign_entry_readback), r.foreign_aperture_read);

    // A 4-level PPGTT mapping GPU VA 0.. onto the buffer pages.
    const uint64_t pml4 = l.ppgtt_gfn * kPage;
    ram_write64(cpu, pml4, (pml4 + kPage) | kPresentRw);
    ram_write64(cpu, pml4 + kPage, (pml4 + 2 * kPage) | kPresentRw);
    ram_write64(cpu, pml4 + 2 * kPage, (pml4 + 3 * kPage) | kPresentRw);
    for (unsigned i = 0; i < l.buffer_pages; ++i) {
        ram_write64(cpu, pml4 + 3 * kPage + i * 8, (l.buffer_gfn + i) * kPage | kPresentRw);
    }
    r.pml4_gpa = pml4;
    cpu.write(l.bar0 + kPdp0Lo, 4, static_cast<uint32_t>(pml4));
    cpu.write(l.bar0 + kPdp0Hi, 4, static_cast<uint32_t>(pml4 >> 32));
    cpu.write(l.bar0 + kG2vNotify, 4, kG2vL4Create);
    // The PT page is now write-protected: this store traps and the host
    // applies it; swapping the first two buffer pages must still read back.
    const uint64_t pte0 = pml4 + 3 * kPage;
    ram_write64(cpu, pte0, (l.buffer_gfn + 1) * kPage | kPresentRw);
    ram_write64(cpu, pte0 + 8, l.buffer_gfn * kPage | kPresentRw);
    r.pte_rewrite_visible = cpu.read(pte0, 8) == ((l.buffer_gfn + 1) * kPage | kPresentRw) &&
                            cpu.read(pte0 + 8, 8) == (l.buffer_gfn * kPage | kPresentRw);
    print("gtt: PPGTT at %#llx announced; PTE rewrite %s", static_cast<unsigned long long>(pml4),
          r.pte_rewrite_visible ? "ok" : "FAILED");
    return r;
}

bool gtt_driver_passed(const GttDriverReport& r, std::string* why) {
    auto fail = [&](const char* what) {
        if (why != nullptr) {
            *why = what;
        }
        return false;
    };
    if (r.mappable_size == 0 || r.hidden_size == 0) {
        return fail("PVINFO reported no graphics memory");
    }
    if (!r.aperture_to_ram) {
        return fail("aperture writes did not reach the mapped pages");
    }
    if (!r.ram_to_aperture) {
        return fail("RAM writes were not visible through the aperture");
    }
    if (r.foreign_aperture_read != 0xffffffff) {
        return fail("the aperture outside the slice was reachable");
    }
    if (!r.pte_rewrite_visible) {
        return fail("a write to a protected page table was lost");
    }
    return true;
}

}  // namespace xengt::guests
