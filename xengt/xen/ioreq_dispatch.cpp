#include "xengt/xen/ioreq_dispatch.hpp"

#include <cinttypes>
#include <cstring>

namespace xengt::xen {
namespace {

using mediator::TrapRead;
using mediator::TrapResult;

// The state nibble shares byte 30 with dir/df/data_is_ptr (a bitfield), so it is
// updated as a whole byte with the other bits preserved.
constexpr size_t kStateByte = 30;
constexpr uint8_t kStateMask = 0x0f;

uint8_t* state_byte(ioreq_t& slot) {
    return reinterpret_cast<uint8_t*>(&slot) + kStateByte;
}

const char* type_name(uint8_t type) {
    switch (type) {
        case IOREQ_TYPE_PIO:
            return "pio";
        case IOREQ_TYPE_COPY:
            return "mmio";
        case IOREQ_TYPE_PCI_CONFIG:
            return "pci-config";
        case IOREQ_TYPE_TIMEOFFSET:
            return "timeoffset";
        case IOREQ_TYPE_INVALIDATE:
            return "invalidate";
        default:
            return "unknown";
    }
}

}  // namespace

IoreqDispatcher::IoreqDispatcher(std::string subject, PciAddress bdf, mediator::TrapTarget& device,
                                 GuestRamAccess& ram, const WriteProtectedPages* protection)
    : subject_(std::move(subject)),
      bdf_(bdf),
      device_(device),
      ram_(ram),
      protection_(protection) {}

bool IoreqDispatcher::write_protected(uint64_t addr, uint64_t len) const {
    if (protection_ == nullptr || protection_->protected_count() == 0) {
        return false;  // the common case costs one load
    }
    const uint64_t last = addr + (len - 1);  // callers checked the span does not wrap
    for (uint64_t f = addr >> kPageShift; f <= last >> kPageShift; ++f) {
        if (protection_->is_protected(GuestFrame{f})) {
            return true;
        }
    }
    return false;
}

// A store at a guest-physical address, arriving as an MMIO write: the
// device's own registers, a write-protected page (the device decides what
// lands in RAM), or a page protected when Xen sent the request but released
// since (another vCPU's request made the device let it go). Xen did not
// perform such a store and nobody else will, so it is completed into RAM as
// the guest meant it; Xen forwards no other stores outside our windows.
void IoreqDispatcher::store(const ioreq_t& req, uint64_t addr, AccessSize size, uint64_t value) {
    const bool protected_page = write_protected(addr, size.bytes());
    if (protected_page) {
        ++counters_.protected_writes;
    }
    const TrapResult r = device_.mmio_write(GuestPhysAddr{addr}, size, value);
    if (r == TrapResult::Unclaimed && !protected_page && protection_ != nullptr &&
        protection_->claimed() &&
        ram_.write(GuestPhysAddr{addr}, std::as_bytes(std::span(&value, 1)).first(size.bytes()))) {
        ++counters_.late_protected;
        return;
    }
    note_unclaimed(req, addr, r);
}

uint64_t IoreqDispatcher::hostile(const ioreq_t& req, const char* why) {
    ++counters_.hostile;
    if (log_limit_.allow(RateLimiter::Clock::now())) {
        uint64_t suppressed = log_limit_.take_suppressed();
        XENGT_LOG(LogLevel::Warn, subject_,
                  "bad ioreq answered safely: %s (type %u/%s addr %#" PRIx64 " data %#" PRIx64
                  " size %u count %u %s%s%s)%s",
                  why, req.type, type_name(req.type), req.addr, req.data, req.size, req.count,
                  req.dir == IOREQ_READ ? "read" : "write", req.data_is_ptr ? " ptr" : "",
                  req.df ? " df" : "", suppressed ? " [earlier messages suppressed]" : "");
    }
    return ~uint64_t{0};
}

void IoreqDispatcher::note_unclaimed(const ioreq_t& req, uint64_t addr, TrapResult r) {
    if (r != TrapResult::Unclaimed) {
        return;  // the device refused it and said why itself
    }
    ++counters_.unclaimed;
    // Check the level first: reading the clock for a message nobody sees is the
    // most expensive part of this path.
    if (log_level() >= LogLevel::Debug && log_limit_.allow(RateLimiter::Clock::now())) {
        log_limit_.take_suppressed();
        XENGT_LOG(LogLevel::Debug, subject_, "%s %s at unclaimed %#" PRIx64 " (size %u)",
                  type_name(req.type), req.dir == IOREQ_READ ? "read" : "write", addr, req.size);
    }
}

TrapRead IoreqDispatcher::device_read(Space space, uint64_t addr, AccessSize size) {
    switch (space) {
        case Space::Pio:
            return device_.pio_read(IoPort{static_cast<uint16_t>(addr)}, size);
        case Space::Mmio:
            return device_.mmio_read(GuestPhysAddr{addr}, size);
        case Space::Config:
            return device_.config_read(static_cast<uint32_t>(addr), size);
    }
    return {size.mask(), TrapResult::Rejected};
}

TrapResult IoreqDispatcher::device_write(Space space, uint64_t addr, AccessSize size, uint64_t v) {
    switch (space) {
        case Space::Pio:
            return device_.pio_write(IoPort{static_cast<uint16_t>(addr)}, size, v);
        case Space::Mmio:
            return device_.mmio_write(GuestPhysAddr{addr}, size, v);
        case Space::Config:
            return device_.config_write(static_cast<uint32_t>(addr), size, v);
    }
    return TrapResult::Rejected;
}

uint64_t IoreqDispatcher::dispatch(const ioreq_t& req) {
    Space space;
    unsigned max_size;
    switch (req.type) {
        case IOREQ_TYPE_INVALIDATE:
            // The guest released memory: anything we still map may be reused.
            ++counters_.invalidate;
            ram_.invalidate();
            for (TranslationCache* c : caches_) {
                c->invalidate();
            }
            return req.data;
        case IOREQ_TYPE_TIMEOFFSET:
            ++counters_.timeoffset;  // an RTC offset change; nothing of ours depends on it
            return req.data;
        case IOREQ_TYPE_PIO:
            space = Space::Pio;
            max_size = 4;
            ++counters_.pio;
            break;
        case IOREQ_TYPE_COPY:
            space = Space::Mmio;
            max_size = 8;
            ++counters_.mmio;
            break;
        case IOREQ_TYPE_PCI_CONFIG:
            space = Space::Config;
            max_size = 4;
            ++counters_.pci_config;
            break;
        default:
            return hostile(req, "unknown type");
    }

    auto size = AccessSize::from_bytes(req.size);
    if (!size || size->bytes() > max_size) {
        return hostile(req, "access size not valid for this type");
    }
    if (req.count == 0) {
        return hostile(req, "zero repeat count");
    }
    const uint64_t step = size->bytes();
    const uint64_t total = uint64_t{req.count} * step;  // cannot overflow: 2^32 * 8
    if (total > kMaxIoreqBytes) {
        return hostile(req, "repeat count moves more than a page");
    }

    uint64_t addr = req.addr;
    if (space == Space::Config) {
        // addr = SBDF << 32 | register; only our own function reaches us.
        if ((addr >> 32) != bdf_.sbdf()) {
            note_unclaimed(req, addr, TrapResult::Unclaimed);
            return size->mask();
        }
        addr &= 0xffffffffu;
        if (addr > 0xfff) {
            return hostile(req, "config register beyond extended config space");
        }
    } else if (space == Space::Pio) {
        if (addr > 0xffff) {
            return hostile(req, "port number above 0xffff");
        }
    } else {
        // The whole device-side span must exist in the address space.
        bool wraps = req.df ? addr < total - step : addr > UINT64_MAX - (total - 1);
        if (wraps) {
            return hostile(req, "MMIO span wraps the address space");
        }
    }
    if (req.data_is_ptr) {
        bool wraps = req.df ? req.data < total - step : req.data > UINT64_MAX - (total - 1);
        if (wraps) {
            return hostile(req, "RAM buffer wraps the address space");
        }
    }

    const bool is_read = req.dir == IOREQ_READ;
    uint64_t result = 0;
    for (uint64_t i = 0; i < req.count; ++i) {
        const uint64_t delta = i * step;
        // Ports and config registers stay put across repetitions; MMIO and RAM advance.
        const uint64_t dev = space == Space::Mmio ? (req.df ? addr - delta : addr + delta) : addr;
        const GuestPhysAddr ptr{req.df ? req.data - delta : req.data + delta};
        if (is_read) {
            TrapRead r = device_read(space, dev, *size);
            note_unclaimed(req, dev, r.result);
            if (req.data_is_ptr) {
                uint64_t v = r.value;
                if (write_protected(ptr.value(), step)) {
                    // A string copy into a write-protected page: Xen leaves the
                    // store to us, and the device must see it like the guest's own.
                    ++counters_.protected_writes;
                    note_unclaimed(req, ptr.value(), device_.mmio_write(ptr, *size, v));
                } else if (!ram_.write(ptr, std::as_bytes(std::span(&v, 1)).first(step))) {
                    return hostile(req, "data pointer outside guest RAM");
                }
            } else {
                result = r.value;
            }
        } else {
            uint64_t v = 0;
            if (req.data_is_ptr) {
                if (!ram_.read(ptr, std::as_writable_bytes(std::span(&v, 1)).first(step))) {
                    return hostile(req, "data pointer outside guest RAM");
                }
            } else {
                v = req.data & size->mask();
            }
            if (space == Space::Mmio) {
                store(req, dev, *size, v);
            } else {
                note_unclaimed(req, dev, device_write(space, dev, *size, v));
            }
        }
    }
    return result;
}

bool service_slot(ioreq_t& slot, IoreqDispatcher& dispatcher) {
    uint8_t* state = state_byte(slot);
    const uint8_t seen = __atomic_load_n(state, __ATOMIC_ACQUIRE);
    if ((seen & kStateMask) != STATE_IOREQ_READY) {
        return false;  // spurious or already answered event
    }
    // Work on a private copy: the guest-influenced fields must not change
    // between validation and use.
    ioreq_t req;
    std::memcpy(&req, &slot, sizeof req);
    const uint8_t others = seen & static_cast<uint8_t>(~kStateMask);
    __atomic_store_n(state, static_cast<uint8_t>(others | STATE_IOREQ_INPROCESS), __ATOMIC_RELAXED);

    const uint64_t data = dispatcher.dispatch(req);
    if (req.dir == IOREQ_READ && !req.data_is_ptr) {
        __atomic_store_n(&slot.data, data, __ATOMIC_RELAXED);
    }
    // Publish data before the state change Xen waits for.
    __atomic_store_n(state, static_cast<uint8_t>(others | STATE_IORESP_READY), __ATOMIC_RELEASE);
    return true;
}

}  // namespace xengt::xen
