/*
 * The workload path, as a driver uses it on a vGPU: enable execlists on the
 * blitter and the render engine, put a context image, a ring, a status page,
 * a batch and a surface in our pages and map them through our GGTT (hidden
 * slice, PVINFO says where), then submit one context per engine through ELSP.
 * The batch runs on the GPU behind xengtd; we check what a driver would:
 *   - the context status buffer in our status page (HWSP) reports the
 *     context complete and the engine idle, for our context ID;
 *   - our MSI handler saw the engine's user interrupt and context switch in
 *     GT IIR 0 (gtt.c's handler acknowledges and records them);
 *   - the blitter's fill and the stored markers are in our RAM, and the ring
 *     head was written back into our context image.
 * Register and command facts: intel-gpu.md §2 (GGTT), §4.3–§4.7 (execlists,
 * CSB, HWSP, context image), §5.2/§5.4 (commands), §6.1 (GT interrupt bits),
 * §9.2 (PVINFO).
 */
#include "hw.h"

#define GGTT 0x800000u
#define GFX_FLSH_CNTL 0x101008u
#define PV_HIDDEN_BASE (0x78000u + 0x48)
#define PV_HIDDEN_SIZE (0x78000u + 0x4c)
#define MASTER_IRQ 0x44200u
#define GT0_IMR 0x44304u
#define GT0_IER 0x4430cu

/* §4.2, offsets from the engine base */
#define RING_HWS_PGA 0x080u
#define RING_HWSTAM 0x098u
#define RING_MI_MODE 0x09cu
#define RING_IMR 0x0a8u
#define RING_ELSP 0x230u
#define RING_EXECLIST_STATUS_LO 0x234u
#define RING_MODE 0x29cu
#define RING_CSB_PTR 0x3a0u
#define RUN_LIST_ENABLE (1u << 15)
#define STOP_RING (1u << 8)
#define MASKED_ENABLE(b) ((b) << 16 | (b))
#define MASKED_DISABLE(b) ((b) << 16)

/* §6.1 per-engine interrupt bits */
#define IRQ_USER (1u << 0)
#define IRQ_CS_ERROR (1u << 3)
#define IRQ_CONTEXT_SWITCH (1u << 8)

/* §4.5 CSB, mirrored at HWSP dwords 0x10.. and write pointer at 0x1f */
#define CSB_ACTIVE_TO_IDLE (1u << 3)
#define CSB_COMPLETE (1u << 4)
#define HWSP_CSB 0x10
#define HWSP_CSB_WP 0x1f

/* §4.7 register-state page (page 1) value dwords */
#define CTX_CONTEXT_CONTROL 0x03
#define CTX_RING_HEAD 0x05
#define CTX_RING_TAIL 0x07
#define CTX_RING_START 0x09
#define CTX_RING_CTL 0x0b

/* §5.2, §5.4 */
#define MI_NOOP 0x00000000u
#define MI_USER_INTERRUPT 0x01000000u
#define MI_BATCH_BUFFER_END 0x05000000u
#define MI_STORE_DATA_IMM_GGTT (0x10000002u | 1u << 22)
#define MI_BATCH_BUFFER_START_GGTT 0x18800001u
#define MI_LRI(n) (0x11000000u | 1u << 12 | (2u * (n)-1)) /* force posted */
#define XY_COLOR_BLT_32 (0x54000005u | 3u << 20)
#define BR13_32BPP_PATCOPY (3u << 24 | 0xf0u << 16)

/* §4.4 descriptor: valid, legacy 32-bit addressing (no PPGTT in use) */
#define DESC_VALID_LEGACY32 (1u | 1u << 3)

#define PITCH 256u /* 64 pixels of 4 bytes: one page holds 16 rows */
#define FILL_X1 4u
#define FILL_Y1 2u
#define FILL_X2 20u /* exclusive */
#define FILL_Y2 10u
#define FILL_COLOUR 0xff2a6fc3u
#define BCS_MARKER 0x600db17eu
#define RCS_MARKER 0x600d3e4du
#define POLL_LIMIT 20000u

#define barrier() __asm__ volatile("" ::: "memory")

/* Our pages, in the order they are mapped from the hidden slice's base. */
enum {
    BCS_CTX = 0, /* 2 pages */
    BCS_RING = 2,
    BCS_HWSP,
    BCS_BATCH,
    SURFACE,
    DATA,
    RCS_RING,
    RCS_HWSP,
    RCS_BATCH,
    RCS_CTX, /* 22 pages (Gen9 render) */
    PAGES = RCS_CTX + 22
};
static uint32_t pages[PAGES][1024] __attribute__((aligned(4096)));
static uint32_t gm_base;

static uint32_t gm(int page) {
    return gm_base + (uint32_t)page * 4096u;
}
static volatile uint32_t* dw(int page) {
    return (volatile uint32_t*)pages[page];
}

struct engine {
    const char* name;
    uint32_t base;
    unsigned irq_shift; /* its half of GT IIR 0 */
    int ctx, ring, hwsp, batch;
    uint32_t ctx_id;
    unsigned lri_regs; /* registers in the image's first LRI (§4.7) */
    uint32_t tail;
    uint32_t csb_head;
};

static struct engine bcs = {.name = "bcs",
                            .base = 0x22000u,
                            .irq_shift = 16,
                            .ctx = BCS_CTX,
                            .ring = BCS_RING,
                            .hwsp = BCS_HWSP,
                            .batch = BCS_BATCH,
                            .ctx_id = 0x11,
                            .lri_regs = 11};
static struct engine rcs = {.name = "rcs",
                            .base = 0x02000u,
                            .irq_shift = 0,
                            .ctx = RCS_CTX,
                            .ring = RCS_RING,
                            .hwsp = RCS_HWSP,
                            .batch = RCS_BATCH,
                            .ctx_id = 0x22,
                            .lri_regs = 14};

static void map_pages(uint32_t bar0) {
    for (int p = 0; p < PAGES; ++p) {
        for (int i = 0; i < 1024; ++i)
            dw(p)[i] = 0;
        uint32_t index = gm(p) >> 12;
        mmio_write32(bar0 + GGTT + index * 8, (uint32_t)(uintptr_t)pages[p] | 1);
        mmio_write32(bar0 + GGTT + index * 8 + 4, 0);
    }
    mmio_write32(bar0 + GFX_FLSH_CNTL, 1);
}

/* §4.3 enable_execlists, with the engine's interrupts unmasked (§6). */
static void enable_engine(uint32_t bar0, struct engine* e) {
    uint32_t events = IRQ_USER | IRQ_CONTEXT_SWITCH | IRQ_CS_ERROR;
    mmio_write32(bar0 + e->base + RING_HWSTAM, 0xffffffffu);
    mmio_write32(bar0 + e->base + RING_MODE, MASKED_ENABLE(RUN_LIST_ENABLE));
    mmio_write32(bar0 + e->base + RING_MI_MODE, MASKED_DISABLE(STOP_RING));
    mmio_write32(bar0 + e->base + RING_HWS_PGA, gm(e->hwsp));
    (void)mmio_read32(bar0 + e->base + RING_HWS_PGA); /* posting read */
    mmio_write32(bar0 + e->base + RING_IMR, ~events);
    mmio_write32(bar0 + GT0_IMR, mmio_read32(bar0 + GT0_IMR) & ~(events << e->irq_shift));
    mmio_write32(bar0 + GT0_IER, mmio_read32(bar0 + GT0_IER) | events << e->irq_shift);
    mmio_write32(bar0 + MASTER_IRQ, 1u << 31);
    /* §4.5 reset_csb_pointers: both pointers 5, the status page's copy too. */
    mmio_write32(bar0 + e->base + RING_CSB_PTR, 0xffff0000u | 5u << 8 | 5u);
    dw(e->hwsp)[HWSP_CSB_WP] = 5;
    e->csb_head = 5;
}

/* §4.7: the register-state page is an LRI stream of (register, value) pairs. */
static void make_context(struct engine* e) {
    volatile uint32_t* state = dw(e->ctx + 1);
    static const uint32_t first[] = {0x244, 0x034, 0x030, 0x038, 0x03c, 0x168, 0x140,
                                     0x110, 0x11c, 0x114, 0x118, 0x1c0, 0x1c4, 0x1c8};
    /* CTX_TIMESTAMP, then PDP3..PDP0 upper/lower */
    static const uint32_t second[] = {0x3a8, 0x28c, 0x288, 0x284, 0x280,
                                      0x27c, 0x278, 0x274, 0x270};
    state[1] = MI_LRI(e->lri_regs);
    for (unsigned i = 0; i < e->lri_regs; ++i)
        state[2 + 2 * i] = e->base + first[i];
    state[0x21] = MI_LRI(9);
    for (unsigned i = 0; i < 9; ++i)
        state[0x22 + 2 * i] = e->base + second[i];
    /* A brand-new context: restore inhibit (bit 0), masked. */
    state[CTX_CONTEXT_CONTROL] = MASKED_ENABLE(1u);
    state[CTX_RING_HEAD] = 0;
    state[CTX_RING_TAIL] = 0;
    state[CTX_RING_START] = gm(e->ring);
    state[CTX_RING_CTL] = 0u << 12 | 1u; /* (pages - 1) << 12: one page; valid */
    e->tail = 0;
}

static void emit(struct engine* e, uint32_t v) {
    dw(e->ring)[e->tail / 4] = v;
    e->tail = (e->tail + 4) % 4096u;
}

/* §4.4: the image's tail, then element 1 (unused) and element 0, high first. */
static void submit(uint32_t bar0, struct engine* e) {
    if (e->tail % 8)
        emit(e, MI_NOOP);
    dw(e->ctx + 1)[CTX_RING_TAIL] = e->tail;
    barrier(); /* everything in RAM before the trapped ELSP writes */
    uint32_t elsp = bar0 + e->base + RING_ELSP;
    mmio_write32(elsp, 0);
    mmio_write32(elsp, 0);
    mmio_write32(elsp, e->ctx_id);
    mmio_write32(elsp, gm(e->ctx) | DESC_VALID_LEGACY32);
}

/* New CSB entries, as i915 reads them from the status page: returns 1 once an
 * entry reports our context complete and the engine idle. */
static int csb_done(struct engine* e, uint32_t* events) {
    int done = 0;
    uint32_t wp = dw(e->hwsp)[HWSP_CSB_WP];
    while (e->csb_head != wp && wp < 6) {
        e->csb_head = (e->csb_head + 1) % 6;
        uint32_t lo = dw(e->hwsp)[HWSP_CSB + 2 * e->csb_head];
        uint32_t hi = dw(e->hwsp)[HWSP_CSB + 2 * e->csb_head + 1];
        *events |= lo;
        if ((lo & (CSB_COMPLETE | CSB_ACTIVE_TO_IDLE)) == (CSB_COMPLETE | CSB_ACTIVE_TO_IDLE) &&
            hi == e->ctx_id)
            done = 1;
    }
    return done;
}

/* Waits (bounded: every round is one trapped register read) for the CSB event
 * and the interrupts, then reports both. */
static void wait_and_report(uint32_t bar0, struct engine* e) {
    uint32_t want = (IRQ_USER | IRQ_CONTEXT_SWITCH) << e->irq_shift;
    uint32_t events = 0, polls = 0;
    int done = 0;
    __asm__ volatile("sti");
    for (; polls < POLL_LIMIT; ++polls) {
        barrier();
        done = done || csb_done(e, &events);
        if (done && (gt0_iir_seen & want) == want)
            break;
        (void)mmio_read32(bar0 + e->base + RING_EXECLIST_STATUS_LO);
    }
    __asm__ volatile("cli");
    line("exec: ");
    put(e->name);
    put(done ? " csb complete ctx=" : " csb MISSING ctx=");
    put_hex(e->ctx_id, 8);
    put(done ? " ok" : " events=");
    if (!done)
        put_hex(events, 8);
    put(" (polls ");
    put_dec(polls);
    put(")");
    end();
    line("exec: ");
    put(e->name);
    put((gt0_iir_seen & want) == want ? " interrupt ok" : " interrupt MISSING");
    put(" (GT IIR0 seen ");
    put_hex(gt0_iir_seen, 8);
    put(", GT MSIs ");
    put_dec(gt_msi_count);
    put(")");
    end();
}

static int head_ok(struct engine* e) {
    return dw(e->ctx + 1)[CTX_RING_HEAD] == e->tail;
}

static void blitter(uint32_t bar0) {
    enable_engine(bar0, &bcs);
    make_context(&bcs);
    volatile uint32_t* bb = dw(BCS_BATCH);
    const uint32_t batch[] = {XY_COLOR_BLT_32,
                              BR13_32BPP_PATCOPY | PITCH,
                              FILL_Y1 << 16 | FILL_X1,
                              FILL_Y2 << 16 | FILL_X2,
                              gm(SURFACE),
                              0,
                              FILL_COLOUR,
                              MI_STORE_DATA_IMM_GGTT,
                              gm(DATA),
                              0,
                              BCS_MARKER,
                              MI_USER_INTERRUPT,
                              MI_BATCH_BUFFER_END};
    for (unsigned i = 0; i < sizeof batch / sizeof batch[0]; ++i)
        bb[i] = batch[i];
    emit(&bcs, MI_BATCH_BUFFER_START_GGTT);
    emit(&bcs, gm(BCS_BATCH));
    emit(&bcs, 0);
    submit(bar0, &bcs);
    wait_and_report(bar0, &bcs);

    /* Every pixel of the page: the rectangle filled, nothing else touched. */
    uint32_t wrong = 0;
    for (uint32_t y = 0; y < 4096u / PITCH; ++y) {
        for (uint32_t x = 0; x < PITCH / 4; ++x) {
            int inside = x >= FILL_X1 && x < FILL_X2 && y >= FILL_Y1 && y < FILL_Y2;
            wrong += dw(SURFACE)[y * (PITCH / 4) + x] != (inside ? FILL_COLOUR : 0);
        }
    }
    uint32_t marker = dw(DATA)[0];
    line("exec: bcs fill ");
    put(wrong == 0 ? "ok" : "WRONG");
    put(" marker ");
    put(marker == BCS_MARKER ? "ok" : "WRONG");
    put(" head ");
    put(head_ok(&bcs) ? "ok" : "WRONG");
    put(" (pixel ");
    put_hex(dw(SURFACE)[FILL_Y1 * (PITCH / 4) + FILL_X1], 8);
    put(", wrong pixels ");
    put_dec(wrong);
    put(", marker ");
    put_hex(marker, 8);
    put(", head ");
    put_hex(dw(BCS_CTX + 1)[CTX_RING_HEAD], 8);
    put(")");
    end();
}

static void render(uint32_t bar0) {
    enable_engine(bar0, &rcs);
    make_context(&rcs);
    volatile uint32_t* bb = dw(RCS_BATCH);
    const uint32_t batch[] = {MI_STORE_DATA_IMM_GGTT, gm(DATA) + 4,       0, RCS_MARKER,
                              MI_USER_INTERRUPT,      MI_BATCH_BUFFER_END};
    for (unsigned i = 0; i < sizeof batch / sizeof batch[0]; ++i)
        bb[i] = batch[i];
    emit(&rcs, MI_BATCH_BUFFER_START_GGTT);
    emit(&rcs, gm(RCS_BATCH));
    emit(&rcs, 0);
    submit(bar0, &rcs);
    wait_and_report(bar0, &rcs);

    uint32_t marker = dw(DATA)[1];
    line("exec: rcs marker ");
    put(marker == RCS_MARKER ? "ok" : "WRONG");
    put(" head ");
    put(head_ok(&rcs) ? "ok" : "WRONG");
    put(" (marker ");
    put_hex(marker, 8);
    put(", head ");
    put_hex(dw(RCS_CTX + 1)[CTX_RING_HEAD], 8);
    put(")");
    end();
}

void exec_checks(uint32_t bar0) {
    gm_base = mmio_read32(bar0 + PV_HIDDEN_BASE);
    uint32_t size = mmio_read32(bar0 + PV_HIDDEN_SIZE);
    line("exec: hidden base=");
    put_hex(gm_base, 8);
    put(" size=");
    put_dec(size >> 20);
    put("MiB");
    end();
    if (size < PAGES * 4096u) {
        line("exec: hidden slice too small");
        end();
        return;
    }
    map_pages(bar0);
    blitter(bar0);
    render(bar0);
}
