// The hypervisor-neutral face of a trapped device.
//
// A hypervisor backend decodes whatever its hypervisor delivers (for Xen: an
// ioreq) into one of these calls, each a single access of 1, 2, 4 or 8 bytes.
// Repetition, pointer-mode copies to guest RAM and protocol state are the
// backend's business; the device sees plain accesses only.
#pragma once

#include <cstdint>

#include "mediator/base/types.hpp"

namespace xengt::mediator {

enum class TrapResult : uint8_t {
    Handled,    // the device served the access
    Unclaimed,  // no register, BAR or window of this device decodes the address
    Rejected,   // decoded, but not an access the device accepts (width, alignment, policy)
};

const char* to_string(TrapResult r);

struct TrapRead {
    uint64_t value;  // for Unclaimed/Rejected: all-ones of the access size, like a bus abort
    TrapResult result;
};

// Everything a guest can reach of one device. Implementations must treat every
// argument as hostile; they never assert on them.
class TrapTarget {
public:
    virtual ~TrapTarget() = default;

    // PCI configuration space. `reg` is the byte offset (Xen may deliver up to
    // 0xfff); accesses need not be naturally aligned.
    virtual TrapRead config_read(uint32_t reg, AccessSize size) = 0;
    virtual TrapResult config_write(uint32_t reg, AccessSize size, uint64_t value) = 0;

    // Memory-mapped I/O at a guest-physical address inside one of the
    // windows the device asked its HypervisorPort to trap.
    virtual TrapRead mmio_read(GuestPhysAddr addr, AccessSize size) = 0;
    virtual TrapResult mmio_write(GuestPhysAddr addr, AccessSize size, uint64_t value) = 0;

    // Port I/O (sizes 1, 2, 4).
    virtual TrapRead pio_read(IoPort port, AccessSize size) = 0;
    virtual TrapResult pio_write(IoPort port, AccessSize size, uint64_t value) = 0;
};

}  // namespace xengt::mediator
