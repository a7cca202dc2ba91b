// The engines' execution, run by SoftGpu's engine threads with the model's
// mutex held. One call of engine_step does one unit of work (load a context,
// execute one command, complete a context), so a CPU access always finds the
// engine at a command boundary.
#pragma once

#include <cstdint>
#include <span>

#include "gpu/model/gpu_memory.hpp"
#include "gpu/model/model_state.hpp"

namespace xengt::gpu::model {

struct EngineCtx {
    ModelState& s;
    const GpuMemory& mem;
    unsigned e;  // engine index, like gpu::Engine
    EngineExec& ex;

    uint32_t base() const { return hw::kEngineBase[e]; }
    uint32_t& reg(uint32_t engine_offset) { return s.reg(base() + engine_offset); }
    // Address space of accesses that do not name one: the current batch's (§5.2
    // MI_BATCH_BUFFER_START bit 8); commands in the ring are privileged (GGTT).
    AddrSpace implicit_space() const { return ex.fetch[ex.level].space; }
};

// engine.cpp
// One unit of work; false when the engine has nothing to do (idle, halted,
// stopped, or held for reset). `watchdog` = commands a context may execute
// without completing (0 = no watchdog).
bool engine_step(ModelState& s, const GpuMemory& mem, unsigned e, uint64_t watchdog);
// Raises engine event `bits` (§6.1 per-engine bit meanings) through RING_IMR
// and the engine's GT IIR bank.
void raise_engine_irq(ModelState& s, unsigned e, uint32_t bits);
// Fault-and-hang (§4.4 descriptor bits 7:6 = 0): the context stops, the
// engine stays busy until reset, a CS error interrupt is raised (§6.1 bit 3).
void engine_fail(EngineCtx& c, EngineError error);
// Engine reset (GDRST): drops all execution state, keeps the counters.
void reset_engine_exec(ModelState& s, unsigned e);

// execlists.cpp
// Starts the queued list (§4.5 idle→active). Returns the load error, if any.
EngineError start_queued_list(EngineCtx& c);
// Loads the running element's context image (§4.7).
EngineError load_element(EngineCtx& c);
// The ring reached its tail: write the head back, CSB events, next element.
EngineError complete_element(EngineCtx& c);
uint32_t execlist_status_lo(const EngineExec& ex);

// command_streamer.cpp
// Fetches, decodes and executes one command (or completes the element when
// the ring is empty).
EngineError execute_one(EngineCtx& c);

// Command handlers: `dw` holds the whole command, dw[0] the header.
using CmdHandler = EngineError (*)(EngineCtx& c, std::span<const uint32_t> dw);

// One row of the command-descriptor table (command_streamer.cpp).
struct CmdDesc {
    const char* name;
    uint32_t header;   // DW0 with only the key bits (type + opcode) set
    uint8_t len_bits;  // 0: fixed length 1 (§5.1); else width of the (total - 2) field
    uint16_t min_dw;   // total dwords the command's layout allows
    uint16_t max_dw;   // (3DSTATE_SO_DECL_LIST: 259, a 9-bit length field)
    uint8_t engines;   // engines that execute it
    CmdHandler handler;
};

// Every command the model's command streamer knows, for tests and tools.
std::span<const CmdDesc> command_table();
// The descriptor whose key bits match a command header, or nullptr.
const CmdDesc* find_command(uint32_t header);
// mi_commands.cpp
EngineError cmd_mi_noop(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_user_interrupt(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_arb_check(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_arb_on_off(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_batch_buffer_end(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_batch_buffer_start(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_store_data_imm(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_load_register_imm(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_store_register_mem(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_load_register_mem(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_mi_flush_dw(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_pipe_control(EngineCtx& c, std::span<const uint32_t> dw);
// 3D pipeline state, PIPELINE_SELECT and 3DPRIMITIVE: accepted, no effect
// (model limitation: there is no 3D pipeline).
EngineError cmd_3d_state(EngineCtx& c, std::span<const uint32_t> dw);
// blitter.cpp
EngineError cmd_xy_color_blt(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_xy_src_copy_blt(EngineCtx& c, std::span<const uint32_t> dw);
EngineError cmd_xy_fast_copy_blt(EngineCtx& c, std::span<const uint32_t> dw);

}  // namespace xengt::gpu::model
