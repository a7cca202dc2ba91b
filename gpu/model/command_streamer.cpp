// The command streamer: fetch from the ring or a batch, decode the header
// against a declarative command-descriptor table (§5.1), execute.
#include <array>
#include <iterator>

#include "gpu/model/engine.hpp"
#include "gpu/model/hw_regs.hpp"

namespace xengt::gpu::model {
namespace {

// §5.1: DW0 bits 31:29 command type; the opcode key is the top 9 bits (MI),
// 10 bits (2D) or 16 bits (3D/media) of DW0.
constexpr uint32_t kTypeMi = 0;
constexpr uint32_t kType2d = 2;
constexpr uint32_t kType3d = 3;
constexpr uint32_t key_mask(uint32_t type) {
    return type == kTypeMi   ? 0xFF800000u
           : type == kType2d ? 0xFFC00000u
           : type == kType3d ? 0xFFFF0000u
                             : 0;
}

// Engine masks, bit i = gpu::Engine i.
constexpr uint8_t kRcs = 1u << 0;
constexpr uint8_t kBcs = 1u << 1;
constexpr uint8_t kAll = 0x0F;

// Field widths of the MI "DWord Length" per GVT's cmd_info (§5.1, §12); 2D/3D use 7:0.
constexpr CmdDesc kCommands[] = {
    // §5.2 MI commands.
    {"MI_NOOP", 0x00000000, 0, 1, 1, kAll, cmd_mi_noop},
    {"MI_USER_INTERRUPT", 0x01000000, 0, 1, 1, kAll, cmd_mi_user_interrupt},
    {"MI_ARB_CHECK", 0x02800000, 0, 1, 1, kAll, cmd_mi_arb_check},
    {"MI_ARB_ON_OFF", 0x04000000, 0, 1, 1, kAll, cmd_mi_arb_on_off},
    {"MI_BATCH_BUFFER_END", 0x05000000, 0, 1, 1, kAll, cmd_mi_batch_buffer_end},
    {"MI_STORE_DATA_IMM", 0x10000000, 10, 4, 5, kAll, cmd_mi_store_data_imm},
    {"MI_LOAD_REGISTER_IMM", 0x11000000, 8, 3, 253, kAll, cmd_mi_load_register_imm},
    {"MI_STORE_REGISTER_MEM", 0x12000000, 8, 4, 4, kAll, cmd_mi_store_register_mem},
    {"MI_FLUSH_DW", 0x13000000, 6, 4, 5, kAll, cmd_mi_flush_dw},
    {"MI_LOAD_REGISTER_MEM", 0x14800000, 8, 4, 4, kAll, cmd_mi_load_register_mem},
    {"MI_BATCH_BUFFER_START", 0x18800000, 8, 3, 3, kAll, cmd_mi_batch_buffer_start},
    // §5.3 PIPE_CONTROL: RCS only, 6 DWs on Gen8/9.
    {"PIPE_CONTROL", 0x7A000000, 8, 6, 6, kRcs, cmd_pipe_control},
    // §5.4 blitter: BCS only.
    {"XY_COLOR_BLT", 0x54000000, 8, 7, 7, kBcs, cmd_xy_color_blt},
    {"XY_SRC_COPY_BLT", 0x54C00000, 8, 10, 10, kBcs, cmd_xy_src_copy_blt},
    {"XY_FAST_COPY_BLT", 0x50800000, 8, 10, 10, kBcs, cmd_xy_fast_copy_blt},
    // 3D pipeline state and draws (Gen9 layouts; the rows the scanner knows,
    // mediator/cmd/command_rows.hpp). The model has no 3D pipeline: they are
    // decoded, length-checked and have no effect (cmd_3d_state).
    {"PIPELINE_SELECT", 0x69040000, 0, 1, 1, kRcs, cmd_3d_state},
    {"3DSTATE_VF_STATISTICS", 0x680B0000, 0, 1, 1, kRcs, cmd_3d_state},
    {"STATE_BASE_ADDRESS", 0x61010000, 8, 19, 19, kRcs, cmd_3d_state},
    {"STATE_SIP", 0x61020000, 8, 3, 3, kRcs, cmd_3d_state},
    {"3DSTATE_CLEAR_PARAMS", 0x78040000, 8, 3, 3, kRcs, cmd_3d_state},
    {"3DSTATE_DEPTH_BUFFER", 0x78050000, 8, 8, 8, kRcs, cmd_3d_state},
    {"3DSTATE_STENCIL_BUFFER", 0x78060000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_HIER_DEPTH_BUFFER", 0x78070000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_VERTEX_BUFFERS", 0x78080000, 8, 5, 133, kRcs, cmd_3d_state},
    {"3DSTATE_VERTEX_ELEMENTS", 0x78090000, 8, 3, 69, kRcs, cmd_3d_state},
    {"3DSTATE_INDEX_BUFFER", 0x780A0000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_VF", 0x780C0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_MULTISAMPLE", 0x780D0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_CC_STATE_POINTERS", 0x780E0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SCISSOR_STATE_POINTERS", 0x780F0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_VS", 0x78100000, 8, 9, 9, kRcs, cmd_3d_state},
    {"3DSTATE_GS", 0x78110000, 8, 10, 10, kRcs, cmd_3d_state},
    {"3DSTATE_CLIP", 0x78120000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_SF", 0x78130000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_WM", 0x78140000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_CONSTANT_VS", 0x78150000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_CONSTANT_GS", 0x78160000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_CONSTANT_PS", 0x78170000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_CONSTANT_HS", 0x78190000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_CONSTANT_DS", 0x781A0000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_HS", 0x781B0000, 8, 9, 9, kRcs, cmd_3d_state},
    {"3DSTATE_TE", 0x781C0000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_DS", 0x781D0000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_STREAMOUT", 0x781E0000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_SBE", 0x781F0000, 8, 6, 6, kRcs, cmd_3d_state},
    {"3DSTATE_PS", 0x78200000, 8, 12, 12, kRcs, cmd_3d_state},
    {"3DSTATE_VIEWPORT_STATE_POINTERS_SF_CLIP", 0x78210000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_VIEWPORT_STATE_POINTERS_CC", 0x78230000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_BLEND_STATE_POINTERS", 0x78240000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_BINDING_TABLE_POINTERS_VS", 0x78260000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_BINDING_TABLE_POINTERS_HS", 0x78270000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_BINDING_TABLE_POINTERS_DS", 0x78280000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_BINDING_TABLE_POINTERS_GS", 0x78290000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_BINDING_TABLE_POINTERS_PS", 0x782A0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_STATE_POINTERS_VS", 0x782B0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_STATE_POINTERS_HS", 0x782C0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_STATE_POINTERS_DS", 0x782D0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_STATE_POINTERS_GS", 0x782E0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_STATE_POINTERS_PS", 0x782F0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_URB_VS", 0x78300000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_URB_HS", 0x78310000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_URB_DS", 0x78320000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_URB_GS", 0x78330000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_VF_INSTANCING", 0x78490000, 8, 3, 3, kRcs, cmd_3d_state},
    {"3DSTATE_VF_SGVS", 0x784A0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_VF_TOPOLOGY", 0x784B0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PS_BLEND", 0x784D0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PS_EXTRA", 0x784F0000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_RASTER", 0x78500000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_SBE_SWIZ", 0x78510000, 8, 11, 11, kRcs, cmd_3d_state},
    {"3DSTATE_WM_HZ_OP", 0x78520000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_COMPONENT_PACKING", 0x78550000, 8, 5, 5, kRcs, cmd_3d_state},
    {"3DSTATE_DRAWING_RECTANGLE", 0x79000000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_PALETTE_LOAD0", 0x79020000, 8, 2, 257, kRcs, cmd_3d_state},
    {"3DSTATE_CHROMA_KEY", 0x79040000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_POLY_STIPPLE_OFFSET", 0x79060000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_POLY_STIPPLE_PATTERN", 0x79070000, 8, 33, 33, kRcs, cmd_3d_state},
    {"3DSTATE_LINE_STIPPLE", 0x79080000, 8, 3, 3, kRcs, cmd_3d_state},
    {"3DSTATE_AA_LINE_PARAMETERS", 0x790A0000, 8, 3, 3, kRcs, cmd_3d_state},
    {"3DSTATE_SAMPLER_PALETTE_LOAD1", 0x790C0000, 8, 2, 257, kRcs, cmd_3d_state},
    {"3DSTATE_MONOFILTER_SIZE", 0x79110000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PUSH_CONSTANT_ALLOC_VS", 0x79120000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PUSH_CONSTANT_ALLOC_HS", 0x79130000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PUSH_CONSTANT_ALLOC_DS", 0x79140000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PUSH_CONSTANT_ALLOC_GS", 0x79150000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_PUSH_CONSTANT_ALLOC_PS", 0x79160000, 8, 2, 2, kRcs, cmd_3d_state},
    {"3DSTATE_SO_DECL_LIST", 0x79170000, 9, 3, 259, kRcs, cmd_3d_state},
    {"3DSTATE_SO_BUFFER", 0x79180000, 8, 8, 8, kRcs, cmd_3d_state},
    {"3DSTATE_BINDING_TABLE_POOL_ALLOC", 0x79190000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_GATHER_POOL_ALLOC", 0x791A0000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DSTATE_DX9_CONSTANT_BUFFER_POOL_ALLOC", 0x791B0000, 8, 4, 4, kRcs, cmd_3d_state},
    {"3DPRIMITIVE", 0x7B000000, 8, 7, 7, kRcs, cmd_3d_state},
};

// The table is code: a malformed row fails the build.
consteval bool commands_well_formed() {
    constexpr size_t n = std::size(kCommands);
    for (size_t i = 0; i < n; ++i) {
        const CmdDesc& d = kCommands[i];
        const uint32_t mask = key_mask(d.header >> 29);
        // (That each row has a handler is checked by a test: under UBSan GCC cannot
        // compare a function's address with null at compile time.)
        if (mask == 0 || (d.header & ~mask) != 0 || d.engines == 0) {
            return false;  // a known type, only key bits, some engine
        }
        if (d.len_bits == 0
                ? (d.min_dw != 1 || d.max_dw != 1)
                : (d.min_dw < 2 || d.min_dw > d.max_dw || d.max_dw > (1u << d.len_bits) + 1)) {
            return false;  // lengths the field can express
        }
        for (size_t j = i + 1; j < n; ++j) {
            if (kCommands[j].header == d.header) {
                return false;  // one row per opcode
            }
        }
    }
    return true;
}
static_assert(commands_well_formed(), "command rows must be unique, typed and length-consistent");

}  // namespace

std::span<const CmdDesc> command_table() {
    return kCommands;
}

namespace {

// O(1) decode: one table per command type, indexed by the header's key bits
// (9 for MI, 10 for 2D, 16 for 3D; §5.1), holding row number + 1 (0 = unknown).
static_assert(std::size(kCommands) < 255, "row numbers must fit the index entries");
struct CommandIndex {
    std::array<uint8_t, 1u << 9> mi{};
    std::array<uint8_t, 1u << 10> blt{};
    std::array<uint8_t, 1u << 16> gfx{};

    // The entry a header's key bits select; the type must be a known one.
    template <class Self>
    static auto& entry(Self& self, uint32_t header) {
        switch (header >> 29) {
            case kTypeMi:
                return self.mi[header >> 23 & 0x1FF];
            case kType2d:
                return self.blt[header >> 22 & 0x3FF];
            default:
                return self.gfx[header >> 16];
        }
    }

    CommandIndex() {
        for (size_t i = 0; i < std::size(kCommands); ++i) {
            entry(*this, kCommands[i].header) = static_cast<uint8_t>(i + 1);
        }
    }
};

const CommandIndex& command_index() {
    static const CommandIndex index;  // built once, thread-safely, on first use
    return index;
}

}  // namespace

const CmdDesc* find_command(uint32_t header) {
    if (key_mask(header >> 29) == 0) {
        return nullptr;
    }
    const uint8_t row = CommandIndex::entry(command_index(), header);
    return row == 0 ? nullptr : &kCommands[row - 1];
}

namespace {

constexpr unsigned kMaxCommandDwords = 260;  // > 2^8 + 1, the longest 8-bit length field
static_assert(
    [] {
        for (const CmdDesc& d : kCommands) {
            if (d.max_dw > kMaxCommandDwords) {
                return false;
            }
        }
        return true;
    }(),
    "every command fits the fetch buffer");

// Fetches dword `i` of the command at the current fetch position.
bool fetch_dword(EngineCtx& c, unsigned i, uint32_t& out) {
    if (c.ex.level == 0) {
        const LoadedContext& ctx = c.ex.ctx;
        const uint32_t off = (ctx.head + 4 * i) % ctx.ring_bytes;  // the ring wraps
        return c.mem.ggtt_read32(ctx.ring_start + off, out);       // §4.2: RING_START is GGTT
    }
    const FetchLevel& f = c.ex.fetch[c.ex.level];
    return c.mem.read32(c.ex.ctx, f.space, f.address + 4 * i, out);
}

}  // namespace

EngineError execute_one(EngineCtx& c) {
    LoadedContext& ctx = c.ex.ctx;
    uint32_t available = kMaxCommandDwords;
    if (c.ex.level == 0) {
        if (ctx.head == ctx.tail) {
            return complete_element(c);
        }
        available = ((ctx.tail + ctx.ring_bytes - ctx.head) % ctx.ring_bytes) / 4;
    }
    std::array<uint32_t, kMaxCommandDwords> dw{};
    if (!fetch_dword(c, 0, dw[0])) {
        return EngineError::PageFault;
    }
    const CmdDesc* d = find_command(dw[0]);
    if (d == nullptr) {
        return EngineError::UnknownCommand;  // §5.1: an unknown opcode is a hard error
    }
    if ((d->engines & (1u << c.e)) == 0) {
        return EngineError::WrongEngine;
    }
    // §5.1: single-dword commands are length 1; others carry (total - 2).
    const uint32_t len = d->len_bits == 0 ? 1 : (dw[0] & ((1u << d->len_bits) - 1)) + 2;
    if (len < d->min_dw || len > d->max_dw || len > available) {
        return EngineError::BadLength;  // outside the layout, or past the ring tail
    }
    for (unsigned i = 1; i < len; ++i) {
        if (!fetch_dword(c, i, dw[i])) {
            return EngineError::PageFault;
        }
    }
    // Advance past the command before executing it: MI_BATCH_BUFFER_START /
    // END then redirect the instruction pointer (§5.1).
    if (c.ex.level == 0) {
        ctx.head = (ctx.head + 4 * len) % ctx.ring_bytes;
        c.reg(hw::kRingHead) = ctx.head;
        c.reg(hw::kRingActhd) = ctx.ring_start + ctx.head;
    } else {
        FetchLevel& f = c.ex.fetch[c.ex.level];
        f.address += 4 * len;
        c.reg(hw::kRingActhd) = static_cast<uint32_t>(f.address);
    }
    return d->handler(c, std::span<const uint32_t>(dw.data(), len));
}

}  // namespace xengt::gpu::model
