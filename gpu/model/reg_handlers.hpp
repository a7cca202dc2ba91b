// Handlers of the register table's Custom rows, and the model-internal events
// that drive the same state (interrupt sources, engine resets).
#pragma once

#include <cstdint>
#include <optional>

#include "gpu/model/model_state.hpp"

namespace xengt::gpu::model {

// Reads the stored dword unchanged (for Custom rows whose reads are plain).
uint32_t stored_read(ModelState& s, uint32_t offset);

// --- interrupts (interrupts.cpp), §6 ---
uint32_t master_irq_read(ModelState& s, uint32_t offset);
void master_irq_write(ModelState& s, uint32_t offset, uint32_t value);
void gt_ier_write(ModelState& s, uint32_t offset, uint32_t value);
// Level-1 status: which banks have IIR & IER != 0 (GEN8_MASTER_IRQ bits 30:0).
uint32_t level1_pending(ModelState& s);
// Whether the device's interrupt output is asserted (master enabled and a bank pending).
bool irq_asserted(ModelState& s);
// An event on GT bank `bank` (< kGtBanks): the §6.2 delivery rule.
void raise_gt_event(ModelState& s, unsigned bank, uint32_t bits);

// The engine whose 4 KiB register block holds `offset`.
std::optional<unsigned> engine_at(uint32_t offset);
// Writes ignored (read-only rows computed by a read handler).
void ignore_write(ModelState& s, uint32_t offset, uint32_t value);

// --- execlists (execlists.cpp), §4.4 ---
uint32_t elsp_read(ModelState& s, uint32_t offset);
void elsp_write(ModelState& s, uint32_t offset, uint32_t value);
uint32_t execlist_status_read(ModelState& s, uint32_t offset);

// --- engines, forcewake, GGTT flush (engine_regs.cpp) ---
uint32_t reset_ctl_read(ModelState& s, uint32_t offset);
void reset_ctl_write(ModelState& s, uint32_t offset, uint32_t value);
void gdrst_write(ModelState& s, uint32_t offset, uint32_t value);
void forcewake_write(ModelState& s, uint32_t offset, uint32_t value);
void gfx_flush_write(ModelState& s, uint32_t offset, uint32_t value);

// --- display (display.cpp), §6, §7.1–§7.4 ---
// Level-1 status of the display banks (GEN8_MASTER_IRQ bit 16 for DE pipe A).
uint32_t display_level1_pending(ModelState& s);
void pipeconf_write(ModelState& s, uint32_t offset, uint32_t value);
void plane_surf_write(ModelState& s, uint32_t offset, uint32_t value);

// --- GMBUS (gmbus.cpp), §7.5 ---
void gmbus0_write(ModelState& s, uint32_t offset, uint32_t value);
void gmbus1_write(ModelState& s, uint32_t offset, uint32_t value);
uint32_t gmbus2_read(ModelState& s, uint32_t offset);
void gmbus2_write(ModelState& s, uint32_t offset, uint32_t value);
uint32_t gmbus3_read(ModelState& s, uint32_t offset);
void gmbus3_write(ModelState& s, uint32_t offset, uint32_t value);

}  // namespace xengt::gpu::model
