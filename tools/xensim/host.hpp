// xensim: a Xen 4.17 hypervisor stand-in for tests and the demo.
//
// It provides, with the exact signatures from Debian's Xen 4.17 headers, the
// libxendevicemodel / libxenforeignmemory / libxenevtchn / libxenctrl /
// libxenstore functions that xengt's backend calls, so the backend's source
// is the same in xengtd and in tests. Behind those functions it simulates the
// hypervisor side: domains with guest RAM and a p2m, vCPUs that block on
// trapped accesses, ioreq servers with the genuine shared_iopage_t layout and
// Xen's state machine, event channels as pollable file descriptors, routing of
// guest accesses (CF8/CFC decoding, newest-server-wins range matching, the null
// handler), INVALIDATE broadcasts, write-protected pages (p2m_ioreq_server;
// guest_store.cpp), the physmap beyond boot RAM (populate, decrease
// reservation, relocate, max memory, dirty-VRAM tracking; physmap.cpp), and a
// small xenstore.
//
// The calling process plays dom0. One Host exists at a time; constructing it
// installs it behind the C functions, destroying it uninstalls it.
//
// Guest RAM is made of frames of one host-wide machine-memory pool (a memfd),
// handed out scattered and in no gfn order as Xen hands out a guest's frames;
// the p2m maps each RAM gfn to its machine frame. A software GPU built over
// the same pool (gpu::FdMachineMemory on machine_memory_fd()) reaches guest
// RAM by machine frame. Ioreq pages live in memfds of their own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace xengt::sim {

class GuestCpu;

// A guest vCPU's program: runs on its own thread once the domain is unpaused.
using GuestProgram = std::function<void(GuestCpu&)>;

struct DomainConfig {
    std::string name = "guest";
    uint64_t ram_bytes = 64ull << 20;  // RAM at guest-physical 0..ram_bytes (must stay < 3 GiB)
    unsigned vcpus = 1;
    std::vector<GuestProgram> programs;  // one per vCPU; missing entries idle
    // false: a shadow-paging guest; p2m_ioreq_server is then unavailable
    // (map_mem_type_to_ioreq_server and set_mem_type fail with EOPNOTSUPP).
    bool hap = true;
};

enum class DomainState : uint8_t { Paused, Running, Crashed, Dying, Gone };

struct DomainStatus {
    DomainState state = DomainState::Gone;
    std::string crash_reason;    // set when the simulator crashed the domain (protocol violation)
    unsigned dom0_mappings = 0;  // pages of this domain dom0 still maps (RAM + ioreq pages)
    unsigned ioreq_servers = 0;  // live ioreq servers
    bool programs_finished = false;                // every vCPU program has returned
    uint64_t tot_pages = 0;                        // frames the domain owns
    uint64_t max_pages = 0;                        // its limit (xc_domain_setmaxmem)
    std::optional<uint16_t> write_protect_server;  // claimed HVMMEM_ioreq_server
    unsigned write_protected_pages = 0;            // pages of that type
    uint64_t modified_memory_pages = 0;            // pages dom0 reported with modified_memory
};

struct MsiRecord {
    uint64_t address;
    uint32_t data;
};

// Faults the simulator can be told to inject to exercise fallbacks.
struct HostOptions {
    // false: xenforeignmemory_map_resource fails with EOPNOTSUPP, as on a dom0
    // kernel without IOCTL_PRIVCMD_MMAP_RESOURCE.
    bool resource_mapping_supported = true;
    // Bound on every wait inside the simulator (a vCPU waiting for an ioreq
    // response, wait_* helpers). Exceeding it is a test failure with a message.
    std::chrono::milliseconds wait_limit{10000};
    // Size of the machine-memory pool guest RAM is allocated from (sparse;
    // rounded down to whole frames). Read once, when the Host is constructed.
    uint64_t machine_memory_bytes = 1ull << 30;
};

class Host {
public:
    explicit Host(HostOptions options = {});
    ~Host();
    Host(const Host&) = delete;
    Host& operator=(const Host&) = delete;

    // Creates an HVM domain, paused (as `xl create -p`). Returns its domid (1, 2, ...).
    uint16_t create_domain(DomainConfig config);
    // Starts the vCPU programs.
    void unpause(uint16_t domid);
    // As `xl destroy`: the domain dies, its ioreq servers are destroyed by
    // "Xen", blocked vCPUs are released (their programs see GuestDied), and
    // @releaseDomain fires. It lingers as Dying while dom0 maps any of its pages.
    void destroy_domain(uint16_t domid);

    DomainStatus status(uint16_t domid) const;
    // Waits until every vCPU program of the domain has returned (true) or the
    // wait limit passed (false).
    bool wait_programs_finished(uint16_t domid);
    // Waits until predicate() is true, re-checking whenever simulator state
    // changes; false after the wait limit.
    bool wait_until(const std::function<bool()>& predicate);

    // Lines the guest wrote to port 0xE9 (Xen's debug console), in order.
    std::vector<std::string> console(uint16_t domid) const;
    // MSIs injected into the domain through xendevicemodel_inject_msi.
    std::vector<MsiRecord> msis(uint16_t domid) const;

    // Direct xenstore access (as the toolstack would have it).
    void xenstore_write(const std::string& path, const std::string& value);
    std::optional<std::string> xenstore_read(const std::string& path) const;

    HostOptions& options();

    // Machine memory. The machine frame behind a RAM gfn of a live domain
    // (what a dom0 kernel helper would find on real Xen); empty for unknown
    // domains, released pages and non-RAM gfns.
    std::optional<uint64_t> machine_frame(uint16_t domid, uint64_t gfn) const;
    // What the xengt-mfn kernel module answers on real Xen, for this
    // process's foreign mappings: the machine frame of each of `pages` pages
    // from `addr`. 0, or EINVAL (misaligned, 0 or more than 512 pages,
    // wrapping), ENXIO (a page outside every foreign mapping), ENOENT (a page
    // of one with nothing mapped, or not guest RAM).
    int foreign_mapping_frames(const void* addr, size_t pages, uint64_t* frames) const;
    // Calls of foreign_mapping_frames so far.
    uint64_t foreign_mapping_queries() const;
    // The pool's memfd (frame f at offset f * 4096) and its size in frames;
    // valid for the Host's lifetime.
    int machine_memory_fd() const;
    uint64_t machine_memory_frames() const;
    // Frames not owned by any domain nor still mapped by dom0.
    uint64_t machine_memory_free_frames() const;

    struct Impl;
    Impl& impl() { return *impl_; }

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace xengt::sim
