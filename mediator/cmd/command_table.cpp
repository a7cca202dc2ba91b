#include "mediator/cmd/command_table.hpp"

#include <iterator>

#include "mediator/cmd/command_rows.hpp"

namespace xengt::mediator::cmd {
namespace {

using rows::kCommands;

// §5.1 key: type + opcode. MI: 6-bit opcode (28:23), 2D: 7-bit (28:22),
// 3D: 13 bits (28:16). Distinct keys for distinct opcodes, MI keys first.
constexpr size_t kMiKeys = 64;
constexpr size_t k2dKeys = 128;
constexpr size_t k3dKeys = 8192;
constexpr size_t kNoKey = kMiKeys + k2dKeys + k3dKeys;

constexpr size_t key_of(uint32_t header) {
    switch (header >> 29) {
        case kTypeMi:
            return header >> 23 & 0x3F;
        case kType2d:
            return kMiKeys + (header >> 22 & 0x7F);
        case kType3d:
            return kMiKeys + k2dKeys + (header >> 16 & 0x1FFF);
        default:
            return kNoKey;
    }
}
constexpr uint32_t key_bits(uint32_t type) {
    return type == kTypeMi ? 0xFF800000u : type == kType2d ? 0xFFC00000u : 0xFFFF0000u;
}

// The table is code: a malformed row fails the build.
consteval bool commands_well_formed() {
    constexpr size_t n = std::size(kCommands);
    for (size_t i = 0; i < n; ++i) {
        const CommandDesc& d = kCommands[i];
        if (key_of(d.header) == kNoKey || (d.header & ~key_bits(d.header >> 29)) != 0 ||
            d.engines == 0 || (d.engines & ~kAllEngines) != 0) {
            return false;  // a known type, only key bits, some engine
        }
        if (d.len_bits > 16) {
            return false;  // the decode's length mask is 16 bits
        }
        if (d.len_bits == 0
                ? (d.min_dw != 1 || d.max_dw != 1)
                : (d.min_dw < 2 || d.min_dw > d.max_dw || d.max_dw > (1u << d.len_bits) + 1)) {
            return false;  // lengths the field can express
        }
        if ((d.action == Action::Reject) != (d.why != nullptr)) {
            return false;  // rejections say why, nothing else does
        }
        for (size_t a = 0; a < d.n_addresses; ++a) {
            const AddressField& f = d.addresses[a];
            if (f.width < 1 || f.width > 2 || f.dword + f.width > d.min_dw ||
                f.space.dword >= d.min_dw || f.when_any.dword >= d.min_dw ||
                f.unless_any.dword >= d.min_dw || f.hwsp_index.dword >= d.min_dw ||
                (f.extent == Extent::Data && (f.data_dword == 0 || f.data_dword >= d.min_dw)) ||
                (f.extent == Extent::Blit &&
                 (f.blit.pitch_dword >= d.min_dw || f.blit.top_left >= d.min_dw ||
                  f.blit.bottom_right >= d.min_dw || f.blit.tile_rows == 0)) ||
                (f.extent == Extent::Batch) != (d.flow == Flow::BatchStart) ||
                (f.extent == Extent::Sized && (f.data_dword >= d.min_dw || f.size_mask == 0 ||
                                               f.size_valid.dword >= d.min_dw))) {
                return false;  // fields inside the shortest form of the command
            }
            if (f.stride != 0 &&
                (f.extent == Extent::Data || f.extent == Extent::Blit ||
                 f.extent == Extent::Batch || f.stride < f.width ||
                 (d.min_dw - 1) % f.stride != 0 || (d.max_dw - 1) % f.stride != 0)) {
                return false;  // repeated fields: whole instances after DW0
            }
            if ((f.rule == SpaceRule::Implicit) != (f.extent == Extent::Blit) &&
                d.header >> 29 != kType3d) {
                return false;  // implicit address spaces: blits and 3D state only
            }
        }
        for (size_t r = 0; r < d.n_registers; ++r) {
            const RegisterField& f = d.registers[r];
            if (f.dword == 0 || f.dword >= d.min_dw || f.when_any.dword >= d.min_dw) {
                return false;
            }
        }
        for (size_t j = i + 1; j < n; ++j) {
            if (key_of(kCommands[j].header) == key_of(d.header)) {
                return false;  // one row per opcode
            }
        }
    }
    return true;
}
static_assert(commands_well_formed(), "command rows must be unique, typed and consistent");
static_assert(std::size(kCommands) <= kMaxCommandRows, "row numbers must fit the index entries");

// Built at compile time. The bits below a row's key in 31:16 (MI 22:16, 2D
// 21:16, 3D none) are flags or length: every value of them finds the row.
constexpr CommandIndex build_index() {
    CommandIndex index{};
    for (size_t i = 0; i < std::size(kCommands); ++i) {
        const uint32_t header = kCommands[i].header;
        const uint32_t high = header >> 16;
        const uint32_t free = ~key_bits(header >> 29) >> 16 & 0xFFFF;
        for (uint32_t x = 0; x <= free; ++x) {
            index.row_of_high[high | x] = static_cast<uint8_t>(i + 1);
        }
    }
    return index;
}

}  // namespace

// scanner_test.cpp checks it against the keys for every value of 31:16.
constexpr CommandIndex kCommandIndex = build_index();

std::span<const CommandDesc> command_table() {
    return kCommands;
}

const CommandDesc* find_command(uint32_t header) {
    const uint8_t row = kCommandIndex.row_of_high[header >> 16];
    return row == 0 ? nullptr : &kCommands[row - 1];
}

}  // namespace xengt::mediator::cmd
