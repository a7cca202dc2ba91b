#include "mediator/base/log.hpp"

#include <algorithm>
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <mutex>

namespace xengt {
namespace {

std::mutex g_sink_mutex;
LogSink g_sink;  // empty = default stderr sink
std::atomic<LogLevel> g_level{LogLevel::Info};

void default_sink(LogLevel level, std::string_view subject, std::string_view text) {
    std::fprintf(stderr, "%s %.*s: %.*s\n", to_string(level), static_cast<int>(subject.size()),
                 subject.data(), static_cast<int>(text.size()), text.data());
}

}  // namespace

const char* to_string(LogLevel level) {
    switch (level) {
        case LogLevel::Error:
            return "error";
        case LogLevel::Warn:
            return "warn";
        case LogLevel::Info:
            return "info";
        case LogLevel::Debug:
            return "debug";
    }
    return "?";
}

LogSink set_log_sink(LogSink sink) {
    std::lock_guard lock(g_sink_mutex);
    LogSink old = std::move(g_sink);
    g_sink = std::move(sink);
    return old;
}

void set_log_level(LogLevel max_level) {
    g_level.store(max_level, std::memory_order_relaxed);
}
LogLevel log_level() {
    return g_level.load(std::memory_order_relaxed);
}

void log_message(LogLevel level, std::string_view subject, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    std::string_view text(
        buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
    std::lock_guard lock(g_sink_mutex);
    if (g_sink) {
        g_sink(level, subject, text);
    } else {
        default_sink(level, subject, text);
    }
}

bool RateLimiter::allow(Clock::time_point now) {
    if (!started_) {
        started_ = true;
        tokens_ = burst_;
        last_refill_ = now;
    }
    if (interval_.count() > 0 && now > last_refill_) {
        auto earned = static_cast<uint64_t>((now - last_refill_) / interval_);
        if (earned > 0) {
            tokens_ = static_cast<unsigned>(std::min<uint64_t>(burst_, tokens_ + earned));
            last_refill_ += interval_ * static_cast<long>(earned);
        }
    }
    if (tokens_ > 0) {
        --tokens_;
        return true;
    }
    ++suppressed_;
    ++total_suppressed_;
    return false;
}

}  // namespace xengt
