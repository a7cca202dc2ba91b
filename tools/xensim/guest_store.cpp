// Guest stores into RAM, and what write protection (p2m_ioreq_server) does
// to them.
//
// A store into a page of type ioreq_server faults; Xen emulates the
// instruction and, since it will not copy into such a page itself, hands the
// written bytes to the ioreq server that claimed the type, which must store
// them through its own mapping (xen-ioreq.md §4.4; xen-under-qemu.md "Proven
// on real Xen 4.17"). The simulator routes every guest store the same way:
//   * the store is cut at page boundaries; a piece in an ordinary RAM page is
//     written directly (and logged for track_dirty_vram);
//   * a piece in a write-protected page is NOT written. It goes to the
//     claiming server as IOREQ_TYPE_COPY, dir=write, count=1, data_is_ptr=0,
//     addr = guest-physical address of the bytes, in chunks of 1, 2, 4 or 8
//     bytes (the largest power of two that fits what is left of the piece,
//     at most 8), in address order. The vCPU blocks on each chunk as on any
//     ioreq, and the page type is looked at again for each chunk;
//   * the request goes to the claimer whatever MMIO ranges it has. While the
//     claimer is disabled the bytes are dropped like writes to Xen's null
//     handler (a simulator choice: Xen would post to the disabled server's
//     slot). Once nobody claims the type the page is plain RAM again.
// Loads are unaffected: callers read RAM directly. String instructions store
// element by element through here, so each element stored into a protected
// page is an ioreq of its own, as was observed on real Xen.
#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "tools/xensim/state.hpp"

namespace xengt::sim::detail {
namespace {

unsigned chunk_size(uint64_t left) {
    return left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

// Sends one trapped chunk to `server`, or drops it if that server is disabled.
void forward(State& s, std::unique_lock<std::mutex>& lock, Domain& d, Vcpu& v, uint16_t server,
             uint64_t gpa, const std::byte* bytes, unsigned size) {
    auto it = d.servers.find(server);
    if (it == d.servers.end() || !it->second->enabled) {
        return;
    }
    ioreq_t req{};
    req.type = IOREQ_TYPE_COPY;
    req.addr = gpa;
    req.size = size;
    req.count = 1;
    req.dir = IOREQ_WRITE;
    uint64_t value = 0;
    std::memcpy(&value, bytes, size);
    req.data = value;
    ioreq_send_wait(s, lock, d, v, server, req);
}

}  // namespace

bool touches_write_protected(const Domain& d, uint64_t gpa, uint64_t len) {
    if (len == 0 || !d.wp.server) {
        return false;
    }
    for (uint64_t gfn = gpa / kPageSize; gfn <= (gpa + len - 1) / kPageSize; ++gfn) {
        if (wp_target(d, gfn)) {
            return true;
        }
    }
    return false;
}

void guest_store(State& s, std::unique_lock<std::mutex>& lock, Domain& d, Vcpu& v, uint64_t gpa,
                 const std::byte* in, uint64_t len) {
    if (!gpa_is_ram(d, gpa, len)) {
        throw std::out_of_range("xensim: guest store outside RAM");
    }
    uint64_t done = 0;
    while (done < len) {
        const uint64_t at = gpa + done;
        const uint64_t piece = std::min(len - done, kPageSize - at % kPageSize);
        const auto server = wp_target(d, at / kPageSize);
        if (!server) {
            copy_to_guest(d, at, in + done, piece);
            done += piece;
            continue;
        }
        // One chunk at a time: the lock is dropped while the server works, so
        // the page may have changed type (or gone) by the next chunk.
        const unsigned size = chunk_size(piece);
        forward(s, lock, d, v, *server, at, in + done, size);
        done += size;
        if (done < len && !gpa_is_ram(d, gpa + done, len - done)) {
            throw std::out_of_range("xensim: guest store target left RAM meanwhile");
        }
    }
}

}  // namespace xengt::sim::detail
