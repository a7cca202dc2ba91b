// How BAR0 ("GTTMMADR") of a Gen8/Gen9 iGPU is carved up (intel-gpu.md §1.2, §2.2).
#pragma once

#include <cstdint>

#include "mediator/base/types.hpp"

namespace xengt::mediator::mmio {

// Gen8+ BAR0 is 16 MiB (4 MiB was Gen6/7).
inline constexpr uint64_t kBar0Size = MiB(16);
// The MMIO register file is the first 2 MiB; i915 and GVT map exactly that much.
inline constexpr uint32_t kRegisterFileSize = static_cast<uint32_t>(MiB(2));
inline constexpr uint32_t kRegisterDwords = kRegisterFileSize / 4;
// The GGTT page table sits in the upper half of BAR0 (offset = BAR size / 2)
// and fills it: 1 Mi entries of 8 bytes, mapping 4 GiB of GM.
inline constexpr uint32_t kGgttOffset = static_cast<uint32_t>(MiB(8));
inline constexpr uint32_t kGgttSize = static_cast<uint32_t>(MiB(8));
// Gen8 GGTT entries are 64 bits wide, one per 4 KiB page.
inline constexpr uint32_t kGgttEntryBytes = 8;

}  // namespace xengt::mediator::mmio
