// printf-style lines from a simulated guest: kept in its report and written
// to its debug console (port 0xE9), as the test guests report what they find.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "tools/xensim/guest.hpp"

namespace xengt::guests {

class Printer {
public:
    Printer(sim::GuestCpu& cpu, std::vector<std::string>& lines) : cpu_(cpu), lines_(lines) {}
    void operator()(const char* fmt, ...) __attribute__((format(printf, 2, 3))) {
        char buf[256];
        va_list ap;
        va_start(ap, fmt);
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        lines_.emplace_back(buf);
        cpu_.print(buf);
    }

private:
    sim::GuestCpu& cpu_;
    std::vector<std::string>& lines_;
};

}  // namespace xengt::guests
