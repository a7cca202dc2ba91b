// Ioreq servers as xen/common/ioreq.c and xen/arch/x86/hvm/ioreq.c keep them:
// rangesets, server lifecycle, selection of the server for an access, and the
// hypervisor half of the synchronous slot protocol.
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

// state:4, data_is_ptr:1, dir:1, df:1 share byte 30; it is read and written
// as one byte so the state change is a single atomic store.
constexpr size_t kFlagsByte = 30;
constexpr uint8_t kStateMask = 0x0f;
constexpr ioreq_t state_probe() {
    ioreq_t r{};
    r.state = 0xf;
    return r;
}
static_assert(std::bit_cast<std::array<uint8_t, sizeof(ioreq_t)>>(state_probe())[kFlagsByte] ==
                  kStateMask,
              "ioreq_t.state is expected in the low nibble of byte 30");

uint8_t flags_of(const ioreq_t& r) {
    return std::bit_cast<std::array<uint8_t, sizeof(ioreq_t)>>(r)[kFlagsByte];
}
uint8_t* flags_in(ioreq_t* slot) {
    return reinterpret_cast<uint8_t*>(slot) + kFlagsByte;
}

std::string hex(uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
    return buf;
}

std::string describe(const ioreq_t& r) {
    return "type " + std::to_string(r.type) + " addr " + hex(r.addr) + " size " +
           std::to_string(r.size) + " count " + std::to_string(r.count) +
           (r.dir == IOREQ_READ ? " read" : " write");
}

[[noreturn]] void crash_and_die(State& s, Domain& d, const std::string& reason) {
    crash_domain(s, d, reason);
    throw_guest_died(d);
}

}  // namespace

void throw_guest_died(const Domain& d) {
    if (d.state == DomainState::Crashed) {
        throw GuestDied("domain " + std::to_string(d.domid) + " crashed: " + d.crash_reason);
    }
    throw GuestDied("domain " + std::to_string(d.domid) + " was destroyed");
}

// ---- RangeSet ---------------------------------------------------------------

int RangeSet::add(uint64_t first, uint64_t last) {
    auto next = ranges_.upper_bound(last);
    if (next != ranges_.begin() && std::prev(next)->second >= first) {
        return EEXIST;  // ioreq_server_map_io_range refuses overlaps in one server
    }
    // Xen's rangeset merges a new range with adjacent neighbours.
    auto prev = next == ranges_.begin() ? ranges_.end() : std::prev(next);
    const bool join_prev = prev != ranges_.end() && first > 0 && prev->second == first - 1;
    const bool join_next = next != ranges_.end() && last < std::numeric_limits<uint64_t>::max() &&
                           next->first == last + 1;
    if (!join_prev && !join_next && ranges_.size() >= kMaxRanges) {
        return ENOSPC;
    }
    uint64_t new_first = join_prev ? prev->first : first;
    uint64_t new_last = join_next ? next->second : last;
    if (join_next) {
        ranges_.erase(next);
    }
    if (join_prev) {
        prev->second = new_last;
    } else {
        ranges_.emplace(new_first, new_last);
    }
    return 0;
}

int RangeSet::remove(uint64_t first, uint64_t last) {
    if (!contains(first, last)) {
        return ENOENT;
    }
    auto it = std::prev(ranges_.upper_bound(first));
    const uint64_t r_first = it->first;
    const uint64_t r_last = it->second;
    if (r_first < first && r_last > last && ranges_.size() >= kMaxRanges) {
        return ENOMEM;  // cutting a hole needs one more range than the limit allows
    }
    ranges_.erase(it);
    if (r_first < first) {
        ranges_.emplace(r_first, first - 1);
    }
    if (r_last > last) {
        ranges_.emplace(last + 1, r_last);
    }
    return 0;
}

bool RangeSet::contains(uint64_t first, uint64_t last) const {
    auto it = ranges_.upper_bound(first);
    if (it == ranges_.begin()) {
        return false;
    }
    --it;
    return it->first <= first && it->second >= last;
}

// ---- server lifecycle ---------------------------------------------------------

int ioreq_server_create(State& s, Domain& d, int bufioreq, uint16_t* id) {
    if (bufioreq < HVM_IOREQSRV_BUFIOREQ_OFF || bufioreq > HVM_IOREQSRV_BUFIOREQ_ATOMIC) {
        return EINVAL;
    }
    if (d.state == DomainState::Dying) {
        return ESRCH;
    }
    uint16_t free_id = 0;
    while (free_id < kMaxIoreqServers && d.servers.count(free_id) != 0) {
        ++free_id;
    }
    if (free_id == kMaxIoreqServers) {
        return ENOSPC;
    }
    auto srv = std::make_unique<IoreqServer>();
    srv->id = free_id;
    srv->bufioreq = bufioreq;
    const std::string tag =
        "xensim-dom" + std::to_string(d.domid) + "-ioreq" + std::to_string(free_id);
    srv->ioreq_page = SharedMemory::create(tag, kPageSize);
    if (srv->has_ring()) {
        srv->buf_page = SharedMemory::create(tag + "-buf", kPageSize);
    }
    // One unbound port per vCPU, offered to dom0; the ring's port follows vCPU 0's.
    for (const auto& v : d.vcpus) {
        srv->vcpu_ports.push_back(alloc_xen_port(d, XenPort{free_id, v->id, std::nullopt}));
        if (v->id == 0 && srv->has_ring()) {
            srv->buf_port = alloc_xen_port(d, XenPort{free_id, std::nullopt, std::nullopt});
        }
    }
    d.servers.emplace(free_id, std::move(srv));
    *id = free_id;
    s.changed();
    return 0;
}

void ioreq_server_destroy(State& s, Domain& d, uint16_t id) {
    auto it = d.servers.find(id);
    if (it == d.servers.end()) {
        return;
    }
    IoreqServer& srv = *it->second;
    for (auto& v : d.vcpus) {
        if (v->waiting_on == id) {
            v->server_vanished = true;  // as on real Xen, that vCPU now waits for good
        }
    }
    wp_server_gone(s, d, id);
    for (evtchn_port_t p : srv.vcpu_ports) {
        close_xen_port(s, d, p);
    }
    if (srv.has_ring()) {
        close_xen_port(s, d, srv.buf_port);
    }
    if (srv.ioreq_gfn) {
        free_special_gfn(d, *srv.ioreq_gfn);
    }
    if (srv.buf_gfn) {
        free_special_gfn(d, *srv.buf_gfn);
    }
    d.servers.erase(it);  // the pages live on in any dom0 mapping of them
    s.changed();
}

int ioreq_server_set_enabled(State& s, Domain& d, IoreqServer& srv, bool enabled) {
    if (srv.enabled == enabled) {
        return 0;
    }
    // Legacy pages leave the guest's p2m while enabled, so the guest cannot
    // scribble on them, and are scrubbed on every transition.
    auto legacy = [&](bool present) {
        const std::pair<std::optional<uint64_t>, std::shared_ptr<SharedMemory>> pages[] = {
            {srv.ioreq_gfn, srv.ioreq_page}, {srv.buf_gfn, srv.buf_page}};
        for (const auto& [gfn, mem] : pages) {
            if (!gfn) {
                continue;
            }
            std::memset(mem->data(), 0, kPageSize);
            if (present) {
                d.special_p2m[*gfn] = PageRef{mem, 0};
            } else {
                d.special_p2m.erase(*gfn);
            }
        }
    };
    if (enabled) {
        legacy(false);
        for (const auto& v : d.vcpus) {
            __atomic_store_n(&srv.slot(v->id)->vp_eport, srv.vcpu_ports[v->id], __ATOMIC_RELEASE);
        }
    } else {
        legacy(true);
    }
    srv.enabled = enabled;
    s.changed();
    return 0;
}

int ioreq_server_legacy_gfns(Domain& d, IoreqServer& srv) {
    if (srv.resource_mapped) {
        return EPERM;  // the pages were already handed out through map_resource
    }
    if (!srv.ioreq_gfn) {
        auto gfn = alloc_special_gfn(d);
        if (!gfn) {
            return ENOMEM;
        }
        std::optional<uint64_t> buf_gfn;
        if (srv.has_ring()) {
            buf_gfn = alloc_special_gfn(d);
            if (!buf_gfn) {
                free_special_gfn(d, *gfn);
                return ENOMEM;
            }
        }
        srv.ioreq_gfn = gfn;
        srv.buf_gfn = buf_gfn;
        if (!srv.enabled) {
            d.special_p2m[*gfn] = PageRef{srv.ioreq_page, 0};
            if (buf_gfn) {
                d.special_p2m[*buf_gfn] = PageRef{srv.buf_page, 0};
            }
        }
    }
    return 0;
}

// ---- routing --------------------------------------------------------------

IoreqServer* ioreq_select(Domain& d, ioreq_t& req) {
    int type;
    uint64_t addr = req.addr;
    if (req.type == IOREQ_TYPE_PIO && (req.addr & ~uint64_t{3}) == 0xcfc &&
        (d.cf8 & 0x80000000u) != 0) {
        // A config data cycle: decode the latched CF8 as hvm_pci_decode_addr does.
        const uint64_t sbdf = (d.cf8 >> 8) & 0xffff;
        const uint64_t reg = (d.cf8 & 0xfc) | (req.addr & 3);
        type = XEN_DMOP_IO_RANGE_PCI;
        addr = sbdf << 32 | reg;
    } else {
        type = req.type == IOREQ_TYPE_PIO ? XEN_DMOP_IO_RANGE_PORT : XEN_DMOP_IO_RANGE_MEMORY;
    }
    // FOR_EACH_IOREQ_SERVER walks ids downwards, so the newest server wins.
    for (auto it = d.servers.rbegin(); it != d.servers.rend(); ++it) {
        IoreqServer& srv = *it->second;
        if (!srv.enabled) {
            continue;
        }
        const RangeSet& r = srv.ranges[type];
        if (type == XEN_DMOP_IO_RANGE_PCI) {
            if (r.contains(addr >> 32, addr >> 32)) {
                req.type = IOREQ_TYPE_PCI_CONFIG;
                req.addr = addr;
                return &srv;
            }
            continue;
        }
        // ioreq_mmio_last_byte: with df only the first element is checked.
        const uint64_t span = type == XEN_DMOP_IO_RANGE_MEMORY && !req.df
                                  ? uint64_t{req.count} * req.size
                                  : uint64_t{req.size};
        if (span == 0 || addr > std::numeric_limits<uint64_t>::max() - (span - 1)) {
            continue;
        }
        if (r.contains(addr, addr + span - 1)) {
            return &srv;
        }
    }
    return nullptr;
}

// ---- the hypervisor side of a synchronous ioreq ----------------------------

uint64_t ioreq_send_wait(State& s, std::unique_lock<std::mutex>& lock, Domain& d, Vcpu& v,
                         uint16_t server, const ioreq_t& req) {
    if (!d.alive()) {
        throw_guest_died(d);
    }
    IoreqServer& srv = *d.servers.at(server);
    const std::shared_ptr<SharedMemory> page = srv.ioreq_page;  // outlives a destroyed server
    const evtchn_port_t port = srv.vcpu_ports.at(v.id);
    ioreq_t* slot = srv.slot(v.id);
    uint8_t* flags = flags_in(slot);

    const unsigned state = __atomic_load_n(flags, __ATOMIC_ACQUIRE) & kStateMask;
    if (state != STATE_IOREQ_NONE) {
        crash_and_die(s, d, "device model set bad IO state " + std::to_string(state));
    }
    const uint32_t eport = __atomic_load_n(&slot->vp_eport, __ATOMIC_RELAXED);
    if (eport != port) {
        crash_and_die(s, d, "device model set bad event channel " + std::to_string(eport));
    }

    // Fill the slot (vp_eport stays), then publish it with the state change.
    ioreq_t proto = req;
    proto.state = STATE_IOREQ_NONE;
    __atomic_store_n(&slot->addr, proto.addr, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->data, proto.data, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->count, proto.count, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->size, proto.size, __ATOMIC_RELAXED);
    __atomic_store_n(&slot->type, proto.type, __ATOMIC_RELAXED);
    const uint8_t other_bits = flags_of(proto) & static_cast<uint8_t>(~kStateMask);
    __atomic_store_n(flags, static_cast<uint8_t>(other_bits | STATE_IOREQ_READY), __ATOMIC_RELEASE);
    v.kicked = false;
    v.waiting_on = server;
    v.server_vanished = false;
    xen_notify(s, d, port);
    s.changed();  // observers may be waiting for the slot to fill

    // wait_for_io: re-read the state on every notification.
    const auto deadline = s.deadline();
    unsigned prev = STATE_IOREQ_READY;
    for (;;) {
        const bool woken = s.cv.wait_until(lock, deadline, [&] { return v.kicked || !d.alive(); });
        if (!d.alive()) {
            v.waiting_on.reset();
            throw_guest_died(d);
        }
        if (!woken) {
            v.waiting_on.reset();
            const unsigned now = __atomic_load_n(flags, __ATOMIC_ACQUIRE) & kStateMask;
            crash_and_die(s, d,
                          "vCPU " + std::to_string(v.id) + " waited > " +
                              std::to_string(s.options.wait_limit.count()) +
                              " ms for an ioreq response (server " + std::to_string(server) + ", " +
                              describe(proto) + ", slot state " + std::to_string(now) +
                              (v.server_vanished ? ", server destroyed while in flight" : "") +
                              ")");
        }
        v.kicked = false;
        const uint8_t seen = __atomic_load_n(flags, __ATOMIC_ACQUIRE);
        const unsigned now = seen & kStateMask;
        if (now == STATE_IORESP_READY) {
            const uint64_t data = __atomic_load_n(&slot->data, __ATOMIC_RELAXED);
            __atomic_store_n(flags, static_cast<uint8_t>((seen & ~kStateMask) | STATE_IOREQ_NONE),
                             __ATOMIC_RELEASE);
            v.waiting_on.reset();
            return data;
        }
        if ((now == STATE_IOREQ_READY || now == STATE_IOREQ_INPROCESS) && now >= prev) {
            prev = now;  // not answered yet
            continue;
        }
        v.waiting_on.reset();
        crash_and_die(s, d,
                      "Weird HVM ioreq state transition " + std::to_string(prev) + " -> " +
                          std::to_string(now));
    }
}

}  // namespace xengt::sim::detail
