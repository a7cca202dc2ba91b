// The command rows themselves (intel-gpu.md §5) as compile-time data, for
// the two modules that need them as constants: the table (command_table.cpp
// indexes and checks them) and the scanner (its fast path is specialised on
// each row by the compiler). Everyone else uses command_table.hpp.
#pragma once

#include <cstdint>

#include "mediator/cmd/command_table.hpp"

namespace xengt::mediator::cmd::rows {

// §5.2 DW0 / DW1 bits the rows refer to.
constexpr uint32_t kUseGgtt = 1u << 22;         // SDI / SRM / LRM: address is GGTT
constexpr uint32_t kSdiQword = 1u << 21;        // SDI: store a qword
constexpr uint32_t kBbsPpgtt = 1u << 8;         // BB_START: 1 = PPGTT
constexpr uint32_t kBbsResourceStr = 1u << 10;  // BB_START flags the scanner refuses:
constexpr uint32_t kBbsPredicate = 1u << 15;    // predication and add-offset change
constexpr uint32_t kBbsAddOffset = 1u << 16;    // what runs or where it is fetched from
constexpr uint32_t kFlushStoreIndex = 1u << 21;
constexpr uint32_t kFlushPostSync = 3u << 14;
constexpr uint32_t kFlushNotify = 1u << 8;
constexpr uint32_t kFlushAddrGgtt = 1u << 2;  // in DW1
// §5.3 PIPE_CONTROL DW1 bits.
constexpr uint32_t kPcNotify = 1u << 8;
constexpr uint32_t kPcPostSync = 3u << 14;
constexpr uint32_t kPcStoreIndex = 1u << 21;
constexpr uint32_t kPcLriPostSync = 1u << 23;
constexpr uint32_t kPcAddrGgtt = 1u << 24;
// §5.4 blitter DW0 tiling bits.
constexpr uint32_t kXyDstTiled = 1u << 11;
constexpr uint32_t kXySrcTiled = 1u << 15;
constexpr uint32_t kFastDstTiling = 3u << 13;
constexpr uint32_t kFastSrcTiling = 3u << 20;
// Rows of the tallest tile: X tiles have 8, Y tiles 32 (XY blits); Ys tiles
// (fast copy) up to 256.
constexpr uint16_t kXyTileRows = 32;
constexpr uint16_t kYsTileRows = 256;

// 3D state bits (Gen9 PRM layouts; intel-gpu.md §5 does not cover 3D state).
constexpr uint32_t kModifyEnable = 1u << 0;        // STATE_BASE_ADDRESS: this base/size is loaded
constexpr uint32_t kBaseMask = 0xFFFFF000u;        // 4 KiB-aligned bases, sizes in 4 KiB pages
constexpr uint32_t kVbAddressModify = 1u << 14;    // VERTEX_BUFFER_STATE DW0
constexpr uint32_t kVbNull = 1u << 13;             // VERTEX_BUFFER_STATE DW0: no buffer
constexpr uint32_t kSoBufferEnable = 1u << 31;     // 3DSTATE_SO_BUFFER DW1
constexpr uint32_t kPoolEnable = 1u << 11;         // 3DSTATE_*_POOL_ALLOC DW1
constexpr uint32_t kReadLengthLow = 0x0000FFFFu;   // 3DSTATE_CONSTANT_*: buffer 0/2 read length
constexpr uint32_t kReadLengthHigh = 0xFFFF0000u;  // buffer 1/3 read length

constexpr EngineMask kRcsBcs = kRcs | kBcs;

// Row factories keep the table one line (or one field) per command.
constexpr CommandDesc single(const char* name, uint32_t header, Action action = Action::Allow) {
    return {name,       header, 0,           1,  1, kAllEngines, action, nullptr,
            Flow::Next, {},     Event::None, {}, 0, {},          0,      {}};
}
constexpr CommandDesc rejected(const char* name, uint32_t header, uint8_t dws, EngineMask engines,
                               const char* why) {
    return {name,        header, 8, dws, dws, engines, Action::Reject, why, Flow::Next, {},
            Event::None, {},     0, {},  0,   {}};
}
constexpr CommandDesc audited(const char* name, uint32_t header, uint8_t len_bits, uint8_t min_dw,
                              uint8_t max_dw, EngineMask engines) {
    return {name,    header,     len_bits, min_dw,      max_dw, engines, Action::Audit,
            nullptr, Flow::Next, {},       Event::None, {},     0,       {},
            0,       {}};
}
// 3D/media state on the render engine (GVT: R_RCS, 8-bit length field except
// where noted; GVT has no handler for them, so nothing in them is checked).
constexpr CommandDesc state3d(const char* name, uint32_t header, uint16_t min_dw, uint16_t max_dw,
                              uint8_t len_bits = 8) {
    return {name,    header,     len_bits, min_dw,      max_dw, kRcs, Action::Allow,
            nullptr, Flow::Next, {},       Event::None, {},     0,    {},
            0,       {}};
}
// The same, with graphics addresses the scanner audits (GVT lists them as
// address fields but audits none of them; we do, see state_address).
constexpr CommandDesc state3d_audited(const char* name, uint32_t header, uint16_t min_dw,
                                      uint16_t max_dw) {
    CommandDesc d = state3d(name, header, min_dw, max_dw);
    d.action = Action::Audit;
    return d;
}
// A single-dword render command: no length field (GVT: F_LEN_CONST 1).
constexpr CommandDesc rcs_single(const char* name, uint32_t header) {
    CommandDesc d = single(name, header);
    d.engines = kRcs;
    return d;
}
constexpr CommandDesc with_event(CommandDesc d, Event e, Bits when = {}) {
    d.event = e;
    d.event_when = when;
    return d;
}
constexpr CommandDesc with_address(CommandDesc d, AddressField a) {
    d.addresses[d.n_addresses++] = a;
    return d;
}
constexpr CommandDesc with_register(CommandDesc d, RegisterField r) {
    d.registers[d.n_registers++] = r;
    return d;
}
constexpr CommandDesc with_flow(CommandDesc d, Flow f, Bits forbidden = {}) {
    d.flow = f;
    d.forbidden = forbidden;
    return d;
}
constexpr CommandDesc rejecting(CommandDesc d, const char* why) {
    d.action = Action::Reject;
    d.why = why;
    return d;
}

// Address-field factories: a 48-bit address in (dword, dword + 1).
constexpr AddressField field(uint8_t dword, uint32_t low_mask, SpaceRule rule, Bits space,
                             Extent extent) {
    AddressField a{};
    a.dword = dword;
    a.width = 2;
    a.low_mask = low_mask;
    a.rule = rule;
    a.space = space;
    a.extent = extent;
    return a;
}
constexpr AddressField store_to(uint8_t dword, uint32_t low_mask, Bits ggtt, Extent extent) {
    return field(dword, low_mask, SpaceRule::GgttWhenSet, ggtt, extent);
}
constexpr AddressField data_store(uint8_t dword, uint32_t low_mask, Bits ggtt, uint8_t data_dword,
                                  Bits wide) {
    AddressField a = field(dword, low_mask, SpaceRule::GgttWhenSet, ggtt, Extent::Data);
    a.data_dword = data_dword;
    a.wide = wide;
    return a;
}
constexpr AddressField when(AddressField a, Bits when_any, Bits unless_any, Bits hwsp_index) {
    a.when_any = when_any;
    a.unless_any = unless_any;
    a.hwsp_index = hwsp_index;
    return a;
}
constexpr AddressField batch_at(uint8_t dword) {
    return field(dword, ~3u, SpaceRule::PpgttWhenSet, {0, kBbsPpgtt}, Extent::Batch);
}
constexpr AddressField surface(uint8_t dword, BlitGeometry g) {
    AddressField a = field(dword, ~0u, SpaceRule::Implicit, {}, Extent::Blit);
    a.blit = g;
    return a;
}

// 3D state addresses. A 3D command's graphics addresses are in the address
// space of the buffer holding it: in a privileged (GGTT) batch or the ring
// they are GGTT addresses and audited; in a PPGTT batch the shadow PPGTT
// confines them. The scanner audits where each base or buffer starts and,
// where the command gives it, its size; what the pipeline later reaches
// through offsets from a base (binding tables, surface states, kernels) is
// not in the command stream and is not audited (README, "Known limits").
constexpr AddressField state_address(uint8_t dword, uint32_t low_mask) {
    return field(dword, low_mask, SpaceRule::Implicit, {}, Extent::Dword);
}
// The base covers `size_mask` bits of dword `size_dword`, in bytes, when
// `valid` says the command sets that size.
constexpr AddressField sized(AddressField a, uint8_t size_dword, uint32_t size_mask,
                             Bits valid = {}) {
    a.extent = Extent::Sized;
    a.data_dword = size_dword;
    a.size_mask = size_mask;
    a.size_valid = valid;
    return a;
}
constexpr AddressField only_when(AddressField a, Bits when_any, Bits unless_any = {}) {
    a.when_any = when_any;
    a.unless_any = unless_any;
    return a;
}
constexpr AddressField null_when_zero(AddressField a) {
    a.zero_is_null = true;
    return a;
}
constexpr AddressField repeating(AddressField a, uint8_t stride) {
    a.stride = stride;
    return a;
}

constexpr RegisterField reg_at(uint8_t dword, RegUse use, Bits when_any = {}) {
    return {dword, 0, use, when_any};
}

// 3DSTATE_CONSTANT_*: buffer n's pointer (DW3 + 2n, 32-byte aligned) is
// used only with a non-zero read length.
constexpr CommandDesc constant_buffers(const char* name, uint32_t header) {
    return with_address(
        with_address(
            with_address(with_address(state3d_audited(name, header, 11, 11),
                                      only_when(state_address(3, ~31u), {1, kReadLengthLow})),
                         only_when(state_address(5, ~31u), {1, kReadLengthHigh})),
            only_when(state_address(7, ~31u), {2, kReadLengthLow})),
        only_when(state_address(9, ~31u), {2, kReadLengthHigh}));
}
// 3DSTATE_*_POOL_ALLOC: [base, base + size) while enabled.
constexpr CommandDesc pool(const char* name, uint32_t header) {
    return with_address(
        state3d_audited(name, header, 4, 4),
        only_when(sized(state_address(1, kBaseMask), 3, kBaseMask), {1, kPoolEnable}));
}

// Field widths of the MI "DWord Length" as the software GPU model and GVT use
// them (§5.1); 2D/3D use 7:0.
inline constexpr CommandDesc kCommands[] = {
    // §5.2 single-dword MI commands.
    single("MI_NOOP", 0x00000000),
    with_event(single("MI_USER_INTERRUPT", 0x01000000), Event::UserInterrupt),
    single("MI_ARB_CHECK", 0x02800000),
    single("MI_ARB_ON_OFF", 0x04000000),
    with_flow(single("MI_BATCH_BUFFER_END", 0x05000000), Flow::BatchEnd),
    // §5.2 / §5.5 / gvtg.md §3.5: never from a guest.
    rejected("MI_DISPLAY_FLIP", 0x0A000000, 3, kRcsBcs, "flips are emulated, not executed"),
    rejected("MI_SEMAPHORE_WAIT", 0x0E000000, 4, kAllEngines, "can wait on another VM's memory"),
    rejected("MI_STORE_DATA_INDEX", 0x10800000, 3, kAllEngines, "writes the host's status page"),
    rejected("MI_CONDITIONAL_BATCH_BUFFER_END", 0x1B000000, 4, kAllEngines,
             "reads memory to decide the control flow"),
    // §5.2 MI commands with fields to audit.
    with_address(audited("MI_STORE_DATA_IMM", 0x10000000, 10, 4, 5, kAllEngines),
                 data_store(1, ~3u, {0, kUseGgtt}, 3, {0, kSdiQword})),
    with_register(audited("MI_LOAD_REGISTER_IMM", 0x11000000, 8, 3, 253, kAllEngines),
                  {1, 2, kUseLri, {}}),
    with_address(with_register(audited("MI_STORE_REGISTER_MEM", 0x12000000, 8, 4, 4, kAllEngines),
                               reg_at(1, kUseSrm)),
                 store_to(2, ~3u, {0, kUseGgtt}, Extent::Dword)),
    with_address(with_event(audited("MI_FLUSH_DW", 0x13000000, 6, 4, 5, kAllEngines), Event::Notify,
                            {0, kFlushNotify}),
                 when(data_store(1, ~7u, {1, kFlushAddrGgtt}, 3, {}), {0, kFlushPostSync}, {},
                      {0, kFlushStoreIndex})),
    with_address(with_register(audited("MI_LOAD_REGISTER_MEM", 0x14800000, 8, 4, 4, kAllEngines),
                               reg_at(1, kUseLrm)),
                 store_to(2, ~3u, {0, kUseGgtt}, Extent::Dword)),
    with_register(with_register(audited("MI_LOAD_REGISTER_REG", 0x15000000, 8, 3, 3, kAllEngines),
                                reg_at(1, kUseLrr)),
                  reg_at(2, kUseLrr)),
    with_address(with_flow(audited("MI_BATCH_BUFFER_START", 0x18800000, 8, 3, 3, kAllEngines),
                           Flow::BatchStart, {0, kBbsResourceStr | kBbsPredicate | kBbsAddOffset}),
                 batch_at(1)),
    // §5.3 PIPE_CONTROL: RCS only, 6 DWs; DW2 is a register with the LRI post-sync.
    with_register(with_address(with_event(audited("PIPE_CONTROL", 0x7A000000, 8, 6, 6, kRcs),
                                          Event::Notify, {1, kPcNotify}),
                               when(store_to(2, ~3u, {1, kPcAddrGgtt}, Extent::Qword),
                                    {1, kPcPostSync}, {1, kPcLriPostSync}, {1, kPcStoreIndex})),
                  reg_at(2, kUseLri, {1, kPcLriPostSync})),
    // §5.4 blitter: BCS only; destination (and source) surfaces in the
    // address space of the buffer the command is in.
    with_address(audited("XY_COLOR_BLT", 0x54000000, 8, 7, 7, kBcs),
                 surface(4, {1, 2, 3, BlitDepth::Xy, {0, kXyDstTiled}, kXyTileRows})),
    with_address(with_address(audited("XY_SRC_COPY_BLT", 0x54C00000, 8, 10, 10, kBcs),
                              surface(4, {1, 2, 3, BlitDepth::Xy, {0, kXyDstTiled}, kXyTileRows})),
                 surface(8, {7, 6, 0, BlitDepth::Xy, {0, kXySrcTiled}, kXyTileRows})),
    // Not in GVT's table (§5.4): a GVT-faithful scanner rejects it. Its
    // fields are described so that allowing it is a one-word change.
    rejecting(
        with_address(
            with_address(audited("XY_FAST_COPY_BLT", 0x50800000, 8, 10, 10, kBcs),
                         surface(4, {1, 2, 3, BlitDepth::Fast, {0, kFastDstTiling}, kYsTileRows})),
            surface(8, {7, 6, 0, BlitDepth::Fast, {0, kFastSrcTiling}, kYsTileRows})),
        "not in GVT's command table"),
    // 3D pipeline state (Gen9 layouts from the PRM; the doc's §5 stops at
    // PIPE_CONTROL). The rows are what i915 (6.1) emits on Gen9: the golden
    // ("null") render state batch it runs once per boot as a privileged GGTT
    // batch (gen9_renderstate.c), and the 3D state of user batches. Lengths
    // are the Gen9 ones; GVT checks only the field width.
    //
    // Pipeline selection and statistics: single dwords, flags in 15:0 that
    // are not a length (GVT: F_LEN_CONST 1). Nothing in them names memory.
    rcs_single("PIPELINE_SELECT", 0x69040000),
    rcs_single("3DSTATE_VF_STATISTICS", 0x680B0000),
    // STATE_BASE_ADDRESS: six 4 KiB-aligned bases, each loaded only with its
    // modify-enable bit 0. General, dynamic, indirect-object and instruction
    // state carry a buffer size (31:12, pages; its own modify bit 0) past
    // which the hardware does not access (PRM): audited as [base, base +
    // size), so i915's indirect-object base of 0 with size 0 is no access.
    // Surface and bindless surface state have no bound: their base is audited.
    with_address(
        with_address(
            with_address(
                with_address(
                    with_address(
                        with_address(state3d_audited("STATE_BASE_ADDRESS", 0x61010000, 19, 19),
                                     only_when(sized(state_address(1, kBaseMask), 12, kBaseMask,
                                                     {12, kModifyEnable}),
                                               {1, kModifyEnable})),
                        only_when(state_address(4, kBaseMask), {4, kModifyEnable})),
                    only_when(
                        sized(state_address(6, kBaseMask), 13, kBaseMask, {13, kModifyEnable}),
                        {6, kModifyEnable})),
                only_when(sized(state_address(8, kBaseMask), 14, kBaseMask, {14, kModifyEnable}),
                          {8, kModifyEnable})),
            only_when(sized(state_address(10, kBaseMask), 15, kBaseMask, {15, kModifyEnable}),
                      {10, kModifyEnable})),
        only_when(state_address(16, kBaseMask), {16, kModifyEnable})),
    // The system routine's pointer is an offset from the instruction base.
    state3d("STATE_SIP", 0x61020000, 3, 3),
    // Depth, stencil and hierarchical-depth surfaces: GVT's address field
    // (DW2). Whether the pipeline touches them depends on state elsewhere
    // (depth/stencil test enables), so the base is audited whenever it is
    // set; 0 is "no surface", which is what i915's null state programs.
    state3d("3DSTATE_CLEAR_PARAMS", 0x78040000, 3, 3),
    with_address(state3d_audited("3DSTATE_DEPTH_BUFFER", 0x78050000, 8, 8),
                 null_when_zero(state_address(2, ~3u))),
    with_address(state3d_audited("3DSTATE_STENCIL_BUFFER", 0x78060000, 5, 5),
                 null_when_zero(state_address(2, ~3u))),
    with_address(state3d_audited("3DSTATE_HIER_DEPTH_BUFFER", 0x78070000, 5, 5),
                 null_when_zero(state_address(2, ~3u))),
    // Vertex buffers: DW0 then 4-dword VERTEX_BUFFER_STATEs (up to 33), each
    // an address (loaded with bit 14, absent with the null bit 13) and a size
    // in bytes: audited as [address, address + size).
    with_address(state3d_audited("3DSTATE_VERTEX_BUFFERS", 0x78080000, 5, 133),
                 repeating(only_when(sized(state_address(2, ~0u), 4, ~0u), {1, kVbAddressModify},
                                     {1, kVbNull}),
                           4)),
    state3d("3DSTATE_VERTEX_ELEMENTS", 0x78090000, 3, 69),
    // Index buffer: address (DW2) and size in bytes (DW4).
    with_address(state3d_audited("3DSTATE_INDEX_BUFFER", 0x780A0000, 5, 5),
                 sized(state_address(2, ~0u), 4, ~0u)),
    state3d("3DSTATE_VF", 0x780C0000, 2, 2),
    state3d("3DSTATE_MULTISAMPLE", 0x780D0000, 2, 2),
    // *_STATE_POINTERS hold offsets from the dynamic state base, not addresses.
    state3d("3DSTATE_CC_STATE_POINTERS", 0x780E0000, 2, 2),
    state3d("3DSTATE_SCISSOR_STATE_POINTERS", 0x780F0000, 2, 2),
    // Shader stages: kernel pointers are offsets from the instruction base,
    // scratch space from the general state base.
    state3d("3DSTATE_VS", 0x78100000, 9, 9),
    state3d("3DSTATE_GS", 0x78110000, 10, 10),
    state3d("3DSTATE_CLIP", 0x78120000, 4, 4),
    state3d("3DSTATE_SF", 0x78130000, 4, 4),
    state3d("3DSTATE_WM", 0x78140000, 2, 2),
    // Push constants: four buffers, each read (and its pointer used) only
    // with a non-zero read length (buffers 0/1 in DW1, 2/3 in DW2). i915's
    // null state reads none.
    constant_buffers("3DSTATE_CONSTANT_VS", 0x78150000),
    constant_buffers("3DSTATE_CONSTANT_GS", 0x78160000),
    constant_buffers("3DSTATE_CONSTANT_PS", 0x78170000),
    constant_buffers("3DSTATE_CONSTANT_HS", 0x78190000),
    constant_buffers("3DSTATE_CONSTANT_DS", 0x781A0000),
    state3d("3DSTATE_HS", 0x781B0000, 9, 9),
    state3d("3DSTATE_TE", 0x781C0000, 4, 4),
    state3d("3DSTATE_DS", 0x781D0000, 11, 11),
    state3d("3DSTATE_STREAMOUT", 0x781E0000, 5, 5),
    state3d("3DSTATE_SBE", 0x781F0000, 6, 6),
    state3d("3DSTATE_PS", 0x78200000, 12, 12),
    state3d("3DSTATE_VIEWPORT_STATE_POINTERS_SF_CLIP", 0x78210000, 2, 2),
    state3d("3DSTATE_VIEWPORT_STATE_POINTERS_CC", 0x78230000, 2, 2),
    state3d("3DSTATE_BLEND_STATE_POINTERS", 0x78240000, 2, 2),
    // Binding tables: offsets from the surface state (or binding table pool) base.
    state3d("3DSTATE_BINDING_TABLE_POINTERS_VS", 0x78260000, 2, 2),
    state3d("3DSTATE_BINDING_TABLE_POINTERS_HS", 0x78270000, 2, 2),
    state3d("3DSTATE_BINDING_TABLE_POINTERS_DS", 0x78280000, 2, 2),
    state3d("3DSTATE_BINDING_TABLE_POINTERS_GS", 0x78290000, 2, 2),
    state3d("3DSTATE_BINDING_TABLE_POINTERS_PS", 0x782A0000, 2, 2),
    state3d("3DSTATE_SAMPLER_STATE_POINTERS_VS", 0x782B0000, 2, 2),
    state3d("3DSTATE_SAMPLER_STATE_POINTERS_HS", 0x782C0000, 2, 2),
    state3d("3DSTATE_SAMPLER_STATE_POINTERS_DS", 0x782D0000, 2, 2),
    state3d("3DSTATE_SAMPLER_STATE_POINTERS_GS", 0x782E0000, 2, 2),
    state3d("3DSTATE_SAMPLER_STATE_POINTERS_PS", 0x782F0000, 2, 2),
    // URB partitioning: on-chip, no memory.
    state3d("3DSTATE_URB_VS", 0x78300000, 2, 2),
    state3d("3DSTATE_URB_HS", 0x78310000, 2, 2),
    state3d("3DSTATE_URB_DS", 0x78320000, 2, 2),
    state3d("3DSTATE_URB_GS", 0x78330000, 2, 2),
    state3d("3DSTATE_VF_INSTANCING", 0x78490000, 3, 3),
    state3d("3DSTATE_VF_SGVS", 0x784A0000, 2, 2),
    state3d("3DSTATE_VF_TOPOLOGY", 0x784B0000, 2, 2),
    state3d("3DSTATE_PS_BLEND", 0x784D0000, 2, 2),
    state3d("3DSTATE_PS_EXTRA", 0x784F0000, 2, 2),
    state3d("3DSTATE_RASTER", 0x78500000, 5, 5),
    state3d("3DSTATE_SBE_SWIZ", 0x78510000, 11, 11),
    state3d("3DSTATE_WM_HZ_OP", 0x78520000, 5, 5),
    state3d("3DSTATE_COMPONENT_PACKING", 0x78550000, 5, 5),
    state3d("3DSTATE_DRAWING_RECTANGLE", 0x79000000, 4, 4),
    // Palettes: DW0 then up to 256 entries inline.
    state3d("3DSTATE_SAMPLER_PALETTE_LOAD0", 0x79020000, 2, 257),
    state3d("3DSTATE_CHROMA_KEY", 0x79040000, 4, 4),
    state3d("3DSTATE_POLY_STIPPLE_OFFSET", 0x79060000, 2, 2),
    state3d("3DSTATE_POLY_STIPPLE_PATTERN", 0x79070000, 33, 33),
    state3d("3DSTATE_LINE_STIPPLE", 0x79080000, 3, 3),
    state3d("3DSTATE_AA_LINE_PARAMETERS", 0x790A0000, 3, 3),
    state3d("3DSTATE_SAMPLER_PALETTE_LOAD1", 0x790C0000, 2, 257),
    state3d("3DSTATE_MONOFILTER_SIZE", 0x79110000, 2, 2),
    state3d("3DSTATE_PUSH_CONSTANT_ALLOC_VS", 0x79120000, 2, 2),
    state3d("3DSTATE_PUSH_CONSTANT_ALLOC_HS", 0x79130000, 2, 2),
    state3d("3DSTATE_PUSH_CONSTANT_ALLOC_DS", 0x79140000, 2, 2),
    state3d("3DSTATE_PUSH_CONSTANT_ALLOC_GS", 0x79150000, 2, 2),
    state3d("3DSTATE_PUSH_CONSTANT_ALLOC_PS", 0x79160000, 2, 2),
    // Stream-output declarations: a 9-bit length field (GVT too); DW0-2 then
    // 2-dword entries, at most 128.
    state3d("3DSTATE_SO_DECL_LIST", 0x79170000, 3, 259, 9),
    // Stream-output buffer: its base (DW2) and its write-offset location
    // (DW5) are used only while the buffer is enabled (DW1 bit 31); GVT marks
    // both as addresses. The offset location is optional (0: none).
    with_address(with_address(state3d_audited("3DSTATE_SO_BUFFER", 0x79180000, 8, 8),
                              only_when(state_address(2, ~3u), {1, kSoBufferEnable})),
                 null_when_zero(only_when(state_address(5, ~3u), {1, kSoBufferEnable}))),
    // Pools: a 4 KiB-aligned base used only when enabled (DW1 bit 11), with
    // a size in pages (DW3 31:12). GVT marks DW1 as an address.
    pool("3DSTATE_BINDING_TABLE_POOL_ALLOC", 0x79190000),
    pool("3DSTATE_GATHER_POOL_ALLOC", 0x791A0000),
    pool("3DSTATE_DX9_CONSTANT_BUFFER_POOL_ALLOC", 0x791B0000),
    // The draw itself: vertex counts and offsets, no addresses.
    state3d("3DPRIMITIVE", 0x7B000000, 7, 7),
};

}  // namespace xengt::mediator::cmd::rows
