// The public Host API: installation behind the C functions, domain lifecycle,
// and the observation helpers tests use.
#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "kernel/xengt-mfn/xengt_mfn_uapi.h"
#include "tools/xensim/state.hpp"

namespace xengt::sim {
namespace detail {
namespace {

// The process-wide simulator the C functions talk to.
std::mutex g_install_mutex;
std::shared_ptr<State> g_installed;

std::string domain_path(uint16_t domid) {
    return "/local/domain/" + std::to_string(domid);
}

Domain& existing_domain(State& s, uint16_t domid) {
    Domain* d = find_domain(s, domid);
    if (d == nullptr) {
        throw std::out_of_range("xensim: no domain " + std::to_string(domid));
    }
    return *d;
}

// As `xl destroy`: Xen kills the domain, reaps its ioreq servers and frees
// every frame nobody else references; the toolstack drops its xenstore home.
void destroy_locked(State& s, Domain& d) {
    if (d.state == DomainState::Dying || d.state == DomainState::Gone) {
        return;
    }
    d.state = DomainState::Dying;
    std::vector<uint16_t> ids;
    for (const auto& [id, srv] : d.servers) {
        ids.push_back(id);
    }
    for (uint16_t id : ids) {
        ioreq_server_destroy(s, d, id);
    }
    p2m_release_all(s, d);
    d.special_p2m.clear();
    if (!d.started) {
        for (auto& v : d.vcpus) {
            v->finished = true;  // the programs will never run
        }
    }
    xs_rm_locked(s, domain_path(d.domid));
    xs_fire_special(s, "@releaseDomain");
    reap_if_unmapped(s, d);
    s.changed();
}

}  // namespace

std::shared_ptr<State> installed_state() {
    std::lock_guard lock(g_install_mutex);
    return g_installed;
}

Session open_session(const std::weak_ptr<State>& handle_state) {
    std::shared_ptr<State> st = handle_state.lock();
    if (!st) {
        errno = ENODEV;
        return {};
    }
    std::unique_lock lock(st->mu);
    if (st->shut_down) {
        errno = ENODEV;
        return {};
    }
    return Session{std::move(st), std::move(lock)};
}

Session open_installed_session() {
    return open_session(installed_state());
}

Domain* find_domain(State& s, uint16_t domid) {
    auto it = s.domains.find(domid);
    if (it == s.domains.end() || !it->second->listed()) {
        return nullptr;
    }
    return it->second.get();
}

void crash_domain(State& s, Domain& d, const std::string& reason) {
    if (!d.alive()) {
        return;
    }
    d.state = DomainState::Crashed;
    d.crashed = true;
    d.crash_reason = reason;
    xs_fire_special(s, "@releaseDomain");  // xenstored reports shutdowns there too
    s.changed();
}

void reap_if_unmapped(State& s, Domain& d) {
    if (d.state != DomainState::Dying || d.dom0_mappings != 0) {
        return;
    }
    d.state = DomainState::Gone;
    xs_fire_special(s, "@releaseDomain");
    s.changed();
}

}  // namespace detail

using detail::State;

Host::Host(HostOptions options) : impl_(std::make_unique<Impl>()) {
    auto st = std::make_shared<State>();
    st->options = options;
    detail::pool_init(*st, options.machine_memory_bytes);
    // dom0 is always there, in xenstore as in the domain list.
    detail::xs_write_locked(*st, "/local/domain/0/name", "Domain-0");
    detail::xs_write_locked(*st, "/local/domain/0/domid", "0");
    std::lock_guard lock(detail::g_install_mutex);
    if (detail::g_installed) {
        throw std::logic_error("xensim: a Host is already installed; only one may exist at a time");
    }
    detail::g_installed = st;
    impl_->state = std::move(st);
}

Host::~Host() {
    std::shared_ptr<State> st = impl_->state;
    {
        std::lock_guard lock(detail::g_install_mutex);
        detail::g_installed.reset();  // new C calls fail with ENODEV from here on
    }
    std::vector<std::thread> threads;
    {
        std::lock_guard lock(st->mu);
        for (auto& [domid, d] : st->domains) {
            detail::destroy_locked(*st, *d);
            for (auto& v : d->vcpus) {
                if (v->thread.joinable()) {
                    threads.push_back(std::move(v->thread));
                }
            }
        }
        st->shut_down = true;  // handles still open fail with ENODEV
        st->changed();
    }
    for (auto& t : threads) {
        t.join();
    }
    std::lock_guard lock(st->mu);
    detail::dom0_unmap_all(*st);
    st->local_ports.clear();
    st->domains.clear();
    st->xs_handles.clear();
}

uint16_t Host::create_domain(DomainConfig config) {
    if (config.vcpus == 0 || config.vcpus > detail::kMaxVcpus) {
        throw std::invalid_argument("xensim: a domain needs 1.." +
                                    std::to_string(detail::kMaxVcpus) + " vCPUs");
    }
    if (config.programs.size() > config.vcpus) {
        throw std::invalid_argument("xensim: more vCPU programs than vCPUs");
    }
    if (config.ram_bytes == 0 || config.ram_bytes >= (3ull << 30)) {
        throw std::invalid_argument("xensim: guest RAM must be non-empty and below 3 GiB");
    }
    const uint64_t pages = (config.ram_bytes + detail::kPageSize - 1) / detail::kPageSize;
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    if (s.next_domid >= DOMID_FIRST_RESERVED) {
        throw std::runtime_error("xensim: out of domain ids");
    }
    auto d = std::make_unique<detail::Domain>();
    d->domid = s.next_domid;
    d->name = config.name;
    d->ram_bytes = pages * detail::kPageSize;
    d->machine = s.pool.mem;
    // Seeded per domain: deterministic, yet every domain scattered differently.
    d->p2m = detail::pool_alloc(s, pages, 0x9e3779b97f4a7c15ull * d->domid);
    d->ram_pages_present = pages;
    d->max_pages = pages;  // what the toolstack allowed: exactly the RAM it built
    // libxenguest maps its special pages (xenstore, console, ...) up to
    // 0xfefff in every HVM guest, so the p2m high-water mark starts there.
    d->max_mapped_gfn = std::max<uint64_t>(pages - 1, 0xfefff);
    d->hap = config.hap;
    for (unsigned i = 0; i < config.vcpus; ++i) {
        auto v = std::make_unique<detail::Vcpu>();
        v->id = i;
        if (i < config.programs.size()) {
            v->program = std::move(config.programs[i]);
        }
        d->vcpus.push_back(std::move(v));
    }
    const uint16_t domid = s.next_domid++;
    s.domains.emplace(domid, std::move(d));
    // What libxl writes before introducing the domain to xenstored.
    detail::xs_write_locked(s, detail::domain_path(domid) + "/name", config.name);
    detail::xs_write_locked(s, detail::domain_path(domid) + "/domid", std::to_string(domid));
    detail::xs_fire_special(s, "@introduceDomain");
    s.changed();
    return domid;
}

void Host::unpause(uint16_t domid) {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    detail::Domain& d = detail::existing_domain(s, domid);
    if (d.state == DomainState::Running) {
        return;
    }
    if (d.state != DomainState::Paused) {
        throw std::logic_error("xensim: domain " + std::to_string(domid) +
                               " cannot be unpaused: it crashed or is dying");
    }
    d.state = DomainState::Running;
    d.started = true;
    for (auto& v : d.vcpus) {
        if (v->program) {
            v->thread = std::thread(detail::run_vcpu, impl_->state, std::ref(d), std::ref(*v));
        } else {
            v->finished = true;  // an idle vCPU has nothing to return from
        }
    }
    s.changed();
}

void Host::destroy_domain(uint16_t domid) {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    detail::destroy_locked(s, detail::existing_domain(s, domid));
}

DomainStatus Host::status(uint16_t domid) const {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    DomainStatus st;
    auto it = s.domains.find(domid);
    if (it == s.domains.end()) {
        return st;  // never existed: Gone
    }
    const detail::Domain& d = *it->second;
    st.state = d.state;
    st.crash_reason = d.crash_reason;
    st.dom0_mappings = d.dom0_mappings;
    st.ioreq_servers = static_cast<unsigned>(d.servers.size());
    st.programs_finished = true;
    for (const auto& v : d.vcpus) {
        st.programs_finished = st.programs_finished && v->finished;
    }
    st.tot_pages = detail::tot_pages(d);
    st.max_pages = d.max_pages;
    st.write_protect_server = d.wp.server;
    st.write_protected_pages = static_cast<unsigned>(d.wp.pages.size());
    st.modified_memory_pages = d.modified_pages;
    return st;
}

bool Host::wait_programs_finished(uint16_t domid) {
    return wait_until([&] { return status(domid).programs_finished; });
}

bool Host::wait_until(const std::function<bool()>& predicate) {
    State& s = *impl_->state;
    const auto deadline = s.deadline();
    std::unique_lock lock(s.mu);
    for (;;) {
        // The predicate usually calls back into the Host, so it runs unlocked;
        // the generation tells whether anything changed meanwhile.
        const uint64_t seen = s.generation;
        lock.unlock();
        if (predicate()) {
            return true;
        }
        lock.lock();
        if (!s.cv.wait_until(lock, deadline, [&] { return s.generation != seen; })) {
            return false;
        }
    }
}

std::vector<std::string> Host::console(uint16_t domid) const {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    auto it = s.domains.find(domid);
    return it == s.domains.end() ? std::vector<std::string>{} : it->second->console;
}

std::vector<MsiRecord> Host::msis(uint16_t domid) const {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    auto it = s.domains.find(domid);
    return it == s.domains.end() ? std::vector<MsiRecord>{} : it->second->msis;
}

void Host::xenstore_write(const std::string& path, const std::string& value) {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    auto abs = detail::xs_absolute(path.c_str());
    if (!abs) {
        throw std::invalid_argument("xensim: bad xenstore path '" + path + "'");
    }
    detail::xs_write_locked(s, *abs, value);
}

std::optional<std::string> Host::xenstore_read(const std::string& path) const {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    auto abs = detail::xs_absolute(path.c_str());
    if (!abs) {
        return std::nullopt;
    }
    auto it = s.xenstore.find(*abs);
    if (it == s.xenstore.end()) {
        return std::nullopt;
    }
    return it->second;
}

HostOptions& Host::options() {
    return impl_->state->options;
}

std::optional<uint64_t> Host::machine_frame(uint16_t domid, uint64_t gfn) const {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    const detail::Domain* d = detail::find_domain(s, domid);
    if (d == nullptr) {
        return std::nullopt;
    }
    return detail::p2m_frame(*d, gfn);
}

int Host::foreign_mapping_frames(const void* addr, size_t pages, uint64_t* frames) const {
    ++impl_->frame_queries;
    const auto at = reinterpret_cast<uintptr_t>(addr);
    // The module's own checks, in its order.
    if (pages == 0 || pages > XENGT_MFN_MAX_PAGES || at % detail::kPageSize != 0 ||
        at + pages * detail::kPageSize < at) {
        return EINVAL;
    }
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    for (size_t i = 0; i < pages; ++i) {
        const uintptr_t page = at + i * detail::kPageSize;
        // The mapping whose window holds `page`: the last one starting at or before it.
        auto it = s.mappings.upper_bound(page);
        if (it == s.mappings.begin()) {
            return ENXIO;
        }
        --it;
        const size_t index = (page - it->first) / detail::kPageSize;
        if (index >= it->second.pages) {
            return ENXIO;
        }
        const uint64_t frame = it->second.page_frames[index];
        if (frame == detail::kNoFrame) {
            return ENOENT;
        }
        frames[i] = frame;
    }
    return 0;
}

uint64_t Host::foreign_mapping_queries() const {
    return impl_->frame_queries.load();
}

int Host::machine_memory_fd() const {
    return impl_->state->pool.mem->fd();
}

uint64_t Host::machine_memory_frames() const {
    return impl_->state->pool.frames();
}

uint64_t Host::machine_memory_free_frames() const {
    State& s = *impl_->state;
    std::lock_guard lock(s.mu);
    return s.pool.free.size();
}

}  // namespace xengt::sim
