// A native driver for the software GPU, used by its tests and benchmarks:
// programs the GGTT, builds rings, batches and logical ring context images in
// machine memory and submits them through ELSP, using only registers and
// commands (intel-gpu.md §2, §4, §5), as a driver written from the hardware
// facts would. Waits are bounded (condition variable / polling with a deadline).
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <initializer_list>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "gpu/machine_memory.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/soft_gpu.hpp"

namespace xengt::gpu::model::native {

inline constexpr std::chrono::milliseconds kWait{10000};

// Command encodings, spelled from §5.2–§5.4.
inline constexpr uint32_t kMiNoop = 0x00000000;
inline constexpr uint32_t kMiUserInterrupt = 0x01000000;
inline constexpr uint32_t kMiArbCheck = 0x02800000;
inline constexpr uint32_t kMiBatchBufferEnd = 0x05000000;
inline constexpr uint32_t kMiStoreDataImmGgtt = 0x10000002 | 1u << 22;  // 4 DWs, GGTT
inline constexpr uint32_t kMiStoreDataImmPpgtt = 0x10000002;            // 4 DWs, PPGTT
inline constexpr uint32_t kMiLoadRegisterImm1 = 0x11000001;             // one pair
inline constexpr uint32_t kMiStoreRegisterMemGgtt = 0x12000002 | 1u << 22;
inline constexpr uint32_t kMiLoadRegisterMemGgtt = 0x14800002 | 1u << 22;
inline constexpr uint32_t kMiFlushDwImm = 0x13000002 | 1u << 14;  // post-sync write
inline constexpr uint32_t kMiBatchBufferStart = 0x18800001;       // GGTT (bit 8 clear)
inline constexpr uint32_t kBbsPpgtt = 1u << 8;
inline constexpr uint32_t kBbsSecondLevel = 1u << 22;
inline constexpr uint32_t kPipeControl = 0x7A000004;
inline constexpr uint32_t kPcWriteImm = 1u << 14;
inline constexpr uint32_t kPcGgtt = 1u << 24;
inline constexpr uint32_t kXyColorBlt32 = 0x54000005 | 3u << 20;  // alpha + RGB
inline constexpr uint32_t kXySrcCopyBlt32 = 0x54C00008 | 3u << 20;
inline constexpr uint32_t kXyFastCopyBlt = 0x50800008;
inline constexpr uint32_t kBr13Depth32 = 3u << 24;
inline constexpr uint32_t kRopPatCopy = 0xF0u << 16;  // BR13 23:16: fill with the colour
inline constexpr uint32_t kRopSrcCopy = 0xCCu << 16;  // BR13 23:16: copy the source
inline constexpr uint32_t kFastDepth32 = 3u << 24;

struct Context {
    unsigned engine;
    uint32_t lrca;
    uint32_t ring;
    uint32_t ring_bytes;
    uint32_t tail = 0;
    uint32_t ctx_id;
    uint64_t addr_mode;
};

class Driver {
public:
    static constexpr uint64_t kDefaultFrames = 1024;
    // Declared before the GPU so that they outlive it: ~SoftGpu joins the
    // engine threads, which may still deliver an interrupt to the handler.
    std::mutex irq_mutex_;
    std::condition_variable irq_cv_;
    std::array<uint32_t, hw::kGtBanks> seen_{};

    MemfdMachineMemory memory;
    SoftGpu gpu;

    explicit Driver(SoftGpuConfig config = {}, uint64_t frames = kDefaultFrames)
        : memory(frames * kPageSize), gpu(memory, config) {
        // gen8_irq_handler: master off, read level 1, ack each GT IIR, master on.
        gpu.set_interrupt_handler([this] {
            wr(hw::kMasterIrq, 0);
            const uint32_t level1 = rd(hw::kMasterIrq);
            std::lock_guard lock(irq_mutex_);
            for (unsigned n = 0; n < hw::kGtBanks; ++n) {
                if ((level1 & (hw::kGtLevel1Bits[n][0] | hw::kGtLevel1Bits[n][1])) != 0) {
                    const uint32_t iir = rd(hw::gt_iir(n));
                    wr(hw::gt_iir(n), iir);
                    seen_[n] |= iir;
                }
            }
            wr(hw::kMasterIrq, hw::kMasterIrqControl);
            irq_cv_.notify_all();
        });
    }

    uint32_t rd(uint32_t offset) { return gpu.read32(MmioOffset{offset}); }
    void wr(uint32_t offset, uint32_t value) { gpu.write32(MmioOffset{offset}, value); }
    uint32_t erd(unsigned e, uint32_t rel) { return rd(hw::kEngineBase[e] + rel); }
    void ewr(unsigned e, uint32_t rel, uint32_t value) { wr(hw::kEngineBase[e] + rel, value); }

    // Allocates `pages` frames and maps them 1:1 in the GGTT (GGTT address =
    // host physical address), returning the GGTT address.
    uint32_t alloc(uint64_t pages) {
        const uint64_t first = next_frame_;
        next_frame_ += pages;
        for (uint64_t f = first; f < first + pages; ++f) {
            gpu.write_ggtt(f, GgttEntry::map(HostFrame{f}));
        }
        wr(hw::kGfxFlshCntlGen6, 1);  // §2.3 GGTT invalidate
        return static_cast<uint32_t>(first << kPageShift);
    }
    // Allocates frames without a GGTT mapping (PPGTT pages, page tables).
    uint64_t alloc_frames(uint64_t pages) {
        const uint64_t first = next_frame_;
        next_frame_ += pages;
        return first << kPageShift;
    }

    // Host-physical memory access (the CPU's view).
    void poke(uint64_t phys, uint32_t v) { memory.write(phys, std::as_bytes(std::span{&v, 1})); }
    void poke64(uint64_t phys, uint64_t v) { memory.write(phys, std::as_bytes(std::span{&v, 1})); }
    uint32_t peek(uint64_t phys) {
        uint32_t v = 0;
        memory.read(phys, std::as_writable_bytes(std::span{&v, 1}));
        return v;
    }
    void poke(uint64_t phys, std::initializer_list<uint32_t> dws) {
        poke(phys, std::span<const uint32_t>(dws.begin(), dws.size()));
    }
    void poke(uint64_t phys, std::span<const uint32_t> dws) {
        memory.write(phys, std::as_bytes(dws));
    }

    // §4.3 enable_execlists, plus interrupts unmasked at every level (§6).
    void enable_engine(unsigned e) {
        ewr(e, 0x098, 0xFFFFFFFF);  // RING_HWSTAM: nothing mirrored
        ewr(e, hw::kRingModeGen7, hw::kRunListEnable << 16 | hw::kRunListEnable);
        ewr(e, hw::kRingMiMode, hw::kStopRing << 16);
        hwsp_[e] = alloc(1);
        ewr(e, hw::kRingHwsPga, hwsp_[e]);
        (void)erd(e, hw::kRingHwsPga);  // posting read
        const uint32_t events = hw::kIrqUser | hw::kIrqContextSwitch | hw::kIrqCsError;
        ewr(e, hw::kRingImr, ~events);
        const unsigned bank = hw::kEngineIrqBank[e];
        const uint32_t gt = events << hw::kEngineIrqShift[e];
        wr(hw::gt_imr(bank), rd(hw::gt_imr(bank)) & ~gt);
        wr(hw::gt_ier(bank), rd(hw::gt_ier(bank)) | gt);
        wr(hw::kMasterIrq, hw::kMasterIrqControl);
        // §4.5 reset_csb_pointers: both pointers to 5, HWSP slot too.
        ewr(e, hw::kRingContextStatusPtr, 0xFFFF0000u | 5u << 8 | 5u);
        poke(hwsp_[e] + hw::kHwspCsbWritePtrByte, 5);
        csb_head_[e] = 5;
    }

    // A logical ring context (§4.7) with a ring of `ring_pages`.
    Context make_context(unsigned e, uint32_t ctx_id, uint64_t addr_mode = hw::kDescLegacy32,
                         uint64_t pml4 = 0, unsigned ring_pages = 1) {
        Context c{e, alloc(2), alloc(ring_pages), ring_pages * 4096, 0, ctx_id, addr_mode};
        const uint64_t state = c.lrca + hw::kLrcStateByte;
        const uint32_t base = hw::kEngineBase[e];
        auto reg_value = [&](uint32_t dw, uint32_t reg, uint32_t value) {
            poke(state + (dw - 1) * 4, base + reg);
            poke(state + dw * 4, value);
        };
        poke(state + 4, 0x11000000 | 1u << 12 | (2 * 14 - 1));  // LRI header, force posted
        reg_value(hw::kCtxRingHead, hw::kRingHead, 0);
        reg_value(hw::kCtxRingTail, hw::kRingTail, 0);
        reg_value(hw::kCtxRingStart, hw::kRingStart, c.ring);
        reg_value(hw::kCtxRingCtl, hw::kRingCtl, (c.ring_bytes - 4096) | hw::kRingCtlValid);
        reg_value(hw::ctx_pdp_udw(0), 0x274, static_cast<uint32_t>(pml4 >> 32));
        reg_value(hw::ctx_pdp_ldw(0), 0x270, static_cast<uint32_t>(pml4));
        return c;
    }

    // Appends commands to the ring, keeping the tail qword aligned (§4.2).
    void emit(Context& c, std::initializer_list<uint32_t> dws) {
        emit(c, std::span<const uint32_t>(dws.begin(), dws.size()));
    }
    void emit(Context& c, std::span<const uint32_t> dws) {
        for (const uint32_t v : dws) {
            poke(c.ring + c.tail, v);
            c.tail = (c.tail + 4) % c.ring_bytes;
        }
        if (c.tail % 8 != 0) {
            poke(c.ring + c.tail, kMiNoop);
            c.tail = (c.tail + 4) % c.ring_bytes;
        }
    }

    uint64_t descriptor(const Context& c) const {
        return uint64_t{c.ctx_id} << 32 | c.lrca | c.addr_mode << hw::kDescAddrModeShift |
               hw::kDescValid;
    }

    // Updates the image's tail and submits [c0, c1] through ELSP (§4.4 order).
    void submit(Context& c0, Context* c1 = nullptr) {
        const unsigned e = c0.engine;
        uint64_t d1 = 0;
        if (c1 != nullptr) {
            poke(c1->lrca + hw::kLrcStateByte + hw::kCtxRingTail * 4, c1->tail);
            d1 = descriptor(*c1);
        }
        poke(c0.lrca + hw::kLrcStateByte + hw::kCtxRingTail * 4, c0.tail);
        const uint64_t d0 = descriptor(c0);
        ewr(e, hw::kRingElsp, static_cast<uint32_t>(d1 >> 32));
        ewr(e, hw::kRingElsp, static_cast<uint32_t>(d1));
        ewr(e, hw::kRingElsp, static_cast<uint32_t>(d0 >> 32));
        ewr(e, hw::kRingElsp, static_cast<uint32_t>(d0));
    }

    uint32_t ring_head_in_image(const Context& c) {
        return peek(c.lrca + hw::kLrcStateByte + hw::kCtxRingHead * 4);
    }

    // Waits (bounded) until the handler has seen all `bits` in GT IIR(bank).
    bool wait_irq(unsigned bank, uint32_t bits, std::chrono::milliseconds limit = kWait) {
        std::unique_lock lock(irq_mutex_);
        return irq_cv_.wait_for(lock, limit, [&] { return (seen_[bank] & bits) == bits; });
    }
    uint32_t seen(unsigned bank) {
        std::lock_guard lock(irq_mutex_);
        return seen_[bank];
    }
    // Forget interrupts seen so far (before waiting for the next one).
    void clear_seen() {
        std::lock_guard lock(irq_mutex_);
        seen_.fill(0);
    }
    bool wait_engine_irq(unsigned e, uint32_t bits, std::chrono::milliseconds limit = kWait) {
        return wait_irq(hw::kEngineIrqBank[e], bits << hw::kEngineIrqShift[e], limit);
    }

    // Polls (with a deadline) until MODE_IDLE is set.
    bool wait_idle(unsigned e, std::chrono::milliseconds limit = kWait) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if ((erd(e, hw::kRingMiMode) & hw::kModeIdle) != 0) {
                return true;
            }
            std::this_thread::yield();
        }
        return false;
    }

    // New CSB entries since the last call, read from the HWSP as i915 does (§4.5).
    std::vector<uint64_t> read_csb(unsigned e) {
        std::vector<uint64_t> out;
        const uint32_t tail = peek(hwsp_[e] + hw::kHwspCsbWritePtrByte);
        while (csb_head_[e] != tail) {
            csb_head_[e] = (csb_head_[e] + 1) % hw::kCsbEntries;
            const uint64_t at = hwsp_[e] + hw::kHwspCsbByte + csb_head_[e] * 8;
            out.push_back(uint64_t{peek(at + 4)} << 32 | peek(at));
        }
        return out;
    }
    uint32_t hwsp(unsigned e) const { return hwsp_[e]; }

private:
    uint64_t next_frame_ = 1;  // frame 0 stays unmapped: GGTT address 0 faults
    std::array<uint32_t, kEngineCount> hwsp_{};
    std::array<uint32_t, kEngineCount> csb_head_{};
};

inline constexpr unsigned kRcs = 0;
inline constexpr unsigned kBcs = 1;
inline constexpr unsigned kVcs = 2;

}  // namespace xengt::gpu::model::native
