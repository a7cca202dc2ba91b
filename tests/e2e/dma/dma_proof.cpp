// xengt-dma-proof DOMID: the machine-frame path proven by a real bus master.
//
// On real Xen under QEMU, the outer machine's `edu` PCI device stands in for
// the GPU: it DMAs to whatever machine address it is given (no IOMMU). This
// tool resolves guest frames with the shipping MachineFramePins over the
// xengt-mfn module, and has the device move data between them as the guest
// and tests/e2e/dma/dma_proof.h agree. Every line it prints starts with
// "DMA-PROOF:"; the last is "DMA-PROOF: RESULT PASS" or "... FAIL".
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gpu/pci/sysfs.hpp"
#include "tests/e2e/dma/dma_proof.h"
#include "xengt/xen/handles.hpp"
#include "xengt/xen/machine_frame_pins.hpp"
#include "xengt/xen/machine_frames.hpp"

using namespace xengt;
namespace pci = xengt::gpu::pci;
using Clock = std::chrono::steady_clock;

namespace {

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
    std::printf("DMA-PROOF: ");
    va_list ap;
    va_start(ap, fmt);
    std::vprintf(fmt, ap);
    va_end(ap);
    std::printf("\n");
    std::fflush(stdout);
}

// QEMU's edu device (hw/misc/edu.c): identification at 0x00; DMA source,
// destination, byte count and command at 0x80/0x88/0x90/0x98. Command bit 0
// starts a transfer and reads 1 until it is done; bit 1 set moves from the
// device's buffer (device address 0x40000) to RAM, clear from RAM into it.
class Edu {
public:
    static constexpr uint32_t kIdent = 0x010000ed;  // version 1.0, "ed"
    static constexpr uint64_t kBuffer = 0x40000;
    // QEMU 7.2 aborts on a transfer ending exactly at the end of its 4 KiB
    // buffer, so transfers stay in its first half.
    static constexpr uint32_t kMaxTransfer = 2048;

    // The first 1234:11e8 device, enabled as a bus master; nullopt if none.
    static std::optional<Edu> find() {
        const std::filesystem::path devices = "/sys/bus/pci/devices";
        std::error_code ec;
        for (const auto& d : std::filesystem::directory_iterator(devices, ec)) {
            const std::string bdf = d.path().filename();
            try {
                if (pci::read_text(bdf, d.path() / "vendor") == "0x1234\n" &&
                    pci::read_text(bdf, d.path() / "device") == "0x11e8\n") {
                    return Edu(bdf, d.path());
                }
            } catch (const pci::PciError&) {
                // unreadable: not ours
            }
        }
        return std::nullopt;
    }

    const std::string& bdf() const { return bdf_; }
    uint32_t ident() const { return reg32(0x00); }

    // One transfer; false if the device is still busy after 10 s.
    bool transfer(uint64_t src, uint64_t dst, uint32_t bytes, bool to_ram) {
        reg64(0x80) = src;
        reg64(0x88) = dst;
        reg64(0x90) = bytes;
        reg64(0x98) = 1 | (to_ram ? 2 : 0);
        const auto limit = Clock::now() + std::chrono::seconds(10);
        while ((reg64(0x98) & 1) != 0) {
            if (Clock::now() > limit) {
                return false;
            }
            // The device finishes on a 100 ms virtual-time timer: poll, do not spin.
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        return true;
    }
    // RAM -> device buffer -> RAM, in chunks the device accepts.
    bool copy_page(uint64_t src, uint64_t dst) {
        for (uint64_t off = 0; off < 4096; off += kMaxTransfer) {
            if (!transfer(src + off, kBuffer, kMaxTransfer, false) ||
                !transfer(kBuffer, dst + off, kMaxTransfer, true)) {
                return false;
            }
        }
        return true;
    }

private:
    Edu(std::string bdf, const std::filesystem::path& dir)
        : bdf_(std::move(bdf)), regs_(enable_and_map(bdf_, dir)) {}
    static pci::Mapping enable_and_map(const std::string& bdf, const std::filesystem::path& dir) {
        {
            pci::UniqueFd en = pci::open_file(bdf, dir / "enable", O_WRONLY);
            if (::write(en.get(), "1", 1) != 1) {
                throw pci::PciError(bdf, dir / "enable", "cannot enable", errno);
            }
        }
        // Memory decode (bit 1) and bus mastering (bit 2) in the command register.
        pci::UniqueFd cfg = pci::open_file(bdf, dir / "config", O_RDWR);
        uint16_t cmd = 0;
        if (::pread(cfg.get(), &cmd, 2, 4) != 2) {
            throw pci::PciError(bdf, dir / "config", "cannot read the command register", errno);
        }
        cmd |= 0x6;
        if (::pwrite(cfg.get(), &cmd, 2, 4) != 2) {
            throw pci::PciError(bdf, dir / "config", "cannot set bus mastering", errno);
        }
        return pci::Mapping::map_file(bdf, dir / "resource0", 1 << 20);
    }
    volatile uint32_t& reg32(uint32_t off) const {
        return *reinterpret_cast<volatile uint32_t*>(regs_.data() + off);
    }
    volatile uint64_t& reg64(uint32_t off) const {
        return *reinterpret_cast<volatile uint64_t*>(regs_.data() + off);
    }

    std::string bdf_;
    pci::Mapping regs_;
};

// A CPU mapping of guest frames (independent of the pins' own mappings).
xen::ForeignMapping map_frames(xenforeignmemory_handle* fmem, uint16_t domid, const uint32_t* gfns,
                               size_t n) {
    std::vector<xen_pfn_t> pfns(gfns, gfns + n);
    std::vector<int> errs(n, 0);
    void* addr =
        xenforeignmemory_map(fmem, domid, PROT_READ | PROT_WRITE, n, pfns.data(), errs.data());
    if (addr == nullptr) {
        return {};
    }
    xen::ForeignMapping m(fmem, addr, n);
    for (int e : errs) {
        if (e != 0) {
            return {};
        }
    }
    return m;
}

volatile uint32_t* dwords(const xen::ForeignMapping& m, size_t page) {
    return reinterpret_cast<volatile uint32_t*>(m.data() + page * 4096);
}

int run(uint16_t domid) {
    auto edu = Edu::find();
    if (!edu) {
        say("no edu device (1234:11e8) on this machine's PCI bus");
        return 1;
    }
    say("edu device at %s, ident %#x", edu->bdf().c_str(), edu->ident());
    if (edu->ident() != Edu::kIdent) {
        say("unexpected edu identification");
        return 1;
    }
    xen::ForeignMemory fmem;
    xen::XengtMfnDevice module;
    xen::MachineFrameRegistry registry;
    std::optional<xen::MachineFramePins> pins_storage;
    xen::MachineFramePins& pins = pins_storage.emplace(fmem.get(), domid, module, registry);

    // The guest's mailbox, polled until it says ready.
    const uint32_t mailbox_gfn = DMA_MAILBOX_GFN;
    xen::ForeignMapping mailbox = map_frames(fmem.get(), domid, &mailbox_gfn, 1);
    if (!mailbox) {
        say("cannot map dom%u's mailbox frame %#x", domid, mailbox_gfn);
        return 1;
    }
    auto* mb = reinterpret_cast<volatile dma_mailbox*>(mailbox.data());
    const auto limit = Clock::now() + std::chrono::seconds(180);
    while (mb->magic != DMA_MAGIC || mb->state != DMA_WAITING) {
        if (Clock::now() > limit) {
            say("dom%u never filled its mailbox (magic %#x)", domid, mb->magic);
            return 1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const uint32_t seed = mb->seed;
    // Only the frames both sides agreed on: the guest's word is not trusted.
    bool agreed = mb->pages == DMA_PAGES;
    for (unsigned p = 0; p < DMA_PAGES; ++p) {
        agreed = agreed && mb->source[p] == dma_source_gfns[p] &&
                 mb->target[p] == dma_target_gfns[p] && mb->staging[p] == dma_staging_gfns[p];
    }
    if (!agreed) {
        say("dom%u's mailbox names other frames than agreed", domid);
        mb->state = DMA_FAILED;
        return 1;
    }
    say("dom%u ready, seed %#x", domid, seed);

    // Machine frames of every frame taking part, through the module.
    struct Frame {
        uint32_t gfn;
        uint64_t mfn;
    };
    auto resolve = [&](uint32_t gfn) -> std::optional<Frame> {
        auto f = pins.pin(GuestFrame{gfn});
        if (!f) {
            say("cannot pin and resolve gfn %#x", gfn);
            return std::nullopt;
        }
        return Frame{gfn, f->value()};
    };
    Frame source[DMA_PAGES], target[DMA_PAGES], staging[DMA_PAGES];
    std::set<uint64_t> mfns;
    for (unsigned p = 0; p < DMA_PAGES; ++p) {
        auto s = resolve(dma_source_gfns[p]);
        auto t = resolve(dma_target_gfns[p]);
        auto g = resolve(dma_staging_gfns[p]);
        if (!s || !t || !g) {
            mb->state = DMA_FAILED;
            return 1;
        }
        source[p] = *s;
        target[p] = *t;
        staging[p] = *g;
        mfns.insert({s->mfn, t->mfn, g->mfn});
        say("gfn %#x -> mfn %#llx, gfn %#x -> mfn %#llx, gfn %#x -> mfn %#llx", s->gfn,
            static_cast<unsigned long long>(s->mfn), t->gfn,
            static_cast<unsigned long long>(t->mfn), g->gfn,
            static_cast<unsigned long long>(g->mfn));
    }
    bool ok = true;
    if (mfns.size() != 3 * DMA_PAGES) {
        say("FAIL: %zu distinct machine frames for %u guest frames", mfns.size(), 3 * DMA_PAGES);
        ok = false;
    }

    // The CPU's own view of the staging and target frames, for checking.
    uint32_t cpu_gfns[2 * DMA_PAGES];
    for (unsigned p = 0; p < DMA_PAGES; ++p) {
        cpu_gfns[p] = dma_staging_gfns[p];
        cpu_gfns[DMA_PAGES + p] = dma_target_gfns[p];
    }
    xen::ForeignMapping cpu = map_frames(fmem.get(), domid, cpu_gfns, 2 * DMA_PAGES);
    if (!cpu) {
        say("cannot map the staging and target frames");
        mb->state = DMA_FAILED;
        return 1;
    }

    // Dwords of CPU-mapped page `page` that differ from `gfn`'s pattern for `dir`.
    auto wrong_dwords = [&](size_t page, uint32_t gfn, uint32_t dir) {
        unsigned wrong = 0;
        volatile uint32_t* got = dwords(cpu, page);
        for (uint32_t i = 0; i < DMA_DWORDS; ++i) {
            wrong += got[i] != dma_pattern(seed, gfn, i, dir);
        }
        return wrong;
    };

    // Guest -> device: the device reads each source frame by machine address.
    for (unsigned p = 0; p < DMA_PAGES && ok; ++p) {
        if (!edu->copy_page(source[p].mfn << 12, staging[p].mfn << 12)) {
            say("FAIL: edu transfer timed out");
            ok = false;
            break;
        }
        const unsigned wrong = wrong_dwords(p, source[p].gfn, DMA_GUEST_TO_DEVICE);
        say("%s guest->device: the device read gfn %#x at mfn %#llx: %u of %u dwords wrong",
            wrong == 0 ? "PASS" : "FAIL", source[p].gfn,
            static_cast<unsigned long long>(source[p].mfn), wrong, DMA_DWORDS);
        ok = ok && wrong == 0;
    }
    // Device -> guest: the device writes each target frame by machine address.
    for (unsigned p = 0; p < DMA_PAGES && ok; ++p) {
        volatile uint32_t* stage = dwords(cpu, p);
        for (uint32_t i = 0; i < DMA_DWORDS; ++i) {
            stage[i] = dma_pattern(seed, target[p].gfn, i, DMA_DEVICE_TO_GUEST);
        }
        if (!edu->copy_page(staging[p].mfn << 12, target[p].mfn << 12)) {
            say("FAIL: edu transfer timed out");
            ok = false;
            break;
        }
        const unsigned wrong = wrong_dwords(DMA_PAGES + p, target[p].gfn, DMA_DEVICE_TO_GUEST);
        say("%s device->guest: the device wrote gfn %#x at mfn %#llx: %u of %u dwords wrong",
            wrong == 0 ? "PASS" : "FAIL", target[p].gfn,
            static_cast<unsigned long long>(target[p].mfn), wrong, DMA_DWORDS);
        ok = ok && wrong == 0;
    }

    // What is not a foreign mapping of ours is refused, with the documented errno.
    alignas(4096) static uint8_t own_page[4096];
    own_page[0] = 1;
    uint64_t frame = 0;
    const int anon = module.query(own_page, 1, &frame);
    const int misaligned = module.query(mailbox.data() + 8, 1, &frame);
    say("%s the module refuses dom0's own memory with ENXIO (got %s) and a misaligned address "
        "with EINVAL (got %s)",
        anon == ENXIO && misaligned == EINVAL ? "PASS" : "FAIL", strerrorname_np(anon),
        strerrorname_np(misaligned));
    ok = ok && anon == ENXIO && misaligned == EINVAL;

    for (unsigned p = 0; p < DMA_PAGES; ++p) {
        pins.unpin(GuestFrame{source[p].gfn});
        pins.unpin(GuestFrame{target[p].gfn});
        pins.unpin(GuestFrame{staging[p].gfn});
    }
    say("after unpinning: %zu pinned, %zu translations cached", pins.pinned(), pins.cached());
    pins_storage.reset();
    say("after teardown: %zu frames registered", registry.size());
    mb->state = ok ? DMA_DONE : DMA_FAILED;
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: xengt-dma-proof DOMID\n");
        return 2;
    }
    char* end = nullptr;
    const unsigned long domid = std::strtoul(argv[1], &end, 10);
    if (*end != '\0' || domid == 0 || domid >= 0x7ff0) {
        std::fprintf(stderr, "xengt-dma-proof: %s is not a guest domain id\n", argv[1]);
        return 2;
    }
    int rc = 1;
    try {
        rc = run(static_cast<uint16_t>(domid));
    } catch (const std::exception& e) {
        say("%s", e.what());
    }
    say("RESULT %s", rc == 0 ? "PASS" : "FAIL");
    return rc;
}
