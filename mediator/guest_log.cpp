#include "mediator/guest_log.hpp"

#include <chrono>
#include <utility>

namespace xengt::mediator {
namespace {

// A burst covers one guest mistake's worth of related lines (e.g. a driver
// probing a few missing registers); afterwards one line per second is plenty
// to show that it is still going on.
constexpr unsigned kBurst = 20;
constexpr auto kRefillInterval = std::chrono::seconds(1);

}  // namespace

GuestLog::GuestLog(std::string subject)
    : subject_(std::move(subject)), limiter_(kBurst, kRefillInterval) {}

bool GuestLog::admit(LogLevel level) {
    if (static_cast<int>(level) > static_cast<int>(log_level())) {
        return false;
    }
    if (!limiter_.allow(RateLimiter::Clock::now())) {
        return false;
    }
    if (uint64_t dropped = limiter_.take_suppressed(); dropped > 0) {
        log_message(LogLevel::Warn, subject_, "%llu guest-triggered log lines suppressed",
                    static_cast<unsigned long long>(dropped));
    }
    return true;
}

}  // namespace xengt::mediator
