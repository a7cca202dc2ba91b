// The command descriptor table of the guest command scanner: one row per
// command the scanner knows (intel-gpu.md §5), each saying how to find the
// command's length, on which engines it may run, what the scanner does with
// it, and which of its dwords are graphics addresses or register offsets.
// Policy is data: the scanner has no per-command code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace xengt::mediator::cmd {

// The engines a command may run on (§4.1); bit i of an EngineMask = Engine i.
enum class Engine : uint8_t { Render, Blitter, Video, VideoEnhance };
inline constexpr unsigned kEngineCount = 4;
using EngineMask = uint8_t;
constexpr EngineMask engine_bit(Engine e) {
    return static_cast<EngineMask>(1u << static_cast<unsigned>(e));
}
inline constexpr EngineMask kRcs = engine_bit(Engine::Render);
inline constexpr EngineMask kBcs = engine_bit(Engine::Blitter);
inline constexpr EngineMask kAllEngines = 0x0F;

// What the scanner does with a command from a guest.
enum class Action : uint8_t {
    Allow,   // nothing in it to check
    Audit,   // check its address and register fields (and follow batch starts)
    Reject,  // never from a guest (§5.5, gvtg.md §3.5)
};

// A bit test on one dword of a command: `mask` bits of dword `dword`.
// A Bits with mask 0 is "absent" (see each use).
struct Bits {
    uint8_t dword = 0;
    uint32_t mask = 0;
    constexpr bool any(std::span<const uint32_t> dw) const { return (dw[dword] & mask) != 0; }
    // The same bit in the instance `offset` dwords further on (AddressField::stride).
    constexpr bool any_at(std::span<const uint32_t> dw, size_t offset) const {
        return (dw[dword + offset] & mask) != 0;
    }
};

// How many bytes an address field's target is accessed for.
enum class Extent : uint8_t {
    Dword,  // 4 bytes (SRM/LRM)
    Qword,  // 8 bytes (PIPE_CONTROL immediate data)
    Data,   // 4 bytes per data dword from `data_dword` to the end, 8 if `wide` is set
    Blit,   // the rectangle of a blitter surface (`blit` says where its geometry is)
    Batch,  // a batch buffer: confined by the scanner's fetch, not by a size
    Sized,  // `size_mask` bits of dword `data_dword` in bytes, when `size_valid`
            // says the command sets that size (mask 0: always); else 4 bytes.
            // A size of 0 touches nothing.
};

// Which blitter colour-depth encoding a surface uses (§5.4).
enum class BlitDepth : uint8_t { Xy, Fast };

// Where a blitter surface's geometry lives (§5.4). The rectangle is the
// destination's (x1,y1)-(x2,y2); a source surface has only a top-left
// corner and takes the destination's width and height.
struct BlitGeometry {
    uint8_t pitch_dword;   // pitch in bits 15:0
    uint8_t top_left;      // y in 31:16, x in 15:0 (signed 16-bit)
    uint8_t bottom_right;  // 0: a source surface (size from dw2/dw3)
    BlitDepth depth;       // colour depth field of dword 1
    Bits tiled;            // set: tiled (pitch in dwords, rows in whole tiles)
    uint16_t tile_rows;    // rows of the tallest tile the command's tilings allow
};

// The address space an address field is in.
enum class SpaceRule : uint8_t {
    GgttWhenSet,   // `space` bit set → GGTT, clear → PPGTT
    PpgttWhenSet,  // `space` bit set → PPGTT, clear → GGTT (MI_BATCH_BUFFER_START)
    Implicit,      // the address space of the buffer the command is in (blits)
};

struct AddressField {
    uint8_t dword;      // index of the low dword
    uint8_t width;      // 1 or 2 dwords (the high one holds bits 47:32 in 15:0)
    uint32_t low_mask;  // address bits of the low dword
    SpaceRule rule;
    Bits space;              // the bit the rule tests
    Extent extent;           // how much is accessed
    uint8_t data_dword;      // Extent::Data: the first data dword
    Bits wide;               // Extent::Data: set → at least 8 bytes
    Bits when_any;           // audited only if one of these bits is set (mask 0: always)
    Bits unless_any;         // not an address if one of these is set (mask 0: never)
    Bits hwsp_index;         // set: an offset into the context's HWSP, not an address
    BlitGeometry blit{};     // Extent::Blit only
    uint32_t size_mask = 0;  // Extent::Sized: the size bits of dword `data_dword`
    Bits size_valid{};       // Extent::Sized: the size is set by this command
    // A zero address names no surface (3D state: i915's null render state
    // leaves every buffer it does not use at 0); nothing is accessed.
    bool zero_is_null = false;
    // 0: one field. Else the field repeats every `stride` dwords to the end
    // of the command, which is DW0 then whole instances; every dword index
    // above (and in its Bits) is that of the first instance.
    uint8_t stride = 0;
};

// Which register-moving command a register field belongs to; the allow-list
// (register_allowlist.hpp) has one bit per use.
enum RegUse : uint8_t {
    kUseLri = 1u << 0,  // MI_LOAD_REGISTER_IMM, PIPE_CONTROL LRI post-sync
    kUseSrm = 1u << 1,  // MI_STORE_REGISTER_MEM
    kUseLrm = 1u << 2,  // MI_LOAD_REGISTER_MEM
    kUseLrr = 1u << 3,  // MI_LOAD_REGISTER_REG (source and destination)
};

struct RegisterField {
    uint8_t dword;   // the register offset (bits 22:2)
    uint8_t stride;  // 0: one field; else repeat every `stride` dwords to the end (LRI pairs)
    RegUse use;      // which allow-list column applies
    Bits when_any;   // only if one of these is set (mask 0: always)
};

// What a command does to control flow (§5.1: BB_START/END move the IP).
enum class Flow : uint8_t { Next, BatchStart, BatchEnd };

// Events the scanner counts for later virtual delivery (§5.5).
enum class Event : uint8_t { None, UserInterrupt, Notify };

// STATE_BASE_ADDRESS (Gen9) has six base addresses.
inline constexpr size_t kMaxAddressFields = 6;
inline constexpr size_t kMaxRegisterFields = 2;

struct CommandDesc {
    const char* name;
    uint32_t header;   // DW0 with only the key bits (type + opcode) set (§5.1)
    uint8_t len_bits;  // 0: fixed length 1; else width of the (total - 2) field
    uint16_t min_dw;   // total dwords the layout allows
    uint16_t max_dw;   // (3DSTATE_SO_DECL_LIST has a 9-bit length field)
    EngineMask engines;
    Action action;
    const char* why;  // Reject: the reason, for the error text
    Flow flow;
    Bits forbidden;  // flags the scanner refuses (mask 0: none)
    Event event;
    Bits event_when;  // the event happens if one of these is set (mask 0: always)
    uint8_t n_addresses;
    AddressField addresses[kMaxAddressFields];
    uint8_t n_registers;
    RegisterField registers[kMaxRegisterFields];
};

// §5.1 command types (DW0 bits 31:29).
inline constexpr uint32_t kTypeMi = 0;
inline constexpr uint32_t kType2d = 2;
inline constexpr uint32_t kType3d = 3;

// Every row, for tests and tools.
std::span<const CommandDesc> command_table();
// The row whose type + opcode key matches a header, or nullptr. O(1).
const CommandDesc* find_command(uint32_t header);

// O(1) decoding without branches on the command type: every key (§5.1:
// type + opcode) lies in DW0 bits 31:16, so those bits alone find the row.
inline constexpr size_t kMaxCommandRows = 255;
struct CommandIndex {
    uint8_t row_of_high[1u << 16];  // DW0 >> 16 → row number + 1, 0 for none
};
extern const CommandIndex kCommandIndex;

// The total length a header announces for its row (§5.1, bias 2).
constexpr uint32_t command_length(const CommandDesc& d, uint32_t header) {
    return d.len_bits == 0 ? 1 : (header & ((1u << d.len_bits) - 1)) + 2;
}

}  // namespace xengt::mediator::cmd
