// Turning one ioreq into device accesses, and one slot into a response.
//
// IoreqDispatcher validates a copied ioreq (every field is guest-influenced),
// expands repetitions and pointer-mode copies, and calls the device through
// the hypervisor-neutral TrapTarget. service_slot() is the Xen state machine
// around it for one vCPU's slot. Both are pure in-process code with no Xen
// calls, so the fuzzer and the trap-path benchmark run exactly what ships.
#pragma once

#include <cstdint>
#include <string>

#include "mediator/base/log.hpp"
#include "mediator/trap.hpp"
#include "xengt/xen/guest_memory.hpp"
#include "xengt/xen/pci_address.hpp"
#include "xengt/xen/xen_api.hpp"

namespace xengt::xen {

// The most bytes one ioreq may move. Xen splits rep string I/O so that neither
// the device side nor the RAM side of one request crosses a page, so a request
// covering more than a page did not come from an honest Xen.
inline constexpr uint64_t kMaxIoreqBytes = kPageSize;

struct DispatchCounters {
    uint64_t pio = 0;
    uint64_t mmio = 0;
    uint64_t pci_config = 0;
    uint64_t invalidate = 0;
    uint64_t timeoffset = 0;
    uint64_t hostile = 0;    // malformed requests answered safely
    uint64_t unclaimed = 0;  // well-formed, but for an address the vGPU does not decode
};

class IoreqDispatcher {
public:
    IoreqDispatcher(std::string subject, PciAddress bdf, mediator::TrapTarget& device,
                    GuestRamAccess& ram);

    // Serve one request (a private copy of the slot). Returns the value for the
    // slot's `data` field, which Xen reads back only for direct reads. Never
    // throws, never asserts: a bad request is logged (rate-limited), counted,
    // and answered like a bus abort (reads all-ones, writes dropped).
    uint64_t dispatch(const ioreq_t& req);

    const DispatchCounters& counters() const { return counters_; }

private:
    enum class Space : uint8_t { Pio, Mmio, Config };

    uint64_t hostile(const ioreq_t& req, const char* why);
    mediator::TrapRead device_read(Space space, uint64_t addr, AccessSize size);
    mediator::TrapResult device_write(Space space, uint64_t addr, AccessSize size, uint64_t v);
    void note_unclaimed(const ioreq_t& req, uint64_t addr, mediator::TrapResult r);

    std::string subject_;
    PciAddress bdf_;
    mediator::TrapTarget& device_;
    GuestRamAccess& ram_;
    DispatchCounters counters_;
    RateLimiter log_limit_{20, std::chrono::seconds(1)};
};

// Xen's request/response protocol for one slot (xen/hvm/ioreq.h):
// READY -> (copy, INPROCESS) -> handle -> data -> IORESP_READY. Returns true
// when a response was posted and the vCPU's port must be notified. A slot in
// any other state is left untouched: states never move backwards.
bool service_slot(ioreq_t& slot, IoreqDispatcher& dispatcher);

}  // namespace xengt::xen
