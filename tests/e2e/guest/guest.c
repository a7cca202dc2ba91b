/*
 * Freestanding e2e test guest: what firmware and a GPU driver do first,
 * against whatever answers at 00:02.0, reported line by line on port 0xE9
 * (Xen prints those as "(dN) ..." in its console).
 *
 * Every line starts with "XENGT-GUEST:" so the harness can pick them out;
 * the last one is "XENGT-GUEST: DONE". The harness, not the guest, decides
 * pass or fail, so the same image serves the run with xengtd attached and the
 * negative control without it.
 */
#include <stdint.h>

#define PVINFO 0x78000u
#define FENCE0 0x100000u
#define RCS_MI_MODE 0x209cu
#define MOVED_BAR0 0xc0000000u /* free guest-physical space: above RAM, below the MMIO hole */

#include "hw.h"

/* Size a BAR the way firmware does; returns the address mask read back. */
static uint32_t bar_mask(uint32_t reg) {
    uint32_t orig = cfg_read32(GPU_BDF, reg);
    cfg_write32(GPU_BDF, reg, 0xffffffffu);
    uint32_t mask = cfg_read32(GPU_BDF, reg);
    cfg_write32(GPU_BDF, reg, orig);
    return mask;
}

/* ---- interrupts: ignore them all, so that `sti; hlt` is a safe idle ----- */

extern void ignore_interrupt(void);
static uint64_t idt[256];

void set_interrupt_gate(int vector, void (*fn)(void)) {
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    uint32_t handler = (uint32_t)(uintptr_t)fn;
    /* 32-bit interrupt gate, present, DPL 0 */
    idt[vector] = (uint64_t)(handler & 0xffff) | (uint64_t)cs << 16 | (uint64_t)0x8e00 << 32 |
                  (uint64_t)(handler >> 16) << 48;
}

static void install_idt(void) {
    for (int i = 0; i < 256; ++i)
        set_interrupt_gate(i, ignore_interrupt);
    struct __attribute__((packed)) {
        uint16_t limit;
        uint32_t base;
    } idtr = {sizeof idt - 1, (uint32_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
    outb(0x21, 0xff); /* mask the legacy PICs: nothing to deliver */
    outb(0xa1, 0xff);
}

/* ---- the probe ----------------------------------------------------------- */

static void report_pvinfo(uint32_t bar0, const char* where) {
    uint32_t lo = mmio_read32(bar0 + PVINFO);
    uint32_t hi = mmio_read32(bar0 + PVINFO + 4);
    line("PVINFO ");
    put(where);
    put(" magic=");
    put_hex(hi, 8);
    put_hex(lo, 8);
    end();
}

/* The start of struct hvm_start_info (xen/arch/x86/hvm/start_info.h), which
 * the PVH boot path (Xen, or QEMU's pvh.bin) hands over in %ebx. */
struct start_info {
    uint32_t magic; /* 0x336ec578 */
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr; /* NUL-terminated, or 0 */
};
#define START_INFO_MAGIC 0x336ec578u

/* Whether the boot command line holds the word `word`. */
static int cmdline_has(const struct start_info* si, const char* word) {
    if (si == 0 || si->magic != START_INFO_MAGIC || si->cmdline_paddr == 0 ||
        si->cmdline_paddr >> 32)
        return 0;
    const char* c = (const char*)(uintptr_t)si->cmdline_paddr;
    while (*c) {
        const char* w = word;
        const char* s = c;
        while (*w && *s == *w)
            ++s, ++w;
        if (*w == 0 && (*s == 0 || *s == ' ') &&
            (c == (const char*)(uintptr_t)si->cmdline_paddr || c[-1] == ' '))
            return 1;
        ++c;
    }
    return 0;
}

void guest_main(const struct start_info* si) {
    install_idt();
    line("start");
    end();
    if (cmdline_has(si, "dma"))
        dma_checks();

    uint32_t id = cfg_read32(GPU_BDF, 0x00);
    line("00:02.0 id=");
    put_hex(id, 8);
    end();
    if (id == 0xffffffffu) {
        /* Nobody decodes 00:02.0: show what MMIO where BAR0 would be reads. */
        line("no device at 00:02.0; MMIO at ");
        put_hex(MOVED_BAR0 + PVINFO, 8);
        put(" reads ");
        put_hex(mmio_read32(MOVED_BAR0 + PVINFO), 8);
        end();
        line("DONE");
        end();
        return;
    }
    line("class=");
    put_hex(cfg_read32(GPU_BDF, 0x08) >> 8, 6);
    end();

    /* What firmware (hvmloader) placed, then size each BAR with decode off. */
    uint16_t cmd = cfg_read16(GPU_BDF, 0x04);
    uint32_t bar0 = cfg_read32(GPU_BDF, 0x10) & ~0xfu;
    uint32_t bar0_hi = cfg_read32(GPU_BDF, 0x14);
    uint32_t bar2 = cfg_read32(GPU_BDF, 0x18) & ~0xfu;
    uint32_t bar2_hi = cfg_read32(GPU_BDF, 0x1c);
    uint32_t bar4 = cfg_read32(GPU_BDF, 0x20) & ~0x3u;
    line("firmware: command=");
    put_hex(cmd, 4);
    put(" BAR0=");
    put_hex(bar0_hi, 8);
    put_hex(bar0, 8);
    put(" BAR2=");
    put_hex(bar2_hi, 8);
    put_hex(bar2, 8);
    put(" BAR4=");
    put_hex(bar4, 4);
    end();

    cfg_write16(GPU_BDF, 0x04, (uint16_t)(cmd & ~3u));
    uint32_t size0 = ~(bar_mask(0x10) & ~0xfu) + 1;
    uint32_t size2 = ~(bar_mask(0x18) & ~0xfu) + 1;
    uint32_t size4 = (~(bar_mask(0x20) & ~0x3u) + 1) & 0xffff;
    line("BAR sizes: BAR0=");
    put_dec(size0 >> 20);
    put("MiB BAR2=");
    put_dec(size2 >> 20);
    put("MiB BAR4=");
    put_dec(size4);
    put("ports");
    end();

    /* Keep BAR0 below 4 GiB where this 32-bit guest can reach it. */
    if (bar0_hi != 0 || bar0 == 0) {
        bar0 = MOVED_BAR0;
        cfg_write32(GPU_BDF, 0x10, bar0);
        cfg_write32(GPU_BDF, 0x14, 0);
    }
    cfg_write16(GPU_BDF, 0x04, (uint16_t)(cmd | 3u));

    report_pvinfo(bar0, "at BAR0");
    line("PVINFO version=");
    put_dec(mmio_read16(bar0 + PVINFO + 8));
    put(".");
    put_dec(mmio_read16(bar0 + PVINFO + 10));
    put(" caps=");
    put_hex(mmio_read32(bar0 + PVINFO + 0x10), 8);
    end();

    mmio_write32(bar0 + FENCE0, 0x12345001u);
    line("register FENCE0 wrote=12345001 read=");
    put_hex(mmio_read32(bar0 + FENCE0), 8);
    end();
    uint32_t mode_before = mmio_read32(bar0 + RCS_MI_MODE);
    mmio_write32(bar0 + RCS_MI_MODE, 0x00010001u); /* masked write: set bit 0 */
    line("register RCS_MI_MODE before=");
    put_hex(mode_before, 8);
    put(" after=");
    put_hex(mmio_read32(bar0 + RCS_MI_MODE), 8);
    end();

    /* Move BAR0: accesses must follow it, and stop at the old place. */
    uint32_t old = bar0;
    uint32_t moved = old == MOVED_BAR0 ? MOVED_BAR0 + 0x1000000u : MOVED_BAR0;
    cfg_write32(GPU_BDF, 0x10, moved);
    report_pvinfo(moved, "after move");
    line("old BAR0 place reads ");
    put_hex(mmio_read32(old + PVINFO), 8);
    end();

    /* rep movs from MMIO into RAM across a page boundary (pointer-mode ioreqs). */
    static uint32_t buf[2048] __attribute__((aligned(4096)));
    uint32_t* dst = &buf[1024 - 2]; /* two dwords before a page boundary, two after */
    uint32_t src = moved + PVINFO, n = 4;
    __asm__ volatile("cld; rep movsl" : "+S"(src), "+D"(dst), "+c"(n) : : "memory");
    line("rep movs ");
    for (int i = 0; i < 4; ++i) {
        put_hex(buf[1024 - 2 + i], 8);
        put(" ");
    }
    end();

    cfg_write32(GPU_BDF, 0x10, old); /* leave it where firmware put it */
    gtt_checks(old);
    exec_checks(old);
    line("DONE");
    end();
}
