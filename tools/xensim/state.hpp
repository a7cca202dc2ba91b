// Internal state of the simulator, shared by its translation units.
//
// All of it is guarded by State::mu; functions named *_locked (and every
// function taking a State& unless it says otherwise) expect that lock held.
// State::cv is broadcast on every change a waiter could care about.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tools/xensim/guest.hpp"
#include "tools/xensim/host.hpp"
#include "tools/xensim/xen_headers.hpp"

namespace xengt::sim::detail {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr unsigned kMaxVcpus = kPageSize / sizeof(ioreq_t);  // slots in one ioreq page
inline constexpr unsigned kMaxIoreqServers = 8;                     // MAX_NR_IOREQ_SERVERS
inline constexpr size_t kMaxRanges = 256;                           // MAX_NR_IO_RANGES

// A memfd mapped into this process. Guest RAM and ioreq pages live in these
// so that dom0 mappings alias them exactly as privcmd mappings alias frames.
class SharedMemory {
public:
    static std::shared_ptr<SharedMemory> create(const std::string& name, uint64_t bytes);
    ~SharedMemory();
    SharedMemory(const SharedMemory&) = delete;
    SharedMemory& operator=(const SharedMemory&) = delete;

    int fd() const { return fd_; }
    uint64_t size() const { return size_; }
    std::byte* data() const { return base_; }

private:
    SharedMemory(int fd, uint64_t size, std::byte* base) : fd_(fd), size_(size), base_(base) {}
    int fd_;
    uint64_t size_;
    std::byte* base_;
};

inline constexpr uint64_t kNoFrame = ~uint64_t{0};

// Host-wide machine memory: the frames guest RAM is made of. A frame is free,
// owned by a domain's p2m, or released (by its domain) but still mapped by
// dom0; it returns to the free list once its last dom0 mapping is gone.
struct MachinePool {
    std::shared_ptr<SharedMemory> mem;
    std::vector<uint64_t> free;  // allocation pops from the back
    std::vector<uint32_t> maps;  // dom0 mappings per frame
    std::vector<bool> orphaned;  // released, waiting for its mappings to go
    uint64_t frames() const { return maps.size(); }
};

// One frame: which memory backs it, and where.
struct PageRef {
    std::shared_ptr<SharedMemory> mem;
    uint64_t offset = 0;
    std::byte* data() const { return mem->data() + offset; }
};

// Inclusive ranges with Xen's rangeset rules as used by ioreq servers.
class RangeSet {
public:
    int add(uint64_t first, uint64_t last);     // 0, EEXIST (overlap) or ENOSPC
    int remove(uint64_t first, uint64_t last);  // 0, ENOENT (not contained) or ENOMEM
    bool contains(uint64_t first, uint64_t last) const;
    size_t count() const { return ranges_.size(); }

private:
    std::map<uint64_t, uint64_t> ranges_;  // first -> last
};

struct IoreqServer {
    uint16_t id = 0;
    int bufioreq = HVM_IOREQSRV_BUFIOREQ_OFF;
    bool enabled = false;
    std::shared_ptr<SharedMemory> ioreq_page;
    std::shared_ptr<SharedMemory> buf_page;  // only with a buffered ring
    std::vector<evtchn_port_t> vcpu_ports;   // Xen-side port per vCPU slot
    evtchn_port_t buf_port = 0;
    RangeSet ranges[3];  // indexed by XEN_DMOP_IO_RANGE_{PORT,MEMORY,PCI}
    // Legacy path: Xen placed the pages at these gfns (get_ioreq_server_info).
    std::optional<uint64_t> ioreq_gfn;
    std::optional<uint64_t> buf_gfn;
    bool resource_mapped = false;  // pages handed out through map_resource

    bool has_ring() const { return bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF; }
    ioreq_t* slot(unsigned vcpu) const {
        return reinterpret_cast<ioreq_t*>(ioreq_page->data()) + vcpu;
    }
};

// A Xen-side event channel of a guest, allocated unbound for dom0 by an ioreq server.
struct XenPort {
    uint16_t server = 0;
    std::optional<unsigned> vcpu;            // empty: the buffered-ring port
    std::optional<evtchn_port_t> dom0_port;  // set once dom0 bound it
};

struct Vcpu {
    unsigned id = 0;
    GuestProgram program;
    std::thread thread;
    bool kicked = false;                 // dom0 notified the port we wait on
    std::optional<uint16_t> waiting_on;  // server whose answer we wait for
    bool server_vanished = false;        // ...and it was destroyed meanwhile
    bool finished = false;
};

// p2m_ioreq_server: which server claimed the type (map_mem_type_to_ioreq_server)
// and which gfns currently have it (set_mem_type).
struct WriteProtect {
    std::optional<uint16_t> server;
    std::set<uint64_t> pages;
};

// track_dirty_vram's one tracked range and the pages the guest wrote since
// the previous call.
struct DirtyVram {
    uint64_t first = 0;
    uint32_t nr = 0;
    std::vector<bool> dirty;
};

struct Domain {
    uint16_t domid = 0;
    std::string name;
    DomainState state = DomainState::Paused;
    bool crashed = false;  // kept through Dying for the shutdown code
    std::string crash_reason;

    uint64_t ram_bytes = 0;
    std::shared_ptr<SharedMemory> machine;  // the host's pool, which p2m frames index
    std::vector<uint64_t> p2m;              // RAM gfn -> machine frame, kNoFrame if absent
    uint64_t ram_pages_present = 0;
    // Frames populated at gfns beyond the boot RAM (physmap.cpp), gfn -> frame.
    std::map<uint64_t, uint64_t> extra_p2m;
    // Frames a populate displaced from the p2m: still the domain's (Xen leaks
    // them to the domain), freed when it dies.
    std::vector<uint64_t> displaced_frames;
    uint64_t max_pages = 0;       // XEN_DOMCTL_max_mem, in pages
    uint64_t max_mapped_gfn = 0;  // p2m high-water mark (domain_get_maximum_gpfn)
    bool hap = true;
    WriteProtect wp;
    std::optional<DirtyVram> dirty_vram;
    uint64_t modified_pages = 0;              // pages reported through modified_memory
    std::map<uint64_t, PageRef> special_p2m;  // legacy ioreq pages
    std::set<uint64_t> used_special_gfns;

    std::vector<std::unique_ptr<Vcpu>> vcpus;
    bool started = false;
    std::map<uint16_t, std::unique_ptr<IoreqServer>> servers;
    std::map<evtchn_port_t, XenPort> ports;
    uint32_t cf8 = 0;

    std::string console_partial;
    std::vector<std::string> console;
    std::vector<MsiRecord> msis;
    unsigned dom0_mappings = 0;  // pages dom0 maps

    bool alive() const { return state == DomainState::Paused || state == DomainState::Running; }
    bool listed() const { return state != DomainState::Gone; }
};

// A dom0 port bound by a xenevtchn handle (one /dev/xen/evtchn binding).
struct LocalPort {
    xenevtchn_handle* owner = nullptr;
    uint16_t domid = 0;
    evtchn_port_t remote = 0;
    bool remote_alive = true;
    bool masked = false;   // delivered to the fd, not yet unmasked
    bool latched = false;  // fired again while masked
};

// One xenforeignmemory_map / map_resource region.
struct Mapping {
    uint16_t domid = 0;
    size_t pages = 0;
    unsigned mapped = 0;  // pages that really alias a frame
    std::vector<std::shared_ptr<SharedMemory>> refs;
    std::vector<uint64_t> page_frames;  // per page: the pool frame it maps, or kNoFrame
};

struct XsWatch {
    std::string path;  // absolute, or "@..."
    std::string token;
    bool relative = false;  // report event paths relative to dom0's home
};

struct State {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t generation = 0;
    HostOptions options;
    bool shut_down = false;
    MachinePool pool;

    std::map<uint16_t, std::unique_ptr<Domain>> domains;  // never erased before ~Host
    uint16_t next_domid = 1;
    std::map<evtchn_port_t, LocalPort> local_ports;
    std::map<uintptr_t, Mapping> mappings;
    std::map<std::string, std::string> xenstore;  // path -> value, parents always present
    std::set<xs_handle*> xs_handles;
    xs_transaction_t next_transaction = 1;

    // Something changed: wake every waiter so it re-checks its condition.
    void changed() {
        ++generation;
        cv.notify_all();
    }
    std::chrono::steady_clock::time_point deadline() const {
        return std::chrono::steady_clock::now() + options.wait_limit;
    }
};

// ---- host.cpp -------------------------------------------------------------
std::shared_ptr<State> installed_state();
Domain* find_domain(State& s, uint16_t domid);  // null if unknown or Gone
void crash_domain(State& s, Domain& d, const std::string& reason);
void reap_if_unmapped(State& s, Domain& d);  // Dying -> Gone once dom0 maps nothing

// ---- memory.cpp -----------------------------------------------------------
void pool_init(State& s, uint64_t bytes);
// `count` free frames in a scrambled order seeded by `seed`; throws std::runtime_error
// (and takes nothing) if the pool has fewer.
std::vector<uint64_t> pool_alloc(State& s, uint64_t count, uint64_t seed);
void pool_release(State& s, uint64_t frame);  // free now, or once dom0 unmaps it
std::optional<PageRef> p2m_lookup(const Domain& d, uint64_t gfn);
bool gpa_is_ram(const Domain& d, uint64_t gpa, uint64_t len);
void copy_from_guest(const Domain& d, uint64_t gpa, std::byte* out, uint64_t len);
// Stores straight into RAM as Xen's own copies do (and logs the pages dirty);
// guest stores that may be write-protected go through guest_store instead.
void copy_to_guest(Domain& d, uint64_t gpa, const std::byte* in, uint64_t len);
std::optional<uint64_t> alloc_special_gfn(Domain& d);
void free_special_gfn(Domain& d, uint64_t gfn);
// Maps frames (empty entries fail with EINVAL in errs) contiguously; null + errno on failure.
void* dom0_map(State& s, Domain& d, const std::vector<std::optional<PageRef>>& frames, int prot,
               void* hint, int flags, std::vector<int>& errs);
int dom0_unmap(State& s, void* addr, size_t pages);  // 0 or errno
void dom0_unmap_all(State& s);

// ---- physmap.cpp ----------------------------------------------------------
std::optional<uint64_t> p2m_frame(const Domain& d, uint64_t gfn);  // RAM and populated gfns
uint64_t tot_pages(const Domain& d);
// Gives the frame at `gfn` back to the pool; false if nothing was there.
bool p2m_release(State& s, Domain& d, uint64_t gfn);
void p2m_release_all(State& s, Domain& d);  // the domain died
// XENMEM_populate_physmap / decrease_reservation: pages done, in order, up to
// the first that fails (what the hypercall returns).
size_t physmap_populate(State& s, Domain& d, const xen_pfn_t* gfns, size_t n);
size_t physmap_decrease(State& s, Domain& d, const xen_pfn_t* gfns, size_t n);
int physmap_relocate(State& s, Domain& d, uint32_t size, uint64_t src, uint64_t dst);  // errno
int wp_map_type(State& s, Domain& d, uint16_t server, uint16_t type, uint32_t flags);  // errno
void wp_server_gone(State& s, Domain& d, uint16_t server);  // destroyed: its claim lapses
int wp_set_mem_type(State& s, Domain& d, int type, uint64_t first, uint32_t nr);  // errno
// The server a guest store into `gfn` goes to instead of RAM, if any.
std::optional<uint16_t> wp_target(const Domain& d, uint64_t gfn);
int dirty_vram_collect(Domain& d, uint64_t first, uint32_t nr, unsigned long* bitmap);  // errno
void dirty_vram_mark(Domain& d, uint64_t gfn);

// ---- guest_store.cpp --------------------------------------------------------
// A guest instruction storing `len` bytes at `gpa` (RAM; std::out_of_range
// otherwise): direct, except on write-protected pages (see the file).
void guest_store(State& s, std::unique_lock<std::mutex>& lock, Domain& d, Vcpu& v, uint64_t gpa,
                 const std::byte* in, uint64_t len);
bool touches_write_protected(const Domain& d, uint64_t gpa, uint64_t len);

// ---- evtchn.cpp -----------------------------------------------------------
evtchn_port_t alloc_xen_port(Domain& d, XenPort port);
void close_xen_port(State& s, Domain& d, evtchn_port_t port);
void xen_notify(State& s, Domain& d, evtchn_port_t port);  // Xen -> dom0
int port_bind(State& s, xenevtchn_handle* h, uint16_t domid, evtchn_port_t remote,
              evtchn_port_t* local);
int port_unbind(State& s, xenevtchn_handle* h, evtchn_port_t local);
int port_notify(State& s, xenevtchn_handle* h, evtchn_port_t local);  // dom0 -> Xen
void port_unmask(State& s, xenevtchn_handle* h, evtchn_port_t local);
void port_release_handle(State& s, xenevtchn_handle* h);

// ---- ioreq.cpp ------------------------------------------------------------
int ioreq_server_create(State& s, Domain& d, int bufioreq, uint16_t* id);
void ioreq_server_destroy(State& s, Domain& d, uint16_t id);
int ioreq_server_set_enabled(State& s, Domain& d, IoreqServer& srv, bool enabled);
int ioreq_server_legacy_gfns(Domain& d, IoreqServer& srv);
[[noreturn]] void throw_guest_died(const Domain& d);
IoreqServer* ioreq_select(Domain& d, ioreq_t& req);  // may turn a CFC access into PCI_CONFIG
// Xen's ioreq_send + wait_for_io on the vCPU's slot; releases the lock while
// blocked. Throws GuestDied when the domain dies or the wait limit passes.
uint64_t ioreq_send_wait(State& s, std::unique_lock<std::mutex>& lock, Domain& d, Vcpu& v,
                         uint16_t server, const ioreq_t& req);

// ---- guest_cpu.cpp --------------------------------------------------------
void run_vcpu(std::shared_ptr<State> s, Domain& d, Vcpu& v);

// ---- xenstore.cpp ---------------------------------------------------------
std::optional<std::string> xs_absolute(const char* path);  // empty if invalid
void xs_write_locked(State& s, const std::string& path, const std::string& value);
bool xs_mkdir_locked(State& s, const std::string& path);
int xs_rm_locked(State& s, const std::string& path);  // 0 or errno
std::optional<std::vector<std::string>> xs_children(const State& s, const std::string& path);
void xs_fire_special(State& s, const char* name);  // @introduceDomain / @releaseDomain
int xs_add_watch(State& s, xs_handle* h, const std::string& given, const std::string& token);
int xs_remove_watch(State& s, xs_handle* h, const std::string& given, const std::string& token);

}  // namespace xengt::sim::detail

struct xengt::sim::Host::Impl {
    std::shared_ptr<detail::State> state;
    std::atomic<uint64_t> frame_queries{0};
};

// The opaque handle types the C headers declare. Each remembers the Host it
// was opened under; once that Host is gone every call fails with ENODEV.
struct xendevicemodel_handle {
    std::weak_ptr<xengt::sim::detail::State> state;
};
struct xenforeignmemory_handle {
    std::weak_ptr<xengt::sim::detail::State> state;
};
struct xenforeignmemory_resource_handle {
    void* addr = nullptr;
    unsigned long nr_frames = 0;
};
struct xc_interface_core {
    std::weak_ptr<xengt::sim::detail::State> state;
};
struct xenevtchn_handle {
    std::weak_ptr<xengt::sim::detail::State> state;
    int read_fd = -1;  // what xenevtchn_fd returns: fired ports, 4 bytes each
    int write_fd = -1;
};
struct xs_handle {
    std::weak_ptr<xengt::sim::detail::State> state;
    int read_fd = -1;  // one byte per queued watch event
    int write_fd = -1;
    std::vector<xengt::sim::detail::XsWatch> watches;
    std::deque<std::pair<std::string, std::string>> events;  // (path, token)
};

namespace xengt::sim::detail {

// A C entry point's view of its Host: locked, or empty (errno ENODEV).
struct Session {
    std::shared_ptr<State> state;
    std::unique_lock<std::mutex> lock;
    explicit operator bool() const { return state != nullptr; }
    State* operator->() const { return state.get(); }
    State& operator*() const { return *state; }
};
Session open_session(const std::weak_ptr<State>& handle_state);  // sets errno on failure
Session open_installed_session();                                // for *_open calls

}  // namespace xengt::sim::detail
