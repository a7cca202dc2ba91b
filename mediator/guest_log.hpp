// Logging for events a guest can provoke.
//
// A guest controls how often its accesses go wrong, so every such message goes
// through one per-vGPU RateLimiter; a hostile guest then costs dom0's journal a
// bounded number of lines per second however hard it tries.
#pragma once

#include <string>
#include <string_view>

#include "mediator/base/log.hpp"

namespace xengt::mediator {

class GuestLog {
public:
    explicit GuestLog(std::string subject);

    std::string_view subject() const { return subject_; }

    // True if a line at `level` should be emitted now. Checks the level first so
    // that disabled debug lines never use up the guest's budget. When lines
    // were refused since the last admitted one, says how many first.
    bool admit(LogLevel level);

private:
    std::string subject_;
    RateLimiter limiter_;
};

}  // namespace xengt::mediator

// Like XENGT_LOG, but rate-limited by the vGPU's GuestLog `glog`.
#define XENGT_GUEST_LOG(glog, level, ...)                                   \
    do {                                                                    \
        ::xengt::mediator::GuestLog& guest_log_ = (glog);                   \
        if (guest_log_.admit(level))                                        \
            ::xengt::log_message(level, guest_log_.subject(), __VA_ARGS__); \
    } while (0)
