// Per-engine execution state of the software GPU (execlists + command streamer).
//
// Guarded by SoftGpu's mutex like the rest of ModelState. The engine thread
// executes one command per lock hold, so a CPU access always sees the engine
// at a command boundary.
#pragma once

#include <array>
#include <cstdint>

namespace xengt::gpu::model {

// Why an engine stopped its context. Fault-and-hang (§4.4 descriptor bits
// 7:6 = 0): the engine stays stopped until reset.
enum class EngineError : uint8_t {
    None,
    UnknownCommand,  // §5.1: no descriptor matches the header
    BadLength,       // length field outside the command's layout, or past the ring tail
    WrongEngine,     // e.g. PIPE_CONTROL off RCS, a blitter command off BCS (§5.1, §5.3)
    Illegal,         // a command where it may not appear (e.g. MI_BATCH_BUFFER_END in the ring)
    PageFault,       // untranslatable GGTT/PPGTT address
    BadContext,      // descriptor or context image the engine cannot load
    Unsupported,     // a valid encoding the model does not implement (refused, not skipped)
    Hang,            // the watchdog saw no forward progress
    Privilege,       // a privileged command or GGTT access in a non-privileged batch
};
const char* to_string(EngineError error);

enum class AddrSpace : uint8_t { Ggtt, Ppgtt };

// A loaded logical ring context (§4.4, §4.7).
struct LoadedContext {
    uint64_t descriptor = 0;
    uint32_t lrca = 0;              // GGTT address of the image (PPHWSP page)
    uint32_t ctx_id = 0;            // descriptor bits 63:32
    uint32_t addr_mode = 0;         // descriptor bits 4:3
    std::array<uint64_t, 4> pdp{};  // PDP0..3 (PDP0 = PML4 in 4-level mode)
    uint32_t ring_start = 0;
    uint32_t ring_bytes = 0;
    uint32_t head = 0;  // byte offset in the ring
    uint32_t tail = 0;
};

// Where the command streamer fetches from: the ring, a first- or second-level batch.
struct FetchLevel {
    uint64_t address = 0;
    AddrSpace space = AddrSpace::Ggtt;
};

struct EngineExec {
    // ELSP staging (§4.4): dwords arrive el1 hi, el1 lo, el0 hi, el0 lo.
    std::array<uint32_t, 4> elsp_dw{};
    unsigned elsp_count = 0;
    // The submitted list waiting for the engine, and the running one.
    std::array<uint64_t, 2> queued{};
    bool queue_full = false;
    std::array<uint64_t, 2> list{};
    unsigned element = 0;      // running element of `list`
    bool active = false;       // a context is loaded and executing
    bool ring_loaded = false;  // `ctx` holds the running element's state
    LoadedContext ctx;
    // 0 = ring, 1 = first-level batch, 2 = second-level batch.
    unsigned level = 0;
    std::array<FetchLevel, 3> fetch{};  // [0].address unused: the ring uses ctx.head
    bool arbitration = true;            // MI_ARB_ON_OFF
    // Error / hang state (fault-and-hang until reset).
    bool halted = false;
    EngineError error = EngineError::None;
    uint64_t errors = 0;
    uint64_t hangs = 0;
    uint64_t commands = 0;          // executed in total
    uint64_t context_commands = 0;  // executed by the running context (watchdog)
    uint64_t submissions_dropped = 0;
};

}  // namespace xengt::gpu::model
