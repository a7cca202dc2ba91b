// The guest side of the simulator: what a simulated vCPU's program can do.
//
// Each operation behaves as the matching x86 instruction would under Xen for
// an HVM guest: accesses to the guest's RAM complete directly; anything else
// is routed like Xen routes it (to the ioreq server that claimed it, else to
// the null handler, which reads all-ones and drops writes), and the vCPU
// blocks until the server answers. "RAM" is every populated gfn, including
// frames dom0 populated above the boot RAM. Every store into RAM (write,
// ram_write, rep_stos_mmio / rep_movs onto RAM) into a page an ioreq server
// write-protects (HVMMEM_ioreq_server) is not performed but sent to that
// server as IOREQ_TYPE_COPY writes of at most 8 bytes per page piece
// (tools/xensim/guest_store.cpp); loads always read RAM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace xengt::sim {

// Thrown inside a guest program when its domain is destroyed (or crashed by
// the simulator) while the program runs; the program should simply let it
// propagate.
struct GuestDied : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// One ioreq exactly as a (possibly hostile) hypervisor would put it in a slot.
// Used to test how a server copes with requests real Xen would not produce.
struct RawIoreq {
    uint8_t type = 0;  // IOREQ_TYPE_*
    uint64_t addr = 0;
    uint64_t data = 0;
    uint32_t count = 1;
    uint32_t size = 4;
    bool dir_read = true;  // IOREQ_READ (1) / IOREQ_WRITE (0)
    bool df = false;
    bool data_is_ptr = false;
};

class GuestCpu {
public:
    virtual ~GuestCpu() = default;

    virtual uint16_t domid() const = 0;
    virtual unsigned vcpu_id() const = 0;

    // `in` / `out` (size 1, 2 or 4). Port 0xE9 is Xen's debug console;
    // 0xCF8 (4-byte writes) latches the PCI config address as Xen does.
    virtual uint32_t in(uint16_t port, unsigned size) = 0;
    virtual void out(uint16_t port, unsigned size, uint32_t value) = 0;

    // A `mov` to/from a guest-physical address (size 1, 2, 4 or 8).
    virtual uint64_t read(uint64_t gpa, unsigned size) = 0;
    virtual void write(uint64_t gpa, unsigned size, uint64_t value) = 0;

    // `rep movs` between emulated MMIO and guest RAM. Like Xen, the device side
    // is split so that no single ioreq crosses a device page; the RAM side is
    // NOT split, so one ioreq's buffer may cross a RAM page boundary (servers
    // must handle that). data_is_ptr=1, data = RAM address. df=true walks
    // addresses downwards from the given (highest-element) addresses.
    virtual void rep_movs_from_mmio(uint64_t ram_gpa, uint64_t mmio_gpa, unsigned size,
                                    uint32_t count, bool df = false) = 0;
    virtual void rep_movs_to_mmio(uint64_t mmio_gpa, uint64_t ram_gpa, unsigned size,
                                  uint32_t count, bool df = false) = 0;
    // `rep ins` / `rep outs`: the port does not advance, RAM does.
    virtual void rep_ins(uint64_t ram_gpa, uint16_t port, unsigned size, uint32_t count) = 0;
    virtual void rep_outs(uint16_t port, uint64_t ram_gpa, unsigned size, uint32_t count) = 0;
    // `rep stos` into MMIO: one ioreq per device page, count=N, data_is_ptr=0.
    virtual void rep_stos_mmio(uint64_t mmio_gpa, unsigned size, uint32_t count,
                               uint64_t value) = 0;

    // Hand a raw ioreq to the newest enabled ioreq server of this domain on
    // this vCPU's slot, bypassing routing; returns the `data` field Xen would
    // read back. Throws std::runtime_error if the domain has no enabled server.
    virtual uint64_t send_raw(const RawIoreq& req) = 0;

    // Plain RAM access; throws std::out_of_range unless every byte is RAM.
    // Stores into write-protected pages trap as described above.
    virtual void ram_read(uint64_t gpa, std::span<std::byte> out) = 0;
    virtual void ram_write(uint64_t gpa, std::span<const std::byte> in) = 0;

    // Give a RAM page back to Xen (XENMEM_decrease_reservation): the frame
    // leaves the p2m and every enabled ioreq server receives
    // IOREQ_TYPE_INVALIDATE on this vCPU's slot before this returns.
    virtual void release_ram_page(uint64_t gfn) = 0;

    // Write a line to the debug console (port 0xE9), newline appended.
    void print(const std::string& line) {
        for (char c : line) {
            out(0xE9, 1, static_cast<uint8_t>(c));
        }
        out(0xE9, 1, '\n');
    }
};

}  // namespace xengt::sim
