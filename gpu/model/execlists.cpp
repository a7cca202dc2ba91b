// Execlist submission (§4.4), context status buffer (§4.5), HWSP (§4.6) and
// the logical ring context image (§4.7).
#include "gpu/model/engine.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/reg_handlers.hpp"

namespace xengt::gpu::model {
namespace {

uint32_t ctx_state_address(uint32_t lrca, uint32_t dw) {
    return lrca + hw::kLrcStateByte + dw * 4;  // §4.7: register state from page 1
}

// §4.5: one CSB entry into the registers and the HWSP copy, then the
// context-switch interrupt (engine bit 8).
EngineError write_csb(EngineCtx& c, uint32_t events, uint32_t ctx_id) {
    uint32_t& ptr = c.reg(hw::kRingContextStatusPtr);
    const uint32_t wp = ptr & hw::kCsbWritePtrMask;
    // §4.5: the write pointer wraps after entry 5; 6/7 (post-reset) → entry 0.
    const uint32_t next = wp + 1 >= hw::kCsbEntries ? 0 : wp + 1;
    c.reg(hw::kRingCsbBuf + next * 8) = events;
    c.reg(hw::kRingCsbBuf + next * 8 + 4) = ctx_id;
    ptr = (ptr & ~hw::kCsbWritePtrMask) | next;
    const uint32_t hwsp = c.reg(hw::kRingHwsPga);
    if (!c.mem.ggtt_write32(hwsp + hw::kHwspCsbByte + next * 8, events) ||
        !c.mem.ggtt_write32(hwsp + hw::kHwspCsbByte + next * 8 + 4, ctx_id) ||
        !c.mem.ggtt_write32(hwsp + hw::kHwspCsbWritePtrByte, next)) {
        return EngineError::PageFault;
    }
    raise_engine_irq(c.s, c.e, hw::kIrqContextSwitch);
    return EngineError::None;
}

uint32_t ctx_id_of(uint64_t desc) {
    return static_cast<uint32_t>(desc >> hw::kDescCtxIdShift);
}

void set_idle(EngineCtx& c, bool idle) {
    c.s.engine_busy[c.e] = !idle;
    if (idle) {
        c.reg(hw::kRingMiMode) |= hw::kModeIdle;  // §4.2 MODE_IDLE: status, set while idle
    } else {
        c.reg(hw::kRingMiMode) &= ~hw::kModeIdle;
    }
}

}  // namespace

void elsp_write(ModelState& s, uint32_t offset, uint32_t value) {
    const auto e = engine_at(offset);
    if (!e) {
        return;
    }
    EngineExec& ex = s.engines[*e];
    const uint32_t base = hw::kEngineBase[*e];
    // Doc silent on ELSP writes with execlists disabled: the port is inert
    // until GFX_RUN_LIST_ENABLE (§4.3 step 2) is set.
    if ((s.reg(base + hw::kRingModeGen7) & hw::kRunListEnable) == 0) {
        return;
    }
    // §4.4: el1 hi, el1 lo, el0 hi, el0 lo; the fourth write submits.
    ex.elsp_dw[ex.elsp_count++] = value;
    if (ex.elsp_count < 4) {
        return;
    }
    ex.elsp_count = 0;
    const uint64_t el1 = uint64_t{ex.elsp_dw[0]} << 32 | ex.elsp_dw[1];
    const uint64_t el0 = uint64_t{ex.elsp_dw[2]} << 32 | ex.elsp_dw[3];
    if (ex.queue_full) {
        // Doc silent: one list may wait behind the running one (§4.4 status
        // "queue full"); a further submission is dropped and counted.
        ++ex.submissions_dropped;
        return;
    }
    ex.queued = {el0, el1};
    ex.queue_full = true;
    s.engine_busy[*e] = true;
    s.reg(base + hw::kRingMiMode) &= ~hw::kModeIdle;
}

uint32_t elsp_read(ModelState&, uint32_t) {
    return 0;  // doc silent: the submit port is write-only and reads 0
}

uint32_t execlist_status_lo(const EngineExec& ex) {
    uint32_t v = ex.queue_full ? hw::kElStatusQueueFull : 0;
    if (ex.active) {
        v |= (ex.list[0] & hw::kDescValid) != 0 ? hw::kElStatusEl0Valid : 0;
        v |= (ex.list[1] & hw::kDescValid) != 0 ? hw::kElStatusEl1Valid : 0;
        v |= ex.element == 0 ? hw::kElStatusEl0Active : hw::kElStatusEl1Active;
    }
    return v;
}

uint32_t execlist_status_read(ModelState& s, uint32_t offset) {
    const auto e = engine_at(offset);
    if (!e) {
        return 0;
    }
    const EngineExec& ex = s.engines[*e];
    const uint32_t rel = offset - hw::kEngineBase[*e];
    if (rel == hw::kRingExeclistStatusHi) {
        return ex.active ? ex.ctx.ctx_id : 0;  // §4.4: HI = current context ID
    }
    return execlist_status_lo(ex);
}

void ignore_write(ModelState&, uint32_t, uint32_t) {}

EngineError start_queued_list(EngineCtx& c) {
    c.ex.list = c.ex.queued;
    c.ex.queue_full = false;
    c.ex.element = 0;
    c.ex.active = true;
    c.ex.ring_loaded = false;
    set_idle(c, false);
    // §4.5: submit when idle → {idle_to_active}, context ID 0.
    return write_csb(c, hw::kCsbIdleToActive, 0);
}

EngineError load_element(EngineCtx& c) {
    const uint64_t desc = c.ex.list[c.ex.element];
    LoadedContext ctx;
    ctx.descriptor = desc;
    ctx.lrca = static_cast<uint32_t>(desc & hw::kDescLrcaMask);
    ctx.ctx_id = ctx_id_of(desc);
    ctx.addr_mode = static_cast<uint32_t>(desc >> hw::kDescAddrModeShift & hw::kDescAddrModeMask);
    if ((desc & hw::kDescValid) == 0) {
        return EngineError::BadContext;  // element 0 must be valid
    }
    // §3.4: i915 uses only the legacy modes; the advanced ones are refused.
    if (ctx.addr_mode != hw::kDescLegacy32 && ctx.addr_mode != hw::kDescLegacy64) {
        return EngineError::Unsupported;
    }
    uint32_t head = 0, tail = 0, start = 0, ctl = 0;
    if (!c.mem.ggtt_read32(ctx_state_address(ctx.lrca, hw::kCtxRingHead), head) ||
        !c.mem.ggtt_read32(ctx_state_address(ctx.lrca, hw::kCtxRingTail), tail) ||
        !c.mem.ggtt_read32(ctx_state_address(ctx.lrca, hw::kCtxRingStart), start) ||
        !c.mem.ggtt_read32(ctx_state_address(ctx.lrca, hw::kCtxRingCtl), ctl)) {
        return EngineError::PageFault;
    }
    for (unsigned n = 0; n < 4; ++n) {
        uint32_t lo = 0, hi = 0;
        if (!c.mem.ggtt_read32(ctx_state_address(ctx.lrca, hw::ctx_pdp_ldw(n)), lo) ||
            !c.mem.ggtt_read32(ctx_state_address(ctx.lrca, hw::ctx_pdp_udw(n)), hi)) {
            return EngineError::PageFault;
        }
        ctx.pdp[n] = uint64_t{hi} << 32 | lo;
    }
    // Doc silent on a ring without the valid bit or with head/tail beyond its
    // size: the model refuses the context rather than guess.
    ctx.ring_start = start & ~static_cast<uint32_t>(kPageMask);
    ctx.ring_bytes = ((ctl & hw::kRingCtlSizeMask) >> kPageShift) * kPageSize + kPageSize;
    ctx.head = head & hw::kHeadMask;
    ctx.tail = tail & hw::kTailMask;
    if ((ctl & hw::kRingCtlValid) == 0 || ctx.head >= ctx.ring_bytes ||
        ctx.tail >= ctx.ring_bytes) {
        return EngineError::BadContext;
    }
    c.ex.ctx = ctx;
    c.ex.ring_loaded = true;
    c.ex.level = 0;
    c.ex.fetch = {};
    c.ex.context_commands = 0;
    // The ring registers show the loaded context (§4.2).
    c.reg(hw::kRingHead) = ctx.head;
    c.reg(hw::kRingTail) = ctx.tail;
    c.reg(hw::kRingStart) = ctx.ring_start;
    c.reg(hw::kRingCtl) = ctl;
    c.reg(hw::kRingActhd) = ctx.ring_start + ctx.head;
    return EngineError::None;
}

EngineError complete_element(EngineCtx& c) {
    const LoadedContext& ctx = c.ex.ctx;
    // §4.7 (GVT): the tail becomes the new ring head in the image (DW 0x05).
    if (!c.mem.ggtt_write32(ctx_state_address(ctx.lrca, hw::kCtxRingHead), ctx.head)) {
        return EngineError::PageFault;
    }
    c.ex.ring_loaded = false;
    if (c.ex.element == 0 && (c.ex.list[1] & hw::kDescValid) != 0) {
        // §4.5: element 0 done with element 1 valid → {complete | element_switch}.
        c.ex.element = 1;
        return write_csb(c, hw::kCsbComplete | hw::kCsbElementSwitch, ctx.ctx_id);
    }
    // §4.5: last element done → {complete | active_to_idle}; a queued list
    // then starts with its own {idle_to_active} on the next step.
    c.ex.active = false;
    set_idle(c, !c.ex.queue_full);
    return write_csb(c, hw::kCsbComplete | hw::kCsbActiveToIdle, ctx.ctx_id);
}

}  // namespace xengt::gpu::model
