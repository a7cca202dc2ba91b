/*
 * Graphics memory, write protection and interrupts, as a driver uses them:
 *   - GGTT: map two of our pages at the start of our mappable slice (PVINFO
 *     says where), flush, and move data both ways through the aperture;
 *   - write protection: build a 4-level PPGTT, announce it through PVINFO
 *     (g2v_notify "L4 create"), then write one of its entries — the page is
 *     write-protected, so the write reaches xengtd, which must apply it —
 *     and read the page a thousand times (reads must not reach xengtd);
 *   - MSI: program the MSI capability, unmask pipe A's vblank and enable the
 *     pipe; count the interrupts our handler sees. The handler also serves
 *     the engines' GT interrupts for exec.c.
 * Register facts: intel-gpu.md §1.5 (MSI at 0xAC), §2 (GGTT at BAR0 + 8 MiB,
 * GFX_FLSH_CNTL), §6 (interrupt banks), §7 (PIPECONF), §9 (PVINFO).
 */
#include "hw.h"

#define GGTT 0x800000u
#define GFX_FLSH_CNTL 0x101008u
#define PVINFO 0x78000u
#define PV_MAPPABLE_BASE (PVINFO + 0x40)
#define PV_G2V_NOTIFY (PVINFO + 0x818)
#define PV_PDP0_LO (PVINFO + 0x838)
#define PV_PDP0_HI (PVINFO + 0x83c)
#define G2V_L4_CREATE 4u
#define MASTER_IRQ 0x44200u
#define MASTER_GT0_LOW (1u << 0)  /* RCS half of GT IIR 0 pending */
#define MASTER_GT0_HIGH (1u << 1) /* BCS half */
#define MASTER_PIPE_A (1u << 16)
#define GT0_IIR 0x44308u
#define PIPE_A_IMR 0x44404u
#define PIPE_A_IIR 0x44408u
#define PIPE_A_IER 0x4440cu
#define PIPE_A_CONF 0x70008u
#define PIPE_A_FRMCOUNT 0x70040u
#define MSI_CAP 0xacu
#define LAPIC 0xfee00000u
#define LAPIC_TPR (LAPIC + 0x80)
#define LAPIC_EOI (LAPIC + 0xb0)
#define LAPIC_SVR (LAPIC + 0xf0)
#define MSI_VECTOR 0x40u
#define APERTURE_FALLBACK 0xa0000000u /* free, 256 MiB aligned, below BAR0's places */
#define PTE_PRESENT_RW 0x3u

static uint32_t buffers[2][1024] __attribute__((aligned(4096)));
static uint64_t tables[4][512] __attribute__((aligned(4096))); /* PML4, PDP, PD, PT */

static uint32_t frame_addr(const void* p) { return (uint32_t)(uintptr_t)p; }

/* A 64-bit GGTT entry from a 32-bit CPU: two dword halves. */
static void ggtt_write(uint32_t bar0, uint32_t index, uint32_t lo, uint32_t hi) {
    mmio_write32(bar0 + GGTT + index * 8, lo);
    mmio_write32(bar0 + GGTT + index * 8 + 4, hi);
}

static void check_ggtt(uint32_t bar0) {
    uint32_t bar2 = cfg_read32(GPU_BDF, 0x18) & ~0xfu;
    if (cfg_read32(GPU_BDF, 0x1c) != 0 || bar2 == 0) {
        /* Firmware put the aperture above 4 GiB: bring it where we can reach. */
        bar2 = APERTURE_FALLBACK;
        cfg_write32(GPU_BDF, 0x18, bar2);
        cfg_write32(GPU_BDF, 0x1c, 0);
    }
    uint32_t base = mmio_read32(bar0 + PV_MAPPABLE_BASE);
    uint32_t first = base >> 12;
    ggtt_write(bar0, first, frame_addr(buffers[0]) | 1, 0);
    ggtt_write(bar0, first + 1, frame_addr(buffers[1]) | 1, 0);
    mmio_write32(bar0 + GFX_FLSH_CNTL, 1);
    line("gtt: mappable base=");
    put_hex(base, 8);
    put(" entry readback=");
    put_hex(mmio_read32(bar0 + GGTT + first * 8), 8);
    end();

    mmio_write32(bar2 + base + 0x40, 0xa5a50001u);
    mmio_write32(bar2 + base + 0x1000 + 0x40, 0xa5a50002u);
    line("gtt: aperture->RAM ");
    put_hex(buffers[0][16], 8);
    put(" ");
    put_hex(buffers[1][16], 8);
    put(buffers[0][16] == 0xa5a50001u && buffers[1][16] == 0xa5a50002u ? " ok" : " WRONG");
    end();
    buffers[1][32] = 0x5a5a0003u;
    uint32_t seen = mmio_read32(bar2 + base + 0x1000 + 0x80);
    line("gtt: RAM->aperture ");
    put_hex(seen, 8);
    put(seen == 0x5a5a0003u ? " ok" : " WRONG");
    end();
}

static void check_write_protect(uint32_t bar0) {
    tables[0][0] = frame_addr(tables[1]) | PTE_PRESENT_RW;
    tables[1][0] = frame_addr(tables[2]) | PTE_PRESENT_RW;
    tables[2][0] = frame_addr(tables[3]) | PTE_PRESENT_RW;
    tables[3][0] = frame_addr(buffers[0]) | PTE_PRESENT_RW;
    mmio_write32(bar0 + PV_PDP0_LO, frame_addr(tables[0]));
    mmio_write32(bar0 + PV_PDP0_HI, 0);
    mmio_write32(bar0 + PV_G2V_NOTIFY, G2V_L4_CREATE);
    line("wp: PPGTT announced, PML4 at ");
    put_hex(frame_addr(tables[0]), 8);
    end();

    /* The PT page is protected now: Xen does not perform these stores. */
    volatile uint32_t* pte1 = (volatile uint32_t*)&tables[3][1];
    pte1[0] = frame_addr(buffers[1]) | PTE_PRESENT_RW;
    pte1[1] = 0;
    uint32_t sum = 0;
    for (int i = 0; i < 1000; ++i) sum += ((volatile uint32_t*)tables[3])[(i * 2) & 1023];
    line("wp: PTE write readback=");
    put_hex(pte1[0], 8);
    put(pte1[0] == (frame_addr(buffers[1]) | PTE_PRESENT_RW) ? " ok" : " LOST");
    put(" after 1000 reads (sum ");
    put_hex(sum, 8);
    put(")");
    end();
}

/* Interrupt side: the assembly stub calls this between pushal and iret.
 * As i915's handler does: the level-1 bits say which banks to look at; each
 * bank's IIR is acknowledged by writing back what was read (§6.2). */
static volatile uint32_t msi_count;
volatile uint32_t gt0_iir_seen;
volatile uint32_t gt_msi_count;
static uint32_t msi_bar0;
void msi_handler(void) {
    uint32_t level1 = mmio_read32(msi_bar0 + MASTER_IRQ);
    if (level1 & (MASTER_GT0_LOW | MASTER_GT0_HIGH)) {
        uint32_t iir = mmio_read32(msi_bar0 + GT0_IIR);
        mmio_write32(msi_bar0 + GT0_IIR, iir);
        gt0_iir_seen |= iir;
        ++gt_msi_count;
    }
    if (level1 & MASTER_PIPE_A) {
        mmio_write32(msi_bar0 + PIPE_A_IIR, mmio_read32(msi_bar0 + PIPE_A_IIR));
    }
    ++msi_count;
    mmio_write32(LAPIC_EOI, 0);
}
extern void msi_interrupt(void);

static void check_msi(uint32_t bar0) {
    msi_bar0 = bar0;
    set_interrupt_gate(MSI_VECTOR, msi_interrupt);
    mmio_write32(LAPIC_TPR, 0);
    mmio_write32(LAPIC_SVR, 0x100 | 0xff); /* APIC software-enabled, spurious 0xff */
    cfg_write32(GPU_BDF, MSI_CAP + 4, LAPIC); /* destination: APIC 0 */
    cfg_write16(GPU_BDF, MSI_CAP + 8, MSI_VECTOR);
    cfg_write16(GPU_BDF, MSI_CAP + 2, 1); /* MSI enable */
    mmio_write32(bar0 + PIPE_A_IMR, ~1u);
    mmio_write32(bar0 + PIPE_A_IER, 1);
    mmio_write32(bar0 + MASTER_IRQ, 1u << 31);
    uint32_t frames0 = mmio_read32(bar0 + PIPE_A_FRMCOUNT);
    mmio_write32(bar0 + PIPE_A_CONF, 1u << 31);
    __asm__ volatile("sti");
    /* Bounded: every poll is a trapped read, and vblanks come at 60 Hz. */
    uint32_t frames = frames0;
    for (uint32_t polls = 0; polls < 2000000 && (msi_count < 5 || frames - frames0 < 5); ++polls) {
        frames = mmio_read32(bar0 + PIPE_A_FRMCOUNT);
    }
    __asm__ volatile("cli");
    mmio_write32(bar0 + PIPE_A_CONF, 0);
    line("msi: vblanks=");
    put_dec(frames - frames0);
    put(" interrupts handled=");
    put_dec(msi_count);
    end();
}

void gtt_checks(uint32_t bar0) {
    check_ggtt(bar0);
    check_write_protect(bar0);
    check_msi(bar0);
}
