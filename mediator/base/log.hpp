// Logging for a daemon that serves many guests.
//
// Every line names its subject (usually the guest, e.g. "dom3") so that a
// multi-guest log stays greppable. Messages a guest can provoke go through a
// RateLimiter so that a hostile guest cannot flood dom0's journal.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace xengt {

enum class LogLevel : uint8_t { Error = 0, Warn = 1, Info = 2, Debug = 3 };

const char* to_string(LogLevel level);

// Where log lines go. The default sink writes "<level> <subject>: <text>" to
// stderr (which systemd's journal captures). Tests install their own.
using LogSink = std::function<void(LogLevel, std::string_view subject, std::string_view text)>;

// Install a sink; returns the previous one. Not for hot paths.
LogSink set_log_sink(LogSink sink);
void set_log_level(LogLevel max_level);
LogLevel log_level();

void log_message(LogLevel level, std::string_view subject, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define XENGT_LOG(level, subject, ...)                                         \
    do {                                                                       \
        if (static_cast<int>(level) <= static_cast<int>(::xengt::log_level())) \
            ::xengt::log_message(level, subject, __VA_ARGS__);                 \
    } while (0)

// A token bucket: `burst` messages, then one more every `interval`. The clock
// is passed in so that tests are deterministic.
class RateLimiter {
public:
    using Clock = std::chrono::steady_clock;
    RateLimiter(unsigned burst, Clock::duration interval) : burst_(burst), interval_(interval) {}

    // True if a message may be emitted now. Messages refused since the last
    // allowed one are counted; take_suppressed() reports and resets that count.
    bool allow(Clock::time_point now);
    uint64_t take_suppressed() {
        uint64_t n = suppressed_;
        suppressed_ = 0;
        return n;
    }
    uint64_t total_suppressed() const { return total_suppressed_; }

private:
    unsigned burst_;
    Clock::duration interval_;
    unsigned tokens_ = 0;
    bool started_ = false;
    Clock::time_point last_refill_{};
    uint64_t suppressed_ = 0;
    uint64_t total_suppressed_ = 0;
};

}  // namespace xengt
