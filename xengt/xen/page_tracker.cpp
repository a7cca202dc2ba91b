#include "xengt/xen/page_tracker.hpp"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>
#include <string>
#include <vector>

namespace xengt::xen {
namespace {

// A dead or dying domain refuses everything with these; not worth an error line.
bool domain_gone(int err) {
    return err == ESRCH || err == ENOENT;
}

}  // namespace

PageTracker::PageTracker(const IoreqServer& server, std::string subject)
    : server_(server), subject_(std::move(subject)) {
    if (xendevicemodel_map_mem_type_to_ioreq_server(server_.dm(), server_.domid(), server_.id(),
                                                    HVMMEM_ioreq_server,
                                                    XEN_DMOP_IOREQ_MEM_ACCESS_WRITE) == 0) {
        claimed_ = true;
        XENGT_LOG(LogLevel::Info, subject_, "write-protecting guest pages through ioreq server %u",
                  server_.id());
        return;
    }
    claim_errno_ = errno != 0 ? errno : EIO;
    const char* why = claim_errno_ == EOPNOTSUPP ? " (the guest does not use HAP)"
                      : claim_errno_ == EBUSY    ? " (another ioreq server owns the type)"
                                                 : "";
    XENGT_LOG(
        claim_errno_ == EOPNOTSUPP || claim_errno_ == EBUSY ? LogLevel::Warn : LogLevel::Error,
        subject_,
        "cannot claim write protection for dom%u (map_mem_type_to_ioreq_server): %s%s; "
        "guest page tables will not be shadowed",
        server_.domid(), std::strerror(claim_errno_), why);
}

PageTracker::~PageTracker() {
    if (!claimed_) {
        return;
    }
    // Release in runs of consecutive frames: one call per run. The unclaim
    // below resets any page this misses, so a refusal (typically: the domain
    // is dying and its memory already gone) just ends the loop.
    std::vector<uint64_t> sorted(pages_.begin(), pages_.end());
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size();) {
        size_t j = i + 1;
        while (j < sorted.size() && sorted[j] == sorted[j - 1] + 1 && j - i < UINT32_MAX) {
            ++j;
        }
        if (xendevicemodel_set_mem_type(server_.dm(), server_.domid(), HVMMEM_ram_rw, sorted[i],
                                        static_cast<uint32_t>(j - i)) != 0) {
            XENGT_LOG(LogLevel::Debug, subject_,
                      "releasing %zu write-protected frame(s) from %#" PRIx64
                      " failed (%s); unclaiming resets them",
                      j - i, sorted[i], std::strerror(errno));
            break;
        }
        i = j;
    }
    pages_.clear();
    // Unclaiming also resets to ram_rw whatever page is still of the type.
    if (xendevicemodel_map_mem_type_to_ioreq_server(server_.dm(), server_.domid(), server_.id(),
                                                    HVMMEM_ioreq_server, 0) != 0) {
        const int err = errno;
        XENGT_LOG(domain_gone(err) ? LogLevel::Debug : LogLevel::Error, subject_,
                  "releasing write protection (map_mem_type_to_ioreq_server, flags 0) failed: %s",
                  std::strerror(err));
    }
}

bool PageTracker::set_type(uint64_t first, uint32_t nr, bool protect) {
    if (xendevicemodel_set_mem_type(server_.dm(), server_.domid(),
                                    protect ? HVMMEM_ioreq_server : HVMMEM_ram_rw, first,
                                    nr) == 0) {
        return true;
    }
    const int err = errno;
    // The guest chooses what the mediator protects: keep its failures from
    // flooding the log.
    if (!domain_gone(err) && !dying_ && log_limit_.allow(RateLimiter::Clock::now())) {
        const uint64_t suppressed = log_limit_.take_suppressed();
        const std::string more = nr > 1 ? " and " + std::to_string(nr - 1) + " more" : "";
        XENGT_LOG(LogLevel::Warn, subject_,
                  "cannot %s guest frame %#" PRIx64 "%s (set_mem_type): %s%s",
                  protect ? "write-protect" : "release", first, more.c_str(), std::strerror(err),
                  suppressed ? " [earlier messages suppressed]" : "");
    }
    errno = err;
    return false;
}

bool PageTracker::protect(GuestFrame gfn) {
    if (!claimed_ || pages_.count(gfn.value()) != 0) {
        return false;
    }
    if (!set_type(gfn.value(), 1, true)) {
        return false;
    }
    pages_.insert(gfn.value());
    return true;
}

void PageTracker::unprotect(GuestFrame gfn) {
    if (pages_.erase(gfn.value()) == 0) {
        return;
    }
    // If Xen refuses, the page may stay protected there; stores into it then
    // still reach us and are completed into RAM as late write-protect requests.
    set_type(gfn.value(), 1, false);
}

}  // namespace xengt::xen
