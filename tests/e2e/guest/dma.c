/*
 * The guest's half of the DMA proof (tests/e2e/dma/dma_proof.h): run when the
 * boot command line asks for "dma". Paging is off, so a frame number times
 * 4 KiB is the address the guest writes.
 */
#include "../dma/dma_proof.h"
#include "hw.h"

static volatile uint32_t* frame_at(uint32_t gfn) {
    return (volatile uint32_t*)(uintptr_t)(gfn << 12);
}

static uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* Wrong dwords of `gfn` against the pattern of `dir`. */
static uint32_t count_wrong(uint32_t seed, uint32_t gfn, uint32_t dir) {
    volatile uint32_t* p = frame_at(gfn);
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < DMA_DWORDS; ++i)
        wrong += p[i] != dma_pattern(seed, gfn, i, dir);
    return wrong;
}

void dma_checks(void) {
    volatile struct dma_mailbox* mb = (volatile struct dma_mailbox*)frame_at(DMA_MAILBOX_GFN);
    const uint32_t seed = (uint32_t)rdtsc() | 1u;
    mb->magic = 0;
    for (uint32_t p = 0; p < DMA_PAGES; ++p) {
        volatile uint32_t* src = frame_at(dma_source_gfns[p]);
        volatile uint32_t* dst = frame_at(dma_target_gfns[p]);
        volatile uint32_t* stage = frame_at(dma_staging_gfns[p]);
        for (uint32_t i = 0; i < DMA_DWORDS; ++i) {
            src[i] = dma_pattern(seed, dma_source_gfns[p], i, DMA_GUEST_TO_DEVICE);
            dst[i] = 0;
            stage[i] = 0;
        }
        mb->source[p] = dma_source_gfns[p];
        mb->target[p] = dma_target_gfns[p];
        mb->staging[p] = dma_staging_gfns[p];
    }
    mb->seed = seed;
    mb->pages = DMA_PAGES;
    mb->state = DMA_WAITING;
    __asm__ volatile("" ::: "memory"); /* x86 keeps store order; the compiler must too */
    mb->magic = DMA_MAGIC;
    line("dma: mailbox at gfn ");
    put_hex(DMA_MAILBOX_GFN, 4);
    put(" ready, seed ");
    put_hex(seed, 8);
    end();

    /* Bounded wait for dom0: about a minute at a few GHz of TSC. */
    const uint64_t limit = rdtsc() + (uint64_t)200000000000ull;
    while (mb->state == DMA_WAITING && rdtsc() < limit)
        __asm__ volatile("pause");
    if (mb->state != DMA_DONE) {
        line("dma: dom0 did not finish the transfers (state ");
        put_dec(mb->state);
        put(")");
        end();
        return;
    }
    uint32_t wrong = 0;
    for (uint32_t p = 0; p < DMA_PAGES; ++p)
        wrong += count_wrong(seed, dma_target_gfns[p], DMA_DEVICE_TO_GUEST);
    line("dma: device->guest ");
    put_dec(DMA_PAGES);
    put(" frames (");
    for (uint32_t p = 0; p < DMA_PAGES; ++p) {
        put_hex(dma_target_gfns[p], 4);
        put(p + 1 < DMA_PAGES ? " " : "");
    }
    put("): ");
    put_dec(wrong);
    put(" of ");
    put_dec(DMA_PAGES * DMA_DWORDS);
    put(" dwords wrong");
    end();
}
