// Keeps log lines (any level) for inspection while alive; restores the
// previous sink and level afterwards. Shared by every test tree.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mediator/base/log.hpp"

namespace xengt::test {

class LogCapture {
public:
    LogCapture() : old_level_(log_level()) {
        old_sink_ = set_log_sink([this](LogLevel, std::string_view, std::string_view text) {
            lines.emplace_back(text);
        });
        set_log_level(LogLevel::Debug);
    }
    ~LogCapture() {
        set_log_sink(std::move(old_sink_));
        set_log_level(old_level_);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    bool contains(std::string_view needle) const {
        for (const auto& line : lines) {
            if (line.find(needle) != std::string::npos) {
                return true;
            }
        }
        return false;
    }

    std::vector<std::string> lines;

private:
    LogSink old_sink_;
    LogLevel old_level_;
};

}  // namespace xengt::test
