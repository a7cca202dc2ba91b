/*
 * Entry of the freestanding e2e test guest.
 *
 * The image is booted the PVH way: Xen (PVH) or QEMU's pvh.bin option ROM
 * (HVM direct kernel boot) reads XEN_ELFNOTE_PHYS32_ENTRY and jumps there in
 * 32-bit protected mode with paging off and flat segments; %ebx points at the
 * hvm_start_info structure. We only need a stack before calling C.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a", @note
    .align 4
    .long 4                 /* name size: "Xen\0" */
    .long 4                 /* descriptor size: one 32-bit address */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .long guest_entry

    .text
    .code32
    .globl guest_entry
guest_entry:
    cli
    movl $stack_top, %esp
    pushl %ebx              /* hvm_start_info: guest_main's argument */
    call guest_main
    /*
     * Stay alive, idle, until the toolstack destroys us. (`cli; hlt` would
     * take the vCPU down and power the domain off.) guest_main installed an
     * IDT whose gates all lead to ignore_interrupt, so a stray interrupt only
     * wakes us.
     */
1:  sti
    hlt
    jmp 1b

    .globl ignore_interrupt
ignore_interrupt:
    iret

    /* The vGPU's MSI: save what C may clobber, count and acknowledge it. */
    .globl msi_interrupt
msi_interrupt:
    pushal
    cld
    call msi_handler
    popal
    iret

    .bss
    .align 16
    .space 16384
stack_top:

    /* No executable stack needed. */
    .section .note.GNU-stack, "", @progbits
