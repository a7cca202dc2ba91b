#!/usr/bin/env python3
"""Writes the exec_fuzzer seeds (seeds/exec/) in the input format described
at the top of exec_fuzz.cpp: a few well-formed guest sessions the fuzzer
mutates from, so that most mutants get as far as a prepared workload."""
import os
import struct
import sys

HIDDEN = 128  # first hidden slot


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u24(v):
    return struct.pack("<I", v & 0xFFFFFF)[:3]


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v)


def header(two=False, windows=2, failsafe_after=4, hand_back=True):
    return u8(int(two) | (windows - 1) << 1 | (failsafe_after - 1) << 3) + u8(int(hand_back))


def gm(slot, dword=0):
    return u24(slot | dword << 9)


def va(pt, dword=0, pd=0, pdp=0):
    return u24(dword | pt << 10 | pd << 19 | pdp << 22)


# Operations.
def map_run(slot, count, gfn):
    return u8(1) + u16(slot) + u8(count - 1) + u8(gfn)


def context(lrca, ring, pages=1, head=0, tail=0, pml4=None, pdps=None):
    out = u8(3) + u16(lrca) + u16(ring) + u8(pages - 1) + u16(head) + u16(tail)
    if pml4 is not None:
        return out + u8(1) + u8(pml4)
    if pdps is not None:
        return out + u8(2) + b"".join(u8(p) for p in pdps)
    return out + u8(0)


def gm_cmds(slot, dword, tokens):
    return u8(5) + u16(slot) + u16(dword) + u8(len(tokens)) + b"".join(tokens)


def ram_cmds(gfn, dword, here, tokens):
    return u8(6) + u8(gfn) + u16(dword) + here + u8(len(tokens)) + b"".join(tokens)


def pte(table, index, gfn):
    return u8(8) + u8(table) + u16(index) + u8(0) + u8(gfn)


def g2v(code, pdps):
    return u8(9) + u8(code - 2) + b"".join(u8(p) for p in pdps)


def enable(engine, hwsp):
    return u8(10) + u8(engine) + u16(hwsp)


def submit(engine, el0, el1=None, four0=False, four1=False):
    flags = (1 if el1 else 0) | (2 if four0 else 0) | (4 if four1 else 0)
    out = u8(12) + u8(engine) + u8(flags)
    for slot, ctx_id, tail in [el0] + ([el1] if el1 else []):
        out += u16(slot) + u8(ctx_id) + u16(tail)
    return out


def deliver(index=0, status=0):
    return u8(15) + u8(index) + u8(status)


def deliver_all(status=0):
    return u8(16) + u8(status)


def gdrst(mask):
    return u8(17) + u8(mask)


FLR = u8(18)
SELECT = u8(19)

# Command tokens.
NOOP = u8(0)
USER_INTERRUPT = u8(1)
BB_END = u8(2)


def bbs_ggtt(slot, second=False):
    return u8(4 if second else 3) + gm(slot)


def bbs_ppgtt(address, second=False):
    return u8(6 if second else 5) + address


def sdi_ggtt(slot, value):
    return u8(7) + gm(slot) + u32(value)


def sdi_ppgtt(address, value):
    return u8(8) + address + u32(value)


def fill(slot, w, h, colour):
    return u8(9) + gm(slot) + u8(w) + u8(h) + u32(colour)


def bbs_back(dwords, second=False, ppgtt=False):
    return u8(14 | (0x10 if second else 0) | (0x20 if ppgtt else 0)) + u8(dwords)


BLITTER, RENDER = 1, 0


def blitter_fill():
    # Context at hidden 0-1, ring at 2, surface at 3, status page at 15.
    return (header() + map_run(HIDDEN, 16, 16) + enable(BLITTER, HIDDEN + 15) +
            context(HIDDEN, HIDDEN + 2) +
            gm_cmds(HIDDEN + 2, 0, [fill(HIDDEN + 3, 16, 8, 0xFF123456), USER_INTERRUPT, NOOP,
                                    NOOP]) +
            submit(BLITTER, (HIDDEN, 7, 40)) + deliver())


def render_setup():
    # Render context at hidden 0-21, ring 22, batch 23, data 24, status page 25.
    return (map_run(HIDDEN, 32, 16) + enable(RENDER, HIDDEN + 25) +
            context(HIDDEN, HIDDEN + 22))


def ggtt_batch():
    return (header() + render_setup() +
            gm_cmds(HIDDEN + 23, 0, [sdi_ggtt(HIDDEN + 24, 0xC0FFEE), BB_END, NOOP]) +
            gm_cmds(HIDDEN + 22, 0, [bbs_ggtt(HIDDEN + 23), NOOP]) +
            submit(RENDER, (HIDDEN, 3, 16)) + deliver())


def ppgtt_tables():
    # 4-level PPGTT in gfns 100-103; VA 0x10000 is the batch (gfn 104),
    # 0x11000 data (gfn 105); the PML4 is announced through PVINFO.
    return (pte(100, 0, 101) + pte(101, 0, 102) + pte(102, 0, 103) + pte(103, 16, 104) +
            pte(103, 17, 105) + g2v(4, [100, 0, 0, 0]))


def ppgtt_batch():
    return (header() + map_run(HIDDEN, 32, 16) + enable(RENDER, HIDDEN + 25) + ppgtt_tables() +
            ram_cmds(104, 0, va(16), [sdi_ppgtt(va(17), 0x600D), BB_END, NOOP]) +
            context(HIDDEN, HIDDEN + 22, pml4=100) +
            gm_cmds(HIDDEN + 22, 0, [bbs_ppgtt(va(16)), NOOP]) +
            submit(RENDER, (HIDDEN, 4, 16), four0=True) + deliver())


def ppgtt_batch_3level():
    # Legacy 32-bit: page directories 102 (PDP 0) and 106 (PDP 1).
    return (header() + map_run(HIDDEN, 16, 16) + enable(BLITTER, HIDDEN + 15) +
            pte(102, 0, 103) + pte(103, 16, 104) + pte(106, 0, 107) + pte(107, 1, 105) +
            g2v(2, [102, 106, 0, 0]) +
            ram_cmds(104, 0, va(16), [fill(HIDDEN + 3, 4, 4, 0x11), bbs_ppgtt(va(1, pdp=1), True),
                                      BB_END, NOOP]) +
            ram_cmds(105, 0, va(1, pdp=1), [USER_INTERRUPT, BB_END]) +
            context(HIDDEN, HIDDEN + 2, pdps=[102, 106, 0, 0]) +
            gm_cmds(HIDDEN + 2, 0, [bbs_ppgtt(va(16)), NOOP]) +
            submit(BLITTER, (HIDDEN, 5, 16)) + deliver_all())


def lite_restore():
    return (header() + render_setup() +
            gm_cmds(HIDDEN + 22, 0, [sdi_ggtt(HIDDEN + 24, 1)]) +
            submit(RENDER, (HIDDEN, 5, 16)) +
            gm_cmds(HIDDEN + 22, 4, [sdi_ggtt(HIDDEN + 24, 2)]) +
            submit(RENDER, (HIDDEN, 5, 32)) + deliver(1) + deliver(0))


def two_elements():
    # Contexts at hidden 0-1 and 4-5, rings at 2 and 6, surfaces 8 and 9.
    return (header() + map_run(HIDDEN, 16, 16) + enable(BLITTER, HIDDEN + 15) +
            context(HIDDEN, HIDDEN + 2) + context(HIDDEN + 4, HIDDEN + 6) +
            gm_cmds(HIDDEN + 2, 0, [fill(HIDDEN + 8, 4, 4, 0xAA), NOOP]) +
            gm_cmds(HIDDEN + 6, 0, [fill(HIDDEN + 9, 4, 4, 0xBB), NOOP]) +
            submit(BLITTER, (HIDDEN, 1, 32), (HIDDEN + 4, 2, 32)) + deliver_all())


def resets_two_guests():
    # Each guest submits; an engine reset, a device reset and a cancelled
    # return in between; the other guest completes normally.
    one = (map_run(HIDDEN, 16, 16) + enable(BLITTER, HIDDEN + 15) +
           context(HIDDEN, HIDDEN + 2) +
           gm_cmds(HIDDEN + 2, 0, [fill(HIDDEN + 3, 16, 8, 0xFF), NOOP]) +
           submit(BLITTER, (HIDDEN, 9, 32)))
    return (header(two=True, windows=3) + one + SELECT + one + submit(BLITTER, (HIDDEN, 9, 32)) +
            SELECT + gdrst(1 << 3) + deliver(0, 3) + FLR + SELECT + deliver_all(1))


def hostile_batches():
    # A self-looping GGTT batch, then a second-level batch chaining further.
    return (header(failsafe_after=8) + render_setup() +
            gm_cmds(HIDDEN + 23, 0, [bbs_back(0)]) +
            gm_cmds(HIDDEN + 22, 0, [bbs_ggtt(HIDDEN + 23), NOOP]) +
            submit(RENDER, (HIDDEN, 1, 16)) +
            gm_cmds(HIDDEN + 24, 0, [bbs_ggtt(HIDDEN + 26, True), BB_END]) +
            gm_cmds(HIDDEN + 26, 0, [bbs_ggtt(HIDDEN + 24), BB_END]) +
            gm_cmds(HIDDEN + 22, 4, [bbs_ggtt(HIDDEN + 24), NOOP]) +
            submit(RENDER, (HIDDEN, 1, 32)) + deliver_all())


def tables_change_in_flight():
    # The guest remaps its data page, destroys the root and resets the
    # device while its PPGTT batch is still on the GPU.
    return (header(hand_back=False) + map_run(HIDDEN, 32, 16) + enable(RENDER, HIDDEN + 25) +
            ppgtt_tables() +
            ram_cmds(104, 0, va(16), [sdi_ppgtt(va(17), 0x600D), BB_END, NOOP]) +
            context(HIDDEN, HIDDEN + 22, pml4=100) +
            gm_cmds(HIDDEN + 22, 0, [bbs_ppgtt(va(16)), NOOP]) +
            submit(RENDER, (HIDDEN, 4, 16), four0=True) + pte(103, 17, 106) + pte(103, 16, 107) +
            g2v(5, [100, 0, 0, 0]) + FLR + deliver())


def map_all(gfn):
    return u8(22) + u8(gfn)


def std_ppgtt(four, gfn):
    return u8(23) + u8(int(four)) + u8(gfn)


def batch(where, dword, tokens, ppgtt=False, no_end=False):
    return (u8(24) + u8(int(ppgtt) | int(no_end) << 1) + u16(where) + u16(dword) +
            u8(len(tokens)) + b"".join(tokens))


def run(engine, slot, ctx_id, tokens, fresh=True, four=False, std=False):
    flags = int(fresh) | int(four) << 1 | int(std) << 2
    return u8(25) + u8(engine) + u8(flags) + u16(slot) + u8(ctx_id) + u8(len(tokens)) + b"".join(
        tokens)


def compound_render():
    # Every slot mapped (slot i -> gfn i), the standard 4-level PPGTT (VA page
    # i -> gfn i); a GGTT batch calling a second-level one, a PPGTT batch
    # calling a second-level one, both from one ring; then more on the same ring.
    return (header(windows=3) + map_all(0) + enable(RENDER, 190) + std_ppgtt(True, 0) +
            batch(200, 0, [sdi_ggtt(210, 1), bbs_ggtt(201, True)]) +
            batch(201, 0, [USER_INTERRUPT]) +
            batch(16, 0, [sdi_ppgtt(va(17), 2), bbs_ppgtt(va(18), True)], ppgtt=True) +
            batch(18, 0, [NOOP], ppgtt=True) +
            run(RENDER, 160, 1, [bbs_ggtt(200), bbs_ppgtt(va(16))], four=True, std=True) +
            run(RENDER, 160, 1, [sdi_ggtt(210, 3)], fresh=False, four=True) + deliver_all())


def compound_blitter_crossing():
    # 3-level standard PPGTT; a GGTT and a PPGTT batch each run across a
    # page boundary, so the shadow copies have to grow.
    fills = [fill(220, 8, 8, 0x5A), fill(221, 8, 8, 0xA5), USER_INTERRUPT]
    return (header() + map_all(0) + enable(BLITTER, 190) + std_ppgtt(False, 0) +
            batch(200, 1016, fills) + batch(30, 1016, fills, ppgtt=True) +
            run(BLITTER, 160, 2, [bbs_ggtt(200 | 1016 << 9), bbs_ppgtt(va(30, 1016))], std=True) +
            deliver())


SEEDS = {
    "blitter-fill": blitter_fill,
    "ggtt-batch": ggtt_batch,
    "ppgtt-batch": ppgtt_batch,
    "ppgtt-batch-3level": ppgtt_batch_3level,
    "lite-restore": lite_restore,
    "two-elements": two_elements,
    "resets-two-guests": resets_two_guests,
    "hostile-batches": hostile_batches,
    "tables-change-in-flight": tables_change_in_flight,
    "compound-render": compound_render,
    "compound-blitter-crossing": compound_blitter_crossing,
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__),
                                                             "seeds", "exec")
    os.makedirs(out, exist_ok=True)
    for name, make in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(make())
