// Event channels between a guest's Xen-side ports and dom0's /dev/xen/evtchn
// bindings, with the Linux driver's mask-on-delivery semantics.
#include <unistd.h>

#include <cerrno>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

// Low ports are taken by what a real toolstack binds first (xenstore, console
// in the guest; VIRQs and backends in dom0). Keeping the two number spaces
// apart also exposes code that confuses a remote port with a local one.
constexpr evtchn_port_t kFirstGuestPort = 3;
constexpr evtchn_port_t kFirstDom0Port = 40;

// Deliver a dom0 port: queue it on its handle's fd and mask it, or latch it
// if it is still masked from an earlier delivery.
void fire_local(State& s, evtchn_port_t local) {
    auto it = s.local_ports.find(local);
    if (it == s.local_ports.end()) {
        return;
    }
    LocalPort& lp = it->second;
    s.changed();
    if (lp.masked) {
        lp.latched = true;
        return;
    }
    lp.masked = true;
    // Non-blocking; a port is queued at most once, so the pipe cannot fill.
    [[maybe_unused]] ssize_t n = write(lp.owner->write_fd, &local, sizeof local);
}

LocalPort* owned_port(State& s, xenevtchn_handle* h, evtchn_port_t local) {
    auto it = s.local_ports.find(local);
    if (it == s.local_ports.end() || it->second.owner != h) {
        return nullptr;
    }
    return &it->second;
}

}  // namespace

evtchn_port_t alloc_xen_port(Domain& d, XenPort port) {
    evtchn_port_t p = kFirstGuestPort;
    while (d.ports.count(p) != 0) {
        ++p;
    }
    d.ports.emplace(p, port);
    return p;
}

void close_xen_port(State& s, Domain& d, evtchn_port_t port) {
    auto it = d.ports.find(port);
    if (it == d.ports.end()) {
        return;
    }
    if (it->second.dom0_port) {
        auto lp = s.local_ports.find(*it->second.dom0_port);
        if (lp != s.local_ports.end()) {
            // Like ECS_UNBOUND after the peer closed: notify is dropped, nothing fires.
            lp->second.remote_alive = false;
            lp->second.latched = false;
        }
    }
    d.ports.erase(it);
}

void xen_notify(State& s, Domain& d, evtchn_port_t port) {
    auto it = d.ports.find(port);
    // An unbound port just stays pending in Xen; binding it raises an event anyway.
    if (it != d.ports.end() && it->second.dom0_port) {
        fire_local(s, *it->second.dom0_port);
    }
}

int port_bind(State& s, xenevtchn_handle* h, uint16_t domid, evtchn_port_t remote,
              evtchn_port_t* local) {
    if (domid == 0) {
        return EINVAL;
    }
    Domain* d = find_domain(s, domid);
    if (d == nullptr) {
        return ESRCH;
    }
    auto it = d->ports.find(remote);
    if (it == d->ports.end() || it->second.dom0_port) {
        return EINVAL;  // not an unbound port offered to dom0
    }
    evtchn_port_t p = kFirstDom0Port;
    while (s.local_ports.count(p) != 0) {
        ++p;
    }
    it->second.dom0_port = p;
    s.local_ports.emplace(p, LocalPort{h, domid, remote});
    *local = p;
    // Xen "conservatively" sets the new local port pending because
    // notifications sent while the port was unbound were lost, so every bind
    // is followed by one event.
    fire_local(s, p);
    s.changed();
    return 0;
}

int port_unbind(State& s, xenevtchn_handle* h, evtchn_port_t local) {
    LocalPort* lp = owned_port(s, h, local);
    if (lp == nullptr) {
        return ENOTCONN;
    }
    if (lp->remote_alive) {
        if (Domain* d = find_domain(s, lp->domid)) {
            auto it = d->ports.find(lp->remote);
            if (it != d->ports.end()) {
                it->second.dom0_port.reset();  // back to unbound, bindable again
            }
        }
    }
    s.local_ports.erase(local);
    s.changed();
    return 0;
}

int port_notify(State& s, xenevtchn_handle* h, evtchn_port_t local) {
    LocalPort* lp = owned_port(s, h, local);
    if (lp == nullptr) {
        return ENOTCONN;
    }
    if (!lp->remote_alive) {
        return 0;  // the peer is gone: silently dropped
    }
    Domain* d = find_domain(s, lp->domid);
    if (d == nullptr) {
        return 0;
    }
    auto it = d->ports.find(lp->remote);
    if (it == d->ports.end() || !it->second.vcpu) {
        return 0;  // the buffered-ring port: Xen does not listen on it
    }
    Vcpu& v = *d->vcpus.at(*it->second.vcpu);
    if (v.waiting_on == it->second.server) {
        v.kicked = true;
        s.changed();
    }
    return 0;
}

void port_unmask(State& s, xenevtchn_handle* h, evtchn_port_t local) {
    LocalPort* lp = owned_port(s, h, local);
    if (lp == nullptr || !lp->masked) {
        return;  // the driver ignores ports it does not know
    }
    lp->masked = false;
    if (lp->latched) {
        lp->latched = false;
        fire_local(s, local);
    }
}

void port_release_handle(State& s, xenevtchn_handle* h) {
    std::vector<evtchn_port_t> mine;
    for (const auto& [p, lp] : s.local_ports) {
        if (lp.owner == h) {
            mine.push_back(p);
        }
    }
    for (evtchn_port_t p : mine) {
        port_unbind(s, h, p);
    }
}

}  // namespace xengt::sim::detail
