/*
 * xengt-gem-test: the guest side of the Linux e2e test. Runs in an HVM guest
 * whose unmodified i915 drives xengt's vGPU, and uses only i915's uapi (DRM
 * ioctls on the render node), as any user-space driver would:
 *
 *   1. MI_STORE_DATA_IMM batches on the render and the blitter engine;
 *   2. an XY_COLOR_BLT fill of a rectangle on the blitter;
 *   3. an XY_SRC_COPY_BLT copy of a CPU-written pattern on the blitter;
 *   4. a burst of small batches alternating between both engines.
 *
 * Buffers are soft-pinned at fixed addresses of the file's PPGTT, so the
 * batches need no relocations. Every result is read back with the CPU
 * (GEM_PREAD) and compared word by word, including the words around each
 * rectangle that must be left alone. Prints one "XENGT-GEM: PASS|FAIL ..."
 * line per check and exits 0 iff every check passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <drm.h>
#include <i915_drm.h>

/* Gen9 command encodings (MI: type 0, opcode in 28:23; 2D: type 2, opcode
 * in 28:22; the low bits hold the length minus 2). */
#define MI_BATCH_BUFFER_END (0x0Au << 23)
#define MI_NOOP 0u
#define MI_STORE_DATA_IMM (0x20u << 23 | 2u) /* dw0, addr lo, addr hi, data */
#define XY_COLOR_BLT (2u << 29 | 0x50u << 22 | 3u << 20 | 5u)    /* 7 dwords */
#define XY_SRC_COPY_BLT (2u << 29 | 0x53u << 22 | 3u << 20 | 8u) /* 10 dwords */
#define BR13_32BPP (3u << 24)
#define ROP_PATCOPY (0xF0u << 16)
#define ROP_SRCCOPY (0xCCu << 16)

/* Where the buffers sit in the file's PPGTT (any free, aligned addresses). */
#define ADDR_TARGET 0x00100000ull
#define ADDR_DST 0x00200000ull
#define ADDR_SRC 0x00400000ull
#define ADDR_BATCH 0x00600000ull

/* The surfaces: 256 x 64 pixels of 32 bits. */
#define SURF_W 256u
#define SURF_H 64u
#define SURF_PITCH (SURF_W * 4u)
#define SURF_BYTES (SURF_PITCH * SURF_H)
#define BACKGROUND 0x11111111u

static int fd = -1;
static int failures;
static int checks;

static void report(int ok, const char *fmt, ...) {
    va_list ap;
    ++checks;
    if (!ok) {
        ++failures;
    }
    printf("XENGT-GEM: %s ", ok ? "PASS" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void die(const char *what) {
    printf("XENGT-GEM: FAIL %s: %s\n", what, strerror(errno));
    printf("XENGT-GEM: RESULT FAIL\n");
    exit(1);
}

static int xioctl(unsigned long request, void *arg) {
    int rc;
    do {
        rc = ioctl(fd, request, arg);
    } while (rc == -1 && (errno == EINTR || errno == EAGAIN));
    return rc;
}

static int get_param(int param) {
    int value = 0;
    struct drm_i915_getparam gp = {.param = param, .value = &value};
    if (xioctl(DRM_IOCTL_I915_GETPARAM, &gp) != 0) {
        return -1;
    }
    return value;
}

static uint32_t gem_create(uint64_t size) {
    struct drm_i915_gem_create create = {.size = size};
    if (xioctl(DRM_IOCTL_I915_GEM_CREATE, &create) != 0) {
        die("GEM_CREATE");
    }
    return create.handle;
}

static void gem_close(uint32_t handle) {
    struct drm_gem_close close_arg = {.handle = handle};
    xioctl(DRM_IOCTL_GEM_CLOSE, &close_arg);
}

static void gem_write(uint32_t handle, uint64_t offset, const void *data, uint64_t size) {
    struct drm_i915_gem_pwrite pw = {
        .handle = handle, .offset = offset, .size = size, .data_ptr = (uintptr_t)data};
    if (xioctl(DRM_IOCTL_I915_GEM_PWRITE, &pw) != 0) {
        die("GEM_PWRITE");
    }
}

static void gem_read(uint32_t handle, uint64_t offset, void *data, uint64_t size) {
    struct drm_i915_gem_pread pr = {
        .handle = handle, .offset = offset, .size = size, .data_ptr = (uintptr_t)data};
    if (xioctl(DRM_IOCTL_I915_GEM_PREAD, &pr) != 0) {
        die("GEM_PREAD");
    }
}

/* Waits up to 10 s for the GPU to be done with `handle`; 0 when it is. */
static int gem_wait(uint32_t handle) {
    struct drm_i915_gem_wait wait = {.bo_handle = handle, .timeout_ns = 10ll * 1000 * 1000 * 1000};
    return xioctl(DRM_IOCTL_I915_GEM_WAIT, &wait) == 0 ? 0 : -errno;
}

struct buffer {
    uint32_t handle;
    uint64_t address;
    int written; /* the batch writes it */
};

/* Submits `dwords` of batch on `ring` with the buffers soft-pinned where
 * they belong, and waits for it. Returns 0, or the negative errno of the
 * submission or the wait. */
static int run_batch(unsigned ring, const uint32_t *dwords, unsigned count,
                     const struct buffer *buffers, unsigned n_buffers) {
    uint32_t batch[256];
    struct drm_i915_gem_exec_object2 objects[8];
    unsigned n = 0;
    int rc;

    if (count + 2 > sizeof(batch) / sizeof(batch[0]) || n_buffers + 1 > 8) {
        return -EINVAL;
    }
    memcpy(batch, dwords, count * sizeof(uint32_t));
    batch[count++] = MI_BATCH_BUFFER_END;
    if (count % 2 != 0) {
        batch[count++] = MI_NOOP; /* batch length in qwords */
    }
    const uint32_t batch_handle = gem_create(4096);
    gem_write(batch_handle, 0, batch, count * sizeof(uint32_t));

    memset(objects, 0, sizeof(objects));
    for (unsigned i = 0; i < n_buffers; ++i, ++n) {
        objects[n].handle = buffers[i].handle;
        objects[n].offset = buffers[i].address;
        objects[n].flags = EXEC_OBJECT_PINNED | EXEC_OBJECT_SUPPORTS_48B_ADDRESS |
                           (buffers[i].written ? EXEC_OBJECT_WRITE : 0);
    }
    objects[n].handle = batch_handle; /* the batch is the last object */
    objects[n].offset = ADDR_BATCH;
    objects[n].flags = EXEC_OBJECT_PINNED | EXEC_OBJECT_SUPPORTS_48B_ADDRESS;
    ++n;

    struct drm_i915_gem_execbuffer2 eb = {
        .buffers_ptr = (uintptr_t)objects,
        .buffer_count = n,
        .batch_len = count * sizeof(uint32_t),
        .flags = ring | I915_EXEC_NO_RELOC,
    };
    rc = xioctl(DRM_IOCTL_I915_GEM_EXECBUFFER2, &eb) == 0 ? 0 : -errno;
    if (rc == 0) {
        rc = gem_wait(batch_handle);
    }
    gem_close(batch_handle);
    return rc;
}

static const char *ring_name(unsigned ring) {
    return ring == I915_EXEC_RENDER ? "rcs" : "bcs";
}

static void test_store(unsigned ring, uint32_t handle, unsigned slot, uint32_t value) {
    const struct buffer target = {handle, ADDR_TARGET, 1};
    const uint64_t address = ADDR_TARGET + slot * 4u;
    const uint32_t cmds[] = {MI_STORE_DATA_IMM, (uint32_t)address, (uint32_t)(address >> 32), value};
    const int rc = run_batch(ring, cmds, 4, &target, 1);
    uint32_t got = 0;
    gem_read(handle, slot * 4u, &got, sizeof(got));
    report(rc == 0 && got == value, "[%s] MI_STORE_DATA_IMM: target[%u] = 0x%08x (expected 0x%08x, rc %d)",
           ring_name(ring), slot, got, value, rc);
}

/* Counts the words of `surface` that differ from what `expected(x, y)` says. */
static unsigned mismatches(const uint32_t *surface, uint32_t (*expected)(unsigned, unsigned),
                           unsigned *first_x, unsigned *first_y) {
    unsigned bad = 0;
    for (unsigned y = 0; y < SURF_H; ++y) {
        for (unsigned x = 0; x < SURF_W; ++x) {
            if (surface[y * SURF_W + x] != expected(x, y) && bad++ == 0) {
                *first_x = x;
                *first_y = y;
            }
        }
    }
    return bad;
}

/* The fill: (16,8) to (200,40), exclusive. */
#define FILL_X1 16u
#define FILL_Y1 8u
#define FILL_X2 200u
#define FILL_Y2 40u
#define FILL_COLOR 0x00FF8000u
static uint32_t after_fill(unsigned x, unsigned y) {
    const int inside = x >= FILL_X1 && x < FILL_X2 && y >= FILL_Y1 && y < FILL_Y2;
    return inside ? FILL_COLOR : BACKGROUND;
}

/* The copy: source (8,4) size 96x24 to destination (120,30). */
#define COPY_SX 8u
#define COPY_SY 4u
#define COPY_W 96u
#define COPY_H 24u
#define COPY_DX 120u
#define COPY_DY 30u
static uint32_t pattern(unsigned x, unsigned y) {
    return 0xA5000000u | (y << 12) | x;
}
static uint32_t after_copy(unsigned x, unsigned y) {
    const int inside =
        x >= COPY_DX && x < COPY_DX + COPY_W && y >= COPY_DY && y < COPY_DY + COPY_H;
    return inside ? pattern(x - COPY_DX + COPY_SX, y - COPY_DY + COPY_SY) : after_fill(x, y);
}

static void test_blits(void) {
    static uint32_t surface[SURF_W * SURF_H];
    const uint32_t dst = gem_create(SURF_BYTES);
    const uint32_t src = gem_create(SURF_BYTES);
    unsigned fx = 0, fy = 0, bad;
    int rc;

    for (unsigned i = 0; i < SURF_W * SURF_H; ++i) {
        surface[i] = BACKGROUND;
    }
    gem_write(dst, 0, surface, SURF_BYTES);
    for (unsigned y = 0; y < SURF_H; ++y) {
        for (unsigned x = 0; x < SURF_W; ++x) {
            surface[y * SURF_W + x] = pattern(x, y);
        }
    }
    gem_write(src, 0, surface, SURF_BYTES);

    const struct buffer fill_bufs[] = {{dst, ADDR_DST, 1}};
    const uint32_t fill[] = {XY_COLOR_BLT,
                             BR13_32BPP | ROP_PATCOPY | SURF_PITCH,
                             FILL_Y1 << 16 | FILL_X1,
                             FILL_Y2 << 16 | FILL_X2,
                             (uint32_t)ADDR_DST,
                             (uint32_t)(ADDR_DST >> 32),
                             FILL_COLOR};
    rc = run_batch(I915_EXEC_BLT, fill, 7, fill_bufs, 1);
    gem_read(dst, 0, surface, SURF_BYTES);
    bad = mismatches(surface, after_fill, &fx, &fy);
    report(rc == 0 && bad == 0,
           "[bcs] XY_COLOR_BLT: %ux%u fill, %u of %u pixels wrong (first at %u,%u), rc %d",
           FILL_X2 - FILL_X1, FILL_Y2 - FILL_Y1, bad, SURF_W * SURF_H, fx, fy, rc);

    const struct buffer copy_bufs[] = {{dst, ADDR_DST, 1}, {src, ADDR_SRC, 0}};
    const uint32_t copy[] = {XY_SRC_COPY_BLT,
                             BR13_32BPP | ROP_SRCCOPY | SURF_PITCH,
                             COPY_DY << 16 | COPY_DX,
                             (COPY_DY + COPY_H) << 16 | (COPY_DX + COPY_W),
                             (uint32_t)ADDR_DST,
                             (uint32_t)(ADDR_DST >> 32),
                             COPY_SY << 16 | COPY_SX,
                             SURF_PITCH,
                             (uint32_t)ADDR_SRC,
                             (uint32_t)(ADDR_SRC >> 32)};
    rc = run_batch(I915_EXEC_BLT, copy, 10, copy_bufs, 2);
    gem_read(dst, 0, surface, SURF_BYTES);
    fx = fy = 0;
    bad = mismatches(surface, after_copy, &fx, &fy);
    report(rc == 0 && bad == 0,
           "[bcs] XY_SRC_COPY_BLT: %ux%u copy, %u of %u pixels wrong (first at %u,%u), rc %d",
           COPY_W, COPY_H, bad, SURF_W * SURF_H, fx, fy, rc);
    gem_close(src);
    gem_close(dst);
}

/* Many small batches back to back on both engines: each must land once. */
static void test_burst(uint32_t handle) {
    enum { kBatches = 32 };
    const struct buffer target = {handle, ADDR_TARGET, 1};
    uint32_t got[kBatches];
    int rc = 0;
    for (unsigned i = 0; i < kBatches && rc == 0; ++i) {
        const uint64_t address = ADDR_TARGET + 64 + i * 4u;
        const uint32_t cmds[] = {MI_STORE_DATA_IMM, (uint32_t)address, (uint32_t)(address >> 32),
                                 0xB0000000u | i};
        rc = run_batch(i % 2 ? I915_EXEC_BLT : I915_EXEC_RENDER, cmds, 4, &target, 1);
    }
    gem_read(handle, 64, got, sizeof(got));
    unsigned bad = 0;
    for (unsigned i = 0; i < kBatches; ++i) {
        bad += got[i] != (0xB0000000u | i);
    }
    report(rc == 0 && bad == 0, "[rcs+bcs] %d alternating batches: %u stores wrong, rc %d", kBatches,
           bad, rc);
}

int main(int argc, char **argv) {
    const char *node = argc > 1 ? argv[1] : "/dev/dri/renderD128";
    fd = open(node, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        die(node);
    }
    const int chipset = get_param(I915_PARAM_CHIPSET_ID);
    report(chipset == 0x1912, "%s: chipset id 0x%04x", node, chipset);
    report(get_param(I915_PARAM_HAS_EXEC_SOFTPIN) == 1, "soft-pinning available");

    const uint32_t target = gem_create(4096);
    static const uint32_t zeros[1024];
    gem_write(target, 0, zeros, sizeof(zeros));
    test_store(I915_EXEC_RENDER, target, 0, 0xC0FFEE01u);
    test_store(I915_EXEC_BLT, target, 1, 0xC0FFEE02u);
    test_blits();
    test_burst(target);
    gem_close(target);

    printf("XENGT-GEM: RESULT %s (%d of %d checks passed)\n", failures ? "FAIL" : "PASS",
           checks - failures, checks);
    return failures ? 1 : 0;
}
