#include "tools/guests/exec_driver.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <span>
#include <stdexcept>
#include <thread>

#include "tools/guests/pci.hpp"
#include "tools/guests/printer.hpp"

namespace xengt::guests {
namespace {

constexpr Bdf kGpu{0, 2, 0};
constexpr uint64_t kPage = 4096;

// Config space (intel-gpu.md §1.5): MSI capability; PCIe Device Control
// (capability at 0x70, +8), bit 15 Initiate FLR.
constexpr uint32_t kMsiCap = 0xac;
constexpr uint32_t kPcieDevCtl = 0x78;
constexpr uint32_t kInitiateFlr = 1u << 15;

// BAR0 (§2.3, §9): GGTT window, its flush register, the PVINFO page.
constexpr uint64_t kGgtt = 0x800000;
constexpr uint32_t kGfxFlushCntl = 0x101008;
constexpr uint32_t kPvinfo = 0x78000;
constexpr uint32_t kPvMagic = kPvinfo + 0x00;
constexpr uint32_t kPvMappableBase = kPvinfo + 0x40;
constexpr uint32_t kPvMappableSize = kPvinfo + 0x44;
constexpr uint32_t kPvHiddenBase = kPvinfo + 0x48;
constexpr uint32_t kPvHiddenSize = kPvinfo + 0x4c;
constexpr uint32_t kPvG2vNotify = kPvinfo + 0x818;
constexpr uint32_t kPvPdp0Lo = kPvinfo + 0x838;
constexpr uint32_t kPvPdp0Hi = kPvinfo + 0x83c;
constexpr uint32_t kG2vL4Create = 4;
constexpr uint64_t kPvMagicValue = 0x4776544776544776;  // "vGTvGTvG"

// Interrupts (§6.1): GT bank 0 holds render in 15:0 and the blitter in 31:16.
constexpr uint32_t kMasterIrq = 0x44200;
constexpr uint32_t kMasterIrqControl = 1u << 31;
constexpr uint32_t kGt0Imr = 0x44304;
constexpr uint32_t kGt0Iir = 0x44308;
constexpr uint32_t kGt0Ier = 0x4430c;
constexpr uint32_t kIrqUser = 1u << 0;
constexpr uint32_t kIrqCsError = 1u << 3;
constexpr uint32_t kIrqContextSwitch = 1u << 8;
constexpr uint32_t kIrqEvents = kIrqUser | kIrqCsError | kIrqContextSwitch;

// Engines (§4.1, §4.7 image sizes) and their registers (§4.2).
struct EngineInfo {
    const char* name;
    uint32_t base;
    unsigned irq_shift;
    uint32_t context_pages;
};
constexpr unsigned kRender = 0;
constexpr unsigned kBlitter = 1;
constexpr std::array<EngineInfo, 2> kEngines = {{
    {"render", 0x02000, 0, 22},
    {"blitter", 0x22000, 16, 2},
}};
constexpr uint32_t kRingTail = 0x030;
constexpr uint32_t kRingHead = 0x034;
constexpr uint32_t kRingStart = 0x038;
constexpr uint32_t kRingCtl = 0x03c;
constexpr uint32_t kRingHwsPga = 0x080;
constexpr uint32_t kRingHwstam = 0x098;
constexpr uint32_t kRingMiMode = 0x09c;
constexpr uint32_t kRingImr = 0x0a8;
constexpr uint32_t kRingElsp = 0x230;
constexpr uint32_t kRingPdp0Ldw = 0x270;
constexpr uint32_t kRingPdp0Udw = 0x274;
constexpr uint32_t kRingMode = 0x29c;
constexpr uint32_t kCsbPtr = 0x3a0;
constexpr uint32_t kRunListEnable = 1u << 15;
constexpr uint32_t kStopRing = 1u << 8;
constexpr uint32_t kRingCtlValid = 1u << 0;
constexpr uint32_t kHeadMask = 0x001ffffc;

// §4.4 context descriptor.
constexpr uint64_t kDescValid = 1u << 0;
constexpr uint64_t kDescLegacy32 = 1u << 3;
constexpr uint64_t kDescLegacy64 = 3u << 3;

// §4.5 / §4.6: CSB events, and where the status page mirrors the CSB.
constexpr uint32_t kCsbIdleToActive = 1u << 0;
constexpr uint32_t kCsbActiveToIdle = 1u << 3;
constexpr uint32_t kCsbComplete = 1u << 4;
constexpr uint32_t kCsbEntries = 6;
constexpr uint32_t kHwspCsb = 0x40;
constexpr uint32_t kHwspCsbWritePtr = 0x7c;

// §4.7 value dwords of the register-state page (page 1 of the image).
constexpr uint32_t kCtxLriHeader = 0x01;
constexpr uint32_t kCtxHead = 0x05;
constexpr uint32_t kCtxTail = 0x07;
constexpr uint32_t kCtxStart = 0x09;
constexpr uint32_t kCtxCtl = 0x0b;
constexpr uint32_t kCtxPdp0Udw = 0x31;
constexpr uint32_t kCtxPdp0Ldw = 0x33;

// Commands (§5.2, §5.4).
constexpr uint32_t kMiNoop = 0x00000000;
constexpr uint32_t kMiUserInterrupt = 0x01000000;
constexpr uint32_t kMiBatchBufferEnd = 0x05000000;
constexpr uint32_t kMiStoreDataImmGgtt = 0x10000002 | 1u << 22;
constexpr uint32_t kMiLoadRegisterImm1 = 0x11000001;
constexpr uint32_t kMiBatchBufferStart = 0x18800001;
constexpr uint32_t kBbsPpgtt = 1u << 8;
constexpr uint32_t kBbsSecondLevel = 1u << 22;
constexpr uint32_t kXyColorBlt32 = 0x54000005 | 3u << 20;
constexpr uint32_t kXySrcCopyBlt32 = 0x54c00008 | 3u << 20;
constexpr uint32_t kBr13Depth32 = 3u << 24;
constexpr uint32_t kRopPatCopy = 0xf0u << 16;
constexpr uint32_t kRopSrcCopy = 0xccu << 16;

// Gen8 page-table entries (§3.2): present, writable.
constexpr uint64_t kPresentRw = 0x3;

// Blit surfaces: rows this far apart, so a width up to 64 pixels.
constexpr uint32_t kPitch = 256;

// Why the driver cannot go on; ends the run with report.failure.
struct DriverError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

uint32_t xy(uint32_t x, uint32_t y) {
    return y << 16 | x;
}
uint32_t lo(uint64_t v) {
    return static_cast<uint32_t>(v);
}
uint32_t hi(uint64_t v) {
    return static_cast<uint32_t>(v >> 32);
}

std::vector<uint32_t> fill_cmd(uint64_t dst, uint32_t pitch, uint32_t w, uint32_t h,
                               uint32_t colour) {
    return {kXyColorBlt32, kBr13Depth32 | kRopPatCopy | pitch, xy(0, 0), xy(w, h), lo(dst), hi(dst),
            colour};
}
std::vector<uint32_t> copy_cmd(uint64_t dst, uint64_t src, uint32_t w, uint32_t h) {
    return {kXySrcCopyBlt32, kBr13Depth32 | kRopSrcCopy | kPitch,
            xy(0, 0),        xy(w, h),
            lo(dst),         hi(dst),
            xy(0, 0),        kPitch,
            lo(src),         hi(src)};
}
std::vector<uint32_t> store_cmd(uint64_t gm, uint32_t value) {
    return {kMiStoreDataImmGgtt, lo(gm), hi(gm), value};
}
void append(std::vector<uint32_t>& to, const std::vector<uint32_t>& cmds) {
    to.insert(to.end(), cmds.begin(), cmds.end());
}

// What the guest draws and stores: distinct per guest (seed), round and use.
uint32_t colour(uint32_t seed, unsigned round, uint32_t use) {
    return 0xff000000u | (seed & 0xff) << 16 | (round & 0xff) << 8 | (use & 0xff);
}
uint32_t stored(uint32_t seed, unsigned round, unsigned i) {
    return (seed & 0xff) << 24 | (round & 0xff) << 16 | (i & 0xffff);
}
uint32_t source_pixel(uint32_t seed, unsigned round, uint32_t x, uint32_t y) {
    return 0xff000000u | (((seed * 0x9e3779b9u) ^ (round << 20) ^ (y << 8) ^ x) & 0x00ffffffu);
}

// The simulated vCPU cannot halt until an interrupt: it polls, yielding
// first, then backing off a little so that several polling guests leave the
// host's threads (and the GPU's) the CPU. Correctness rests on the polled
// condition, never on the time slept.
class Backoff {
public:
    void pause() {
        if (spins_++ < 64) {
            std::this_thread::yield();
        } else {
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        }
    }

private:
    unsigned spins_ = 0;
};

struct Context {
    unsigned engine = kRender;
    uint64_t lrca = 0;  // GM
    uint64_t ring = 0;  // GM
    uint32_t ring_bytes = 0;
    uint32_t tail = 0;
    uint32_t id = 0;
    uint64_t pml4 = 0;  // guest-physical; 0: GGTT only
};

// The driver: device bring-up, memory, contexts, submission, completion.
class Driver {
public:
    Driver(sim::GuestCpu& cpu, const ExecDriverLayout& l, Printer& print)
        : cpu_(cpu), l_(l), print_(print) {}

    // Everything a device reset undoes: BARs and decode, MSI, the slices,
    // the GGTT mappings made so far, execlists and interrupts per engine.
    void bring_up() {
        pci_write(cpu_, kGpu, 0x10, 4, lo(l_.bar0));
        pci_write(cpu_, kGpu, 0x14, 4, hi(l_.bar0));
        pci_write(cpu_, kGpu, 0x18, 4, lo(l_.bar2));
        pci_write(cpu_, kGpu, 0x1c, 4, hi(l_.bar2));
        pci_write(cpu_, kGpu, 0x20, 4, l_.bar4);
        pci_write(cpu_, kGpu, 0x04, 2, 0x7);  // I/O + memory decode + bus master
        if (l_.msi) {
            pci_write(cpu_, kGpu, kMsiCap + 4, 4, l_.msi_address);
            pci_write(cpu_, kGpu, kMsiCap + 8, 2, l_.msi_data);
            pci_write(cpu_, kGpu, kMsiCap + 2, 2, 1);
        }
        pv_magic_ = (uint64_t{rd(kPvMagic + 4)} << 32 | rd(kPvMagic)) == kPvMagicValue;
        mappable_base_ = rd(kPvMappableBase);
        mappable_size_ = rd(kPvMappableSize);
        hidden_base_ = rd(kPvHiddenBase);
        hidden_size_ = rd(kPvHiddenSize);
        if (hidden_size_ == 0) {
            throw DriverError("PVINFO reports no hidden graphics memory");
        }
        for (const auto& [page, gpa] : gm_pages_) {
            write_pte(page * kPage, gpa);
        }
        flush_ggtt();
        for (unsigned e = 0; e < kEngines.size(); ++e) {
            enable_engine(e);
        }
        wr(kMasterIrq, kMasterIrqControl);
    }

    // PCIe function level reset: the vGPU forgets everything, failsafe
    // too; bring_up() then sets the device up again.
    void flr() {
        const uint32_t ctl = pci_read(cpu_, kGpu, kPcieDevCtl, 2);
        pci_write(cpu_, kGpu, kPcieDevCtl, 2, ctl | kInitiateFlr);
    }

    uint32_t rd(uint32_t offset) { return static_cast<uint32_t>(cpu_.read(l_.bar0 + offset, 4)); }
    void wr(uint32_t offset, uint32_t v) { cpu_.write(l_.bar0 + offset, 4, v); }

    // Memory. RAM pages come from the layout's range; GM from the hidden
    // slice PVINFO reported (the ballooning rule: nothing else is ours).
    uint64_t ram_alloc(uint64_t pages) {
        if (ram_next_ + pages > l_.ram_pages) {
            throw DriverError("out of the RAM the layout gives the driver");
        }
        const uint64_t gpa = (l_.ram_gfn + ram_next_) * kPage;
        ram_next_ += pages;
        return gpa;
    }
    uint64_t gm_alloc(uint64_t pages) {
        const uint64_t gm = uint64_t{hidden_base_} + l_.gm_offset + gm_next_;
        if (l_.gm_offset + gm_next_ + pages * kPage > hidden_size_) {
            throw DriverError("out of the hidden graphics-memory slice");
        }
        gm_next_ += pages * kPage;
        const uint64_t gpa = ram_alloc(pages);
        for (uint64_t i = 0; i < pages; ++i) {
            gm_pages_[(gm >> 12) + i] = gpa + i * kPage;
            write_pte(gm + i * kPage, gpa + i * kPage);
        }
        return gm;
    }
    void flush_ggtt() { wr(kGfxFlushCntl, 1); }

    uint64_t gpa(uint64_t gm) const {
        auto it = gm_pages_.find(gm >> 12);
        if (it == gm_pages_.end()) {
            throw DriverError("GM address not mapped by the driver");
        }
        return it->second + (gm & (kPage - 1));
    }
    void poke(uint64_t gm, uint32_t v) { cpu_.write(gpa(gm), 4, v); }
    uint32_t peek(uint64_t gm) { return static_cast<uint32_t>(cpu_.read(gpa(gm), 4)); }
    void write_ram(uint64_t gpa, std::span<const uint32_t> dws) {
        cpu_.ram_write(gpa, std::as_bytes(dws));
    }
    void read_ram(uint64_t gpa, std::span<uint32_t> dws) {
        cpu_.ram_read(gpa, std::as_writable_bytes(dws));
    }
    // GM ranges the driver maps are backed by consecutive RAM pages.
    void write_gm(uint64_t gm, std::span<const uint32_t> dws) { write_ram(gpa(gm), dws); }
    void read_gm(uint64_t gm, std::span<uint32_t> dws) { read_ram(gpa(gm), dws); }

    // A GGTT batch in fresh pages.
    uint64_t batch(const std::vector<uint32_t>& dws) {
        const uint64_t gm = gm_alloc((dws.size() * 4 + kPage - 1) / kPage);
        write_gm(gm, dws);
        return gm;
    }

    Context make_context(unsigned e, uint32_t id, uint32_t ring_pages, uint64_t pml4 = 0) {
        Context c;
        c.engine = e;
        c.lrca = gm_alloc(kEngines[e].context_pages);
        c.ring = gm_alloc(ring_pages);
        c.ring_bytes = ring_pages * static_cast<uint32_t>(kPage);
        c.id = id;
        c.pml4 = pml4;
        write_image(c);
        return c;
    }
    // §4.7: the register-state page as an LRI stream; a fresh ring.
    void write_image(Context& c) {
        const uint32_t base = kEngines[c.engine].base;
        std::vector<uint32_t> state(kCtxPdp0Ldw + 1, kMiNoop);
        auto reg = [&](uint32_t dw, uint32_t offset, uint32_t value) {
            state[dw - 1] = base + offset;
            state[dw] = value;
        };
        state[kCtxLriHeader] = 0x11000000 | 1u << 12 | (2 * 14 - 1);  // LRI, force posted
        reg(kCtxHead, kRingHead, 0);
        reg(kCtxTail, kRingTail, 0);
        reg(kCtxStart, kRingStart, lo(c.ring));
        reg(kCtxCtl, kRingCtl, (c.ring_bytes - static_cast<uint32_t>(kPage)) | kRingCtlValid);
        reg(kCtxPdp0Udw, kRingPdp0Udw, hi(c.pml4));
        reg(kCtxPdp0Ldw, kRingPdp0Ldw, lo(c.pml4));
        write_gm(c.lrca + kPage, state);
        c.tail = 0;
    }

    // Where the host says the context's ring was consumed up to.
    uint32_t image_head(const Context& c) {
        return peek(c.lrca + kPage + kCtxHead * 4) & kHeadMask;
    }
    uint32_t ring_space(const Context& c) {
        return (image_head(c) + 2 * c.ring_bytes - c.tail - 8) % c.ring_bytes;
    }

    // Commands into the ring (waiting for room), padded to a qword.
    void emit(Context& c, const std::vector<uint32_t>& dws) {
        std::vector<uint32_t> padded = dws;
        if (padded.size() % 2 != 0) {
            padded.push_back(kMiNoop);
        }
        if (padded.size() * 4 + 8 > c.ring_bytes) {
            throw DriverError("commands larger than the ring");
        }
        wait_for([&] { return ring_space(c) >= padded.size() * 4; }, "ring space");
        for (const uint32_t v : padded) {
            poke(c.ring + c.tail, v);
            c.tail = (c.tail + 4) % c.ring_bytes;
        }
    }

    // §4.4: the tail into the image, then both elements through ELSP (the
    // fourth dword submits). Element 1 unused.
    void submit(Context& c) {
        process_csb(c.engine);
        poke(c.lrca + kPage + kCtxTail * 4, c.tail);
        const uint64_t desc = uint64_t{c.id} << 32 | c.lrca |
                              (c.pml4 != 0 ? kDescLegacy64 : kDescLegacy32) | kDescValid;
        const uint32_t elsp = kEngines[c.engine].base + kRingElsp;
        wr(elsp, 0);
        wr(elsp, 0);
        wr(elsp, hi(desc));
        wr(elsp, lo(desc));
        ++submissions_;
    }

    // New CSB entries from the status page, as i915 reads them (§4.5).
    void process_csb(unsigned e) {
        EngineState& s = engines_[e];
        const uint32_t tail = peek(s.hwsp + kHwspCsbWritePtr);
        if (tail >= kCsbEntries) {
            return;
        }
        while (s.csb_head != tail) {
            s.csb_head = (s.csb_head + 1) % kCsbEntries;
            const uint32_t events = peek(s.hwsp + kHwspCsb + s.csb_head * 8);
            const uint32_t id = peek(s.hwsp + kHwspCsb + s.csb_head * 8 + 4);
            ++csb_events_;
            if ((events & kCsbIdleToActive) != 0) {
                s.active = true;
            }
            if ((events & kCsbComplete) != 0) {
                ++s.completed[id];
            }
            if ((events & kCsbActiveToIdle) != 0) {
                s.active = false;
            }
        }
    }
    uint64_t completed(const Context& c) { return engines_[c.engine].completed[c.id]; }

    // Until the engine went idle and the host retired each context of
    // `consumed` up to its tail.
    void wait_idle(unsigned e, std::initializer_list<const Context*> consumed) {
        wait_for(
            [&] {
                process_csb(e);
                if (engines_[e].active) {
                    return false;
                }
                for (const Context* c : consumed) {
                    if (image_head(*c) != c->tail) {
                        return false;
                    }
                }
                return true;
            },
            kEngines[e].name);
    }

    template <class Pred>
    void wait_for(Pred done, const char* what) {
        const auto deadline = std::chrono::steady_clock::now() + l_.wait_limit;
        Backoff backoff;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw DriverError(std::string("timed out waiting for ") + what);
            }
            backoff.pause();
        }
    }

    // GT IIR bank 0, acknowledged as i915's handler does; per-engine tallies.
    uint32_t take_iir() {
        const uint32_t iir = rd(kGt0Iir);
        if (iir != 0) {
            wr(kGt0Iir, iir);
        }
        for (unsigned e = 0; e < kEngines.size(); ++e) {
            const uint32_t bits = iir >> kEngines[e].irq_shift;
            user_interrupts_[e] += (bits & kIrqUser) != 0;
            cs_errors_[e] += (bits & kIrqCsError) != 0;
            context_switches_[e] += (bits & kIrqContextSwitch) != 0;
        }
        return iir;
    }
    static bool cs_error_on(uint32_t iir, unsigned e) {
        return (iir >> kEngines[e].irq_shift & kIrqCsError) != 0;
    }

    void report_into(ExecDriverReport& r) const {
        r.mappable_base = mappable_base_;
        r.mappable_size = mappable_size_;
        r.hidden_base = hidden_base_;
        r.hidden_size = hidden_size_;
        r.pv_magic = pv_magic_;
        r.elsp_submissions = submissions_;
        r.csb_events = csb_events_;
        r.user_interrupts = user_interrupts_;
        r.cs_errors = cs_errors_;
        r.context_switches = context_switches_;
    }

    uint32_t mappable_base() const { return mappable_base_; }
    uint32_t mappable_size() const { return mappable_size_; }
    uint32_t hidden_base() const { return hidden_base_; }
    uint32_t hidden_size() const { return hidden_size_; }
    uint64_t submissions() const { return submissions_; }
    Printer& print() { return print_; }

private:
    struct EngineState {
        uint64_t hwsp = 0;
        uint32_t csb_head = kCsbEntries - 1;
        bool active = false;
        std::map<uint32_t, uint64_t> completed;  // complete events per context ID
    };

    void write_pte(uint64_t gm, uint64_t gpa) {
        cpu_.write(l_.bar0 + kGgtt + (gm >> 12) * 8, 8, gpa | 1);
    }

    // §4.3 enable_execlists, the engine's interrupts, and the CSB reset
    // i915 does (§4.5): pointers at 5, so entry 0 is written next.
    void enable_engine(unsigned e) {
        EngineState& s = engines_[e];
        const uint32_t base = kEngines[e].base;
        if (s.hwsp == 0) {
            s.hwsp = gm_alloc(1);
            flush_ggtt();
        }
        wr(base + kRingHwstam, 0xffffffff);
        wr(base + kRingMode, kRunListEnable << 16 | kRunListEnable);
        wr(base + kRingMiMode, kStopRing << 16);
        wr(base + kRingHwsPga, lo(s.hwsp));
        wr(base + kRingImr, ~kIrqEvents);
        const uint32_t events = kIrqEvents << kEngines[e].irq_shift;
        wr(kGt0Imr, rd(kGt0Imr) & ~events);
        wr(kGt0Ier, rd(kGt0Ier) | events);
        wr(base + kCsbPtr, 0xffff0000u | (kCsbEntries - 1) << 8 | (kCsbEntries - 1));
        poke(s.hwsp + kHwspCsbWritePtr, kCsbEntries - 1);
        s.csb_head = kCsbEntries - 1;
        s.active = false;
    }

    sim::GuestCpu& cpu_;
    const ExecDriverLayout& l_;
    Printer& print_;
    bool pv_magic_ = false;
    uint32_t mappable_base_ = 0;
    uint32_t mappable_size_ = 0;
    uint32_t hidden_base_ = 0;
    uint32_t hidden_size_ = 0;
    uint64_t ram_next_ = 0;                  // pages
    uint64_t gm_next_ = 0;                   // bytes
    std::map<uint64_t, uint64_t> gm_pages_;  // GM page -> guest-physical address
    std::array<EngineState, 2> engines_{};
    uint64_t submissions_ = 0;
    uint64_t csb_events_ = 0;
    std::array<uint64_t, 2> user_interrupts_{};
    std::array<uint64_t, 2> cs_errors_{};
    std::array<uint64_t, 2> context_switches_{};
};

uint64_t surface_pages(uint32_t height) {
    // The rectangle's rows plus a page of guard: nothing may land beyond it.
    return (uint64_t{height} * kPitch + kPage - 1) / kPage + 1;
}

// Compares a whole surface (rectangle, then guard) with what should be there.
void check_surface(Driver& d, ExecCheck& check, uint64_t gm, uint32_t w, uint32_t h,
                   const std::function<uint32_t(uint32_t, uint32_t)>& expected) {
    std::vector<uint32_t> px(surface_pages(h) * kPage / 4);
    d.read_gm(gm, px);
    for (size_t i = 0; i < px.size(); ++i) {
        const uint32_t x = static_cast<uint32_t>(i % (kPitch / 4));
        const uint32_t y = static_cast<uint32_t>(i / (kPitch / 4));
        const uint32_t want = x < w && y < h ? expected(x, y) : 0;
        ++check.checked;
        check.wrong += px[i] != want;
    }
}

ExecCheck& check_named(ExecDriverReport& r, const char* name) {
    for (ExecCheck& c : r.checks) {
        if (c.name == name) {
            return c;
        }
    }
    r.checks.push_back({name, 0, 0});
    return r.checks.back();
}

// Rounds of blitter and render work in GGTT contexts, back to back; then
// rounds of PPGTT copies. Every result checked from the CPU.
void run_rendering(Driver& d, const ExecDriverLayout& l, ExecDriverReport& r) {
    const uint32_t w = std::min<uint32_t>(l.width, kPitch / 4);
    const uint32_t h = l.height;
    const uint64_t sp = surface_pages(h);
    Context blit = d.make_context(kBlitter, 0x100 + l.seed, 4);
    Context render = d.make_context(kRender, 0x200 + l.seed, 4);
    struct Round {
        uint64_t fill, copy, batch_fill, stores;
    };
    std::vector<Round> rounds;
    for (unsigned n = 0; n < l.rounds; ++n) {
        rounds.push_back({d.gm_alloc(sp), d.gm_alloc(sp), d.gm_alloc(sp),
                          d.gm_alloc((l.stores * 4 + kPage - 1) / kPage)});
    }
    d.flush_ggtt();
    for (unsigned n = 0; n < l.rounds; ++n) {
        const Round& rd = rounds[n];
        // Blitter: a fill from the ring, then a GGTT batch copying it and
        // filling another surface.
        std::vector<uint32_t> bb = copy_cmd(rd.copy, rd.fill, w, h);
        append(bb, fill_cmd(rd.batch_fill, kPitch, w, h, colour(l.seed, n, 0xa5)));
        bb.push_back(kMiBatchBufferEnd);
        const uint64_t blit_bb = d.batch(bb);
        std::vector<uint32_t> ring = fill_cmd(rd.fill, kPitch, w, h, colour(l.seed, n, 0x5a));
        append(ring, {kMiBatchBufferStart, lo(blit_bb), hi(blit_bb), kMiUserInterrupt});
        // Render: a GGTT batch of MI_STORE_DATA_IMMs.
        std::vector<uint32_t> stores;
        for (unsigned i = 0; i < l.stores; ++i) {
            append(stores, store_cmd(rd.stores + i * 4, stored(l.seed, n, i)));
        }
        stores.push_back(kMiBatchBufferEnd);
        const uint64_t render_bb = d.batch(stores);
        d.flush_ggtt();
        d.emit(blit, ring);
        d.emit(render, {kMiBatchBufferStart, lo(render_bb), hi(render_bb), kMiUserInterrupt});
        // Back to back: a resubmission of a running context is a lite restore.
        d.submit(blit);
        d.submit(render);
    }
    d.wait_idle(kBlitter, {&blit});
    d.wait_idle(kRender, {&render});
    d.take_iir();
    for (unsigned n = 0; n < l.rounds; ++n) {
        const Round& rd = rounds[n];
        const uint32_t ring_colour = colour(l.seed, n, 0x5a);
        const uint32_t batch_colour = colour(l.seed, n, 0xa5);
        check_surface(d, check_named(r, "blitter fill from the ring"), rd.fill, w, h,
                      [&](uint32_t, uint32_t) { return ring_colour; });
        check_surface(d, check_named(r, "blitter copy from a GGTT batch"), rd.copy, w, h,
                      [&](uint32_t, uint32_t) { return ring_colour; });
        check_surface(d, check_named(r, "blitter fill from a GGTT batch"), rd.batch_fill, w, h,
                      [&](uint32_t, uint32_t) { return batch_colour; });
        std::vector<uint32_t> got(l.stores);
        d.read_gm(rd.stores, got);
        ExecCheck& c = check_named(r, "render MI_STORE_DATA_IMM from a GGTT batch");
        for (unsigned i = 0; i < l.stores; ++i) {
            ++c.checked;
            c.wrong += got[i] != stored(l.seed, n, i);
        }
    }
    if (!l.ppgtt) {
        return;
    }

    // A 4-level PPGTT in RAM: one PT mapping VAs from 1 MiB onto source,
    // destination and batch pages, announced before its context runs.
    const uint64_t pml4 = d.ram_alloc(1), pdp = d.ram_alloc(1), pd = d.ram_alloc(1),
                   pt = d.ram_alloc(1);
    constexpr uint64_t kVaBase = 0x100000;
    const uint64_t va_pages_per_round = 2 * sp + 1;
    if ((kVaBase >> 12) + l.rounds * va_pages_per_round > 512) {
        throw DriverError("too many rounds for one page table");
    }
    const std::vector<uint32_t> zero(1024, 0);
    for (const uint64_t table : {pml4, pdp, pd, pt}) {
        d.write_ram(table, zero);
    }
    auto entry = [&](uint64_t table, uint64_t index, uint64_t to) {
        const uint64_t e = to | kPresentRw;
        d.write_ram(table + index * 8, std::vector<uint32_t>{lo(e), hi(e)});
    };
    entry(pml4, 0, pdp);
    entry(pdp, 0, pd);
    entry(pd, 0, pt);
    struct PpgttRound {
        uint64_t src_va, dst_va, bb_va, src, dst, bb;
    };
    std::vector<PpgttRound> prounds;
    for (unsigned n = 0; n < l.rounds; ++n) {
        const uint64_t va = kVaBase + n * va_pages_per_round * kPage;
        PpgttRound p{va,
                     va + sp * kPage,
                     va + 2 * sp * kPage,
                     d.ram_alloc(sp),
                     d.ram_alloc(sp),
                     d.ram_alloc(1)};
        for (uint64_t i = 0; i < sp; ++i) {
            entry(pt, (p.src_va >> 12) + i, p.src + i * kPage);
            entry(pt, (p.dst_va >> 12) + i, p.dst + i * kPage);
        }
        entry(pt, p.bb_va >> 12, p.bb);
        std::vector<uint32_t> px(sp * kPage / 4, 0);
        for (uint32_t y = 0; y < h; ++y) {
            for (uint32_t x = 0; x < w; ++x) {
                px[y * (kPitch / 4) + x] = source_pixel(l.seed, n, x, y);
            }
        }
        d.write_ram(p.src, px);
        std::vector<uint32_t> bb = copy_cmd(p.dst_va, p.src_va, w, h);
        bb.push_back(kMiBatchBufferEnd);
        d.write_ram(p.bb, bb);
        prounds.push_back(p);
    }
    d.wr(kPvPdp0Lo, lo(pml4));
    d.wr(kPvPdp0Hi, hi(pml4));
    d.wr(kPvG2vNotify, kG2vL4Create);
    Context ppgtt = d.make_context(kBlitter, 0x300 + l.seed, 1, pml4);
    d.flush_ggtt();
    for (const PpgttRound& p : prounds) {
        d.emit(ppgtt,
               {kMiBatchBufferStart | kBbsPpgtt, lo(p.bb_va), hi(p.bb_va), kMiUserInterrupt});
        d.submit(ppgtt);
    }
    d.wait_idle(kBlitter, {&ppgtt});
    d.take_iir();
    for (unsigned n = 0; n < l.rounds; ++n) {
        std::vector<uint32_t> px(sp * kPage / 4);
        d.read_ram(prounds[n].dst, px);
        ExecCheck& c = check_named(r, "blitter copy through the PPGTT from a PPGTT batch");
        for (size_t i = 0; i < px.size(); ++i) {
            const uint32_t x = static_cast<uint32_t>(i % (kPitch / 4));
            const uint32_t y = static_cast<uint32_t>(i / (kPitch / 4));
            ++c.checked;
            c.wrong += px[i] != (x < w && y < h ? source_pixel(l.seed, n, x, y) : 0);
        }
    }
}

// What the scanner must refuse, each in its own workload; see the header.
void run_malicious(Driver& d, const ExecDriverLayout& l, ExecDriverReport& r) {
    const uint32_t w = std::min<uint32_t>(l.width, kPitch / 4);
    const uint32_t h = l.height;
    Context render = d.make_context(kRender, 0x400 + l.seed, 4);
    Context blit = d.make_context(kBlitter, 0x500 + l.seed, 4);
    // Canaries: what a refused workload would have written first.
    const uint64_t canary = d.gm_alloc(1);
    constexpr unsigned kCanaries = 8;
    for (unsigned i = 0; i < kCanaries; ++i) {
        d.poke(canary + i * 4, 0xc0de0000u | i);
    }
    const uint64_t surface = d.gm_alloc(surface_pages(h));
    const uint64_t loop = d.gm_alloc(1);
    const uint64_t first = d.gm_alloc(1), second = d.gm_alloc(1), third = d.gm_alloc(1);
    d.flush_ggtt();
    d.write_gm(loop, std::vector<uint32_t>{kMiBatchBufferStart, lo(loop), hi(loop), kMiNoop});
    std::vector<uint32_t> bb1 = store_cmd(canary + 6 * 4, 0xbad00006);
    append(bb1, {kMiBatchBufferStart | kBbsSecondLevel, lo(second), hi(second), kMiBatchBufferEnd});
    d.write_gm(first, bb1);
    d.write_gm(second, std::vector<uint32_t>{kMiBatchBufferStart | kBbsSecondLevel, lo(third),
                                             hi(third), kMiBatchBufferEnd});
    std::vector<uint32_t> bb3 = store_cmd(canary + 7 * 4, 0xbad00007);
    bb3.push_back(kMiBatchBufferEnd);
    d.write_gm(third, bb3);

    auto canaries_intact = [&] {
        for (unsigned i = 0; i < kCanaries; ++i) {
            if (d.peek(canary + i * 4) != (0xc0de0000u | i)) {
                return false;
            }
        }
        return true;
    };
    auto surface_is = [&](uint32_t want) {
        ExecCheck c;
        check_surface(d, c, surface, w, h, [&](uint32_t, uint32_t) { return want; });
        return c.wrong == 0;
    };
    // One submission on its own: what the guest sees of it.
    auto attempt = [&](const char* name, Context& c, const std::vector<uint32_t>& cmds) {
        d.take_iir();
        const uint64_t before = d.completed(c);
        d.emit(c, cmds);
        d.submit(c);
        d.wait_idle(c.engine, {});
        const uint32_t iir = d.take_iir();
        MaliciousCase m;
        m.name = name;
        m.completed = d.completed(c) > before;
        m.cs_error = Driver::cs_error_on(iir, c.engine);
        m.nothing_written = canaries_intact() && surface_is(0);
        // A refused section never ran: the ring is free again from the head.
        c.tail = d.image_head(c);
        d.print()("exec: %s: %s (completion %s, CS error %s, nothing written %s)", name,
                  m.refused() ? "refused" : "NOT REFUSED", m.completed ? "yes" : "no",
                  m.cs_error ? "yes" : "no", m.nothing_written ? "yes" : "no");
        return m;
    };

    // MI_LOAD_REGISTER_IMM of GEN8_MASTER_IRQ: a privileged register.
    std::vector<uint32_t> lri = store_cmd(canary, 0xbad00000);
    append(lri, {kMiLoadRegisterImm1, kMasterIrq, 0});
    r.malicious.push_back(attempt("privileged LRI", render, lri));
    // A fill aimed just past the end of the hidden slice.
    std::vector<uint32_t> outside = store_cmd(canary + 4, 0xbad00001);
    append(outside,
           fill_cmd(uint64_t{d.hidden_base()} + d.hidden_size(), kPitch, 16, 4, 0xffbad001));
    r.malicious.push_back(attempt("fill outside the GM slices", blit, outside));
    // A fill cut short by the end of the ring section.
    std::vector<uint32_t> truncated = store_cmd(canary + 8, 0xbad00002);
    const std::vector<uint32_t> f = fill_cmd(surface, kPitch, w, h, 0xffbad002);
    truncated.insert(truncated.end(), f.begin(), f.begin() + 4);
    r.malicious.push_back(attempt("truncated command", blit, truncated));

    // Three refusals: failsafe. A valid fill is held back too.
    const uint32_t good = colour(l.seed, 0, 0x77);
    const MaliciousCase held =
        attempt("valid fill in failsafe mode", blit, fill_cmd(surface, kPitch, w, h, good));
    r.valid_refused_in_failsafe = held.refused();

    // A function level reset ends failsafe; the device is set up again.
    d.flr();
    d.bring_up();
    d.write_image(render);
    d.write_image(blit);

    // A GGTT batch that starts itself.
    std::vector<uint32_t> looping = store_cmd(canary + 12, 0xbad00003);
    append(looping, {kMiBatchBufferStart, lo(loop), hi(loop)});
    r.malicious.push_back(attempt("self-looping GGTT batch", render, looping));
    // A second-level batch that starts another batch.
    r.malicious.push_back(attempt("second-level batch starting a batch", render,
                                  {kMiBatchBufferStart, lo(first), hi(first)}));

    // Two refusals since the reset: a valid fill runs.
    d.take_iir();
    const uint64_t before = d.completed(blit);
    d.emit(blit, fill_cmd(surface, kPitch, w, h, good));
    d.submit(blit);
    d.wait_idle(kBlitter, {&blit});
    const uint32_t iir = d.take_iir();
    r.valid_ran_after_flr = d.completed(blit) > before && !Driver::cs_error_on(iir, kBlitter) &&
                            surface_is(good) && canaries_intact();
    d.print()("exec: after the reset a valid fill %s",
              r.valid_ran_after_flr ? "ran" : "DID NOT RUN");
}

}  // namespace

ExecDriverReport run_exec_driver(sim::GuestCpu& cpu, const ExecDriverLayout& l) {
    ExecDriverReport r;
    Printer print(cpu, r.lines);
    Driver d(cpu, l, print);
    try {
        d.bring_up();
        print("exec: mappable %#x+%#x hidden %#x+%#x; working in the hidden slice",
              d.mappable_base(), d.mappable_size(), d.hidden_base(), d.hidden_size());
        if (l.malicious) {
            run_malicious(d, l, r);
        } else {
            run_rendering(d, l, r);
        }
    } catch (const DriverError& e) {
        r.failure = e.what();
        print("exec: FAILED: %s", e.what());
    }
    d.report_into(r);
    if (!l.malicious) {
        for (const ExecCheck& c : r.checks) {
            print("exec: %s: %llu checked, %llu wrong", c.name.c_str(),
                  static_cast<unsigned long long>(c.checked),
                  static_cast<unsigned long long>(c.wrong));
        }
    }
    print(
        "exec: %llu ELSP submissions, %llu CSB events; GT IIR seen: render user %llu error %llu, "
        "blitter user %llu error %llu",
        static_cast<unsigned long long>(r.elsp_submissions),
        static_cast<unsigned long long>(r.csb_events),
        static_cast<unsigned long long>(r.user_interrupts[kRender]),
        static_cast<unsigned long long>(r.cs_errors[kRender]),
        static_cast<unsigned long long>(r.user_interrupts[kBlitter]),
        static_cast<unsigned long long>(r.cs_errors[kBlitter]));
    return r;
}

bool exec_driver_passed(const ExecDriverReport& r, std::string* why) {
    auto fail = [&](const std::string& what) {
        if (why != nullptr) {
            *why = what;
        }
        return false;
    };
    if (!r.failure.empty()) {
        return fail(r.failure);
    }
    if (!r.pv_magic) {
        return fail("PVINFO magic missing");
    }
    for (const ExecCheck& c : r.checks) {
        if (!c.passed()) {
            return fail(c.name + ": " + std::to_string(c.wrong) + " of " +
                        std::to_string(c.checked) + " wrong");
        }
    }
    for (const MaliciousCase& m : r.malicious) {
        if (!m.refused()) {
            return fail(m.name + " was not refused");
        }
    }
    if (!r.malicious.empty() && !r.valid_refused_in_failsafe) {
        return fail("a valid submission ran in failsafe mode");
    }
    if (!r.malicious.empty() && !r.valid_ran_after_flr) {
        return fail("a valid submission did not run after the device reset");
    }
    if (r.checks.empty() && r.malicious.empty()) {
        return fail("nothing was checked");
    }
    return true;
}

ExecLoadReport run_exec_load(sim::GuestCpu& cpu, const ExecLoadLayout& l,
                             const std::atomic<bool>& stop) {
    ExecLoadReport r;
    Printer print(cpu, r.lines);
    Driver d(cpu, l.base, print);
    try {
        d.bring_up();
        const unsigned e = kRender;
        Context c = d.make_context(e, 0x600 + l.base.seed, 16);
        // The stores cycle through one page; the last of each slot stays.
        constexpr unsigned kSlots = 1024;
        const uint64_t target = d.gm_alloc(1);
        std::vector<uint32_t> bb;
        std::vector<uint32_t> expected(std::min(l.stores, kSlots), 0);
        for (unsigned i = 0; i < l.stores; ++i) {
            append(bb, store_cmd(target + (i % kSlots) * 4, stored(l.base.seed, 0, i)));
            expected[i % kSlots] = stored(l.base.seed, 0, i);
        }
        bb.push_back(kMiBatchBufferEnd);
        const uint64_t batch = d.batch(bb);
        const std::vector<uint32_t> cmds = {kMiBatchBufferStart, lo(batch), hi(batch)};
        d.flush_ggtt();
        std::deque<uint32_t> tails;  // ends of the sections not yet consumed
        const auto deadline = std::chrono::steady_clock::now() + l.limit;
        Backoff backoff;
        while (!stop.load(std::memory_order_acquire)) {
            if (std::chrono::steady_clock::now() > deadline) {
                throw DriverError("the load ran past its limit without being stopped");
            }
            d.process_csb(e);
            // The host writes the consumed head back: a section ends at a tail.
            const uint32_t head = d.image_head(c);
            for (size_t i = 0; i < tails.size(); ++i) {
                if (tails[i] == head) {
                    tails.erase(tails.begin(), tails.begin() + static_cast<long>(i) + 1);
                    r.consumed += i + 1;
                    break;
                }
            }
            if (tails.size() >= l.outstanding) {
                backoff.pause();
                continue;
            }
            backoff = Backoff{};
            d.emit(c, cmds);
            d.submit(c);
            tails.push_back(c.tail);
        }
        d.wait_idle(e, {&c});
        r.consumed += tails.size();
        std::vector<uint32_t> got(expected.size());
        d.read_gm(target, got);
        r.results_ok = got == expected;
        d.take_iir();
    } catch (const DriverError& ex) {
        r.failure = ex.what();
        print("exec load: FAILED: %s", ex.what());
    }
    r.submissions = d.submissions();
    print("exec load: %llu submissions, %llu consumed, results %s",
          static_cast<unsigned long long>(r.submissions),
          static_cast<unsigned long long>(r.consumed), r.results_ok ? "ok" : "WRONG");
    return r;
}

}  // namespace xengt::guests
