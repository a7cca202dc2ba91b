/*
 * The DMA proof's contract between the freestanding test guest (C, 32-bit)
 * and xengt-dma-proof in dom0 (C++): where the mailbox is, which guest frames
 * take part, and the pattern each side expects.
 *
 * The guest fills its source frames, zeroes the others, fills the mailbox and
 * sets `magic` last. Dom0 then has QEMU's edu device, a real bus master, move
 * the data by machine address (learned through the xengt-mfn module):
 *   guest -> device: each source frame is read by the device and written to
 *     a staging frame, which dom0 checks through its own CPU mapping;
 *   device -> guest: dom0 puts the device pattern in a staging frame, the
 *     device reads it and writes it to a target frame, which the guest checks.
 * Then dom0 sets `state` to DMA_DONE (or DMA_FAILED) and the guest reports.
 */
#ifndef XENGT_E2E_DMA_PROOF_H
#define XENGT_E2E_DMA_PROOF_H

#include <stdint.h>

#define DMA_MAILBOX_GFN 0x1400u /* 20 MiB: above the test image (16 MiB + ~200 KiB) */
#define DMA_MAGIC 0x414d4458u   /* "XDMA" */
#define DMA_PAGES 4u
#define DMA_DWORDS 1024u /* per 4 KiB frame */

enum { DMA_WAITING = 1, DMA_DONE = 2, DMA_FAILED = 3 };
enum { DMA_GUEST_TO_DEVICE = 0, DMA_DEVICE_TO_GUEST = 1 };

struct dma_mailbox {
    uint32_t magic;              /* DMA_MAGIC once everything else is written */
    uint32_t state;              /* guest: DMA_WAITING; dom0: DMA_DONE or DMA_FAILED */
    uint32_t seed;               /* fresh per run, so no stale page can pass */
    uint32_t pages;              /* DMA_PAGES */
    uint32_t source[DMA_PAGES];  /* guest-filled frames the device reads */
    uint32_t target[DMA_PAGES];  /* frames the device writes for the guest */
    uint32_t staging[DMA_PAGES]; /* zeroed frames dom0 uses on the device side */
};

/* Non-contiguous frames, none adjacent to another, all in 20..30 MiB of the
 * 32 MiB guest (the top MiB is left to firmware). */
static const uint32_t dma_source_gfns[DMA_PAGES] = {0x1411u, 0x1634u, 0x18f7u, 0x1b02u};
static const uint32_t dma_target_gfns[DMA_PAGES] = {0x1502u, 0x1780u, 0x1923u, 0x1c41u};
static const uint32_t dma_staging_gfns[DMA_PAGES] = {0x1601u, 0x1844u, 0x1a66u, 0x1d0eu};

/* Dword `index` of frame `gfn` in direction `dir`: every dword of every frame
 * differs, and depends on the run's seed. */
static inline uint32_t dma_pattern(uint32_t seed, uint32_t gfn, uint32_t index, uint32_t dir) {
    uint32_t x = seed ^ (gfn * 0x9e3779b1u) ^ (index * 0x85ebca77u) ^ (dir * 0xc2b2ae3du);
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    x *= 0x297a2d39u;
    x ^= x >> 15;
    return x;
}

#endif
