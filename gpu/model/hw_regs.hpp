// Hardware constants of the Gen9 (Skylake GT2) model, each with the rule it
// encodes. Section numbers refer to /work/shared/docs/intel-gpu.md.
#pragma once

#include <array>
#include <cstdint>

#include "gpu/port.hpp"
#include "mediator/base/types.hpp"

namespace xengt::gpu::model::hw {

// §1.1: Skylake GT2 desktop "HD Graphics 530", revision 6 as seen in lspci.
inline constexpr uint16_t kSklGt2DeviceId = 0x1912;
inline constexpr uint8_t kSklGt2Revision = 0x06;
// §1.2: BAR0 is 16 MiB on Gen8+; registers are its first 2 MiB.
inline constexpr uint64_t kMmioBarBytes = MiB(16);
inline constexpr uint32_t kRegisterFileBytes = 2u << 20;
inline constexpr uint32_t kRegisterDwords = kRegisterFileBytes / 4;
// §1.2 / §2.2: the GGTT page table sits at BAR0 + 8 MiB (the upper half of BAR0).
inline constexpr uint32_t kGgttWindowOffset = 8u << 20;
inline constexpr uint32_t kGgttWindowBytes = 8u << 20;
// §1.2: BAR2 (aperture) is typically 256 MiB.
inline constexpr uint64_t kApertureBytes = MiB(256);
// §2.2: 1M 8-byte entries map 4 GiB of graphics address space.
inline constexpr uint64_t kGgttEntries = uint64_t{1} << 20;

// §4.1: engine MMIO bases, indexed like gpu::Engine (Render, Blitter, Video, VideoEnhance).
inline constexpr std::array<uint32_t, kEngineCount> kEngineBase = {0x02000, 0x22000, 0x12000,
                                                                   0x1A000};
// Each engine's registers live in one 4 KiB block from its base (§4.2 offsets < 0x1000).
inline constexpr uint32_t kEngineBlockBytes = 0x1000;

// §4.2 per-engine register offsets from the engine base.
inline constexpr uint32_t kRingMiMode = 0x09C;    // masked
inline constexpr uint32_t kRingResetCtl = 0x0D0;  // masked request, status bits read-only
inline constexpr uint32_t kRingModeGen7 = 0x29C;  // masked (GFX_MODE)
// §4.2 RING_MI_MODE: bit 8 STOP_RING (driver), bit 9 MODE_IDLE (hardware status).
inline constexpr uint32_t kStopRing = 1u << 8;
inline constexpr uint32_t kModeIdle = 1u << 9;
// §4.2 RING_RESET_CTL: bit 0 request reset, bit 1 ready-to-reset, bit 2 catastrophic error.
inline constexpr uint32_t kResetRequest = 1u << 0;
inline constexpr uint32_t kReadyToReset = 1u << 1;
inline constexpr uint32_t kCatastrophicError = 1u << 2;

// §4.2 more per-engine register offsets from the engine base.
inline constexpr uint32_t kRingTail = 0x030;              // bits 20:3 tail byte offset
inline constexpr uint32_t kRingHead = 0x034;              // bits 20:2 head offset, 31:21 wraps
inline constexpr uint32_t kRingStart = 0x038;             // GGTT address of the ring
inline constexpr uint32_t kRingCtl = 0x03C;               // bits 20:12 pages - 1, bit 0 valid
inline constexpr uint32_t kRingActhd = 0x074;             // active head (fetch address)
inline constexpr uint32_t kRingHwsPga = 0x080;            // GGTT address of the HWSP
inline constexpr uint32_t kRingImr = 0x0A8;               // engine-level interrupt mask
inline constexpr uint32_t kRingBbState = 0x110;           // bit 5 batch in PPGTT
inline constexpr uint32_t kRingBbAddr = 0x140;            // current batch address low
inline constexpr uint32_t kRingBbAddrUdw = 0x168;         // current batch address high
inline constexpr uint32_t kRingElsp = 0x230;              // execlist submit port
inline constexpr uint32_t kRingExeclistStatusLo = 0x234;  // read-only
inline constexpr uint32_t kRingExeclistStatusHi = 0x238;  // read-only: current context ID
inline constexpr uint32_t kRingCsbBuf = 0x370;            // six 64-bit CSB entries
inline constexpr uint32_t kRingContextStatusPtr = 0x3A0;  // masked: 2:0 write, 10:8 read ptr
// §4.2 masks of RING_TAIL / RING_HEAD / RING_CTL fields.
inline constexpr uint32_t kTailMask = 0x001FFFF8;
inline constexpr uint32_t kHeadMask = 0x001FFFFC;
inline constexpr uint32_t kRingCtlSizeMask = 0x001FF000;
inline constexpr uint32_t kRingCtlValid = 1u << 0;
// §4.2 RING_MODE_GEN7 bit 15 GFX_RUN_LIST_ENABLE (execlists).
inline constexpr uint32_t kRunListEnable = 1u << 15;
// §4.2 BB_STATE bit 5: the current batch is in the PPGTT.
inline constexpr uint32_t kBbStatePpgtt = 1u << 5;

// §4.4 context descriptor fields.
inline constexpr uint64_t kDescValid = 1u << 0;
inline constexpr unsigned kDescAddrModeShift = 3;  // bits 4:3
inline constexpr uint64_t kDescAddrModeMask = 3;
inline constexpr uint64_t kDescLegacy32 = 1;           // 3-level, 4 PDPs from the context
inline constexpr uint64_t kDescLegacy64 = 3;           // 4-level, PML4 in PDP0
inline constexpr uint64_t kDescLrcaMask = 0xFFFFF000;  // bits 31:12
inline constexpr unsigned kDescCtxIdShift = 32;        // bits 63:32 context ID
// §4.4 RING_EXECLIST_STATUS_LO bits.
inline constexpr uint32_t kElStatusQueueFull = 1u << 2;
inline constexpr uint32_t kElStatusEl1Valid = 1u << 3;
inline constexpr uint32_t kElStatusEl0Valid = 1u << 4;
inline constexpr uint32_t kElStatusEl1Active = 1u << 17;
inline constexpr uint32_t kElStatusEl0Active = 1u << 18;
// §4.5 CSB: six entries, events in the low dword, context ID in the high dword.
inline constexpr unsigned kCsbEntries = 6;
inline constexpr uint32_t kCsbIdleToActive = 1u << 0;
inline constexpr uint32_t kCsbElementSwitch = 1u << 2;
inline constexpr uint32_t kCsbActiveToIdle = 1u << 3;
inline constexpr uint32_t kCsbComplete = 1u << 4;
// §4.5: a write pointer of 7 is the post-reset state (next entry is 0).
inline constexpr uint32_t kCsbWritePtrMask = 0x7;
inline constexpr uint32_t kCsbWritePtrReset = 7;
// §4.5 / §4.6 HWSP layout: CSB copy at byte 0x40, write pointer at dword 0x1F.
inline constexpr uint32_t kHwspCsbByte = 0x40;
inline constexpr uint32_t kHwspCsbWritePtrByte = 0x1F * 4;

// §4.7 logical ring context: register state in page 1 (LRC_STATE_PN); value dword indices.
inline constexpr uint32_t kLrcStateByte = 0x1000;
inline constexpr uint32_t kCtxRingHead = 0x05;
inline constexpr uint32_t kCtxRingTail = 0x07;
inline constexpr uint32_t kCtxRingStart = 0x09;
inline constexpr uint32_t kCtxRingCtl = 0x0B;
// §4.7 PDPn UDW/LDW value dwords: PDP3 at 0x25/0x27 ... PDP0 at 0x31/0x33.
constexpr uint32_t ctx_pdp_udw(unsigned n) {
    return 0x31 - 4 * n;
}
constexpr uint32_t ctx_pdp_ldw(unsigned n) {
    return 0x33 - 4 * n;
}

// §6.1 per-engine interrupt bits (within the engine's 16-bit group).
inline constexpr uint32_t kIrqUser = 1u << 0;           // MI_USER_INTERRUPT
inline constexpr uint32_t kIrqCsError = 1u << 3;        // CS master error
inline constexpr uint32_t kIrqFlushNotify = 1u << 4;    // PIPE_CONTROL / MI_FLUSH_DW notify
inline constexpr uint32_t kIrqContextSwitch = 1u << 8;  // CSB written
// §6.1 GT bank and bit shift of each engine's group, indexed like gpu::Engine:
// RCS GT0 15:0, BCS GT0 31:16, VCS1 GT1 15:0, VECS GT3 15:0.
inline constexpr std::array<unsigned, kEngineCount> kEngineIrqBank = {0, 0, 1, 3};
inline constexpr std::array<unsigned, kEngineCount> kEngineIrqShift = {0, 16, 0, 0};

// §3.1 / §3.2 PPGTT: 512 entries per 4 KiB table, bit 0 present, bit 7 PS, bit 11 IPS.
inline constexpr uint64_t kPtePresent = 1u << 0;
inline constexpr uint64_t kPtePs = 1u << 7;
inline constexpr uint64_t kPdeIps64K = 1u << 11;
// §3.2 / §12: table/page address bits 45:12.
inline constexpr uint64_t kPteAddrMask = 0x00003FFFFFFFF000ull;
// §3.1: 48-bit virtual addresses (canonical form in commands).
inline constexpr uint64_t kGpuVaMask = (uint64_t{1} << 48) - 1;

// §4.2 GEN6_GDRST: bit 0 full, 1 render, 2 media, 3 blitter, 4 VECS.
inline constexpr uint32_t kGdrst = 0x941C;
inline constexpr uint32_t kGdrstFull = 1u << 0;
// §4.2 GDRST engine bits, indexed like gpu::Engine (render 1, blitter 3, media 2, VECS 4).
inline constexpr std::array<uint32_t, kEngineCount> kGdrstEngineBit = {1u << 1, 1u << 3, 1u << 2,
                                                                       1u << 4};
inline constexpr uint32_t kGdrstAllBits = 0x1F;

// §6.1 GEN8_MASTER_IRQ: bit 31 master enable, low bits the level-1 bank status.
inline constexpr uint32_t kMasterIrq = 0x44200;
inline constexpr uint32_t kMasterIrqControl = 1u << 31;
// §6.1 GT banks n = 0..3: ISR/IMR/IIR/IER at 0x44300 + 0x10*n (+0/+4/+8/+C).
inline constexpr unsigned kGtBanks = 4;
inline constexpr uint32_t kGtIsr0 = 0x44300;
inline constexpr uint32_t kGtBankStride = 0x10;
inline constexpr uint32_t kGtImrDelta = 0x4;
inline constexpr uint32_t kGtIirDelta = 0x8;
inline constexpr uint32_t kGtIerDelta = 0xC;
constexpr uint32_t gt_isr(unsigned n) {
    return kGtIsr0 + kGtBankStride * n;
}
constexpr uint32_t gt_imr(unsigned n) {
    return gt_isr(n) + kGtImrDelta;
}
constexpr uint32_t gt_iir(unsigned n) {
    return gt_isr(n) + kGtIirDelta;
}
constexpr uint32_t gt_ier(unsigned n) {
    return gt_isr(n) + kGtIerDelta;
}
// §6.1/§6.2 level-1 bit of each GT bank's half {low 15:0, high 31:16}; 0 = no level-1 bit.
// GT0: RCS bit 0 / BCS bit 1; GT1: VCS1 bit 2 / VCS2 bit 3; GT2: GT PM bit 4 / GuC bit 5;
// GT3: VECS bit 6 / unused.
inline constexpr std::array<std::array<uint32_t, 2>, kGtBanks> kGtLevel1Bits = {{
    {1u << 0, 1u << 1},
    {1u << 2, 1u << 3},
    {1u << 4, 1u << 5},
    {1u << 6, 0},
}};

// §8.2 Gen9 forcewake request registers (masked) and their ack registers.
inline constexpr uint32_t kFwGtReq = 0xA188;      // FORCEWAKE_GT_GEN9 (BDW FORCEWAKE_MT)
inline constexpr uint32_t kFwGtAck = 0x130044;    // FORCEWAKE_ACK_GT_GEN9 (BDW ACK_HSW)
inline constexpr uint32_t kFwRenderReq = 0xA278;  // FORCEWAKE_RENDER_GEN9
inline constexpr uint32_t kFwRenderAck = 0x0D84;  // FORCEWAKE_ACK_RENDER_GEN9
inline constexpr uint32_t kFwMediaReq = 0xA270;   // FORCEWAKE_MEDIA_GEN9
inline constexpr uint32_t kFwMediaAck = 0x0D88;   // FORCEWAKE_ACK_MEDIA_GEN9
inline constexpr uint32_t kForcewakeKernel = 1u;  // §8.2 FORCEWAKE_KERNEL = bit 0

// §8.1: 32 fences of 64 bits at FENCE_REG_GEN6_LO(i) = 0x100000 + 8i.
inline constexpr uint32_t kFenceBase = 0x100000;
inline constexpr uint32_t kFenceCount = 32;
// §2.3: GFX_FLSH_CNTL_GEN6; a write invalidates the GGTT TLB.
inline constexpr uint32_t kGfxFlshCntlGen6 = 0x101008;

// --- Display (§7), pipe/transcoder/plane A only ---
// §7.2 transcoder A timings, each field written minus one: (total-1) 31:16, (active-1) 15:0.
inline constexpr uint32_t kTransHtotalA = 0x60000;
inline constexpr uint32_t kTransHblankA = 0x60004;
inline constexpr uint32_t kTransHsyncA = 0x60008;
inline constexpr uint32_t kTransVtotalA = 0x6000C;
inline constexpr uint32_t kTransVblankA = 0x60010;
inline constexpr uint32_t kTransVsyncA = 0x60014;
// §7.2 PIPESRC_A: (width-1) 31:16, (height-1) 15:0; GVT reads width 28:16, height 11:0.
inline constexpr uint32_t kPipeSrcA = 0x6001C;
inline constexpr uint32_t kPipeSrcWidthMask = 0x1FFF;  // bits 28:16 after the shift
inline constexpr uint32_t kPipeSrcHeightMask = 0xFFF;  // bits 11:0
// §7.2 PIPECONF/TRANSCONF_A: bit 31 enable, bit 30 state (RO, pipe running).
inline constexpr uint32_t kPipeConfA = 0x70008;
inline constexpr uint32_t kPipeConfEnable = 1u << 31;
inline constexpr uint32_t kPipeConfState = 1u << 30;
// §7.2 PIPE_FRMCOUNT_G4X (32-bit vblank counter) and PIPE_FLIPCOUNT_G4X of pipe A.
inline constexpr uint32_t kPipeFrmCountA = 0x70040;
inline constexpr uint32_t kPipeFlipCountA = 0x70044;
// §7.1 Skylake universal plane 1 of pipe A.
inline constexpr uint32_t kPlaneCtlA = 0x70180;
inline constexpr uint32_t kPlaneStrideA = 0x70188;
inline constexpr uint32_t kPlanePosA = 0x7018C;
inline constexpr uint32_t kPlaneSizeA = 0x70190;
inline constexpr uint32_t kPlaneSurfA = 0x7019C;
inline constexpr uint32_t kPlaneOffsetA = 0x701A4;
inline constexpr uint32_t kPlaneSurfLiveA = 0x701AC;
// §7.1 PLANE_CTL fields.
inline constexpr uint32_t kPlaneEnable = 1u << 31;
inline constexpr unsigned kPlaneFormatShift = 24;  // bits 27:24
inline constexpr uint32_t kPlaneFormatMask = 0xF;
inline constexpr uint32_t kPlaneFormatXrgb8888 = 4;
inline constexpr uint32_t kPlaneRgbxOrder = 1u << 20;  // → XBGR
inline constexpr unsigned kPlaneTilingShift = 10;      // bits 12:10, 0 = linear
inline constexpr uint32_t kPlaneTilingMask = 0x7;
inline constexpr uint32_t kPlaneAsyncFlip = 1u << 9;
inline constexpr uint32_t kPlaneRotationMask = 0x3;  // bits 1:0
// §7.1 PLANE_STRIDE bits 9:0 in 64-byte units for a linear surface.
inline constexpr uint32_t kPlaneStrideMask = 0x3FF;
inline constexpr uint32_t kPlaneStrideUnit = 64;
// §7.1 PLANE_SURF: GGTT address in bits 31:12.
inline constexpr uint32_t kPlaneSurfAddrMask = 0xFFFFF000;

// §6.1 DE pipe A interrupt bank: ISR/IMR/IIR/IER at 0x44400 +0/+4/+8/+C.
inline constexpr uint32_t kDePipeIsrA = 0x44400;
inline constexpr uint32_t kDePipeImrA = 0x44404;
inline constexpr uint32_t kDePipeIirA = 0x44408;
inline constexpr uint32_t kDePipeIerA = 0x4440C;
// §6.1 DE pipe bits: 0 vblank, SKL 3 plane-1 (primary) flip done.
inline constexpr uint32_t kDePipeVblank = 1u << 0;
inline constexpr uint32_t kDePipePlane1FlipDone = 1u << 3;
// §6.1/§6.2 GEN8_MASTER_IRQ level-1 bit of DE pipe A.
inline constexpr uint32_t kMasterDePipeA = 1u << 16;

// §7.3 presence: SDEISR bit 21 = live hotplug state of port B; SFUSE_STRAP bit 2 = DDI B.
inline constexpr uint32_t kSdeIsr = 0xC4000;
inline constexpr uint32_t kSdeIsrPortB = 1u << 21;
inline constexpr uint32_t kSfuseStrap = 0xC2014;
inline constexpr uint32_t kSfuseStrapDdiB = 1u << 2;

// §7.5 GMBUS at PCH display base 0xC0000 + 0x5100.
inline constexpr uint32_t kGmbus0 = 0xC5100;
inline constexpr uint32_t kGmbus1 = 0xC5104;
inline constexpr uint32_t kGmbus2 = 0xC5108;
inline constexpr uint32_t kGmbus3 = 0xC510C;
inline constexpr uint32_t kGmbus4 = 0xC5110;
inline constexpr uint32_t kGmbus5 = 0xC5120;
// §7.5 GMBUS0 bits 2:0 pin pair; SKL pins 4 DPC, 5 DPB (HDMI B), 6 DPD.
inline constexpr uint32_t kGmbusPinMask = 0x7;
inline constexpr uint32_t kGmbusPinDpc = 4;
inline constexpr uint32_t kGmbusPinDpb = 5;
inline constexpr uint32_t kGmbusPinDpd = 6;
// §7.5 GMBUS1 fields.
inline constexpr uint32_t kGmbusSwClrInt = 1u << 31;
inline constexpr uint32_t kGmbusSwRdy = 1u << 30;
inline constexpr unsigned kGmbusCycleShift = 25;  // bits 27:25
inline constexpr uint32_t kGmbusCycleWait = 1;
inline constexpr uint32_t kGmbusCycleIndex = 2;
inline constexpr uint32_t kGmbusCycleStop = 4;
inline constexpr unsigned kGmbusByteCountShift = 16;  // bits 24:16
inline constexpr uint32_t kGmbusByteCountMask = 0x1FF;
inline constexpr unsigned kGmbusIndexShift = 8;  // bits 15:8
inline constexpr uint32_t kGmbusSlaveRead = 1u << 0;
// §7.5 GMBUS2 status bits; 8:0 current byte count.
inline constexpr uint32_t kGmbusInUse = 1u << 15;
inline constexpr uint32_t kGmbusHwWaitPhase = 1u << 14;
inline constexpr uint32_t kGmbusHwRdy = 1u << 11;
inline constexpr uint32_t kGmbusSatoer = 1u << 10;
inline constexpr uint32_t kGmbusActive = 1u << 9;
inline constexpr uint32_t kGmbusCountMask = 0x1FF;
// §7.5: the EDID is served at 7-bit slave address 0x50, 128 bytes.
inline constexpr uint32_t kDdcEdidAddress = 0x50;
inline constexpr uint32_t kEdidBytes = 128;

// §10.3: in a masked register bits 31:16 of a write enable bits 15:0; reads give 0 in 31:16.
constexpr uint32_t apply_masked(uint32_t old, uint32_t write, uint32_t hw_owned) {
    const uint32_t enable = (write >> 16) & ~hw_owned & 0xFFFFu;
    return ((old & ~enable) | (write & enable)) & 0xFFFFu;
}

}  // namespace xengt::gpu::model::hw
