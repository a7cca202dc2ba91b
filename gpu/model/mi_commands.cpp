// MI commands (§5.2), PIPE_CONTROL (§5.3), and 3D state (accepted, no effect).
#include "gpu/model/engine.hpp"
#include "gpu/model/hw_regs.hpp"
#include "gpu/model/register_table.hpp"

namespace xengt::gpu::model {
namespace {

// §5.2: register offsets in LRI/SRM/LRM sit in bits 22:2.
constexpr uint32_t kRegOffsetMask = 0x007FFFFC;
// §5.2 MI_BATCH_BUFFER_START DW0 bits.
constexpr uint32_t kBbsPpgtt = 1u << 8;  // address space: 1 = PPGTT
constexpr uint32_t kBbsResourceStreamer = 1u << 10;
constexpr uint32_t kBbsPredicate = 1u << 15;
constexpr uint32_t kBbsAddOffset = 1u << 16;
constexpr uint32_t kBbsSecondLevel = 1u << 22;
// §5.2 MI_STORE_DATA_IMM / SRM / LRM DW0 bit 22: use GGTT; SDI bit 21: qword.
constexpr uint32_t kMiUseGgtt = 1u << 22;
constexpr uint32_t kSdiQword = 1u << 21;
// §5.2 MI_NOOP bit 22: identification-number write.
constexpr uint32_t kNoopIdWrite = 1u << 22;
// §5.2 MI_ARB_ON_OFF bit 0: enable.
constexpr uint32_t kArbEnable = 1u << 0;
// §5.2 MI_LOAD_REGISTER_IMM DW0 bits 11:8: byte-write disables.
constexpr uint32_t kLriByteDisableShift = 8;
// §5.2 MI_FLUSH_DW.
constexpr uint32_t kFlushStoreIndex = 1u << 21;
constexpr uint32_t kFlushPostSyncShift = 14;  // bits 15:14
constexpr uint32_t kFlushNotify = 1u << 8;
constexpr uint32_t kFlushAddrGgtt = 1u << 2;  // DW1 bit 2
constexpr uint32_t kFlushAddrMask = ~7u;      // DW1 bits 31:3
// §5.3 PIPE_CONTROL DW1 bits.
constexpr uint32_t kPcNotify = 1u << 8;
constexpr uint32_t kPcPostSyncShift = 14;  // bits 15:14
constexpr uint32_t kPcStoreIndex = 1u << 21;
constexpr uint32_t kPcLriPostSync = 1u << 23;
constexpr uint32_t kPcAddrGgtt = 1u << 24;
// §5.2/§5.3 post-sync op 1: write the immediate data.
constexpr uint32_t kPostSyncNone = 0;
constexpr uint32_t kPostSyncImm = 1;

uint64_t addr48(uint32_t low, uint32_t high, uint32_t low_mask) {
    return (uint64_t{high & 0xFFFF} << 32 | (low & low_mask));  // 47:32 in the high dword
}

AddrSpace space_of(bool ggtt) {
    return ggtt ? AddrSpace::Ggtt : AddrSpace::Ppgtt;
}

EngineError store(EngineCtx& c, AddrSpace space, uint64_t address, std::span<const uint32_t> data) {
    return c.mem.write(c.ex.ctx, space, address, std::as_bytes(data)) ? EngineError::None
                                                                      : EngineError::PageFault;
}

bool register_in_file(uint32_t offset) {
    return offset < hw::kRegisterFileBytes;
}

// Batch buffer security (§5.2 MI_BATCH_BUFFER_START bit 8): a batch fetched
// through the PPGTT is non-privileged. The hardware refuses it any access
// through the GGTT and any register but the engine's own general purpose
// registers and those the driver whitelisted in RING_FORCE_TO_NONPRIV; both
// end the context with a command privilege violation.
constexpr uint32_t kCsGpr = 0x600;  // CS_GPR(0..15), 64-bit each
constexpr uint32_t kCsGprBytes = 0x80;
constexpr uint32_t kForceToNonPriv = 0x4D0;  // 12 slots, register offset in bits 25:2
constexpr unsigned kNonPrivSlots = 12;
constexpr uint32_t kNonPrivMask = 0x03FFFFFC;

bool non_privileged(const EngineCtx& c) {
    return c.ex.level > 0 && c.implicit_space() == AddrSpace::Ppgtt;
}

bool ggtt_refused(const EngineCtx& c, AddrSpace space) {
    return space == AddrSpace::Ggtt && non_privileged(c);
}

bool register_refused(EngineCtx& c, uint32_t offset) {
    if (!non_privileged(c) || offset - (c.base() + kCsGpr) < kCsGprBytes) {
        return false;
    }
    for (unsigned i = 0; i < kNonPrivSlots; ++i) {
        if ((c.reg(kForceToNonPriv + 4 * i) & kNonPrivMask) == offset) {
            return false;
        }
    }
    return true;
}

}  // namespace

EngineError cmd_mi_noop(EngineCtx&, std::span<const uint32_t> dw) {
    // The NOPID register the identification write targets is not in the doc:
    // refuse rather than drop the write.
    return (dw[0] & kNoopIdWrite) != 0 ? EngineError::Unsupported : EngineError::None;
}

EngineError cmd_mi_user_interrupt(EngineCtx& c, std::span<const uint32_t>) {
    raise_engine_irq(c.s, c.e, hw::kIrqUser);  // §5.2 / §6.1 engine bit 0
    return EngineError::None;
}

EngineError cmd_mi_arb_check(EngineCtx&, std::span<const uint32_t>) {
    return EngineError::None;  // an arbitration point; the model never preempts
}

EngineError cmd_mi_arb_on_off(EngineCtx& c, std::span<const uint32_t> dw) {
    c.ex.arbitration = (dw[0] & kArbEnable) != 0;
    return EngineError::None;
}

EngineError cmd_mi_batch_buffer_end(EngineCtx& c, std::span<const uint32_t>) {
    // §5.2: returns to the ring, or from a second-level batch to the first.
    // Doc silent on BBE in the ring itself: the model treats it as illegal.
    if (c.ex.level == 0) {
        return EngineError::Illegal;
    }
    --c.ex.level;
    c.reg(hw::kRingBbState) =
        c.ex.level > 0 && c.implicit_space() == AddrSpace::Ppgtt ? hw::kBbStatePpgtt : 0;
    return EngineError::None;
}

EngineError cmd_mi_batch_buffer_start(EngineCtx& c, std::span<const uint32_t> dw) {
    if ((dw[0] & (kBbsPredicate | kBbsAddOffset | kBbsResourceStreamer)) != 0) {
        return EngineError::Unsupported;  // §5.2 flags the model does not implement
    }
    const bool second = (dw[0] & kBbsSecondLevel) != 0;
    // Doc silent on the hardware's nesting rules; the model follows what GVT
    // accepts (§5.5): no second-level jump from the ring. A start without the
    // second-level bit chains at level 1 (from a second-level batch the
    // return to the first level is dropped); with it from level 1 it calls,
    // from level 2 it chains within level 2.
    unsigned level = 1;
    if (second) {
        if (c.ex.level == 0) {
            return EngineError::Illegal;
        }
        level = 2;
    }
    if (ggtt_refused(c, space_of((dw[0] & kBbsPpgtt) == 0))) {
        return EngineError::Privilege;  // a non-privileged batch cannot start a privileged one
    }
    c.ex.level = level;
    c.ex.fetch[level] = {addr48(dw[1], dw[2], ~3u), space_of((dw[0] & kBbsPpgtt) == 0)};
    c.reg(hw::kRingBbAddr) = static_cast<uint32_t>(c.ex.fetch[level].address);
    c.reg(hw::kRingBbAddrUdw) = static_cast<uint32_t>(c.ex.fetch[level].address >> 32);
    c.reg(hw::kRingBbState) = (dw[0] & kBbsPpgtt) != 0 ? hw::kBbStatePpgtt : 0;  // §4.2
    return EngineError::None;
}

EngineError cmd_mi_store_data_imm(EngineCtx& c, std::span<const uint32_t> dw) {
    // §5.2: 4 DWs store a dword, 5 a qword; bit 21 must agree with the length.
    const bool qword = (dw[0] & kSdiQword) != 0;
    if (qword != (dw.size() == 5)) {
        return EngineError::BadLength;
    }
    if (ggtt_refused(c, space_of((dw[0] & kMiUseGgtt) != 0))) {
        return EngineError::Privilege;
    }
    return store(c, space_of((dw[0] & kMiUseGgtt) != 0), addr48(dw[1], dw[2], ~3u), dw.subspan(3));
}

EngineError cmd_mi_load_register_imm(EngineCtx& c, std::span<const uint32_t> dw) {
    if (dw.size() % 2 == 0) {
        return EngineError::BadLength;  // §5.2: 1 + 2n dwords
    }
    // §5.2: DW0 bits 11:8 disable writes of the matching value bytes.
    const uint32_t disables = (dw[0] >> kLriByteDisableShift) & 0xF;
    uint32_t keep = 0;
    for (unsigned b = 0; b < 4; ++b) {
        keep |= (disables >> b & 1u) != 0 ? 0xFFu << (8 * b) : 0;
    }
    for (size_t i = 1; i + 1 < dw.size(); i += 2) {
        const uint32_t offset = dw[i] & kRegOffsetMask;
        if (!register_in_file(offset)) {
            return EngineError::Illegal;
        }
        if (register_refused(c, offset)) {
            return EngineError::Privilege;
        }
        const uint32_t old = keep != 0 ? register_read(c.s, offset) : 0;
        register_write(c.s, offset, (old & keep) | (dw[i + 1] & ~keep));  // through the table
    }
    return EngineError::None;
}

EngineError cmd_mi_store_register_mem(EngineCtx& c, std::span<const uint32_t> dw) {
    const uint32_t offset = dw[1] & kRegOffsetMask;
    if (!register_in_file(offset)) {
        return EngineError::Illegal;
    }
    if (register_refused(c, offset) || ggtt_refused(c, space_of((dw[0] & kMiUseGgtt) != 0))) {
        return EngineError::Privilege;
    }
    const uint32_t value = register_read(c.s, offset);
    return store(c, space_of((dw[0] & kMiUseGgtt) != 0), addr48(dw[2], dw[3], ~3u),
                 std::span(&value, 1));
}

EngineError cmd_mi_load_register_mem(EngineCtx& c, std::span<const uint32_t> dw) {
    const uint32_t offset = dw[1] & kRegOffsetMask;
    if (!register_in_file(offset)) {
        return EngineError::Illegal;
    }
    if (register_refused(c, offset) || ggtt_refused(c, space_of((dw[0] & kMiUseGgtt) != 0))) {
        return EngineError::Privilege;
    }
    uint32_t value = 0;
    if (!c.mem.read32(c.ex.ctx, space_of((dw[0] & kMiUseGgtt) != 0), addr48(dw[2], dw[3], ~3u),
                      value)) {
        return EngineError::PageFault;
    }
    register_write(c.s, offset, value);
    return EngineError::None;
}

EngineError cmd_mi_flush_dw(EngineCtx& c, std::span<const uint32_t> dw) {
    // The model caches no translations or data: the flush/invalidate bits
    // have nothing to act on; the post-sync write and notify are modelled.
    const uint32_t op = (dw[0] >> kFlushPostSyncShift) & 3;
    if (op != kPostSyncNone && op != kPostSyncImm) {
        return EngineError::Unsupported;  // §5.2: only op 1 is documented
    }
    if (op == kPostSyncImm) {
        AddrSpace space = space_of((dw[1] & kFlushAddrGgtt) != 0);
        uint64_t address = addr48(dw[1], dw[2], kFlushAddrMask);
        if ((dw[0] & kFlushStoreIndex) != 0) {
            // §4.6: store-index writes target the context's PPHWSP (GGTT).
            space = AddrSpace::Ggtt;
            address = c.ex.ctx.lrca + (dw[1] & kFlushAddrMask & kPageMask);
        } else if (ggtt_refused(c, space)) {
            return EngineError::Privilege;
        }
        const EngineError err = store(c, space, address, dw.subspan(3));
        if (err != EngineError::None) {
            return err;
        }
    }
    if ((dw[0] & kFlushNotify) != 0) {
        raise_engine_irq(c.s, c.e, hw::kIrqFlushNotify);  // §5.2 bit 8, §6.1 engine bit 4
    }
    return EngineError::None;
}

EngineError cmd_pipe_control(EngineCtx& c, std::span<const uint32_t> dw) {
    const uint32_t flags = dw[1];
    const uint32_t op = (flags >> kPcPostSyncShift) & 3;
    if (op != kPostSyncNone && op != kPostSyncImm) {
        return EngineError::Unsupported;  // depth count / timestamp are not modelled
    }
    if ((flags & kPcLriPostSync) != 0) {
        // §5.3 bit 23: the immediate data goes to the register in DW2.
        const uint32_t offset = dw[2] & kRegOffsetMask;
        if (!register_in_file(offset)) {
            return EngineError::Illegal;
        }
        if (register_refused(c, offset)) {
            return EngineError::Privilege;
        }
        register_write(c.s, offset, dw[4]);
    } else if (op == kPostSyncImm) {
        AddrSpace space = space_of((flags & kPcAddrGgtt) != 0);
        uint64_t address = addr48(dw[2], dw[3], ~3u);
        if ((flags & kPcStoreIndex) != 0) {
            space = AddrSpace::Ggtt;  // §5.3 bit 21: offset into the PPHWSP
            address = c.ex.ctx.lrca + (dw[2] & ~3u & kPageMask);
        } else if (ggtt_refused(c, space)) {
            return EngineError::Privilege;
        }
        // §5.3: the immediate data is 64-bit (DW4-5); i915 writes a qword.
        const EngineError err = store(c, space, address, dw.subspan(4, 2));
        if (err != EngineError::None) {
            return err;
        }
    }
    if ((flags & kPcNotify) != 0) {
        raise_engine_irq(c.s, c.e, hw::kIrqFlushNotify);  // §5.3 bit 8, §6.1 engine bit 4
    }
    return EngineError::None;
}

EngineError cmd_3d_state(EngineCtx&, std::span<const uint32_t>) {
    // Model limitation: the software GPU has no 3D (or media) pipeline.
    // State commands would only load pipeline registers nobody reads, and a
    // 3DPRIMITIVE draws nothing; what the model does keep exact is the
    // command stream around them (lengths, order, PIPE_CONTROL post-syncs),
    // which is what a driver's bookkeeping depends on. i915's null render
    // state at boot is the case this serves.
    return EngineError::None;
}

}  // namespace xengt::gpu::model
