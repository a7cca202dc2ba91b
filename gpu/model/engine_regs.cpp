// Engine reset (GDRST, RING_RESET_CTL), forcewake and the GGTT flush register.
#include <optional>

#include "gpu/model/engine.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"
#include "gpu/model/register_table.hpp"

namespace xengt::gpu::model {
std::optional<unsigned> engine_at(uint32_t offset) {
    for (unsigned e = 0; e < kEngineCount; ++e) {
        if (offset >= hw::kEngineBase[e] && offset < hw::kEngineBase[e] + hw::kEngineBlockBytes) {
            return e;
        }
    }
    return std::nullopt;
}

namespace {

// Resets complete at once in the model: the engine's registers return to
// their reset values (doc silent on which registers an engine reset clears;
// the whole 4 KiB engine block is the simplest faithful reading).
void reset_engine_state(ModelState& s, unsigned e) {
    reset_registers(s, hw::kEngineBase[e], hw::kEngineBase[e] + hw::kEngineBlockBytes);
    reset_engine_exec(s, e);  // the running and queued contexts are dropped
    ++s.engine_resets[e];
}

struct ForcewakePair {
    uint32_t request;
    uint32_t ack;
};
// §8.2: the Gen9 request → ack pairs.
constexpr ForcewakePair kForcewake[] = {
    {hw::kFwGtReq, hw::kFwGtAck},
    {hw::kFwRenderReq, hw::kFwRenderAck},
    {hw::kFwMediaReq, hw::kFwMediaAck},
};

}  // namespace

uint32_t stored_read(ModelState& s, uint32_t offset) {
    return s.reg(offset);
}

uint32_t reset_ctl_read(ModelState& s, uint32_t offset) {
    const uint32_t request = s.reg(offset) & hw::kResetRequest;
    const auto e = engine_at(offset);
    // §4.2: ready-to-reset once requested. A request stops the engine at the
    // next command boundary, and the model executes each command whole under
    // the lock, so a CPU read always finds it there.
    const bool ready = request != 0 && e;
    // Doc silent on which status reports an engine error: the model shows a
    // halted engine (error or hang) as catastrophic error (§4.2 bit 2).
    const bool failed = e && s.engines[*e].halted;
    return request | (ready ? hw::kReadyToReset : 0) | (failed ? hw::kCatastrophicError : 0);
}

void reset_ctl_write(ModelState& s, uint32_t offset, uint32_t value) {
    // §10.3: written with masked semantics; only the request bit is the driver's.
    s.reg(offset) = hw::apply_masked(s.reg(offset), value, 0xFFFFu & ~hw::kResetRequest);
}

void gdrst_write(ModelState& s, uint32_t offset, uint32_t value) {
    const bool full = (value & hw::kGdrstFull) != 0;
    for (unsigned e = 0; e < kEngineCount; ++e) {
        if (full || (value & hw::kGdrstEngineBit[e]) != 0) {
            reset_engine_state(s, e);
        }
    }
    // The reset bits self-clear when the reset is done, which here is now.
    s.reg(offset) = value & ~hw::kGdrstAllBits;
}

void forcewake_write(ModelState& s, uint32_t offset, uint32_t value) {
    for (const ForcewakePair& fw : kForcewake) {
        if (fw.request == offset) {
            // §8.2: the request is masked; the model's power well wakes at once,
            // so the ack mirrors the request's low 16 bits immediately (as GVT does).
            s.reg(offset) = hw::apply_masked(s.reg(offset), value, 0);
            s.reg(fw.ack) = s.reg(offset);
        }
    }
}

void gfx_flush_write(ModelState& s, uint32_t offset, uint32_t value) {
    // §2.3: the write invalidates the GGTT TLB. The model translates from the
    // table on every access, so the only effect is the count.
    s.reg(offset) = value;
    ++s.tlb_invalidations;
}

}  // namespace xengt::gpu::model
