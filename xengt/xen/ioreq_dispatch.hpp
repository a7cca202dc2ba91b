// Turning one ioreq into device accesses, and one slot into a response.
//
// IoreqDispatcher validates a copied ioreq (every field is guest-influenced),
// expands repetitions and pointer-mode copies, and calls the device through
// the hypervisor-neutral TrapTarget. Guest stores into write-protected pages
// (p2m_ioreq_server, xen-ioreq.md §4.4) arrive as IOREQ_TYPE_COPY writes at
// RAM addresses outside the device's windows; they go to the device's
// mmio_write like any MMIO write, and the device stores what it accepts
// through HypervisorPort::write_guest. service_slot() is the Xen state machine
// around it for one vCPU's slot. Both are pure in-process code with no Xen
// calls, so the fuzzer and the trap-path benchmark run exactly what ships.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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
    uint64_t hostile = 0;           // malformed requests answered safely
    uint64_t unclaimed = 0;         // well-formed, but for an address the vGPU does not decode
    uint64_t protected_writes = 0;  // elements stored into write-protected pages
    uint64_t late_protected = 0;    // ... into pages released meanwhile: stored as RAM
};

// The guest frames whose stores Xen forwards to this server instead of
// performing them (PageTracker). Only asked, never changed, by the dispatcher.
class WriteProtectedPages {
public:
    virtual ~WriteProtectedPages() = default;
    // Whether the write-protect memory type is claimed for this server at all.
    virtual bool claimed() const = 0;
    virtual size_t protected_count() const = 0;
    virtual bool is_protected(GuestFrame gfn) const = 0;
};

class IoreqDispatcher {
public:
    // `protection` may be null: no page is then write-protected.
    IoreqDispatcher(std::string subject, PciAddress bdf, mediator::TrapTarget& device,
                    GuestRamAccess& ram, const WriteProtectedPages* protection = nullptr);

    // Serve one request (a private copy of the slot). Returns the value for the
    // slot's `data` field, which Xen reads back only for direct reads. Never
    // throws, never asserts: a bad request is logged (rate-limited), counted,
    // and answered like a bus abort (reads all-ones, writes dropped).
    uint64_t dispatch(const ioreq_t& req);

    const DispatchCounters& counters() const { return counters_; }

    // Also forget `cache`'s translations on IOREQ_TYPE_INVALIDATE (e.g. the
    // machine frames a real GPU's pins keep). It must outlive the dispatcher.
    void add_translation_cache(TranslationCache& cache) { caches_.push_back(&cache); }

private:
    enum class Space : uint8_t { Pio, Mmio, Config };

    uint64_t hostile(const ioreq_t& req, const char* why);
    mediator::TrapRead device_read(Space space, uint64_t addr, AccessSize size);
    mediator::TrapResult device_write(Space space, uint64_t addr, AccessSize size, uint64_t v);
    void note_unclaimed(const ioreq_t& req, uint64_t addr, mediator::TrapResult r);
    bool write_protected(uint64_t addr, uint64_t len) const;
    void store(const ioreq_t& req, uint64_t addr, AccessSize size, uint64_t value);

    std::string subject_;
    PciAddress bdf_;
    mediator::TrapTarget& device_;
    GuestRamAccess& ram_;
    std::vector<TranslationCache*> caches_;
    const WriteProtectedPages* protection_;
    DispatchCounters counters_;
    RateLimiter log_limit_{20, std::chrono::seconds(1)};
};

// Xen's request/response protocol for one slot (xen/hvm/ioreq.h):
// READY -> (copy, INPROCESS) -> handle -> data -> IORESP_READY. Returns true
// when a response was posted and the vCPU's port must be notified. A slot in
// any other state is left untouched: states never move backwards.
bool service_slot(ioreq_t& slot, IoreqDispatcher& dispatcher);

}  // namespace xengt::xen
