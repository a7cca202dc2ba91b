// libFuzzer target: the software Gen9 GPU executing arbitrary work.
//
// Each input builds a small machine (32 frames) and a SoftGpu with a small
// watchdog, lays out a valid baseline (HWSP, a logical ring context, a ring, a
// batch page, a 4-level PPGTT mapping the low 64 KiB 1:1), then lets the
// input overwrite GGTT entries, page-table entries and context-image dwords
// with arbitrary values (so translations may point anywhere, including
// outside machine memory) and fill the ring and batch with arbitrary dwords.
// The context is submitted through ELSP on RCS or BCS; the fuzzer waits
// (bounded) for completion, an engine error or a hang, and resets the engine
// if it stopped. Invariants: no crash, no sanitizer report, the model reaches
// memory only through MachineMemory::frame() (bounds-checked; ASan catches
// anything else), every submission ends (completion or reported error)
// within the deadline, and an engine reset always succeeds.
//
// Input format (little-endian; missing bytes read as 0):
//   u8  flags: bit 0 engine (0 RCS, 1 BCS), bits 2:1 descriptor address mode
//   u8  n, then n % 9 GGTT records   { u32 index, u64 entry }
//   u8  n, then n % 17 PPGTT records { u8 table (0 PML4, 1 PDP, 2 PD, 3 PT),
//                                       u8 -, u16 slot, u64 entry }
//   u8  n, then n % 17 context records { u16 dword of the 2-page image, u16 -, u32 value }
//   u16 ring dwords (% 1023), then that many dwords; the rest is the batch page.
// Blitter rectangles are clamped to [-128, 127] so no input does gigabytes of work.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "gpu/machine_memory.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/soft_gpu.hpp"

namespace {

using namespace xengt;
using namespace xengt::gpu;
namespace hw = gpu::model::hw;

constexpr uint64_t kFrames = 32;
constexpr auto kDeadline = std::chrono::seconds(5);

// Baseline layout, by frame (all GGTT-mapped 1:1 except the spare 16..31).
constexpr uint64_t kHwsp = 1, kLrc = 2, kRing = 4, kBatch = 5, kData = 6;
constexpr uint64_t kPml4 = 8, kPdp = 9, kPd = 10, kPt = 11;
constexpr uint64_t kMapped = 16;

constexpr uint32_t kMiBatchBufferStart = 0x18800001;

class Reader {
public:
    Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    template <class T>
    T take() {
        T v{};
        const size_t n = std::min(sizeof v, size_ - pos_);
        std::memcpy(&v, data_ + pos_, n);
        pos_ += n;
        return v;
    }
    size_t left() const { return size_ - pos_; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
};

// A rectangle corner with both coordinates sign-extended from 8 bits.
uint32_t clamp_corner(uint32_t v) {
    auto c = [](uint32_t x) {
        return static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int8_t>(x & 0xFF)));
    };
    return c(v >> 16) << 16 | c(v);
}

// Any dword that could be a 2D (blitter) header gets its DW2/DW3 clamped.
void clamp_blits(std::vector<uint32_t>& dws) {
    for (size_t i = 0; i < dws.size(); ++i) {
        if (dws[i] >> 29 == 2) {
            for (size_t k = i + 2; k < std::min(i + 4, dws.size()); ++k) {
                dws[k] = clamp_corner(dws[k]);
            }
        }
    }
}

void poke(MachineMemory& m, uint64_t phys, uint32_t v) {
    m.write(phys, std::as_bytes(std::span{&v, 1}));
}
void poke64(MachineMemory& m, uint64_t phys, uint64_t v) {
    m.write(phys, std::as_bytes(std::span{&v, 1}));
}

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "gpu_fuzzer: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Reader in(data, size);
    const uint8_t flags = in.take<uint8_t>();
    const unsigned e = flags & 1;
    const uint64_t addr_mode = flags >> 1 & 3;

    MemfdMachineMemory memory(kFrames * kPageSize);
    model::SoftGpuConfig config;
    config.watchdog_commands = 2000;
    model::SoftGpu gpu(memory, config);
    auto rd = [&](uint32_t off) { return gpu.read32(MmioOffset{off}); };
    auto wr = [&](uint32_t off, uint32_t v) { gpu.write32(MmioOffset{off}, v); };
    const uint32_t base = hw::kEngineBase[e];
    // gen8_irq_handler: ack everything, so the interrupt path is exercised too.
    // It may run on an engine thread until `gpu` is destroyed: it touches nothing else.
    gpu.set_interrupt_handler([&gpu] {
        gpu.write32(MmioOffset{hw::kMasterIrq}, 0);
        for (unsigned n = 0; n < hw::kGtBanks; ++n) {
            const MmioOffset iir{hw::gt_iir(n)};
            gpu.write32(iir, gpu.read32(iir));
        }
        gpu.write32(MmioOffset{hw::kMasterIrq}, hw::kMasterIrqControl);
    });

    // Baseline: GGTT 1:1 for the low frames, PPGTT 1:1 for the low 64 KiB.
    for (uint64_t f = 1; f < kMapped; ++f) {
        gpu.write_ggtt(f, GgttEntry::map(HostFrame{f}));
    }
    const auto page = [](uint64_t f) { return f << kPageShift; };
    poke64(memory, page(kPml4), page(kPdp) | 3);
    poke64(memory, page(kPdp), page(kPd) | 3);
    poke64(memory, page(kPd), page(kPt) | 3);
    for (uint64_t f = 0; f < kMapped; ++f) {
        poke64(memory, page(kPt) + f * 8, page(f) | 3);
    }

    // §4.3 enable_execlists with interrupts unmasked.
    wr(base + 0x098, 0xFFFFFFFF);
    wr(base + hw::kRingModeGen7, hw::kRunListEnable << 16 | hw::kRunListEnable);
    wr(base + hw::kRingMiMode, hw::kStopRing << 16);
    wr(base + hw::kRingHwsPga, static_cast<uint32_t>(page(kHwsp)));
    const uint32_t events = hw::kIrqUser | hw::kIrqContextSwitch | hw::kIrqCsError;
    wr(base + hw::kRingImr, ~events);
    const unsigned bank = hw::kEngineIrqBank[e];
    wr(hw::gt_imr(bank), ~(events << hw::kEngineIrqShift[e]));
    wr(hw::gt_ier(bank), events << hw::kEngineIrqShift[e]);
    wr(hw::kMasterIrq, hw::kMasterIrqControl);
    wr(base + hw::kRingContextStatusPtr, 0xFFFF0000u | 5u << 8 | 5u);

    // Context image (§4.7): ring registers and PDP0 for the chosen mode.
    const uint64_t state = page(kLrc) + hw::kLrcStateByte;
    auto reg_value = [&](uint32_t dw, uint32_t reg, uint32_t value) {
        poke(memory, state + (dw - 1) * 4, base + reg);
        poke(memory, state + dw * 4, value);
    };
    const uint64_t pdp0 = addr_mode == hw::kDescLegacy64 ? page(kPml4) : page(kPd);
    poke(memory, state + 4, 0x11000000 | 1u << 12 | (2 * 14 - 1));
    reg_value(hw::kCtxRingHead, hw::kRingHead, 0);
    reg_value(hw::kCtxRingTail, hw::kRingTail, 0);
    reg_value(hw::kCtxRingStart, hw::kRingStart, static_cast<uint32_t>(page(kRing)));
    reg_value(hw::kCtxRingCtl, hw::kRingCtl, hw::kRingCtlValid);
    reg_value(hw::ctx_pdp_udw(0), 0x274, static_cast<uint32_t>(pdp0 >> 32));
    reg_value(hw::ctx_pdp_ldw(0), 0x270, static_cast<uint32_t>(pdp0));

    // The input's overrides.
    for (unsigned n = in.take<uint8_t>() % 9; n > 0; --n) {
        const uint32_t index = in.take<uint32_t>();
        gpu.write_ggtt(index, GgttEntry{in.take<uint64_t>()});
    }
    wr(hw::kGfxFlshCntlGen6, 1);
    for (unsigned n = in.take<uint8_t>() % 17; n > 0; --n) {
        const uint8_t table = in.take<uint8_t>() & 3;
        (void)in.take<uint8_t>();
        const uint16_t slot = in.take<uint16_t>() & 511;
        poke64(memory, page(kPml4 + table) + slot * 8u, in.take<uint64_t>());
    }
    std::vector<std::pair<uint32_t, uint32_t>> ctx_records;
    for (unsigned n = in.take<uint8_t>() % 17; n > 0; --n) {
        const uint16_t dw = in.take<uint16_t>() & 2047;
        (void)in.take<uint16_t>();
        ctx_records.emplace_back(dw, in.take<uint32_t>());
    }
    const unsigned ring_dws = in.take<uint16_t>() % 1023;
    std::vector<uint32_t> ring(ring_dws), batch;
    for (uint32_t& v : ring) {
        v = in.take<uint32_t>();
    }
    while (in.left() > 0 && batch.size() < 1024) {
        batch.push_back(in.take<uint32_t>());
    }
    if (ring_dws == 0) {
        // No ring of its own: run the batch from a one-command ring.
        ring = {kMiBatchBufferStart | (addr_mode == 0 ? 0 : 1u << 8),
                static_cast<uint32_t>(page(kBatch)), 0, 0};
    }
    clamp_blits(ring);
    clamp_blits(batch);
    memory.write(page(kRing), std::as_bytes(std::span{ring}));
    memory.write(page(kBatch), std::as_bytes(std::span{batch}));
    const uint32_t tail = static_cast<uint32_t>((ring.size() * 4 + 7) & ~7u) % 4096;
    poke(memory, state + hw::kCtxRingTail * 4, tail);
    for (const auto& [dw, value] : ctx_records) {
        poke(memory, page(kLrc) + dw * 4u, value);
    }

    // Submit [ctx, none] (§4.4 order: el1 hi, el1 lo, el0 hi, el0 lo).
    const uint64_t desc =
        uint64_t{0x42} << 32 | page(kLrc) | addr_mode << hw::kDescAddrModeShift | hw::kDescValid;
    wr(base + hw::kRingElsp, 0);
    wr(base + hw::kRingElsp, 0);
    wr(base + hw::kRingElsp, static_cast<uint32_t>(desc >> 32));
    wr(base + hw::kRingElsp, static_cast<uint32_t>(desc));

    const auto engine = static_cast<Engine>(e);
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    for (;;) {
        if (gpu.engine_halted(engine) || (rd(base + hw::kRingMiMode) & hw::kModeIdle) != 0) {
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            fail("the engine neither completed nor reported an error");
        }
        std::this_thread::yield();
    }
    static const bool verbose = std::getenv("GPU_FUZZ_VERBOSE") != nullptr;
    if (verbose) {
        std::fprintf(stderr, "gpu_fuzzer: %s: %llu commands, error %s, data[0..1] %08x %08x\n",
                     to_string(engine),
                     static_cast<unsigned long long>(gpu.engine_commands(engine)),
                     to_string(gpu.engine_last_error(engine)),
                     *reinterpret_cast<uint32_t*>(memory.frame(HostFrame{kData})),
                     *reinterpret_cast<uint32_t*>(memory.frame(HostFrame{kData}) + 4));
    }
    if (gpu.engine_halted(engine) && !gpu.reset_engine(engine)) {
        fail("engine reset did not complete");
    }
    if (gpu.engine_halted(engine)) {
        fail("the engine is still halted after a reset");
    }
    return 0;
}
