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

// §10.3: in a masked register bits 31:16 of a write enable bits 15:0; reads give 0 in 31:16.
constexpr uint32_t apply_masked(uint32_t old, uint32_t write, uint32_t hw_owned) {
    const uint32_t enable = (write >> 16) & ~hw_owned & 0xFFFFu;
    return ((old & ~enable) | (write & enable)) & 0xFFFFu;
}

}  // namespace xengt::gpu::model::hw
