// The command stream shapes an unmodified Linux 6.1 i915 submits on a Gen9
// (Skylake GT2) vGPU with execlists (not GuC), written from the list of what
// it emits (README, "The workload path"): request preambles, batch starts,
// flushes and breadcrumbs per engine, the context-workaround LRI of its
// default-context recording, and a golden ("null") render state batch with
// the same commands in the same order and Gen9 lengths. Field values are
// ours: zero unless a field makes the state a "null" one or names memory.
//
// In a vGPU i915 turns off semaphores, preemption and timeslicing
// (intel_vgpu_active), so batches start with the no-arbitration form and
// the final breadcrumb has no MI_SEMAPHORE_WAIT busy-wait.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>
#include <vector>

namespace xengt::test::i915 {

using Dwords = std::vector<uint32_t>;

// MI encodings (intel-gpu.md §5.2).
inline constexpr uint32_t kNoop = 0x00000000;
inline constexpr uint32_t kUserInterrupt = 0x01000000;
inline constexpr uint32_t kArbCheck = 0x02800000;
inline constexpr uint32_t kArbOn = 0x04000001;
inline constexpr uint32_t kArbOff = 0x04000000;
inline constexpr uint32_t kBbe = 0x05000000;
inline constexpr uint32_t kSdiGgtt = 0x10000002 | 1u << 22;  // MI_STORE_DWORD_IMM_GEN4 | GGTT
inline constexpr uint32_t kBbStart = 0x18800001;             // + bit 8 for a PPGTT batch
inline constexpr uint32_t kBbPpgtt = 1u << 8;
inline constexpr uint32_t kFlushDw = 0x13000002;  // MI_FLUSH_DW + 1: 4 dwords
inline constexpr uint32_t kFlushStoreIndex = 1u << 21;
inline constexpr uint32_t kFlushOpStoreDw = 1u << 14;
inline constexpr uint32_t kFlushInvalidateTlb = 1u << 18;
inline constexpr uint32_t kFlushInvalidateBsd = 1u << 7;
inline constexpr uint32_t kFlushUseGtt = 1u << 2;  // DW1
// PIPE_CONTROL (§5.3) and its DW1 flags.
inline constexpr uint32_t kPipeControl = 0x7A000004;
inline constexpr uint32_t kPcDepthFlush = 1u << 0;
inline constexpr uint32_t kPcStateInvalidate = 1u << 2;
inline constexpr uint32_t kPcConstInvalidate = 1u << 3;
inline constexpr uint32_t kPcVfInvalidate = 1u << 4;
inline constexpr uint32_t kPcDcFlush = 1u << 5;
inline constexpr uint32_t kPcFlushEnable = 1u << 7;
inline constexpr uint32_t kPcTextureInvalidate = 1u << 10;
inline constexpr uint32_t kPcInstructionInvalidate = 1u << 11;
inline constexpr uint32_t kPcRtFlush = 1u << 12;
inline constexpr uint32_t kPcQwWrite = 1u << 14;
inline constexpr uint32_t kPcTlbInvalidate = 1u << 18;
inline constexpr uint32_t kPcCsStall = 1u << 20;
inline constexpr uint32_t kPcStoreIndex = 1u << 21;
inline constexpr uint32_t kPcGgtt = 1u << 24;

// i915's scratch slot in the per-context HWSP that flushes post-sync into.
inline constexpr uint32_t kPphwspScratch = 0x34 * 4;

inline void append(Dwords& out, std::initializer_list<uint32_t> dws) {
    out.insert(out.end(), dws.begin(), dws.end());
}

inline Dwords pipe_control(uint32_t flags, uint32_t address = 0, uint32_t data = 0) {
    return {kPipeControl, flags, address, 0, data, 0};
}

// Render engine flush: invalidate (every request's preamble), flush, or
// both (a barrier, around the context workarounds). Gen9 precedes an
// invalidation with an empty PIPE_CONTROL (VF cache invalidate rule).
inline Dwords flush_rcs(bool invalidate, bool flush) {
    uint32_t flags = kPcCsStall;
    if (flush) {
        flags |= kPcRtFlush | kPcDepthFlush | kPcDcFlush | kPcFlushEnable;
    }
    Dwords out;
    if (invalidate) {
        flags |= kPcTlbInvalidate | kPcInstructionInvalidate | kPcTextureInvalidate |
                 kPcVfInvalidate | kPcConstInvalidate | kPcStateInvalidate | kPcQwWrite |
                 kPcStoreIndex;
        out = pipe_control(0);
    }
    const Dwords pc = pipe_control(flags, kPphwspScratch);
    out.insert(out.end(), pc.begin(), pc.end());
    return out;
}

// Other engines: one MI_FLUSH_DW storing a dword into the scratch slot.
inline Dwords flush_xcs(bool invalidate, bool video = false) {
    uint32_t cmd = kFlushDw | kFlushStoreIndex | kFlushOpStoreDw;
    if (invalidate) {
        cmd |= kFlushInvalidateTlb | (video ? kFlushInvalidateBsd : 0);
    }
    return {cmd, kPphwspScratch, 0, 0};
}

// Start of a request's payload: the previous seqno into the timeline's HWSP.
inline Dwords init_breadcrumb(uint32_t hwsp, uint32_t seqno) {
    return {kSdiGgtt, hwsp, 0, seqno - 1, kNoop, kArbCheck};
}

// Batch start without arbitration (no preemption in a vGPU); `secure` is a
// privileged GGTT batch (the golden render state), else a PPGTT user batch.
inline Dwords bb_start_noarb(uint64_t address, bool secure) {
    return {kArbOff, kBbStart | (secure ? 0 : kBbPpgtt), static_cast<uint32_t>(address),
            static_cast<uint32_t>(address >> 32)};
}

// End of a request: arbitration back on, then the two-dword tail i915 keeps
// for lite restores (MI_ARB_CHECK, MI_NOOP). No semaphore busy-wait.
inline void fini_tail(Dwords& out) {
    append(out, {kUserInterrupt, kArbOn, kArbCheck, kNoop});
}
inline Dwords fini_breadcrumb_rcs(uint32_t hwsp, uint32_t seqno) {
    Dwords out =
        pipe_control(kPcCsStall | kPcTlbInvalidate | kPcRtFlush | kPcDepthFlush | kPcDcFlush);
    const Dwords write =
        pipe_control(kPcFlushEnable | kPcCsStall | kPcGgtt | kPcQwWrite, hwsp, seqno);
    out.insert(out.end(), write.begin(), write.end());
    fini_tail(out);
    return out;
}
inline Dwords fini_breadcrumb_xcs(uint32_t hwsp, uint32_t seqno) {
    Dwords out{kFlushDw | kFlushOpStoreDw, hwsp | kFlushUseGtt, 0, seqno};
    fini_tail(out);
    return out;
}

// The Skylake render context workarounds, as masked writes (register,
// value), sorted by offset as i915 emits them.
inline constexpr std::pair<uint32_t, uint32_t> kSklCtxWorkarounds[] = {
    {0x2580, 0x00060002},  // GEN8_CS_CHICKEN1: preemption granularity fields
    {0x7004, 0x08200820},  // CACHE_MODE_1
    {0x7008, 0x03000100},  // GEN7_GT_MODE: IZ hashing (7-EU subslice SKUs)
    {0x7014, 0x00010001},  // COMMON_SLICE_CHICKEN2
    {0x7300, 0x04300430},  // HDC_CHICKEN0
    {0xE180, 0x20002000},  // HALF_SLICE_CHICKEN2
    {0xE184, 0x00020002},  // HALF_SLICE_CHICKEN3
    {0xE188, 0x00010000},  // GEN9_HALF_SLICE_CHICKEN5 (a masked disable)
    {0xE194, 0x01400140},  // GEN9_HALF_SLICE_CHICKEN7
    {0xE4F0, 0x02010201},  // GEN8_ROW_CHICKEN
};

// intel_engine_emit_ctx_wa: barrier, one LRI of every workaround, MI_NOOP, barrier.
inline Dwords ctx_workarounds() {
    Dwords out = flush_rcs(true, true);
    const uint32_t n = static_cast<uint32_t>(std::size(kSklCtxWorkarounds));
    out.push_back(0x11000000 | (2 * n - 1));
    for (const auto& [reg, value] : kSklCtxWorkarounds) {
        append(out, {reg, value});
    }
    out.push_back(kNoop);
    const Dwords barrier = flush_rcs(true, true);
    out.insert(out.end(), barrier.begin(), barrier.end());
    return out;
}

// 3D state headers (Gen9; the key in 31:16).
namespace op {
inline constexpr uint32_t kPipelineSelect = 0x69040000;
inline constexpr uint32_t kVfStatistics = 0x680B0000;
inline constexpr uint32_t kStateBaseAddress = 0x61010000;
inline constexpr uint32_t kStateSip = 0x61020000;
inline constexpr uint32_t kPrimitive = 0x7B000000;
}  // namespace op

// One command: header | (len - 2), then len - 1 dwords of which `fields`
// (dword index, value) are set and the rest 0.
inline void command(Dwords& out, uint32_t header, uint32_t len,
                    std::initializer_list<std::pair<unsigned, uint32_t>> fields = {}) {
    const size_t at = out.size();
    out.resize(at + len, 0);
    out[at] = header | (len - 2);
    for (const auto& [i, v] : fields) {
        out[at + i] = v;
    }
}

// The golden render state batch at GGTT address `self` (a 4 KiB-aligned
// page the batch shares with its state): a pipeline-select to 3D, every
// 3D stage disabled or empty, state bases at the batch itself (1 page
// each; the indirect-object base loaded as 0 with size 0), one point drawn,
// MI_BATCH_BUFFER_END, then state data the command streamer never reads.
inline Dwords null_render_state(uint32_t self) {
    Dwords b;
    append(b, {kPipeControl, kPcGgtt, 0, 0, 0, 0});
    b.push_back(op::kPipelineSelect | 3u << 8);    // mask bits 9:8, select 3D (0)
    command(b, 0x78140000, 2);                     // 3DSTATE_WM
    command(b, 0x78200000, 12);                    // 3DSTATE_PS
    command(b, 0x78130000, 4, {{3, 0x00001000}});  // 3DSTATE_SF
    command(b, 0x781F0000, 6);                     // 3DSTATE_SBE
    command(b, 0x78510000, 11);                    // 3DSTATE_SBE_SWIZ
    command(b, 0x78100000, 9);                     // 3DSTATE_VS
    command(b, 0x781B0000, 9);                     // 3DSTATE_HS
    command(b, 0x78110000, 10);                    // 3DSTATE_GS
    command(b, 0x781E0000, 5);                     // 3DSTATE_STREAMOUT
    command(b, 0x781D0000, 11);                    // 3DSTATE_DS
    command(b, 0x78120000, 4);                     // 3DSTATE_CLIP
    command(b, 0x78500000, 5);                     // 3DSTATE_RASTER
    command(b, 0x781C0000, 4);                     // 3DSTATE_TE
    command(b, 0x780C0000, 2);                     // 3DSTATE_VF
    command(b, 0x78520000, 5);                     // 3DSTATE_WM_HZ_OP
    for (uint32_t urb = 0x78300000; urb <= 0x78330000; urb += 0x10000) {
        command(b, urb, 2, {{1, 0x10000040}});  // 3DSTATE_URB_VS/HS/DS/GS
    }
    for (uint32_t pool = 0x79190000; pool <= 0x791B0000; pool += 0x10000) {
        command(b, pool, 4);  // binding table, gather, DX9 constant pools: disabled
    }
    for (uint32_t pca = 0x79120000; pca <= 0x79160000; pca += 0x10000) {
        command(b, pca, 2);  // 3DSTATE_PUSH_CONSTANT_ALLOC_*
    }
    for (const uint32_t c : {0x78150000u, 0x78190000u, 0x781A0000u, 0x78160000u, 0x78170000u}) {
        command(b, c, 11);  // 3DSTATE_CONSTANT_*: nothing read
    }
    command(b, 0x78490000, 3);                // 3DSTATE_VF_INSTANCING
    command(b, 0x784A0000, 2);                // 3DSTATE_VF_SGVS
    command(b, 0x784B0000, 2, {{1, 0x1}});    // 3DSTATE_VF_TOPOLOGY: points
    command(b, 0x79170000, 259, {{1, 0x0}});  // 3DSTATE_SO_DECL_LIST, 128 entries
    for (uint32_t i = 0; i < 4; ++i) {
        command(b, 0x79180000, 8, {{1, i << 29}});  // 3DSTATE_SO_BUFFER i: disabled
    }
    command(b, op::kStateBaseAddress, 19,
            {{1, self | 1},       // general state base
             {4, self | 1},       // surface state base
             {6, self | 1},       // dynamic state base
             {8, 0 | 1},          // indirect object base: 0 ...
             {10, self | 1},      // instruction base
             {12, 0x1000 | 1},    // general state: 1 page
             {13, 0x1000 | 1},    // dynamic state: 1 page
             {14, 0 | 1},         // ... with size 0
             {15, 0x1000 | 1}});  // instruction: 1 page
    command(b, op::kStateSip, 3);
    command(b, 0x79000000, 4);  // 3DSTATE_DRAWING_RECTANGLE
    command(b, 0x78050000, 8);  // 3DSTATE_DEPTH_BUFFER: no surface (0)
    for (uint32_t i = 0; i < 4; ++i) {
        command(b, 0x79040000, 4, {{1, i << 30}});  // 3DSTATE_CHROMA_KEY i
    }
    command(b, 0x79080000, 3);   // 3DSTATE_LINE_STIPPLE
    command(b, 0x790A0000, 3);   // 3DSTATE_AA_LINE_PARAMETERS
    command(b, 0x78060000, 5);   // 3DSTATE_STENCIL_BUFFER: none
    command(b, 0x78070000, 5);   // 3DSTATE_HIER_DEPTH_BUFFER: none
    command(b, 0x78040000, 3);   // 3DSTATE_CLEAR_PARAMS
    command(b, 0x79110000, 2);   // 3DSTATE_MONOFILTER_SIZE
    command(b, 0x780D0000, 2);   // 3DSTATE_MULTISAMPLE
    command(b, 0x79060000, 2);   // 3DSTATE_POLY_STIPPLE_OFFSET
    command(b, 0x79070000, 33);  // 3DSTATE_POLY_STIPPLE_PATTERN
    command(b, 0x79020000, 17);  // 3DSTATE_SAMPLER_PALETTE_LOAD0: 16 entries
    command(b, 0x790C0000, 17);  // 3DSTATE_SAMPLER_PALETTE_LOAD1
    command(b, 0x780A0000, 5);   // 3DSTATE_INDEX_BUFFER: address 0, size 0
    // 3DSTATE_VERTEX_BUFFERS: 33 buffers, address loaded (bit 14), 0 bytes.
    const size_t vb = b.size();
    command(b, 0x78080000, 1 + 4 * 33);
    for (uint32_t i = 0; i < 33; ++i) {
        b[vb + 1 + 4 * i] = i << 26 | 1u << 14;
    }
    command(b, 0x78090000, 1 + 2 * 34, {{1, 0x02000000}});  // 3DSTATE_VERTEX_ELEMENTS
    command(b, 0x78550000, 5, {{1, 0xF}});                  // 3DSTATE_COMPONENT_PACKING
    b.push_back(op::kVfStatistics | 1);
    command(b, 0x780E0000, 2, {{1, 0x0E00 | 1}});  // 3DSTATE_CC_STATE_POINTERS (offset)
    command(b, 0x78240000, 2, {{1, 0x0E40 | 1}});  // 3DSTATE_BLEND_STATE_POINTERS
    command(b, 0x784F0000, 2, {{1, 0x80000100}});  // 3DSTATE_PS_EXTRA
    command(b, 0x784D0000, 2, {{1, 0x40000000}});  // 3DSTATE_PS_BLEND
    for (uint32_t sp = 0x782B0000; sp <= 0x782F0000; sp += 0x10000) {
        command(b, sp, 2);  // 3DSTATE_SAMPLER_STATE_POINTERS_*
    }
    command(b, 0x780F0000, 2);                 // 3DSTATE_SCISSOR_STATE_POINTERS
    command(b, 0x78230000, 2, {{1, 0x0EA0}});  // 3DSTATE_VIEWPORT_STATE_POINTERS_CC
    command(b, 0x78210000, 2, {{1, 0x0EC0}});  // 3DSTATE_VIEWPORT_STATE_POINTERS_SF_CLIP
    for (uint32_t bt = 0x78260000; bt <= 0x782A0000; bt += 0x10000) {
        command(b, bt, 2);  // 3DSTATE_BINDING_TABLE_POINTERS_*
    }
    command(b, op::kPrimitive, 7, {{1, 0x4}, {2, 1}, {4, 1}});  // one point, one instance
    b.push_back(kBbe);
    b.resize(b.size() + 10, kNoop);  // the state data that follows the commands
    for (uint32_t i = 0; i < 4; ++i) {
        b.push_back(0x3F800000);  // 1.0f: a viewport's scale
    }
    return b;
}

}  // namespace xengt::test::i915
