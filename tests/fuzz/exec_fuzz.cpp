// Fuzz target: the workload path (virtual execlists, shadow contexts, rings
// and batches, PPGTT overlays) of one or two vGPUs over the in-memory fakes.
// A fake scheduler (Sink) keeps what the vGPU submits and, as the input says,
// finishes, cancels and hands workloads back in any order, across engine and
// device resets. Checked (abort() on a violation):
//   - every workload handed over: its shadow context and ring lie in its
//     window; the PPGTT its shadow context names reaches only tables the host
//     owns and leaves of its guest, scratch or the window's batch copies; and
//     the shadow as the GPU would run it (ring, relocated GGTT batches, PPGTT
//     batches through the overlay) rescans clean with every GGTT batch inside
//     the window and every PPGTT batch page a copy in it;
//   - after every operation, each workload still with the sink still walks
//     as above; at the end of the input, the isolation checker finds nothing;
//   - after the vGPUs are gone: no pin, page or protection left.
//
// Input format (little-endian; fields read past the end are zero):
//   header: byte 0: bit 0 two vGPUs; bits 2:1 windows per engine - 1;
//                   bits 7:3 failsafe_after - 1
//           byte 1: bit 0 hand every workload back (unfinished ones
//                   Completed) before teardown, else tear down with them out
//   then operations, each an opcode byte (mod kOps) and its operands:
//     0  map       slot:2 gfn:1              GGTT entry of slot -> gfn
//     1  map-run   slot:2 count:1 gfn:1      count % 32 + 1 consecutive
//     2  ggtt-raw  slot:2 pte:8
//     3  context   lrca:2 ring:2 ctl:1 head:2 tail:2 pdp-mode:1 pdps
//                  ctl: bits 1:0 ring pages - 1, bit 2 invalid, bit 3 raw ctl:4
//                  pdp-mode % 4: none | pml4 gfn:1 | 4 x gfn:1 | 4 x raw:8
//     4  tail      lrca:2 tail:2
//     5  gm-cmds   slot:2 dword:2 count:1 tokens  (commands written at GM)
//     6  ram-cmds  gfn:1 dword:2 va:3 count:1 tokens (at RAM, e.g. PPGTT batches)
//     7  ram-raw   gpa:3 len:1 bytes
//     8  pte       table-gfn:1 index:2 mode:1 (raw:8 | gfn:1)
//                  mode bit 0 raw, bit 1 two dword stores, bit 2 PS bit
//     9  g2v       code:1 4 x gfn:1           PVINFO pdp[] + g2v_notify 2..5
//     10 enable    engine:1 hwsp-slot:2       execlists on, status page, CSB
//     11 disable   engine:1
//     12 submit    engine:1 flags:1 slot:2 id:1 tail:2 [slot:2 id:1 tail:2]
//                  flags bit 0 two elements, bits 1/2 4-level for el0/el1,
//                  bit 3 leave the images' tails alone
//     13 elsp-raw  engine:1 n:1 n % 4 + 1 x dword:4
//     14 finish    index:1 status:1           the GPU is done with one
//     15 deliver   index:1 status:1           one goes back to the vGPU
//     16 deliver-all status:1                 bit 7: newest first
//     17 gdrst     mask:1
//     18 flr                                  and the BARs programmed again
//     19 select                               the other vGPU
//     20 reg       engine:1 which:1 value:4   ring, CSB, interrupt registers
//     21 flush                                GFX_FLSH_CNTL
//   compound operations, so that valid setups are one mutation away:
//     22 map-all   gfn:1                      every slot i -> (gfn + i) % 256
//     23 std-ppgtt flags:1 gfn:1              tables in gfns 248-251 map every
//                  VA a token can name, PT index i -> (gfn + i) % 256;
//                  bit 0: 4-level (else 3-level); announced through PVINFO
//     24 batch     flags:1 (slot:2 | page:2) dword:2 count:1 tokens
//                  bit 0 PPGTT (VA page % 512 of the standard PPGTT, written
//                  to its RAM), bit 1 no MI_BATCH_BUFFER_END appended
//     25 run       engine:1 flags:1 slot:2 id:1 count:1 tokens
//                  context at slot, its one-page ring in the slots after it;
//                  appends the tokens at the image's tail and submits;
//                  bit 0 fresh image (head = tail = 0), bit 1 4-level,
//                  bit 2 the standard PPGTT as its roots
//   slot: % 384 of the guest's GGTT entries (128 mappable, then 256 hidden).
//   status % 4: completed, faulted, hung, cancelled.
//   tokens (command vocabulary), token byte % 16 then operands:
//     0 noop, 1 user interrupt, 2 batch end, 3/4 BB_START GGTT gm:3 (first/
//     second level), 5/6 BB_START PPGTT va:3, 7 SDI GGTT gm:3 v:4, 8 SDI
//     PPGTT va:3 v:4, 9 XY_COLOR_BLT gm:3 w:1 h:1, 10 LRI which:1 v:4,
//     11 MI_FLUSH_DW gm:3, 12 PIPE_CONTROL gm:3, 13 raw:4, 14 BB_START to
//     here - back:1 dwords (token bit 4: second level, bit 5: PPGTT),
//     15 LRI of a PDP register v:4.
//   gm:3 = slot (bits 8:0) + dword (bits 18:9); va:3 = dword (bits 9:0),
//     PT index (18:10), PD index (21:19), PDP index (23:22).
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <span>
#include <utility>
#include <vector>

#include "../mediator/fake_gpu_memory.hpp"
#include "../mediator/fake_hypervisor.hpp"
#include "fuzz_input.hpp"
#include "mediator/base/log.hpp"
#include "mediator/cmd/scanner.hpp"
#include "mediator/exec/virtual_execlist.hpp"
#include "mediator/gtt/ggtt_shadow.hpp"
#include "mediator/gtt/isolation.hpp"
#include "mediator/pvinfo.hpp"
#include "mediator/vgpu.hpp"

using namespace xengt;
using namespace xengt::mediator;
using namespace xengt::mediator::test;
using exec::Engine;
using exec::Workload;
using exec::WorkloadStatus;

namespace {

// 16 MiB of GM: both vGPUs' slices and shadow memory, and a cheap isolation walk.
constexpr uint64_t kGgttEntries = 4096;
constexpr uint64_t kRamFrames = 256;
// The smallest window a render context fits in twice over (22 pages each).
constexpr uint32_t kWindowPages = 48;
constexpr uint64_t kMappableSlots = 128;
constexpr uint64_t kHiddenSlots = 256;
constexpr uint64_t kSlots = kMappableSlots + kHiddenSlots;
constexpr uint64_t kBar0 = 0xF000'0000;

// Command encodings (intel-gpu.md §5.2-§5.4).
constexpr uint32_t kMiNoop = 0x00000000;
constexpr uint32_t kMiUserInterrupt = 0x01000000;
constexpr uint32_t kMiBatchBufferEnd = 0x05000000;
constexpr uint32_t kMiBatchBufferStart = 0x18800001;
constexpr uint32_t kBbsPpgtt = 1u << 8;
constexpr uint32_t kBbsSecondLevel = 1u << 22;
constexpr uint32_t kMiStoreDataImm = 0x10000002;
constexpr uint32_t kSdiGgtt = 1u << 22;
constexpr uint32_t kMiLoadRegisterImm1 = 0x11000001;
constexpr uint32_t kMiFlushDwPostSync = 0x13000002 | 1u << 14;
constexpr uint32_t kFlushAddrGgtt = 1u << 2;
constexpr uint32_t kPipeControl = 0x7A000004;
constexpr uint32_t kPcWriteImm = 1u << 14;
constexpr uint32_t kPcGgtt = 1u << 24;
constexpr uint32_t kXyColorBlt32 = 0x54000005 | 3u << 20;
constexpr uint32_t kBr13 = 3u << 24 | 0xF0u << 16 | 256;

constexpr uint32_t kGdrst = 0x0941C;
constexpr uint32_t kGfxFlush = 0x101008;
constexpr uint32_t kPcieDevCtl = 0x78;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "exec_fuzz: %s\n", what);
    std::abort();
}

using fuzz::Input;

uint32_t state_dword(const std::byte* image, uint32_t dw) {
    uint32_t v = 0;
    std::memcpy(&v, image + exec::kLrcStatePage * kPageSize + dw * 4, 4);
    return v;
}

struct Guest;

// The device scheduler as far as one vGPU can tell: it keeps what it is
// given; the input decides when the GPU is done with each and when it goes back.
class Sink final : public exec::WorkloadSink {
public:
    explicit Sink(Guest& g) : g_(g) {}
    void submit(Workload* w) override;
    void cancel(Engine e) override {
        for (Flying& f : flying) {
            if (f.w->engine == e && !f.finished) {
                f.w->status = WorkloadStatus::Cancelled;
                f.finished = true;
            }
        }
    }

    struct Flying {
        Workload* w;
        bool finished;  // status final: the GPU (or a cancel) is done with it
    };
    std::vector<Flying> flying;
    uint64_t prepared = 0;  // for XENGT_EXEC_FUZZ_VERBOSE
    uint64_t ppgtt_contexts = 0;
    uint64_t with_batches = 0;

private:
    Guest& g_;
};

struct World {
    FakeGgtt ggtt{kGgttEntries};
    FakeFrameWorld frames;
    HostFrame scratch = frames.allocate()->frame;
};

// Guest RAM is kept from one input to the next, zeroed: a fresh 1 MiB per
// guest and input would cost more page faults than the rest of the run.
FakeHypervisor& fresh_hypervisor(unsigned n) {
    static std::array<FakeHypervisor, 2> hvs{FakeHypervisor{kRamFrames * kPageSize},
                                             FakeHypervisor{kRamFrames * kPageSize}};
    FakeHypervisor& hv = hvs.at(n);
    std::fill(hv.ram.begin(), hv.ram.end(), std::byte{0});
    hv.window_updates.clear();
    hv.msis.clear();
    hv.protected_pages.clear();
    return hv;
}

struct Guest {
    Guest(World& w, unsigned n, uint32_t windows, uint32_t failsafe_after)
        : world(w),
          domid(5 + n),
          hv(fresh_hypervisor(n)),
          pins(w.frames, domid, kRamFrames),
          sink(*this) {
        config.name = "fuzz" + std::to_string(n);
        config.vgt_id = n + 1;
        config.mappable = {GmAddr{MiB(1) + n * MiB(1)}, kMappableSlots * kPageSize};
        config.hidden = {GmAddr{MiB(4) + n * MiB(4)}, kHiddenSlots * kPageSize};
        config.ggtt_strategy = GgttStrategy::Trap;
        config.execlists.windows = windows;
        config.execlists.window_pages = kWindowPages;
        config.execlists.failsafe_after = failsafe_after;
        // Right behind the hidden slice, so that one GM range covers both
        // when the shadow is rescanned.
        shadow_gm = config.hidden.base.value() + config.hidden.size;
        vgpu.emplace(config, hv,
                     GpuLink{&pins, &world.ggtt, &world.frames, world.scratch, shadow_gm});
        vgpu->set_workload_sink(&sink);
        program_bars();
    }

    void program_bars() {
        vgpu->config_write(0x10, AccessSize::dword(), kBar0 & 0xFFFFFFFF);
        vgpu->config_write(0x14, AccessSize::dword(), 0);
        vgpu->config_write(0x18, AccessSize::dword(), 0xE000'0000);
        vgpu->config_write(0x20, AccessSize::dword(), 0xC000);
        vgpu->config_write(0x04, AccessSize::word(), 0x7);
    }
    void wr(uint32_t offset, uint32_t v) {
        vgpu->mmio_write(GuestPhysAddr{kBar0 + offset}, AccessSize::dword(), v);
    }
    uint64_t index_of(uint64_t slot) const {
        slot %= kSlots;
        return slot < kMappableSlots
                   ? (config.mappable.base.value() >> kPageShift) + slot
                   : (config.hidden.base.value() >> kPageShift) + slot - kMappableSlots;
    }
    uint64_t gm_of(uint64_t slot) const { return index_of(slot) << kPageShift; }
    uint64_t gm_ref(uint32_t v) const { return gm_of(v & 0x1FF) + ((v >> 9) & 0x3FF) * 4; }
    uint64_t window_bytes() const { return uint64_t{kWindowPages} * kPageSize; }
    uint64_t shadow_end() const { return shadow_gm + Vgpu::shadow_gm_bytes(config); }

    // A store by the guest's CPU into its RAM: through the vGPU if the page
    // is write-protected (a shadowed page table), as Xen would deliver it.
    void store(uint64_t gpa, std::span<const std::byte> bytes) {
        size_t done = 0;
        while (done < bytes.size()) {
            const uint64_t at = gpa + done;
            if (at >= kRamFrames * kPageSize) {
                return;
            }
            size_t n = 8 - (at & 7);
            n = std::min(n, bytes.size() - done);
            if (!hv.protected_pages.contains(at >> kPageShift)) {
                hv.write_guest(GuestPhysAddr{at}, bytes.subspan(done, n));
                done += n;
                continue;
            }
            // Largest naturally aligned access that fits.
            unsigned size = 8;
            while (size > n || (at & (size - 1)) != 0) {
                size /= 2;
            }
            uint64_t v = 0;
            std::memcpy(&v, bytes.data() + done, size);
            vgpu->mmio_write(GuestPhysAddr{at}, *AccessSize::from_bytes(size), v);
            done += size;
        }
    }
    void store32(uint64_t gpa, uint32_t v) { store(gpa, std::as_bytes(std::span(&v, 1))); }
    void store64(uint64_t gpa, uint64_t v) { store(gpa, std::as_bytes(std::span(&v, 1))); }
    // A store at a GM address, through the guest's own GGTT entry.
    void store_gm32(uint64_t gm, uint32_t v) {
        const std::optional<GuestFrame> f = vgpu->ggtt_shadow()->mapped_frame(gm >> kPageShift);
        if (f) {
            store32(f->value() << kPageShift | (gm & kPageMask), v);
        }
    }

    std::optional<uint32_t> load_gm32(uint64_t gm) {
        const std::optional<GuestFrame> f = vgpu->ggtt_shadow()->mapped_frame(gm >> kPageShift);
        uint32_t v = 0;
        if (!f || !hv.read_guest(GuestPhysAddr{f->value() << kPageShift | (gm & kPageMask)},
                                 std::as_writable_bytes(std::span(&v, 1)))) {
            return std::nullopt;
        }
        return v;
    }

    World& world;
    uint32_t domid;
    uint32_t std_gfn = 0;  // the standard PPGTT's first data frame
    FakeHypervisor& hv;
    FakePins pins;
    VgpuConfig config;
    uint64_t shadow_gm = 0;
    Sink sink;
    std::optional<Vgpu> vgpu;
};

// ---- What a handed-over workload must look like ----------------------------

// A workload's window as the GPU reaches it: host pages in the GGTT at the
// window's GM, one frame after the other (as FakeFrameWorld hands out runs).
struct Window {
    uint64_t gm = 0;
    uint64_t end = 0;
    uint64_t first_frame = 0;
    const std::byte* cpu = nullptr;
    uint64_t batches_at = 0;  // byte offset where the batch copies may start

    bool holds(HostFrame f) const { return f.value() - first_frame < kWindowPages; }
    bool holds_batch(HostFrame f) const {
        return holds(f) && (f.value() - first_frame) * kPageSize >= batches_at;
    }
};

Window window_of(const Guest& g, const Workload& w) {
    Window win;
    const uint64_t per_engine = uint64_t{g.config.execlists.windows} * g.window_bytes();
    win.gm = g.shadow_gm + exec::index(w.engine) * per_engine + w.window * g.window_bytes();
    win.end = win.gm + g.window_bytes();
    const FakeGgtt& ggtt = g.world.ggtt;
    const uint64_t pte0 = ggtt.table.at(win.gm >> kPageShift);
    win.first_frame = GgttPte::frame_number(pte0);
    for (uint64_t i = 0; i < kWindowPages; ++i) {
        const uint64_t pte = ggtt.table.at((win.gm >> kPageShift) + i);
        const HostFrame f{GgttPte::frame_number(pte)};
        if (!GgttPte::present(pte) || f.value() != win.first_frame + i ||
            !g.world.frames.in_run(f)) {
            die("shadow window not mapped to its arena pages");
        }
    }
    win.cpu = g.world.frames.peek(HostFrame{win.first_frame});
    return win;
}

// Walks the PPGTT a shadow context names, as the GPU would.
class PpgttWalk {
public:
    PpgttWalk(const Guest& g, const Window& win, const std::array<uint64_t, 4>& pdps, bool four)
        : g_(g), win_(win), pdps_(pdps), four_(four) {}

    void check_all() {
        for (unsigned i = 0; i < (four_ ? 1u : 4u); ++i) {
            // A zero root is no table: nothing of the guest's is named there.
            if (const uint64_t f = pdps_[i] >> kPageShift; f != 0) {
                walk(HostFrame{f}, four_ ? 4 : 2);
            }
        }
    }

    // The frame VA `va` reaches, if mapped.
    std::optional<HostFrame> translate(uint64_t va) const {
        uint64_t table = pdps_[four_ ? 0 : (va >> 30) & 3] >> kPageShift;
        if (table == 0) {
            return std::nullopt;
        }
        for (unsigned level = four_ ? 4 : 2; level >= 1; --level) {
            const std::byte* t = g_.world.frames.peek(HostFrame{table});
            if (t == nullptr) {
                die("PPGTT walk reached a table without a page");
            }
            uint64_t e = 0;
            std::memcpy(&e, t + ((va >> (kPageShift + 9 * (level - 1))) & 0x1FF) * 8, 8);
            if ((e & 1) == 0) {
                return std::nullopt;
            }
            table = GgttPte::frame_number(e);
        }
        return HostFrame{table};
    }

private:
    void walk(HostFrame table, unsigned level) {
        if (!seen_.insert({table.value(), level}).second) {
            return;
        }
        const FrameOwner owner = g_.world.frames.owner(table);
        const std::byte* bytes = g_.world.frames.peek(table);
        if (owner.kind != FrameOwner::Kind::HostPage || bytes == nullptr) {
            die("workload PPGTT: a table is not a host page");
        }
        if (g_.world.frames.in_run(table) && !win_.holds_batch(table)) {
            die("workload PPGTT: a table in shadow memory outside the workload's overlay");
        }
        for (unsigned i = 0; i < 512; ++i) {
            uint64_t e = 0;
            std::memcpy(&e, bytes + i * 8, 8);
            if ((e & 1) == 0) {
                continue;
            }
            const HostFrame next{GgttPte::frame_number(e)};
            if (level > 1) {
                if ((e & (uint64_t{1} << 7)) != 0) {
                    die("workload PPGTT: a huge entry");
                }
                walk(next, level - 1);
                continue;
            }
            if (next == g_.world.scratch || win_.holds_batch(next)) {
                continue;
            }
            const FrameOwner o = g_.world.frames.owner(next);
            if (o.kind != FrameOwner::Kind::Guest || o.guest != g_.domid) {
                std::fprintf(stderr, "leaf %u -> frame %#llx kind %u dom %u\n", i,
                             static_cast<unsigned long long>(next.value()),
                             static_cast<unsigned>(o.kind), o.guest);
                die("workload PPGTT: a leaf maps a frame that is not the guest's");
            }
        }
    }

    const Guest& g_;
    const Window& win_;
    std::array<uint64_t, 4> pdps_;
    bool four_;
    std::set<std::pair<uint64_t, unsigned>> seen_;
};

struct ShadowContext {
    Window win;
    const std::byte* image = nullptr;
    std::array<uint64_t, 4> pdps{};
    bool four = false;
};

// The shadow context of `w` and its checks: image and ring inside the window.
ShadowContext shadow_context(const Guest& g, const Workload& w) {
    ShadowContext s;
    s.win = window_of(g, w);
    const uint64_t lrca = w.shadow_desc & exec::kDescLrcaMask;
    const uint64_t image_bytes = uint64_t{w.context_pages} * kPageSize;
    if ((w.shadow_desc & exec::kDescValid) == 0 || lrca < s.win.gm ||
        lrca + image_bytes > s.win.end || w.context_pages != exec::desc(w.engine).context_pages) {
        die("shadow context image not inside the workload's window");
    }
    s.image = s.win.cpu + (lrca - s.win.gm);
    s.win.batches_at = lrca - s.win.gm + image_bytes;
    const uint32_t start = state_dword(s.image, exec::kCtxRingStart);
    const uint32_t ctl = state_dword(s.image, exec::kCtxRingCtl);
    const uint64_t ring_bytes = (ctl & exec::kRingCtlSizeMask) + kPageSize;
    const uint32_t head = state_dword(s.image, exec::kCtxRingHead);
    const uint32_t tail = state_dword(s.image, exec::kCtxRingTail);
    if ((ctl & exec::kRingCtlValid) == 0 || (start & kPageMask) != 0 || start < s.win.gm ||
        start + ring_bytes > lrca || head != 0 || tail >= ring_bytes) {
        die("shadow ring not inside the workload's window, before its context");
    }
    for (unsigned n = 0; n < 4; ++n) {
        s.pdps[n] = uint64_t{state_dword(s.image, exec::ctx_pdp_udw(n))} << 32 |
                    state_dword(s.image, exec::ctx_pdp_ldw(n));
    }
    s.four = (w.shadow_desc >> exec::kDescAddrModeShift & exec::kDescAddrModeMask) ==
             exec::kDescLegacy64;
    return s;
}

// The batches the GPU would run, read as it would: GGTT ones from the window
// (where relocation must have sent them), PPGTT ones through the overlay.
class ShadowSource final : public cmd::BatchSource {
public:
    ShadowSource(const ShadowContext& s, const PpgttWalk& walk) : s_(s), walk_(walk) {}

    std::optional<std::span<const uint32_t>> fetch(const cmd::BatchCall& call) override {
        if (call.level < 1 || call.level > 2) {
            die("rescan: batch level out of range");
        }
        Level& l = levels_[call.level];
        l = Level{call.address, call.ppgtt, call.max_dwords, {}, {}};
        if (!call.ppgtt) {
            // Relocated into the batch copies, behind ring and context.
            if (call.address < s_.win.gm + s_.win.batches_at || call.address >= s_.win.end) {
                std::fprintf(stderr, "GGTT batch at %#llx, window [%#llx, %#llx)\n",
                             static_cast<unsigned long long>(call.address),
                             static_cast<unsigned long long>(s_.win.gm + s_.win.batches_at),
                             static_cast<unsigned long long>(s_.win.end));
                die("a GGTT batch start outside the workload's batch copies");
            }
            const size_t n = std::min<uint64_t>(call.max_dwords, (s_.win.end - call.address) / 4);
            l.ggtt = {reinterpret_cast<const uint32_t*>(s_.win.cpu + (call.address - s_.win.gm)),
                      n};
            return l.ggtt;
        }
        if (!grow(l)) {
            return std::nullopt;
        }
        return std::span<const uint32_t>(l.buf);
    }

    std::optional<std::span<const uint32_t>> extend(uint8_t level, size_t have) override {
        Level& l = levels_[level];
        if (!l.ppgtt || have != l.buf.size() || !grow(l)) {
            return std::nullopt;
        }
        return std::span<const uint32_t>(l.buf);
    }

private:
    struct Level {
        uint64_t address;
        bool ppgtt;
        size_t max;
        std::span<const uint32_t> ggtt;
        std::vector<uint32_t> buf;
    };

    // One more page of a PPGTT batch, which must be one of the window's copies.
    bool grow(Level& l) {
        const uint64_t from = l.address + l.buf.size() * 4;
        const size_t n =
            std::min<size_t>((kPageSize - (from & kPageMask)) / 4, l.max - l.buf.size());
        if (n == 0) {
            return false;
        }
        const std::optional<HostFrame> f = walk_.translate(from);
        if (!f) {
            // The scan of the original read this page: the copy must be there.
            die("a PPGTT batch page the scan read is not mapped for the GPU");
        }
        if (!s_.win.holds_batch(*f)) {
            die("a PPGTT batch page runs from elsewhere than the workload's copies");
        }
        const auto* p = reinterpret_cast<const uint32_t*>(
            s_.win.cpu + (f->value() - s_.win.first_frame) * kPageSize + (from & kPageMask));
        l.buf.insert(l.buf.end(), p, p + n);
        return true;
    }

    const ShadowContext& s_;
    const PpgttWalk& walk_;
    std::array<Level, 3> levels_{};
};

void check_prepared(const Guest& g, const Workload& w) {
    const ShadowContext s = shadow_context(g, w);
    PpgttWalk walk(g, s.win, s.pdps, s.four);
    walk.check_all();
    // The shadow must scan as the guest's original did: same commands, every
    // batch where the GPU will really read it.
    cmd::ScanPolicy policy;
    policy.engine = w.engine;
    policy.gm = {
        cmd::GmRange{g.config.mappable.base.value(), g.config.mappable.size},
        cmd::GmRange{g.config.hidden.base.value(), g.shadow_end() - g.config.hidden.base.value()}};
    policy.batch_budget_dwords = size_t{1} << 22;
    ShadowSource source(s, walk);
    const uint32_t tail = state_dword(s.image, exec::kCtxRingTail);
    const cmd::ScanResult r =
        cmd::scan({reinterpret_cast<const uint32_t*>(s.win.cpu), tail / 4}, policy, &source);
    if (!r.ok() || r.counts.commands != w.scan.counts.commands ||
        r.counts.dwords != w.scan.counts.dwords || r.counts.batches != w.scan.counts.batches) {
        std::fprintf(stderr,
                     "rescan: %s at level %u dword %zu (0x%08x); commands %llu vs %llu, "
                     "batches %u vs %u\n",
                     cmd::to_string(r.error.reason), r.error.level, r.error.offset, r.error.dword0,
                     static_cast<unsigned long long>(r.counts.commands),
                     static_cast<unsigned long long>(w.scan.counts.commands), r.counts.batches,
                     w.scan.counts.batches);
        die("the shadow the GPU runs is not what was scanned");
    }
}

// What the GPU may still reach of a workload it has not given back yet.
void check_flying(const Guest& g, const Workload& w) {
    const ShadowContext s = shadow_context(g, w);
    PpgttWalk(g, s.win, s.pdps, s.four).check_all();
}

void Sink::submit(Workload* w) {
    if (w->status != WorkloadStatus::Prepared) {
        die("a workload handed over that is not prepared");
    }
    for (const Flying& f : flying) {
        if (f.w == w) {
            die("a workload handed over again before it came back");
        }
    }
    check_prepared(g_, *w);
    flying.push_back({w, false});
    ++prepared;
    ppgtt_contexts += w->ppgtt ? 1 : 0;
    with_batches += w->scan.counts.batches != 0 ? 1 : 0;
}

// ---- Driving the guest ----------------------------------------------------

WorkloadStatus status_of(uint32_t v) {
    constexpr WorkloadStatus kStatuses[] = {WorkloadStatus::Completed, WorkloadStatus::Faulted,
                                            WorkloadStatus::Hung, WorkloadStatus::Cancelled};
    return kStatuses[v % 4];
}

uint64_t va_ref(uint32_t v) {
    return uint64_t{v >> 22 & 3} << 30 | uint64_t{v >> 19 & 7} << 21 |
           uint64_t{v >> 10 & 0x1FF} << 12 | uint64_t{v & 0x3FF} * 4;
}

// Registers an LRI may name: allowed ones and a few that are not.
constexpr uint32_t kLriTargets[] = {0x2600, 0x22600, 0x12604, 0x1A608, 0x20C0, 0x7000, 0xB020,
                                    0xC800, 0xCC00,  0x22200, 0x44200, 0x2030, 0x941C};

// Emits one command of the vocabulary; `here` is the address of its first dword.
void emit_token(Input& in, std::vector<uint32_t>& out, const Guest& g, uint64_t here) {
    const uint32_t t = in.u8();
    auto bbs = [&](uint32_t flags, uint64_t address) {
        out.insert(out.end(), {kMiBatchBufferStart | flags, static_cast<uint32_t>(address),
                               static_cast<uint32_t>(address >> 32)});
    };
    switch (t % 16) {
        case 0:
            out.push_back(kMiNoop);
            break;
        case 1:
            out.push_back(kMiUserInterrupt);
            break;
        case 2:
            out.push_back(kMiBatchBufferEnd);
            break;
        case 3:
        case 4:
            bbs(t % 16 == 4 ? kBbsSecondLevel : 0, g.gm_ref(static_cast<uint32_t>(in.take(3))));
            break;
        case 5:
        case 6:
            bbs(kBbsPpgtt | (t % 16 == 6 ? kBbsSecondLevel : 0),
                va_ref(static_cast<uint32_t>(in.take(3))));
            break;
        case 7: {
            const uint64_t a = g.gm_ref(static_cast<uint32_t>(in.take(3)));
            out.insert(out.end(),
                       {kMiStoreDataImm | kSdiGgtt, static_cast<uint32_t>(a), 0, in.u32()});
            break;
        }
        case 8: {
            const uint64_t a = va_ref(static_cast<uint32_t>(in.take(3)));
            out.insert(out.end(), {kMiStoreDataImm, static_cast<uint32_t>(a),
                                   static_cast<uint32_t>(a >> 32), in.u32()});
            break;
        }
        case 9: {
            const uint64_t a = g.gm_ref(static_cast<uint32_t>(in.take(3)));
            const uint32_t w = in.u8() % 64, h = in.u8() % 16;
            out.insert(out.end(), {kXyColorBlt32, kBr13, 0, h << 16 | w, static_cast<uint32_t>(a),
                                   0, in.u32()});
            break;
        }
        case 10:
            out.insert(out.end(), {kMiLoadRegisterImm1,
                                   kLriTargets[in.u8() % std::size(kLriTargets)], in.u32()});
            break;
        case 11: {
            const uint64_t a = g.gm_ref(static_cast<uint32_t>(in.take(3))) & ~uint64_t{7};
            out.insert(out.end(),
                       {kMiFlushDwPostSync, static_cast<uint32_t>(a) | kFlushAddrGgtt, 0, 1});
            break;
        }
        case 12: {
            const uint64_t a = g.gm_ref(static_cast<uint32_t>(in.take(3)));
            out.insert(out.end(),
                       {kPipeControl, kPcWriteImm | kPcGgtt, static_cast<uint32_t>(a), 0, 1, 0});
            break;
        }
        case 13:
            out.push_back(in.u32());
            break;
        case 14:
            bbs((t & 0x10 ? kBbsSecondLevel : 0) | (t & 0x20 ? kBbsPpgtt : 0),
                here - uint64_t{in.u8() % 8} * 4);
            break;
        default:
            out.insert(out.end(),
                       {kMiLoadRegisterImm1,
                        exec::desc(static_cast<Engine>(t >> 4 & 3)).base + 0x270 + (t >> 6 & 3) * 8,
                        in.u32()});
            break;
    }
}

std::vector<uint32_t> emit_tokens(Input& in, const Guest& g, uint64_t here) {
    std::vector<uint32_t> out;
    const uint32_t count = in.u8() % 32;
    for (uint32_t i = 0; i < count && in.more(); ++i) {
        emit_token(in, out, g, here + out.size() * 4);
    }
    return out;
}

void write_context(Input& in, Guest& g) {
    const uint64_t lrca = g.gm_of(in.u16());
    const uint64_t ring = g.gm_of(in.u16());
    const uint32_t ctl_byte = in.u8();
    uint32_t ctl = (ctl_byte & 3) << kPageShift | (ctl_byte & 4 ? 0 : exec::kRingCtlValid);
    if (ctl_byte & 8) {
        ctl = in.u32();
    }
    const uint32_t head = in.u16(), tail = in.u16();
    const uint64_t state = lrca + exec::kLrcStatePage * kPageSize;
    g.store_gm32(state + exec::kCtxRingHead * 4, head);
    g.store_gm32(state + exec::kCtxRingTail * 4, tail);
    g.store_gm32(state + exec::kCtxRingStart * 4, static_cast<uint32_t>(ring));
    g.store_gm32(state + exec::kCtxRingCtl * 4, ctl);
    std::array<uint64_t, 4> pdp{};
    switch (in.u8() % 4) {
        case 0:
            break;
        case 1:
            pdp[0] = uint64_t{in.u8()} << kPageShift;
            break;
        case 2:
            for (uint64_t& p : pdp) {
                p = uint64_t{in.u8()} << kPageShift;
            }
            break;
        default:
            for (uint64_t& p : pdp) {
                p = in.take(8);
            }
            break;
    }
    for (unsigned n = 0; n < 4; ++n) {
        g.store_gm32(state + exec::ctx_pdp_udw(n) * 4, static_cast<uint32_t>(pdp[n] >> 32));
        g.store_gm32(state + exec::ctx_pdp_ldw(n) * 4, static_cast<uint32_t>(pdp[n]));
    }
}

void set_tail(Guest& g, uint64_t lrca, uint32_t tail) {
    g.store_gm32(lrca + exec::kLrcStatePage * kPageSize + exec::kCtxRingTail * 4, tail);
}

void enable_engine(Guest& g, Engine e, uint64_t hwsp) {
    const uint32_t base = exec::desc(e).base;
    g.wr(base + exec::kRingHwstam, 0xFFFFFFFF);
    g.wr(base + exec::kRingModeGen7, exec::kRunListEnable << 16 | exec::kRunListEnable);
    g.wr(base + exec::kRingMiMode, exec::kStopRing << 16);
    g.wr(base + exec::kRingHwsPga, static_cast<uint32_t>(hwsp));
    g.wr(base + exec::kRingImr, 0);
    g.wr(0x44304 + static_cast<uint32_t>(exec::desc(e).bank) * 0x10, 0);
    g.wr(0x4430C + static_cast<uint32_t>(exec::desc(e).bank) * 0x10, 0xFFFFFFFF);
    g.wr(0x44200, 1u << 31);
    g.wr(base + exec::kCsbPtr, 0xFFFF0000u | 5u << 8 | 5u);
    g.store_gm32(hwsp + exec::kHwspCsbWritePtrByte, 5);
}

void submit(Input& in, Guest& g) {
    const Engine e = static_cast<Engine>(in.u8() % exec::kEngines);
    const uint32_t flags = in.u8();
    auto element = [&](bool four) {
        const uint64_t lrca = g.gm_of(in.u16());
        const uint64_t id = in.u8();
        const uint32_t tail = in.u16();
        if ((flags & 8) == 0) {
            set_tail(g, lrca, tail);
        }
        return id << 32 | lrca |
               (four ? exec::kDescLegacy64 : exec::kDescLegacy32) << exec::kDescAddrModeShift |
               exec::kDescValid;
    };
    const uint64_t d0 = element(flags & 2);
    const uint64_t d1 = flags & 1 ? element(flags & 4) : 0;
    const uint32_t elsp = exec::desc(e).base + exec::kRingElsp;
    g.wr(elsp, static_cast<uint32_t>(d1 >> 32));
    g.wr(elsp, static_cast<uint32_t>(d1));
    g.wr(elsp, static_cast<uint32_t>(d0 >> 32));
    g.wr(elsp, static_cast<uint32_t>(d0));
}

// The standard PPGTT's tables (op 23).
constexpr uint64_t kStdPml4 = 248, kStdPdp = 249, kStdPd = 250, kStdPt = 251;

void std_ppgtt(Input& in, Guest& g) {
    const bool four = (in.u8() & 1) != 0;
    g.std_gfn = in.u8();
    for (uint64_t i = 0; i < 512; ++i) {
        g.store64(kStdPt << kPageShift | i * 8, (g.std_gfn + i) % kRamFrames << kPageShift | 3);
    }
    // Every PD entry a token's VA can pick, and every PDP entry, share the one PT.
    for (uint64_t i = 0; i < 8; ++i) {
        g.store64(kStdPd << kPageShift | i * 8, kStdPt << kPageShift | 3);
    }
    for (uint64_t i = 0; i < 4; ++i) {
        g.store64(kStdPdp << kPageShift | i * 8, kStdPd << kPageShift | 3);
    }
    g.store64(kStdPml4 << kPageShift, kStdPdp << kPageShift | 3);
    for (uint32_t i = 0; i < 4; ++i) {
        const uint64_t root = four ? (i == 0 ? kStdPml4 : 0) : kStdPd;
        g.wr(kPvinfoBase + pvinfo::kPdp + 8 * i, static_cast<uint32_t>(root << kPageShift));
        g.wr(kPvinfoBase + pvinfo::kPdp + 8 * i + 4, 0);
    }
    g.wr(kPvinfoBase + pvinfo::kG2vNotify,
         four ? pvinfo::kG2vPpgttL4Create : pvinfo::kG2vPpgttL3Create);
}

void write_batch(Input& in, Guest& g) {
    const uint32_t flags = in.u8();
    const uint32_t where = in.u16();
    const uint64_t dword = in.u16() % 1024;
    if ((flags & 1) != 0) {
        const uint64_t page = where % 512;
        std::vector<uint32_t> cmds = emit_tokens(in, g, page << kPageShift | dword * 4);
        if ((flags & 2) == 0) {
            cmds.push_back(kMiBatchBufferEnd);
        }
        const uint64_t gfn = (g.std_gfn + page) % kRamFrames;
        g.store(gfn << kPageShift | dword * 4, std::as_bytes(std::span(cmds)));
        return;
    }
    const uint64_t at = g.gm_of(where) + dword * 4;
    std::vector<uint32_t> cmds = emit_tokens(in, g, at);
    if ((flags & 2) == 0) {
        cmds.push_back(kMiBatchBufferEnd);
    }
    for (size_t i = 0; i < cmds.size(); ++i) {
        g.store_gm32(at + i * 4, cmds[i]);
    }
}

void run(Input& in, Guest& g) {
    const Engine e = static_cast<Engine>(in.u8() % exec::kEngines);
    const uint32_t flags = in.u8();
    const uint32_t slot = in.u16();
    const uint64_t id = in.u8();
    const uint64_t lrca = g.gm_of(slot);
    const uint64_t ring = g.gm_of(slot + exec::desc(e).context_pages);
    const uint64_t state = lrca + exec::kLrcStatePage * kPageSize;
    const bool four = (flags & 2) != 0;
    if ((flags & 1) != 0) {
        g.store_gm32(state + exec::kCtxRingHead * 4, 0);
        g.store_gm32(state + exec::kCtxRingTail * 4, 0);
        g.store_gm32(state + exec::kCtxRingStart * 4, static_cast<uint32_t>(ring));
        g.store_gm32(state + exec::kCtxRingCtl * 4, exec::kRingCtlValid);
        for (unsigned n = 0; n < 4; ++n) {
            uint64_t root = 0;
            if ((flags & 4) != 0) {
                root = four ? (n == 0 ? kStdPml4 : 0) : kStdPd;
            }
            g.store_gm32(state + exec::ctx_pdp_udw(n) * 4, 0);
            g.store_gm32(state + exec::ctx_pdp_ldw(n) * 4,
                         static_cast<uint32_t>(root << kPageShift));
        }
    }
    uint32_t tail = g.load_gm32(state + exec::kCtxRingTail * 4).value_or(0) % kPageSize & ~7u;
    std::vector<uint32_t> cmds = emit_tokens(in, g, ring + tail);
    if (cmds.size() % 2 != 0) {
        cmds.push_back(kMiNoop);
    }
    for (const uint32_t v : cmds) {
        g.store_gm32(ring + tail, v);
        tail = (tail + 4) % kPageSize;
    }
    g.store_gm32(state + exec::kCtxRingTail * 4, tail);
    const uint64_t d = id << 32 | lrca |
                       (four ? exec::kDescLegacy64 : exec::kDescLegacy32)
                           << exec::kDescAddrModeShift |
                       exec::kDescValid;
    const uint32_t elsp = exec::desc(e).base + exec::kRingElsp;
    g.wr(elsp, 0);
    g.wr(elsp, 0);
    g.wr(elsp, static_cast<uint32_t>(d >> 32));
    g.wr(elsp, static_cast<uint32_t>(d));
}

// Hands workload `i` (of those the sink holds) back to the vGPU.
void deliver(Guest& g, size_t i, WorkloadStatus s) {
    auto& flying = g.sink.flying;
    const Sink::Flying f = flying[i];
    flying.erase(flying.begin() + static_cast<std::ptrdiff_t>(i));
    if (!f.finished) {
        f.w->status = s;
    }
    g.vgpu->workload_done(f.w);
}

void deliver_all(Guest& g, WorkloadStatus s, bool newest_first) {
    while (!g.sink.flying.empty()) {
        deliver(g, newest_first ? g.sink.flying.size() - 1 : 0, s);
    }
}

// One operation on `g`; true if it asks for the other vGPU.
bool step(Input& in, Guest& g) {
    constexpr unsigned kOps = 26;
    switch (in.u8() % kOps) {
        case 0: {
            const uint64_t index = g.index_of(in.u16());
            g.vgpu->mmio_write(GuestPhysAddr{kBar0 + MiB(8) + index * 8}, AccessSize::qword(),
                               uint64_t{in.u8()} << kPageShift | 1);
            break;
        }
        case 1: {
            const uint32_t slot = in.u16();
            const uint32_t count = in.u8() % 32 + 1;
            const uint32_t gfn = in.u8();
            for (uint32_t i = 0; i < count; ++i) {
                const uint64_t index = g.index_of(slot + i);
                g.vgpu->mmio_write(GuestPhysAddr{kBar0 + MiB(8) + index * 8}, AccessSize::qword(),
                                   uint64_t{gfn + i} << kPageShift | 1);
            }
            break;
        }
        case 2: {
            const uint64_t index = g.index_of(in.u16());
            g.vgpu->mmio_write(GuestPhysAddr{kBar0 + MiB(8) + index * 8}, AccessSize::qword(),
                               in.take(8));
            break;
        }
        case 3:
            write_context(in, g);
            break;
        case 4: {
            const uint64_t lrca = g.gm_of(in.u16());
            set_tail(g, lrca, in.u16());
            break;
        }
        case 5: {
            const uint64_t at = g.gm_of(in.u16()) + (in.u16() % 1024) * 4;
            const std::vector<uint32_t> cmds = emit_tokens(in, g, at);
            for (size_t i = 0; i < cmds.size(); ++i) {
                g.store_gm32(at + i * 4, cmds[i]);
            }
            break;
        }
        case 6: {
            const uint64_t gpa = uint64_t{in.u8()} << kPageShift | (in.u16() % 1024) * 4;
            const uint64_t va = va_ref(static_cast<uint32_t>(in.take(3)));
            const std::vector<uint32_t> cmds = emit_tokens(in, g, va);
            g.store(gpa, std::as_bytes(std::span(cmds)));
            break;
        }
        case 7: {
            const uint64_t gpa = in.take(3) % (kRamFrames * kPageSize);
            std::array<std::byte, 64> bytes{};
            const size_t n = in.u8() % bytes.size();
            for (size_t i = 0; i < n; ++i) {
                bytes[i] = static_cast<std::byte>(in.u8());
            }
            g.store(gpa, std::span(bytes).first(n));
            break;
        }
        case 8: {
            const uint64_t at = uint64_t{in.u8()} << kPageShift | (in.u16() % 512) * 8;
            const uint32_t mode = in.u8();
            uint64_t v = mode & 1 ? in.take(8) : uint64_t{in.u8()} << kPageShift | 3;
            if (mode & 4) {
                v |= uint64_t{1} << 7;
            }
            if (mode & 2) {
                g.store32(at, static_cast<uint32_t>(v));
                g.store32(at + 4, static_cast<uint32_t>(v >> 32));
            } else {
                g.store64(at, v);
            }
            break;
        }
        case 9: {
            const uint32_t code = pvinfo::kG2vPpgttL3Create + in.u8() % 4;
            for (uint32_t i = 0; i < 4; ++i) {
                g.wr(kPvinfoBase + pvinfo::kPdp + 8 * i, in.u8() << kPageShift);
                g.wr(kPvinfoBase + pvinfo::kPdp + 8 * i + 4, 0);
            }
            g.wr(kPvinfoBase + pvinfo::kG2vNotify, code);
            break;
        }
        case 10: {
            const Engine e = static_cast<Engine>(in.u8() % exec::kEngines);
            enable_engine(g, e, g.gm_of(in.u16()));
            break;
        }
        case 11: {
            const Engine e = static_cast<Engine>(in.u8() % exec::kEngines);
            g.wr(exec::desc(e).base + exec::kRingModeGen7, exec::kRunListEnable << 16);
            break;
        }
        case 12:
            submit(in, g);
            break;
        case 13: {
            const Engine e = static_cast<Engine>(in.u8() % exec::kEngines);
            const uint32_t n = in.u8() % 4 + 1;
            for (uint32_t i = 0; i < n; ++i) {
                g.wr(exec::desc(e).base + exec::kRingElsp, in.u32());
            }
            break;
        }
        case 14: {
            const uint32_t i = in.u8();
            const WorkloadStatus s = status_of(in.u8());
            if (!g.sink.flying.empty()) {
                Sink::Flying& f = g.sink.flying[i % g.sink.flying.size()];
                if (!f.finished) {
                    f.w->status = s;
                    f.finished = true;
                }
            }
            break;
        }
        case 15: {
            const uint32_t i = in.u8();
            const WorkloadStatus s = status_of(in.u8());
            if (!g.sink.flying.empty()) {
                deliver(g, i % g.sink.flying.size(), s);
            }
            break;
        }
        case 16: {
            const uint32_t v = in.u8();
            deliver_all(g, status_of(v), (v & 0x80) != 0);
            break;
        }
        case 17:
            g.wr(kGdrst, in.u8() & 0x1F);
            break;
        case 18:
            g.vgpu->config_write(kPcieDevCtl, AccessSize::word(), 0x8000);
            g.program_bars();
            break;
        case 19:
            return true;
        case 20: {
            const uint32_t base = exec::desc(static_cast<Engine>(in.u8() % exec::kEngines)).base;
            constexpr uint32_t kRegs[] = {exec::kCsbPtr,
                                          exec::kRingHwsPga,
                                          exec::kRingModeGen7,
                                          exec::kRingMiMode,
                                          exec::kRingImr,
                                          exec::kRingHwstam,
                                          0x0D0};
            const uint32_t reg = kRegs[in.u8() % std::size(kRegs)];
            g.wr(base + reg, in.u32());
            break;
        }
        case 21:
            g.wr(kGfxFlush, 1);
            break;
        case 22: {
            const uint32_t gfn = in.u8();
            for (uint64_t slot = 0; slot < kSlots; ++slot) {
                g.vgpu->mmio_write(GuestPhysAddr{kBar0 + MiB(8) + g.index_of(slot) * 8},
                                   AccessSize::qword(),
                                   (gfn + slot) % kRamFrames << kPageShift | 1);
            }
            break;
        }
        case 23:
            std_ppgtt(in, g);
            break;
        case 24:
            write_batch(in, g);
            break;
        default:
            run(in, g);
            break;
    }
    return false;
}

void check_isolation_of(World& world, std::span<Guest*> guests) {
    std::vector<IsolationSubject> subjects;
    for (Guest* g : guests) {
        subjects.push_back({g->domid, g->vgpu->ggtt_shadow(), g->vgpu->ppgtt_shadow()});
    }
    const IsolationReport report = check_isolation(world.ggtt, world.frames, subjects);
    if (!report.ok()) {
        std::fprintf(stderr, "%s\n", report.summary().c_str());
        die("isolation checker");
    }
}

void check_all_flying(std::span<Guest*> guests) {
    for (Guest* g : guests) {
        for (const Sink::Flying& f : g->sink.flying) {
            check_flying(*g, *f.w);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool quiet = [] {
        set_log_sink([](LogLevel, std::string_view, std::string_view) {});
        return true;
    }();
    (void)quiet;

    Input in(data, size);
    const uint32_t h0 = in.u8(), h1 = in.u8();
    const unsigned count = (h0 & 1) != 0 ? 2 : 1;
    const uint32_t windows = (h0 >> 1 & 3) + 1;
    const uint32_t failsafe_after = (h0 >> 3) + 1;
    World world;
    {
        std::array<std::optional<Guest>, 2> slots;
        std::vector<Guest*> guests;
        for (unsigned n = 0; n < count; ++n) {
            guests.push_back(&slots[n].emplace(world, n, windows, failsafe_after));
        }
        size_t current = 0;
        while (in.more()) {
            if (step(in, *guests[current])) {
                current = (current + 1) % guests.size();
            }
            // The whole GGTT walk is for the end; what the GPU may still be
            // running is cheap to check after every operation.
            check_all_flying(guests);
        }
        if ((h1 & 1) != 0) {
            for (Guest* g : guests) {
                deliver_all(*g, WorkloadStatus::Completed, false);
            }
        }
        check_isolation_of(world, guests);
        // XENGT_EXEC_FUZZ_VERBOSE: what each input got to (for checking seeds).
        static const bool verbose = std::getenv("XENGT_EXEC_FUZZ_VERBOSE") != nullptr;
        for (Guest* g : guests) {
            if (verbose) {
                const exec::ExeclistCounters& c = *g->vgpu->execlist_counters();
                std::fprintf(stderr,
                             "%s: submissions %llu workloads %llu completed %llu rejected %llu "
                             "faulted %llu cancelled %llu lite %llu deferred %llu dropped %llu; "
                             "handed over %llu, with PPGTT %llu, with batches %llu\n",
                             g->config.name.c_str(), static_cast<unsigned long long>(c.submissions),
                             static_cast<unsigned long long>(c.workloads),
                             static_cast<unsigned long long>(c.completed),
                             static_cast<unsigned long long>(c.rejected),
                             static_cast<unsigned long long>(c.faulted),
                             static_cast<unsigned long long>(c.cancelled),
                             static_cast<unsigned long long>(c.lite_restores),
                             static_cast<unsigned long long>(c.deferred),
                             static_cast<unsigned long long>(c.dropped_submissions),
                             static_cast<unsigned long long>(g->sink.prepared),
                             static_cast<unsigned long long>(g->sink.ppgtt_contexts),
                             static_cast<unsigned long long>(g->sink.with_batches));
            }
            if (g->pins.bad_unpins != 0 ||
                g->pins.outstanding < g->vgpu->ggtt_shadow()->pinned_entries()) {
                die("pins out of step with the GGTT");
            }
        }
        for (Guest* g : guests) {
            g->vgpu.reset();
            if (g->pins.outstanding != 0 || g->pins.bad_unpins != 0 ||
                !g->hv.protected_pages.empty()) {
                die("a pin or a page protection outlived its vGPU");
            }
        }
    }
    // Only the scratch page is left, and no GGTT entry names a guest.
    if (!check_isolation(world.ggtt, world.frames, {}).ok() || world.frames.live_pages() != 1) {
        die("host pages or GGTT entries outlived the vGPUs");
    }
    return 0;
}
