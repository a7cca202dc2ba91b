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
constexpr AddressField store_to(uint8_t dword, uint32_t low_mask, Bits ggtt, Extent extent) {
    return {dword, 2, low_mask, SpaceRule::GgttWhenSet, ggtt, extent, 0, {}, {}, {}, {}, {}};
}
constexpr AddressField data_store(uint8_t dword, uint32_t low_mask, Bits ggtt, uint8_t data_dword,
                                  Bits wide) {
    return {dword, 2,  low_mask, SpaceRule::GgttWhenSet, ggtt, Extent::Data, data_dword, wide, {},
            {},    {}, {}};
}
constexpr AddressField when(AddressField a, Bits when_any, Bits unless_any, Bits hwsp_index) {
    a.when_any = when_any;
    a.unless_any = unless_any;
    a.hwsp_index = hwsp_index;
    return a;
}
constexpr AddressField batch_at(uint8_t dword) {
    return {dword, 2,  ~3u, SpaceRule::PpgttWhenSet, {0, kBbsPpgtt}, Extent::Batch, 0, {}, {},
            {},    {}, {}};
}
constexpr AddressField surface(uint8_t dword, BlitGeometry g) {
    return {dword, 2, ~0u, SpaceRule::Implicit, {}, Extent::Blit, 0, {}, {}, {}, {}, g};
}

constexpr RegisterField reg_at(uint8_t dword, RegUse use, Bits when_any = {}) {
    return {dword, 0, use, when_any};
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
};

}  // namespace xengt::mediator::cmd::rows
