// Engine execution loop step, interrupts, errors, watchdog and reset.
#include "gpu/model/engine.hpp"

#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"

namespace xengt::gpu::model {

const char* to_string(EngineError error) {
    switch (error) {
        case EngineError::None:
            return "none";
        case EngineError::UnknownCommand:
            return "unknown command";
        case EngineError::BadLength:
            return "bad length";
        case EngineError::WrongEngine:
            return "command on the wrong engine";
        case EngineError::Illegal:
            return "command not allowed here";
        case EngineError::PageFault:
            return "page fault";
        case EngineError::BadContext:
            return "bad context";
        case EngineError::Unsupported:
            return "unsupported encoding";
        case EngineError::Hang:
            return "hang";
        case EngineError::Privilege:
            return "privilege violation";
    }
    return "?";
}

void raise_engine_irq(ModelState& s, unsigned e, uint32_t bits) {
    // §6.2: the engine's RING_IMR must also have the event unmasked.
    const uint32_t unmasked = bits & ~s.reg(hw::kEngineBase[e] + hw::kRingImr);
    if (unmasked != 0) {
        raise_gt_event(s, hw::kEngineIrqBank[e], unmasked << hw::kEngineIrqShift[e]);
    }
}

void engine_fail(EngineCtx& c, EngineError error) {
    c.ex.halted = true;
    c.ex.error = error;
    ++c.ex.errors;
    if (error == EngineError::Hang) {
        ++c.ex.hangs;
    }
    // The engine keeps the context: busy (MODE_IDLE clear) until reset.
    c.s.engine_busy[c.e] = true;
    c.reg(hw::kRingMiMode) &= ~hw::kModeIdle;
    raise_engine_irq(c.s, c.e, hw::kIrqCsError);  // §6.1 bit 3 CS master error
}

void reset_engine_exec(ModelState& s, unsigned e) {
    EngineExec& ex = s.engines[e];
    EngineExec fresh;
    fresh.errors = ex.errors;
    fresh.hangs = ex.hangs;
    fresh.commands = ex.commands;
    fresh.submissions_dropped = ex.submissions_dropped;
    fresh.error = ex.error;  // last error stays readable after recovery
    ex = fresh;
    s.engine_busy[e] = false;
}

bool engine_step(ModelState& s, const GpuMemory& mem, unsigned e, uint64_t watchdog) {
    EngineExec& ex = s.engines[e];
    const uint32_t base = hw::kEngineBase[e];
    if (ex.halted) {
        return false;
    }
    // §4.2: a reset request stops the engine at the next command boundary;
    // STOP_RING stops fetching.
    if ((s.reg(base + hw::kRingResetCtl) & hw::kResetRequest) != 0 ||
        (s.reg(base + hw::kRingMiMode) & hw::kStopRing) != 0) {
        return false;
    }
    EngineCtx c{s, mem, e, ex};
    EngineError err = EngineError::None;
    if (!ex.active) {
        if (!ex.queue_full) {
            return false;
        }
        err = start_queued_list(c);
    } else if (!ex.ring_loaded) {
        err = load_element(c);
    } else {
        err = execute_one(c);
        ++ex.commands;
        ++ex.context_commands;
        if (err == EngineError::None && watchdog != 0 && ex.active &&
            ex.context_commands > watchdog) {
            err = EngineError::Hang;
        }
    }
    if (err != EngineError::None) {
        engine_fail(c, err);
    }
    return true;
}

}  // namespace xengt::gpu::model
