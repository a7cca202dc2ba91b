// What every declarative register table shares, whatever its policies: rows
// {offset, size} covering dwords of a register file must be laid out sanely
// (checked at compile time), and an access finds its row in O(1) through a
// dword → row index built once.
//
// Used by the vGPU's table (mediator/mmio) and the software GPU's hardware
// table (gpu/model); each adds its own policy checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace xengt {

// Index entry of a dword no row claims.
inline constexpr uint16_t kNoRegisterRow = std::numeric_limits<uint16_t>::max();

// Every row dword aligned, a non-zero multiple of 4 bytes, inside a register
// file of `file_bytes`, disjoint from every other row, and few enough rows
// for a 16-bit index.
template <class Row>
constexpr bool register_rows_laid_out(std::span<const Row> rows, uint32_t file_bytes) {
    if (rows.size() >= kNoRegisterRow) {
        return false;
    }
    for (size_t i = 0; i < rows.size(); ++i) {
        const Row& r = rows[i];
        if (r.offset % 4 != 0 || r.size == 0 || r.size % 4 != 0 || r.offset >= file_bytes ||
            r.size > file_bytes - r.offset) {
            return false;
        }
        for (size_t j = i + 1; j < rows.size(); ++j) {
            const Row& o = rows[j];
            if (r.offset < o.offset + o.size && o.offset < r.offset + r.size) {
                return false;
            }
        }
    }
    return true;
}

// dword index → row number (kNoRegisterRow where no row claims the dword).
// Rows must satisfy register_rows_laid_out for `dwords` * 4 bytes.
template <class Row>
std::vector<uint16_t> register_row_index(std::span<const Row> rows, uint32_t dwords) {
    std::vector<uint16_t> index(dwords, kNoRegisterRow);
    for (size_t row = 0; row < rows.size(); ++row) {
        const uint32_t first = rows[row].offset / 4;
        for (uint32_t d = first; d < first + rows[row].size / 4; ++d) {
            index[d] = static_cast<uint16_t>(row);
        }
    }
    return index;
}

}  // namespace xengt
