/*
 * Port I/O, MMIO, the debug console and PCI configuration access for the
 * freestanding e2e test guest (32-bit, paging off: addresses are physical).
 */
#ifndef XENGT_E2E_HW_H
#define XENGT_E2E_HW_H

#include <stdint.h>

#define GPU_BDF (2u << 11) /* bus 0, device 2, function 0 in CF8 layout */

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port) {
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port) {
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t mmio_read32(uint32_t addr) { return *(volatile uint32_t*)(uintptr_t)addr; }
static inline uint16_t mmio_read16(uint32_t addr) { return *(volatile uint16_t*)(uintptr_t)addr; }
static inline void mmio_write32(uint32_t addr, uint32_t v) { *(volatile uint32_t*)(uintptr_t)addr = v; }

/* ---- console ------------------------------------------------------------ */

static inline void put(const char* s) {
    while (*s) outb(0xe9, (uint8_t)*s++);
}
static inline void put_hex(uint32_t v, int digits) {
    static const char hex[] = "0123456789abcdef";
    char buf[9];
    for (int i = digits - 1; i >= 0; --i, v >>= 4) buf[i] = hex[v & 0xf];
    buf[digits] = 0;
    put(buf);
}
static inline void put_dec(uint32_t v) {
    char buf[11];
    int i = 10;
    buf[i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(&buf[i]);
}
static inline void line(const char* s) {
    put("XENGT-GUEST: ");
    put(s);
}
static inline void end(void) { put("\n"); }

/* ---- PCI configuration mechanism #1 ------------------------------------ */

static inline uint32_t cfg_read32(uint32_t bdf, uint32_t reg) {
    outl(0xcf8, 0x80000000u | bdf | (reg & 0xfc));
    return inl(0xcfc);
}
static inline uint16_t cfg_read16(uint32_t bdf, uint32_t reg) {
    outl(0xcf8, 0x80000000u | bdf | (reg & 0xfc));
    return inw((uint16_t)(0xcfc + (reg & 2)));
}
static inline void cfg_write32(uint32_t bdf, uint32_t reg, uint32_t v) {
    outl(0xcf8, 0x80000000u | bdf | (reg & 0xfc));
    outl(0xcfc, v);
}
static inline void cfg_write16(uint32_t bdf, uint32_t reg, uint16_t v) {
    outl(0xcf8, 0x80000000u | bdf | (reg & 0xfc));
    outw((uint16_t)(0xcfc + (reg & 2)), v);
}

static inline void mmio_write16(uint32_t addr, uint16_t v) { *(volatile uint16_t*)(uintptr_t)addr = v; }

/* Point IDT vector `vector` at `fn` (an assembly stub ending in iret). */
void set_interrupt_gate(int vector, void (*fn)(void));

/* The GPU checks beyond the first probe: GGTT, write protection, MSI. */
void gtt_checks(uint32_t bar0);

/* What gtt.c's MSI handler saw of the GT interrupts: GT IIR 0 bits it
 * acknowledged (accumulated), and the MSIs that carried any. */
extern volatile uint32_t gt0_iir_seen;
extern volatile uint32_t gt_msi_count;

/* The workload path: a batch per engine through ELSP (needs gtt_checks' MSI set-up). */
void exec_checks(uint32_t bar0);

/* The DMA proof's guest half (dma.c), run when the command line says "dma". */
void dma_checks(void);

#endif
